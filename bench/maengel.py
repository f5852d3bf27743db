#!/usr/bin/env python3
"""The Mängelmelder under load, through its Open311 GeoReport v2 API, on loopback.

Sets up its own database `stadtkarte_bench_maengel` on the private cluster (dropped and loaded
again with `stadtkarte demo --scale 1 --no-imagery` on every run, so the demo database of
`make demo` keeps no bench reports), makes an API key with `stadtkarte maengel api-key add`,
and runs the release binary as `make demo` does (the server as `stadtkarte_web`, migrations as
the owner) with the Open311 rate limit per key raised out of the way. A fresh server per part,
so the peak RSS of the photo part is its own.

1. POST /open311/v2/requests.json without photo, CONNECTIONS (32) clients for DURATION seconds:
   reports/s, p50/p99, and whether the rows added to `maengel.reports` equal the 201 answers
   (the clients stop at the deadline and wait for their last answer, so nothing is cut off).
   The services without required attributes take turns; each report lies on a building of the
   demo city (ST_PointOnSurface). This is a closed load (each client sends again as soon as it
   has its answer), so it finds the most the server takes, and its latency is mostly the queue
   (at 32 connections, Little's law: mean latency = 32 / throughput).
   1b. The same at the goal's rate, RATE (500) reports/s as an open load over the 32
   connections: p50/p99 counted from when each report was due, so queueing shows.
2. The same with one ~4 MB 12-megapixel JPEG (noise, so it does not compress away) as the
   multipart field `media`, UPLOADS (8) clients for DURATION seconds: reports/s, p50/p99, and
   the peak RSS of the server (VmHWM, and VmRSS sampled every 20 ms). Goal: under 300 MB.
3. GET /open311/v2/requests.json and .xml with 1,000 reports (the default page size; ≥ 1,000
   are in the database by then, released or not — unreleased ones come without description):
   REQUESTS (50) sequential requests each, p50/p99, and a check that every answer has 1,000.
4. The seconds from a status change (UPDATE as the owner through one open psql session, timed
   from sending the statement) to the changed vector tile /tiles/maengel/16/x/y that holds the
   report, polled every 5 ms: median and max over TRIALS (10) reports.

Prints a Markdown table. Environment: DURATION (20), CONNECTIONS, RATE, UPLOADS, REQUESTS, TRIALS,
PG_PORT (5439), SKIP_BUILD=1 to use the binary as it is, PRESET_EXTENT=1 to give the
collection `maengel` the city's extent before the first report (the tiles draw nothing outside
the stored extent; without a server that keeps it up to date, part 4 needs this).
"""
import concurrent.futures
import http.client
import json
import math
import os
import random
import resource
import statistics
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
# A copy of the release binary: others may build the target directory again during the run.
BINARY = os.path.join(CACHE, "maengel-stadtkarte")
PG_PORT = os.environ.get("PG_PORT", "5439")
DB = "stadtkarte_bench_maengel"
OWNER_URL = f"postgresql://stadtkarte@127.0.0.1:{PG_PORT}/{DB}"
WEB_URL = f"postgresql://stadtkarte_web@127.0.0.1:{PG_PORT}/{DB}"
DURATION = int(os.environ.get("DURATION", "20"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
RATE = int(os.environ.get("RATE", "500"))
UPLOADS = int(os.environ.get("UPLOADS", "8"))
REQUESTS = int(os.environ.get("REQUESTS", "50"))
TRIALS = int(os.environ.get("TRIALS", "10"))
# Set the collection's extent to the city's before the first report (see the README).
PRESET_EXTENT = os.environ.get("PRESET_EXTENT") == "1"
PORT = 8393
TILE_ZOOM = 16
PHOTO = os.path.join(CACHE, "maengel-12mp.jpg")
LOG = os.path.join(CACHE, "maengel-server.log")


def psql(sql, url=OWNER_URL):
    """Rows of a query as the owner, as lists of strings."""
    out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"psql failed: {out.stderr}")
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def count_reports():
    return int(psql("SELECT count(*) FROM maengel.reports")[0][0])


def build():
    """Builds the release binary (one build at a time on this machine: others build the same
    target directory) and copies it under the lock."""
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
    name = f"bench-{int(time.time())}"
    key = subprocess.run([BINARY, "maengel", "api-key", "add", name], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    return name, key


def photo():
    """One 4000×3000 JPEG of about 4 MB: rows of noise around a gradient, quality chosen for the
    size (Pillow if there is one, else gdal_translate)."""
    if os.path.exists(PHOTO):
        with open(PHOTO, "rb") as f:
            return f.read()
    os.makedirs(CACHE, exist_ok=True)
    w, h, amplitude = 4000, 3000, 64
    noise = random.Random(7).randbytes(w * 3 * h)
    raw = bytearray()
    for y in range(h):
        base = int(60 + 120 * y / h)
        table = bytes(max(0, min(255, base + (b % amplitude) - amplitude // 2)) for b in range(256))
        raw += noise[y * w * 3:(y + 1) * w * 3].translate(table)
    with tempfile.TemporaryDirectory() as work:
        def encode(quality, out):
            try:
                from PIL import Image
                Image.frombytes("RGB", (w, h), bytes(raw)).save(out, "JPEG", quality=quality)
            except ImportError:
                ppm = os.path.join(work, "noise.ppm")
                if not os.path.exists(ppm):
                    with open(ppm, "wb") as f:
                        f.write(b"P6\n%d %d\n255\n" % (w, h) + raw)
                subprocess.run(["gdal_translate", "-q", "-of", "JPEG", "-co", f"QUALITY={quality}", ppm, out],
                               env={**os.environ, "GDAL_PAM_ENABLED": "NO"}, check=True)
            return os.path.getsize(out)
        lo, hi, best = 30, 98, None
        while lo <= hi:
            q = (lo + hi) // 2
            out = os.path.join(work, f"q{q}.jpg")
            size = encode(q, out)
            if best is None or abs(size - 4e6) < abs(best[1] - 4e6):
                best = (out, size)
            if size < 3.8e6:
                lo = q + 1
            elif size > 4.3e6:
                hi = q - 1
            else:
                break
        os.replace(best[0], PHOTO)
    with open(PHOTO, "rb") as f:
        return f.read()


def points(n):
    """n points on buildings of the demo city (lon, lat), the same on every run."""
    rows = psql(f"""SELECT setseed(0.42);
        SELECT round(ST_X(p)::numeric, 7), round(ST_Y(p)::numeric, 7) FROM (
            SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p FROM data.gebaeude
            ORDER BY random() LIMIT {n}) s""")
    return [(r[0], r[1]) for r in rows if len(r) == 2]


class Server:
    def __init__(self):
        env = {**os.environ, "STADTKARTE_DATABASE__URL": WEB_URL, "STADTKARTE_DATABASE__MIGRATION_URL": OWNER_URL,
               "STADTKARTE_SERVER__LISTEN": f"127.0.0.1:{PORT}", "STADTKARTE_OPENDATA__PREPARE_DOWNLOADS": "false",
               "STADTKARTE_LOG__LEVEL": "warn", "STADTKARTE_IMAGERY__DIR": os.path.join(CACHE, "maengel-imagery"),
               # All clients share one key: its per-minute limit must not be what is measured.
               "STADTKARTE_MAENGEL__REPORTS_PER_API_KEY_MINUTE": "4000000000"}
        self.log = open(LOG, "a")
        self.log.write(f"\n=== serve {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        self.log.flush()
        self.proc = subprocess.Popen([BINARY, "serve"], env=env, stdout=self.log, stderr=self.log)
        wait(f"http://127.0.0.1:{PORT}/ready")

    def status(self, field):
        """A field of /proc/PID/status in MB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def cpu(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def get(path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def services():
    """The services without required attributes, in the order the API lists them."""
    status, body = get("/open311/v2/services.json")
    if status != 200:
        sys.exit(f"services.json: {status} {body[:300]!r}")
    codes = []
    for s in json.loads(body):
        if s.get("metadata"):
            status, body = get(f"/open311/v2/services/{s['service_code']}.json")
            if status != 200 or any(a.get("required") for a in json.loads(body)["attributes"]):
                continue
        codes.append(s["service_code"])
    if not codes:
        sys.exit("no service without required attributes")
    return codes


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(len(sorted_values) * p / 100) - 1))]


def load(clients, duration, send, rate=None):
    """`clients` threads, each with its own keep-alive connection, call send(conn, i) until the
    deadline; the request running at the deadline is finished. With `rate` (requests/s) the
    load is open: request i is due at start + i / rate, a free thread sends it then (or at once
    when late), and its latency counts from when it was due, so a server that falls behind pays
    for the queue (no coordinated omission). Returns (elapsed s, latencies in ms of the 201
    answers, statuses, samples of other answers, client CPU s)."""
    latencies, statuses, samples = [], {}, {}
    lock = threading.Lock()
    counter = iter(range(10**9))
    start = time.perf_counter()
    deadline = start + duration
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)

    def worker(_):
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
        own, own_status = [], {}
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter)
            t = time.perf_counter()
            if rate:
                due = start + i / rate
                if due >= deadline:
                    break
                if due > t:
                    time.sleep(due - t)
                t = due
            try:
                send(conn, i)
                r = conn.getresponse()
                body = r.read()
                status = r.status
            except (OSError, http.client.HTTPException) as e:
                status, body = 0, repr(e).encode()
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
            ms = (time.perf_counter() - t) * 1000
            own_status[status] = own_status.get(status, 0) + 1
            if status == 201:
                own.append(ms)
            else:
                with lock:
                    samples.setdefault(status, body[:400])
        conn.close()
        with lock:
            latencies.extend(own)
            for k, v in own_status.items():
                statuses[k] = statuses.get(k, 0) + v

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    elapsed = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    latencies.sort()
    return elapsed, latencies, statuses, samples, client_cpu


def part_text(key, codes, pts, rate=None):
    def send(conn, i):
        lon, lat = pts[i % len(pts)]
        body = urllib.parse.urlencode({
            "service_code": codes[i % len(codes)], "lat": lat, "long": lon,
            "description": f"Lastprobe {i}: Laterne an diesem Haus ist dunkel.", "api_key": key,
        })
        conn.request("POST", "/open311/v2/requests.json", body=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    before = count_reports()
    result = load(CONNECTIONS, DURATION, send, rate)
    added = count_reports() - before
    return result, added


def part_photo(key, codes, pts, jpeg, server):
    boundary = "----stadtkarte-bench-7f3a9c"

    def send(conn, i):
        lon, lat = pts[(i + 5000) % len(pts)]
        head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in (
            ("service_code", codes[i % len(codes)]), ("lat", lat), ("long", lon),
            ("description", f"Lastprobe mit Foto {i}"), ("api_key", key)))
        head += (f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="foto-{i}.jpg"\r\n'
                 "Content-Type: image/jpeg\r\n\r\n")
        tail = f"\r\n--{boundary}--\r\n".encode()
        head = head.encode()
        conn.putrequest("POST", "/open311/v2/requests.json")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(len(head) + len(jpeg) + len(tail)))
        conn.endheaders()
        conn.send(head)
        conn.send(jpeg)
        conn.send(tail)

    idle_rss = server.status("VmRSS")
    peak = [0.0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], server.status("VmRSS"))
            time.sleep(0.02)
    sampler = threading.Thread(target=sample)
    sampler.start()
    before = count_reports()
    photos_before = int(psql("SELECT count(*) FROM maengel.photos")[0][0])
    try:
        result = load(UPLOADS, DURATION, send)
    finally:
        stop.set()
        sampler.join()
    added = count_reports() - before
    photos_added = int(psql("SELECT count(*) FROM maengel.photos")[0][0]) - photos_before
    return result, added, photos_added, idle_rss, peak[0], server.status("VmHWM")


def part_read():
    out = {}
    for fmt in ("json", "xml"):
        path = f"/open311/v2/requests.{fmt}"
        status, body = get(path)  # warm-up
        times, bad, counts, sizes, described = [], 0, set(), set(), set()
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        for _ in range(REQUESTS):
            t = time.perf_counter()
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            times.append((time.perf_counter() - t) * 1000)
            if r.status != 200:
                bad += 1
                continue
            sizes.add(len(body))
            if fmt == "json":
                items = json.loads(body)
                counts.add(len(items))
                described.add(sum(1 for x in items if "description" in x))
            else:
                counts.add(body.count(b"<request>"))
                described.add(body.count(b"<description>"))
        conn.close()
        times.sort()
        out[fmt] = (statistics.median(times), percentile(times, 99), bad, counts, max(sizes) if sizes else 0, described)
    return out


def tile_of(lon, lat, z):
    n = 2 ** z
    r = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)


def part_tiles(client_name):
    # Reports of the first part, each in its own tile.
    rows = psql(f"""SELECT id, status, ST_X(ST_Transform(geom, 4326)), ST_Y(ST_Transform(geom, 4326))
                    FROM maengel.reports WHERE api_client = '{client_name}' AND NOT hidden
                    ORDER BY id LIMIT 2000""")
    chosen, seen = [], set()
    for rid, status, lon, lat in rows:
        tile = tile_of(float(lon), float(lat), TILE_ZOOM)
        if tile not in seen:
            seen.add(tile)
            chosen.append((int(rid), status, tile))
        if len(chosen) == TRIALS:
            break
    session = subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", OWNER_URL],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    cycle = ["eingegangen", "geprueft", "in_bearbeitung", "erledigt"]
    delays, polls, failures = [], [], []
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)

    def tile(path):
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    try:
        for rid, status, (x, y) in chosen:
            path = f"/tiles/maengel/{TILE_ZOOM}/{x}/{y}"
            tile(path)
            code, old = tile(path)  # now from the cache
            if code != 200:
                failures.append(f"{path}: {code}")
                continue
            if tile(path)[1] != old:
                failures.append(f"{path}: differs from one request to the next without a change")
                continue
            new = cycle[(cycle.index(status) + 1) % len(cycle)] if status in cycle else "geprueft"
            t0 = time.perf_counter()
            session.stdin.write(f"UPDATE maengel.reports SET status = '{new}' WHERE id = {rid};\n\\echo committed\n")
            session.stdin.flush()
            if session.stdout.readline().strip() != "committed":
                sys.exit("the psql session did not answer")
            n = 0
            while True:
                n += 1
                code, body = tile(path)
                # Changed, and the new status is in it (MVT keeps string values as they are).
                if code == 200 and body != old and new.encode() in body:
                    delays.append(time.perf_counter() - t0)
                    polls.append(n)
                    break
                if time.perf_counter() - t0 > 30:
                    failures.append(f"{path}: unchanged 30 s after the status of report {rid} changed")
                    break
                time.sleep(0.005)
    finally:
        conn.close()
        session.stdin.close()
        session.wait()
    return delays, polls, failures


def main():
    subprocess.check_call([os.path.join(ROOT, "scripts/env.sh")], stdout=subprocess.DEVNULL)
    os.makedirs(CACHE, exist_ok=True)
    build()
    jpeg = photo()
    client_name, key = fresh_database()
    if PRESET_EXTENT:
        # As in a city that has had reports everywhere: the collection's extent is the city's.
        psql("""UPDATE catalog.collections m SET extent_crs84 = s.extent_crs84
                FROM catalog.collections s WHERE m.id = 'maengel' AND s.id = 'stadtteile'""")
    pts = points(10000)
    load_before = os.getloadavg()[0]
    log_start = os.path.getsize(LOG) if os.path.exists(LOG) else 0
    print(f"database {DB}, API client {client_name}, {len(pts)} points on buildings, photo {len(jpeg) / 1e6:.1f} MB; "
          f"server log {LOG}", file=sys.stderr, flush=True)
    problems = []
    rows = []

    server = Server()
    try:
        codes = services()
        print(f"services without required attributes: {', '.join(codes)}", file=sys.stderr, flush=True)
        cpu0 = server.cpu()
        (elapsed, lat1, st1, samples1, ccpu1), added1 = part_text(key, codes, pts)
        scpu1 = server.cpu() - cpu0
        rss1 = server.status("VmHWM")
        (elapsed_r, lat_r, st_r, samples_r, _), added_r = part_text(key, codes, pts, RATE)
    finally:
        server.stop()
    ok_r = st_r.get(201, 0)
    if added_r != ok_r:
        problems.append(f"part 1b: {added_r} rows added to maengel.reports, but {ok_r} answers were 201")
    for status, n in sorted(st_r.items()):
        if status != 201:
            problems.append(f"part 1b: {n} answers {status}, e.g. {samples_r[status]!r}")
    ok1 = st1.get(201, 0)
    other1 = sum(v for k, v in st1.items() if k != 201)
    if added1 != ok1:
        problems.append(f"part 1: {added1} rows added to maengel.reports, but {ok1} answers were 201")
    for status, n in sorted(st1.items()):
        if status != 201:
            problems.append(f"part 1: {n} answers {status}, e.g. {samples1[status]!r}")
    rows.append((f"POST without photo, {CONNECTIONS} connections",
                 f"{ok1 / elapsed:.0f} reports/s, p50 {percentile(lat1, 50):.1f} ms, p99 {percentile(lat1, 99):.1f} ms "
                 f"({ok1} × 201, other: {other1})"))
    rows.append((f"POST without photo at {RATE} reports/s (open load, {CONNECTIONS} connections)",
                 f"{ok_r / elapsed_r:.0f} reports/s, p50 {percentile(lat_r, 50):.1f} ms, p99 {percentile(lat_r, 99):.1f} ms "
                 f"({ok_r} × 201, other: {sum(v for k, v in st_r.items() if k != 201)}; goal p99 < 50 ms: "
                 f"{'yes' if percentile(lat_r, 99) < 50 else 'NO'})"))
    rows.append(("rows added = 201 answers", f"{added1} = {ok1}, {added_r} = {ok_r}: "
                 f"{'yes' if added1 == ok1 and added_r == ok_r else 'NO'}"))
    rows.append(("CPU per report (server / bench client)",
                 f"{scpu1 / max(ok1, 1) * 1000:.2f} ms / {ccpu1 / max(ok1, 1) * 1000:.2f} ms; server peak RSS {rss1:.0f} MB"))

    server = Server()
    try:
        (elapsed2, lat2, st2, samples2, _), added2, photos2, idle_rss, peak_rss, hwm = part_photo(key, codes, pts, jpeg, server)
    finally:
        server.stop()
    ok2 = st2.get(201, 0)
    other2 = sum(v for k, v in st2.items() if k != 201)
    if added2 != ok2 or photos2 != ok2:
        problems.append(f"part 2: {added2} rows added to maengel.reports and {photos2} to maengel.photos, "
                        f"but {ok2} answers were 201")
    for status, n in sorted(st2.items()):
        if status != 201:
            problems.append(f"part 2: {n} answers {status}, e.g. {samples2[status]!r}")
    peak = max(hwm, peak_rss)
    rows.append((f"POST with a {len(jpeg) / 1e6:.1f} MB 12-MP JPEG, {UPLOADS} uploads",
                 f"{ok2 / elapsed2:.1f} reports/s, p50 {percentile(lat2, 50):.0f} ms, p99 {percentile(lat2, 99):.0f} ms "
                 f"({ok2} × 201, other: {other2}; rows {added2}, photos {photos2})"))
    rows.append(("server RSS during the uploads (goal < 300 MB)",
                 f"peak {peak:.0f} MB (VmHWM {hwm:.0f}, sampled VmRSS {peak_rss:.0f}, idle {idle_rss:.0f}): "
                 f"{'yes' if peak < 300 else 'NO'}"))

    total = count_reports()
    extent = psql("SELECT coalesce(extent_crs84::text, 'NULL') FROM catalog.collections WHERE id = 'maengel'")[0][0]
    if extent == "NULL":
        problems.append(f"catalog.collections.extent_crs84 of 'maengel' is NULL with {total} reports: "
                        "its vector tiles draw nothing")
    server = Server()
    try:
        if total >= 1000:
            reads = part_read()
        else:
            reads = {}
            problems.append(f"part 3 skipped: only {total} reports (at least 1,000 needed)")
        delays, polls, tile_failures = part_tiles(client_name)
    finally:
        server.stop()
    for fmt, (p50, p99, bad, counts, size, described) in reads.items():
        if bad:
            problems.append(f"part 3: {bad} answers of requests.{fmt} were not 200")
        if counts != {1000}:
            problems.append(f"part 3: requests.{fmt} listed {sorted(counts)} reports instead of 1000")
        rows.append((f"GET requests.{fmt} (1,000 reports, {REQUESTS} sequential)",
                     f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, {size / 1e6:.2f} MB, "
                     f"{'/'.join(map(str, sorted(counts)))} listed, "
                     f"{'/'.join(map(str, sorted(described)))} with description"))
    problems += [f"part 4: {f}" for f in tile_failures]
    if delays:
        rows.append((f"status change → changed tile z{TILE_ZOOM} ({len(delays)} of {TRIALS} trials)",
                     f"median {statistics.median(delays):.3f} s, max {max(delays):.3f} s "
                     f"(polled every 5 ms, median {statistics.median(polls):.0f} polls)"))
    else:
        rows.append(("status change → changed tile", "no trial succeeded"))
    with open(LOG, errors="replace") as f:
        f.seek(log_start)
        # (503s of /ready while a server starts are no fault.)
        errors = sum(1 for line in f if "Internal Server Error" in line or "panicked" in line)
    if errors:
        problems.append(f"{errors} answers 500 or panics in {LOG}")

    print(f"\nMängelmelder, Open311 on loopback; {DURATION} s per load, release build, demo city scale 1"
          f"{', extent preset' if PRESET_EXTENT else ''}, {total} reports at the end; {os.cpu_count()} CPUs, "
          f"load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after (other work on the machine "
          "distorts the numbers)\n")
    print("| measurement | result |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    if problems:
        print("\nProblems:")
        for p in problems:
            print(f"- {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
