//! The scale-out harness: a primary and a streaming standby (each a private cluster on a free
//! port of its own, the standby made with `pg_basebackup -R`), the demo city in the primary,
//! `stadtkarte serve` nodes that read from the standby, and HAProxy (Debian's package) in front
//! of them — everything on the loopback, everything stopped when the test ends.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Cluster, KillOnDrop, ServerProcess, connect, demo_copy, free_port, http_get};

/// The database of the demo city in the primary.
pub const DATABASE: &str = "stadt";

/// HAProxy in the foreground, balancing round robin over nodes; killed when dropped.
#[derive(Debug)]
pub struct HaProxy {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The process.
    pub process: KillOnDrop,
    /// Its configuration and log.
    pub dir: tempfile::TempDir,
}

impl HaProxy {
    /// Starts HAProxy in front of the nodes on `backends` and waits until it accepts
    /// connections. Health checks of `/health` every 200 ms take a node that is away out of
    /// the rotation; a request whose connection is refused goes to the other node.
    #[must_use]
    pub fn start(backends: &[u16]) -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().expect("haproxy dir");
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!("  server node{i} 127.0.0.1:{p} check inter 200ms fall 2 rise 1\n")
            })
            .collect();
        let config = format!(
            "global\n  maxconn 4000\n\ndefaults\n  mode http\n  timeout connect 2s\n  \
             timeout client 60s\n  timeout server 60s\n  retries 3\n  option redispatch\n\n\
             frontend web\n  bind 127.0.0.1:{port}\n  default_backend nodes\n\n\
             backend nodes\n  balance roundrobin\n  option httpchk GET /health\n{servers}"
        );
        let path = dir.path().join("haproxy.cfg");
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(config.as_bytes()))
            .expect("haproxy.cfg");
        let log = std::fs::File::create(dir.path().join("haproxy.log")).expect("haproxy log");
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("cannot start haproxy (Debian package haproxy; scripts/env.sh installs it)");
        let process = KillOnDrop(child);
        let started = Instant::now();
        while http_get(port, "/health").is_none_or(|(s, _)| s != 200) {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "haproxy did not come up: {}",
                std::fs::read_to_string(dir.path().join("haproxy.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, process, dir }
    }
}

/// A primary, its standby, nodes and the load balancer. Dropped in this order: balancer,
/// nodes, then the clusters (their watchdogs stop them and remove their files).
#[derive(Debug)]
pub struct ScaleOut {
    /// HAProxy in front of the nodes.
    pub lb: HaProxy,
    /// The `stadtkarte serve` nodes.
    pub nodes: Vec<ServerProcess>,
    /// The primary.
    pub primary: Cluster,
    /// The streaming standby.
    pub standby: Cluster,
    /// The demo city's database on the primary.
    pub primary_url: String,
    /// The same database on the standby.
    pub standby_url: String,
    env: Vec<(String, String)>,
}

impl ScaleOut {
    /// A primary with the demo city, a standby, `nodes` nodes with `env` (besides the database
    /// addresses) and HAProxy; returns once every node is ready and uses the standby.
    pub async fn start(nodes: usize, env: &[(&str, &str)]) -> Self {
        let started = Instant::now();
        let primary = Cluster::create(free_port());
        // Acknowledged commits must survive a crash of the primary (the shared test cluster
        // trades that for speed).
        primary.configure("\n# scale-out test\nsynchronous_commit = on\n");
        primary.start();
        let primary_url = primary.url(DATABASE);
        let created = started.elapsed();
        load_demo(&primary).await;
        let loaded = started.elapsed();
        let standby = Cluster::standby_of(&primary, free_port());
        standby.start();
        let standby_url = standby.url(DATABASE);
        wait_for_recovery(&standby_url).await;
        let replicating = started.elapsed();
        let mut all_env: Vec<(String, String)> = vec![
            ("STADTKARTE_DATABASE__URL".into(), primary_url.clone()),
            ("STADTKARTE_DATABASE__REPLICAS".into(), standby_url.clone()),
            (
                "STADTKARTE_DATABASE__CONNECT_TIMEOUT_SECS".into(),
                "2".into(),
            ),
            (
                "STADTKARTE_DATABASE__RETRY_INTERVAL_SECS".into(),
                "1".into(),
            ),
            ("STADTKARTE_MAENGEL__MIN_FILL_SECS".into(), "0".into()),
            ("STADTKARTE_LOG__LEVEL".into(), "info".into()),
        ];
        all_env.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let nodes: Vec<ServerProcess> = (0..nodes).map(|_| node_with(&all_env, &[])).collect();
        let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
        let lb = HaProxy::start(&ports);
        eprintln!(
            "scale-out set up in {} ms: primary {} ms, demo city {} ms, standby {} ms, nodes and balancer {} ms",
            started.elapsed().as_millis(),
            created.as_millis(),
            loaded.saturating_sub(created).as_millis(),
            replicating.saturating_sub(loaded).as_millis(),
            started.elapsed().saturating_sub(replicating).as_millis()
        );
        Self {
            lb,
            nodes,
            primary,
            standby,
            primary_url,
            standby_url,
            env: all_env,
        }
    }

    /// Starts one more node with the harness's environment plus `env`, and waits until it is
    /// ready and reads from the standby.
    #[must_use]
    pub fn start_node(&self, env: &[(&str, &str)]) -> ServerProcess {
        node_with(&self.env, env)
    }
}

fn node_with(base: &[(String, String)], env: &[(&str, &str)]) -> ServerProcess {
    let mut all: Vec<(&str, &str)> = base.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(env);
    let node = ServerProcess::start(&all);
    wait_until(
        Duration::from_secs(30),
        "the node is ready and uses the standby",
        || replicas_of(node.port).is_some_and(|r| r.first().is_some_and(|r| r["healthy"] == true)),
    );
    node
}

/// The replicas in a node's `/ready`, if it answers 200.
#[must_use]
pub fn replicas_of(port: u16) -> Option<Vec<Value>> {
    let (status, body) = http_get(port, "/ready")?;
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    v["pools"]["replicas"].as_array().cloned()
}

/// Polls `check` every 20 ms until it holds; panics naming `what` after `timeout`. Returns
/// how long it took.
pub fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < timeout,
            "{what}: not within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

/// A dump of the demo city (with the Mängelmelder's categories), made once per run from the
/// shared test cluster (`pg_dump` of a copy, which is dropped afterwards).
fn demo_dump() -> &'static Path {
    static DUMP: OnceLock<PathBuf> = OnceLock::new();
    DUMP.get_or_init(|| {
        let dump = crate::shared_cluster().dir().join("scale-out-demo.dump");
        let target = dump.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(async {
                    let source = demo_copy().await;
                    let mut c = crate::pg_command("pg_dump");
                    c.args(["-Fc", "-Z", "0", "-f"]).arg(&target).arg(&source);
                    crate::run(c, "pg_dump of the demo city");
                    let name = source.rsplit('/').next().unwrap_or_default().to_owned();
                    let _ = connect(&crate::shared_cluster().url("postgres"))
                        .await
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                });
        })
        .join()
        .expect("dumping the demo city panicked");
        dump
    })
}

/// Restores the demo city into database [`DATABASE`] of `primary`.
async fn load_demo(primary: &Cluster) {
    let dump = tokio::task::spawn_blocking(demo_dump)
        .await
        .expect("demo dump");
    connect(&primary.url("postgres"))
        .await
        .batch_execute(&format!("CREATE DATABASE {DATABASE}"))
        .await
        .expect("create the scale-out database");
    let mut c = crate::pg_command("pg_restore");
    c.args(["--no-owner", "--no-acl", "-j", "2", "-d"])
        .arg(primary.url(DATABASE))
        .arg(dump);
    crate::run(c, "pg_restore of the demo city");
}

async fn wait_for_recovery(url: &str) {
    let started = Instant::now();
    loop {
        if let Ok((client, connection)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await
        {
            tokio::spawn(connection);
            if let Ok(row) = client.query_one("SELECT pg_is_in_recovery()", &[]).await {
                assert!(row.get::<_, bool>(0), "the standby is not in recovery");
                return;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the standby does not accept connections"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
