//! The Mängelmelder in a real browser (headless Chromium driven by playwright-core): a citizen
//! places the pin on the map, picks the category, describes, attaches a photo, gives an e-mail
//! address and sends; a member of staff signs in with the second factor and sets the status in
//! the back office; the status mail reaches a real SMTP server; the tracking page shows the new
//! status and, once the report is released, the photo (without its metadata). Then every page
//! of the Mängelmelder, the citizens' and the staff's, in German and English: axe-core finds
//! nothing serious, the skip link is the keyboard's first stop, no page is wider than a
//! 360-pixel phone — the staff pages also with their folded forms opened.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use stadtkarte_core::auth::{Role, users};
use stadtkarte_tests::{SmtpServer, connect, free_port, get, maengel_app, serve};

use crate::maengel::jpeg_with_metadata;

const REPORTER: &str = "anwohnerin@example.org";
const STAFF: &str = "sb.tiefbau@koblenz.example";
const PASSWORD: &str = "Rhein und Mosel 1958";
const DESCRIPTION: &str = "Tiefes Schlagloch vor der Einfahrt, etwa 40 cm breit.";
const NOTE: &str = "Das Schlagloch wurde verfüllt.";

fn serious(violations: &Value) -> Vec<&Value> {
    violations
        .as_array()
        .unwrap_or_else(|| panic!("no violations list: {violations}"))
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect()
}

fn with_lang(path: &str, lang: &str) -> String {
    let join = if path.contains('?') { '&' } else { '?' };
    format!("{path}{join}lang={lang}")
}

/// Runs `node tests/browser/SCRIPT ARGS` (with `COOKIE` when given); returns the JSON lines it
/// printed. Fails the test when node fails or takes longer than five minutes.
async fn node(script: &str, args: &[String], cookie: Option<&str>) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("browser")
        .join(script);
    let mut command = tokio::process::Command::new("node");
    command.arg(&path).args(args).kill_on_drop(true);
    if let Some(c) = cookie {
        command.env("COOKIE", c);
    }
    let out = tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .unwrap_or_else(|_| panic!("node {script} took longer than five minutes"))
        .unwrap_or_else(|e| panic!("cannot run node {script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node {script} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The path of the first link in `mail` that contains `part`.
fn link_in(mail: &str, part: &str) -> String {
    let word = mail
        .split_whitespace()
        .find(|w| w.contains(part))
        .unwrap_or_else(|| panic!("no link with {part} in the mail: {mail}"));
    word[word.find("/maengel/").unwrap()..].to_owned()
}

/// The keyboard, axe and phone results of `pages.mjs` for `urls`.
async fn check_pages(urls: &[String], cookie: Option<&str>) {
    let results = node("pages.mjs", urls, cookie).await;
    assert_eq!(results.len(), urls.len(), "{results:?}");
    for r in &results {
        let url = r["url"].as_str().unwrap();
        let status = r["status"].as_u64().unwrap();
        assert!(status == 200 || status == 400, "{url}: status {status}");
        assert!(serious(&r["violations"]).is_empty(), "axe on {url}: {r}");
        assert_eq!(r["firstFocus"], "skip-link", "{url}: {r}");
        assert_eq!(r["skipVisible"], true, "{url}: the focused skip link shows");
        assert_eq!(r["focusVisible"], true, "{url}: a visible focus: {r}");
        assert_eq!(
            r["afterSkip"], "inhalt",
            "{url}: the skip link leads to main"
        );
        assert_eq!(
            r["nextInHeader"], false,
            "{url}: past the skip link, not back"
        );
        assert!(
            r["phone"]["scrollWidth"].as_u64().unwrap() <= 360,
            "{url}: wider than a phone: {r}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_in_the_browser_from_the_map_to_the_status_mail_and_every_page_accessible() {
    let smtp_port = free_port();
    let smtp = SmtpServer::start(smtp_port);
    let (app, state) = maengel_app(|c| {
        c.mail.enabled = true;
        c.mail.smtp_port = smtp_port;
        c.mail.interval_secs = 1;
        // A browser, the mail sender and the test share the machine: wait longer than the
        // default 3 s for a pooled connection before a page answers 503.
        c.database.connect_timeout_secs = 10;
    })
    .await;
    stadtkarte_maengelmelder::tasks::spawn(state.clone());
    // A member of staff of the road department who also administers the Mängelmelder (so the
    // second factor is required and every staff page is open to them).
    let client = connect(&state.config.database.url).await;
    let hash = state.hasher.hash(PASSWORD).await.unwrap();
    let staff_id = users::add(&client, STAFF, "Sachbearbeitung Tiefbau", Some(&hash))
        .await
        .unwrap();
    users::set_roles(
        &client,
        staff_id,
        &[
            (Role::Admin, None),
            (Role::Triage, Some("tiefbau".to_owned())),
        ],
    )
    .await
    .unwrap();
    let port = serve(app.clone()).await;
    let base = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("IMG_2041.JPG");
    std::fs::write(&photo, jpeg_with_metadata(1024, 768)).unwrap();

    // The walk through, in the browser.
    let scenario = json!({
        "category": "strassenschaden",
        "answer": ["attribute[art]", "schlagloch"],
        "description": DESCRIPTION,
        "photo": photo.display().to_string(),
        "email": REPORTER,
        "staffEmail": STAFF,
        "staffPassword": PASSWORD,
        "status": "erledigt",
        "note": NOTE,
    });
    let lines = node("maengel.mjs", &[base.clone(), scenario.to_string()], None).await;
    let r = lines.first().expect("the script's result");
    assert!(r["error"].is_null(), "the walk through failed: {r:#}");
    let steps = &r["steps"];

    // The pin came from a click on the map, inside the city, with the place named.
    let pin = &steps["pin"];
    assert_eq!(pin["usable"], true, "the map did not come up: {pin}");
    let placed = pin["tries"].as_array().unwrap().last().unwrap();
    assert_eq!(
        placed["error"], false,
        "no click landed inside the city: {pin}"
    );
    assert_eq!(placed["marker"], true, "the marker shows: {placed}");
    assert!(
        placed["status"].as_str().unwrap().starts_with("Ort:"),
        "{placed}"
    );
    let lat: f64 = placed["lat"].as_str().unwrap().parse().unwrap();
    let lon: f64 = placed["lon"].as_str().unwrap().parse().unwrap();
    assert!(
        steps["step2"]["url"]
            .as_str()
            .unwrap()
            .contains("kategorie=strassenschaden")
    );
    assert_eq!(steps["step2"]["updatesChecked"], true);
    assert_eq!(steps["citizenErrors"], json!([]), "script errors: {r}");

    // The confirmation names the number; the report is stored where the pin was, with the photo.
    let id = r["id"].as_i64().unwrap();
    let confirmation = &steps["confirmation"];
    assert!(
        confirmation["number"]
            .as_str()
            .unwrap()
            .contains(&id.to_string()),
        "{confirmation}"
    );
    assert_eq!(
        confirmation["tracking"],
        format!("/maengel/{id}?lang=de"),
        "{confirmation}"
    );
    let row = client
        .query_one(
            "SELECT category, description, reporter_email, wants_updates, attributes,
                    ST_Y(ST_Transform(geom, 4326)), ST_X(ST_Transform(geom, 4326)),
                    (SELECT count(*) FROM maengel.photos p WHERE p.report_id = r.id)
             FROM maengel.reports r WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "strassenschaden");
    assert_eq!(row.get::<_, String>(1), DESCRIPTION);
    assert_eq!(row.get::<_, String>(2), REPORTER);
    assert!(row.get::<_, bool>(3), "wants updates");
    assert_eq!(row.get::<_, Value>(4), json!({"art": "schlagloch"}));
    assert!((row.get::<_, f64>(5) - lat).abs() < 1e-5, "lat");
    assert!((row.get::<_, f64>(6) - lon).abs() < 1e-5, "lon");
    assert_eq!(row.get::<_, i64>(7), 1, "one photo");

    // Before the review the tracking page shows the status, neither description nor photo.
    let before = &steps["before"];
    assert_eq!(before["status"], "Eingegangen", "{before}");
    assert!(!before["main"].as_str().unwrap().contains(DESCRIPTION));
    assert_eq!(before["photos"], json!([]));

    // Staff: signed in with the second factor (ten recovery codes shown), status set.
    assert_eq!(steps["recovery"]["codes"], 10, "{r}");
    assert_eq!(steps["statusSet"]["status"], "Erledigt", "{r}");
    assert_eq!(steps["staffErrors"], json!([]), "script errors: {r}");
    let after = &steps["afterStatus"];
    assert_eq!(after["status"], "Erledigt", "{after}");
    assert!(after["main"].as_str().unwrap().contains(NOTE), "{after}");
    assert_eq!(after["photos"], json!([]), "not released yet");
    let audit: Vec<String> = client
        .query(
            "SELECT action FROM catalog.audit_log WHERE subject = $1 AND actor = $2 ORDER BY chain",
            &[&format!("report:{id}"), &format!("staff:{staff_id}")],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(audit, ["report.status", "report.release"], "{audit:?}");

    // Released: the description and the photo, which loads and carries no metadata.
    let released = &steps["afterRelease"];
    assert!(
        released["main"].as_str().unwrap().contains(DESCRIPTION),
        "{released}"
    );
    let photos = released["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 1, "{released}");
    assert!(photos[0]["width"].as_u64().unwrap() > 0, "the photo loads");
    let thumb = get(&app, photos[0]["src"].as_str().unwrap(), &[]).await;
    assert_eq!(thumb.status, 200);
    assert_eq!(&thumb.body[..2], b"\xFF\xD8");
    for gone in [&b"Exif"[..], b"GPS-50.3569", b"Musterfrau"] {
        assert!(
            !thumb.body.windows(gone.len()).any(|w| w == gone),
            "{} survived",
            String::from_utf8_lossy(gone)
        );
    }

    // The mail: first the confirmation, then the status with the note and the reporter's links.
    let confirmation_mail = smtp.wait_for(REPORTER, Duration::from_secs(30));
    assert!(
        confirmation_mail.contains(&format!("Nr. {id}")),
        "{confirmation_mail}"
    );
    let started = std::time::Instant::now();
    let status_mail = loop {
        if let Some(m) = smtp.messages().into_iter().find(|m| {
            m.lines()
                .any(|l| l.starts_with("To:") && l.contains(REPORTER))
                && m.contains(NOTE)
        }) {
            break m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no status mail arrived: {:?}",
            smtp.messages()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        status_mail.contains("Erledigt") && status_mail.contains(&format!("Nr. {id}")),
        "{status_mail}"
    );
    let feedback = link_in(&status_mail, "/rueckmeldung/");
    let unsubscribe = link_in(&status_mail, "/abmelden/");
    assert_eq!(get(&app, &feedback, &[]).await.status, 200, "{feedback}");
    assert_eq!(
        get(&app, &unsubscribe, &[]).await.status,
        200,
        "{unsubscribe}"
    );

    // The staff pages with their folded forms opened.
    let cookie = r["cookie"].as_str().expect("a session cookie").to_owned();
    let opened = r["opened"].as_array().unwrap();
    assert_eq!(opened.len(), 6, "{r}");
    for page in opened {
        let url = page["url"].as_str().unwrap();
        assert_eq!(page["status"], 200, "{url}: {page}");
        assert!(page["details"].as_u64().unwrap() > 0, "{url}: {page}");
        assert!(
            serious(&page["violations"]).is_empty(),
            "axe on {url}: {page}"
        );
        assert!(
            page["phone"]["scrollWidth"].as_u64().unwrap() <= 360,
            "{url}: wider than a phone: {page}"
        );
    }

    // Two more reports, so that the lists, the queue and "Schon gemeldet?" have open ones: a
    // street light in progress, and the same pothole again (not yet reviewed).
    let (colleague, csrf, _) = crate::maengel::staff(
        &state,
        "sb.beleuchtung@koblenz.example",
        &[(Role::Triage, Some("tiefbau"))],
    )
    .await;
    let light = crate::maengel::report_at(
        &app,
        "beleuchtung",
        lat + 0.0005,
        lon,
        "Laterne flackert nachts.",
        "",
        &[],
    )
    .await;
    let r = crate::maengel::staff_post(
        &app,
        &colleague,
        &format!("/admin/maengel/{light}/status"),
        &format!("csrf={csrf}&status=in_bearbeitung&notiz="),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    crate::maengel::report_at(
        &app,
        "strassenschaden",
        lat,
        lon,
        "Schon wieder ein Loch.",
        "",
        &[("attribute[art]", "riss")],
    )
    .await;
    let second_step =
        format!("/maengel/melden?kategorie=strassenschaden&lat={lat:.6}&lon={lon:.6}");
    assert!(
        get(&app, &second_step, &[])
            .await
            .text()
            .contains("id=\"schon-gemeldet\""),
        "step 2 shows the report nearby"
    );

    // Every page of the Mängelmelder in both languages: citizens' ...
    let citizen = [
        "/maengel".to_owned(),
        "/maengel?status=offen&kategorie=strassenschaden".to_owned(),
        "/maengel/melden".to_owned(),
        // Step 1 again with what is wrong: no category, an unknown address.
        "/maengel/melden?adresse=Gibtsnichtweg+999".to_owned(),
        // Step 2, with a report nearby ("Schon gemeldet?").
        second_step,
        format!("/maengel/{id}/eingegangen"),
        format!("/maengel/{id}"),
        "/maengel/statistik".to_owned(),
        "/maengel/datenschutz".to_owned(),
        feedback.clone(),
        unsubscribe.clone(),
    ];
    let mut urls = Vec::new();
    for path in &citizen {
        for lang in ["de", "en"] {
            urls.push(format!("{base}{}", with_lang(path, lang)));
        }
    }
    check_pages(&urls, None).await;
    // ... and the staff's.
    let staff = [
        "/admin/maengel".to_owned(),
        "/admin/maengel?status=alle".to_owned(),
        format!("/admin/maengel/{id}"),
        "/admin/postausgang".to_owned(),
        "/admin/maengel/kategorien".to_owned(),
    ];
    let mut urls = Vec::new();
    for path in &staff {
        for lang in ["de", "en"] {
            urls.push(format!("{base}{}", with_lang(path, lang)));
        }
    }
    check_pages(&urls, Some(&cookie)).await;

    // Looking changed nothing: the feedback and unsubscribe pages act only on their buttons.
    let row = client
        .query_one(
            "SELECT status, wants_updates FROM maengel.reports WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "erledigt");
    assert!(row.get::<_, bool>(1));
}
