#!/usr/bin/env python3
"""Overload: a mixed load at 50 and 200 connections, with load shedding off (every request
waits for the database, as before) and on (the default `[load]` bounds).

Two wrk processes run side by side for DURATION seconds on the demo city with its aerial images:
- "cached": vector tiles and imagery tiles that are in the server's caches (3/4 of the
  connections);
- "database": `items?limit=100` over changing bounding boxes, and vector tiles at z17 over the
  whole city that are not cached yet (each rendered once, so mostly misses), which need
  PostgreSQL (1/4).

For each run the table gives, per group, requests/s, p50 and p99 (wrk's latency distribution),
and the share of non-2xx answers. The goal: cached p99 under 50 ms and database errors below 1 %
at 200 connections, with throughput no lower than without shedding.
"""
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tilebench import tile_grid, wait  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/stadtkarte/target"))
PG_PORT = os.environ.get("PG_PORT", "5439")
URL = f"postgresql://stadtkarte@127.0.0.1:{PG_PORT}/stadtkarte"
DURATION = int(os.environ.get("DURATION", "30"))
PORT = 8391
CENTRE = (7.57, 50.34, 7.61, 50.37)


def server(env):
    binary = os.path.join(TARGET, "release", "stadtkarte")
    full = {**os.environ, "STADTKARTE_DATABASE__URL": URL, "STADTKARTE_SERVER__LISTEN": f"127.0.0.1:{PORT}",
            "STADTKARTE_OPENDATA__PREPARE_DOWNLOADS": "false", "STADTKARTE_LOG__LEVEL": "warn",
            "STADTKARTE_IMAGERY__DIR": os.path.join(ROOT, ".local/imagery"), **env}
    proc = subprocess.Popen([binary, "serve"], env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait(f"http://127.0.0.1:{PORT}/ready")
    return proc


def lua(paths, workdir, name):
    script = os.path.join(workdir, f"{name}.lua")
    with open(script, "w") as f:
        f.write("paths = {\n" + ",\n".join(f'"{p}"' for p in paths) + "\n}\n")
        f.write('i = math.random(#paths)\nrequest = function()\n  i = i % #paths + 1\n'
                '  return wrk.format("GET", paths[i], {["Accept-Encoding"] = "gzip"})\nend\n')
    return script


def parse(out):
    if "50%" not in out:
        sys.exit(f"wrk gave no latencies:\n{out}")
    def ms(text):
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(bad.group(1)) if bad else 0) + (sum(int(g) for g in errors.groups()) if errors else 0)
    return rps, p50, p99, 100.0 * failed / max(total, 1)


def run(connections, cached_paths, db_paths, workdir):
    cached_c = connections * 3 // 4
    db_c = connections - cached_c
    common = ["wrk", "-t1", f"-d{DURATION}s", "--latency", "--timeout", "10s"]
    a = subprocess.Popen(common + [f"-c{cached_c}", "-s", lua(cached_paths, workdir, "cached"), f"http://127.0.0.1:{PORT}"],
                         stdout=subprocess.PIPE, text=True)
    b = subprocess.Popen(common + [f"-c{db_c}", "-s", lua(db_paths, workdir, "db"), f"http://127.0.0.1:{PORT}"],
                         stdout=subprocess.PIPE, text=True)
    return parse(a.communicate()[0]), parse(b.communicate()[0])


def main():
    subprocess.check_call([os.path.join(ROOT, "scripts/env.sh")], stdout=subprocess.DEVNULL)
    subprocess.check_call(["cargo", "build", "--release", "--locked", "--bin", "stadtkarte"], cwd=ROOT,
                          env={**os.environ, "CARGO_TARGET_DIR": TARGET})
    tiles = [f"/tiles/gebaeude,strassen/{z}/{x}/{y}" for z, x, y in tile_grid(CENTRE, [14, 15, 16])]
    imagery = [f"/imagery/luftbild-2023/{z}/{x}/{y}" for z, x, y in tile_grid(CENTRE, [15, 16, 17])]
    cached = tiles + imagery
    db = []
    for i in range(200):
        x = 7.50 + (i % 20) * 0.008
        y = 50.30 + (i // 20) * 0.008
        db.append(f"/collections/gebaeude/items?limit=100&bbox={x:.3f},{y:.3f},{x + 0.01:.3f},{y + 0.01:.3f}")
    # Uncached renders: a different filter per run keeps them cache misses.
    renders = [(z, x, y) for z, x, y in tile_grid((7.50, 50.30, 7.68, 50.40), [17])]
    modes = [("ohne Lastabwurf / shedding off", {"STADTKARTE_LOAD__ITEMS": "10000", "STADTKARTE_LOAD__TILE_RENDERS": "10000",
                                                  "STADTKARTE_LOAD__DOWNLOADS": "10000"}),
             ("mit Lastabwurf / shedding on (defaults)", {})]
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for index, (label, env) in enumerate(modes):
            proc = server(env)
            try:
                # Warm the caches: every cached path once.
                for p in cached:
                    urllib.request.urlopen(f"http://127.0.0.1:{PORT}{p}").read()
                for connections in (50, 200):
                    salt = f"m{index}c{connections}"
                    misses = [f"/tiles/gebaeude/{z}/{x}/{y}?filter=funktion%3C%3E%27{salt}%27" for z, x, y in renders]
                    mixed = [p for pair in zip(db * (len(misses) // len(db) + 1), misses) for p in pair]
                    (c_rps, c50, c99, c_err), (d_rps, d50, d99, d_err) = run(connections, cached, mixed, workdir)
                    rows.append((label, connections, c_rps, c50, c99, c_err, d_rps, d50, d99, d_err))
                    time.sleep(2)
            finally:
                proc.terminate()
                proc.wait()
    print(f"\nMixed load, {DURATION} s per run, 3/4 of the connections on cached tiles and imagery, 1/4 on items?limit=100 and uncached tiles")
    print(f"{'mode':42} {'conn':>4} | {'cached/s':>9} {'p50':>6} {'p99':>7} {'err%':>5} | {'db/s':>8} {'p50':>7} {'p99':>7} {'err%':>5}")
    for r in rows:
        print(f"{r[0]:42} {r[1]:>4} | {r[2]:>9.0f} {r[3]:>6.1f} {r[4]:>7.1f} {r[5]:>5.2f} | {r[6]:>8.0f} {r[7]:>7.1f} {r[8]:>7.1f} {r[9]:>5.2f}")


if __name__ == "__main__":
    main()
