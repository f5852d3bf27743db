#!/usr/bin/env python3
"""The citizens' map, cold, in headless Chromium: requests, bytes, first tile and complete view.

    python3 bench/map_timing.py            # RUNS=5

Starts the private PostGIS (scripts/env.sh), builds the release binary through the build lock
and runs a copy of it (BINARY=path uses that binary as it is, e.g. an older build to compare;
SKIP_BUILD=1 copies the one in the target folder). The database `stadtkarte_bench_map` is made
once and kept (FRESH=1 makes it again): `stadtkarte demo --scale 1` with its three aerial-image
epochs (into ~/.cache/stadtkarte/bench/map-imagery) and the two development plans of the test
fixtures, as the map tests have it. The server runs as `make demo` runs it (as `stadtkarte_web`)
on 127.0.0.1:8394, log level warn; bench/map_timing.mjs measures two views, RUNS runs each after
one run that warms the server's caches; the table gives the median and the range.

In the same run it measures the floor: bare MapLibre GL JS pages (same version, no app, a map over
the whole window) with only the same aerial image at the same two views, and at zoom 16 with the
buildings as one line layer. The last lines give the map's complete time over the bare page's.
"""

import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tilebench import wait  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/stadtkarte/target"))
CACHE = os.path.expanduser("~/.cache/stadtkarte/bench")
PG_PORT = os.environ.get("PG_PORT", "5439")
DB = "stadtkarte_bench_map"
OWNER_URL = f"postgresql://stadtkarte@127.0.0.1:{PG_PORT}/{DB}"
WEB_URL = f"postgresql://stadtkarte_web@127.0.0.1:{PG_PORT}/{DB}"
IMAGERY = os.path.join(CACHE, "map-imagery")
PORT = 8394
RUNS = int(os.environ.get("RUNS", "5"))
LOG = os.path.join(CACHE, "map-server.log")


def binary():
    """The binary to measure: BINARY as given, else a copy of the release build."""
    if os.environ.get("BINARY"):
        return os.environ["BINARY"]
    copy = os.path.join(CACHE, "map-stadtkarte")
    built = os.path.join(TARGET, "release", "stadtkarte")
    command = ["cp", built, copy]
    if os.environ.get("SKIP_BUILD") != "1":
        command = ["sh", "-c", f'cargo build -j2 --release --bin stadtkarte && cp "{built}" "{copy}"']
    subprocess.check_call(["flock", "/tmp/stadtkarte-cargo.lock"] + command, cwd=ROOT,
                          env={**os.environ, "CARGO_TARGET_DIR": TARGET})
    return copy


def psql(sql, db="postgres"):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                          f"postgresql://stadtkarte@127.0.0.1:{PG_PORT}/{db}", "-c", sql],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def database(program):
    """The demo city with its aerial images and plans, made once."""
    if os.environ.get("FRESH") != "1" and psql("SELECT count(*) FROM catalog.imagery", DB) == "3":
        return
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB}")
    env = {**os.environ, "STADTKARTE_DATABASE__URL": OWNER_URL, "STADTKARTE_IMAGERY__DIR": IMAGERY,
           "STADTKARTE_LOG__LEVEL": "warn"}
    fixtures = os.path.join(ROOT, "tests", "fixtures", "xplan")
    for args in (["demo", "--scale", "1"],
                 ["import", "xplan", os.path.join(fixtures, "koblenz-am-weinberg_5-4.gml")],
                 ["import", "xplan", os.path.join(fixtures, "koblenz-moselbogen_6-0.gml")]):
        subprocess.run([program, *args], env=env, check=True, stdout=subprocess.DEVNULL)


def main():
    subprocess.check_call([os.path.join(ROOT, "scripts/env.sh")], stdout=subprocess.DEVNULL)
    os.makedirs(CACHE, exist_ok=True)
    program = binary()
    database(program)
    env = {**os.environ, "STADTKARTE_DATABASE__URL": WEB_URL, "STADTKARTE_DATABASE__MIGRATION_URL": OWNER_URL,
           "STADTKARTE_SERVER__LISTEN": f"127.0.0.1:{PORT}", "STADTKARTE_OPENDATA__PREPARE_DOWNLOADS": "false",
           "STADTKARTE_LOG__LEVEL": "warn", "STADTKARTE_IMAGERY__DIR": IMAGERY}
    with open(LOG, "a") as log:
        log.write(f"\n=== serve {program} {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        log.flush()
        server = subprocess.Popen([program, "serve"], env=env, stdout=log, stderr=log)
        try:
            wait(f"http://127.0.0.1:{PORT}/ready")
            out = subprocess.run(["node", os.path.join(ROOT, "bench", "map_timing.mjs"),
                                  f"http://127.0.0.1:{PORT}", str(RUNS)],
                                 capture_output=True, text=True, check=True)
        finally:
            server.terminate()
            server.wait(20)
    result = json.loads(out.stdout)
    with open(os.path.join(CACHE, "map-timing.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"{program}, {RUNS} cold runs per view (median, min–max)\n")
    print("| view | requests | transferred | first tile | complete |")
    print("|---|---|---|---|---|")
    for name, view in result["views"].items():
        runs = view["runs"]

        def cell(key, scale=1.0, unit="", digits=0):
            values = [r[key] / scale for r in runs]
            fmt = f"{{:.{digits}f}}"
            return (f"{fmt.format(statistics.median(values))}{unit} "
                    f"({fmt.format(min(values))}–{fmt.format(max(values))})")
        print(f"| {name} | {cell('requests')} | {cell('bytes', 1e6, ' MB', 2)} | "
              f"{cell('firstTileMs', 1, ' ms')} | {cell('completeMs', 1, ' ms')} |")

    def complete(name):
        return statistics.median(r["completeMs"] for r in result["views"][name]["runs"])
    print()
    for view in ("default", "z16"):
        print(f"{view}: complete {complete(view):.0f} ms, bare MapLibre with the same image "
              f"{complete('bare-' + view):.0f} ms: ratio {complete(view) / complete('bare-' + view):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
