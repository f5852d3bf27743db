//! Hardening: hostile addresses and parameters on every route, archives that try to reach out,
//! bodies that are too large or never end, idle and slow clients, overload, and the database
//! going away and coming back. Each case failed before this code and must keep passing.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use stadtkarte_importers::vector::{self, VectorImportError};
use stadtkarte_importers::xplan::{self, XplanError, XplanImport};
use stadtkarte_tests::{
    Cluster, RawResponse, ServerProcess, connect, demo_app, free_port, full_demo_app, get,
    http_raw, python,
};

use crate::import_vector::{job, snapshot};

fn request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").into_bytes()
}

fn fetch(port: u16, path: &str) -> Option<RawResponse> {
    http_raw(port, &request(path), Duration::from_secs(20))
}

/// Asserts an answer is a 4xx problem (never a 5xx, never plain text).
fn assert_problem(what: &str, status: u16, content_type: &str, body: &[u8]) {
    assert!(
        (400..500).contains(&status),
        "{what}: {status} {}",
        String::from_utf8_lossy(body)
    );
    assert_eq!(
        content_type,
        "application/problem+json",
        "{what}: {}",
        String::from_utf8_lossy(body)
    );
    let p: Value = serde_json::from_slice(body).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(p["status"], status, "{what}");
    let text = String::from_utf8_lossy(body).to_lowercase();
    for leak in [
        "sqlstate", "postgres", "tokio", "deadpool", "pool", "/root/", "/tmp/", "panicked",
    ] {
        assert!(!text.contains(leak), "{what} leaks {leak:?}: {text}");
    }
}

/// Hostile values for a path parameter: control characters, invalid UTF-8, traversal with
/// encoded dots and slashes, overlong UTF-8, huge and extreme numbers.
const HOSTILE_SEGMENTS: &[&str] = &[
    "%00",
    "a%00b",
    "%1F",
    "%7F",
    "%C2%85",
    "%FF%FE",
    "%C0%AE%C0%AE",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2f",
    "..%5C..%5Cwindows",
    "99999999999999999999999",
    "-1",
    "1e308",
    "NaN",
    "1.5",
];

#[tokio::test]
async fn hostile_path_values_on_every_route_are_4xx_problems() {
    let (app, _) = full_demo_app().await;
    let doc = get(&app, "/api?f=json", &[]).await.json();
    let templates: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| p.contains('{'))
        .cloned()
        .collect();
    assert!(
        templates.len() >= 25,
        "every API is described: {templates:?}"
    );
    for needed in [
        "/tiles/{collections}/{z}/{x}/{y}",
        "/imagery/{epoch}/{z}/{x}/{y}",
        "/opendata/{dataset}/{file}",
        "/plans/{plan}/dokumente/{file}",
        "/wmts/1.0.0/{layer}/{style}/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
        "/api/3/action/{action}",
    ] {
        assert!(
            templates.iter().any(|t| t == needed),
            "{needed} is in the OpenAPI document"
        );
    }
    let long = "x".repeat(4_000);
    let mut checked = 0;
    for template in &templates {
        for value in HOSTILE_SEGMENTS.iter().copied().chain([long.as_str()]) {
            let mut path = String::new();
            let mut rest = template.as_str();
            while let Some(start) = rest.find('{') {
                let end = rest[start..].find('}').unwrap() + start;
                path.push_str(&rest[..start]);
                path.push_str(value);
                rest = &rest[end + 1..];
            }
            path.push_str(rest);
            let r = get(&app, &path, &[]).await;
            if template.starts_with("/api/")
                && r.header("content-type") != "application/problem+json"
            {
                // The CKAN API answers in CKAN's own error shape.
                assert!(r.status.is_client_error(), "{path}: {}", r.status);
                assert_eq!(r.json()["success"], false, "{path}");
                continue;
            }
            if template.starts_with("/wmts")
                && r.header("content-type") != "application/problem+json"
            {
                // WMTS answers in OWS ExceptionReport XML (what GDAL and QGIS show); a path the
                // router cannot even read (a NUL byte) is refused before, as a problem.
                assert!(r.status.is_client_error(), "{path}: {}", r.status);
                assert!(
                    r.header("content-type").starts_with("application/xml"),
                    "{path}"
                );
                let text = r.text();
                roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
                assert!(text.contains("exceptionCode=\""), "{path}: {text}");
                continue;
            }
            assert_problem(&path, r.status.as_u16(), r.header("content-type"), &r.body);
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked}");
}

#[tokio::test]
async fn hostile_query_parameters_are_4xx_problems_naming_them() {
    let (app, _) = full_demo_app().await;
    let deep = format!("{}name='x'{}", "(".repeat(500), ")".repeat(500));
    let huge = vec!["name='x'"; 700].join(" OR ");
    let sortby = vec!["id"; 200].join(",");
    let cases: Vec<(String, &str)> = vec![
        ("/?f=json&f=json".into(), "duplicate"),
        ("/collections?f=json&f=json".into(), "duplicate"),
        ("/collections/gebaeude?f=json&f=json".into(), "duplicate"),
        (
            "/collections/gebaeude/queryables?f=json&f=json".into(),
            "duplicate",
        ),
        ("/conformance?f=json&f=json".into(), "duplicate"),
        (
            "/collections/gebaeude/items?f=json&f=json".into(),
            "more than once",
        ),
        (
            format!("/collections/gebaeude/items?sortby={sortby}"),
            "sortby",
        ),
        ("/collections/gebaeude/items?sortby=id,-id".into(), "sortby"),
        (
            "/collections/gebaeude/items?datetime=0000-01-01".into(),
            "datetime",
        ),
        (
            "/collections/gebaeude/items?datetime=2024-01-01T00:00:00%2B23:00".into(),
            "datetime",
        ),
        (
            "/collections/gebaeude/items?datetime=2024-13-45".into(),
            "datetime",
        ),
        (
            "/collections/gebaeude/items?fertigstellung=0000-01-01".into(),
            "fertigstellung",
        ),
        (
            "/collections/gebaeude/items?geschosse=99999999999999999999999".into(),
            "geschosse",
        ),
        (
            "/collections/gebaeude/items?limit=99999999999999999999999".into(),
            "limit",
        ),
        (
            "/collections/gebaeude/items?bbox=1e999,0,1,1".into(),
            "bbox",
        ),
        (
            "/collections/gebaeude/items?f=%00".into(),
            "control character",
        ),
        ("/collections/gebaeude/items?name=%C3".into(), "UTF-8"),
        (
            format!("/collections/gebaeude/items?filter={}", urlencode(&deep)),
            "filter",
        ),
        (
            format!("/collections/gebaeude/items?filter={}", urlencode(&huge)),
            "filter",
        ),
        (
            format!(
                "/collections/gebaeude/items?filter={}",
                urlencode("fertigstellung > DATE('0000-01-01')")
            ),
            "filter",
        ),
        ("/tiles/gebaeude/14/8537.5/5531".into(), ""),
        ("/opendata?page=-1".into(), ""),
    ];
    for (path, names) in cases {
        let r = get(&app, &path, &[]).await;
        assert_problem(&path, r.status.as_u16(), r.header("content-type"), &r.body);
        let detail = r.json()["detail"].as_str().unwrap_or_default().to_owned();
        assert!(
            detail.contains(names),
            "{path}: {detail:?} should name {names:?}"
        );
        for leak in [
            "field value out of range",
            "invalid byte sequence",
            "displacement",
            "refused a value",
        ] {
            assert!(!detail.contains(leak), "{path}: database text {detail:?}");
        }
    }
    // A browser gets the same as a page.
    let page = get(
        &app,
        "/collections?f=json&f=json",
        &[("accept", "text/html")],
    )
    .await;
    assert_eq!(page.status, 400);
    assert!(page.header("content-type").starts_with("text/html"));
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn overload_is_shed_at_once_with_retry_after() {
    let (app, _) = demo_app(|c| {
        c.load.items = 1;
        c.load.queue = 0;
    })
    .await;
    // Sixteen feature requests at once on one slot without a queue: some are shed.
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let app = app.clone();
        running
            .spawn(async move { get(&app, "/collections/gebaeude/items?limit=1000", &[]).await });
    }
    let (mut ok, mut shed) = (0, 0);
    while let Some(r) = running.join_next().await {
        let r = r.unwrap();
        match r.status.as_u16() {
            200 => ok += 1,
            503 => {
                shed += 1;
                assert_eq!(r.header("retry-after"), "2");
                assert_eq!(r.header("content-type"), "application/problem+json");
                assert!(r.text().contains("busy"), "{}", r.text());
            }
            other => panic!("{other}: {}", r.text()),
        }
    }
    assert!(ok >= 1 && shed >= 1, "ok {ok}, shed {shed}");
}

/// Writes a zip whose entries are (name, contents, Unix mode) with Python's zipfile, which
/// writes any mode it is given (links and devices included).
fn special_zip(path: &Path, entries: &[(&str, &str, u32)]) {
    let list: Vec<String> = entries
        .iter()
        .map(|(n, c, m)| format!("({n:?}, {c:?}, {m})"))
        .collect();
    let script = format!(
        "import zipfile, sys\nz = zipfile.ZipFile(sys.argv[1], 'w')\nfor name, data, mode in [{}]:\n    i = zipfile.ZipInfo(name)\n    i.external_attr = mode << 16\n    i.create_system = 3\n    z.writestr(i, data)\nz.close()\n",
        list.join(", ")
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn xplan_fixture() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/xplan/koblenz-moselbogen_6-0.gml"),
    )
    .unwrap()
}

#[tokio::test]
async fn archives_with_links_devices_or_escaping_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("geheim.txt");
    std::fs::write(&secret, "Passwort des Servers").unwrap();
    let plan = xplan_fixture();
    let csv = "name,lat,lon\nA,50.35,7.59\n";
    let kinds: Vec<(&str, Vec<(String, String, u32)>, &str)> = vec![
        (
            "symlink",
            vec![("plan.pdf".into(), secret.display().to_string(), 0o120_777)],
            "symbolic link",
        ),
        (
            "symlink-dir",
            vec![("docs".into(), "/etc".into(), 0o120_777)],
            "symbolic link",
        ),
        (
            "chardev",
            vec![("plan.pdf".into(), String::new(), 0o020_644)],
            "character device",
        ),
        (
            "blockdev",
            vec![("plan.pdf".into(), String::new(), 0o060_644)],
            "block device",
        ),
        (
            "fifo",
            vec![("plan.pdf".into(), String::new(), 0o010_644)],
            "named pipe",
        ),
        (
            "socket",
            vec![("plan.pdf".into(), String::new(), 0o140_644)],
            "socket",
        ),
        (
            "traversal",
            vec![("../../geheim.pdf".into(), "x".into(), 0o100_644)],
            "outside the archive",
        ),
    ];
    let url = stadtkarte_tests::fresh_database().await;
    let mut client = connect(&url).await;
    for (kind, extra, expected) in &kinds {
        // An XPlanArchiv.
        let zip = dir.path().join(format!("plan-{kind}.zip"));
        let mut entries: Vec<(&str, &str, u32)> = vec![("xplan.gml", plan.as_str(), 0o100_644)];
        entries.extend(extra.iter().map(|(n, c, m)| (n.as_str(), c.as_str(), *m)));
        special_zip(&zip, &entries);
        let before = snapshot(&client).await;
        let err = xplan::import(
            &mut client,
            &XplanImport {
                file: zip.clone(),
                license: "dl-by-de/2.0".into(),
                license_url: None,
                attribution: "Stadt".into(),
                actor: "test".into(),
                storage_srid: 25832,
            },
        )
        .await
        .expect_err(kind);
        assert!(
            matches!(err, XplanError::Unreadable { .. }),
            "{kind}: {err}"
        );
        assert!(err.to_string().contains(expected), "{kind}: {err}");
        assert_eq!(snapshot(&client).await, before, "{kind}");
        // A zipped CSV (Shapefiles come the same way).
        let zip = dir.path().join(format!("daten-{kind}.zip"));
        let mut entries: Vec<(&str, &str, u32)> = vec![("daten.csv", csv, 0o100_644)];
        entries.extend(extra.iter().map(|(n, c, m)| (n.as_str(), c.as_str(), *m)));
        special_zip(&zip, &entries);
        let err = vector::import(&mut client, &job(&zip, "daten"))
            .await
            .expect_err(kind);
        assert!(
            matches!(err, VectorImportError::Unreadable { .. }),
            "{kind}: {err}"
        );
        assert!(err.to_string().contains(expected), "{kind}: {err}");
        assert_eq!(snapshot(&client).await, before, "{kind}");
    }
    // The same archive with an ordinary file imports.
    let zip = dir.path().join("gut.zip");
    special_zip(
        &zip,
        &[
            ("daten.csv", csv, 0o100_644),
            ("LIESMICH.txt", "Hallo", 0o644),
        ],
    );
    vector::import(&mut client, &job(&zip, "daten"))
        .await
        .unwrap();
}

#[test]
fn huge_bodies_get_413_problems_with_bounded_memory() {
    let url = stadtkarte_tests::demo_database();
    let server = ServerProcess::start(&[("STADTKARTE_DATABASE__URL", url)]);
    let idle = server.rss_kb();
    // 100 MB announced and sent in chunks: refused after the limit, not after 100 MB.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "POST /collections/gebaeude/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let chunk = vec![b' '; 1 << 20];
    let mut sent = 0;
    for _ in 0..100 {
        if stream.write_all(&chunk).is_err() {
            break;
        }
        sent += 1;
    }
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut answer);
    let r = stadtkarte_tests::parse_response(&answer).expect("an answer");
    assert_eq!(r.status, 413, "{}", r.text());
    assert_problem("100 MB body", r.status, r.header("content-type"), &r.body);
    assert!(
        sent < 100,
        "the server stopped reading early ({sent} MB were sent)"
    );
    let grown = server.rss_kb().saturating_sub(idle);
    assert!(grown < 30 * 1024, "memory grew by {grown} kB");

    // A malformed chunked body: a problem too.
    let r = http_raw(
        server.port,
        b"POST /collections/gebaeude/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n",
        Duration::from_secs(10),
    );
    let r = r.expect("an answer to a malformed chunked body");
    assert_problem(
        "malformed chunked body",
        r.status,
        r.header("content-type"),
        &r.body,
    );
}

#[test]
fn idle_slow_and_too_many_clients_cannot_hold_the_server() {
    let url = stadtkarte_tests::demo_database();
    let server = ServerProcess::start(&[
        ("STADTKARTE_DATABASE__URL", url),
        ("STADTKARTE_SERVER__HEADER_TIMEOUT_SECS", "2"),
        ("STADTKARTE_SERVER__IDLE_TIMEOUT_SECS", "2"),
        ("STADTKARTE_SERVER__BODY_TIMEOUT_SECS", "2"),
        ("STADTKARTE_SERVER__MAX_CONNECTIONS", "20"),
    ]);
    let closed_within = |mut stream: std::net::TcpStream, limit: Duration| {
        stream.set_read_timeout(Some(limit)).unwrap();
        let started = Instant::now();
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stream, &mut buf);
        (started.elapsed(), buf)
    };
    // A connection that never sends anything is closed.
    let idle = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let (took, _) = closed_within(idle, Duration::from_secs(15));
    assert!(
        took < Duration::from_secs(8),
        "idle connection open for {took:?}"
    );
    // Headers that never end.
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (took, _) = closed_within(slow, Duration::from_secs(15));
    assert!(
        took < Duration::from_secs(8),
        "slow headers kept for {took:?}"
    );
    // A body shorter than its Content-Length: an answer, not an endless wait.
    let mut short = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    short
        .write_all(b"POST /collections/gebaeude/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"op\"")
        .unwrap();
    let (took, answer) = closed_within(short, Duration::from_secs(15));
    assert!(took < Duration::from_secs(8), "short body waited {took:?}");
    let r = stadtkarte_tests::parse_response(&answer).expect("an answer");
    assert_problem("short body", r.status, r.header("content-type"), &r.body);
    // A kept-alive connection that goes quiet is closed too.
    let mut keep = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    keep.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (took, answer) = closed_within(keep, Duration::from_secs(15));
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    assert!(
        took < Duration::from_secs(8),
        "idle keep-alive kept {took:?}"
    );

    // Fifty connections against a cap of twenty: the server still answers the others once
    // the idle ones are closed, and never holds more than the cap.
    let held: Vec<std::net::TcpStream> = (0..50)
        .filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", server.port)).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let fds = std::fs::read_dir(format!("/proc/{}/fd", server.process.0.id()))
        .unwrap()
        .count();
    assert!(
        fds < 60,
        "{fds} file descriptors with 50 clients and a cap of 20"
    );
    let started = Instant::now();
    let r = fetch(server.port, "/health").expect("an answer after the idle ones are closed");
    assert_eq!(r.status, 200);
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(held);
}

/// A cluster of its own with a small database: a collection and an imagery epoch.
async fn outage_setup(work: &Path) -> (Cluster, String, PathBuf) {
    let cluster = Cluster::create(free_port());
    cluster.start();
    let admin = connect(&cluster.url("postgres")).await;
    admin
        .batch_execute("CREATE DATABASE ausfall")
        .await
        .unwrap();
    let url = cluster.url("ausfall");
    let imagery = work.join("imagery");
    let source = crate::imagery::small_image(work);
    let out = Command::new(stadtkarte_tests::stadtkarte_bin())
        .args(["import", "imagery"])
        .arg(&source)
        .args(["--year", "2020"])
        .env("STADTKARTE_DATABASE__URL", &url)
        .env("STADTKARTE_IMAGERY__DIR", &imagery)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let points = work.join("punkte.csv");
    let mut csv = String::from("name,lat,lon\n");
    for i in 0..200 {
        csv.push_str(&format!(
            "P{i},{},{}\n",
            50.35 + f64::from(i) * 1e-4,
            7.59 + f64::from(i) * 1e-4
        ));
    }
    std::fs::write(&points, csv).unwrap();
    let out = Command::new(stadtkarte_tests::stadtkarte_bin())
        .args(["import", "vector"])
        .arg(&points)
        .env("STADTKARTE_DATABASE__URL", &url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cluster, url, imagery)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_and_coming_back() {
    let work = tempfile::tempdir().unwrap();
    let (cluster, url, imagery) = outage_setup(work.path()).await;
    let imagery_dir = imagery.display().to_string();
    let server = ServerProcess::start(&[
        ("STADTKARTE_DATABASE__URL", &url),
        ("STADTKARTE_IMAGERY__DIR", &imagery_dir),
        ("STADTKARTE_DATABASE__CONNECT_TIMEOUT_SECS", "1"),
        ("STADTKARTE_LOG__FORMAT", "json"),
    ]);
    let port = server.port;
    let epoch = fetch(port, "/imagery/2020").unwrap();
    assert_eq!(epoch.status, 200, "{}", epoch.text());
    let tilejson: Value = serde_json::from_slice(&epoch.body).unwrap();
    let z = tilejson["maxzoom"].as_u64().unwrap();
    let [w, s, e, n] = [0, 1, 2, 3].map(|i| tilejson["bounds"][i].as_f64().unwrap());
    let (ix, iy) = tile_of(f64::midpoint(w, e), f64::midpoint(s, n), z);
    let imagery_tile = format!("/imagery/2020/{z}/{ix}/{iy}");
    let (vx, vy) = tile_of(7.595, 50.355, 14);
    let vector_tile = format!("/tiles/punkte/14/{vx}/{vy}");
    for path in [imagery_tile.as_str(), &vector_tile, "/imagery", "/?f=html"] {
        assert_eq!(
            fetch(port, path).unwrap().status,
            200,
            "{path} before the outage"
        );
    }

    // 1. A restart under load: requests fail as 503 (never 500) and work again afterwards,
    //    without restarting the server.
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut load = Vec::new();
    for i in 0..4 {
        let (stop, answered, refused, failures) = (
            stop.clone(),
            answered.clone(),
            refused.clone(),
            failures.clone(),
        );
        load.push(std::thread::spawn(move || {
            let paths = [
                "/collections/punkte/items?limit=50",
                "/collections/punkte",
                "/opendata",
                "/api/3/action/package_list",
            ];
            let mut k = i;
            while !stop.load(Ordering::Relaxed) {
                k += 1;
                let path = paths[k % paths.len()];
                match fetch(port, path) {
                    Some(r) if r.status < 400 => {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(r) if r.status == 503 => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        if r.header("retry-after").is_empty() {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{path}: 503 without Retry-After"));
                        }
                    }
                    Some(r) => {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{path}: {} {}", r.status, r.text()));
                    }
                    None => failures.lock().unwrap().push(format!("{path}: no answer")),
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(700));
    let mut restart = cluster_command(&cluster, &["-m", "fast", "-w", "restart"]);
    assert!(restart.status().unwrap().success());
    let after_restart = answered.load(Ordering::Relaxed);
    let started = Instant::now();
    while answered.load(Ordering::Relaxed) < after_restart + 20 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no recovery after the restart"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "{failures:?}");

    // 2. The database stopped: what is cached keeps coming, long after the schema cache's 10 s;
    //    the start page and the landing page need no database.
    cluster.stop();
    std::thread::sleep(Duration::from_secs(12));
    for path in [imagery_tile.as_str(), &vector_tile, "/?f=html", "/?f=json"] {
        let r = fetch(port, path).unwrap();
        assert_eq!(
            r.status,
            200,
            "{path} while the database is away: {}",
            r.text()
        );
    }
    let r = fetch(port, &vector_tile).unwrap();
    assert!(r.header("warning").contains("111"), "{:?}", r.headers);
    assert_eq!(fetch(port, "/imagery/2020").unwrap().status, 200);
    assert_eq!(fetch(port, "/imagery").unwrap().status, 200);
    assert_eq!(fetch(port, "/health").unwrap().status, 200);
    let ready = fetch(port, "/ready").unwrap();
    assert_eq!(ready.status, 503);
    assert!(!ready.header("retry-after").is_empty());
    let problem: Value = serde_json::from_slice(&ready.body).unwrap();
    assert_eq!(
        problem["missing"],
        serde_json::json!(["database"]),
        "{problem}"
    );
    for path in ["/collections/punkte/items", "/opendata"] {
        let r = fetch(port, path).unwrap();
        assert_eq!(r.status, 503, "{path}");
        assert!(!r.header("retry-after").is_empty(), "{path}");
        assert_problem_503(path, &r);
    }
    let ckan = fetch(port, "/api/3/action/package_list").unwrap();
    assert_eq!(ckan.status, 503);
    let text = ckan.text();
    assert!(text.contains("\"success\":false"), "{text}");
    for leak in [
        "pool",
        "Error occurred",
        "creating a new object",
        "connection refused",
        "tokio",
    ] {
        assert!(
            !text.to_lowercase().contains(&leak.to_lowercase()),
            "CKAN leaks {leak:?}: {text}"
        );
    }

    // 3. Back: ready again without a restart of the server.
    cluster.start();
    let started = Instant::now();
    while fetch(port, "/ready").is_none_or(|r| r.status != 200) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not ready again"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        fetch(port, "/collections/punkte/items").unwrap().status,
        200
    );
    let log = std::fs::read_to_string(server.log.path()).unwrap();
    assert!(!log.contains("\"status\":500"), "no 500 was logged");
}

fn assert_problem_503(what: &str, r: &RawResponse) {
    assert_eq!(
        r.header("content-type"),
        "application/problem+json",
        "{what}"
    );
    let text = r.text().to_lowercase();
    for leak in ["pool", "tokio", "deadpool", "error occurred"] {
        assert!(!text.contains(leak), "{what} leaks {leak:?}: {text}");
    }
}

fn cluster_command(cluster: &Cluster, args: &[&str]) -> Command {
    let pg_ctl = "/usr/lib/postgresql/15/bin/pg_ctl";
    let data = cluster.dir().join("data");
    let log = cluster.dir().join("postgresql.log");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let mut c = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", pg_ctl]);
        c
    } else {
        Command::new(pg_ctl)
    };
    c.arg("-D").arg(data).arg("-l").arg(log).args(args);
    c
}

/// The XYZ tile at a longitude/latitude.
fn tile_of(lon: f64, lat: f64, z: u64) -> (u64, u64) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let lat = lat.to_radians();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (x as u64, y as u64)
}

#[test]
fn the_openapi_fuzz_pass_finds_no_5xx_and_only_problems() {
    let url = stadtkarte_tests::demo_database();
    let server = ServerProcess::start(&[("STADTKARTE_DATABASE__URL", url)]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/fuzz_openapi.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(format!("http://127.0.0.1:{}", server.port))
        .args(["--seconds", "60"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(summary["requests"].as_u64().unwrap() > 500, "{summary}");
    assert!(summary["operations"].as_u64().unwrap() > 40, "{summary}");
}
