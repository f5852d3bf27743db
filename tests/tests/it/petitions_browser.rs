//! The petitions map end to end in a real browser (headless Chromium driven by playwright-core,
//! `tests/browser/petitionen.mjs`) against a real `stadtkarte serve` over a copy of the demo
//! city, with a real SMTP server catching the mail: a citizen starts a petition about an area
//! drawn on the map — three corners by keyboard, one by a click — and confirms it from the mail
//! (the link's page changes nothing, its button does); a moderator signs in with the second
//! factor and publishes it; another citizen signs (postcode 56068, district Süd, shown with the
//! district only) and confirms from the mail likewise; the petition's page, watched all along,
//! follows by itself: the count, the district's cell and the district on the choropleth (its
//! tooltip and its colour). Every page of the way passes axe-core at 1280 and 360 pixels without
//! a serious or critical violation and is no wider than the phone, in German and English.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stadtkarte_core::auth::password::Hasher;
use stadtkarte_core::auth::{Role, users};
use stadtkarte_tests::{ServerProcess, SmtpServer, connect, demo_copy, free_port, http_raw};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const TITLE: &str = "Mehr Bäume und Bänke im Viertel";
const TEXT: &str = "Auf der gezeichneten Fläche fehlen Schatten und Sitzplätze. Wir bitten den Stadtrat, dort Bäume zu pflanzen und Bänke aufzustellen.";
const CREATOR_NAME: &str = "Petra Petentin";
const CREATOR: &str = "petra.petentin@example.org";
const SIGNER_NAME: &str = "Ulrich Unterzeichner";
const SIGNER: &str = "ulrich.unterzeichner@example.net";
const DISTRICT: &str = "Süd";
const MODERATOR: &str = "moderation@koblenz.example";
const PASSWORD: &str = "Rhein und Mosel 1958";
const MIN_FILL_SECS: u64 = 3;

fn serious(violations: &Value) -> Vec<&Value> {
    violations
        .as_array()
        .unwrap_or_else(|| panic!("no violations list: {violations}"))
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect()
}

/// The message to `recipient` that contains `part` (waiting up to 30 s for it); when none
/// comes, the failure shows the petitions' outbox and the server's log.
fn mail_to(
    smtp: &SmtpServer,
    server: &ServerProcess,
    url: &str,
    recipient: &str,
    part: &str,
) -> String {
    let started = Instant::now();
    loop {
        if let Some(m) = smtp.messages().into_iter().find(|m| {
            m.lines()
                .any(|l| l.starts_with("To:") && l.contains(recipient))
                && m.contains(part)
        }) {
            return m;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let outbox: Vec<String> = tokio::runtime::Handle::current().block_on(async {
                connect(url)
                    .await
                    .query(
                        "SELECT concat_ws(' | ', recipient, kind, attempts, last_error, sent_at::text)
                         FROM petitions.outbox ORDER BY id",
                        &[],
                    )
                    .await
                    .map_or_else(|e| vec![e.to_string()], |rows| rows.iter().map(|r| r.get(0)).collect())
            });
            panic!(
                "no mail to {recipient} with {part} arrived; received: {:?}\noutbox: {outbox:#?}\nserver log:\n{}",
                smtp.messages(),
                std::fs::read_to_string(server.log.path()).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The path of the first link in `mail` that contains `part`.
fn link_in(mail: &str, part: &str) -> String {
    let word = mail
        .split_whitespace()
        .find(|w| w.contains(part))
        .unwrap_or_else(|| panic!("no link with {part} in the mail: {mail}"));
    word[word.find("/petitionen/").unwrap()..].to_owned()
}

/// A GET to the server process; status and body.
fn fetch(port: u16, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let r = http_raw(port, request.as_bytes(), Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no answer to {path}"));
    (r.status, r.text())
}

/// Status, confirmation time and place kind of the petition `id`.
async fn petition_row(client: &tokio_postgres::Client, id: i64) -> (String, bool, String) {
    let row = client
        .query_one(
            "SELECT status, confirmed_at IS NOT NULL, place_kind FROM petitions.petitions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

/// The signatures of petition `id`: how many, how many confirmed, and the counted total.
async fn signature_rows(client: &tokio_postgres::Client, id: i64) -> (i64, i64, i64) {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM petitions.signatures WHERE petition_id = $1),
                    (SELECT count(*) FROM petitions.signatures WHERE petition_id = $1 AND confirmed_at IS NOT NULL),
                    (SELECT coalesce(sum(n), 0)::bigint FROM petitions.counts WHERE petition_id = $1)",
            &[&id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

/// The distinct values among `values` (those closer than 1e-4° are one), sorted.
fn clusters(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    let mut out: Vec<f64> = Vec::new();
    for v in values {
        if out.last().is_none_or(|last| (v - last).abs() > 1e-4) {
            out.push(v);
        }
    }
    out
}

fn ring(geometry: &Value) -> Vec<(f64, f64)> {
    assert_eq!(geometry["type"], "Polygon", "{geometry}");
    geometry["coordinates"][0]
        .as_array()
        .unwrap_or_else(|| panic!("no ring: {geometry}"))
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_petition_drawn_on_the_map_is_confirmed_published_signed_and_shown_per_district() {
    let smtp_port = free_port();
    let smtp = SmtpServer::start(smtp_port);
    let url = demo_copy().await;
    let client = connect(&url).await;
    // A moderator (no other role); moderators sign in with the second factor here.
    let hash = Hasher::new(1).hash(PASSWORD).await.unwrap();
    let staff_id = users::add(
        &client,
        MODERATOR,
        "Moderation Bürgerbeteiligung",
        Some(&hash),
    )
    .await
    .unwrap();
    users::set_roles(&client, staff_id, &[(Role::Moderator, None)])
        .await
        .unwrap();
    let smtp_port_text = smtp_port.to_string();
    let min_fill = MIN_FILL_SECS.to_string();
    let server = ServerProcess::start(&[
        ("STADTKARTE_DATABASE__URL", &url),
        // A browser, the mail sender and the test share the machine.
        ("STADTKARTE_DATABASE__CONNECT_TIMEOUT_SECS", "10"),
        ("STADTKARTE_MAIL__ENABLED", "true"),
        ("STADTKARTE_MAIL__SMTP_PORT", &smtp_port_text),
        ("STADTKARTE_MAIL__INTERVAL_SECS", "1"),
        ("STADTKARTE_AUTH__TOTP_REQUIRED_FOR", "[admin, moderator]"),
        ("STADTKARTE_PETITIONS__MIN_FILL_SECS", &min_fill),
        ("STADTKARTE_LOG__LEVEL", "warn"),
    ]);
    let port = server.port;
    let base = format!("http://127.0.0.1:{port}");

    // The walk through, in the browser; the script asks for what only the test knows.
    let scenario = json!({
        "title": TITLE,
        "text": TEXT,
        "topic": "umwelt",
        "creatorName": CREATOR_NAME,
        "creatorEmail": CREATOR,
        "signerName": SIGNER_NAME,
        "signerEmail": SIGNER,
        "postcode": "56068",
        "district": DISTRICT,
        "staffEmail": MODERATOR,
        "staffPassword": PASSWORD,
        "minFillSecs": MIN_FILL_SECS,
    });
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/petitionen.mjs");
    let mut child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(&base)
        .arg(scenario.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot run node");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut id = 0_i64;
    let mut asked = Vec::new();
    let mut result = None;
    let walk = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Ok(message) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let Some(question) = message["ask"].as_str() else {
                result = Some(message);
                continue;
            };
            asked.push(question.to_owned());
            let answer = match question {
                "creatorLink" => {
                    let mail = tokio::task::block_in_place(|| {
                        mail_to(&smtp, &server, &url, CREATOR, "/petitionen/bestaetigen/")
                    });
                    assert!(mail.contains(TITLE), "{mail}");
                    let rows = client
                        .query(
                            "SELECT id, creator_email, creator_public FROM petitions.petitions WHERE title = $1",
                            &[&TITLE],
                        )
                        .await
                        .unwrap();
                    assert_eq!(rows.len(), 1, "one petition stored");
                    id = rows[0].get(0);
                    assert_eq!(rows[0].get::<_, String>(1), CREATOR);
                    assert!(rows[0].get::<_, bool>(2), "the name is to be shown");
                    assert_eq!(
                        petition_row(&client, id).await,
                        ("pending".to_owned(), false, "area".to_owned())
                    );
                    json!({"link": link_in(&mail, "/petitionen/bestaetigen/"), "id": id})
                }
                "creatorPageSeen" => {
                    // The link's page (opened five times) confirmed nothing.
                    assert_eq!(
                        petition_row(&client, id).await,
                        ("pending".to_owned(), false, "area".to_owned()),
                        "a GET of the creator's link changed the petition"
                    );
                    json!({})
                }
                "signatureLink" => {
                    let mail = tokio::task::block_in_place(|| {
                        mail_to(&smtp, &server, &url, SIGNER, "/petitionen/unterschrift/")
                    });
                    assert!(mail.contains(TITLE), "{mail}");
                    let row = client
                        .query_one(
                            "SELECT email, postcode, district, resident, visibility
                             FROM petitions.signatures WHERE petition_id = $1",
                            &[&id],
                        )
                        .await
                        .unwrap();
                    assert_eq!(row.get::<_, String>(0), SIGNER);
                    assert_eq!(row.get::<_, String>(1), "56068");
                    assert_eq!(row.get::<_, String>(2), DISTRICT);
                    assert!(row.get::<_, bool>(3), "a resident");
                    assert_eq!(row.get::<_, String>(4), "district");
                    assert_eq!(signature_rows(&client, id).await, (1, 0, 0));
                    json!({"link": link_in(&mail, "/petitionen/unterschrift/")})
                }
                "signaturePageSeen" => {
                    assert_eq!(
                        signature_rows(&client, id).await,
                        (1, 0, 0),
                        "a GET of the signature's link counted it"
                    );
                    json!({})
                }
                other => panic!("the script asked for {other}"),
            };
            stdin
                .write_all(format!("{answer}\n").as_bytes())
                .await
                .unwrap();
            stdin.flush().await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(600), walk)
        .await
        .unwrap_or_else(|_| panic!("the browser took longer than ten minutes"));
    let status = child.wait().await.unwrap();
    let stderr = errors.await.unwrap();
    assert!(status.success(), "node failed: {stderr}");
    let r = result.unwrap_or_else(|| panic!("the script printed no result: {stderr}"));
    assert!(
        r["error"].is_null(),
        "the walk through failed: {r:#}\n{stderr}\nserver log:\n{}",
        std::fs::read_to_string(server.log.path()).unwrap_or_default()
    );
    assert_eq!(
        asked,
        [
            "creatorLink",
            "creatorPageSeen",
            "signatureLink",
            "signaturePageSeen"
        ]
    );
    assert_eq!(r["id"], id);
    let steps = &r["steps"];

    // 1. The area, drawn: "Fläche" by an arrow key, the map by Tab, three corners by keyboard
    //    (Enter on the map, then twice the button after moving with an arrow key), one by a
    //    click; the hidden field has a polygon from the third corner on.
    let draw = &steps["draw"];
    assert_eq!(
        draw["visibleBefore"], true,
        "the script offers drawing: {draw}"
    );
    assert_eq!(draw["areaChecked"], true, "{draw}");
    assert!(
        draw["hint"]
            .as_str()
            .unwrap()
            .contains("Eckpunkt hier hinzufügen"),
        "{draw}"
    );
    assert!(
        draw["tabsToMap"].as_i64().unwrap() > 0,
        "Tab reaches the map: {draw}"
    );
    assert!(
        draw["tabsToButton"].as_i64().unwrap() > 0,
        "Tab reaches the button: {draw}"
    );
    let expected = [
        "Noch kein Eckpunkt gesetzt.",
        "1 Eckpunkt – noch 2 bis zur Fläche",
        "2 Eckpunkte – noch 1 bis zur Fläche",
        "3 Eckpunkte – die Fläche ist geschlossen",
        "4 Eckpunkte – die Fläche ist geschlossen",
    ];
    let drawn = draw["steps"].as_array().unwrap();
    assert_eq!(drawn.len(), expected.len(), "{draw}");
    for (i, (step, status)) in drawn.iter().zip(expected).enumerate() {
        assert_eq!(step["status"], status, "step {i}: {draw}");
        let field = step["geometrie"].as_str().unwrap();
        if i < 3 {
            assert_eq!(field, "", "no polygon yet at step {i}: {draw}");
        } else {
            let g: Value = serde_json::from_str(field).unwrap();
            assert_eq!(ring(&g).len(), i + 1, "step {i}: {draw}");
        }
    }
    assert!(
        drawn[1]["focus"].as_str().unwrap().starts_with("canvas"),
        "Enter on the map: {draw}"
    );
    // A rectangle: one arrow step east, one south, one (the click) west of the last.
    let geometry = &draw["geometry"];
    let corners = ring(geometry);
    assert_eq!(corners.first(), corners.last(), "closed: {geometry}");
    let lons = clusters(corners[..4].iter().map(|c| c.0).collect());
    let lats = clusters(corners[..4].iter().map(|c| c.1).collect());
    assert_eq!(lons.len(), 2, "two longitudes: {geometry}");
    assert_eq!(lats.len(), 2, "two latitudes: {geometry}");
    assert!(
        lons[1] - lons[0] > 1e-3 && lats[1] - lats[0] > 5e-4,
        "{geometry}"
    );
    assert!(
        (7.4..7.8).contains(&lons[0]) && (50.2..50.5).contains(&lats[0]),
        "in Koblenz: {geometry}"
    );

    // The creator's way: "check your mail", the link's page with its button, confirmed.
    let started = &steps["started"];
    assert_eq!(started["status"], 200, "{started}");
    assert_eq!(
        started["heading"], "Bitte bestätigen Sie Ihre E-Mail-Adresse",
        "{started}"
    );
    assert!(
        started["text"].as_str().unwrap().contains(TITLE),
        "{started}"
    );
    let page = &steps["creatorPage"];
    assert_eq!(page["status"], 200, "{page}");
    assert_eq!(page["heading"], "Petition bestätigen", "{page}");
    assert_eq!(page["button"], "Petition bestätigen", "{page}");
    let confirmed = &steps["creatorConfirmed"];
    assert_eq!(confirmed["status"], 200, "{confirmed}");
    assert_eq!(confirmed["heading"], "Petition bestätigt", "{confirmed}");
    assert!(
        confirmed["text"]
            .as_str()
            .unwrap()
            .contains("Moderation prüft"),
        "{confirmed}"
    );
    assert_eq!(steps["citizenErrors"], json!([]), "script errors: {r}");

    // 3. The moderator: the second factor enrolled, the petition in the queue, its preview with
    //    the drawn area, published.
    assert_eq!(steps["signIn"]["after"], "/admin/login/einrichten", "{r}");
    assert_eq!(steps["signIn"]["recoveryCodes"], 10, "{r}");
    let queue = &steps["queue"];
    assert_eq!(queue["url"], "/admin/petitionen", "{queue}");
    let row = queue["row"].as_str().unwrap();
    assert!(row.contains(TITLE) && row.contains("In Prüfung"), "{queue}");
    let detail = &steps["detail"];
    assert_eq!(detail["status"], "In Prüfung", "{detail}");
    let preview = detail["preview"].as_str().unwrap();
    assert!(
        preview.contains(TITLE) && preview.contains(TEXT),
        "{detail}"
    );
    assert!(
        detail["drawnShape"].as_str().unwrap().starts_with('M'),
        "the drawn area in the preview's map: {detail}"
    );
    let published = &steps["published"];
    assert_eq!(
        published["status"], "Offen für Unterschriften",
        "{published}"
    );
    assert!(
        published["notice"]
            .as_str()
            .unwrap()
            .starts_with("Die Petition ist veröffentlicht"),
        "{published}"
    );
    assert!(
        published["publicLink"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/petitionen/{id}")),
        "{published}"
    );
    assert_eq!(steps["staffErrors"], json!([]), "script errors: {r}");

    // 4. Before the signature: 0 everywhere, the district drawn in the colour of 0.
    let before = &steps["before"];
    assert_eq!(before["counts"]["signatures"], "0", "{before}");
    assert_eq!(before["counts"]["district"], "0", "{before}");
    assert_eq!(before["choropleth"]["found"], true, "{before}");
    assert_eq!(
        before["choropleth"]["tooltip"],
        format!("{DISTRICT}: 0 Unterschriften"),
        "{before}"
    );
    let pixels_before: Vec<u64> = serde_json::from_value(before["pixels"].clone()).unwrap();
    assert!(
        pixels_before[0] > 10_000,
        "districts in the colour of 0: {before}"
    );
    assert_eq!(pixels_before[1..], [0, 0, 0, 0], "{before}");

    // The petition's public page, then signing: "check your mail", the link's page, confirmed.
    let petition = &steps["petitionPage"];
    assert_eq!(petition["heading"], TITLE, "{petition}");
    assert_eq!(petition["status"], "Offen für Unterschriften", "{petition}");
    let main = petition["main"].as_str().unwrap();
    assert!(
        main.contains(TEXT) && main.contains(CREATOR_NAME),
        "{petition}"
    );
    assert!(
        !main.contains(CREATOR),
        "the creator's address is not public"
    );
    let signed = &steps["signed"];
    assert_eq!(signed["status"], 200, "{signed}");
    assert_eq!(
        signed["heading"], "Bitte bestätigen Sie Ihre Unterschrift",
        "{signed}"
    );
    let page = &steps["signaturePage"];
    assert_eq!(page["status"], 200, "{page}");
    assert_eq!(page["heading"], "Unterschrift bestätigen", "{page}");
    assert_eq!(page["button"], "Unterschrift bestätigen", "{page}");
    let counted = &steps["signatureConfirmed"];
    assert_eq!(counted["status"], 200, "{counted}");
    assert_eq!(
        counted["heading"], "Vielen Dank – Ihre Unterschrift zählt",
        "{counted}"
    );
    assert_eq!(steps["signerErrors"], json!([]), "script errors: {r}");

    // 5. The watched page followed by itself: the count, the district's cell, the tooltip and
    //    the colour of the district on the choropleth (the next class: 1–2).
    let after = &steps["after"];
    assert_eq!(
        after["live"], true,
        "the page did not update itself: {after}"
    );
    assert_eq!(after["sameDocument"], true, "without a reload: {after}");
    assert_eq!(after["counts"]["signatures"], "1", "{after}");
    assert_eq!(after["counts"]["residents"], "1", "{after}");
    assert_eq!(after["counts"]["district"], "1", "{after}");
    assert_eq!(after["choropleth"]["found"], true, "{after}");
    assert_eq!(
        after["choropleth"]["tooltip"],
        format!("{DISTRICT}: 1 Unterschrift"),
        "{after}"
    );
    let pixels_after: Vec<u64> = serde_json::from_value(after["pixels"].clone()).unwrap();
    assert!(
        pixels_after[1] > 200,
        "the district in the colour of 1–2: {after}"
    );
    assert_eq!(pixels_after[2..], [0, 0, 0], "{after}");
    assert!(pixels_after[0] < pixels_before[0], "{before} {after}");
    assert_eq!(steps["watcherErrors"], json!([]), "script errors: {r}");
    let reloaded = &steps["reloaded"];
    assert_eq!(reloaded["counts"]["signatures"], "1", "{reloaded}");
    assert_eq!(reloaded["counts"]["district"], "1", "{reloaded}");
    let signers = reloaded["signers"].as_str().unwrap_or_default();
    assert!(signers.contains(&format!("({DISTRICT})")), "{reloaded}");
    let main = reloaded["main"].as_str().unwrap();
    assert!(
        !main.contains(SIGNER_NAME) && !main.contains(SIGNER),
        "shown with the district only: {reloaded}"
    );

    // 6. Every page of the way: no serious violation, no wider than a phone.
    let audits = r["audits"].as_array().unwrap();
    assert_eq!(audits.len(), 23, "{r}");
    for a in audits {
        let url = a["url"].as_str().unwrap();
        for width in ["desk", "phone"] {
            let v = &a[width];
            assert!(
                serious(&v["violations"]).is_empty(),
                "axe at {width} on {url}: {a}"
            );
            if !v["status"].is_null() {
                assert_eq!(v["status"], 200, "{url}: {a}");
                assert_eq!(v["errors"], json!([]), "script errors on {url}: {a}");
            }
        }
        assert!(
            a["phone"]["scrollWidth"].as_u64().unwrap() <= 360,
            "{url}: wider than a phone: {a}"
        );
    }
    let loaded = audits
        .iter()
        .filter(|a| !a["desk"]["status"].is_null())
        .count();
    assert_eq!(
        loaded, 18,
        "pages loaded by URL (the rest as a form's answer): {r}"
    );
    let english = audits
        .iter()
        .filter(|a| a["url"].as_str().unwrap().ends_with("lang=en"))
        .count();
    assert_eq!(english, 9, "{r}");

    // The database: open, one confirmed signature counted for Süd; the history in the audit log.
    assert_eq!(
        petition_row(&client, id).await,
        ("open".to_owned(), true, "area".to_owned())
    );
    assert_eq!(signature_rows(&client, id).await, (1, 1, 1));
    let counted: i32 = client
        .query_one(
            "SELECT n FROM petitions.counts WHERE petition_id = $1 AND district = $2 AND resident",
            &[&id, &DISTRICT],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(counted, 1);
    let audit: Vec<(String, String)> = client
        .query(
            "SELECT action, actor FROM catalog.audit_log WHERE subject = $1 ORDER BY chain",
            &[&format!("petition:{id}")],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let staff = format!("staff:{staff_id}");
    assert_eq!(
        audit,
        [
            ("petition.create".to_owned(), "bürger".to_owned()),
            ("petition.confirm".to_owned(), "bürger".to_owned()),
            ("petition.publish".to_owned(), staff),
        ],
        "{audit:?}"
    );

    // The JSON: the counts per district and the place as drawn; the map's GeoJSON has it.
    let (status, body) = fetch(port, &format!("/petitionen/{id}.json"));
    assert_eq!(status, 200, "{body}");
    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(p["signatures"], 1, "{p}");
    assert_eq!(p["residents"], 1, "{p}");
    assert_eq!(
        p["signatures_by_district"],
        json!([{"district": DISTRICT, "signatures": 1}]),
        "{p}"
    );
    let stored = ring(&p["geometry"]);
    assert_eq!(stored.len(), corners.len(), "{p}");
    for (a, b) in stored.iter().zip(&corners) {
        assert!(
            (a.0 - b.0).abs() < 1e-5 && (a.1 - b.1).abs() < 1e-5,
            "stored {stored:?}, drawn {corners:?}"
        );
    }
    let (status, body) = fetch(port, "/petitionen/karte.geojson");
    assert_eq!(status, 200, "{body}");
    let map: Value = serde_json::from_str(&body).unwrap();
    let feature = map["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("the petition is not on the map: {map}"));
    assert_eq!(feature["geometry"]["type"], "Polygon", "{feature}");
    assert_eq!(feature["properties"]["signatures"], 1, "{feature}");

    // The mail: the creator also heard that the petition is in moderation and then published.
    let published_mail = tokio::task::block_in_place(|| {
        mail_to(&smtp, &server, &url, CREATOR, "kann unterschrieben werden")
    });
    assert!(
        published_mail.contains(TITLE) && published_mail.contains(&format!("/petitionen/{id}")),
        "{published_mail}"
    );
    let to_creator = smtp
        .messages()
        .into_iter()
        .filter(|m| {
            m.lines()
                .any(|l| l.starts_with("To:") && l.contains(CREATOR))
        })
        .count();
    assert_eq!(to_creator, 3, "confirmation, in moderation, published");
    drop(server);
}
