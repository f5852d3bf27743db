#!/usr/bin/env python3
"""Vector tiles on the demo city at scale 10: stadtkarte vs. Martin 1.14, same PostGIS, same run.

The tile set: every WebMercatorQuad tile covering Koblenz from z12 to z16 (buildings), in
viewport order (row by row). Cold: caches empty, each tile requested once by 4 concurrent
clients. Warm: the same tiles again and again for DURATION seconds with wrk (4 connections).
Both with `Accept-Encoding: gzip`, as browsers send it. Reports tiles/s, p50/p99 and bytes per
tile, and the ratios. Martin is installed with `cargo install martin@1.14.0 --locked
--no-default-features --features postgres` into ~/.cache/stadtkarte/bench-bin (once, ~10 min).
"""
import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zlib

from tilebench import cold, tile_grid, wait, warm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/stadtkarte/target"))
BIN = os.path.expanduser("~/.cache/stadtkarte/bench-bin")
PORT = os.environ.get("PG_PORT", "5439")
# DB=name measures another database; SKIP_DEMO=1 keeps the demo city it already holds (scale 10).
DB = os.environ.get("DB", "stadtkarte")
URL = f"postgresql://stadtkarte@127.0.0.1:{PORT}/{DB}"
OURS, MARTIN = 8181, 8183
BOUNDS = (7.4949, 50.2951, 7.6929, 50.4068)  # Koblenz


GZIP = {"Accept-Encoding": "gzip"}


def tiles(zooms=range(12, 17)):
    return tile_grid(BOUNDS, zooms)


def tiles_at(z):
    return tiles(range(z, z + 1))


def check(result):
    """wrk results of a server that must answer every request."""
    if result[3]:
        sys.exit(f"{result[3]} error responses under load")
    return result


def features(mvt):
    """Features in an MVT (protobuf: layers are field 3, their features field 2)."""
    def fields(b):
        i = 0
        while i < len(b):
            key, i = varint(b, i)
            kind = key & 7
            if kind == 0:
                _, i = varint(b, i)
                yield key >> 3, None
            elif kind == 2:
                n, i = varint(b, i)
                yield key >> 3, b[i:i + n]
                i += n
            else:
                i += 4 if kind == 5 else 8
                yield key >> 3, None

    def varint(b, i):
        value = shift = 0
        while True:
            c = b[i]
            i += 1
            value |= (c & 0x7F) << shift
            shift += 7
            if c < 0x80:
                return value, i

    return sum(1 for f, layer in fields(mvt) if f == 3 for g, _ in fields(layer) if g == 2)


def same_tiles(zoom):
    """Bytes per tile at one zoom over the tiles both servers fill (gzip as sent, raw), and the
    features in them, so the bytes compare like with like."""
    def get(url):
        request = urllib.request.Request(url, headers=GZIP)
        try:
            with urllib.request.urlopen(request) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, b""
    totals = {"ours": [0, 0, 0], "Martin": [0, 0, 0]}
    count = 0
    for z, x, y in tiles_at(zoom):
        a = get(f"http://127.0.0.1:{OURS}/tiles/gebaeude/{z}/{x}/{y}")
        b = get(f"http://127.0.0.1:{MARTIN}/gebaeude/{z}/{x}/{y}")
        if a[0] != 200 or b[0] != 200:
            continue
        count += 1
        for name, body in (("ours", a[1]), ("Martin", b[1])):
            raw = zlib.decompress(body, 31) if body[:2] == b"\x1f\x8b" else body
            totals[name][0] += len(body)
            totals[name][1] += len(raw)
            totals[name][2] += features(raw)
    return count, totals


def main():
    subprocess.check_call([os.path.join(ROOT, "scripts/env.sh")], stdout=subprocess.DEVNULL)
    subprocess.check_call(["cargo", "build", "--release", "--locked", "--bin", "stadtkarte"], cwd=ROOT,
                          env={**os.environ, "CARGO_TARGET_DIR": TARGET})
    martin = os.path.join(BIN, "bin", "martin")
    if not os.path.exists(martin):
        subprocess.check_call(["cargo", "install", "martin@1.14.0", "--locked", "--no-default-features",
                               "--features", "postgres", "-j2", "--root", BIN])
    binary = os.path.join(TARGET, "release", "stadtkarte")
    env = {**os.environ, "STADTKARTE_DATABASE__URL": URL, "STADTKARTE_LOG__LEVEL": "warn",
           "STADTKARTE_OPENDATA__PREPARE_DOWNLOADS": "false"}
    if os.environ.get("SKIP_DEMO") != "1":
        subprocess.check_call([binary, "demo", "--scale", "10", "--no-imagery"], env=env)
    # Buildings from z12, for both servers.
    subprocess.check_call(["psql", "-h", "127.0.0.1", "-p", PORT, "-U", "stadtkarte", "-d", DB, "-qc",
                           "UPDATE catalog.collections SET min_zoom = 12 WHERE id = 'gebaeude'"])
    tileset = tiles()
    ours_paths = [f"/tiles/gebaeude/{z}/{x}/{y}" for z, x, y in tileset]
    martin_paths = [f"/gebaeude/{z}/{x}/{y}" for z, x, y in tileset]
    servers = []
    try:
        ours = subprocess.Popen([binary, "serve"], env={**env, "STADTKARTE_SERVER__LISTEN": f"127.0.0.1:{OURS}"})
        servers.append(ours)
        m = subprocess.Popen([martin, "--listen-addresses", f"127.0.0.1:{MARTIN}", "--workers", "2", URL],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append(m)
        wait(f"http://127.0.0.1:{OURS}/ready")
        wait(f"http://127.0.0.1:{MARTIN}/catalog")
        with tempfile.TemporaryDirectory() as work:
            largest = {}
            c_ours = cold(OURS, ours_paths, GZIP, largest)
            c_martin = cold(MARTIN, martin_paths, GZIP)
            w_ours = check(warm(OURS, ours_paths, work, GZIP))
            w_martin = check(warm(MARTIN, martin_paths, work, GZIP))
        print(f"\nVector tiles, buildings of the demo city at scale 10, {len(tileset)} tiles z12–z16, gzip")
        print(f"{'':<12}{'tiles/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'bytes/tile':>12}")
        print(f"{'cold ours':<12}{c_ours[0]:>10.0f}{c_ours[1]:>9.1f}{c_ours[2]:>9.1f}{c_ours[3]:>12.0f}   {c_ours[4]}")
        print(f"{'cold Martin':<12}{c_martin[0]:>10.0f}{c_martin[1]:>9.1f}{c_martin[2]:>9.1f}{c_martin[3]:>12.0f}   {c_martin[4]}")
        print(f"{'warm ours':<12}{w_ours[0]:>10.0f}{w_ours[1]:>9.2f}{w_ours[2]:>9.2f}")
        print(f"{'warm Martin':<12}{w_martin[0]:>10.0f}{w_martin[1]:>9.2f}{w_martin[2]:>9.2f}")
        print(f"ratio cold {c_ours[0] / c_martin[0]:.2f}, warm {w_ours[0] / w_martin[0]:.1f}")
        for zoom in (15, 16):
            count, totals = same_tiles(zoom)
            print(f"z{zoom}, the {count} tiles both fill: " + "; ".join(
                f"{name} {t[0] / count / 1024:.1f} KB gzip, {t[1] / count / 1024:.1f} KB raw per tile, {t[2]} features"
                for name, t in totals.items()))
        print("largest tile (gzip) per zoom, ours: " + ", ".join(f"z{z} {b / 1024:.0f} KB" for z, b in sorted(largest.items())))
        # Every layer of the demo city together at z10, uncompressed.
        all_layers = "stadtteile,gewaesser,strassen,gebaeude,poi"
        z10 = [t for t in tiles_at(10)]
        sizes10 = []
        for z, x, y in z10:
            with urllib.request.urlopen(f"http://127.0.0.1:{OURS}/tiles/{all_layers}/{z}/{x}/{y}") as r:
                sizes10.append(len(r.read()))
        print(f"z10, all layers, uncompressed: largest {max(sizes10) / 1024:.0f} KB over {len(z10)} tiles")
    finally:
        for s in servers:
            s.send_signal(signal.SIGTERM)
            s.wait(timeout=30)
        subprocess.call(["psql", "-h", "127.0.0.1", "-p", PORT, "-U", "stadtkarte", "-d", DB, "-qc",
                         "UPDATE catalog.collections SET min_zoom = 13 WHERE id = 'gebaeude'"])


if __name__ == "__main__":
    main()
