//! Scale-out, the real thing on this machine: a primary and a streaming standby
//! (`pg_basebackup -R`, its own port), two `stadtkarte serve` nodes reading from the standby
//! (`database.replicas`) and HAProxy in front (`stadtkarte_tests::scale_out`). Shown: reads are
//! answered by the standby and writes land on the primary, a report sent through node A is
//! readable through node B at once, a row changed on the primary changes the cached tile on
//! both nodes within a second, and the standby stopped, killed or the primary restarted under
//! load (reads fail never, writes fail with 503 only while the primary is away and no
//! acknowledged report is lost). A replica address that is wrong is named at start-up and the
//! node serves from the primary.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use stadtkarte_tests::scale_out::{ScaleOut, replicas_of, wait_until};
use stadtkarte_tests::{RawResponse, ServerProcess, connect, demo_database, free_port, http_raw};

/// A point in the demo city (Koblenz Altstadt).
const INSIDE: (f64, f64) = (50.3569, 7.5940);

/// Rate limits out of the way of the load.
const NO_LIMITS: [(&str, &str); 3] = [
    ("STADTKARTE_MAENGEL__REPORTS_PER_CLIENT_HOUR", "1000000"),
    ("STADTKARTE_MAENGEL__REPORTS_PER_API_KEY_MINUTE", "1000000"),
    ("STADTKARTE_LOAD__QUEUE_WAIT_MS", "5000"),
];

fn get(port: u16, path: &str) -> Option<RawResponse> {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    http_raw(port, raw.as_bytes(), Duration::from_secs(20))
}

fn post_form(port: u16, path: &str, body: &str) -> Option<RawResponse> {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    http_raw(port, raw.as_bytes(), Duration::from_secs(20))
}

/// An Open311 report (a citizen's write) with `description`.
fn report_body(key: &str, description: &str) -> String {
    format!(
        "api_key={key}&service_code=strassenschaden&lat={}&long={}&description={}&attribute%5Bart%5D=riss",
        INSIDE.0,
        INSIDE.1,
        description.replace(' ', "+")
    )
}

/// The id of a created Open311 report.
fn created_id(r: &RawResponse) -> i64 {
    assert_eq!(r.status, 201, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v[0]["service_request_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {v}"))
        .parse()
        .unwrap()
}

async fn api_key(url: &str) -> String {
    stadtkarte_maengelmelder::open311::add_key(&connect(url).await, "lasttest")
        .await
        .unwrap()
}

/// A counter of a node's `/metrics` (summed over the lines that contain every one of `parts`).
fn metric(port: u16, name: &str, parts: &[&str]) -> f64 {
    let body = get(port, "/metrics").map(|r| r.text()).unwrap_or_default();
    body.lines()
        .filter(|l| l.starts_with(name) && parts.iter().all(|p| l.contains(p)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The connections of the nodes to `url`'s server, by `pg_stat_activity` there.
async fn app_sessions(url: &str) -> i64 {
    connect(url)
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'stadtkarte'
               AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// Readers and writers that hammer the load balancer until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Tally>>,
}

#[derive(Debug, Default)]
struct Tally {
    reads: u64,
    read_failures: Vec<String>,
    writes: u64,
    /// (when, status) of writes answered other than 201.
    write_refusals: Vec<(Instant, u16)>,
    /// Writes without any answer or with an answer other than 201 or 503.
    write_failures: Vec<String>,
    acknowledged: Vec<i64>,
    last_write_ok: Option<Instant>,
}

/// Reads of items, queryables and the catalog (with varying boxes so they reach the
/// database).
fn read_paths(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let (lon, lat) = (
        7.55 + (n % 50) as f64 * 0.002,
        50.33 + (n % 23) as f64 * 0.002,
    );
    let bbox = format!("{lon:.3},{lat:.3},{:.3},{:.3}", lon + 0.01, lat + 0.01);
    match n % 4 {
        0 => format!("/collections/gebaeude/items?limit=3&bbox={bbox}"),
        1 => "/collections/gebaeude/queryables".to_owned(),
        2 => format!("/collections/strassen/items?limit=2&bbox={bbox}"),
        _ => "/collections".to_owned(),
    }
}

impl Load {
    fn start(port: u16, readers: usize, key: Option<String>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seq = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        for _ in 0..readers {
            let (stop, seq) = (stop.clone(), seq.clone());
            threads.push(std::thread::spawn(move || {
                let mut t = Tally::default();
                while !stop.load(Ordering::Relaxed) {
                    let path = read_paths(seq.fetch_add(1, Ordering::Relaxed));
                    t.reads += 1;
                    match get(port, &path) {
                        Some(r) if r.status == 200 => {}
                        Some(r) => {
                            t.read_failures
                                .push(format!("{path}: {} {}", r.status, r.text()));
                        }
                        None => t.read_failures.push(format!("{path}: no answer")),
                    }
                }
                t
            }));
        }
        if let Some(key) = key {
            let (stop, seq) = (stop.clone(), seq.clone());
            threads.push(std::thread::spawn(move || {
                let mut t = Tally::default();
                while !stop.load(Ordering::Relaxed) {
                    let n = seq.fetch_add(1, Ordering::Relaxed);
                    let body = report_body(&key, &format!("Lastschaden {n}"));
                    t.writes += 1;
                    match post_form(port, "/open311/v2/requests.json", &body) {
                        Some(r) if r.status == 201 => {
                            t.acknowledged.push(created_id(&r));
                            t.last_write_ok = Some(Instant::now());
                        }
                        Some(r) if r.status == 503 => {
                            t.write_refusals.push((Instant::now(), r.status));
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Some(r) => t.write_failures.push(format!("{} {}", r.status, r.text())),
                        None => t.write_failures.push("no answer".to_owned()),
                    }
                }
                t
            }));
        }
        Self { stop, threads }
    }

    fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Tally::default();
        for thread in self.threads {
            let t = thread.join().unwrap();
            all.reads += t.reads;
            all.read_failures.extend(t.read_failures);
            all.writes += t.writes;
            all.write_refusals.extend(t.write_refusals);
            all.write_failures.extend(t.write_failures);
            all.acknowledged.extend(t.acknowledged);
            all.last_write_ok = all.last_write_ok.max(t.last_write_ok);
        }
        all
    }
}

/// Whether every node's `/ready` shows the standby `healthy`.
fn standby_is(scale: &ScaleOut, healthy: bool) -> bool {
    scale.nodes.iter().all(|n| {
        replicas_of(n.port).is_some_and(|r| r.first().is_some_and(|r| r["healthy"] == healthy))
    })
}

fn tile_of(lon: f64, lat: f64, z: i32) -> (u32, u32) {
    let n = 2_f64.powi(z);
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (x.floor() as u32, y.floor() as u32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_read_from_the_standby_and_write_to_the_primary() {
    let scale = ScaleOut::start(2, &NO_LIMITS).await;
    let (a, b) = (scale.nodes[0].port, scale.nodes[1].port);
    let key = api_key(&scale.primary_url).await;

    // /ready and /metrics show the pools and the lag.
    let ready: Value = serde_json::from_str(&get(a, "/ready").unwrap().text()).unwrap();
    let replica = &ready["pools"]["replicas"][0];
    assert_eq!(replica["healthy"], true, "{ready}");
    assert_eq!(
        replica["target"],
        format!("127.0.0.1:{}/stadt", scale.standby.port)
    );
    assert!(replica["lag_ms"].as_u64().unwrap() < 5_000, "{ready}");
    assert!(ready["pools"]["primary"]["connections"].is_u64(), "{ready}");

    // Reads through the balancer are answered by the standby: its pg_stat_activity holds the
    // nodes' sessions and the nodes count reads from the replica pool.
    let replica_reads = |port| metric(port, "db_reads_total", &["pool=\"replica\""]);
    let before = replica_reads(a) + replica_reads(b);
    for n in 0..40 {
        let r = get(scale.lb.port, &read_paths(n)).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let after = replica_reads(a) + replica_reads(b);
    assert!(
        after - before >= 40.0,
        "reads from the replica: {before} → {after}"
    );
    assert!(app_sessions(&scale.standby_url).await >= 2);
    assert!(
        metric(a, "db_replica_healthy", &[]) >= 1.0 && metric(b, "db_replica_healthy", &[]) >= 1.0
    );
    let lag_line = get(a, "/metrics").unwrap().text();
    assert!(
        lag_line.contains("db_replica_lag_seconds{replica=\"127.0.0.1:"),
        "{lag_line}"
    );

    // A report sent through node A is readable through node B at once, and it is on the
    // primary (the standby is read-only; it gets it by replication).
    let created = post_form(
        a,
        "/open311/v2/requests.json",
        &report_body(&key, "Schlagloch vor dem Rathaus"),
    )
    .unwrap();
    let id = created_id(&created);
    let page = get(b, &format!("/open311/v2/requests/{id}.json")).unwrap();
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text()
            .contains(&format!("\"service_request_id\":\"{id}\"")),
        "{}",
        page.text()
    );
    let on_primary: i64 = connect(&scale.primary_url)
        .await
        .query_one("SELECT count(*) FROM maengel.reports WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(on_primary, 1);
    let refused = connect(&scale.standby_url)
        .await
        .execute(
            "UPDATE maengel.reports SET description = 'x' WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap_err();
    let why = refused.as_db_error().map(|e| e.message().to_owned());
    assert!(
        why.as_deref().is_some_and(|m| m.contains("read-only")),
        "{refused:?}"
    );

    // A row changed on the primary changes the cached tile on both nodes within a second.
    let point = connect(&scale.primary_url)
        .await
        .query_one(
            "SELECT ST_Y(p), ST_X(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p
             FROM data.gebaeude ORDER BY id OFFSET 321 LIMIT 1) g",
            &[],
        )
        .await
        .unwrap();
    let (lat, lon): (f64, f64) = (point.get(0), point.get(1));
    let (x, y) = tile_of(lon, lat, 16);
    let path = format!("/collections/maengel/tiles/WebMercatorQuad/16/{y}/{x}");
    for port in [a, b] {
        let r = get(port, &path).unwrap();
        assert_eq!(r.status, 204, "empty and cached before: {}", r.text());
    }
    connect(&scale.primary_url)
        .await
        .execute(
            "INSERT INTO maengel.reports (category, description, released_at, geom, secret, token)
             VALUES ('beleuchtung', 'Laterne', now(),
                     ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), 25832),
                     'geheim-skalierung', 'token-skalierung')",
            &[&lon, &lat],
        )
        .await
        .unwrap();
    let changed = Instant::now();
    for port in [a, b] {
        wait_until(
            Duration::from_secs(1).saturating_sub(changed.elapsed()),
            "the changed tile on both nodes",
            || get(port, &path).is_some_and(|r| r.status == 200 && !r.body.is_empty()),
        );
    }
    let tile_ms = changed.elapsed().as_millis();

    // The standby stopped under load: reads move to the primary and no request fails; started
    // again, it is admitted again and answers reads.
    let load = Load::start(scale.lb.port, 4, None);
    std::thread::sleep(Duration::from_millis(500));
    scale.standby.stop_fast();
    let skipped = wait_until(Duration::from_secs(5), "the standby skipped", || {
        standby_is(&scale, false)
    });
    let on_primary = |port| metric(port, "db_reads_total", &["pool=\"primary\""]);
    let primary_before = on_primary(a) + on_primary(b);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        on_primary(a) + on_primary(b) > primary_before + 10.0,
        "reads go to the primary"
    );
    scale.standby.start();
    let admitted = wait_until(
        Duration::from_secs(10),
        "the standby admitted again",
        || standby_is(&scale, true),
    );
    let replica_before = replica_reads(a) + replica_reads(b);
    std::thread::sleep(Duration::from_millis(500));
    let tally = load.finish();
    assert!(
        replica_reads(a) + replica_reads(b) > replica_before + 10.0,
        "reads back on the standby"
    );
    assert!(
        tally.read_failures.is_empty(),
        "{} of {} reads failed: {:?}",
        tally.read_failures.len(),
        tally.reads,
        &tally.read_failures[..tally.read_failures.len().min(5)]
    );
    eprintln!(
        "tile changed on both nodes after {tile_ms} ms; standby stopped: skipped by both nodes \
         {} ms after pg_ctl stop returned; started again: admitted {} ms after pg_ctl start \
         returned; {} reads, none failed",
        skipped.as_millis(),
        admitted.as_millis(),
        tally.reads
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_killed_under_load_fails_no_read() {
    let scale = ScaleOut::start(2, &NO_LIMITS).await;
    let load = Load::start(scale.lb.port, 4, None);
    std::thread::sleep(Duration::from_millis(700));
    let killed = Instant::now();
    scale.standby.kill();
    wait_until(Duration::from_secs(5), "the killed standby skipped", || {
        standby_is(&scale, false)
    });
    let skipped = killed.elapsed();
    std::thread::sleep(Duration::from_millis(700));
    scale.standby.start();
    let admitted = wait_until(
        Duration::from_secs(15),
        "the standby admitted again",
        || standby_is(&scale, true),
    );
    std::thread::sleep(Duration::from_millis(300));
    let tally = load.finish();
    assert!(tally.reads > 30, "too little load: {}", tally.reads);
    assert!(
        tally.read_failures.is_empty(),
        "{} of {} reads failed: {:?}",
        tally.read_failures.len(),
        tally.reads,
        &tally.read_failures[..tally.read_failures.len().min(5)]
    );
    let retries: f64 = scale
        .nodes
        .iter()
        .map(|n| metric(n.port, "db_replica_retries_total", &[]))
        .sum();
    eprintln!(
        "standby killed: skipped by both nodes {} ms after the kill, admitted again {} ms after \
         its start; {} reads, none failed, {retries} answered again from the primary",
        skipped.as_millis(),
        admitted.as_millis(),
        tally.reads
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_restarted_under_load_refuses_writes_with_503_and_loses_none() {
    let scale = ScaleOut::start(2, &NO_LIMITS).await;
    let key = api_key(&scale.primary_url).await;
    let load = Load::start(scale.lb.port, 3, Some(key.clone()));
    std::thread::sleep(Duration::from_millis(700));
    let down = Instant::now();
    // A crash: no checkpoint, the WAL decides what survives.
    scale.primary.stop();
    std::thread::sleep(Duration::from_secs(2));
    scale.primary.start();
    let up = Instant::now();
    // Writes succeed again.
    let writes_ok_again = wait_until(Duration::from_secs(15), "writes succeed again", || {
        post_form(
            scale.lb.port,
            "/open311/v2/requests.json",
            &report_body(&key, "nach dem Neustart"),
        )
        .is_some_and(|r| r.status == 201)
    });
    std::thread::sleep(Duration::from_millis(500));
    let tally = load.finish();
    assert!(
        tally.write_failures.is_empty(),
        "{:?}",
        tally.write_failures
    );
    assert!(
        !tally.write_refusals.is_empty(),
        "no write was refused while the primary was away"
    );
    let first_503 = tally.write_refusals.iter().map(|(t, _)| *t).min().unwrap();
    let last_503 = tally.write_refusals.iter().map(|(t, _)| *t).max().unwrap();
    assert!(
        tally.last_write_ok.is_some_and(|t| t > last_503),
        "writes succeed after the restart"
    );
    // Every acknowledged report is there.
    let stored: Vec<i64> = connect(&scale.primary_url)
        .await
        .query("SELECT id FROM maengel.reports", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let lost: Vec<&i64> = tally
        .acknowledged
        .iter()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged reports lost: {lost:?}",
        lost.len()
    );
    assert!(
        tally.read_failures.is_empty(),
        "{} of {} reads failed while the primary was away (the standby answers them): {:?}",
        tally.read_failures.len(),
        tally.reads,
        &tally.read_failures[..tally.read_failures.len().min(5)]
    );
    eprintln!(
        "primary down for {} ms: writes answered 503 from +{} ms to +{} ms after the crash \
         ({} refusals), writes succeed again {} ms after the start; {} writes acknowledged, none \
         lost; {} reads, none failed",
        (up - down).as_millis(),
        (first_503 - down).as_millis(),
        (last_503 - down).as_millis(),
        tally.write_refusals.len(),
        writes_ok_again.as_millis(),
        tally.acknowledged.len(),
        tally.reads
    );
}

/// The text of a log without its terminal colours.
fn without_colours(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_replica_address_is_named_and_the_node_serves_from_the_primary() {
    let closed = free_port();
    let replicas = format!(
        "postgresql://stadtkarte@127.0.0.1:{closed}/stadt,postgresql://stadtkarte@[nicht-gueltig"
    );
    let node = ServerProcess::start(&[
        ("STADTKARTE_DATABASE__URL", demo_database()),
        ("STADTKARTE_DATABASE__REPLICAS", replicas.as_str()),
        ("STADTKARTE_LOG__LEVEL", "info"),
        // The shared demo city is read by other tests: nothing is created in it.
        ("STADTKARTE_OPENDATA__PARTICIPATION_DATASETS", "false"),
    ]);
    wait_until(Duration::from_secs(20), "the node is ready", || {
        get(node.port, "/ready").is_some_and(|r| r.status == 200)
    });
    let log = without_colours(&std::fs::read_to_string(node.log.path()).unwrap());
    // The unreachable one by host and port (never a password), the unreadable one by position.
    assert!(
        log.lines()
            .any(|l| l.contains(&format!("127.0.0.1:{closed}/stadt"))
                && l.contains("reachable=false")),
        "{log}"
    );
    assert!(log.contains("database.replicas[1]"), "{log}");
    let ready: Value = serde_json::from_str(&get(node.port, "/ready").unwrap().text()).unwrap();
    let listed = ready["pools"]["replicas"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{ready}");
    assert_eq!(listed[0]["healthy"], false);
    assert!(
        listed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not reachable"),
        "{ready}"
    );
    for n in 0..8 {
        let r = get(node.port, &read_paths(n)).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert!(metric(node.port, "db_reads_total", &["pool=\"primary\""]) >= 8.0);
    assert_eq!(
        metric(node.port, "db_reads_total", &["pool=\"replica\""]),
        0.0
    );
}
