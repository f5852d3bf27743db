#!/usr/bin/env python3
"""Capacity with one node, and with two nodes and a streaming standby behind HAProxy, on loopback.

Sets up its own database `stadtkarte_bench_scale` on the private cluster of `scripts/env.sh`
(dropped and loaded again with `stadtkarte demo --scale 1 --no-imagery` on every run) and an
Open311 API key (`stadtkarte maengel api-key add`). The server runs as `make demo` runs it
(`stadtkarte_web` for requests, the owner for migrations, `MALLOC_ARENA_MAX=2`) with the Open311
limit per key raised out of the way, since every client shares one key.

A. One node on 127.0.0.1:8395, reading and writing on the private cluster (the primary).
B. A streaming standby of the primary (`pg_basebackup -R` into a temporary folder, port 5469),
   two nodes (8396, 8397) that write to the primary and read from the standby
   (`STADTKARTE_DATABASE__REPLICAS`, as `stadtkarte_web`: roles replicate), and HAProxy on
   8398 in front of them (round robin, HTTP mode, health checks of `/health`).

In each part, one after another, wrk (two threads) for DURATION seconds per case:
1. cached vector tiles: `/tiles/gebaeude,strassen/z/x/y` over the centre at z14–z16, gzip,
   every tile requested once on every node before (so each node's cache holds them);
2. `GET /collections/gebaeude/items?limit=100` over 20 bounding boxes of 0.01° around the
   centre in turn, gzip, each once per node before;
3. `POST /open311/v2/requests.json`, form-encoded without photo, every report at another point
   on a building (ST_PointOnSurface) and the services without required attributes in turn;
   the rows added to `maengel.reports` against the 201 answers (wrk stops at the deadline
   without reading the answers in flight: up to one per connection is stored but not counted).
During case 3 of part B the primary's `pg_stat_replication` is sampled every 0.25 s (replay_lag,
and the bytes `pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)`), and afterwards the time
until the standby has replayed everything. The share of database reads the nodes sent to the
standby comes from their `/metrics` (`db_reads_total{pool=...}`).

Prints a Markdown table; the exit status is 1 when an answer was not 2xx (201 for reports),
rows do not match, or a server logged a 500 or a panic. Servers, HAProxy and the standby are
stopped and the standby's folder removed at the end, also on Ctrl-C; the database stays.

Environment: DURATION (15), CONNECTIONS (32, for reads), WRITE_CONNECTIONS (= CONNECTIONS),
THREADS (2, of wrk), BINARY (default $CARGO_TARGET_DIR/release/stadtkarte, copied before the
run), PG_PORT (5439), STANDBY_PORT (5469).
"""
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maengel import psql  # noqa: E402
from petitions import lua_list, lua_str  # noqa: E402
from tilebench import tile_grid, wait  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/stadtkarte/target"))
SOURCE_BINARY = os.environ.get("BINARY", os.path.join(TARGET, "release", "stadtkarte"))
CACHE = os.path.expanduser("~/.cache/stadtkarte/bench")
PGBIN = "/usr/lib/postgresql/15/bin"
PG_PORT = int(os.environ.get("PG_PORT", "5439"))
STANDBY_PORT = int(os.environ.get("STANDBY_PORT", "5469"))
DB = "stadtkarte_bench_scale"
OWNER_URL = f"postgresql://stadtkarte@127.0.0.1:{PG_PORT}/{DB}"
WEB_URL = f"postgresql://stadtkarte_web@127.0.0.1:{PG_PORT}/{DB}"
STANDBY_WEB_URL = f"postgresql://stadtkarte_web@127.0.0.1:{STANDBY_PORT}/{DB}"
ADMIN_URL = f"postgresql://stadtkarte@127.0.0.1:{PG_PORT}/postgres"
# The standby's walreceiver names itself by cluster_name in pg_stat_replication.
STANDBY_NAME = "stadtkarte_bench_standby"
DURATION = int(os.environ.get("DURATION", "15"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
WRITE_CONNECTIONS = int(os.environ.get("WRITE_CONNECTIONS", str(CONNECTIONS)))
THREADS = int(os.environ.get("THREADS", "2"))
SINGLE_PORT = 8395
NODE_PORTS = (8396, 8397)
LB_PORT = 8398
CENTRE = (7.57, 50.34, 7.61, 50.37)
LAG_INTERVAL = 0.25


def as_postgres(command):
    """PostgreSQL refuses to run as root: as root, its tools run as `postgres`."""
    return ["runuser", "-u", "postgres", "--"] + command if os.getuid() == 0 else command


def port_free(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def fresh_database(binary):
    """Drops and loads the bench database; returns the API key."""
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", ADMIN_URL)
    psql(f"CREATE DATABASE {DB}", ADMIN_URL)
    env = {**os.environ, "STADTKARTE_DATABASE__URL": OWNER_URL}
    subprocess.run([binary, "demo", "--scale", "1", "--no-imagery"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run([binary, "maengel", "api-key", "add", f"bench-scale-{int(time.time())}"], env=env,
                          check=True, capture_output=True, text=True).stdout.strip()


def points(n):
    """n points on buildings of the demo city (lon, lat as text), the same on every run."""
    rows = psql(f"""SELECT setseed(0.42);
        SELECT round(ST_X(p)::numeric, 7), round(ST_Y(p)::numeric, 7) FROM (
            SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p FROM data.gebaeude
            ORDER BY random() LIMIT {n}) s""", OWNER_URL)
    return [(r[0], r[1]) for r in rows if len(r) == 2]


def count_reports():
    return int(psql("SELECT count(*) FROM maengel.reports", OWNER_URL)[0][0])


def fetch(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as r:
        return r.status, r.read()


def services(port):
    """The services without required attributes, in the order the API lists them."""
    codes = []
    for s in json.loads(fetch(port, "/open311/v2/services.json")[1]):
        if s.get("metadata"):
            attrs = json.loads(fetch(port, f"/open311/v2/services/{s['service_code']}.json")[1])["attributes"]
            if any(a.get("required") for a in attrs):
                continue
        codes.append(s["service_code"])
    if not codes:
        sys.exit("no service without required attributes")
    return codes


class Node:
    """`stadtkarte serve` as `make demo` runs it, on `port`, with `extra` environment."""

    def __init__(self, binary, port, workdir, extra=None):
        self.port = port
        env = {**os.environ, "MALLOC_ARENA_MAX": "2",
               "STADTKARTE_DATABASE__URL": WEB_URL, "STADTKARTE_DATABASE__MIGRATION_URL": OWNER_URL,
               "STADTKARTE_SERVER__LISTEN": f"127.0.0.1:{port}", "STADTKARTE_OPENDATA__PREPARE_DOWNLOADS": "false",
               "STADTKARTE_LOG__LEVEL": "warn", "STADTKARTE_IMAGERY__DIR": os.path.join(workdir, "imagery"),
               # All clients share one key: its per-minute limit must not be what is measured.
               "STADTKARTE_MAENGEL__REPORTS_PER_API_KEY_MINUTE": "4000000000", **(extra or {})}
        self.log_path = os.path.join(CACHE, f"scale-node-{port}.log")
        self.log = open(self.log_path, "a")
        self.log_start = self.log.tell()
        self.log.write(f"\n=== serve {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        self.log.flush()
        self.proc = subprocess.Popen([binary, "serve"], env=env, stdout=self.log, stderr=self.log)
        wait(f"http://127.0.0.1:{port}/ready")

    def wait_for_standby(self):
        """Until /ready lists the replica as healthy (the first check runs at start-up)."""
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                ready = json.loads(fetch(self.port, "/ready")[1])
                replicas = ready.get("pools", {}).get("replicas") or []
                if replicas and replicas[0].get("healthy") is True:
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        sys.exit(f"node {self.port} does not read from the standby within 30 s (see {self.log_path})")

    def hwm(self):
        """Peak RSS in MB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def reads(self):
        """db_reads_total per pool from /metrics."""
        text = fetch(self.port, "/metrics")[1].decode()
        return {m.group(1): float(m.group(2))
                for m in re.finditer(r'^db_reads_total\{pool="(\w+)"\}\s+([\d.e+]+)', text, re.M)}

    def errors(self):
        """Answers 500 and panics in this server's part of its log."""
        with open(self.log_path, errors="replace") as f:
            f.seek(self.log_start)
            return sum(1 for line in f if "Internal Server Error" in line or "panicked" in line)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class HaProxy:
    """HAProxy in the foreground, round robin over the nodes."""

    def __init__(self, workdir, backends):
        servers = "".join(f"  server node{i} 127.0.0.1:{p} check inter 1s fall 2 rise 1\n"
                          for i, p in enumerate(backends))
        config = os.path.join(workdir, "haproxy.cfg")
        with open(config, "w") as f:
            f.write("global\n  maxconn 4000\n\ndefaults\n  mode http\n  timeout connect 2s\n"
                    "  timeout client 60s\n  timeout server 60s\n  retries 3\n  option redispatch\n\n"
                    f"frontend web\n  bind 127.0.0.1:{LB_PORT}\n  default_backend nodes\n\n"
                    f"backend nodes\n  balance roundrobin\n  option httpchk GET /health\n{servers}")
        self.log = open(os.path.join(CACHE, "scale-haproxy.log"), "a")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", config], stdout=subprocess.DEVNULL, stderr=self.log)
        wait(f"http://127.0.0.1:{LB_PORT}/health")

    def hwm(self):
        """Peak RSS in MB (one process with threads, in the foreground with -db)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Standby:
    """A streaming standby of the private cluster in a temporary folder on STANDBY_PORT."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="stadtkarte-bench-standby-", dir="/tmp")
        self.data = os.path.join(self.dir, "data")
        self.started = False
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")

    def create_and_start(self):
        # The private cluster's pg_hba.conf (initdb --auth=trust) lets local replication
        # connections in; wal_level = replica and max_wal_senders = 10 are the defaults.
        subprocess.run(as_postgres([f"{PGBIN}/pg_basebackup", "-D", self.data, "-h", "127.0.0.1", "-p", str(PG_PORT),
                                    "-U", "stadtkarte", "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"]),
                       check=True, stdout=subprocess.DEVNULL)
        # The copied settings name the primary's port and socket; later lines win.
        settings = (f"\n# bench/scale_out.py standby\nport = {STANDBY_PORT}\nunix_socket_directories = '{self.dir}'\n"
                    f"hot_standby = on\nwal_receiver_status_interval = 1s\nhot_standby_feedback = on\n"
                    f"cluster_name = '{STANDBY_NAME}'\n")
        subprocess.run(as_postgres(["tee", "-a", os.path.join(self.data, "postgresql.conf")]), input=settings,
                       text=True, check=True, stdout=subprocess.DEVNULL)
        self.started = True
        subprocess.run(as_postgres([f"{PGBIN}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "postgresql.log"),
                                    "-w", "-t", "120", "start"]), check=True, stdout=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            rows = psql(f"SELECT state FROM pg_stat_replication WHERE application_name = '{STANDBY_NAME}'", ADMIN_URL)
            if rows and rows[0][0] == "streaming":
                return
            time.sleep(0.2)
        sys.exit("the standby does not stream from the primary")

    def stop(self):
        if self.started and os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run(as_postgres([f"{PGBIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


class LagSampler:
    """Samples the standby's lag on the primary every LAG_INTERVAL seconds through one psql
    session, until stopped."""

    QUERY = ("SELECT coalesce((extract(epoch FROM replay_lag) * 1000)::numeric(12,1)::text, ''), "
             "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text, '') "
             f"FROM pg_stat_replication WHERE application_name = '{STANDBY_NAME}';\n\\echo END\n")

    def __init__(self):
        self.session = subprocess.Popen(["psql", "-X", "-q", "-At", "-F", "\t", ADMIN_URL], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        self.samples = []  # (ms or None when caught up, bytes)
        self.stopping = threading.Event()
        self.thread = None

    def look(self):
        self.session.stdin.write(self.QUERY)
        self.session.stdin.flush()
        row = None
        while True:
            line = self.session.stdout.readline()
            if not line or line.strip() == "END":
                break
            row = line.rstrip("\n").split("\t")
        if not row or len(row) != 2 or row[1] == "":
            return None
        return (float(row[0]) if row[0] else None, int(row[1]))

    def start(self):
        def run():
            while not self.stopping.is_set():
                t = time.perf_counter()
                sample = self.look()
                if sample is not None:
                    self.samples.append(sample)
                self.stopping.wait(max(0.0, LAG_INTERVAL - (time.perf_counter() - t)))
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def pause(self):
        self.stopping.set()
        if self.thread:
            self.thread.join()

    def catch_up(self, timeout=30):
        """Seconds until the standby has replayed all WAL (bytes behind ≤ 0), or None."""
        t = time.perf_counter()
        while time.perf_counter() - t < timeout:
            sample = self.look()
            if sample is not None and sample[1] <= 0:
                return time.perf_counter() - t
            time.sleep(0.02)
        return None

    def stop(self):
        """Ends the sampling and the psql session."""
        self.pause()
        if self.session.poll() is None:
            self.session.stdin.close()
            self.session.wait(10)


WRK_COMMON = r"""
local threads, nthreads = {}, 0
function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end
function done(summary, latency, requests)
  local good, other, sample = 0, 0, ""
  for _, t in ipairs(threads) do
    good = good + (t:get("good") or 0)
    other = other + (t:get("other") or 0)
    if sample == "" then sample = t:get("first_other") or "" end
  end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %.3f %.3f %.6f %d\n", summary.requests, e.status, good, other,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6,
    e.connect + e.read + e.write + e.timeout))
  io.write("OTHER " .. sample:gsub("\n", " ") .. "\n")
end
"""

# Reads: paths in turn, each thread from its own place in the list; no response() callback, so
# wrk does not copy the bodies into Lua (non-2xx come from wrk's own count of status ≥ 400).
WRK_READ = r"""
function init(args)
  i = tid * 17
end
function request()
  i = i % #PATHS + 1
  return wrk.format("GET", PATHS[i], {["Accept-Encoding"] = "gzip"})
end
"""

# Reports: every request its own point, service and text; 201 counted exactly.
WRK_REPORT = r"""
local q = function(s) return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", c:byte()) end)) end
function init(args)
  n, good, other, first_other = 0, 0, 0, ""
end
function request()
  local i = n * THREADS + tid
  n = n + 1
  local p = POINTS[i % #POINTS + 1]
  local body = "service_code=" .. q(CODES[i % #CODES + 1]) .. "&lat=" .. p[2] .. "&long=" .. p[1]
    .. "&description=" .. q("Lastprobe " .. RUN .. "/" .. i .. ": Laterne an diesem Haus ist dunkel.")
    .. "&api_key=" .. q(KEY)
  return wrk.format("POST", "/open311/v2/requests.json",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
function response(status, headers, body)
  if status == 201 then good = good + 1 else
    other = other + 1
    if first_other == "" then first_other = status .. " " .. (body or ""):sub(1, 200) end
  end
end
"""


def wrk(port, script_text, connections, workdir):
    """wrk for DURATION s: dict with requests, per_s, non2xx, good, other, p50, p99, socket errors."""
    script = os.path.join(workdir, "bench.lua")
    with open(script, "w") as f:
        f.write(f"THREADS = {THREADS}\n" + script_text + WRK_COMMON)
    out = subprocess.run(["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{DURATION}s", "--latency", "--timeout", "10s",
                          "-s", script, f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
    line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"wrk gave no result:\n{out}")
    requests, non2xx, good, other, p50, p99, elapsed, socket_errors = line.split()[1:]
    sample = next((x[6:] for x in out.splitlines() if x.startswith("OTHER ")), "").strip()
    return {"requests": int(requests), "non2xx": int(non2xx), "good": int(good), "other": int(other),
            "p50": float(p50), "p99": float(p99), "elapsed": float(elapsed), "socket_errors": int(socket_errors),
            "per_s": int(requests) / float(elapsed), "sample": sample}


def warm(nodes, paths):
    """Every path once on every node (each node has its own tile cache)."""
    for node in nodes:
        for p in paths:
            req = urllib.request.Request(f"http://127.0.0.1:{node.port}{p}", headers={"Accept-Encoding": "gzip"})
            with urllib.request.urlopen(req, timeout=60) as r:
                r.read()


def reads_of(nodes):
    total = {}
    for node in nodes:
        for pool, n in node.reads().items():
            total[pool] = total.get(pool, 0) + n
    return total


def measure(port, nodes, workdir, tiles, items, key, codes, pts, lag=None):
    """The three cases through `port`; returns {case: result}."""
    results = {}
    for case, paths in (("tiles", tiles), ("items", items)):
        warm(nodes, paths)
        before = reads_of(nodes)
        r = wrk(port, f"PATHS = {lua_list(paths)}\n" + WRK_READ, CONNECTIONS, workdir)
        after = reads_of(nodes)
        r["reads"] = {pool: after.get(pool, 0) - before.get(pool, 0) for pool in after}
        # Reads have no response() counter: the good ones are those without an error status.
        r["good"], r["other"] = r["requests"] - r["non2xx"], r["non2xx"]
        results[case] = r
    header = "\n".join([
        f"RUN = {int(time.time())}", f"KEY = {lua_str(key)}", f"CODES = {lua_list(codes)}",
        "POINTS = {" + ", ".join(f"{{{lua_str(lon)}, {lua_str(lat)}}}" for lon, lat in pts) + "}",
    ])
    rows_before = count_reports()
    before = reads_of(nodes)
    if lag:
        lag.start()
    try:
        r = wrk(port, header + "\n" + WRK_REPORT, WRITE_CONNECTIONS, workdir)
    finally:
        if lag:
            lag.pause()
    r["catch_up"] = lag.catch_up() if lag else None
    after = reads_of(nodes)
    r["reads"] = {pool: after.get(pool, 0) - before.get(pool, 0) for pool in after}
    r["rows"] = count_reports() - rows_before
    r["per_s"] = r["good"] / r["elapsed"]
    results["reports"] = r
    return results


def fmt_reads(r):
    reads = r.get("reads") or {}
    total = sum(reads.values())
    if not total:
        return "–"
    return f"{reads.get('replica', 0) / total * 100:.0f} % of {total:.0f}"


def main():
    if not os.path.exists(SOURCE_BINARY):
        sys.exit(f"{SOURCE_BINARY} is missing: build it (cargo build --release) or set BINARY")
    for port in (SINGLE_PORT, *NODE_PORTS, LB_PORT, STANDBY_PORT):
        if not port_free(port):
            sys.exit(f"port {port} is taken (a run that did not end?)")
    subprocess.check_call([os.path.join(ROOT, "scripts/env.sh")], stdout=subprocess.DEVNULL)
    os.makedirs(CACHE, exist_ok=True)

    def terminated(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, terminated)

    workdir = tempfile.mkdtemp(prefix="stadtkarte-bench-scale-")
    running = []  # what to stop, in reverse order of starting
    problems, rss = [], {}
    try:
        binary = os.path.join(workdir, "stadtkarte")
        # A copy: someone may build the target directory again during the run.
        shutil.copy2(SOURCE_BINARY, binary)
        key = fresh_database(binary)
        pts = points(5000)
        tiles = [f"/tiles/gebaeude,strassen/{z}/{x}/{y}" for z, x, y in tile_grid(CENTRE, [14, 15, 16])]
        items = [f"/collections/gebaeude/items?limit=100&bbox={7.55 + (i % 5) * 0.01:.2f},{50.33 + (i // 5) * 0.01:.2f},"
                 f"{7.56 + (i % 5) * 0.01:.2f},{50.34 + (i // 5) * 0.01:.2f}" for i in range(20)]
        load_before = os.getloadavg()[0]
        print(f"database {DB}, {len(pts)} points, {len(tiles)} tiles, {len(items)} item pages; binary {SOURCE_BINARY}",
              file=sys.stderr, flush=True)

        print("part A: one node", file=sys.stderr, flush=True)
        node = Node(binary, SINGLE_PORT, workdir)
        running.append(node)
        codes = services(SINGLE_PORT)
        single = measure(SINGLE_PORT, [node], workdir, tiles, items, key, codes, pts)
        rss["one node"] = f"{node.hwm():.0f} MB"
        if node.errors():
            problems.append(f"part A: {node.errors()} answers 500 or panics in {node.log_path}")
        node.stop()
        running.remove(node)

        print("part B: standby, two nodes, HAProxy", file=sys.stderr, flush=True)
        standby = Standby()
        running.append(standby)
        standby.create_and_start()
        nodes = []
        for port in NODE_PORTS:
            # One after the other: both run the migrations at start-up.
            n = Node(binary, port, workdir, {"STADTKARTE_DATABASE__REPLICAS": STANDBY_WEB_URL})
            running.append(n)
            n.wait_for_standby()
            nodes.append(n)
        lb = HaProxy(workdir, NODE_PORTS)
        running.append(lb)
        lag = LagSampler()
        running.append(lag)
        double = measure(LB_PORT, nodes, workdir, tiles, items, key, codes, pts, lag)
        rss["two nodes"] = " + ".join(f"{n.hwm():.0f}" for n in nodes) + f" MB; HAProxy {lb.hwm():.0f} MB"
        for n in nodes:
            if n.errors():
                problems.append(f"part B: {n.errors()} answers 500 or panics in {n.log_path}")
    finally:
        for thing in reversed(running):
            try:
                thing.stop()
            except Exception as e:  # keep stopping the rest
                print(f"cleanup: {e!r}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)

    names = {"tiles": f"cached tiles z14–z16 ({len(tiles)}), {CONNECTIONS} conn.",
             "items": f"items?limit=100 ({len(items)} bboxes), {CONNECTIONS} conn.",
             "reports": f"POST report (Open311), {WRITE_CONNECTIONS} conn."}
    for part, results in (("1 node", single), ("2 nodes + standby", double)):
        for case, r in results.items():
            if r["other"] or r["socket_errors"]:
                problems.append(f"{part}, {case}: {r['other']} answers not {'201' if case == 'reports' else '2xx'}, "
                                f"{r['socket_errors']} socket errors {r['sample'][:200]}")
        rep = results["reports"]
        if not rep["good"] <= rep["rows"] <= rep["good"] + WRITE_CONNECTIONS:
            problems.append(f"{part}: {rep['rows']} rows added for {rep['good']} answers 201")

    print(f"\nScale-out on loopback, {time.strftime('%Y-%m-%d %H:%M')}: {DURATION} s per case, wrk with {THREADS} "
          f"threads, demo city scale 1; {os.cpu_count()} CPUs shared by wrk, the nodes, HAProxy and both PostgreSQL "
          f"servers; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n")
    print("| case | 1 node req/s | p50 ms | p99 ms | 2 nodes + standby req/s | p50 ms | p99 ms | ratio | "
          "reads on the standby (B) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for case in ("tiles", "items", "reports"):
        a, b = single[case], double[case]
        print(f"| {names[case]} | {a['per_s']:.0f} | {a['p50']:.1f} | {a['p99']:.1f} | {b['per_s']:.0f} | "
              f"{b['p50']:.1f} | {b['p99']:.1f} | {b['per_s'] / max(a['per_s'], 1e-9):.2f} | {fmt_reads(b)} |")
    print()
    for part, results in (("1 node", single), ("2 nodes + standby", double)):
        rep = results["reports"]
        print(f"- {part}: answers not 2xx: tiles {results['tiles']['other']}, items {results['items']['other']}, "
              f"reports not 201: {rep['other']}; rows added {rep['rows']} for {rep['good']} × 201 "
              f"(+ up to {WRITE_CONNECTIONS} in flight when wrk stopped)")
    samples = lag.samples
    if samples:
        ms = [s[0] if s[0] is not None else 0.0 for s in samples]
        by = [s[1] for s in samples]
        caught = double["reports"]["catch_up"]
        print(f"- replica lag during the report POSTs ({len(samples)} samples every {LAG_INTERVAL} s; replay_lag NULL "
              f"= caught up, counted 0 — {sum(1 for s in samples if s[0] is None)} of them): "
              f"replay_lag median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms; "
              f"WAL bytes behind median {statistics.median(by):,.0f}, max {max(by):,.0f}; "
              f"all replayed {'%.2f s' % caught if caught is not None else 'not within 30 s'} after the load ended")
    else:
        problems.append("no sample of pg_stat_replication for the standby")
    print(f"- peak RSS (VmHWM): one node {rss.get('one node')}; two nodes {rss.get('two nodes')}")
    if problems:
        print("\nProblems:")
        for p in problems:
            print(f"- {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
