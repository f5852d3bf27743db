//! The petitions' citizens' pages: starting a petition (districts without JavaScript, a drawn
//! area), the creator's and the signers' confirmation (a GET changes nothing, the button's POST
//! confirms), signing with duplicates, aliases and the household rule, the counts per district
//! in the JSON, every kind of bad input, the mail server and the database going away, the
//! lists and downloads without personal data, and comments with report-and-hide.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use stadtkarte_core::AppState;
use stadtkarte_core::client::Peer;
use stadtkarte_core::config::Config;
use stadtkarte_tests::{TestResponse, connect, get, maengel_app, send};

use crate::maengel::stamp_of;

/// The application over a demo city of its own, forms accepted at once.
async fn petitions_app(tweak: impl FnOnce(&mut Config)) -> (Router, AppState) {
    maengel_app(|c| {
        c.petitions.min_fill_secs = 0;
        "https://karte.koblenz.example".clone_into(&mut c.server.public_url);
        tweak(c);
    })
    .await
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

/// Posts a form (as a browser: HTML preferred) from the client at `peer`.
async fn post(app: &Router, path: &str, fields: &[(&str, &str)], peer: &str) -> TestResponse {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut request = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .body(Body::from(body))
        .unwrap();
    request
        .extensions_mut()
        .insert(Peer(format!("{peer}:40000").parse().unwrap()));
    send(app, request).await
}

/// A fresh stamp of the petitions' forms.
async fn stamp(app: &Router) -> String {
    stamp_of(&get(app, "/petitionen/neu", &[]).await.text())
}

async fn count(state: &AppState, sql: &str) -> i64 {
    connect(&state.config.database.url)
        .await
        .query_one(sql, &[])
        .await
        .unwrap()
        .get(0)
}

/// The link in the latest mail to `to` that starts with `prefix`.
async fn link_in_mail(state: &AppState, to: &str, prefix: &str) -> String {
    let body: String = connect(&state.config.database.url)
        .await
        .query_one(
            "SELECT body FROM petitions.outbox WHERE recipient = $1 ORDER BY id DESC LIMIT 1",
            &[&to],
        )
        .await
        .unwrap_or_else(|e| panic!("no mail to {to}: {e}"))
        .get(0);
    let at = body
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in: {body}"));
    body[at..].split_whitespace().next().unwrap().to_owned()
}

const TEXT: &str =
    "Die Kreuzung ist für Kinder auf dem Schulweg gefährlich; wir bitten um eine Ampel.";

/// Starts a petition about `districts` (no JavaScript); returns the response.
async fn start(
    app: &Router,
    title: &str,
    email: &str,
    extra: &[(&str, &str)],
    peer: &str,
) -> TestResponse {
    let stamp = stamp(app).await;
    let mut fields = vec![
        ("titel", title),
        ("text", TEXT),
        ("thema", "verkehr"),
        ("name", "Petra Petentin"),
        ("email", email),
        ("datenschutz", "ja"),
        ("stamp", stamp.as_str()),
    ];
    fields.extend_from_slice(extra);
    post(app, "/petitionen/neu", &fields, peer).await
}

async fn petition_id(state: &AppState, title: &str) -> i64 {
    connect(&state.config.database.url)
        .await
        .query_one(
            "SELECT id FROM petitions.petitions WHERE title = $1",
            &[&title],
        )
        .await
        .unwrap()
        .get(0)
}

/// An open petition about Altstadt and Mitte (started, confirmed and published).
async fn open_petition(app: &Router, state: &AppState, title: &str) -> i64 {
    let email = "petentin@example.org";
    let r = start(
        app,
        title,
        email,
        &[("stadtteile", "Altstadt"), ("stadtteile", "Mitte")],
        "198.51.100.200",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let link = link_in_mail(
        state,
        email,
        "https://karte.koblenz.example/petitionen/bestaetigen/",
    )
    .await;
    let path = link.trim_start_matches("https://karte.koblenz.example");
    assert_eq!(post(app, path, &[], "198.51.100.200").await.status, 200);
    let id = petition_id(state, title).await;
    let client = connect(&state.config.database.url).await;
    assert!(
        stadtkarte_petitions::model::publish(&client, &state.config.petitions, id)
            .await
            .unwrap()
    );
    id
}

/// Signs petition `id`; the response.
async fn sign(
    app: &Router,
    id: i64,
    name: &str,
    email: &str,
    plz: &str,
    district: &str,
    peer: &str,
) -> TestResponse {
    let stamp = stamp(app).await;
    post(
        app,
        &format!("/petitionen/{id}/unterschreiben"),
        &[
            ("name", name),
            ("email", email),
            ("plz", plz),
            ("stadtteil", district),
            ("sichtbarkeit", "oeffentlich"),
            ("datenschutz", "ja"),
            ("stamp", &stamp),
            ("website", ""),
        ],
        peer,
    )
    .await
}

/// Signs and confirms through the mail's link.
async fn sign_and_confirm(
    app: &Router,
    state: &AppState,
    id: i64,
    name: &str,
    email: &str,
    plz: &str,
    district: &str,
) {
    let r = sign(app, id, name, email, plz, district, "198.51.100.7").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let link = link_in_mail(
        state,
        email,
        "https://karte.koblenz.example/petitionen/unterschrift/",
    )
    .await;
    let path = link.trim_start_matches("https://karte.koblenz.example");
    let r = post(app, path, &[], "198.51.100.7").await;
    assert_eq!(r.status, 200, "{}", r.text());
}

async fn status_of(state: &AppState, id: i64) -> String {
    connect(&state.config.database.url)
        .await
        .query_one(
            "SELECT status FROM petitions.petitions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0)
}

async fn petition_json(app: &Router, id: i64) -> serde_json::Value {
    let r = get(app, &format!("/petitionen/{id}.json"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn starting_a_petition_without_javascript_and_confirming_it_by_the_button() {
    let (app, state) = petitions_app(|_| {}).await;
    let form = get(&app, "/petitionen/neu", &[]).await;
    assert_eq!(form.status, 200);
    let html = form.text();
    for expected in [
        "class=\"needs-js\" hidden",
        "<input type=\"hidden\" name=\"geometrie\" id=\"geometrie\"",
        "id=\"petition-draw\"",
        "name=\"stadtteile\" value=\"Altstadt\"",
        "name=\"website\"",
        "value=\"verkehr\"",
    ] {
        assert!(html.contains(expected), "{expected}");
    }
    assert!(
        get(&app, "/petitionen/neu?lang=en", &[])
            .await
            .text()
            .contains("Start a petition")
    );
    let title = "Ampel an der Schulkreuzung in der Altstadt";
    let r = start(
        &app,
        title,
        "petra@example.org",
        &[("stadtteile", "Mitte"), ("stadtteile", "Altstadt")],
        "198.51.100.1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("E-Mail"), "{}", r.text());
    let client = connect(&state.config.database.url).await;
    let row = client
        .query_one(
            "SELECT id, status, place_kind, districts FROM petitions.petitions WHERE title = $1",
            &[&title],
        )
        .await
        .unwrap();
    let id: i64 = row.get(0);
    assert_eq!(row.get::<_, String>(1), "pending");
    assert_eq!(row.get::<_, String>(2), "districts");
    assert_eq!(row.get::<_, Vec<String>>(3), ["Altstadt", "Mitte"]);
    // The audit entry names the petition, never the person.
    let audit = client
        .query_one(
            "SELECT actor, details::text FROM catalog.audit_log WHERE action = 'petition.create' AND subject = $1",
            &[&format!("petition:{id}")],
        )
        .await
        .unwrap();
    assert_eq!(audit.get::<_, String>(0), "bürger");
    assert!(!audit.get::<_, String>(1).contains("petra"));
    // Not public while pending.
    assert_eq!(
        get(&app, &format!("/petitionen/{id}"), &[]).await.status,
        404
    );
    // The mail's link opens a page with a button; opening it changes nothing.
    let link = link_in_mail(
        &state,
        "petra@example.org",
        "https://karte.koblenz.example/petitionen/bestaetigen/",
    )
    .await;
    let path = link
        .trim_start_matches("https://karte.koblenz.example")
        .to_owned();
    for _ in 0..2 {
        let page = get(&app, &path, &[]).await;
        assert_eq!(page.status, 200);
        assert!(
            page.text().contains("<form method=\"post\""),
            "{}",
            page.text()
        );
        assert!(page.text().contains(title));
    }
    assert_eq!(
        status_of(&state, id).await,
        "pending",
        "a GET confirms nothing"
    );
    // The button confirms: to moderation, the creator told, audited.
    let r = post(&app, &path, &[], "198.51.100.1").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(status_of(&state, id).await, "moderation");
    assert_eq!(
        count(&state, &format!("SELECT count(*) FROM catalog.audit_log WHERE action = 'petition.confirm' AND subject = 'petition:{id}'")).await,
        1
    );
    assert_eq!(
        count(&state, "SELECT count(*) FROM petitions.outbox WHERE recipient = 'petra@example.org' AND kind = 'moderation'").await,
        1
    );
    // Again: already confirmed, nothing new.
    let again = post(&app, &path, &[], "198.51.100.1").await;
    assert_eq!(again.status, 200);
    assert_eq!(
        count(&state, &format!("SELECT count(*) FROM catalog.audit_log WHERE action = 'petition.confirm' AND subject = 'petition:{id}'")).await,
        1
    );
    // A forged token: 404 with a clear text.
    let forged = get(&app, "/petitionen/bestaetigen/gefaelscht", &[]).await;
    assert_eq!(forged.status, 404);
    assert!(forged.text().contains("ungültig oder abgelaufen"));
    assert_eq!(
        post(
            &app,
            "/petitionen/bestaetigen/gefaelscht",
            &[],
            "198.51.100.1"
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn sponsors_sign_through_the_creators_link_and_complete_the_petition() {
    let (app, state) = petitions_app(|c| c.petitions.sponsors = 1).await;
    let title = "Mehr Fahrradständer am Hauptbahnhof";
    let r = start(
        &app,
        title,
        "sponsor-petentin@example.org",
        &[("stadtteile", "Süd")],
        "198.51.100.3",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let link = link_in_mail(
        &state,
        "sponsor-petentin@example.org",
        "https://karte.koblenz.example/petitionen/bestaetigen/",
    )
    .await;
    let r = post(
        &app,
        link.trim_start_matches("https://karte.koblenz.example"),
        &[],
        "198.51.100.3",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("unterstuetzen="),
        "the sponsors' link is shown"
    );
    let id = petition_id(&state, title).await;
    let sponsor_link = link_in_mail(
        &state,
        "sponsor-petentin@example.org",
        &format!("/petitionen/{id}?unterstuetzen="),
    )
    .await;
    let key = sponsor_link
        .split("unterstuetzen=")
        .nth(1)
        .unwrap()
        .to_owned();
    // Without the key the petition is not there; with it the sign form carries the key.
    assert_eq!(
        get(&app, &format!("/petitionen/{id}"), &[]).await.status,
        404
    );
    let page = get(&app, &format!("/petitionen/{id}?unterstuetzen={key}"), &[]).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text()
            .contains(&format!("name=\"unterstuetzen\" value=\"{key}\""))
    );
    // A signature without the key is refused (404); with it, confirmed, it completes the sponsors.
    assert_eq!(
        sign(
            &app,
            id,
            "Ohne Schlüssel",
            "ohne@example.org",
            "56068",
            "",
            "198.51.100.4"
        )
        .await
        .status,
        404
    );
    let stamp = stamp(&app).await;
    let r = post(
        &app,
        &format!("/petitionen/{id}/unterschreiben"),
        &[
            ("name", "Sina Sponsor"),
            ("email", "sina@example.org"),
            ("plz", "56068"),
            ("sichtbarkeit", "anonym"),
            ("datenschutz", "ja"),
            ("unterstuetzen", &key),
            ("stamp", &stamp),
        ],
        "198.51.100.4",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let link = link_in_mail(
        &state,
        "sina@example.org",
        "https://karte.koblenz.example/petitionen/unterschrift/",
    )
    .await;
    assert_eq!(
        post(
            &app,
            link.trim_start_matches("https://karte.koblenz.example"),
            &[],
            "198.51.100.4"
        )
        .await
        .status,
        200
    );
    assert_eq!(status_of(&state, id).await, "moderation");
}

/// A square of `metres` around a point inside district `name`, and the point, as GeoJSON.
async fn shapes_in(state: &AppState, name: &str, metres: f64) -> (String, String) {
    let row = connect(&state.config.database.url)
        .await
        .query_one(
            "SELECT ST_AsGeoJSON(ST_Transform(ST_Envelope(ST_Buffer(p, $2)), 4326), 6),
                    ST_AsGeoJSON(ST_Transform(p, 4326), 6)
             FROM (SELECT ST_PointOnSurface(geom) AS p FROM data.stadtteile WHERE name = $1) x",
            &[&name, &metres],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn starting_a_petition_with_a_drawn_area_or_point() {
    let (app, state) = petitions_app(|_| {}).await;
    let (square, point) = shapes_in(&state, "Lützel", 40.0).await;
    let title = "Spielplatz an der Mosel sanieren und beschatten";
    let r = start(
        &app,
        title,
        "flaeche@example.org",
        &[("ort", "flaeche"), ("geometrie", &square)],
        "198.51.100.2",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let row = connect(&state.config.database.url)
        .await
        .query_one(
            "SELECT place_kind, districts, ST_GeometryType(geom), ST_SRID(geom) FROM petitions.petitions WHERE title = $1",
            &[&title],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "area");
    assert!(row.get::<_, Vec<String>>(1).contains(&"Lützel".to_owned()));
    assert_eq!(row.get::<_, String>(2), "ST_Polygon");
    assert_eq!(row.get::<_, i32>(3), 25832);
    let title = "Zebrastreifen vor der Grundschule in Lützel";
    let r = start(
        &app,
        title,
        "punkt@example.org",
        &[("ort", "punkt"), ("geometrie", &point)],
        "198.51.100.2",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let kind: String = connect(&state.config.database.url)
        .await
        .query_one(
            "SELECT place_kind FROM petitions.petitions WHERE title = $1",
            &[&title],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kind, "point");
}

#[tokio::test]
async fn bad_petitions_come_back_with_the_message_and_nothing_is_stored() {
    let (app, state) = petitions_app(|_| {}).await;
    let (_, point) = shapes_in(&state, "Mitte", 10.0).await;
    let centre: serde_json::Value = serde_json::from_str(&point).unwrap();
    let (x, y) = (
        centre["coordinates"][0].as_f64().unwrap(),
        centre["coordinates"][1].as_f64().unwrap(),
    );
    let d = 0.0005;
    // A bow tie: its edges cross.
    let bowtie = serde_json::json!({"type": "Polygon", "coordinates": [[
        [x - d, y - d], [x + d, y + d], [x + d, y - d], [x - d, y + d], [x - d, y - d]]]})
    .to_string();
    let berlin = serde_json::json!({"type": "Polygon", "coordinates": [[
        [13.40, 52.50], [13.41, 52.50], [13.41, 52.51], [13.40, 52.51], [13.40, 52.50]]]})
    .to_string();
    // Partly outside: a box far larger than the city.
    let too_big = serde_json::json!({"type": "Polygon", "coordinates": [[
        [x - 0.5, y - 0.5], [x + 0.5, y - 0.5], [x + 0.5, y + 0.5], [x - 0.5, y + 0.5], [x - 0.5, y - 0.5]]]})
    .to_string();
    let long_title = "T".repeat(151);
    let long_text = "x".repeat(6001);
    let ok_title = "Eine gültige Überschrift für die Petition";
    let cases: Vec<(Vec<(&str, &str)>, &str, &str)> = vec![
        (
            vec![
                ("titel", ok_title),
                ("ort", "flaeche"),
                ("geometrie", &bowtie),
            ],
            "überschneiden",
            "self-intersecting",
        ),
        (
            vec![
                ("titel", ok_title),
                ("ort", "flaeche"),
                ("geometrie", &berlin),
            ],
            "außerhalb der Stadt",
            "outside",
        ),
        (
            vec![
                ("titel", ok_title),
                ("ort", "flaeche"),
                ("geometrie", &too_big),
            ],
            "außerhalb der Stadt",
            "partly outside",
        ),
        (
            vec![
                ("titel", ok_title),
                ("ort", "flaeche"),
                ("geometrie", "{kein json"),
            ],
            "nicht gelesen werden",
            "malformed",
        ),
        (
            vec![("titel", ok_title), ("stadtteile", "Atlantis")],
            "gibt es nicht",
            "unknown district",
        ),
        (
            vec![("titel", ok_title)],
            "mindestens einen Stadtteil",
            "no place",
        ),
        (
            vec![("titel", &long_title), ("stadtteile", "Mitte")],
            "10 bis 150 Zeichen",
            "long title",
        ),
        (
            vec![
                ("titel", ok_title),
                ("text", &long_text),
                ("stadtteile", "Mitte"),
            ],
            "30 bis 6000 Zeichen",
            "long text",
        ),
        (
            vec![
                ("titel", ok_title),
                ("thema", "unbekannt"),
                ("stadtteile", "Mitte"),
            ],
            "Bitte wählen Sie ein Thema",
            "unknown topic",
        ),
    ];
    for (fields, message, what) in cases {
        let stamp = stamp(&app).await;
        let mut all = vec![
            ("name", "Petra Petentin"),
            ("email", "fehler@example.org"),
            ("datenschutz", "ja"),
            ("stamp", stamp.as_str()),
        ];
        // The case's own text and topic win over the defaults.
        if !fields.iter().any(|(k, _)| *k == "text") {
            all.push(("text", TEXT));
        }
        if !fields.iter().any(|(k, _)| *k == "thema") {
            all.push(("thema", "verkehr"));
        }
        all.extend(fields.iter().copied());
        let r = post(&app, "/petitionen/neu", &all, "198.51.100.9").await;
        assert_eq!(r.status, 422, "{what}: {}", r.text());
        let html = r.text();
        assert!(html.contains(message), "{what}: {html}");
        assert!(html.contains("role=\"alert\""), "{what}: the error summary");
        assert!(
            html.contains("fehler@example.org"),
            "{what}: what was typed is kept"
        );
    }
    assert_eq!(
        count(&state, "SELECT count(*) FROM petitions.petitions").await,
        0,
        "nothing stored"
    );
    assert_eq!(
        count(&state, "SELECT count(*) FROM petitions.outbox").await,
        0
    );
    // The decoy filled: refused, nothing stored.
    let r = start(
        &app,
        ok_title,
        "bot@example.org",
        &[("stadtteile", "Mitte"), ("website", "http://spam.example")],
        "198.51.100.9",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        count(&state, "SELECT count(*) FROM petitions.petitions").await,
        0
    );
}

#[tokio::test]
async fn signing_confirming_and_counting_by_district() {
    let (app, state) = petitions_app(|_| {}).await;
    let id = open_petition(&app, &state, "Tempo 30 vor allen Schulen der Stadt").await;
    let page = get(&app, &format!("/petitionen/{id}"), &[]).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    for expected in [
        "data-live=\"signatures\">0<",
        "data-live=\"residents\">0<",
        "data-live-district=\"Altstadt\"",
        &format!("id=\"petition-choropleth\" data-id=\"{id}\""),
        "id=\"petition-place\" data-geometry=\"{&#34;type&#34;",
        &format!("action=\"/petitionen/{id}/unterschreiben?lang=de\""),
        "name=\"sichtbarkeit\" value=\"oeffentlich\"",
    ] {
        assert!(html.contains(expected), "{expected}: {html}");
    }
    assert!(!html.contains("petentin@example.org"));
    // Signed: stored, unconfirmed, not counted.
    let r = sign(
        &app,
        id,
        "Erika Muster",
        "erika@example.org",
        "56068",
        "Altstadt",
        "198.51.100.7",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("E-Mail"));
    let link = link_in_mail(
        &state,
        "erika@example.org",
        "https://karte.koblenz.example/petitionen/unterschrift/",
    )
    .await;
    let path = link
        .trim_start_matches("https://karte.koblenz.example")
        .to_owned();
    // A mail scanner opens the link: a page with a button, nothing confirmed.
    for _ in 0..3 {
        let opened = get(&app, &path, &[]).await;
        assert_eq!(opened.status, 200);
        assert!(opened.text().contains("Unterschrift bestätigen"));
        assert!(opened.text().contains("Tempo 30 vor allen Schulen"));
    }
    assert_eq!(
        count(
            &state,
            "SELECT count(*) FROM petitions.signatures WHERE confirmed_at IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(petition_json(&app, id).await["signatures"], 0);
    // The button confirms.
    let r = post(&app, &path, &[], "198.51.100.7").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(&format!("/petitionen/{id}")));
    let json = petition_json(&app, id).await;
    assert_eq!(json["signatures"], 1);
    assert_eq!(json["residents"], 1);
    assert_eq!(
        json["signatures_by_district"],
        serde_json::json!([{"district": "Altstadt", "signatures": 1}])
    );
    // Again: already counted, no double counting.
    let again = post(&app, &path, &[], "198.51.100.7").await;
    assert_eq!(again.status, 200);
    assert!(again.text().contains("bereits bestätigt"));
    assert_eq!(petition_json(&app, id).await["signatures"], 1);
    // From outside the city: counts, but not as a resident.
    sign_and_confirm(
        &app,
        &state,
        id,
        "Bernd Berlin",
        "bernd@example.org",
        "10115",
        "",
    )
    .await;
    // A city postcode without a district: a resident of no known district.
    sign_and_confirm(
        &app,
        &state,
        id,
        "Clara Stadt",
        "clara@example.org",
        "56068",
        "",
    )
    .await;
    let json = petition_json(&app, id).await;
    assert_eq!(json["signatures"], 3);
    assert_eq!(json["residents"], 2);
    assert_eq!(
        json["signatures_by_district"],
        serde_json::json!([
            {"district": "", "signatures": 1},
            {"district": "Altstadt", "signatures": 1}
        ])
    );
    assert_eq!(json["threshold"], 2000);
    assert_eq!(json["residents_only"], true);
    assert!(json["days_left"].as_i64().unwrap() > 100);
    assert_eq!(json["geometry"]["type"], "MultiPolygon");
    // The same address again, and a Gmail alias of one: 409.
    let r = sign(
        &app,
        id,
        "Erika Muster",
        "erika@example.org",
        "56068",
        "Altstadt",
        "198.51.100.8",
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("bereits unterschrieben"));
    sign_and_confirm(
        &app,
        &state,
        id,
        "Max Muster",
        "max.muster@gmail.com",
        "56070",
        "Lützel",
    )
    .await;
    let r = sign(
        &app,
        id,
        "Maxi Muster",
        "MaxMuster+petition@googlemail.com",
        "56073",
        "",
        "198.51.100.8",
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text());
    // The household rule: the same address, another name, the same postcode.
    let r = sign(
        &app,
        id,
        "Moritz Muster",
        "max.muster@gmail.com",
        "56070",
        "Lützel",
        "198.51.100.8",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // … but not a third time.
    let r = sign(
        &app,
        id,
        "Mia Muster",
        "max.muster@gmail.com",
        "56070",
        "Lützel",
        "198.51.100.8",
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text());
    // The page: the public signer's name, the counts; never an address or a postcode.
    let html = get(&app, &format!("/petitionen/{id}"), &[]).await.text();
    assert!(html.contains("Erika Muster"));
    assert!(html.contains("data-live=\"signatures\">4<"), "{html}");
    assert!(html.contains("data-live-district=\"Lützel\">1<"), "{html}");
    for private in ["erika@example.org", "gmail", "10115", "198.51.100"] {
        assert!(!html.contains(private), "{private} on the page");
        assert!(!petition_json(&app, id).await.to_string().contains(private));
    }
}

#[tokio::test]
async fn closed_hidden_and_unknown_petitions_take_no_signatures() {
    let (app, state) = petitions_app(|_| {}).await;
    let closed = open_petition(&app, &state, "Geschlossene Petition zum Testen").await;
    let hidden = open_petition(&app, &state, "Verborgene Petition zum Testen").await;
    let client = connect(&state.config.database.url).await;
    client
        .execute(
            "UPDATE petitions.petitions SET status = 'closed', closed_at = now() WHERE id = $1",
            &[&closed],
        )
        .await
        .unwrap();
    client
        .execute("UPDATE petitions.petitions SET status = 'hidden', hidden_reason = 'Test' WHERE id = $1", &[&hidden])
        .await
        .unwrap();
    let r = sign(
        &app,
        closed,
        "Erika Muster",
        "e1@example.org",
        "56068",
        "",
        "198.51.100.7",
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        r.text().contains("keine Unterschriften"),
        "an HTML page for browsers"
    );
    // Without a browser's Accept: problem+json.
    let stamp = stamp(&app).await;
    let r = send(
        &app,
        Request::post(format!("/petitionen/{closed}/unterschreiben"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "name=E&email=e2%40example.org&plz=56068&sichtbarkeit=anonym&datenschutz=ja&stamp={}",
                urlencode(&stamp)
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.header("content-type"), "application/problem+json");
    assert_eq!(
        sign(
            &app,
            hidden,
            "Erika Muster",
            "e3@example.org",
            "56068",
            "",
            "198.51.100.7"
        )
        .await
        .status,
        404
    );
    assert_eq!(
        get(&app, &format!("/petitionen/{hidden}"), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        get(&app, &format!("/petitionen/{hidden}.json"), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        sign(
            &app,
            987_654,
            "Erika Muster",
            "e4@example.org",
            "56068",
            "",
            "198.51.100.7"
        )
        .await
        .status,
        404
    );
    let r = post(
        &app,
        "/petitionen/abc/unterschreiben",
        &[("name", "x")],
        "198.51.100.7",
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        count(&state, "SELECT count(*) FROM petitions.signatures").await,
        0
    );
    // The closed petition's page: no form; a signature confirmed after closing is not counted.
    let html = get(&app, &format!("/petitionen/{closed}"), &[])
        .await
        .text();
    assert!(!html.contains("/unterschreiben"));
}

#[tokio::test]
async fn forged_and_expired_signature_links_change_nothing() {
    let (app, state) = petitions_app(|_| {}).await;
    let id = open_petition(&app, &state, "Petition für die Prüfung der Links").await;
    for path in [
        "/petitionen/unterschrift/gefaelscht",
        "/petitionen/unterschrift/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let r = get(&app, path, &[]).await;
        assert_eq!(r.status, 404);
        assert!(r.text().contains("ungültig oder abgelaufen"));
        assert_eq!(post(&app, path, &[], "198.51.100.7").await.status, 404);
    }
    let r = sign(
        &app,
        id,
        "Spät Dran",
        "spaet@example.org",
        "56068",
        "Altstadt",
        "198.51.100.7",
    )
    .await;
    assert_eq!(r.status, 200);
    let link = link_in_mail(
        &state,
        "spaet@example.org",
        "https://karte.koblenz.example/petitionen/unterschrift/",
    )
    .await;
    let path = link
        .trim_start_matches("https://karte.koblenz.example")
        .to_owned();
    connect(&state.config.database.url)
        .await
        .execute(
            "UPDATE petitions.signatures SET created_at = now() - interval '100 hours'",
            &[],
        )
        .await
        .unwrap();
    let r = get(&app, &path, &[]).await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("noch einmal"), "sign again: {}", r.text());
    assert_eq!(post(&app, &path, &[], "198.51.100.7").await.status, 404);
    assert_eq!(
        count(
            &state,
            "SELECT count(*) FROM petitions.signatures WHERE confirmed_at IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(petition_json(&app, id).await["signatures"], 0);
}

#[tokio::test]
async fn postcodes_and_fields_are_checked_and_what_was_typed_is_kept() {
    let (app, state) = petitions_app(|_| {}).await;
    let id = open_petition(&app, &state, "Petition für die Prüfung der Felder").await;
    for plz in ["1234", "ABCDE", "560681"] {
        let r = sign(
            &app,
            id,
            "Erika Muster",
            "erika@example.org",
            plz,
            "",
            "198.51.100.7",
        )
        .await;
        assert_eq!(r.status, 422, "{plz}: {}", r.text());
        let html = r.text();
        assert!(html.contains("fünf Ziffern"), "{plz}");
        assert!(html.contains("value=\"erika@example.org\""), "{plz}: kept");
        assert!(html.contains(&format!("value=\"{plz}\"")), "{plz}: kept");
        assert!(html.contains("aria-invalid=\"true\""));
    }
    // A district that does not exist, no consent, no e-mail: each at its field.
    let stamp = stamp(&app).await;
    let r = post(
        &app,
        &format!("/petitionen/{id}/unterschreiben?lang=en"),
        &[
            ("name", "Erika"),
            ("email", "keine-adresse"),
            ("plz", "56068"),
            ("stadtteil", "Atlantis"),
            ("sichtbarkeit", "oeffentlich"),
            ("stamp", &stamp),
        ],
        "198.51.100.7",
    )
    .await;
    assert_eq!(r.status, 422);
    let html = r.text();
    for field in ["#feld-email", "#feld-stadtteil", "#feld-datenschutz"] {
        assert!(html.contains(field), "{field}: {html}");
    }
    assert!(html.contains("<html lang=\"en\">"));
    assert_eq!(
        count(&state, "SELECT count(*) FROM petitions.signatures").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_mail_server_down_the_signature_is_stored_and_the_mail_waits() {
    let port = stadtkarte_tests::free_port();
    let (app, state) = petitions_app(|c| {
        c.mail.enabled = true;
        c.mail.smtp_port = port;
        c.mail.interval_secs = 1;
        c.mail.retry_base_secs = 1;
    })
    .await;
    stadtkarte_petitions::tasks::spawn(state.clone());
    let id = open_petition(&app, &state, "Petition während die Post streikt").await;
    let r = sign(
        &app,
        id,
        "Geduldige Person",
        "geduldig@example.org",
        "56068",
        "Mitte",
        "198.51.100.7",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        count(
            &state,
            "SELECT count(*) FROM petitions.signatures WHERE email = 'geduldig@example.org'"
        )
        .await,
        1
    );
    let client = connect(&state.config.database.url).await;
    let started = std::time::Instant::now();
    loop {
        let row = client
            .query_one("SELECT attempts, sent_at IS NULL, last_error FROM petitions.outbox WHERE recipient = 'geduldig@example.org'", &[])
            .await
            .unwrap();
        if row.get::<_, i32>(0) > 0 {
            assert!(row.get::<_, bool>(1), "not sent");
            assert!(row.get::<_, Option<String>>(2).is_some());
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no attempt was made"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The server comes up; the mail arrives, and its link confirms.
    let smtp = stadtkarte_tests::SmtpServer::start(port);
    let message = tokio::task::spawn_blocking(move || {
        let m = smtp.wait_for("geduldig@example.org", Duration::from_secs(30));
        drop(smtp);
        m
    })
    .await
    .unwrap();
    let at = message
        .find("https://karte.koblenz.example/petitionen/unterschrift/")
        .unwrap_or_else(|| panic!("no link: {message}"));
    let link = message[at..].split_whitespace().next().unwrap();
    let path = link.trim_start_matches("https://karte.koblenz.example");
    assert_eq!(post(&app, path, &[], "198.51.100.7").await.status, 200);
    assert_eq!(petition_json(&app, id).await["signatures"], 1);
}

#[tokio::test]
async fn the_database_going_away_during_signing_keeps_the_form_and_stores_nothing() {
    let (app, state) = petitions_app(|c| c.database.pool_size = 2).await;
    let id = open_petition(&app, &state, "Petition während die Datenbank fehlt").await;
    let stamp = stamp(&app).await;
    let db_name = state
        .config
        .database
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let admin = connect(&stadtkarte_tests::shared_cluster().url("postgres")).await;
    let before = (
        count(&state, "SELECT count(*) FROM petitions.signatures").await,
        count(&state, "SELECT count(*) FROM petitions.outbox").await,
    );
    admin
        .batch_execute(&format!("ALTER DATABASE {db_name} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    admin
        .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", &[&db_name])
        .await
        .unwrap();
    let r = post(
        &app,
        &format!("/petitionen/{id}/unterschreiben"),
        &[
            ("name", "Geduldige Person"),
            ("email", "geduldig@example.org"),
            ("plz", "56068"),
            ("sichtbarkeit", "stadtteil"),
            ("datenschutz", "ja"),
            ("stamp", &stamp),
        ],
        "198.51.100.7",
    )
    .await;
    admin
        .batch_execute(&format!("ALTER DATABASE {db_name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(!r.header("retry-after").is_empty());
    let html = r.text();
    assert!(
        html.contains("value=\"Geduldige Person\""),
        "the name is kept"
    );
    assert!(
        html.contains("value=\"geduldig@example.org\""),
        "the address is kept"
    );
    assert!(html.contains("nichts gespeichert"));
    let after = (
        count(&state, "SELECT count(*) FROM petitions.signatures").await,
        count(&state, "SELECT count(*) FROM petitions.outbox").await,
    );
    assert_eq!(after, before, "nothing half-stored");
    // Once it is back, the same signature goes through.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = sign(
        &app,
        id,
        "Geduldige Person",
        "geduldig@example.org",
        "56068",
        "",
        "198.51.100.7",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn the_lists_and_downloads_show_counts_and_never_personal_data() {
    let (app, state) = petitions_app(|_| {}).await;
    let id = open_petition(&app, &state, "Neue Bänke am Deutschen Eck").await;
    sign_and_confirm(
        &app,
        &state,
        id,
        "Erika Muster",
        "erika@example.org",
        "56068",
        "Altstadt",
    )
    .await;
    let page = get(&app, "/petitionen", &[]).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("Neue Bänke am Deutschen Eck"));
    assert!(
        html.contains("id=\"petitions-map\" data-src=\"/petitionen/karte.geojson?status=open\"")
    );
    assert!(html.contains("data-bbox=\"7."), "{html}");
    assert!(html.contains("1 von 2000"), "{html}");
    assert!(
        get(&app, "/petitionen?lang=en", &[])
            .await
            .text()
            .contains("1 of 2000 signatures from the city")
    );
    // Filters without JavaScript.
    let none = get(&app, "/petitionen?stadtteil=L%C3%BCtzel", &[])
        .await
        .text();
    assert!(!none.contains("Neue Bänke"));
    assert!(
        none.contains(
            "data-src=\"/petitionen/karte.geojson?status=open&#38;stadtteil=L%C3%BCtzel\""
        ),
        "{none}"
    );
    assert!(
        get(&app, "/petitionen?q=deutschen", &[])
            .await
            .text()
            .contains("Neue Bänke")
    );
    assert!(
        !get(&app, "/petitionen?status=closed", &[])
            .await
            .text()
            .contains("Neue Bänke")
    );
    assert!(
        !get(&app, "/petitionen?thema=umwelt", &[])
            .await
            .text()
            .contains("Neue Bänke")
    );
    let json = get(&app, "/petitionen.json?stadtteil=Altstadt", &[]).await;
    assert_eq!(json.status, 200);
    let json = json.json();
    assert_eq!(json["data"][0]["id"], id);
    assert_eq!(json["data"][0]["attributes"]["signatures"], 1);
    assert_eq!(json["data"][0]["attributes"]["residents"], 1);
    let csv = get(&app, "/petitionen.csv", &[]).await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").starts_with("text/csv"));
    let text = csv.text();
    assert!(text.starts_with("\u{feff}id,titel,status"), "{text}");
    assert!(
        text.contains(&format!("{id},Neue Bänke am Deutschen Eck,open,verkehr")),
        "{text}"
    );
    let geo = get(&app, "/petitionen/karte.geojson", &[]).await;
    assert_eq!(geo.header("content-type"), "application/geo+json");
    let geo = geo.json();
    assert_eq!(geo["type"], "FeatureCollection");
    let props = &geo["features"][0]["properties"];
    assert_eq!(props["id"], id);
    assert_eq!(props["signatures"], 1);
    assert_eq!(props["url"], format!("/petitionen/{id}"));
    assert!(geo["features"][0]["geometry"]["coordinates"].is_array());
    let per_district = get(&app, &format!("/petitionen/{id}.csv"), &[])
        .await
        .text();
    assert!(per_district.contains("Altstadt,1"), "{per_district}");
    let privacy = get(&app, "/petitionen/datenschutz", &[]).await;
    assert_eq!(privacy.status, 200);
    assert!(privacy.text().contains("stadtkarte privacy"));
    let hash: String = connect(&state.config.database.url)
        .await
        .query_one("SELECT client_hash FROM petitions.signatures LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    for path in [
        "/petitionen",
        "/petitionen.json",
        "/petitionen.csv",
        "/petitionen/karte.geojson",
        &format!("/petitionen/{id}"),
        &format!("/petitionen/{id}.json"),
        &format!("/petitionen/{id}.csv"),
    ] {
        let body = get(&app, path, &[]).await.text();
        for private in [
            "erika@example.org",
            "petentin@example.org",
            "Petra Petentin",
            hash.as_str(),
        ] {
            assert!(!body.contains(private), "{private} in {path}");
        }
    }
}

#[tokio::test]
async fn comments_are_hidden_after_three_reports_from_different_clients() {
    let (app, state) = petitions_app(|_| {}).await;
    let id = open_petition(&app, &state, "Petition mit Kommentaren zum Testen").await;
    let stamp = stamp(&app).await;
    let r = post(
        &app,
        &format!("/petitionen/{id}/kommentare"),
        &[
            ("autor", "Kommentatorin"),
            ("kommentar", "Unbedingt nötig!"),
            ("stamp", &stamp),
        ],
        "198.51.100.20",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let html = get(&app, &format!("/petitionen/{id}"), &[]).await.text();
    assert!(html.contains("Unbedingt nötig!"));
    let cid: i64 = connect(&state.config.database.url)
        .await
        .query_one("SELECT id FROM petitions.comments", &[])
        .await
        .unwrap()
        .get(0);
    // An over-long comment comes back with the text kept.
    let long = "y".repeat(2001);
    let r = post(
        &app,
        &format!("/petitionen/{id}/kommentare"),
        &[("kommentar", &long), ("stamp", &stamp)],
        "198.51.100.20",
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains(&long));
    let report = |peer: &'static str| {
        let app = app.clone();
        let stamp = stamp.clone();
        async move {
            post(
                &app,
                &format!("/petitionen/{id}/kommentare/{cid}/melden"),
                &[("stamp", &stamp)],
                peer,
            )
            .await
        }
    };
    // One client counts once.
    for _ in 0..3 {
        assert_eq!(report("198.51.100.21").await.status, 303);
    }
    assert_eq!(report("198.51.100.22").await.status, 303);
    let html = get(&app, &format!("/petitionen/{id}"), &[]).await.text();
    assert!(
        html.contains("Unbedingt nötig!"),
        "two reports: still shown"
    );
    assert_eq!(report("198.51.100.23").await.status, 303);
    let html = get(&app, &format!("/petitionen/{id}"), &[]).await.text();
    assert!(!html.contains("Unbedingt nötig!"), "three reports: hidden");
    let row = connect(&state.config.database.url)
        .await
        .query_one(
            "SELECT hidden, reports FROM petitions.comments WHERE id = $1",
            &[&cid],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, i32>(1), 3);
    // A hidden comment cannot be reported further.
    assert_eq!(report("198.51.100.24").await.status, 404);
}

#[tokio::test]
async fn without_comments_configured_there_is_no_form_and_no_route() {
    let (app, state) = petitions_app(|c| c.petitions.comments = false).await;
    let id = open_petition(&app, &state, "Petition ohne Kommentare zum Testen").await;
    let html = get(&app, &format!("/petitionen/{id}"), &[]).await.text();
    assert!(!html.contains("/kommentare"));
    let stamp = stamp(&app).await;
    let r = post(
        &app,
        &format!("/petitionen/{id}/kommentare"),
        &[("kommentar", "Hallo"), ("stamp", &stamp)],
        "198.51.100.20",
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        count(&state, "SELECT count(*) FROM petitions.comments").await,
        0
    );
}

#[tokio::test]
async fn signing_is_limited_per_client_and_per_mail_domain() {
    let (app, state) = petitions_app(|c| {
        c.petitions.signatures_per_client_hour = 2;
        c.petitions.signatures_per_domain_hour = 3;
    })
    .await;
    let id = open_petition(&app, &state, "Grenzen für zu viele Unterschriften").await;
    // One client: two signatures, the third is refused.
    for (i, expected) in [(1, 200), (2, 200), (3, 429)] {
        let email = format!("client{i}@limit-a.example");
        let r = sign(
            &app,
            id,
            "Eine Person",
            &email,
            "56068",
            "",
            "198.51.100.50",
        )
        .await;
        assert_eq!(r.status, expected, "signature {i}: {}", r.text());
    }
    // One domain from many clients: three signatures, the fourth is refused; other domains pass.
    for (i, expected) in [(1, 200), (2, 200), (3, 200), (4, 429)] {
        let email = format!("person{i}@limit-b.example");
        let peer = format!("198.51.100.{}", 60 + i);
        let r = sign(&app, id, "Eine Person", &email, "56068", "", &peer).await;
        assert_eq!(r.status, expected, "domain signature {i}: {}", r.text());
    }
    let r = sign(
        &app,
        id,
        "Andere",
        "x@limit-c.example",
        "56068",
        "",
        "198.51.100.70",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Refused signatures are not stored; the counters hold hashes, never the domain.
    let stored = count(
        &state,
        "SELECT count(*) FROM petitions.signatures WHERE email LIKE '%limit-_.example'",
    )
    .await;
    assert_eq!(stored, 2 + 3 + 1);
    let named = count(
        &state,
        "SELECT count(*) FROM auth.rate_limits WHERE key LIKE '%limit-%'",
    )
    .await;
    assert_eq!(named, 0);
}
