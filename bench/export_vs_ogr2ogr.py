#!/usr/bin/env python3
"""Export 1,000,000 buildings: stadtkarte downloads vs. ogr2ogr from the same PostGIS table.

GeoJSON, CSV, GeoPackage and FlatGeobuf. Ours: a cold download over loopback from a freshly
started `stadtkarte serve` (empty download cache), timed until the last byte; memory is the
peak RSS of the server and its child processes together (GeoPackage is made by ogr2ogr inside
the server, FlatGeobuf in-process with its spatial index), sampled every 20 ms. Theirs:
`ogr2ogr` writing the same format to a file with the same columns and CRS, peak RSS from wait4;
FlatGeobuf both with GDAL's spatial index (its default) and without (`SPATIAL_INDEX=NO`).
Alternating, ROUNDS times, median.

The table lives in a database of its own (`stadtkarte_bench_export`, made anew each run with
the binary's migrations), the release binary is built under the shared build lock and copied.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/stadtkarte/target"))
CACHE = os.path.expanduser("~/.cache/stadtkarte/bench")
PORT = os.environ.get("PG_PORT", "5439")
DB = "stadtkarte_bench_export"
URL = f"postgresql://stadtkarte@127.0.0.1:{PORT}/{DB}"
PG = f"PG:host=127.0.0.1 port={PORT} user=stadtkarte dbname={DB}"
BINARY = os.path.join(CACHE, "export-stadtkarte")
ROUNDS = int(os.environ.get("ROUNDS", "2"))
# FORMATS=fgb,gpkg measures only those.
FEATURES = 1_000_000
OURS = 18093
# (our extension, ogr2ogr driver, EPSG of the file, ogr2ogr output name, ogr2ogr variants:
# label and extra arguments)
FORMATS = [
    ("geojson", "GeoJSON", 4326, "out.geojson", [("", [])]),
    ("csv", "CSV", 4326, "out.csv", [("", ["-lco", "GEOMETRY=AS_WKT"])]),
    ("gpkg", "GPKG", 25832, "out.gpkg", [("", [])]),
    ("fgb", "FlatGeobuf", 4326, "out.fgb",
     [("index", []), ("no index", ["-lco", "SPATIAL_INDEX=NO"])]),
]


def psql(sql, db=DB):
    return subprocess.check_output(
        ["psql", "-h", "127.0.0.1", "-p", PORT, "-U", "stadtkarte", "-d", db, "-Atqc", sql], text=True
    ).strip()


def build():
    """Builds the release binary (one build at a time on this machine: others build the same
    target directory) and copies it under the lock, so a later build changes nothing here."""
    built = os.path.join(TARGET, "release", "stadtkarte")
    command = ["cp", built, BINARY]
    if os.environ.get("SKIP_BUILD") != "1":
        command = ["sh", "-c", f'cargo build -j2 --release --locked --bin stadtkarte && cp "{built}" "{BINARY}"']
    os.makedirs(CACHE, exist_ok=True)
    subprocess.check_call(["flock", "/tmp/stadtkarte-cargo.lock"] + command, cwd=ROOT,
                          env={**os.environ, "CARGO_TARGET_DIR": TARGET})


def tree_rss_kb(pid):
    """RSS of a process and its children, in kB."""
    total = 0
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
    except OSError:
        return 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def ours(binary, env, ext):
    cache = tempfile.mkdtemp(prefix="stadtkarte-bench-")
    server = subprocess.Popen([binary, "serve"], env={**env, "STADTKARTE_SERVER__LISTEN": f"127.0.0.1:{OURS}",
                                                       "STADTKARTE_LOG__LEVEL": "warn",
                                                       "STADTKARTE_OPENDATA__CACHE_DIR": cache})
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{OURS}/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss_kb(server.pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        start = time.perf_counter()
        size = 0
        with urllib.request.urlopen(f"http://127.0.0.1:{OURS}/opendata/bench/bench_export.{ext}", timeout=600) as r:
            while chunk := r.read(1 << 20):
                size += len(chunk)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        return seconds, peak[0] / 1024, size
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(cache, ignore_errors=True)


def theirs(columns, driver, srid, name, extra):
    work = tempfile.mkdtemp(prefix="ogr2ogr-bench-")
    try:
        out = os.path.join(work, name)
        start = time.perf_counter()
        proc = subprocess.Popen(["ogr2ogr", "-f", driver, out, PG, "-sql",
                                 f"SELECT {columns} FROM data.bench_export", "-nln", "bench_export",
                                 "-t_srs", f"EPSG:{srid}"] + extra,
                                stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if status != 0:
            sys.exit(f"ogr2ogr failed:\n{proc.stderr.read().decode(errors='replace')}")
        return seconds, usage.ru_maxrss / 1024, os.path.getsize(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    subprocess.check_call([os.path.join(ROOT, "scripts/env.sh")], stdout=subprocess.DEVNULL)
    build()
    binary = BINARY
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", "postgres")
    psql(f"CREATE DATABASE {DB}", "postgres")
    # The background preparer would make the files before the measured request: off here.
    env = {**os.environ, "STADTKARTE_DATABASE__URL": URL, "STADTKARTE_OPENDATA__PREPARE_DOWNLOADS": "false"}
    wanted = os.environ.get("FORMATS", "").split(",") if os.environ.get("FORMATS") else None
    gpkg = os.path.join(CACHE, "gebaeude-1m.gpkg")
    if not os.path.exists(gpkg):
        sys.exit(f"{gpkg} is missing: run bench/import_vs_ogr2ogr.py once, it makes the file")
    subprocess.check_call([binary, "import", "vector", gpkg, "--collection", "bench_export", "--replace"],
                          env=env, stdout=subprocess.DEVNULL)
    assert psql("SELECT count(*) FROM data.bench_export") == str(FEATURES)
    subprocess.run([binary, "dataset", "remove", "bench"], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    subprocess.check_call([binary, "dataset", "add", "bench", "--title", "Benchmark", "--description",
                           "1.000.000 Gebäude", "--collection", "bench_export"], env=env, stdout=subprocess.DEVNULL)
    columns = psql("SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) "
                   "FROM information_schema.columns WHERE table_schema = 'data' AND table_name = 'bench_export'")
    rows = []
    try:
        for ext, driver, srid, name, variants in FORMATS:
            if wanted and ext not in wanted:
                continue
            a, b = [], {label: [] for label, _ in variants}
            for _ in range(ROUNDS):
                a.append(ours(binary, env, ext))
                for label, extra in variants:
                    b[label].append(theirs(columns, driver, srid, name, extra))
            for label, _ in variants:
                rows.append((f"{ext} {label}".strip(), a, b[label]))
    finally:
        subprocess.run([binary, "dataset", "remove", "bench"], env=env, stdout=subprocess.DEVNULL)
        psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", "postgres")
    print(f"\nExport of {FEATURES:,} buildings from PostGIS, median of {ROUNDS} runs each (cold cache)")
    print(f"{'format':<15}{'ours s':>8}{'ogr2ogr s':>11}{'ratio':>7}{'ours MB':>9}{'ogr2ogr MB':>12}{'ours size':>12}{'their size':>12}")
    for label, a, b in rows:
        ta, tb = statistics.median(x[0] for x in a), statistics.median(x[0] for x in b)
        print(f"{label:<15}{ta:>8.2f}{tb:>11.2f}{ta / tb:>7.2f}{max(x[1] for x in a):>9.0f}{max(x[1] for x in b):>12.0f}"
              f"{a[0][2] / 1e6:>11.0f}M{b[0][2] / 1e6:>11.0f}M")
        print(f"{'':<15}{'runs: ours ' + ' '.join(f'{x[0]:.2f}' for x in a) + ' s, ogr2ogr ' + ' '.join(f'{x[0]:.2f}' for x in b) + ' s':>0}")
    print("ratio = ours / ogr2ogr time (below 1: ours is faster); fgb: ours always has the spatial index")


if __name__ == "__main__":
    main()
