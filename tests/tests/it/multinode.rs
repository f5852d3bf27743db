//! Several `stadtkarte serve` processes on one database, as behind a load balancer: nodes that
//! start together migrate and create the participation datasets once; the download preparer
//! makes each file of a shared cache folder once, and a node killed (SIGKILL) in the middle of
//! a preparation leaves it to the other; the mail outboxes are sent once by two nodes; a change
//! evicts the changed tile on every node.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stadtkarte_core::exclusive::Task;
use stadtkarte_core::migrate::MIGRATIONS;
use stadtkarte_importers::demo::{self, DemoOptions};
use stadtkarte_opendata::cache::{self, DownloadCache};
use stadtkarte_opendata::registry;
use stadtkarte_tests::scale_out::ScaleOut;
use stadtkarte_tests::{
    KillOnDrop, SmtpServer, config_for, connect, free_port, fresh_database, http_get, http_raw,
    shared_cluster, stadtkarte_bin,
};

/// A node: a `serve` process that is not waited for (so that several start at the same moment).
struct Node {
    port: u16,
    process: KillOnDrop,
    log: tempfile::NamedTempFile,
}

impl Node {
    fn spawn(url: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut command = Command::new(stadtkarte_bin());
        command
            .arg("serve")
            .env("STADTKARTE_DATABASE__URL", url)
            .env("STADTKARTE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("STADTKARTE_DATABASE__RETRY_INTERVAL_SECS", "1")
            .env("STADTKARTE_OPENDATA__PREPARE_DOWNLOADS", "false")
            .env("STADTKARTE_OPENDATA__PARTICIPATION_DATASETS", "false")
            .env("STADTKARTE_LOG__FORMAT", "json")
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap());
        for (k, v) in env {
            command.env(k, v);
        }
        Self {
            port,
            process: KillOnDrop(command.spawn().expect("stadtkarte serve")),
            log,
        }
    }

    fn wait_ready(&self, timeout: Duration) {
        let started = Instant::now();
        while http_get(self.port, "/ready").is_none_or(|(s, _)| s != 200) {
            assert!(
                started.elapsed() < timeout,
                "node on {} not ready: {}",
                self.port,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The log's JSON lines with the message `message`.
    fn events(&self, message: &str) -> Vec<serde_json::Value> {
        events_in(&self.log_text(), message)
    }

    /// What this node's preparer made: one name per file.
    fn prepared(&self) -> Vec<String> {
        prepared_in(&self.log_text())
    }
}

/// The JSON lines of a node's log with the message `message`.
fn events_in(log: &str, message: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == message)
        .collect()
}

/// What a node's preparer made, by its log: one name per file.
fn prepared_in(log: &str) -> Vec<String> {
    let mut made: Vec<String> = events_in(log, "download prepared")
        .iter()
        .map(|v| format!("{}.{}", v["collection"], v["format"]))
        .collect();
    made.extend(
        events_in(log, "bulk ZIP prepared")
            .iter()
            .map(|v| v["file"].to_string()),
    );
    made.extend(
        events_in(log, "tile archive prepared")
            .iter()
            .map(|_| "stadtkarte.pmtiles".to_owned()),
    );
    made
}

/// The advisory lock key of `task` as `pg_locks` shows it (high and low 32 bits).
fn lock_held_sql(task: Task) -> String {
    let key = task.key();
    format!(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = {} AND objid = {}
            AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        key >> 32,
        key & 0xffff_ffff
    )
}

/// A database with the demo city and its datasets (the preparer's work).
async fn demo_with_datasets() -> String {
    let url = fresh_database().await;
    let mut client = connect(&url).await;
    demo::load(&mut client, DemoOptions::default(), |_| {})
        .await
        .unwrap();
    registry::fill_demo(&client, &stadtkarte::dataset_defaults(&config_for(&url)))
        .await
        .unwrap();
    url
}

/// What the preparer has still to make for the current data (empty when done): each download
/// of every collection of a dataset, the bulk ZIPs and the tile archive, in `dir`.
async fn missing(url: &str, dir: &Path) -> Vec<String> {
    let mut config = config_for(url);
    config.opendata.cache_dir = dir.display().to_string();
    let cache = DownloadCache::new(&config);
    let client = connect(url).await;
    let collections = stadtkarte_core::catalog::list(&client).await.unwrap();
    let published: HashSet<String> = registry::list(&client)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|d| d.collections)
        .collect();
    let mut missing = Vec::new();
    for c in collections.iter().filter(|c| published.contains(&c.id)) {
        for (format, size) in cache::sizes(&cache, c) {
            if size.is_none() {
                missing.push(format!("{}.{}", c.id, format.ext));
            }
        }
    }
    if stadtkarte_opendata::archive::size(&cache, &collections).is_none() {
        missing.push("stadtkarte.pmtiles".to_owned());
    }
    let zips = std::fs::read_dir(dir.join("alle")).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".zip"))
            .count()
    });
    if zips < stadtkarte_opendata::export::FILE_FORMATS.len() {
        missing.push(format!("bulk ZIPs ({zips} there)"));
    }
    missing
}

async fn everything_prepared(url: &str, dir: &Path) -> bool {
    missing(url, dir).await.is_empty()
}

/// The finished files of the cache (no temporary ones).
fn finished_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for d in [dir.to_owned(), dir.join("alle")] {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_file() && !name.starts_with('.') {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

fn preparer_env(dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("STADTKARTE_OPENDATA__PREPARE_DOWNLOADS", "true".to_owned()),
        ("STADTKARTE_OPENDATA__PREPARE_INTERVAL_SECS", "1".to_owned()),
        ("STADTKARTE_OPENDATA__CACHE_DIR", dir.display().to_string()),
        ("RUST_LOG", "info,stadtkarte_opendata=debug".to_owned()),
    ]
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_starting_together_migrate_and_create_the_datasets_once() {
    let cluster = shared_cluster();
    connect(&cluster.url("postgres"))
        .await
        .batch_execute("CREATE DATABASE multinode_start")
        .await
        .unwrap();
    let url = cluster.url("multinode_start");
    let env = [("STADTKARTE_OPENDATA__PARTICIPATION_DATASETS", "true")];
    let a = Node::spawn(&url, &env);
    let b = Node::spawn(&url, &env);
    a.wait_ready(Duration::from_secs(60));
    b.wait_ready(Duration::from_secs(60));
    let client = connect(&url).await;
    let migrations: i64 = client
        .query_one("SELECT count(*) FROM public.stadtkarte_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(migrations, i64::try_from(MIGRATIONS.len()).unwrap());
    for id in [registry::MAENGEL, registry::PETITIONS] {
        let added: i64 = client
            .query_one(
                "SELECT count(*) FROM catalog.audit_log WHERE action = 'dataset.add' AND subject = $1",
                &[&format!("dataset:{id}")],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(added, 1, "dataset {id} created {added} times");
    }
    let applied: usize = [&a, &b]
        .iter()
        .flat_map(|n| n.events("database ready"))
        .map(|v| usize::try_from(v["migrations_applied"].as_u64().unwrap()).unwrap())
        .sum();
    assert_eq!(
        applied,
        MIGRATIONS.len(),
        "each migration applied by one node"
    );
    // No error but the 503 of `/ready` while migrating.
    for node in [&a, &b] {
        let errors: Vec<String> = node
            .log_text()
            .lines()
            .filter(|l| l.contains("\"level\":\"ERROR\"") && !l.contains("\"uri\":\"/ready\""))
            .map(str::to_owned)
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_prepare_each_download_once() {
    let url = demo_with_datasets().await;
    let dir = tempfile::tempdir().unwrap();
    let env = preparer_env(dir.path());
    let a = Node::spawn(&url, &env_refs(&env));
    let b = Node::spawn(&url, &env_refs(&env));
    let started = Instant::now();
    while !everything_prepared(&url, dir.path()).await {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "not prepared in time: {:?}",
            missing(&url, dir.path()).await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A few more rounds on both nodes: nothing is made again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut made = a.prepared();
    made.extend(b.prepared());
    let mut seen = HashSet::new();
    let twice: Vec<&String> = made.iter().filter(|m| !seen.insert(*m)).collect();
    assert!(twice.is_empty(), "made twice: {twice:?}");
    assert_eq!(made.len(), finished_files(dir.path()).len(), "{made:?}");
    eprintln!(
        "node a made {}, node b made {} of {} files",
        a.prepared().len(),
        b.prepared().len(),
        made.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_while_preparing_leaves_the_rest_to_the_other() {
    let url = demo_with_datasets().await;
    let dir = tempfile::tempdir().unwrap();
    let env = preparer_env(dir.path());
    let mut a = Node::spawn(&url, &env_refs(&env));
    let client = connect(&url).await;
    let held = lock_held_sql(Task::PrepareDownloads);
    // Node a is in the middle of a round: it holds the lock and has made its first file.
    let started = Instant::now();
    loop {
        let locked: i64 = client.query_one(&held, &[]).await.unwrap().get(0);
        if locked == 1 && !a.prepared().is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "node a never started preparing: {}",
            a.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.process.0.kill().unwrap();
    a.process.0.wait().unwrap();
    let made_by_a = a.prepared();
    assert!(
        !everything_prepared(&url, dir.path()).await,
        "node a finished before it was killed"
    );
    // PostgreSQL releases the dead node's lock with its connection.
    let started = Instant::now();
    while client.query_one(&held, &[]).await.unwrap().get::<_, i64>(0) != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the lock stayed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let b = Node::spawn(&url, &env_refs(&env));
    let started = Instant::now();
    while !everything_prepared(&url, dir.path()).await {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "node b did not finish: {:?}",
            missing(&url, dir.path()).await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let made_by_b = b.prepared();
    assert!(!made_by_b.is_empty());
    let overlap: Vec<&String> = made_by_b.iter().filter(|m| made_by_a.contains(m)).collect();
    assert!(overlap.is_empty(), "made again: {overlap:?}");
    // Every finished file is whole: the GeoJSON files parse.
    for name in finished_files(dir.path()) {
        if Path::new(&name).extension().is_some_and(|e| e == "geojson") {
            let text = std::fs::read(dir.path().join(&name)).unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&text)
                .unwrap_or_else(|e| panic!("{name} is not whole: {e}"));
            assert_eq!(doc["type"], "FeatureCollection");
        }
    }
    eprintln!(
        "killed node a after {} files; node b made the other {}",
        made_by_a.len(),
        made_by_b.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_send_each_mail_once() {
    let url = fresh_database().await;
    let client = connect(&url).await;
    let mut expected = Vec::new();
    for (outbox, n) in [("maengel.outbox", 30), ("petitions.outbox", 10)] {
        for i in 0..n {
            let to = format!("{}-{i}@example.org", outbox.replace(".outbox", ""));
            client
                .execute(
                    &format!(
                        "INSERT INTO {outbox} (recipient, subject, body, kind) VALUES ($1, $2, 'Text', 'test')"
                    ),
                    &[&to, &format!("Nachricht {i}")],
                )
                .await
                .unwrap();
            expected.push(to);
        }
    }
    let smtp_port = free_port();
    let smtp = SmtpServer::start(smtp_port);
    let port = smtp_port.to_string();
    let env = [
        ("STADTKARTE_MAIL__ENABLED", "true"),
        ("STADTKARTE_MAIL__SMTP_PORT", port.as_str()),
        ("STADTKARTE_MAIL__INTERVAL_SECS", "1"),
        (
            "STADTKARTE_SERVER__PUBLIC_URL",
            "https://karte.koblenz.example",
        ),
    ];
    let _a = Node::spawn(&url, &env);
    let _b = Node::spawn(&url, &env);
    let unsent = "SELECT (SELECT count(*) FROM maengel.outbox WHERE sent_at IS NULL)
                        + (SELECT count(*) FROM petitions.outbox WHERE sent_at IS NULL)";
    let started = Instant::now();
    while client
        .query_one(unsent, &[])
        .await
        .unwrap()
        .get::<_, i64>(0)
        > 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "mail not sent in time"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both nodes keep polling a while: nothing arrives twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let messages = smtp.messages();
    let mut per_recipient: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids = HashSet::new();
    for m in &messages {
        let header = |name: &str| {
            m.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        *per_recipient.entry(header("To:")).or_default() += 1;
        let id = header("Message-ID:");
        assert!(id.ends_with("@karte.koblenz.example>"), "{id}");
        assert!(ids.insert(id));
    }
    expected.sort();
    assert_eq!(per_recipient.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(per_recipient.values().all(|n| *n == 1), "{per_recipient:?}");
}

/// The Web Mercator tile of a point at zoom `z`.
fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = f64::from(1_u32 << z);
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (x.floor() as u32, y.floor() as u32)
}

fn etag(port: u16, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let r = http_raw(port, request.as_bytes(), Duration::from_secs(10)).expect("tile");
    assert_eq!(r.status, 200, "{path}");
    r.header("etag").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_evicts_the_tile_on_every_node() {
    let url = fresh_database().await;
    let client = connect(&url).await;
    client
        .batch_execute(
            "CREATE TABLE data.knoten (id bigint PRIMARY KEY, art text, geom geometry(Point, 25832));
             INSERT INTO data.knoten VALUES
              (1, 'alt', ST_Transform(ST_SetSRID(ST_MakePoint(7.6055, 50.3645), 4326), 25832));",
        )
        .await
        .unwrap();
    stadtkarte_core::catalog::register(
        &client,
        &stadtkarte_core::catalog::NewCollection {
            id: "knoten",
            title: "Knoten",
            description: "",
            keywords: &[],
            table_schema: "data",
            table_name: "knoten",
            geometry_type: "Point",
            storage_srid: 25832,
            temporal_column: None,
            license: "dl-de/by-2-0",
            license_url: None,
            attribution: "Test",
            min_zoom: 0,
            max_zoom: 20,
        },
    )
    .await
    .unwrap();
    let a = Node::spawn(&url, &[]);
    let b = Node::spawn(&url, &[]);
    a.wait_ready(Duration::from_secs(30));
    b.wait_ready(Duration::from_secs(30));
    // The listeners connect and clear their caches once; then the tile is cached on both.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (x, y) = tile_of(7.6055, 50.3645, 15);
    let path = format!("/tiles/knoten/15/{x}/{y}");
    let before = etag(a.port, &path);
    assert_eq!(etag(b.port, &path), before);
    client
        .execute("UPDATE data.knoten SET art = 'neu' WHERE id = 1", &[])
        .await
        .unwrap();
    for node in [&a, &b] {
        let started = Instant::now();
        while etag(node.port, &path) == before {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "node on {} kept the old tile",
                node.port
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The set-up of `scale_out` (a primary, its streaming standby, two nodes behind HAProxy) with
/// the preparer on and one shared cache folder: each file is made once, by one of the nodes
/// (reading the primary, so that a file never holds older data than its version says).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_the_balancer_with_a_standby_each_download_is_prepared_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = preparer_env(dir.path());
    env.push(("STADTKARTE_LOG__FORMAT", "json".to_owned()));
    let set_up = ScaleOut::start(2, &env_refs(&env)).await;
    let url = set_up.primary_url.clone();
    registry::fill_demo(
        &connect(&url).await,
        &stadtkarte::dataset_defaults(&config_for(&url)),
    )
    .await
    .unwrap();
    let logs = || -> Vec<String> {
        set_up
            .nodes
            .iter()
            .map(|n| std::fs::read_to_string(n.log.path()).unwrap_or_default())
            .collect()
    };
    // What the preparer complained of (a file it could not make).
    let problems = || -> Vec<String> {
        logs()
            .iter()
            .flat_map(|l| {
                l.lines()
                    .filter(|l| {
                        (l.contains("\"level\":\"WARN\"") || l.contains("\"level\":\"ERROR\""))
                            && l.contains("\"target\":\"stadtkarte_opendata")
                    })
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let started = Instant::now();
    while !everything_prepared(&url, dir.path()).await {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "not prepared in time: {:?}\n{:#?}",
            missing(&url, dir.path()).await,
            problems()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A few more rounds on both nodes: nothing is made again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let made: Vec<Vec<String>> = logs().iter().map(|l| prepared_in(l)).collect();
    let all: Vec<&String> = made.iter().flatten().collect();
    let mut seen = HashSet::new();
    let twice: Vec<&&String> = all.iter().filter(|m| !seen.insert(**m)).collect();
    assert!(twice.is_empty(), "made twice: {twice:?}");
    // Every file made is there, or was deleted as the file of an older version (the datasets
    // were added while the nodes' first round made the participation datasets' files).
    let removed: u64 = logs()
        .iter()
        .flat_map(|l| events_in(l, "downloads prepared"))
        .map(|v| v["removed"].as_u64().unwrap_or(0))
        .sum();
    let finished = finished_files(dir.path()).len();
    assert_eq!(
        all.len(),
        finished + usize::try_from(removed).unwrap(),
        "{all:?}"
    );
    assert!(problems().is_empty(), "{:#?}", problems());
    eprintln!(
        "behind the balancer: node a made {}, node b made {} files; {finished} there, {removed} of older versions removed",
        made[0].len(),
        made[1].len(),
    );
}
