//! The restore drill of `docs/operations.md`: a `pg_dump -Fc` of the demo city and the cluster's
//! roles (`pg_dumpall --roles-only`) go through `scripts/restore.sh` into a fresh cluster, which
//! the script serves; the served collections answer with the source's features, and stopping
//! the script stops the server and the cluster.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stadtkarte_tests::{
    KillOnDrop, connect, demo_database, free_port, http_get, http_raw, shared_cluster,
    stadtkarte_bin,
};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// Sends SIGTERM and waits (the script stops the server and the cluster on SIGTERM, not on
/// SIGKILL); falls back to stopping the cluster itself.
struct Drill {
    script: KillOnDrop,
    dir: std::path::PathBuf,
}

impl Drill {
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.script.0.id().to_string())
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(status)) = self.script.0.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Drill {
    fn drop(&mut self) {
        if matches!(self.script.0.try_wait(), Ok(None)) {
            self.stop();
        }
        let data = self.dir.join("data");
        if data.join("postmaster.pid").exists() {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(format!("{PG_BIN}/pg_ctl"))
                .args(["-D"])
                .arg(&data)
                .args(["-m", "immediate", "stop"])
                .status();
        }
    }
}

fn dump(args: &[&str], out: &Path) {
    let program = args[0];
    let status = Command::new(format!("{PG_BIN}/{program}"))
        .args(&args[1..])
        .arg("-f")
        .arg(out)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_is_restored_into_a_fresh_cluster_and_served() {
    let source = demo_database();
    let cluster = shared_cluster();
    let work = tempfile::tempdir().unwrap();
    let dump_file = work.path().join("stadtkarte.dump");
    let roles = work.path().join("roles.sql");
    dump(&["pg_dump", "-Fc", source], &dump_file);
    dump(
        &["pg_dumpall", "--roles-only", "-d", &cluster.url("postgres")],
        &roles,
    );

    let target = tempfile::Builder::new()
        .prefix("stadtkarte-restore-")
        .tempdir_in("/tmp")
        .unwrap();
    let pg_port = free_port();
    let http_port = free_port();
    let log = tempfile::NamedTempFile::new().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/restore.sh");
    let child = Command::new(&script)
        .arg("--roles")
        .arg(&roles)
        .arg("--dir")
        .arg(target.path())
        .args(["--port", &pg_port.to_string()])
        .arg(&dump_file)
        .env("STADTKARTE_BIN", stadtkarte_bin())
        .env(
            "STADTKARTE_SERVER__LISTEN",
            format!("127.0.0.1:{http_port}"),
        )
        .env("STADTKARTE_OPENDATA__PREPARE_DOWNLOADS", "false")
        .current_dir(work.path())
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .expect("scripts/restore.sh");
    let mut drill = Drill {
        script: KillOnDrop(child),
        dir: target.path().to_owned(),
    };
    let log_text = || std::fs::read_to_string(log.path()).unwrap_or_default();

    let started = Instant::now();
    while http_get(http_port, "/ready").is_none_or(|(s, _)| s != 200) {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the restored database was not served: {}",
            log_text()
        );
        assert!(
            matches!(drill.script.0.try_wait(), Ok(None)),
            "the script ended: {}",
            log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The same collections, with the same number of features, from the restored copy.
    let original = connect(source).await;
    let rows = original
        .query(
            "SELECT id, format('SELECT count(*) FROM %I.%I', table_schema, table_name)
             FROM catalog.collections ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let (status, body) = http_get(http_port, "/collections?f=json").unwrap();
    assert_eq!(status, 200);
    let served: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut ids: Vec<String> = served["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let expected: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(ids, expected);
    for id in ["stadtteile", "poi"] {
        let sql: String = rows
            .iter()
            .find(|r| r.get::<_, String>(0) == id)
            .unwrap_or_else(|| panic!("no collection {id}"))
            .get(1);
        let count: i64 = original.query_one(&sql, &[]).await.unwrap().get(0);
        assert!(count > 0);
        // Streamed in chunks: read by the client that decodes them.
        let request = format!(
            "GET /collections/{id}/items?f=json&limit=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        );
        let r = http_raw(http_port, request.as_bytes(), Duration::from_secs(30)).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let page: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(page["numberMatched"], count, "{id}");
        assert_eq!(page["features"].as_array().unwrap().len(), 1);
    }

    // Stopping the script stops the server and the restored cluster.
    let status = drill.stop().expect("the script did not stop");
    assert!(status.success(), "{status:?}: {}", log_text());
    assert!(
        !target.path().join("data/postmaster.pid").exists(),
        "the cluster still runs: {}",
        log_text()
    );
    assert!(http_get(http_port, "/health").is_none());
}
