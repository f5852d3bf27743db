#!/usr/bin/env python3
"""A sign-in flood against the map: does argon2 take the processors from the tiles?

On the demo city (with its aerial images) and its staff accounts (`make demo`), wrk measures
cached vector tiles and `items?limit=100` for DURATION seconds twice: alone, and while a second
wrk sends sign-ins (the editor's right password, so every request costs one argon2id hash)
over 16 connections. The table gives requests/s and p99 of the map requests with and without
the flood (ratio; goal: at least 0.8) and the sign-in rate and p99.
"""
import os
import re
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tilebench import tile_grid, wait  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/stadtkarte/target"))
PG_PORT = os.environ.get("PG_PORT", "5439")
URL = f"postgresql://stadtkarte@127.0.0.1:{PG_PORT}/stadtkarte"
DURATION = int(os.environ.get("DURATION", "20"))
PORT = 8392
PASSWORD = os.environ.get("DEMO_PASSWORD", "Rhein-und-Mosel-1958")


def parse(out):
    def ms(text):
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    if "99%" not in out:
        sys.exit(f"wrk gave no latencies:\n{out}")
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return rps, p99, 100.0 * (int(bad.group(1)) if bad else 0) / max(total, 1)


def wrk(connections, script):
    return subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{DURATION}s", "--latency", "--timeout", "10s",
                             "-s", script, f"http://127.0.0.1:{PORT}"], stdout=subprocess.PIPE, text=True)


def main():
    subprocess.check_call([os.path.join(ROOT, "scripts/env.sh")], stdout=subprocess.DEVNULL)
    subprocess.check_call(["cargo", "build", "--release", "--locked", "--bin", "stadtkarte"], cwd=ROOT,
                          env={**os.environ, "CARGO_TARGET_DIR": TARGET})
    binary = os.path.join(TARGET, "release", "stadtkarte")
    env = {**os.environ, "STADTKARTE_DATABASE__URL": URL, "STADTKARTE_SERVER__LISTEN": f"127.0.0.1:{PORT}",
           "STADTKARTE_OPENDATA__PREPARE_DOWNLOADS": "false", "STADTKARTE_LOG__LEVEL": "warn",
           "STADTKARTE_IMAGERY__DIR": os.path.join(ROOT, ".local/imagery"),
           # The flood comes from one address: throttling must not stop it early.
           "STADTKARTE_AUTH__LOCK_AFTER_FAILURES": "1000000", "STADTKARTE_AUTH__DELAY_AFTER_FAILURES": "1000000"}
    server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(f"http://127.0.0.1:{PORT}/ready")
        tiles = [f"/tiles/gebaeude,strassen/{z}/{x}/{y}" for z, x, y in tile_grid((7.57, 50.34, 7.61, 50.37), [14, 15])]
        items = [f"/collections/gebaeude/items?limit=100&bbox={7.5 + i * 0.01:.2f},50.33,{7.51 + i * 0.01:.2f},50.34" for i in range(15)]
        map_paths = tiles + items
        for p in map_paths:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}{p}").read()
        with tempfile.TemporaryDirectory() as work:
            map_lua = os.path.join(work, "map.lua")
            with open(map_lua, "w") as f:
                f.write("paths = {\n" + ",\n".join(f'"{p}"' for p in map_paths) + "\n}\n")
                f.write('i = 0\nrequest = function()\n  i = i % #paths + 1\n'
                        '  return wrk.format("GET", paths[i], {["Accept-Encoding"] = "gzip"})\nend\n')
            flood_lua = os.path.join(work, "flood.lua")
            body = f"email=redaktion%40koblenz.example&password={urllib.parse.quote(PASSWORD)}&next=%2Fadmin"
            with open(flood_lua, "w") as f:
                f.write(f'wrk.method = "POST"\nwrk.path = "/admin/login"\nwrk.body = "{body}"\n'
                        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                        f'wrk.headers["Origin"] = "http://127.0.0.1:{PORT}"\n')
            alone = parse(wrk(8, map_lua).communicate()[0])
            m = wrk(8, map_lua)
            s = wrk(16, flood_lua)
            flooded = parse(m.communicate()[0])
            signin = parse(s.communicate()[0])
    finally:
        server.terminate()
        server.wait()
    print(f"\nMap requests (cached tiles and items?limit=100, 8 connections), {DURATION} s each; sign-in flood at 16 connections")
    print(f"{'':28} {'req/s':>9} {'p99 ms':>8} {'err %':>6}")
    print(f"{'map alone':28} {alone[0]:>9.0f} {alone[1]:>8.1f} {alone[2]:>6.2f}")
    print(f"{'map during the flood':28} {flooded[0]:>9.0f} {flooded[1]:>8.1f} {flooded[2]:>6.2f}")
    print(f"{'sign-ins (argon2id)':28} {signin[0]:>9.1f} {signin[1]:>8.1f} {signin[2]:>6.2f}")
    print(f"throughput ratio during the flood: {flooded[0] / alone[0]:.2f} (goal ≥ 0.8)")


if __name__ == "__main__":
    import urllib.parse  # noqa: F401
    main()
