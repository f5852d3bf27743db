#!/usr/bin/env python3
"""A signing spike on a petition, on loopback.

Sets up its own database `stadtkarte_bench_petitions` on the private cluster (dropped and loaded
again with `stadtkarte demo --scale 1 --no-imagery` on every run), publishes a fresh petition,
and runs the release binary as `make demo` does (the server as `stadtkarte_web`, migrations as
the owner, mail kept in the outbox) behind a trusted proxy: every signature comes with its own
client address in `X-Forwarded-For`, as a spike of many citizens would through the city's
reverse proxy, and the e-mail addresses spread over twelve domains. The rate limits are the
defaults (30 signatures per client and hour, 5,000 per domain and hour).

1. POST /petitionen/{id}/unterschreiben (the form of the petition page, with its stamp and
   hidden fields as the page gives them), CONNECTIONS (64) clients for DURATION (30) seconds,
   every signature with its own e-mail address, a postcode of the city (a district chosen for
   half of them) or, for one in eight, one outside: signatures/s, p50/p99, and whether the rows
   added equal the answers "check your mail".
2. The confirmation links are read from the outbox (`petitions.outbox`, as the mail would carry
   them); every one is confirmed with POST /petitionen/unterschrift/{token} by CONNECTIONS
   clients: confirmations/s, p50/p99.
3. The counts of /petitionen/{id}.json (total, residents, per district) against `SELECT count(*)`
   over the confirmed signatures. Peak RSS of the server (VmHWM).

The load comes from wrk (C, an event loop per thread, two threads), with a Lua script that
makes every request's fields, so the client takes little of the two cores and the latencies are
the server's. CLIENT=python drives both parts from 64 Python threads instead (the earlier
method: the client then needs about a core of its own and its GIL adds to the latencies).

Goals (issue 16): ≥ 500 confirmed signatures/s, p99 under 100 ms, counts equal.
Environment: DURATION (30), CONNECTIONS (64), PG_PORT (5439), SKIP_BUILD=1, CLIENT (wrk|python).
"""
import concurrent.futures
import html.parser
import http.client
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tilebench import wait  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/stadtkarte/target"))
CACHE = os.path.expanduser("~/.cache/stadtkarte/bench")
BINARY = os.path.join(CACHE, "petitions-stadtkarte")
PG_PORT = os.environ.get("PG_PORT", "5439")
DB = "stadtkarte_bench_petitions"
OWNER_URL = f"postgresql://stadtkarte@127.0.0.1:{PG_PORT}/{DB}"
WEB_URL = f"postgresql://stadtkarte_web@127.0.0.1:{PG_PORT}/{DB}"
DURATION = int(os.environ.get("DURATION", "30"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "64"))
CLIENT = os.environ.get("CLIENT", "wrk")
PORT = 8394
ORIGIN = f"http://127.0.0.1:{PORT}"
LOG = os.path.join(CACHE, "petitions-server.log")
CONFIG = os.path.join(CACHE, "petitions-bench.toml")
DOMAINS = ["gmail.com", "web.de", "gmx.de", "t-online.de", "outlook.de", "yahoo.de", "posteo.de",
           "mailbox.org", "icloud.com", "freenet.de", "example.org", "koblenz.example"]
CITY_POSTCODES = ["56068", "56070", "56072", "56073", "56075", "56076", "56077"]


def psql(sql, url=OWNER_URL):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"psql failed: {out.stderr}")
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def build():
    os.makedirs(CACHE, exist_ok=True)
    built = os.path.join(TARGET, "release", "stadtkarte")
    command = ["cp", built, BINARY]
    if os.environ.get("SKIP_BUILD") != "1":
        command = ["sh", "-c", f'cargo build -j2 --release --locked --bin stadtkarte && cp "{built}" "{BINARY}"']
    subprocess.check_call(["flock", "/tmp/stadtkarte-cargo.lock"] + command, cwd=ROOT,
                          env={**os.environ, "CARGO_TARGET_DIR": TARGET})


def fresh_database():
    admin = f"postgresql://stadtkarte@127.0.0.1:{PG_PORT}/postgres"
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", admin)
    psql(f"CREATE DATABASE {DB}", admin)
    env = {**os.environ, "STADTKARTE_DATABASE__URL": OWNER_URL}
    subprocess.run([BINARY, "demo", "--scale", "1", "--no-imagery"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # A fresh open petition about the first two districts, without signatures.
    row = psql("""INSERT INTO petitions.petitions (status, title, body, topic, place_kind, districts, geom,
                      sponsor_key, threshold, residents_only, confirmed_at, published_at, deadline)
                  SELECT 'open', 'Lastprobe: eine Petition für alle', repeat('Text der Lastprobe. ', 5), 'sonstiges',
                         'districts', array_agg(name), ST_Multi(ST_Union(geom)), 'bench-' || now()::text, 100000, true,
                         now(), now(), now() + interval '30 days'
                  FROM (SELECT name, geom FROM data.stadtteile ORDER BY id LIMIT 2) d
                  RETURNING id""")
    districts = [r[0] for r in psql("SELECT name FROM data.stadtteile ORDER BY id")]
    return int(row[0][0]), districts


class Server:
    def __init__(self):
        env = {**os.environ, "STADTKARTE_DATABASE__URL": WEB_URL, "STADTKARTE_DATABASE__MIGRATION_URL": OWNER_URL,
               "STADTKARTE_SERVER__LISTEN": f"127.0.0.1:{PORT}", "STADTKARTE_OPENDATA__PREPARE_DOWNLOADS": "false",
               "STADTKARTE_LOG__LEVEL": "warn", "STADTKARTE_IMAGERY__DIR": os.path.join(CACHE, "petitions-imagery"),
               "STADTKARTE_MAIL__ENABLED": "false", "STADTKARTE_CONFIG": CONFIG}
        with open(CONFIG, "w") as f:
            f.write('[auth]\ntrusted_proxies = ["127.0.0.1"]\n')
        self.log = open(LOG, "a")
        self.log.write(f"\n=== serve {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        self.log.flush()
        self.proc = subprocess.Popen([BINARY, "serve"], env=env, stdout=self.log, stderr=self.log)
        wait(f"http://127.0.0.1:{PORT}/ready")

    def status(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Form(html.parser.HTMLParser):
    """The hidden fields and the action of the form that posts to `target`."""

    def __init__(self, target):
        super().__init__()
        self.target, self.inside, self.fields, self.action = target, False, {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("action") or "").split("?")[0].endswith(self.target):
            self.inside, self.action = True, a["action"]
        elif tag == "input" and self.inside and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def get(path):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(len(values) * p / 100) - 1))]


def run(clients, next_job, send, good, until=None):
    """`clients` threads with keep-alive connections call send(conn, job) for jobs from
    next_job() until it returns None or the deadline `until` passes. Returns (elapsed, latencies
    of good answers in ms, statuses, a sample of other answers)."""
    latencies, statuses, samples = [], {}, {}
    lock = threading.Lock()
    start = time.perf_counter()

    def worker(_):
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
        own, own_status = [], {}
        while until is None or time.perf_counter() < until:
            with lock:
                job = next_job()
            if job is None:
                break
            t = time.perf_counter()
            try:
                send(conn, job)
                r = conn.getresponse()
                body = r.read()
                status = r.status
            except (OSError, http.client.HTTPException) as e:
                status, body = 0, repr(e).encode()
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
            ms = (time.perf_counter() - t) * 1000
            own_status[status] = own_status.get(status, 0) + 1
            if status == good:
                own.append(ms)
            elif status not in samples:
                samples[status] = body[:300]
        conn.close()
        with lock:
            latencies.extend(own)
            for k, v in own_status.items():
                statuses[k] = statuses.get(k, 0) + v

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    return time.perf_counter() - start, latencies, statuses, samples

WRK_SIGN = r"""
-- Every request its own signature: e-mail, client address and name from a counter per thread.
local q = function(s) return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", c:byte()) end)) end
local threads, nthreads = {}, 0
function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end
function init(args)
  n, ok, other, first_other = 0, 0, 0, ""
end
function request()
  local i = n * THREADS + tid
  n = n + 1
  local outside = i % 8 == 7
  local plz = outside and "10115" or POSTCODES[i % #POSTCODES + 1]
  local district = (outside or i % 2 == 1) and "" or DISTRICTS[i % #DISTRICTS + 1]
  local body = HIDDEN .. "&name=" .. q("Lastprobe " .. i) .. "&email=" .. q("last" .. RUN .. "." .. i .. "@" .. DOMAINS[i % #DOMAINS + 1])
    .. "&plz=" .. plz .. "&stadtteil=" .. q(district) .. "&sichtbarkeit=" .. VISIBILITY[i % 3 + 1]
    .. "&datenschutz=ja&website="
  local client = string.format("10.%d.%d.%d", math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256)
  return wrk.format("POST", ACTION, {["Content-Type"] = "application/x-www-form-urlencoded",
    ["Origin"] = ORIGIN, ["Accept"] = "text/html", ["X-Forwarded-For"] = client}, body)
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else
    other = other + 1
    if first_other == "" then first_other = status .. " " .. (body or ""):sub(1, 200) end
  end
end
function done(summary, latency, requests)
  local ok_all, other_all, sample = 0, 0, ""
  for _, t in ipairs(threads) do
    ok_all = ok_all + t:get("ok")
    other_all = other_all + t:get("other")
    if sample == "" then sample = t:get("first_other") end
  end
  io.write(string.format("RESULT %d %d %.3f %.3f %.6f\n", ok_all, other_all,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6))
  io.write("OTHER " .. sample .. "\n")
end
"""


def lua_str(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_list(values):
    return "{" + ", ".join(lua_str(v) for v in values) + "}"


def sign_with_wrk(action, hidden, districts, run_id):
    """The signing part with wrk: (elapsed s, answers 200, other answers, p50 ms, p99 ms, sample)."""
    threads = 2
    header = "\n".join([
        f"THREADS = {threads}", f"RUN = {run_id}", f"ACTION = {lua_str(action)}",
        f"ORIGIN = {lua_str(ORIGIN)}", f"HIDDEN = {lua_str(urllib.parse.urlencode(hidden))}",
        f"POSTCODES = {lua_list(CITY_POSTCODES)}", f"DISTRICTS = {lua_list(districts)}",
        f"DOMAINS = {lua_list(DOMAINS)}", 'VISIBILITY = {"oeffentlich", "stadtteil", "anonym"}',
    ])
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(header + "\n" + WRK_SIGN)
        script = f.name
    try:
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(CONNECTIONS), "-d", f"{DURATION}s",
                              "--timeout", "30s", "-s", script, ORIGIN], capture_output=True, text=True, check=True)
    finally:
        os.unlink(script)
    result = next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))
    sample = next((line[6:] for line in out.stdout.splitlines() if line.startswith("OTHER ")), "")
    ok, other, p50, p99, elapsed = result.split()[1:]
    return float(elapsed), int(ok), int(other), float(p50), float(p99), sample.strip()


def main():
    build()
    petition, districts = fresh_database()
    server = Server()
    try:
        status, page = get(f"/petitionen/{petition}")
        if status != 200:
            sys.exit(f"/petitionen/{petition}: {status} {page[:300]!r}")
        form = Form(f"/petitionen/{petition}/unterschreiben")
        form.feed(page.decode())
        if form.action is None:
            sys.exit("the petition page has no sign form")
        hidden = form.fields
        # The form's minimum fill time (3 s by default) passes before the first signature.
        time.sleep(3.5)
        counter = iter(range(10**9))
        run_id = int(time.time())

        def next_signature():
            return next(counter)

        def sign(conn, i):
            outside = i % 8 == 7
            fields = dict(hidden)
            fields.update({
                "name": f"Lastprobe {i}",
                "email": f"last{run_id}.{i}@{DOMAINS[i % len(DOMAINS)]}",
                "plz": "10115" if outside else CITY_POSTCODES[i % len(CITY_POSTCODES)],
                "stadtteil": "" if outside or i % 2 else districts[i % len(districts)],
                "sichtbarkeit": ["oeffentlich", "stadtteil", "anonym"][i % 3],
                "datenschutz": "ja",
                "website": "",
            })
            body = urllib.parse.urlencode(fields)
            client = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            conn.request("POST", form.action, body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN, "Accept": "text/html",
                "X-Forwarded-For": client})

        before = int(psql(f"SELECT count(*) FROM petitions.signatures WHERE petition_id = {petition}")[0][0])
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        if CLIENT == "python":
            elapsed, lat_sign, st_sign, samples = run(CONNECTIONS, next_signature, sign, 200,
                                                      until=time.perf_counter() + DURATION)
            sign_p50, sign_p99 = percentile(lat_sign, 50), percentile(lat_sign, 99)
        else:
            elapsed, ok, other, sign_p50, sign_p99, sample = sign_with_wrk(form.action, hidden, districts, run_id)
            st_sign = {200: ok, **({"other": other} if other else {})}
            samples = {"other": sample.encode()} if other else {}
        rows = int(psql(f"SELECT count(*) FROM petitions.signatures WHERE petition_id = {petition}")[0][0]) - before
        if samples:
            print("other answers while signing:", {k: v.decode(errors="replace") for k, v in samples.items()},
                  file=sys.stderr)
        bodies = psql("SELECT body FROM petitions.outbox WHERE kind = 'unterschrift_bestaetigen' ORDER BY id")
        tokens = [m.group(1) for b in bodies for m in [re.search(r"/petitionen/unterschrift/([A-Za-z0-9_-]+)", b[0])] if m]
        queue = iter(tokens)

        def next_token():
            return next(queue, None)

        def confirm(conn, token):
            conn.request("POST", f"/petitionen/unterschrift/{token}", body="",
                         headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN,
                                  "Accept": "text/html"})

        c_elapsed, lat_conf, st_conf, c_samples = run(CONNECTIONS, next_token, confirm, 200)
        if c_samples:
            print("other answers while confirming:", {k: v.decode(errors="replace") for k, v in c_samples.items()},
                  file=sys.stderr)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        peak = server.status("VmHWM")
        status, body = get(f"/petitionen/{petition}.json")
        shown = json.loads(body) if status == 200 else {}
        truth = psql(f"""SELECT count(*), count(*) FILTER (WHERE resident) FROM petitions.signatures
                         WHERE petition_id = {petition} AND confirmed_at IS NOT NULL AND invalidated_at IS NULL""")[0]
        by_district = {r[0]: int(r[1]) for r in psql(
            f"""SELECT coalesce(district, ''), count(*) FROM petitions.signatures
                WHERE petition_id = {petition} AND confirmed_at IS NOT NULL AND invalidated_at IS NULL AND resident
                GROUP BY 1""")}
        shown_by = {d.get("district", ""): int(d.get("signatures", -1)) for d in shown.get("signatures_by_district", [])}
        counts_equal = (shown.get("signatures") == int(truth[0]) and shown.get("residents") == int(truth[1])
                        and shown_by == by_district)
    finally:
        server.stop()
    ok_sign = st_sign.get(200, 0)
    ok_conf = st_conf.get(200, 0)
    print(f"\n## Petition signing spike ({CONNECTIONS} connections, {DURATION} s), {time.strftime('%Y-%m-%d %H:%M')}\n")
    print("| part | answers | per second | p50 ms | p99 ms | other answers |")
    print("|---|---:|---:|---:|---:|---|")
    print(f"| POST signature ({CLIENT}) | {ok_sign} | {ok_sign / elapsed:.0f} | {sign_p50:.1f} | "
          f"{sign_p99:.1f} | {({k: v for k, v in st_sign.items() if k != 200}) or '–'} |")
    print(f"| POST confirmation | {ok_conf} | {ok_conf / c_elapsed:.0f} | {percentile(lat_conf, 50):.1f} | "
          f"{percentile(lat_conf, 99):.1f} | {({k: v for k, v in st_conf.items() if k != 200}) or '–'} |")
    # wrk stops at the deadline without reading the answers still in flight (at most one per
    # connection): those signatures are stored but not counted as answers.
    in_flight = CONNECTIONS if CLIENT != "python" else 0
    stored_ok = ok_sign <= rows <= ok_sign + in_flight
    print(f"\nRows stored = answers 200: {rows} = {ok_sign}"
          + (f" (+ up to {in_flight} in flight when wrk stopped)" if in_flight else "")
          + f" → {'yes' if stored_ok else 'NO'}; confirmation links in the outbox: {len(tokens)}")
    print(f"Counts of /petitionen/{petition}.json = SELECT count(*): total {shown.get('signatures')} = {truth[0]}, "
          f"residents {shown.get('residents')} = {truth[1]}, {len(by_district)} districts → "
          f"{'equal' if counts_equal else 'DIFFERENT'}")
    print(f"Peak RSS of the server: {peak:.0f} MB; client CPU {cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime:.1f} s")
    if not counts_equal or not stored_ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
