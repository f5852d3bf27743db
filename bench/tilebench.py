"""Shared parts of the tile benchmarks: the tile set over a box, waiting for a server, one pass
over the tiles with 4 clients, and wrk with 4 connections."""
import concurrent.futures
import http.client
import math
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request

DURATION = os.environ.get("DURATION", "10")


def tile_grid(bounds, zooms):
    """Every WebMercatorQuad tile (z, x, y) covering bounds (lon/lat), row by row."""
    out = []
    for z in zooms:
        n = 2 ** z
        def col(lon):
            return int((lon + 180) / 360 * n)
        def row(lat):
            r = math.radians(lat)
            return int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
        for y in range(row(bounds[3]), row(bounds[1]) + 1):
            for x in range(col(bounds[0]), col(bounds[2]) + 1):
                out.append((z, x, y))
    return out


def wait(url):
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except Exception:
            time.sleep(0.2)
    sys.exit(f"{url} did not come up")


def cold(port, paths, headers=None, largest=None):
    """Each path once, 4 clients: (tiles/s, p50 ms, p99 ms, mean bytes of 200s, statuses).
    `largest` (a dict) collects the largest body per zoom."""
    latencies, sizes, statuses = [], [], {}
    def worker(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for p in chunk:
            t = time.perf_counter()
            conn.request("GET", p, headers=headers or {})
            r = conn.getresponse()
            body = r.read()
            latencies.append((time.perf_counter() - t) * 1000)
            statuses[r.status] = statuses.get(r.status, 0) + 1
            if r.status == 200:
                sizes.append(len(body))
                if largest is not None:
                    z = int(p.split("?")[0].split("/")[-3])
                    largest[z] = max(largest.get(z, 0), len(body))
    chunks = [paths[i::4] for i in range(4)]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, chunks))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return (len(paths) / elapsed, statistics.median(latencies), latencies[max(0, int(len(latencies) * 0.99) - 1)],
            statistics.mean(sizes) if sizes else 0, statuses)


def warm(port, paths, workdir, headers=None):
    """wrk, 4 connections, DURATION seconds over the paths: (requests/s, p50 ms, p99 ms, non-2xx)."""
    script = os.path.join(workdir, f"paths{port}.lua")
    extra = ", ".join(f'["{k}"] = "{v}"' for k, v in (headers or {}).items())
    with open(script, "w") as f:
        f.write("paths = {\n" + ",\n".join(f'"{p}"' for p in paths) + "\n}\n")
        f.write('i = 0\nrequest = function()\n  i = i % #paths + 1\n'
                f'  return wrk.format("GET", paths[i], {{{extra}}})\nend\n')
    out = subprocess.run(["wrk", "-t2", "-c4", f"-d{DURATION}s", "--latency", "-s", script, f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    def lat(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    return rps, lat(50), lat(99), int(errors.group(1)) if errors else 0
