//! Imports as staff run them: the binary, its progress lines and summary, and what a killed
//! import leaves behind (nothing).

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stadtkarte_tests::{connect, fresh_database, stadtkarte_bin};

fn import_command(url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(stadtkarte_bin());
    command
        .args(["import", "vector"])
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("STADTKARTE_DATABASE__URL", url)
        .env("USER", "sachbearbeiterin")
        .current_dir(std::env::temp_dir());
    command
}

#[tokio::test]
async fn the_summary_names_every_count() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("punkte.csv");
    std::fs::write(&file, "name,lat,lon\nA,50.35,7.59\nB,50.36,7.60\n").unwrap();
    let url = fresh_database().await;
    let out = import_command(&url, &[file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for word in [
        "»punkte«",
        "gelesen",
        "gespeichert",
        "repariert",
        "übersprungen",
        "Zeit",
    ] {
        assert!(stderr.contains(word), "{word} missing in: {stderr}");
    }
    let client = connect(&url).await;
    let actor: String = client
        .query_one(
            "SELECT actor FROM catalog.audit_log WHERE action = 'import.vector'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(actor, "sachbearbeiterin");
}

#[tokio::test]
async fn a_killed_import_leaves_the_previous_data_and_catalog_entry() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database().await;
    let small = dir.path().join("punkte.csv");
    std::fs::write(&small, "name,lat,lon\nAlt 1,50.35,7.59\nAlt 2,50.36,7.60\n").unwrap();
    assert!(
        import_command(&url, &[small.to_str().unwrap()])
            .status()
            .unwrap()
            .success()
    );
    let client = connect(&url).await;
    let state = async || -> String {
        client
            .query_one(
                "SELECT (SELECT string_agg(name, ',' ORDER BY name) FROM data.punkte)
                     || (SELECT row_to_json(c)::text FROM catalog.collections c WHERE id = 'punkte')
                     || (SELECT count(*) FROM catalog.audit_log)::text",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    };
    let before = state().await;

    // Two million rows: long enough to be caught half-way.
    let big = dir.path().join("gross.csv");
    let mut text = String::with_capacity(80_000_000);
    text.push_str("name,lat,lon,wert\n");
    for i in 0..2_000_000u32 {
        let _ = writeln!(
            text,
            "P{i},{:.6},{:.6},{i}",
            50.30 + f64::from(i % 1000) * 1e-4,
            7.50 + f64::from(i / 1000) * 1e-4
        );
    }
    std::fs::write(&big, text).unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = import_command(
        &url,
        &[big.to_str().unwrap(), "--collection", "punkte", "--replace"],
    )
    .stderr(log.reopen().unwrap())
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    let started = Instant::now();
    loop {
        let progress = std::fs::read_to_string(log.path()).unwrap();
        if progress.contains("Objekte") {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it could be killed: {progress}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no progress line: {progress}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let progress = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        progress
            .lines()
            .any(|l| l.contains("/2000000 Objekte") && l.contains("/s")),
        "{progress}"
    );

    // The server notices the dead client and rolls back; wait until its backend is gone.
    let started = Instant::now();
    loop {
        let busy: i64 = client
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'", &[])
            .await
            .unwrap()
            .get(0);
        if busy == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the killed import's transaction is still running"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state().await, before);
    let stages: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname LIKE '\\_stage\\_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stages, 0);
}
