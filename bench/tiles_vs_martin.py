#!/usr/bin/env python3
"""Vector tiles on the demo city at scale 10: stadtkarte vs. Martin 1.14, same PostGIS, same run.

The tile set: every WebMercatorQuad tile covering Koblenz from z12 to z16 (buildings), in
viewport order (row by row). Cold: caches empty, each tile requested once by 4 concurrent
clients. Warm: the same tiles again and again for DURATION seconds with wrk (4 connections).
Both with `Accept-Encoding: gzip`, as browsers send it. Reports tiles/s, p50/p99 and bytes per
tile, and the ratios. Martin is installed with `cargo install martin@1.14.0 --locked
--no-default-features --features postgres` into ~/.cache/stadtkarte/bench-bin (once, ~10 min).
"""
import concurrent.futures
import http.client
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/stadtkarte/target"))
BIN = os.path.expanduser("~/.cache/stadtkarte/bench-bin")
PORT = os.environ.get("PG_PORT", "5439")
URL = f"postgresql://stadtkarte@127.0.0.1:{PORT}/stadtkarte"
DURATION = os.environ.get("DURATION", "10")
OURS, MARTIN = 8181, 8183
BOUNDS = (7.4949, 50.2951, 7.6929, 50.4068)  # Koblenz


def tiles_at(z):
    return [t for t in tiles(range(z, z + 1))]


def tiles(zooms=range(12, 17)):
    out = []
    for z in zooms:
        n = 2 ** z
        def col(lon):
            return int((lon + 180) / 360 * n)
        def row(lat):
            r = math.radians(lat)
            return int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
        for y in range(row(BOUNDS[3]), row(BOUNDS[1]) + 1):
            for x in range(col(BOUNDS[0]), col(BOUNDS[2]) + 1):
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


def cold(port, paths, largest=None):
    """Each path once, 4 clients; returns (tiles/s, p50 ms, p99 ms, mean bytes, statuses).
    `largest` (a dict) collects the largest gzip size per zoom."""
    latencies, sizes, statuses = [], [], {}
    def worker(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for p in chunk:
            t = time.perf_counter()
            conn.request("GET", p, headers={"Accept-Encoding": "gzip"})
            r = conn.getresponse()
            body = r.read()
            latencies.append((time.perf_counter() - t) * 1000)
            statuses[r.status] = statuses.get(r.status, 0) + 1
            if r.status == 200:
                sizes.append(len(body))
                if largest is not None:
                    z = int(p.split("/")[-3])
                    largest[z] = max(largest.get(z, 0), len(body))
    chunks = [paths[i::4] for i in range(4)]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, chunks))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return (len(paths) / elapsed, statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1],
            statistics.mean(sizes) if sizes else 0, statuses)


def warm(port, paths, workdir):
    script = os.path.join(workdir, f"paths{port}.lua")
    with open(script, "w") as f:
        f.write("paths = {\n" + ",\n".join(f'"{p}"' for p in paths) + "\n}\n")
        f.write('i = 0\nrequest = function()\n  i = i % #paths + 1\n'
                '  return wrk.format("GET", paths[i], {["Accept-Encoding"] = "gzip"})\nend\n')
    out = subprocess.run(["wrk", "-t2", "-c4", f"-d{DURATION}s", "--latency", "-s", script, f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"port {port}: {errors.group(1)} error responses\n{out}")
    def lat(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    return rps, lat(50), lat(99)


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
    subprocess.check_call([binary, "demo", "--scale", "10", "--no-imagery"], env=env)
    # Buildings from z12, for both servers.
    subprocess.check_call(["psql", "-h", "127.0.0.1", "-p", PORT, "-U", "stadtkarte", "-d", "stadtkarte", "-qc",
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
            c_ours = cold(OURS, ours_paths, largest)
            c_martin = cold(MARTIN, martin_paths)
            w_ours = warm(OURS, ours_paths, work)
            w_martin = warm(MARTIN, martin_paths, work)
        print(f"\nVector tiles, buildings of the demo city at scale 10, {len(tileset)} tiles z12–z16, gzip")
        print(f"{'':<12}{'tiles/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'bytes/tile':>12}")
        print(f"{'cold ours':<12}{c_ours[0]:>10.0f}{c_ours[1]:>9.1f}{c_ours[2]:>9.1f}{c_ours[3]:>12.0f}   {c_ours[4]}")
        print(f"{'cold Martin':<12}{c_martin[0]:>10.0f}{c_martin[1]:>9.1f}{c_martin[2]:>9.1f}{c_martin[3]:>12.0f}   {c_martin[4]}")
        print(f"{'warm ours':<12}{w_ours[0]:>10.0f}{w_ours[1]:>9.2f}{w_ours[2]:>9.2f}")
        print(f"{'warm Martin':<12}{w_martin[0]:>10.0f}{w_martin[1]:>9.2f}{w_martin[2]:>9.2f}")
        print(f"ratio cold {c_ours[0] / c_martin[0]:.2f}, warm {w_ours[0] / w_martin[0]:.1f}")
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
        subprocess.call(["psql", "-h", "127.0.0.1", "-p", PORT, "-U", "stadtkarte", "-d", "stadtkarte", "-qc",
                         "UPDATE catalog.collections SET min_zoom = 13 WHERE id = 'gebaeude'"])


if __name__ == "__main__":
    main()
