//! Staff accounts, sign-in and the back office: the command line, passwords and their rules,
//! sessions (cookies, expiry, sign-out on the server, a new id at sign-in), the second factor
//! (enrolment, replay, recovery codes), throttling and locks, CSRF and origin checks, every
//! admin route by every role, escaping, the database away during sign-in, the audit chain and
//! its verification after tampering, and the least-privilege database role.

use std::process::{Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use stadtkarte_core::auth::{Role, totp};
use stadtkarte_tests::{
    Cluster, TestResponse, app_with, config_for, connect, free_port, fresh_database, send,
    stadtkarte_bin,
};

const ORIGIN: &str = "http://127.0.0.1:8080";
const PASSWORD: &str = "Rhein und Mosel 1958";

/// Runs `stadtkarte ARGS` against `url` with `stdin`; returns (success, stderr).
fn cli(url: &str, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(stadtkarte_bin())
        .args(args)
        .env("STADTKARTE_DATABASE__URL", url)
        .env("USER", "testerin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A database with the departments and one account per role (password [`PASSWORD`]).
async fn with_staff() -> String {
    let url = fresh_database().await;
    let client = connect(&url).await;
    client
        .batch_execute("INSERT INTO auth.departments (id, name) VALUES ('tiefbau', 'Tiefbauamt'), ('gruen', 'Grünflächenamt')")
        .await
        .unwrap();
    for (email, roles) in [
        ("admin@test.example", vec!["--role", "admin"]),
        ("editor@test.example", vec!["--role", "editor"]),
        ("moderator@test.example", vec!["--role", "moderator"]),
        ("triage@test.example", vec!["--role", "triage:tiefbau"]),
        ("niemand@test.example", vec![]),
    ] {
        let mut args = vec!["user", "add", email, "--name", "Test", "--password-stdin"];
        args.extend(roles);
        let (ok, err) = cli(&url, &args, &format!("{PASSWORD}\n"));
        assert!(ok, "{err}");
    }
    url
}

fn form(path: &str, body: &str, cookie: Option<&str>, origin: Option<&str>) -> Request<Body> {
    let mut r = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html,application/xhtml+xml");
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    r.body(Body::from(body.to_owned())).unwrap()
}

fn page(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::get(path).header("accept", "text/html");
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    r.body(Body::empty()).unwrap()
}

/// The session cookie (`name=value`) a response sets.
fn cookie_of(r: &TestResponse) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("stadtkarte_sitzung="))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {:?}", r.headers))
        .to_owned()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Signs in with e-mail and password only; returns the response.
async fn password_step(
    app: &Router,
    email: &str,
    password: &str,
    cookie: Option<&str>,
) -> TestResponse {
    let body = format!(
        "email={}&password={}&next=%2Fadmin",
        encode(email),
        encode(password)
    );
    send(app, form("/admin/login", &body, cookie, Some(ORIGIN))).await
}

/// A complete session of an account without second factor.
async fn sign_in(app: &Router, email: &str) -> String {
    let r = password_step(app, email, PASSWORD, None).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), "/admin");
    cookie_of(&r)
}

/// The CSRF token of a signed-in page.
async fn csrf_of(app: &Router, cookie: &str) -> String {
    let text = send(app, page("/admin/konto", Some(cookie))).await.text();
    let start = text
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    text[start..].split('"').next().unwrap().to_owned()
}

async fn app(url: &str, tweak: impl FnOnce(&mut stadtkarte_core::Config)) -> Router {
    let mut config = config_for(url);
    tweak(&mut config);
    app_with(config).await.0
}

#[tokio::test]
async fn accounts_by_the_command_line() {
    let url = with_staff().await;
    // Password rules, with the reason.
    let (ok, err) = cli(
        &url,
        &[
            "user",
            "add",
            "kurz@test.example",
            "--name",
            "K",
            "--password-stdin",
        ],
        "zu kurz\n",
    );
    assert!(!ok && err.contains("12"), "{err}");
    let (ok, err) = cli(
        &url,
        &[
            "user",
            "add",
            "gleich.lang@test.example",
            "--name",
            "G",
            "--password-stdin",
        ],
        "gleich.lang@test.example\n",
    );
    assert!(!ok && err.contains("E-Mail"), "{err}");
    // Never as an argument, and never without a terminal or stdin.
    let (ok, err) = cli(
        &url,
        &[
            "user",
            "add",
            "x@test.example",
            "--name",
            "X",
            "--password",
            PASSWORD,
        ],
        "",
    );
    assert!(!ok && err.contains("--password"), "{err}");
    let (ok, err) = cli(&url, &["user", "add", "x@test.example", "--name", "X"], "");
    assert!(!ok && err.contains("--password-stdin"), "{err}");
    // Roles need a known department for triage.
    let (ok, err) = cli(
        &url,
        &[
            "user",
            "set-roles",
            "editor@test.example",
            "--role",
            "triage:mond",
        ],
        "",
    );
    assert!(!ok && err.contains("mond"), "{err}");
    let (ok, err) = cli(
        &url,
        &[
            "user",
            "set-roles",
            "editor@test.example",
            "--role",
            "editor",
            "--role",
            "triage:gruen",
        ],
        "",
    );
    assert!(ok, "{err}");
    let (ok, err) = cli(&url, &["user", "list"], "");
    assert!(
        ok && err.contains("editor@test.example") && err.contains("triage:gruen"),
        "{err}"
    );
    let (ok, _) = cli(&url, &["user", "disable", "moderator@test.example"], "");
    assert!(ok);
    let (ok, err) = cli(&url, &["user", "list"], "");
    assert!(ok && err.contains("GESPERRT"), "{err}");
    let (ok, err) = cli(
        &url,
        &[
            "user",
            "reset-password",
            "triage@test.example",
            "--password-stdin",
        ],
        "Ein neues langes Passwort\n",
    );
    assert!(ok, "{err}");
    // Everything is in the audit log, without the e-mail addresses; the chain holds.
    let client = connect(&url).await;
    let rows = client
        .query("SELECT actor, action, subject, coalesce(after::text, '') FROM catalog.audit_log WHERE action LIKE 'user.%' ORDER BY chain", &[])
        .await
        .unwrap();
    let actions: Vec<String> = rows.iter().map(|r| r.get(1)).collect();
    for a in [
        "user.add",
        "user.set_roles",
        "user.disable",
        "user.reset_password",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }
    for r in &rows {
        assert_eq!(r.get::<_, String>(0), "cli:testerin");
        assert!(r.get::<_, String>(2).starts_with("user:"));
        assert!(!r.get::<_, String>(3).contains('@'));
    }
    let (ok, err) = cli(&url, &["audit", "verify"], "");
    assert!(ok && err.contains("intakt"), "{err}");
    // Hashes are argon2id with OWASP's parameters.
    let hash: String = client
        .query_one(
            "SELECT password_hash FROM auth.users WHERE email = 'admin@test.example'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}

#[tokio::test]
async fn sign_in_sessions_and_sign_out() {
    let url = with_staff().await;
    let app = app(&url, |_| {}).await;
    // Unknown address and wrong password: the same answer.
    let unknown = password_step(&app, "gibtsnicht@test.example", PASSWORD, None).await;
    let wrong = password_step(&app, "editor@test.example", "falsches Passwort!", None).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.status, 401);
    let message = |r: &TestResponse| {
        let t = r.text();
        let start = t.find("role=\"alert\"").unwrap();
        t[start..].split("</p>").next().unwrap().to_owned()
    };
    assert_eq!(message(&unknown), message(&wrong));
    assert!(unknown.headers.get("set-cookie").is_none());

    // Right: a session cookie, HttpOnly and SameSite=Lax (not Secure over http).
    let r = password_step(&app, "editor@test.example", PASSWORD, None).await;
    assert_eq!(r.status, 303);
    let set = r.header("set-cookie").to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && !set.contains("Secure"),
        "{set}"
    );
    let first = cookie_of(&r);
    assert_eq!(send(&app, page("/admin", Some(&first))).await.status, 200);
    // Only the hash of the token is stored.
    let client = connect(&url).await;
    let token = first.split('=').nth(1).unwrap().to_owned();
    let stored: i64 = client
        .query_one(
            "SELECT count(*) FROM auth.sessions WHERE token_hash = sha256(convert_to($1, 'UTF8'))",
            &[&token],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1);
    let plain: i64 = client
        .query_one("SELECT count(*) FROM auth.sessions WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%'", &[&token])
        .await
        .unwrap()
        .get(0);
    assert_eq!(plain, 0);

    // A new sign-in with the old cookie: a new session, the old one is gone.
    let r = password_step(&app, "editor@test.example", PASSWORD, Some(&first)).await;
    let second = cookie_of(&r);
    assert_ne!(first, second);
    assert_eq!(
        send(&app, page("/admin", Some(&first))).await.status,
        303,
        "old session ended"
    );

    // Sign-out ends the session on the server: the cookie is worthless afterwards.
    let csrf = csrf_of(&app, &second).await;
    let r = send(
        &app,
        form(
            "/admin/logout",
            &format!("csrf={csrf}"),
            Some(&second),
            Some(ORIGIN),
        ),
    )
    .await;
    assert_eq!(r.status, 303);
    let again = send(&app, page("/admin", Some(&second))).await;
    assert_eq!(again.status, 303);
    assert!(again.header("location").starts_with("/admin/login?next="));

    // Forged and disabled: no way in. A program gets 401, a browser the sign-in page.
    let forged = "stadtkarte_sitzung=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_eq!(send(&app, page("/admin", Some(forged))).await.status, 303);
    let json = send(
        &app,
        Request::get("/admin")
            .header("accept", "application/json")
            .header("cookie", forged)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(json.status, 401);
    assert_eq!(json.header("content-type"), "application/problem+json");
    let (ok, _) = cli(&url, &["user", "disable", "editor@test.example"], "");
    assert!(ok);
    let r = password_step(&app, "editor@test.example", PASSWORD, None).await;
    assert_eq!(r.status, 401, "a disabled account cannot sign in");
    assert_eq!(message(&r), message(&wrong), "and is not told apart");
}

#[tokio::test]
async fn sessions_expire_when_idle_and_after_their_time() {
    let url = with_staff().await;
    let app = app(&url, |_| {}).await;
    let client = connect(&url).await;
    let idle = sign_in(&app, "editor@test.example").await;
    let absolute = sign_in(&app, "moderator@test.example").await;
    assert_eq!(send(&app, page("/admin", Some(&idle))).await.status, 200);
    client
        .batch_execute(
            "UPDATE auth.sessions s SET last_seen = now() - interval '31 minutes' FROM auth.users u
             WHERE u.id = s.user_id AND u.email = 'editor@test.example';
             UPDATE auth.sessions s SET expires_at = now() - interval '1 second' FROM auth.users u
             WHERE u.id = s.user_id AND u.email = 'moderator@test.example'",
        )
        .await
        .unwrap();
    assert_eq!(
        send(&app, page("/admin", Some(&idle))).await.status,
        303,
        "idle too long"
    );
    assert_eq!(
        send(&app, page("/admin", Some(&absolute))).await.status,
        303,
        "past its end"
    );
    let left: i64 = client
        .query_one("SELECT count(*) FROM auth.sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "expired sessions are deleted");
}

#[tokio::test]
async fn forms_need_the_token_and_our_origin() {
    let url = with_staff().await;
    let app = app(&url, |_| {}).await;
    let cookie = sign_in(&app, "editor@test.example").await;
    let csrf = csrf_of(&app, &cookie).await;
    let switch = |csrf: &str| format!("csrf={csrf}&switch=tiles&on=false");
    let client = connect(&url).await;
    client
        .batch_execute("CREATE TABLE data.t (id bigint PRIMARY KEY, geom geometry(Point, 25832)); INSERT INTO catalog.collections (id, title, table_name, geometry_type, license, attribution) VALUES ('t', 'T', 't', 'Point', 'x', 'y')")
        .await
        .unwrap();
    for (body, origin, why) in [
        (switch(""), Some(ORIGIN), "no token"),
        (switch("falsch"), Some(ORIGIN), "wrong token"),
        (switch(&csrf), Some("http://evil.example"), "another origin"),
        (switch(&csrf), None, "neither Origin nor Referer"),
    ] {
        let r = send(
            &app,
            form("/admin/sammlungen/t", &body, Some(&cookie), origin),
        )
        .await;
        assert_eq!(r.status, 403, "{why}: {}", r.text());
    }
    let tiles: bool = client
        .query_one(
            "SELECT publish_tiles FROM catalog.collections WHERE id = 't'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(tiles, "nothing changed");
    let r = send(
        &app,
        form(
            "/admin/sammlungen/t",
            &switch(&csrf),
            Some(&cookie),
            Some(ORIGIN),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tiles: bool = client
        .query_one(
            "SELECT publish_tiles FROM catalog.collections WHERE id = 't'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!tiles);
    let audit: serde_json::Value = client
        .query_one("SELECT jsonb_build_object('a', action, 'b', before, 'c', after, 'r', request_id) FROM catalog.audit_log WHERE action = 'collection.publish'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(audit["b"]["publish_tiles"], true);
    assert_eq!(audit["c"]["publish_tiles"], false);
    assert!(
        audit["r"].as_str().is_some_and(|r| !r.is_empty()),
        "with the request id: {audit}"
    );
    // Public APIs stay open to other origins (CQL2 as a POST body).
    let r = send(
        &app,
        Request::post("/collections/t/items")
            .header("content-type", "application/json")
            .header("origin", "http://app.example")
            .body(Body::from(r#"{"op":"=","args":[{"property":"id"},1]}"#))
            .unwrap(),
    )
    .await;
    assert_ne!(r.status, 403);
}

#[tokio::test]
async fn the_second_factor_for_admins() {
    let url = with_staff().await;
    let app = app(&url, |_| {}).await;
    // The password alone is not enough: the admin must set up the second factor first.
    let r = password_step(&app, "admin@test.example", PASSWORD, None).await;
    assert_eq!(r.status, 303);
    assert!(
        r.header("location").starts_with("/admin/login/einrichten"),
        "{:?}",
        r.header("location")
    );
    let pending = cookie_of(&r);
    assert_eq!(
        send(&app, page("/admin", Some(&pending))).await.status,
        303,
        "no access yet"
    );
    let enrol = send(
        &app,
        page("/admin/login/einrichten?next=%2Fadmin", Some(&pending)),
    )
    .await;
    assert_eq!(enrol.status, 200);
    let text = enrol.text();
    assert!(text.contains("src=\"data:image/png;base64,"), "a QR code");
    let start = text.find("<code>").unwrap() + 6;
    let secret = text[start..].split('<').next().unwrap().to_owned();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let wrong = send(
        &app,
        form(
            "/admin/login/einrichten?next=%2Fadmin",
            "code=000000",
            Some(&pending),
            Some(ORIGIN),
        ),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let code = totp::code_at(&secret, now()).unwrap();
    let done = send(
        &app,
        form(
            "/admin/login/einrichten?next=%2Fadmin",
            &format!("code={code}"),
            Some(&pending),
            Some(ORIGIN),
        ),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text());
    let recovery: Vec<String> = done
        .text()
        .match_indices("<li><code>")
        .map(|(i, _)| done.text()[i + 10..].split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let session = cookie_of(&done);
    assert_eq!(
        send(&app, page("/admin/benutzer", Some(&session)))
            .await
            .status,
        200
    );

    // The next sign-in asks for a code; the code just used is not accepted again (same step).
    let r = password_step(&app, "admin@test.example", PASSWORD, None).await;
    assert!(r.header("location").starts_with("/admin/login/code"));
    let pending = cookie_of(&r);
    let replay = send(
        &app,
        form(
            "/admin/login/code?next=%2Fadmin",
            &format!("code={code}"),
            Some(&pending),
            Some(ORIGIN),
        ),
    )
    .await;
    assert_eq!(replay.status, 401, "replay within the same step");
    // A recovery code works once.
    let first = send(
        &app,
        form(
            "/admin/login/code?next=%2Fadmin",
            &format!("code={}", recovery[0]),
            Some(&pending),
            Some(ORIGIN),
        ),
    )
    .await;
    assert_eq!(first.status, 303, "{}", first.text());
    let r = password_step(&app, "admin@test.example", PASSWORD, None).await;
    let pending = cookie_of(&r);
    let again = send(
        &app,
        form(
            "/admin/login/code?next=%2Fadmin",
            &format!("code={}", recovery[0]),
            Some(&pending),
            Some(ORIGIN),
        ),
    )
    .await;
    assert_eq!(again.status, 401, "a used recovery code");
    let client = connect(&url).await;
    let actions: Vec<String> = client
        .query(
            "SELECT action FROM catalog.audit_log WHERE action LIKE 'auth.%' ORDER BY chain",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for a in [
        "auth.totp_enabled",
        "auth.sign_in",
        "auth.second_factor_failed",
        "auth.sign_in_recovery_code",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }
}

#[tokio::test]
async fn failed_sign_ins_are_delayed_then_locked_and_audited() {
    let url = with_staff().await;
    let app = app(&url, |c| {
        c.auth.delay_after_failures = 2;
        c.auth.lock_after_failures = 4;
        c.auth.lock_minutes = 5;
    })
    .await;
    let client = connect(&url).await;
    for _ in 0..2 {
        assert_eq!(
            password_step(&app, "editor@test.example", "falsches Passwort!", None)
                .await
                .status,
            401
        );
    }
    // The third attempt comes too soon.
    let r = password_step(&app, "editor@test.example", PASSWORD, None).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(!r.header("retry-after").is_empty());
    // Let the delays pass (in the database) and fail twice more: locked.
    for _ in 0..2 {
        client
            .batch_execute("UPDATE auth.throttle SET next_allowed = now()")
            .await
            .unwrap();
        assert_eq!(
            password_step(&app, "editor@test.example", "falsches Passwort!", None)
                .await
                .status,
            401
        );
    }
    client
        .batch_execute("UPDATE auth.throttle SET next_allowed = now()")
        .await
        .unwrap();
    let r = password_step(&app, "editor@test.example", PASSWORD, None).await;
    assert_eq!(r.status, 429, "locked even with the right password");
    let locks: i64 = client
        .query_one(
            "SELECT count(*) FROM catalog.audit_log WHERE action = 'auth.lock'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(locks >= 1);
    // The lock runs out: unlocked, audited, and the right password works.
    client.batch_execute("UPDATE auth.throttle SET locked_until = now() - interval '1 second', next_allowed = now()").await.unwrap();
    let r = password_step(&app, "editor@test.example", PASSWORD, None).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let unlocks: i64 = client
        .query_one(
            "SELECT count(*) FROM catalog.audit_log WHERE action = 'auth.unlock'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(unlocks >= 1);
    // Nothing in the throttle or the log names the address.
    let keys: Vec<String> = client
        .query("SELECT key FROM auth.throttle", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let log: String = client
        .query_one(
            "SELECT string_agg(subject || details::text, ' ') FROM catalog.audit_log",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        !keys.iter().any(|k| k.contains('@')) && !log.contains("editor@"),
        "{keys:?} {log}"
    );
}

/// A collection `gebaeude` (empty) and a dataset of it, for the editor's pages.
async fn with_gebaeude_dataset(url: &str) {
    let client = connect(url).await;
    client
        .batch_execute("CREATE TABLE data.gebaeude (id bigint PRIMARY KEY, geom geometry(Point, 25832)); INSERT INTO catalog.collections (id, title, table_name, geometry_type, license, attribution) VALUES ('gebaeude', 'Gebäude', 'gebaeude', 'Point', 'x', 'y')")
        .await
        .unwrap();
    stadtkarte_opendata::registry::add(
        &client,
        "gebaeude",
        &stadtkarte_opendata::registry::DatasetInput {
            title: Some("Gebäude".to_owned()),
            description: Some("Testdaten".to_owned()),
            collections: Some(vec!["gebaeude".to_owned()]),
            ..Default::default()
        },
        &stadtkarte::dataset_defaults(&config_for(url)),
        "test",
    )
    .await
    .unwrap();
}

/// Signs in as `admin@test.example` and enrols the second factor through the real flow (the
/// admin's is always required); returns the session cookie.
async fn enrolled_admin(app: &Router) -> String {
    let r = password_step(app, "admin@test.example", PASSWORD, None).await;
    let pending = cookie_of(&r);
    let text = send(app, page("/admin/login/einrichten", Some(&pending)))
        .await
        .text();
    let start = text.find("<code>").unwrap() + 6;
    let secret = text[start..].split('<').next().unwrap().to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = totp::code_at(&secret, now).unwrap();
    cookie_of(
        &send(
            app,
            form(
                "/admin/login/einrichten",
                &format!("code={code}"),
                Some(&pending),
                Some(ORIGIN),
            ),
        )
        .await,
    )
}

#[tokio::test]
async fn every_admin_route_by_every_role() {
    let url = with_staff().await;
    with_gebaeude_dataset(&url).await;
    let app = app(&url, |c| c.auth.totp_required_for = Vec::new()).await;
    // The admin's second factor is always required: enrol once through the real flow.
    let admin = enrolled_admin(&app).await;
    let mut people: Vec<(Option<Role>, Option<String>)> =
        vec![(None, None), (Some(Role::Admin), Some(admin))];
    for (role, email) in [
        (Role::Editor, "editor"),
        (Role::Moderator, "moderator"),
        (Role::Triage, "triage"),
    ] {
        people.push((
            Some(role),
            Some(sign_in(&app, &format!("{email}@test.example")).await),
        ));
    }
    let routes: Vec<(&str, &str, Option<Role>)> = stadtkarte_admin::ROUTES
        .iter()
        .chain(stadtkarte_opendata::admin::ROUTES)
        .chain(stadtkarte_maengelmelder::ROUTES)
        .chain(stadtkarte_petitions::ROUTES)
        .copied()
        .collect();
    assert!(routes.len() >= 15);
    for (role, cookie) in &people {
        let csrf = match cookie {
            Some(c) => csrf_of(&app, c).await,
            None => String::new(),
        };
        for (method, path, needs) in &routes {
            let request = if *method == "GET" {
                page(path, cookie.as_deref())
            } else {
                form(
                    path,
                    &format!("csrf={csrf}"),
                    cookie.as_deref(),
                    Some(ORIGIN),
                )
            };
            let r = send(&app, request).await;
            let status = r.status.as_u16();
            let allowed = match (role, needs) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(have), Some(need)) => *have == Role::Admin || have == need,
            };
            let who = role.map_or("nobody", Role::as_str);
            if role.is_none() {
                assert_eq!(status, 303, "{who} {method} {path}: {}", r.text());
                assert!(
                    r.header("location").starts_with("/admin/login"),
                    "{who} {method} {path}"
                );
            } else if allowed {
                assert!(
                    status != 401 && status != 403 && status < 500,
                    "{who} {method} {path}: {status} {}",
                    r.text()
                );
            } else {
                assert_eq!(status, 403, "{who} {method} {path}: {}", r.text());
            }
        }
    }
}

#[tokio::test]
async fn markup_in_form_fields_is_escaped_on_output() {
    let url = with_staff().await;
    let client = connect(&url).await;
    client
        .batch_execute("UPDATE auth.users SET display_name = '<script>alert(1)</script>' WHERE email = 'editor@test.example'")
        .await
        .unwrap();
    let app = app(&url, |c| c.auth.totp_required_for = Vec::new()).await;
    let cookie = sign_in(&app, "editor@test.example").await;
    let text = send(&app, page("/admin", Some(&cookie))).await.text();
    assert!(
        !text.contains("<script>alert(1)</script>"),
        "raw markup on the page"
    );
    assert!(
        text.contains("&lt;script&gt;alert(1)&lt;/script&gt;") || text.contains("&#60;script&#62;"),
        "{text}"
    );
    // SQL in a field is just text.
    let r = password_step(&app, "x' OR '1'='1", "' OR '1'='1' --", None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn html_pages_carry_the_security_headers() {
    let url = with_staff().await;
    let app = app(&url, |_| {}).await;
    let r = send(&app, page("/admin/login", None)).await;
    let csp = r.header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'self'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert_eq!(
        r.header("referrer-policy"),
        "strict-origin-when-cross-origin"
    );
    assert_eq!(r.header("cache-control"), "no-store");
    let text = r.text();
    assert!(
        !text.contains("<script>") && !text.contains("style=\""),
        "nothing inline"
    );
}

#[test]
fn a_sign_in_while_the_database_is_away_is_a_503_and_writes_nothing() {
    let cluster = Cluster::create(free_port());
    cluster.start();
    let url = cluster.url("postgres");
    let (ok, err) = cli(
        &url,
        &[
            "user",
            "add",
            "weg@test.example",
            "--name",
            "W",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{err}");
    let server = stadtkarte_tests::ServerProcess::start(&[
        ("STADTKARTE_DATABASE__URL", &url),
        ("STADTKARTE_DATABASE__CONNECT_TIMEOUT_SECS", "1"),
    ]);
    cluster.stop();
    let body = format!("email=weg%40test.example&password={}", encode(PASSWORD));
    let request = format!(
        "POST /admin/login HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nOrigin: http://127.0.0.1:{}\r\nAccept: text/html\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.port,
        server.port,
        body.len()
    );
    let r = stadtkarte_tests::http_raw(server.port, request.as_bytes(), Duration::from_secs(20))
        .unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        r.header("content-type").starts_with("text/html"),
        "a page for the browser"
    );
    assert!(r.header("set-cookie").is_empty());
    cluster.start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = connect(&url).await;
        let sessions: i64 = client
            .query_one("SELECT count(*) FROM auth.sessions", &[])
            .await
            .unwrap()
            .get(0);
        let throttles: i64 = client
            .query_one("SELECT count(*) FROM auth.throttle", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!((sessions, throttles), (0, 0), "nothing half-written");
    });
}

#[tokio::test]
async fn the_audit_chain_names_the_first_broken_link() {
    let url = with_staff().await;
    let client = connect(&url).await;
    for i in 0..5 {
        stadtkarte_core::audit::append(
            &client,
            &stadtkarte_core::audit::Entry {
                actor: "test",
                action: "test.entry",
                subject: &format!("eintrag:{i}"),
                details: serde_json::json!({"n": i}),
                ..stadtkarte_core::audit::Entry::default()
            },
        )
        .await
        .unwrap();
    }
    // The database refuses changes and deletions.
    let update = client
        .batch_execute("UPDATE catalog.audit_log SET actor = 'x'")
        .await;
    assert!(update.is_err());
    let delete = client.batch_execute("DELETE FROM catalog.audit_log").await;
    assert!(delete.is_err());
    let (ok, err) = cli(&url, &["audit", "verify"], "");
    assert!(ok, "{err}");
    // Tampering by the owner, around the trigger: found, and the first broken entry named.
    let target: i64 = client
        .query_one(
            "SELECT chain FROM catalog.audit_log WHERE subject = 'eintrag:2'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    client
        .batch_execute(
            "ALTER TABLE catalog.audit_log DISABLE TRIGGER audit_log_append_only;
             UPDATE catalog.audit_log SET details = '{\"n\": 99}' WHERE subject = 'eintrag:2';
             ALTER TABLE catalog.audit_log ENABLE TRIGGER audit_log_append_only",
        )
        .await
        .unwrap();
    let (ok, err) = cli(&url, &["audit", "verify"], "");
    assert!(!ok, "{err}");
    assert!(err.contains(&format!("entry {target} ")), "{err}");
    // A deleted entry is found too.
    client
        .batch_execute(
            "ALTER TABLE catalog.audit_log DISABLE TRIGGER audit_log_append_only;
             UPDATE catalog.audit_log SET details = '{\"n\": 2}' WHERE subject = 'eintrag:2';
             DELETE FROM catalog.audit_log WHERE subject = 'eintrag:3';
             ALTER TABLE catalog.audit_log ENABLE TRIGGER audit_log_append_only",
        )
        .await
        .unwrap();
    let (ok, err) = cli(&url, &["audit", "verify"], "");
    assert!(!ok && err.contains("missing"), "{err}");
}

#[tokio::test]
async fn the_server_role_owns_nothing_and_cannot_rewrite_history() {
    let url = with_staff().await;
    let owner = connect(&url).await;
    let role = format!("web_{}", std::process::id());
    owner
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN IN ROLE stadtkarte_server;
             CREATE TABLE data.punkte (id bigint PRIMARY KEY, geom geometry(Point, 25832));
             INSERT INTO data.punkte VALUES (1, ST_SetSRID(ST_MakePoint(398000, 5581000), 25832));
             INSERT INTO catalog.collections (id, title, table_name, geometry_type, license, attribution) VALUES ('punkte', 'Punkte', 'punkte', 'Point', 'x', 'y')"
        ))
        .await
        .unwrap();
    let web_url = url.replacen("stadtkarte@", &format!("{role}@"), 1);
    let web = connect(&web_url).await;
    // It reads what is served and appends to the audit log …
    let n: i64 = web
        .query_one("SELECT count(*) FROM data.punkte", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    web.batch_execute(
        "INSERT INTO catalog.audit_log (actor, action, subject) VALUES ('web', 'test', 'x')",
    )
    .await
    .unwrap();
    // … but changes neither history nor data nor structure.
    for sql in [
        "UPDATE catalog.audit_log SET actor = 'x'",
        "DELETE FROM catalog.audit_log",
        "TRUNCATE catalog.audit_log",
        "DELETE FROM data.punkte",
        "DROP TABLE data.punkte",
        "CREATE TABLE data.fremd (id int)",
        "UPDATE catalog.collections SET title = 'x'",
    ] {
        let refused = web.batch_execute(sql).await;
        assert!(refused.is_err(), "{sql} must be refused");
    }
    // The platform works as that role: pages, features, a sign-in.
    let app = app(&web_url, |c| {
        c.database.migration_url = url.clone();
        c.auth.totp_required_for = Vec::new();
    })
    .await;
    assert_eq!(
        send(&app, page("/collections/punkte/items?f=json", None))
            .await
            .status,
        200
    );
    let cookie = sign_in(&app, "editor@test.example").await;
    assert_eq!(
        send(&app, page("/admin/sammlungen", Some(&cookie)))
            .await
            .status,
        200
    );
    drop(web);
    owner
        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"))
        .await
        .ok();
}

/// The Node.js of the browser clients (tests/browser, with oidc-provider installed by
/// scripts/env.sh).
fn node_script(args: &[&str]) -> Command {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    let mut c = Command::new("node");
    c.current_dir(&dir).arg(dir.join("oidc.mjs")).args(args);
    c
}

#[tokio::test]
async fn single_sign_on_with_a_real_openid_provider() {
    let url = with_staff().await;
    let http_port = free_port();
    let idp_port = free_port();
    let redirect = format!("http://127.0.0.1:{http_port}/admin/login/sso/zurueck");
    let mut idp = stadtkarte_tests::KillOnDrop(
        node_script(&[
            "serve",
            &idp_port.to_string(),
            &redirect,
            r#"["editor","triage:tiefbau"]"#,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(idp.0.stdout.as_mut().unwrap()),
        &mut first,
    )
    .unwrap();
    assert_eq!(first.trim(), "ready");
    let issuer = format!("http://127.0.0.1:{idp_port}");
    let listen = format!("127.0.0.1:{http_port}");
    let log = tempfile::NamedTempFile::new().unwrap();
    let _server = stadtkarte_tests::KillOnDrop(
        Command::new(stadtkarte_bin())
            .arg("serve")
            .env("STADTKARTE_DATABASE__URL", &url)
            .env("STADTKARTE_SERVER__LISTEN", &listen)
            .env("STADTKARTE_OPENDATA__PREPARE_DOWNLOADS", "false")
            .env("STADTKARTE_AUTH__OIDC__ENABLED", "true")
            .env("STADTKARTE_AUTH__OIDC__ISSUER", &issuer)
            .env("STADTKARTE_AUTH__OIDC__CLIENT_ID", "stadtkarte")
            .env("STADTKARTE_AUTH__OIDC__CLIENT_SECRET", "geheim-fuer-tests")
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap(),
    );
    let started = std::time::Instant::now();
    while stadtkarte_tests::http_get(http_port, "/ready").is_none_or(|(s, _)| s != 200) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            std::fs::read_to_string(log.path()).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The sign-in page offers the button; the walk through the provider ends in the back office.
    let login = stadtkarte_tests::http_get(http_port, "/admin/login").unwrap();
    assert!(login.1.contains("/admin/login/sso"), "{}", login.1);
    let out = node_script(&[
        "drive",
        &format!("http://127.0.0.1:{http_port}/admin/login/sso?next=/admin/sammlungen"),
    ])
    .output()
    .unwrap();
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        result["url"],
        format!("http://127.0.0.1:{http_port}/admin/sammlungen"),
        "{result}\n{}",
        std::fs::read_to_string(log.path()).unwrap()
    );
    assert_eq!(result["status"], 200, "{result}");
    let token = result["cookies"]["stadtkarte_sitzung"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookie = format!("stadtkarte_sitzung={token}");
    let get = |path: &str| {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {listen}\r\nAccept: text/html\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        );
        stadtkarte_tests::http_raw(http_port, request.as_bytes(), Duration::from_secs(10)).unwrap()
    };
    assert_eq!(
        get("/admin/sammlungen").status,
        200,
        "editor from the claim"
    );
    assert_eq!(get("/admin/benutzer").status, 403, "not an admin");
    let client = connect(&url).await;
    let row = client
        .query_one(
            "SELECT u.oidc_subject, array_agg(r.role || coalesce(':' || r.department, '') ORDER BY r.role) FROM auth.users u JOIN auth.roles r ON r.user_id = u.id WHERE u.email = 'sso@koblenz.example' GROUP BY u.id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), format!("{issuer}|sso-person"));
    assert_eq!(row.get::<_, Vec<String>>(1), ["editor", "triage:tiefbau"]);
    let audited: i64 = client
        .query_one(
            "SELECT count(*) FROM catalog.audit_log WHERE action = 'auth.sign_in_sso'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);
    // A forged or replayed state is refused.
    let forged = get("/admin/login/sso/zurueck?state=erfunden&code=x");
    assert_eq!(forged.status, 400);
    let pending: i64 = client
        .query_one("SELECT count(*) FROM auth.oidc_pending", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(pending, 0, "the used state is gone");
}

#[tokio::test]
async fn the_back_office_works_by_keyboard_on_a_phone_and_passes_axe() {
    let url = with_staff().await;
    with_gebaeude_dataset(&url).await;
    // Admin and editor together: every page of the back office.
    let (ok, err) = cli(
        &url,
        &[
            "user",
            "set-roles",
            "admin@test.example",
            "--role",
            "admin",
            "--role",
            "editor",
        ],
        "",
    );
    assert!(ok, "{err}");
    let app = app(&url, |_| {}).await;
    let cookie = enrolled_admin(&app).await;
    let port = stadtkarte_tests::serve(app).await;
    let mut urls = Vec::new();
    for lang in ["de", "en"] {
        for path in [
            "/admin",
            "/admin/konto",
            "/admin/benutzer",
            "/admin/audit",
            "/admin/sammlungen",
            "/admin/datensaetze",
            "/admin/datensaetze/gebaeude",
        ] {
            urls.push(format!("http://127.0.0.1:{port}{path}?lang={lang}"));
        }
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/pages.mjs");
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .args(&urls)
        .env("COOKIE", &cookie)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), urls.len(), "{stdout}");
    for r in &results {
        let at = r["url"].as_str().unwrap();
        let serious: Vec<&serde_json::Value> = r["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(serious.is_empty(), "axe on {at}: {r}");
        assert_eq!(r["firstFocus"], "skip-link", "{at}: {r}");
        assert!(
            r["phone"]["scrollWidth"].as_i64().unwrap() <= 360,
            "{at} is wider than a phone: {r}"
        );
    }
    // The sign-in page too (no session).
    let login = tokio::process::Command::new("node")
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}/admin/login"))
        .output()
        .await
        .unwrap();
    let r: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&login.stdout)
            .lines()
            .find(|l| l.starts_with('{'))
            .unwrap(),
    )
    .unwrap();
    assert!(
        r["violations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| !matches!(v["impact"].as_str(), Some("serious" | "critical"))),
        "{r}"
    );
}

#[tokio::test]
async fn editors_change_datasets_and_publish_switches_in_the_browser_and_the_log_shows_it() {
    let url = with_staff().await;
    let client = connect(&url).await;
    client
        .batch_execute(
            "CREATE TABLE data.gebaeude (id bigint PRIMARY KEY, geom geometry(Point, 25832));
             INSERT INTO catalog.collections (id, title, table_name, geometry_type, license, attribution) VALUES ('gebaeude', 'Gebäude', 'gebaeude', 'Point', 'x', 'y');
             INSERT INTO catalog.imagery (id, title, year, license, attribution, grayscale, resolution_m, footprint, min_zoom, max_zoom, version, levels, source_bytes, storage_bytes)
             VALUES ('luftbild-1996', 'Luftbild 1996', 1996, 'dl-by-de/2.0', 'Stadt', false, 0.4, ST_Multi(ST_MakeEnvelope(7.5, 50.3, 7.7, 50.4, 4326)), 10, 18, 'v1', '[]', 1, 1)",
        )
        .await
        .unwrap();
    let app = app(&url, |_| {}).await;
    let cookie = sign_in(&app, "editor@test.example").await;
    let csrf = csrf_of(&app, &cookie).await;
    // A new dataset, then a changed title and its collection.
    let r = send(&app, form("/admin/datensaetze", &format!("csrf={csrf}&id=haeuser&title=H%C3%A4user&description=Alle+H%C3%A4user&collections=gebaeude"), Some(&cookie), Some(ORIGIN))).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let edit = send(&app, page("/admin/datensaetze/haeuser", Some(&cookie))).await;
    assert_eq!(edit.status, 200);
    let body = format!(
        "csrf={csrf}&title=Geb%C3%A4ude+der+Stadt&title_en=Buildings&description=Alle&keywords=Haus&themes=REGI&license=dl-zero-de%2F2.0&attribution=Stadt&frequency=ANNUAL&collections=gebaeude&imagery=luftbild-1996"
    );
    let r = send(
        &app,
        form(
            "/admin/datensaetze/haeuser",
            &body,
            Some(&cookie),
            Some(ORIGIN),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = stadtkarte_opendata::registry::get(&client, "haeuser")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (d.title.as_str(), d.imagery.len()),
        ("Gebäude der Stadt", 1)
    );
    assert!(d.license.ends_with("dl-zero-de/2.0"));
    // A refused value is shown, nothing changes.
    let bad = send(
        &app,
        form(
            "/admin/datensaetze/haeuser",
            &body.replace("REGI", "MOND"),
            Some(&cookie),
            Some(ORIGIN),
        ),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("MOND"), "{}", bad.text());
    // The epoch is withdrawn: no longer served.
    let r = send(
        &app,
        form(
            "/admin/luftbilder/luftbild-1996",
            &format!("csrf={csrf}&on=false"),
            Some(&cookie),
            Some(ORIGIN),
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    let published: bool = client
        .query_one(
            "SELECT published FROM catalog.imagery WHERE id = 'luftbild-1996'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!published);
    let list = send(&app, Request::get("/imagery").body(Body::empty()).unwrap()).await;
    assert!(!list.text().contains("luftbild-1996"), "{}", list.text());
    // The admin's log shows who did what, before and after, and exports it as CSV.
    let (ok, err) = cli(
        &url,
        &[
            "user",
            "set-roles",
            "editor@test.example",
            "--role",
            "editor",
        ],
        "",
    );
    assert!(ok, "{err}");
    let rows = client
        .query("SELECT action, before::text, after::text FROM catalog.audit_log WHERE actor LIKE 'staff:%' ORDER BY chain", &[])
        .await
        .unwrap();
    let actions: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        actions,
        ["dataset.add", "dataset.update", "imagery.publish"],
        "{actions:?}"
    );
    let update_after: String = rows[1].get(2);
    assert!(update_after.contains("Gebäude der Stadt"), "{update_after}");
    let audit_app = app.clone();
    let admin = enrolled_admin(&audit_app).await;
    let filtered = send(
        &audit_app,
        page("/admin/audit?action=dataset.update", Some(&admin)),
    )
    .await;
    assert_eq!(filtered.status, 200);
    let text = filtered.text();
    assert!(
        text.contains("dataset.update") && !text.contains("imagery.publish"),
        "{text}"
    );
    let csv = send(
        &audit_app,
        page("/admin/audit?action=dataset&f=csv", Some(&admin)),
    )
    .await;
    assert_eq!(csv.header("content-type"), "text/csv; charset=utf-8");
    let csv_text = csv.text();
    assert!(
        csv_text
            .trim_start_matches('\u{feff}')
            .starts_with("nr,zeit,wer,was,objekt,aenderung,anfrage"),
        "{csv_text}"
    );
    assert_eq!(
        csv_text.lines().count(),
        3,
        "header and the two dataset entries: {csv_text}"
    );
    assert!(
        !csv_text.contains("editor@test.example"),
        "no e-mail in the log"
    );
}
