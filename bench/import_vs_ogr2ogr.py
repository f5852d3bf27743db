#!/usr/bin/env python3
"""Import 1,000,000 features from a GeoPackage: stadtkarte vs. ogr2ogr (PG_USE_COPY=YES).

Both read the same file and write into the same PostGIS, one after the other, alternating,
ROUNDS times each; the table reports the median time, features/s and peak RSS.
"""
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/stadtkarte/target"))
CACHE = os.path.expanduser("~/.cache/stadtkarte/bench")
PORT = os.environ.get("PG_PORT", "5439")
URL = f"postgresql://stadtkarte@127.0.0.1:{PORT}/stadtkarte"
PG = f"PG:host=127.0.0.1 port={PORT} user=stadtkarte dbname=stadtkarte"
ROUNDS = int(os.environ.get("ROUNDS", "3"))
FEATURES = 1_000_000


def run(cmd, env=None):
    """Runs a command; returns (seconds, peak RSS in MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    if status != 0:
        sys.exit(f"{cmd[0]} failed:\n{err}")
    return seconds, usage.ru_maxrss / 1024


def psql(sql):
    return subprocess.check_output(
        ["psql", "-h", "127.0.0.1", "-p", PORT, "-U", "stadtkarte", "-d", "stadtkarte", "-Atqc", sql], text=True
    ).strip()


def main():
    subprocess.check_call([os.path.join(ROOT, "scripts/env.sh")], stdout=subprocess.DEVNULL)
    subprocess.check_call(["cargo", "build", "--release", "--locked", "--bin", "stadtkarte"], cwd=ROOT,
                          env={**os.environ, "CARGO_TARGET_DIR": TARGET})
    binary = os.path.join(TARGET, "release", "stadtkarte")
    os.makedirs(CACHE, exist_ok=True)
    gpkg = os.path.join(CACHE, "gebaeude-1m.gpkg")
    if not os.path.exists(gpkg):
        # Scale 17 gives a little over a million buildings; export exactly FEATURES of them.
        subprocess.check_call([binary, "demo", "--scale", "17", "--no-imagery"], env={**os.environ, "STADTKARTE_DATABASE__URL": URL})
        subprocess.check_call(["ogr2ogr", "-f", "GPKG", gpkg + ".tmp", PG, "-nln", "gebaeude",
                               "-sql", f"SELECT * FROM data.gebaeude ORDER BY id LIMIT {FEATURES}"])
        os.rename(gpkg + ".tmp", gpkg)
        subprocess.check_call([binary, "demo", "--no-imagery"], env={**os.environ, "STADTKARTE_DATABASE__URL": URL})
    ours, theirs = [], []
    for _ in range(ROUNDS):
        ours.append(run([binary, "import", "vector", gpkg, "--collection", "bench_import", "--replace"],
                        {"STADTKARTE_DATABASE__URL": URL}))
        assert psql("SELECT count(*) FROM data.bench_import") == str(FEATURES)
        theirs.append(run(["ogr2ogr", "-f", "PostgreSQL", PG, gpkg, "-nln", "bench_ogr2ogr",
                           "-lco", "SCHEMA=data", "-lco", "OVERWRITE=YES", "-lco", "GEOMETRY_NAME=geom",
                           "-t_srs", "EPSG:25832"], {"PG_USE_COPY": "YES"}))
        assert psql("SELECT count(*) FROM data.bench_ogr2ogr") == str(FEATURES)
    psql("DROP TABLE data.bench_ogr2ogr")
    t_ours = statistics.median(s for s, _ in ours)
    t_theirs = statistics.median(s for s, _ in theirs)
    rss_ours = max(m for _, m in ours)
    rss_theirs = max(m for _, m in theirs)
    print(f"\nImport of {FEATURES:,} polygons from a GeoPackage into PostGIS, median of {ROUNDS} runs each")
    print(f"{'tool':<34}{'time s':>9}{'features/s':>13}{'peak RSS MB':>13}")
    print(f"{'stadtkarte import vector':<34}{t_ours:>9.2f}{FEATURES / t_ours:>13,.0f}{rss_ours:>13.0f}")
    print(f"{'ogr2ogr -f PostgreSQL (COPY)':<34}{t_theirs:>9.2f}{FEATURES / t_theirs:>13,.0f}{rss_theirs:>13.0f}")
    print(f"ratio (ours / ogr2ogr time): {t_ours / t_theirs:.2f}")


if __name__ == "__main__":
    main()
