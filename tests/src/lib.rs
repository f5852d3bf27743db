//! The test harness: a real, throwaway PostGIS per test run, a fresh database per test (cloned
//! from a migrated template, so it takes milliseconds), the router built in-process, and small
//! helpers to call it and to run the `stadtkarte` binary.
//!
//! The cluster lives in a temporary directory on a free port. A watchdog process stops it and
//! deletes the directory as soon as the test process exits, however it exits.

// This crate is test code: a harness that cannot set up must fail the test loudly.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub mod mvt;
pub mod scale_out;

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use stadtkarte_core::{AppState, Config};
use tokio_postgres::NoTls;
use tower::ServiceExt as _;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const TEMPLATE: &str = "stadtkarte_template";

/// A private PostgreSQL cluster in a temporary directory.
#[derive(Debug)]
pub struct Cluster {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    watchdog: Option<(Child, ChildStdin)>,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command for a PostgreSQL program, run as `postgres` when we are root (PostgreSQL refuses
/// to run as root).
fn pg_command(program: &str) -> Command {
    let path = format!("{PG_BIN}/{program}");
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &path]);
        c
    } else {
        Command::new(path)
    }
}

fn run(mut command: Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| {
        panic!("{what}: cannot run ({e}); is PostgreSQL 15 installed (scripts/env.sh)?")
    });
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Appends `settings` to the `postgresql.conf` of `data`, as the cluster's owner.
fn append_settings(data: &Path, settings: &str) {
    let mut tee = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "tee", "-a"]);
        c
    } else {
        let mut c = Command::new("tee");
        c.arg("-a");
        c
    };
    let mut child = tee
        .arg(data.join("postgresql.conf"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("cannot write postgresql.conf");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(settings.as_bytes())
        .expect("cannot write postgresql.conf");
    assert!(child.wait().expect("tee").success());
}

/// The live processes (not zombies) whose working directory is `dir`: a PostgreSQL server's
/// processes all work in its data directory.
fn processes_in(dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir)
                && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                    // pid (comm) state …: the command may hold spaces, so after the last ')'.
                    stat.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().next())
                        .is_some_and(|state| state != "Z")
                })
        })
        .collect()
}

/// A temporary directory for a cluster, owned by `postgres` when we are root.
fn cluster_dir() -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix("stadtkarte-test-pg-")
        .tempdir_in("/tmp")
        .expect("cannot create a temporary directory")
        .keep();
    if is_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres:postgres").arg(&dir);
                c
            },
            "chown",
        );
    }
    dir
}

/// A TCP port that was free a moment ago.
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

impl Cluster {
    /// Creates (but does not start) a cluster that will listen on `port`.
    #[must_use]
    pub fn create(port: u16) -> Self {
        let dir = cluster_dir();
        let data = dir.join("data");
        let mut initdb = pg_command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "stadtkarte",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]);
        run(initdb, "initdb");
        let settings = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
             max_connections = 200\nshared_buffers = 128MB\n",
            dir.display()
        );
        append_settings(&data, &settings);
        let mut cluster = Self {
            port,
            dir,
            watchdog: None,
        };
        cluster.watchdog = Some(cluster.spawn_watchdog());
        cluster
    }

    /// Creates (but does not start) a streaming standby of the running `primary` on `port`:
    /// `pg_basebackup -R` (the primary's default `wal_level = replica`, `max_wal_senders` and
    /// the `replication` lines of initdb's `pg_hba.conf` allow it), with its own port and socket.
    #[must_use]
    pub fn standby_of(primary: &Self, port: u16) -> Self {
        let dir = cluster_dir();
        let data = dir.join("data");
        let mut backup = pg_command("pg_basebackup");
        backup.arg("-D").arg(&data).args([
            "-h",
            "127.0.0.1",
            "-p",
            &primary.port.to_string(),
            "-U",
            "stadtkarte",
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",
            "--no-sync",
        ]);
        run(backup, "pg_basebackup");
        // The copied settings name the primary's port and socket; the later lines win.
        let settings = format!(
            "\n# standby\nport = {port}\nunix_socket_directories = '{}'\nhot_standby = on\n\
             wal_receiver_status_interval = 1s\nhot_standby_feedback = on\n",
            dir.display()
        );
        append_settings(&data, &settings);
        let mut cluster = Self {
            port,
            dir,
            watchdog: None,
        };
        cluster.watchdog = Some(cluster.spawn_watchdog());
        cluster
    }

    /// Appends `settings` (lines of `postgresql.conf`); they apply at the next start.
    pub fn configure(&self, settings: &str) {
        append_settings(&self.dir.join("data"), settings);
    }

    /// Kills the server's processes at once (SIGKILL to every process working in its data
    /// directory), as a crash of its machine would; returns when they are gone.
    pub fn kill(&self) {
        let data = self.dir.join("data");
        let started = std::time::Instant::now();
        loop {
            let pids = processes_in(&data);
            if pids.is_empty() {
                // Nobody may reap the killed main process here, and PostgreSQL takes a zombie
                // for a running server: the lock files go, as a reboot would clear them.
                let _ = std::fs::remove_file(data.join("postmaster.pid"));
                let _ = std::fs::remove_file(self.dir.join(format!(".s.PGSQL.{}.lock", self.port)));
                return;
            }
            let mut kill = Command::new("kill");
            kill.arg("-9").args(pids.iter().map(u32::to_string));
            // One may have ended by itself meanwhile: the status does not matter.
            let _ = kill.stderr(Stdio::null()).status();
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the killed server's processes are still there"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server cleanly (`pg_ctl -m fast`: open sessions are ended).
    pub fn stop_fast(&self) {
        let mut c = pg_command("pg_ctl");
        c.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"]);
        run(c, "pg_ctl stop -m fast");
    }

    /// A process that stops the cluster and removes its files when our end of its stdin
    /// closes, that is when this process exits or the cluster is dropped.
    fn spawn_watchdog(&self) -> (Child, ChildStdin) {
        let data = self.dir.join("data");
        let stop = if is_root() {
            format!(
                "runuser -u postgres -- {PG_BIN}/pg_ctl -D '{}' -m immediate stop",
                data.display()
            )
        } else {
            format!("{PG_BIN}/pg_ctl -D '{}' -m immediate stop", data.display())
        };
        let script = format!(
            "cat >/dev/null; {stop} >/dev/null 2>&1; rm -rf '{}'",
            self.dir.display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start the cluster watchdog");
        let stdin = child.stdin.take().expect("watchdog stdin");
        (child, stdin)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) {
        let mut c = pg_command("pg_ctl");
        c.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("postgresql.log"))
            .args(["-w", "-t", "60", "start"]);
        let out = c
            .output()
            .expect("pg_ctl start: cannot run; is PostgreSQL 15 installed (scripts/env.sh)?");
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.join("postgresql.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            panic!(
                "pg_ctl start failed: {}{}\nlog:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }

    /// Stops the server at once.
    pub fn stop(&self) {
        let mut c = pg_command("pg_ctl");
        c.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"]);
        run(c, "pg_ctl stop");
    }

    /// Connection URL of database `db`.
    #[must_use]
    pub fn url(&self, db: &str) -> String {
        format!("postgresql://stadtkarte@127.0.0.1:{}/{db}", self.port)
    }

    /// The cluster's directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some((mut child, stdin)) = self.watchdog.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

/// The cluster shared by every test of this run, with a migrated template database.
pub fn shared_cluster() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(|| {
        let cluster = Cluster::create(free_port());
        cluster.start();
        let admin = cluster.url("postgres");
        let template = cluster.url(TEMPLATE);
        // Tests run inside their own runtimes; migrate on a thread with a runtime of its own.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let admin = connect(&admin).await;
                admin
                    .batch_execute(&format!("CREATE DATABASE {TEMPLATE}"))
                    .await
                    .expect("create template");
                let mut client = connect(&template).await;
                stadtkarte_core::migrate::run(&mut client)
                    .await
                    .expect("migrating the template database");
            });
        })
        .join()
        .expect("template preparation panicked");
        cluster
    })
}

/// Opens a plain connection (not pooled).
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A fresh, migrated database of its own for one test.
pub async fn fresh_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let cluster = shared_cluster();
    let name = format!("test_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let _guard = LOCK.lock().await;
    let admin = connect(&cluster.url("postgres")).await;
    admin
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
        .await
        .expect("create test database");
    cluster.url(&name)
}

/// Configuration pointing at `url`.
#[must_use]
pub fn config_for(url: &str) -> Config {
    let mut config = Config::default();
    url.clone_into(&mut config.database.url);
    config.database.pool_size = 4;
    config.database.retry_interval_secs = 1;
    config.opendata.prepare_downloads = false;
    // The datasets of the participation areas only where a test asks for them (the demo links
    // them; `datasets::the_first_start_publishes_the_participation_datasets` checks the start).
    config.opendata.participation_datasets = false;
    config
}

/// The demo city at scale 1 (seed 1) with the Mängelmelder's demo departments and categories,
/// loaded once per run into a database that nobody connects to afterwards: a template for
/// [`demo_database`] and [`demo_copy`].
fn demo_template() -> &'static str {
    static TPL: OnceLock<String> = OnceLock::new();
    TPL.get_or_init(|| {
        let cluster = shared_cluster();
        let url = cluster.url("demo_tpl");
        let admin = cluster.url("postgres");
        let target = url.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                connect(&admin)
                    .await
                    .batch_execute(&format!("CREATE DATABASE demo_tpl TEMPLATE {TEMPLATE}"))
                    .await
                    .expect("create demo database");
                let mut client = connect(&target).await;
                stadtkarte_importers::demo::load(
                    &mut client,
                    stadtkarte_importers::demo::DemoOptions::default(),
                    |_| {},
                )
                .await
                .expect("demo city");
                stadtkarte_maengelmelder::demo::seed(&client)
                    .await
                    .expect("demo categories");
            });
        })
        .join()
        .expect("loading the demo city panicked");
        "demo_tpl".to_owned()
    })
}

/// Creates database `name` as a copy of [`demo_template`] (retrying while the template's last
/// connection is still closing).
async fn copy_demo(name: &str) {
    let template = demo_template();
    let admin = connect(&shared_cluster().url("postgres")).await;
    let started = std::time::Instant::now();
    loop {
        match admin
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY"
            ))
            .await
        {
            Ok(()) => return,
            Err(e) if started.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot copy the demo city into {name}: {e}"),
        }
    }
}

/// A database with the demo city at scale 1 (seed 1), shared by every test of the run that
/// only reads it.
pub fn demo_database() -> &'static str {
    static DEMO: OnceLock<String> = OnceLock::new();
    DEMO.get_or_init(|| {
        let url = shared_cluster().url("demo_city");
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(copy_demo("demo_city"));
        })
        .join()
        .expect("copying the demo city panicked");
        url
    })
}

/// A database of its own with the demo city (and the Mängelmelder's demo categories), for a
/// test that changes data.
pub async fn demo_copy() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let name = format!("demo_copy_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    tokio::task::spawn_blocking(demo_template)
        .await
        .expect("demo template");
    copy_demo(&name).await;
    shared_cluster().url(&name)
}

/// The application over a database of its own with the demo city and the Mängelmelder's demo
/// categories, with `tweak` applied to the configuration.
pub async fn maengel_app(tweak: impl FnOnce(&mut Config)) -> (Router, AppState) {
    let mut config = config_for(&demo_copy().await);
    config.maengel.min_fill_secs = 0;
    tweak(&mut config);
    app_with(config).await
}

/// A folder of the shared sample data (`../shared/data/{name}` next to the clone, or
/// `$STADTKARTE_SHARED_DATA/{name}`, or `/work/shared/data/{name}` on the team's machines).
#[must_use]
pub fn shared_data(name: &str) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(dir) = std::env::var("STADTKARTE_SHARED_DATA") {
        candidates.push(PathBuf::from(dir).join(name));
    }
    candidates.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data")
            .join(name),
    );
    candidates.push(Path::new("/work/shared/data").join(name));
    candidates.into_iter().find(|p| p.is_dir())
}

/// The complete demo as `make demo` loads it — the city, its three aerial-image epochs — plus
/// the two Koblenz development plans of `tests/fixtures/xplan`, loaded once per run by the
/// `stadtkarte` binary itself. Returns the database URL and the imagery folder.
pub fn full_demo() -> &'static (String, PathBuf) {
    static FULL: OnceLock<(String, PathBuf)> = OnceLock::new();
    FULL.get_or_init(|| {
        let cluster = shared_cluster();
        let url = cluster.url("demo_full");
        let admin = cluster.url("postgres");
        let imagery = cluster.dir().join("imagery-demo");
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                connect(&admin)
                    .await
                    .batch_execute(&format!("CREATE DATABASE demo_full TEMPLATE {TEMPLATE}"))
                    .await
                    .expect("create the full demo database");
            });
        })
        .join()
        .expect("creating the full demo database panicked");
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/xplan");
        let runs: [Vec<String>; 3] = [
            vec!["demo".into()],
            vec![
                "import".into(),
                "xplan".into(),
                fixtures
                    .join("koblenz-am-weinberg_5-4.gml")
                    .display()
                    .to_string(),
            ],
            vec![
                "import".into(),
                "xplan".into(),
                fixtures
                    .join("koblenz-moselbogen_6-0.gml")
                    .display()
                    .to_string(),
            ],
        ];
        for args in runs {
            let out = Command::new(stadtkarte_bin())
                .args(&args)
                .env("STADTKARTE_DATABASE__URL", &url)
                .env("STADTKARTE_IMAGERY__DIR", &imagery)
                .env("STADTKARTE_LOG__LEVEL", "warn")
                .output()
                .expect("running stadtkarte");
            assert!(
                out.status.success(),
                "stadtkarte {args:?} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        (url, imagery)
    })
}

/// The application over [`full_demo`].
pub async fn full_demo_app() -> (Router, AppState) {
    let (url, imagery) = full_demo();
    let mut config = config_for(url);
    config.imagery.dir = imagery.display().to_string();
    app_with(config).await
}

/// The application over the shared demo city, with `tweak` applied to the configuration.
pub async fn demo_app(tweak: impl FnOnce(&mut Config)) -> (Router, AppState) {
    let mut config = config_for(demo_database());
    tweak(&mut config);
    app_with(config).await
}

/// A test application over a fresh database: the composed router and its state.
pub async fn test_app() -> (Router, AppState) {
    app_with(config_for(&fresh_database().await)).await
}

/// The application for a configuration.
pub async fn app_with(config: Config) -> (Router, AppState) {
    let pool = stadtkarte_core::db::pool(&config.database).expect("pool");
    let state = AppState::new(config, pool);
    stadtkarte::prepare_database(state.clone()).await;
    (stadtkarte::app(state.clone()), state)
}

/// A response read whole.
#[derive(Debug)]
pub struct TestResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl TestResponse {
    /// The body as JSON.
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as text.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, or "".
    #[must_use]
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Sends a GET with the given headers to the in-process router.
pub async fn get(app: &Router, path: &str, headers: &[(&str, &str)]) -> TestResponse {
    let mut request = Request::get(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    send(app, request.body(Body::empty()).expect("request")).await
}

/// Sends a request to the in-process router.
pub async fn send(app: &Router, request: Request<Body>) -> TestResponse {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    TestResponse {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// The `stadtkarte` binary built next to this test (`cargo build --bins` first; `make test`
/// does). `STADTKARTE_BIN` overrides.
#[must_use]
pub fn stadtkarte_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("STADTKARTE_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("stadtkarte"))
        .expect("target dir");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --bins` before the tests (make test does)",
        bin.display()
    );
    bin
}

/// A child process that is killed when the test ends, also when it fails.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Python of the test virtualenv (`scripts/env.sh` creates it with the client packages).
#[must_use]
pub fn python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/env.sh (make test does) to install the Python test clients",
        python.display()
    );
    python
}

/// Serves `router` on a free loopback port for clients that need a real socket; the server
/// runs until the test's runtime ends.
pub async fn serve(router: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    port
}

/// A plain HTTP/1.1 GET over a socket, for servers running as a separate process.
#[must_use]
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Read as _;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).ok()?;
    let response = String::from_utf8_lossy(&bytes).into_owned();
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    Some((status, body))
}

/// A response read whole from a socket: status, header block (lower-cased names) and body.
#[derive(Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// The header lines, `name: value`, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (chunked transfer decoded).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header's value, or "".
    #[must_use]
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The body as text.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` (a whole HTTP/1.1 request, which should say `Connection: close`) and reads
/// the answer; `None` when the server closed the connection without one.
#[must_use]
pub fn http_raw(port: u16, request: &[u8], timeout: Duration) -> Option<RawResponse> {
    use std::io::Read as _;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.write_all(request).ok()?;
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    parse_response(&bytes)
}

/// Parses an HTTP/1.1 response (chunked bodies are decoded).
#[must_use]
pub fn parse_response(bytes: &[u8]) -> Option<RawResponse> {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = bytes[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        let mut decoded = Vec::new();
        let mut rest = &body[..];
        while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&rest[..end]).trim(), 16).ok()?;
            if size == 0 {
                break;
            }
            let start = end + 2;
            decoded.extend_from_slice(rest.get(start..start + size)?);
            rest = rest.get(start + size + 2..)?;
        }
        body = decoded;
    }
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

/// A `stadtkarte serve` process on a free port, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    /// Its HTTP port on 127.0.0.1.
    pub port: u16,
    /// The process.
    pub process: KillOnDrop,
    /// Its log (stderr).
    pub log: tempfile::NamedTempFile,
}

impl ServerProcess {
    /// Starts `stadtkarte serve` with `env` (besides a free `server.listen`) and waits until
    /// `/health` answers.
    #[must_use]
    pub fn start(env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut command = Command::new(stadtkarte_bin());
        command
            .arg("serve")
            .env("STADTKARTE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("STADTKARTE_OPENDATA__PREPARE_DOWNLOADS", "false")
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("log"));
        for (k, v) in env {
            command.env(k, v);
        }
        let process = KillOnDrop(command.spawn().expect("cannot start stadtkarte serve"));
        let started = std::time::Instant::now();
        while http_get(port, "/health").is_none_or(|(s, _)| s != 200) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not come up: {}",
                std::fs::read_to_string(log.path()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { port, process, log }
    }

    /// Resident memory of the process in kB (from /proc).
    #[must_use]
    pub fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.0.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// A real SMTP server for a test: Debian's `aiosmtpd` (`/usr/bin/python3 -m aiosmtpd`) on
/// 127.0.0.1:`port`, keeping every message in a maildir; killed when dropped.
#[derive(Debug)]
pub struct SmtpServer {
    /// The server process.
    pub process: KillOnDrop,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts the server and waits until it accepts connections.
    #[must_use]
    pub fn start(port: u16) -> Self {
        let dir = tempfile::tempdir().expect("maildir");
        let process = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start aiosmtpd (Debian package python3-aiosmtpd)");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "aiosmtpd did not come up"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            process: KillOnDrop(process),
            dir,
        }
    }

    /// Every message received so far, decoded (headers and text), as Python's `email` reads it.
    #[must_use]
    pub fn messages(&self) -> Vec<String> {
        let script = r#"
import json, mailbox, sys
box = mailbox.Maildir(sys.argv[1], create=False)
out = []
for key in sorted(box.keys()):
    m = box[key]
    body = m.get_payload(decode=True) or b""
    text = "".join(f"{k}: {v}\n" for k, v in m.items())
    out.append(text + "\n" + body.decode(m.get_content_charset() or "utf-8", "replace"))
print(json.dumps(out))
"#;
        let out = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(script)
            .arg(self.dir.path().join("mail"))
            .output()
            .expect("python3");
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    }

    /// Waits until a message to `recipient` has arrived; returns it.
    #[must_use]
    pub fn wait_for(&self, recipient: &str, timeout: Duration) -> String {
        let started = std::time::Instant::now();
        loop {
            if let Some(m) = self.messages().into_iter().find(|m| {
                m.lines()
                    .any(|l| l.starts_with("To:") && l.contains(recipient))
            }) {
                return m;
            }
            assert!(
                started.elapsed() < timeout,
                "no mail to {recipient} arrived within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
