//! The binary as an operator meets it: configuration errors, a database that is down at start,
//! and a graceful stop on SIGTERM.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stadtkarte_tests::{Cluster, free_port, http_get, stadtkarte_bin};

/// Runs the binary with a clean environment and returns (exit code, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut command = Command::new(stadtkarte_bin());
    command
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(std::env::temp_dir());
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn assert_one_line_naming(stderr: &str, needle: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].contains(needle), "{needle:?} not in: {stderr}");
}

#[test]
fn configuration_errors_stop_start_up_with_one_line() {
    let (code, err) = run(
        &["--config", "/nonexistent/stadtkarte.toml", "migrate"],
        &[],
    );
    assert_ne!(code, 0);
    assert_one_line_naming(&err, "/nonexistent/stadtkarte.toml");

    let malformed = config_file("[server\nlisten = 1\n");
    let path = malformed.path().to_str().unwrap();
    let (code, err) = run(&["--config", path, "migrate"], &[]);
    assert_ne!(code, 0);
    assert_one_line_naming(&err, path);

    let unknown = config_file("[database]\nurll = \"postgresql://x@localhost/y\"\n");
    let (code, err) = run(
        &["--config", unknown.path().to_str().unwrap(), "migrate"],
        &[],
    );
    assert_ne!(code, 0);
    assert_one_line_naming(&err, "urll");

    let wrong_type = config_file("[server]\nlisten = \"everywhere\"\n");
    let (code, err) = run(
        &["--config", wrong_type.path().to_str().unwrap(), "serve"],
        &[],
    );
    assert_ne!(code, 0);
    assert_one_line_naming(&err, "server.listen");

    let (code, err) = run(
        &["migrate"],
        &[("STADTKARTE_DATABASE__URL", "postgresql://a@h:notaport/x")],
    );
    assert_ne!(code, 0);
    assert_one_line_naming(&err, "database.url");

    let (code, err) = run(&["migrate"], &[("STADTKARTE_LOG__FORMAT", "xml")]);
    assert_ne!(code, 0);
    assert_one_line_naming(&err, "STADTKARTE_LOG__FORMAT");
}

#[test]
fn migrate_against_an_unreachable_database_says_where() {
    let port = free_port();
    let url = format!("postgresql://stadtkarte@127.0.0.1:{port}/stadtkarte");
    let (code, err) = run(
        &["migrate"],
        &[
            ("STADTKARTE_DATABASE__URL", &url),
            ("STADTKARTE_DATABASE__CONNECT_TIMEOUT_SECS", "1"),
        ],
    );
    assert_ne!(code, 0);
    assert_one_line_naming(&err, &format!("127.0.0.1:{port}"));
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn serve_waits_for_the_database_and_stops_on_sigterm() {
    let db_port = free_port();
    let http_port = free_port();
    let log = tempfile::NamedTempFile::new().unwrap();
    let server = Command::new(stadtkarte_bin())
        .arg("serve")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env(
            "STADTKARTE_DATABASE__URL",
            format!("postgresql://stadtkarte@127.0.0.1:{db_port}/postgres"),
        )
        .env("STADTKARTE_DATABASE__RETRY_INTERVAL_SECS", "1")
        .env("STADTKARTE_DATABASE__CONNECT_TIMEOUT_SECS", "1")
        .env(
            "STADTKARTE_SERVER__LISTEN",
            format!("127.0.0.1:{http_port}"),
        )
        .env("STADTKARTE_LOG__FORMAT", "json")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let mut server = stadtkarte_tests::KillOnDrop(server);

    // Up without a database: alive, not ready, and saying why in the log.
    wait_for("/health", Duration::from_secs(20), || {
        http_get(http_port, "/health").is_some_and(|(s, _)| s == 200)
    });
    let (status, body) = http_get(http_port, "/ready").unwrap();
    assert_eq!(status, 503);
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], 503);
    wait_for("a retry log line", Duration::from_secs(20), || {
        std::fs::read_to_string(log.path())
            .unwrap()
            .contains("retrying")
    });
    let first_line = std::fs::read_to_string(log.path()).unwrap();
    let retry: serde_json::Value = first_line
        .lines()
        .find(|l| l.contains("retrying"))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap();
    assert_eq!(retry["level"], "WARN");
    assert!(
        retry["database"]
            .as_str()
            .unwrap()
            .contains(&db_port.to_string()),
        "{retry}"
    );

    // The database comes up: ready without a restart.
    let cluster = Cluster::create(db_port);
    cluster.start();
    wait_for("/ready to turn 200", Duration::from_secs(30), || {
        http_get(http_port, "/ready").is_some_and(|(s, _)| s == 200)
    });

    // The database goes away again: not ready; back again: ready (the pool reconnects).
    cluster.stop();
    wait_for("/ready to turn 503", Duration::from_secs(30), || {
        http_get(http_port, "/ready").is_some_and(|(s, _)| s == 503)
    });
    cluster.start();
    wait_for("/ready to turn 200 again", Duration::from_secs(30), || {
        http_get(http_port, "/ready").is_some_and(|(s, _)| s == 200)
    });

    // SIGTERM: a clean exit.
    let kill = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    let log_text = std::fs::read_to_string(log.path()).unwrap();
    assert!(log_text.contains("shutting down"), "{log_text}");
}
