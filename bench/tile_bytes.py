#!/usr/bin/env python3
"""Bytes per building tile as served, against the zlib levels, on a running server.

Fetches the 75 tiles of `gebaeude` in a 5 x 5 block around the centre of Koblenz at z14, z15 and
z16 from SERVER (default http://127.0.0.1:8080, the server of `make demo`), once without and
once with `Accept-Encoding: gzip`, and prints per tile on average: the raw MVT, what the server
sent gzipped, and what zlib makes of the raw tiles at levels 1, 6 and 9 (with the time it takes),
so the level the server uses can be checked against the alternatives.
"""
import math
import os
import time
import urllib.request
import zlib

SERVER = os.environ.get("SERVER", "http://127.0.0.1:8080")
CENTRE = (7.594, 50.357)


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def fetch(path, gzip):
    request = urllib.request.Request(SERVER + path, headers={"Accept-Encoding": "gzip"} if gzip else {})
    with urllib.request.urlopen(request) as r:
        return r.read(), r.headers.get("Content-Encoding")


def main():
    raw, served = [], []
    for z in (14, 15, 16):
        x0, y0 = tile_of(*CENTRE, z)
        for dx in range(-2, 3):
            for dy in range(-2, 3):
                path = f"/collections/gebaeude/tiles/WebMercatorQuad/{z}/{y0 + dy}/{x0 + dx}"
                body, _ = fetch(path, False)
                if not body:
                    continue
                gz, encoding = fetch(path, True)
                assert encoding == "gzip", f"{path}: {encoding}"
                assert zlib.decompress(gz, 31) == body, f"{path}: the gzip is not the tile"
                raw.append(body)
                served.append(len(gz))
    n = len(raw)
    kb = lambda total: f"{total / n / 1024:.1f} KB"  # noqa: E731
    print(f"{n} building tiles z14-z16 around the centre, {SERVER}")
    print("| | per tile | ms per tile |\n|---|---:|---:|")
    print(f"| raw MVT | {kb(sum(map(len, raw)))} | |")
    print(f"| sent by the server (gzip) | {kb(sum(served))} | |")
    for level in (1, 6, 9):
        start = time.perf_counter()
        total = 0
        for body in raw:
            c = zlib.compressobj(level, zlib.DEFLATED, 31)
            total += len(c.compress(body) + c.flush())
        ms = (time.perf_counter() - start) / n * 1000
        print(f"| zlib level {level} | {kb(total)} | {ms:.2f} |")


if __name__ == "__main__":
    main()
