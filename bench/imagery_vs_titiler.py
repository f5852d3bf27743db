#!/usr/bin/env python3
"""Aerial-image tiles: stadtkarte (byte copy from the aligned pyramid) vs. TiTiler (one uvicorn
worker, dynamic tiling from a COG of the same source), same machine, same run.

Source: the demo city's 2023 orthophoto of the centre (20 cm, EPSG:25832), rendered by
`stadtkarte demo --imagery-sources DIR`. TiTiler serves it as a regular COG in EPSG:25832 (JPEG
q85 inside, internal overviews — how surveying offices deliver DOPs); stadtkarte serves the
epoch `luftbild-2023` that `stadtkarte demo` imported from the same file. Both answer WebP tiles.

The tile set: every WebMercatorQuad tile covering the 20-cm area from z14 to z18. Cold: each tile
once by 4 concurrent clients. Warm: wrk with 4 connections for DURATION seconds over the set.
Reports tiles/s, p50/p99, bytes per tile, the ratios, and the storage per epoch against the
source. TiTiler is installed into .local/bench-venv from PyPI (titiler.application).
"""
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from tilebench import cold, tile_grid, wait, warm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/stadtkarte/target"))
PORT = os.environ.get("PG_PORT", "5439")
URL = f"postgresql://stadtkarte@127.0.0.1:{PORT}/stadtkarte"
VENV = os.path.join(ROOT, ".local", "bench-venv")
CACHE = os.path.expanduser("~/.cache/stadtkarte/bench/imagery")
OURS, TITILER = 8191, 8193


def sh(*args, **kw):
    subprocess.check_call(list(args), **kw)


def main():
    sh(os.path.join(ROOT, "scripts/env.sh"), stdout=subprocess.DEVNULL)
    sh("cargo", "build", "--release", "--locked", "--bin", "stadtkarte", cwd=ROOT,
       env={**os.environ, "CARGO_TARGET_DIR": TARGET})
    if not os.path.exists(os.path.join(VENV, "bin", "uvicorn")) or not glob.glob(
            os.path.join(VENV, "lib", "python3*", "site-packages", "titiler", "application")):
        if not os.path.exists(VENV):
            sh(sys.executable, "-m", "venv", VENV)
        sh(os.path.join(VENV, "bin", "pip"), "install", "-q", "titiler.application", "uvicorn")
    binary = os.path.join(TARGET, "release", "stadtkarte")
    os.makedirs(CACHE, exist_ok=True)
    sources = os.path.join(CACHE, "quellen")
    imagery_dir = os.path.join(CACHE, "pyramiden")
    env = {**os.environ, "STADTKARTE_DATABASE__URL": URL, "STADTKARTE_LOG__LEVEL": "warn",
           "STADTKARTE_OPENDATA__PREPARE_DOWNLOADS": "false",
           "STADTKARTE_IMAGERY__DIR": imagery_dir}
    t = time.perf_counter()
    sh(binary, "demo", "--imagery-sources", sources, env=env)
    demo_secs = time.perf_counter() - t
    fine = os.path.join(sources, "luftbild-2023-innenstadt.vrt")
    cog = os.path.join(CACHE, "luftbild-2023-zentrum-25832.tif")
    if not os.path.exists(cog) or os.path.getmtime(cog) < os.path.getmtime(fine):
        sh("gdal_translate", "-q", "-of", "COG", "-co", "COMPRESS=JPEG", "-co", "QUALITY=85",
           "-co", "NUM_THREADS=ALL_CPUS", fine, cog)
    servers = []
    try:
        ours = subprocess.Popen([binary, "serve"], env={**env, "STADTKARTE_SERVER__LISTEN": f"127.0.0.1:{OURS}"})
        servers.append(ours)
        titiler = subprocess.Popen([os.path.join(VENV, "bin", "uvicorn"), "titiler.application.main:app",
                                    "--host", "127.0.0.1", "--port", str(TITILER), "--workers", "1",
                                    "--log-level", "warning"],
                                   env={**os.environ, "GDAL_CACHEMAX": "200", "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"})
        servers.append(titiler)
        wait(f"http://127.0.0.1:{OURS}/ready")
        wait(f"http://127.0.0.1:{TITILER}/healthz")
        info = json.load(urllib.request.urlopen(f"http://127.0.0.1:{TITILER}/cog/info.geojson?url={cog}"))
        coords = info["geometry"]["coordinates"][0]
        bounds = (min(c[0] for c in coords), min(c[1] for c in coords), max(c[0] for c in coords), max(c[1] for c in coords))
        tileset = tile_grid(bounds, range(14, 19))
        ours_paths = [f"/imagery/luftbild-2023/{z}/{x}/{y}" for z, x, y in tileset]
        their_paths = [f"/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.webp?url={cog}" for z, x, y in tileset]
        # One warm-up pass each (opens the files, fills GDAL's block cache for TiTiler).
        cold(OURS, ours_paths)
        cold(TITILER, their_paths)
        with tempfile.TemporaryDirectory() as work:
            c_ours = cold(OURS, ours_paths)
            c_them = cold(TITILER, their_paths)
            w_ours = warm(OURS, ours_paths, work)
            w_them = warm(TITILER, their_paths, work)
        epochs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{OURS}/imagery"))["epochs"]
        print(f"\nAerial-image tiles, demo centre 2023 (20 cm), {len(tileset)} tiles z14–z18, WebP, 4 in flight")
        print(f"{'':<14}{'tiles/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'bytes/tile':>12}")
        print(f"{'pass ours':<14}{c_ours[0]:>10.0f}{c_ours[1]:>9.2f}{c_ours[2]:>9.2f}{c_ours[3]:>12.0f}   {c_ours[4]}")
        print(f"{'pass TiTiler':<14}{c_them[0]:>10.0f}{c_them[1]:>9.2f}{c_them[2]:>9.2f}{c_them[3]:>12.0f}   {c_them[4]}")
        print(f"{'wrk ours':<14}{w_ours[0]:>10.0f}{w_ours[1]:>9.2f}{w_ours[2]:>9.2f}   non-2xx: {w_ours[3]}")
        print(f"{'wrk TiTiler':<14}{w_them[0]:>10.0f}{w_them[1]:>9.2f}{w_them[2]:>9.2f}   non-2xx: {w_them[3]}")
        print(f"throughput ratio: pass {c_ours[0] / c_them[0]:.0f}×, wrk {w_ours[0] / w_them[0]:.0f}×; "
              f"p50 ratio (wrk) {w_them[1] / max(w_ours[1], 1e-6):.0f}×")
        print(f"demo city incl. imagery: {demo_secs:.1f} s")
        print(f"\n{'epoch':<16}{'zoom':>7}{'tiles':>9}{'pyramid MB':>12}{'source MB':>11}")
        for e in epochs:
            files = glob.glob(os.path.join(imagery_dir, e["id"], "v*", "*.tif"))
            size = sum(os.path.getsize(f) for f in files)
            print(f"{e['id']:<16}{e['minzoom']:>3}–{e['maxzoom']:<3}{e['tiles']:>9}{size / 1e6:>12.1f}"
                  f"{sum(os.path.getsize(f) for f in glob.glob(os.path.join(sources, e['id'] + '*.raw'))) / 1e6:>11.1f}")
        print(f"source of the comparison as COG (JPEG q85, 25832): {os.path.getsize(cog) / 1e6:.1f} MB; "
              f"raw RGB {os.path.getsize(fine.replace('.vrt', '.raw')) / 1e6:.1f} MB")
    finally:
        for s in servers:
            s.send_signal(signal.SIGTERM)
            try:
                s.wait(timeout=30)
            except subprocess.TimeoutExpired:
                s.kill()


if __name__ == "__main__":
    main()
