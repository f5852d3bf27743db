#!/usr/bin/env python3
"""OGC API Features on the demo city at scale 10: stadtkarte vs. tipg, same PostGIS, same run.

Scenarios (wrk on loopback, 4 connections, 2 threads, DURATION seconds each):
  first page limit=100, first page limit=1000, a page 1,000 pages deep (limit=100: tipg by
  offset=99900, ours by following `next` 999 times), and a bbox query (limit=100).
Reports requests/s, p50/p99 latency, the ratio, and each server's peak RSS.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/stadtkarte/target"))
PORT = os.environ.get("PG_PORT", "5439")
# DB=name measures another database; SKIP_DEMO=1 keeps the demo city it already holds (scale 10).
DB = os.environ.get("DB", "stadtkarte")
URL = f"postgresql://stadtkarte@127.0.0.1:{PORT}/{DB}"
DURATION = os.environ.get("DURATION", "10")
OURS, TIPG = 8181, 8182
VENV = os.path.join(ROOT, ".local", "bench-venv")
BBOX = "7.585,50.350,7.600,50.360"


def sh(*cmd, **kw):
    subprocess.check_call(list(cmd), **kw)


def fetch(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def wait(url):
    for _ in range(300):
        try:
            fetch(url)
            return
        except Exception:
            time.sleep(0.2)
    sys.exit(f"{url} did not come up")


def wrk(url):
    out = subprocess.run(["wrk", "-t2", "-c4", f"-d{DURATION}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def lat(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"{url}: {errors.group(1)} error responses\n{out}")
    return rps, lat(50), lat(99)


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    sh(os.path.join(ROOT, "scripts/env.sh"), stdout=subprocess.DEVNULL)
    sh("cargo", "build", "--release", "--locked", "--bin", "stadtkarte", cwd=ROOT, env={**os.environ, "CARGO_TARGET_DIR": TARGET})
    if not os.path.exists(os.path.join(VENV, "bin", "uvicorn")):
        sh(sys.executable, "-m", "venv", VENV)
        sh(os.path.join(VENV, "bin", "pip"), "install", "-q", "tipg==1.6.1", "uvicorn")
    binary = os.path.join(TARGET, "release", "stadtkarte")
    env = {**os.environ, "STADTKARTE_DATABASE__URL": URL,
           "STADTKARTE_OPENDATA__PREPARE_DOWNLOADS": "false"}
    if os.environ.get("SKIP_DEMO") != "1":
        sh(binary, "demo", "--scale", "10", "--no-imagery", env=env)
    servers = []
    try:
        ours = subprocess.Popen([binary, "serve"], env={**env, "STADTKARTE_SERVER__LISTEN": f"127.0.0.1:{OURS}",
                                                         "STADTKARTE_LOG__LEVEL": "warn"})
        servers.append(ours)
        tipg = subprocess.Popen([os.path.join(VENV, "bin", "uvicorn"), "tipg.main:app", "--host", "127.0.0.1",
                                 "--port", str(TIPG), "--workers", "1", "--log-level", "warning"],
                                env={**os.environ, "DATABASE_URL": URL, "TIPG_DB_SCHEMAS": '["data"]',
                                     "TIPG_MAX_FEATURES_PER_QUERY": "10000"})
        servers.append(tipg)
        wait(f"http://127.0.0.1:{OURS}/ready")
        wait(f"http://127.0.0.1:{TIPG}/collections")
        ours_items = f"http://127.0.0.1:{OURS}/collections/gebaeude/items"
        tipg_items = f"http://127.0.0.1:{TIPG}/collections/data.gebaeude/items"
        # Our page 1,000: follow `next` from the first page.
        href = f"{ours_items}?limit=100"
        for _ in range(999):
            page = json.loads(fetch(href))
            href = next(l["href"] for l in page["links"] if l["rel"] == "next")
        deep = json.loads(fetch(href))
        assert deep["numberReturned"] == 100
        scenarios = [
            ("limit=100", f"{ours_items}?limit=100", f"{tipg_items}?limit=100"),
            ("limit=1000", f"{ours_items}?limit=1000", f"{tipg_items}?limit=1000"),
            ("page 1,000 (limit=100)", href, f"{tipg_items}?limit=100&offset=99900"),
            ("bbox, limit=100", f"{ours_items}?limit=100&bbox={BBOX}", f"{tipg_items}?limit=100&bbox={BBOX}"),
        ]
        rows = []
        for name, a, b in scenarios:
            # Both answer the same number of features.
            na = len(json.loads(fetch(a))["features"])
            nb = len(json.loads(fetch(b))["features"])
            assert na == nb, (name, na, nb)
            r_ours = wrk(a)
            r_tipg = wrk(b)
            rows.append((name, r_ours, r_tipg))
        print(f"\nOGC API Features, demo city scale 10 ({deep.get('numberMatched', '>10,000')} matched; "
              f"wrk -t2 -c4 -d{DURATION}s on loopback)")
        print(f"{'scenario':<24}{'ours req/s':>12}{'p50 ms':>8}{'p99 ms':>8}{'tipg req/s':>12}{'p50 ms':>8}{'p99 ms':>8}{'ratio':>8}")
        for name, (ra, a50, a99), (rb, b50, b99) in rows:
            print(f"{name:<24}{ra:>12.0f}{a50:>8.2f}{a99:>8.2f}{rb:>12.1f}{b50:>8.1f}{b99:>8.1f}{ra / rb:>8.1f}")
        print(f"peak RSS: stadtkarte {peak_rss_mb(ours.pid):.0f} MB, tipg {peak_rss_mb(tipg.pid):.0f} MB")
    finally:
        for s in servers:
            s.send_signal(signal.SIGTERM)
            s.wait(timeout=30)


if __name__ == "__main__":
    main()
