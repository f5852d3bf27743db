//! Open311 GeoReport v2: every JSON answer against the community JSON Schemas, the XML answers
//! against the JSON ones, two independent clients from the package index, refused input in the spec's error
//! form (with nothing stored), API keys, jurisdiction and rate limit, photos and body limits,
//! the reporter's personal data never leaving, the 90-day window and the page size, and the
//! update feed showing public events only.

use std::collections::HashSet;
use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::Value;
use stadtkarte_core::{AppState, Config};
use stadtkarte_maengelmelder::open311;
use stadtkarte_tests::{TestResponse, get, maengel_app, python, send, serve, shared_data};

/// A point in the demo city (Koblenz Altstadt).
const INSIDE: (&str, &str) = ("50.3569", "7.5940");
/// Munich: not in the city.
const OUTSIDE: (&str, &str) = ("48.1", "11.5");
const V2: &str = "/open311/v2";
/// A 2×2 pixel PNG.
const PNG_HEX: &str = "89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a73000000104944415478da6338a1a101440c100a00212e0461f6e1c24d0000000049454e44ae426082";

struct Env {
    app: Router,
    state: AppState,
    key: String,
}

/// The application over a copy of the demo city with its categories, and an API key.
async fn env_with(tweak: impl FnOnce(&mut Config)) -> Env {
    let (app, state) = maengel_app(tweak).await;
    let client = state.pool.get().await.expect("connection");
    let key = open311::add_key(&**client, "testclient")
        .await
        .expect("api key");
    Env { app, state, key }
}

async fn env() -> Env {
    env_with(|_| {}).await
}

fn png() -> Vec<u8> {
    (0..PNG_HEX.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&PNG_HEX[i..i + 2], 16).unwrap())
        .collect()
}

/// `application/x-www-form-urlencoded`.
fn form(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A valid report of the category with the required question answered.
fn report<'a>(key: &'a str, description: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("api_key", key),
        ("service_code", "strassenschaden"),
        ("lat", INSIDE.0),
        ("long", INSIDE.1),
        ("description", description),
        ("attribute[art]", "riss"),
    ]
}

/// Replaces (or adds) a field.
fn with<'a>(
    mut fields: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    fields.retain(|(k, _)| *k != name);
    fields.push((name, value));
    fields
}

fn without<'a>(mut fields: Vec<(&'a str, &'a str)>, name: &str) -> Vec<(&'a str, &'a str)> {
    fields.retain(|(k, _)| *k != name);
    fields
}

async fn post_form(app: &Router, format: &str, fields: &[(&str, &str)]) -> TestResponse {
    send(
        app,
        Request::post(format!("{V2}/requests.{format}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form(fields)))
            .unwrap(),
    )
    .await
}

/// A multipart body with text fields and files (field name, file name, bytes).
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----open311-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (field, file, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file}\"\r\nContent-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_multipart(
    app: &Router,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> TestResponse {
    let (content_type, body) = multipart(fields, files);
    send(
        app,
        Request::post(format!("{V2}/requests.json"))
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// The errors of a JSON error answer: (code, description); checks the spec's form.
fn errors(r: &TestResponse) -> Vec<(i64, String)> {
    assert_eq!(
        r.header("content-type"),
        "application/json; charset=utf-8",
        "{}",
        r.text()
    );
    let body = r.json();
    let list = body
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {body}"));
    assert!(!list.is_empty(), "no errors: {body}");
    list.iter()
        .map(|e| {
            (
                e["code"].as_i64().unwrap_or_else(|| panic!("code: {e}")),
                e["description"]
                    .as_str()
                    .unwrap_or_else(|| panic!("description: {e}"))
                    .to_owned(),
            )
        })
        .collect()
}

fn created_id(r: &TestResponse) -> i64 {
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    body[0]["service_request_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no string id: {body}"))
        .parse()
        .unwrap()
}

async fn count(state: &AppState, sql: &str) -> i64 {
    let client = state.pool.get().await.unwrap();
    client.query_one(sql, &[]).await.unwrap().get(0)
}

async fn execute(state: &AppState, sql: &str) {
    let client = state.pool.get().await.unwrap();
    client.batch_execute(sql).await.unwrap();
}

/// Runs a script of `tests/clients` and returns the JSON of its last line of output.
async fn run_client(script: &str, args: &[String]) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("clients")
        .join(script);
    let out = tokio::process::Command::new(python())
        .arg(&path)
        .args(args)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{script}: last line is not JSON ({e}): {stdout}"))
}

#[tokio::test]
async fn every_json_answer_fits_the_open311_schemas() {
    let schemas = shared_data("open311").expect(
        "the Open311 JSON Schemas (shared data folder open311) are missing: set STADTKARTE_SHARED_DATA",
    );
    for file in [
        "services.json",
        "service.json",
        "service-definition.json",
        "requests.json",
        "request.json",
        "swagger.json",
    ] {
        assert!(
            schemas.join(file).is_file(),
            "{file} is missing in {}",
            schemas.display()
        );
    }
    let e = env().await;
    // A public report with a public history, so that the extensions have something to show.
    let id = created_id(
        &post_form(
            &e.app,
            "json",
            &with(
                report(&e.key, "Öffentlich freigegeben"),
                "service_code",
                "beleuchtung",
            )
            .into_iter()
            .filter(|(k, _)| *k != "attribute[art]")
            .collect::<Vec<_>>(),
        )
        .await,
    );
    execute(
        &e.state,
        &format!(
            "INSERT INTO maengel.events (report_id, kind, status, public, text)
             VALUES ({id}, 'status', 'geprueft', true, 'Geprüft und weitergegeben')"
        ),
    )
    .await;
    let port = serve(e.app.clone()).await;
    let summary = run_client(
        "open311_schema.py",
        &[
            schemas.display().to_string(),
            format!("http://127.0.0.1:{port}"),
            e.key.clone(),
        ],
    )
    .await;
    assert_eq!(summary["failures"], serde_json::json!([]), "{summary}");
    assert!(
        summary["checked"].as_array().unwrap().len() >= 18,
        "{summary}"
    );
}

#[tokio::test]
async fn the_xml_answers_carry_the_same_data_as_the_json() {
    let e = env().await;
    let id = created_id(
        &post_form(
            &e.app,
            "json",
            &report(&e.key, "Riss <quer> & \"tief\" über die Fahrbahn"),
        )
        .await,
    );
    let token: String = {
        let client = e.state.pool.get().await.unwrap();
        client
            .query_one("SELECT token FROM maengel.reports WHERE id = $1", &[&id])
            .await
            .unwrap()
            .get(0)
    };
    // Released, with a history and a status note, so that every field is filled.
    execute(
        &e.state,
        &format!(
            "UPDATE maengel.reports SET released_at = now() - interval '1 minute',
                 status = 'in_bearbeitung', status_note = 'Auftrag <erteilt> & unterwegs'
             WHERE id = {id};
             INSERT INTO maengel.events (report_id, kind, status, public, text)
             VALUES ({id}, 'status', 'in_bearbeitung', true, 'Auftrag erteilt'),
                    ({id}, 'note', NULL, true, 'Material bestellt');"
        ),
    )
    .await;
    let port = serve(e.app.clone()).await;
    let paths = [
        "discovery".to_owned(),
        "services".to_owned(),
        "services?lang=en".to_owned(),
        "services/strassenschaden".to_owned(),
        "services/muell".to_owned(),
        "requests".to_owned(),
        "requests?extensions=true".to_owned(),
        format!("requests/{id}"),
        format!("requests/{id}?extensions=true"),
        format!("tokens/{token}"),
        "servicerequestupdates".to_owned(),
        "services/keine".to_owned(),
        "requests/999999".to_owned(),
        "requests?bbox=1,2".to_owned(),
        "requests?start_date=2020-01-01T00:00:00Z&end_date=2021-01-01T00:00:00Z".to_owned(),
    ];
    let mut args = vec![format!("http://127.0.0.1:{port}"), e.key.clone()];
    args.extend(paths);
    let summary = run_client("open311_xml.py", &args).await;
    assert_eq!(summary["failures"], serde_json::json!([]), "{summary}");
    let posted: i64 = summary["posted"].as_str().unwrap().parse().unwrap();

    // FixMyStreet's extra attributes are ignored, its own answer kept, its photos linked.
    let client = e.state.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT attributes::text, media_urls, channel, api_client, reporter_name
             FROM maengel.reports WHERE id = $1",
            &[&posted],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), r#"{"mastnummer": "K-0412"}"#);
    assert_eq!(
        row.get::<_, Vec<String>>(1),
        ["https://example.org/a.jpeg", "https://example.org/b.jpeg"]
    );
    assert_eq!(row.get::<_, String>(2), "open311");
    assert_eq!(row.get::<_, String>(3), "testclient");
    assert_eq!(row.get::<_, String>(4), "Fix MyStreet");

    // Spot checks of the XML itself, independent of the JSON.
    let x = get(
        &e.app,
        &format!("{V2}/requests/{id}.xml?extensions=true"),
        &[],
    )
    .await;
    assert_eq!(x.header("content-type"), "text/xml; charset=utf-8");
    let text = x.text();
    assert!(
        text.contains(&format!("<service_request_id>{id}</service_request_id>")),
        "{text}"
    );
    assert!(
        text.contains("<status_notes>Auftrag &lt;erteilt&gt; &amp; unterwegs</status_notes>"),
        "{text}"
    );
    assert!(
        text.contains("<detailed_status>IN_PROGRESS</detailed_status>"),
        "{text}"
    );
    let errors_xml = get(&e.app, &format!("{V2}/services/keine.xml"), &[]).await;
    assert_eq!(errors_xml.status, 404);
    assert!(
        errors_xml
            .text()
            .contains("<errors><error><code>404</code><description>"),
        "{}",
        errors_xml.text()
    );
}

#[tokio::test]
async fn georeport_and_three_from_pypi_list_read_and_post() {
    let e = env().await;
    created_id(&post_form(&e.app, "json", &report(&e.key, "Vorab gemeldet")).await);
    let port = serve(e.app.clone()).await;
    let out = run_client(
        "open311_clients.py",
        &[format!("http://127.0.0.1:{port}"), e.key.clone()],
    )
    .await;
    let codes = |k: &str| -> Vec<String> {
        out[k]
            .as_array()
            .unwrap_or_else(|| panic!("{k}: {out}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    for k in [
        "georeport_services",
        "georeport_services_xml",
        "three_services",
    ] {
        let seen = codes(k);
        for code in [
            "strassenschaden",
            "beleuchtung",
            "muell",
            "spielplatz",
            "gruen",
            "verkehrszeichen",
            "graffiti",
            "sonstiges",
        ] {
            assert!(seen.iter().any(|c| c == code), "{k}: {code} in {seen:?}");
        }
    }
    assert_eq!(codes("georeport_definition"), ["art", "flaeche"]);
    assert_eq!(codes("georeport_definition_xml"), ["art", "flaeche"]);
    assert_eq!(out["three_definition"], "strassenschaden");
    assert!(codes("three_discovery_formats").contains(&"text/xml".to_owned()));
    let posted = out["three_posted"].as_str().unwrap().to_owned();
    assert_eq!(codes("three_request"), std::slice::from_ref(&posted));
    assert_eq!(out["three_token"], posted.as_str());
    assert_eq!(codes("three_requests_code"), ["strassenschaden"]);
    for k in [
        "three_requests",
        "georeport_requests",
        "georeport_requests_xml",
    ] {
        let ids = codes(k);
        assert_eq!(ids.len(), 2, "{k}: {ids:?}");
        assert_eq!(ids[0], posted, "{k}: newest first");
    }
    assert_eq!(out["georeport_request"], posted.as_str());
    assert_eq!(out["georeport_request_xml"], posted.as_str());
    assert_eq!(out["georeport_request_status"], "open");
    let client = e.state.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT attributes->>'art', reporter_name FROM maengel.reports WHERE id = $1",
            &[&posted.parse::<i64>().unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "riss");
    assert_eq!(row.get::<_, String>(1), "Drei Python");
}

#[tokio::test]
async fn bad_reports_are_refused_in_the_spec_form_and_nothing_is_stored() {
    let e = env().await;
    let before = count(&e.state, "SELECT count(*) FROM maengel.reports").await;
    let long = "x".repeat(4001);
    let cases: Vec<(&str, Vec<(&str, &str)>, u16, &str)> = vec![
        (
            "unknown service",
            with(report(&e.key, "Loch"), "service_code", "keine"),
            404,
            "service_code",
        ),
        (
            "missing service",
            without(report(&e.key, "Loch"), "service_code"),
            400,
            "service_code",
        ),
        (
            "required question unanswered",
            without(report(&e.key, "Loch"), "attribute[art]"),
            400,
            "attribute[art]",
        ),
        (
            "answer not offered",
            with(report(&e.key, "Loch"), "attribute[art]", "krater"),
            400,
            "attribute[art]",
        ),
        ("empty description", report(&e.key, ""), 400, "description"),
        (
            "blank description",
            report(&e.key, "   \r\n "),
            400,
            "description",
        ),
        (
            "description of 4001 characters",
            report(&e.key, &long),
            400,
            "description",
        ),
        (
            "malformed latitude",
            with(report(&e.key, "Loch"), "lat", "fünfzig"),
            400,
            "lat/long",
        ),
        (
            "malformed longitude",
            with(report(&e.key, "Loch"), "long", "7,59"),
            400,
            "lat/long",
        ),
        (
            "latitude off the Earth",
            with(report(&e.key, "Loch"), "lat", "95"),
            400,
            "lat/long",
        ),
        (
            "outside the city",
            with(
                with(report(&e.key, "Loch"), "lat", OUTSIDE.0),
                "long",
                OUTSIDE.1,
            ),
            400,
            "lat/long",
        ),
        (
            "no place",
            without(without(report(&e.key, "Loch"), "lat"), "long"),
            400,
            "lat/long or address_string",
        ),
        (
            "not an e-mail address",
            with(report(&e.key, "Loch"), "email", "niemand"),
            400,
            "email",
        ),
        (
            "media_url that is no link",
            with(report(&e.key, "Loch"), "media_url", "javascript:alert(1)"),
            400,
            "media_url",
        ),
        (
            "unknown jurisdiction",
            with(report(&e.key, "Loch"), "jurisdiction_id", "mainz.de"),
            404,
            "jurisdiction_id",
        ),
        (
            "wrong key",
            with(report(&e.key, "Loch"), "api_key", "geraten"),
            403,
            "api_key",
        ),
        (
            "missing key",
            without(report(&e.key, "Loch"), "api_key"),
            403,
            "api_key",
        ),
    ];
    for (what, fields, status, parameter) in &cases {
        let r = post_form(&e.app, "json", fields).await;
        assert_eq!(r.status.as_u16(), *status, "{what}: {}", r.text());
        let errs = errors(&r);
        assert!(
            errs.iter()
                .any(|(_, d)| d.starts_with(&format!("{parameter}: "))),
            "{what}: no error names {parameter}: {errs:?}"
        );
        if *what == "outside the city" {
            assert_eq!(errs[0].0, 102, "{errs:?}");
        }
    }
    // Several problems at once, one error each.
    let r = post_form(
        &e.app,
        "json",
        &with(
            without(report(&e.key, ""), "attribute[art]"),
            "lat",
            "nördlich",
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    let errs = errors(&r);
    assert_eq!(errs.len(), 3, "{errs:?}");
    // The XML form of the same.
    let r = post_form(&e.app, "xml", &report(&e.key, "")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), "text/xml; charset=utf-8");
    assert!(
        r.text()
            .contains("<errors><error><code>400</code><description>description: "),
        "{}",
        r.text()
    );
    assert_eq!(
        count(&e.state, "SELECT count(*) FROM maengel.reports").await,
        before,
        "nothing was stored"
    );
    // 4000 characters are allowed.
    let exact = "y".repeat(4000);
    created_id(&post_form(&e.app, "json", &report(&e.key, &exact)).await);
    assert_eq!(
        count(&e.state, "SELECT count(*) FROM maengel.reports").await,
        before + 1
    );
}

#[tokio::test]
async fn photos_are_processed_limited_and_oversized_bodies_refused() {
    let e = env_with(|c| c.maengel.photo_max_bytes = 200_000).await;
    let png = png();
    let fields = report(&e.key, "Mit Fotos");
    let before = count(&e.state, "SELECT count(*) FROM maengel.reports").await;

    let fake: &[u8] = b"%PDF-1.4 not a photo at all";
    let r = post_multipart(
        &e.app,
        &fields,
        &[("media", "ok.png", &png), ("media", "fake.jpg", fake)],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let errs = errors(&r);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].1.starts_with("media: ") && errs[0].1.contains("fake.jpg"),
        "{errs:?}"
    );

    let r = post_multipart(
        &e.app,
        &fields,
        &[
            ("media[]", "1.png", &png),
            ("media[]", "2.png", &png),
            ("media[]", "3.png", &png),
            ("media[]", "4.png", &png),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let errs = errors(&r);
    assert!(
        errs[0].1.starts_with("media: ") && errs[0].1.contains('4'),
        "{errs:?}"
    );
    assert_eq!(
        count(&e.state, "SELECT count(*) FROM maengel.reports").await,
        before,
        "nothing was stored"
    );

    let r = post_multipart(
        &e.app,
        &fields,
        &[
            ("media[]", "1.png", &png),
            ("media", "2.png", &png),
            ("photo1", "3.png", &png),
        ],
    )
    .await;
    let id = created_id(&r);
    assert_eq!(
        count(
            &e.state,
            &format!("SELECT count(*) FROM maengel.photos WHERE report_id = {id}")
        )
        .await,
        3
    );

    // The limit is three photos and 256 KiB: 856,144 bytes here.
    let big = "z".repeat(900_000);
    let body = form(&report(&e.key, &big));
    let declared = send(
        &e.app,
        Request::post(format!("{V2}/requests.xml"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("content-length", body.len())
            .body(Body::from(body.clone()))
            .unwrap(),
    )
    .await;
    assert_eq!(declared.status, 413, "{}", declared.text());
    assert_eq!(declared.header("content-type"), "text/xml; charset=utf-8");
    assert!(
        declared.text().contains("<code>413</code>"),
        "{}",
        declared.text()
    );
    // Without a declared length, the body is counted as it arrives.
    let streamed = send(
        &e.app,
        Request::post(format!("{V2}/requests.json"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(streamed.status, 413, "{}", streamed.text());
    assert_eq!(errors(&streamed)[0].0, 413);
    // Just below the limit, the body is read (and the description refused as too long).
    let fits = "z".repeat(800_000);
    let r = post_form(&e.app, "json", &report(&e.key, &fits)).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(errors(&r)[0].1.starts_with("description: "));
}

#[tokio::test]
async fn keys_jurisdiction_and_the_rate_limit_are_enforced() {
    let e = env_with(|c| c.maengel.reports_per_api_key_minute = 2).await;
    // The key may come as a header too.
    let r = send(
        &e.app,
        Request::post(format!("{V2}/requests.json"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-api-key", &e.key)
            .body(Body::from(form(&without(
                report(&e.key, "Per Header"),
                "api_key",
            ))))
            .unwrap(),
    )
    .await;
    created_id(&r);
    // Over the limit: 429 with Retry-After, in the spec's form (a new minute may begin between
    // two posts, so a few more are allowed before the limit must have struck).
    let mut limited = None;
    for _ in 0..5 {
        let r = post_form(&e.app, "json", &report(&e.key, "Noch eins")).await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let r = limited.expect("the rate limit never struck");
    let retry: u32 = r.header("retry-after").parse().expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(errors(&r)[0].0, 429);

    // A revoked key is refused; the list shows it.
    let client = e.state.pool.get().await.unwrap();
    let second = open311::add_key(&**client, "zweiter.client").await.unwrap();
    assert_ne!(second, e.key);
    assert!(second.len() >= 43, "32 random bytes: {second}");
    created_id(&post_form(&e.app, "json", &report(&second, "Zweiter Client")).await);
    assert!(
        open311::revoke_key(&**client, "zweiter.client")
            .await
            .unwrap()
    );
    assert!(
        !open311::revoke_key(&**client, "gibt-es-nicht")
            .await
            .unwrap()
    );
    let r = post_form(&e.app, "json", &report(&second, "Widerrufen")).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let keys = open311::list_keys(&**client).await.unwrap();
    let names: Vec<(&str, bool)> = keys.iter().map(|(n, r, _)| (n.as_str(), *r)).collect();
    assert_eq!(names, [("testclient", false), ("zweiter.client", true)]);
    assert!(
        keys[0].2.ends_with('Z') && keys[0].2.len() == 20,
        "{keys:?}"
    );
    // Only hashes are stored.
    let stored = count(
        &e.state,
        &format!(
            "SELECT count(*) FROM maengel.api_keys WHERE key_hash = sha256(convert_to('{}', 'UTF8'))",
            e.key
        ),
    )
    .await;
    assert_eq!(stored, 1);
    let plain = count(
        &e.state,
        &format!(
            "SELECT count(*) FROM maengel.api_keys WHERE position(convert_to('{}', 'UTF8') IN key_hash) > 0",
            e.key
        ),
    )
    .await;
    assert_eq!(plain, 0);

    // Without a configured jurisdiction, a given one is unknown.
    let r = get(
        &e.app,
        &format!("{V2}/services.json?jurisdiction_id=koblenz.de"),
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(errors(&r)[0].1.starts_with("jurisdiction_id: "));
    let r = get(&e.app, &format!("{V2}/services.json?jurisdiction_id="), &[]).await;
    assert_eq!(r.status, 200, "an empty parameter counts as not sent");

    // With one configured: that one and none are accepted, others are 404.
    let j = env_with(|c| c.maengel.jurisdiction_id = "koblenz.de".to_owned()).await;
    created_id(
        &post_form(
            &j.app,
            "json",
            &with(
                report(&j.key, "Mit Zuständigkeit"),
                "jurisdiction_id",
                "koblenz.de",
            ),
        )
        .await,
    );
    created_id(&post_form(&j.app, "json", &report(&j.key, "Ohne Angabe")).await);
    let r = post_form(
        &j.app,
        "json",
        &with(
            report(&j.key, "Falsche Stadt"),
            "jurisdiction_id",
            "mainz.de",
        ),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    for path in [
        "services.json",
        "services/strassenschaden.json",
        "requests.json",
        "servicerequestupdates.json",
    ] {
        let r = get(
            &j.app,
            &format!("{V2}/{path}?jurisdiction_id=mainz.de"),
            &[],
        )
        .await;
        assert_eq!(r.status, 404, "{path}");
        let r = get(
            &j.app,
            &format!("{V2}/{path}?jurisdiction_id=koblenz.de"),
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
}

#[tokio::test]
async fn the_reporters_personal_data_never_leaves() {
    let e = env().await;
    let email = "erika.mustermann-4711@example.org";
    let first = "Erikaliese";
    let last = "Mustermannsky";
    let phone = "+49 261 4711 0815";
    let fields = [
        report(&e.key, "Schlagloch am Zebrastreifen").as_slice(),
        &[
            ("email", email),
            ("first_name", first),
            ("last_name", last),
            ("phone", phone),
            ("device_id", "geraet-0815"),
            ("account_id", "konto-4711"),
        ],
    ]
    .concat();
    let r = post_form(&e.app, "json", &fields).await;
    let id = created_id(&r);
    let token = r.json()[0]["token"].as_str().unwrap().to_owned();
    let answer = r.text();
    // Stored (for the mail), never shown.
    let client = e.state.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT reporter_email, reporter_name, reporter_phone, wants_updates FROM maengel.reports WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), email);
    assert_eq!(row.get::<_, String>(1), format!("{first} {last}"));
    assert_eq!(row.get::<_, String>(2), phone);
    assert!(row.get::<_, bool>(3));
    let secret: String = client
        .query_one("SELECT secret FROM maengel.reports WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);

    let check = |text: &str, what: &str| {
        let lower = text.to_lowercase();
        for leak in [
            email,
            "erika.mustermann",
            "erikaliese",
            "mustermannsky",
            "4711 0815",
            "testclient",
            "geraet-0815",
            "konto-4711",
            secret.as_str(),
        ] {
            assert!(
                !lower.contains(&leak.to_lowercase()),
                "{what} shows {leak:?}: {text}"
            );
        }
    };
    check(&answer, "the POST answer");
    // A public history; then before and after the release of the description.
    execute(
        &e.state,
        &format!(
            "UPDATE maengel.reports SET status = 'geprueft' WHERE id = {id};
             INSERT INTO maengel.events (report_id, kind, status, public, text)
             VALUES ({id}, 'status', 'geprueft', true, 'Geprüft');"
        ),
    )
    .await;
    for round in 0..2 {
        if round == 1 {
            execute(
                &e.state,
                &format!(
                    "UPDATE maengel.reports SET released_at = now() - interval '1 minute' WHERE id = {id}"
                ),
            )
            .await;
        }
        for format in ["json", "xml"] {
            for path in [
                format!("{V2}/requests.{format}"),
                format!("{V2}/requests.{format}?extensions=true"),
                format!("{V2}/requests/{id}.{format}"),
                format!("{V2}/requests/{id}.{format}?extensions=true"),
                format!("{V2}/requests.{format}?service_request_id={id}&extensions=true"),
                format!("{V2}/servicerequestupdates.{format}"),
                format!("{V2}/tokens/{token}.{format}"),
            ] {
                let r = get(&e.app, &path, &[]).await;
                assert_eq!(r.status, 200, "{path}: {}", r.text());
                assert!(
                    r.text().contains(&id.to_string()),
                    "{path} shows the request: {}",
                    r.text()
                );
                check(&r.text(), &path);
            }
        }
    }
    // The released description is public now.
    let r = get(&e.app, &format!("{V2}/requests/{id}.json"), &[]).await;
    assert_eq!(r.json()[0]["description"], "Schlagloch am Zebrastreifen");
}

#[tokio::test]
async fn the_default_window_and_the_page_size_hold() {
    let e = env().await;
    // 1,005 reports of the last days and 3 of 100 days ago, quickly by SQL.
    execute(
        &e.state,
        "INSERT INTO maengel.reports (category, description, geom, secret, token, created_at, updated_at)
         SELECT 'graffiti', 'Seitentest ' || g,
                ST_Transform(ST_SetSRID(ST_MakePoint(7.594 + g * 0.00001, 50.3569), 4326), 25832),
                'o311-secret-' || g, 'o311-token-' || g,
                now() - g * interval '1 minute', now() - g * interval '1 minute'
         FROM generate_series(1, 1005) g;
         INSERT INTO maengel.reports (category, description, geom, secret, token, created_at, updated_at)
         SELECT 'graffiti', 'Alt ' || g,
                ST_Transform(ST_SetSRID(ST_MakePoint(7.594, 50.3569), 4326), 25832),
                'o311-old-secret-' || g, 'o311-old-token-' || g,
                now() - interval '100 days' - g * interval '1 hour', now() - interval '100 days'
         FROM generate_series(1, 3) g;",
    )
    .await;
    let ids = |r: &TestResponse| -> Vec<i64> {
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["service_request_id"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    let old: HashSet<i64> = {
        let client = e.state.pool.get().await.unwrap();
        client
            .query(
                "SELECT id FROM maengel.reports WHERE description LIKE 'Alt %'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(old.len(), 3);

    let first = get(
        &e.app,
        &format!("{V2}/requests.json?service_code=graffiti"),
        &[],
    )
    .await;
    let page1 = ids(&first);
    assert_eq!(page1.len(), 1000, "the default page size");
    let times: Vec<String> = first
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["requested_datetime"].as_str().unwrap().to_owned())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let page2 = ids(&get(
        &e.app,
        &format!("{V2}/requests.json?service_code=graffiti&page=2"),
        &[],
    )
    .await);
    assert_eq!(page2.len(), 5);
    let all: HashSet<i64> = page1.iter().chain(&page2).copied().collect();
    assert_eq!(all.len(), 1005, "the pages do not overlap");
    assert!(
        all.is_disjoint(&old),
        "older than 90 days is not in the default window"
    );
    let page3 = ids(&get(
        &e.app,
        &format!("{V2}/requests.json?service_code=graffiti&page=3"),
        &[],
    )
    .await);
    assert!(page3.is_empty());
    let capped = ids(&get(
        &e.app,
        &format!("{V2}/requests.json?service_code=graffiti&page_size=5000"),
        &[],
    )
    .await);
    assert_eq!(capped.len(), 1000, "page_size is capped");
    let small = ids(&get(
        &e.app,
        &format!("{V2}/requests.json?service_code=graffiti&page_size=10&page=3"),
        &[],
    )
    .await);
    assert_eq!(small, page1[20..30]);
    let xml = get(
        &e.app,
        &format!("{V2}/requests.xml?service_code=graffiti"),
        &[],
    )
    .await;
    assert_eq!(xml.text().matches("<request>").count(), 1000);

    // An explicit window reaches the old ones; a given id overrides the window.
    let (start, end): (String, String) = {
        let client = e.state.pool.get().await.unwrap();
        let row = client
            .query_one(
                "SELECT to_char(now() - interval '120 days', 'YYYY-MM-DD'),
                        to_char(now() - interval '60 days', 'YYYY-MM-DD')",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    let window: HashSet<i64> = ids(&get(
        &e.app,
        &format!("{V2}/requests.json?service_code=graffiti&start_date={start}&end_date={end}"),
        &[],
    )
    .await)
    .into_iter()
    .collect();
    assert_eq!(window, old);
    let one_old = *old.iter().next().unwrap();
    assert_eq!(
        ids(&get(
            &e.app,
            &format!("{V2}/requests.json?service_request_id={one_old}&status=closed"),
            &[]
        )
        .await),
        [one_old],
        "service_request_id overrides the other filters"
    );
    let r = get(&e.app, &format!("{V2}/requests/{one_old}.json"), &[]).await;
    assert_eq!(ids(&r), [one_old]);
}

#[tokio::test]
async fn query_parameters_are_checked_and_filters_work() {
    let e = env().await;
    let near = created_id(&post_form(&e.app, "json", &report(&e.key, "Hier")).await);
    let lamp = created_id(
        &post_form(
            &e.app,
            "json",
            &with(
                without(report(&e.key, "Dunkel"), "attribute[art]"),
                "service_code",
                "beleuchtung",
            ),
        )
        .await,
    );
    let ids = |r: &TestResponse| -> Vec<i64> {
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["service_request_id"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    let q = |query: &str| format!("{V2}/requests.json?{query}");
    assert_eq!(ids(&get(&e.app, &q(""), &[]).await), [lamp, near]);
    assert_eq!(
        ids(&get(&e.app, &q("status=&bbox=&start_date=&page="), &[]).await),
        [lamp, near],
        "empty parameters count as not sent"
    );
    assert_eq!(
        ids(&get(&e.app, &q("service_code=beleuchtung"), &[]).await),
        [lamp]
    );
    assert_eq!(
        ids(&get(&e.app, &q("service_code=beleuchtung,strassenschaden"), &[]).await),
        [lamp, near]
    );
    assert_eq!(
        ids(&get(&e.app, &q("status=closed"), &[]).await),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(&get(&e.app, &q("status=open"), &[]).await),
        [lamp, near]
    );
    assert_eq!(
        ids(&get(&e.app, &q("bbox=7.59,50.35,7.60,50.36"), &[]).await),
        [lamp, near]
    );
    assert!(ids(&get(&e.app, &q("bbox=7.0,50.0,7.1,50.1"), &[]).await).is_empty());
    assert_eq!(
        ids(&get(&e.app, &q("lat=50.3570&long=7.5940&radius=50"), &[]).await),
        [lamp, near]
    );
    assert!(ids(&get(&e.app, &q("lat=50.40&long=7.5940&radius=100"), &[]).await).is_empty());
    assert_eq!(
        ids(&get(
            &e.app,
            &q(&format!("service_request_id={near},{lamp}")),
            &[]
        )
        .await),
        [lamp, near]
    );
    assert_eq!(
        ids(&get(
            &e.app,
            &q("updated_after=2000-01-01T00:00:00Z&updated_before=2999-01-01T00:00:00%2B01:00"),
            &[]
        )
        .await),
        [lamp, near]
    );
    assert!(ids(&get(&e.app, &q("updated_after=2999-01-01"), &[]).await).is_empty());
    // Coordinates in WGS84 with six decimals; the English name with lang=en.
    let r = get(&e.app, &format!("{V2}/requests/{near}.json?lang=en"), &[]).await;
    let one = &r.json()[0];
    assert!(
        (one["lat"].as_f64().unwrap() - 50.3569).abs() < 1e-6,
        "{one}"
    );
    assert!(
        (one["long"].as_f64().unwrap() - 7.594).abs() < 1e-6,
        "{one}"
    );
    assert_eq!(one["service_name"], "Road damage / pothole");
    assert_eq!(
        one["agency_responsible"],
        "Tiefbauamt (Straßen, Beleuchtung)"
    );
    assert_eq!(one["status"], "open");
    assert!(one.get("description").is_none(), "not released yet: {one}");

    for (query, parameter) in [
        (
            "start_date=2026-01-01T00:00:00Z&end_date=2026-04-02T00:00:00Z",
            "start_date",
        ),
        (
            "start_date=2026-03-01T00:00:00Z&end_date=2026-02-01T00:00:00Z",
            "end_date",
        ),
        ("start_date=gestern", "start_date"),
        ("end_date=2026-01-01T00:00:00", "end_date"),
        ("bbox=7.6,50.3,7.5,50.4", "bbox"),
        ("bbox=7.5,50.3,7.6", "bbox"),
        ("bbox=a,b,c,d", "bbox"),
        ("bbox=7.5,50.3,7.6,95", "bbox"),
        ("status=erledigt", "status"),
        ("page=0", "page"),
        ("page_size=-5", "page_size"),
        ("page=zwei", "page"),
        ("lat=50.3", "lat, long"),
        ("lat=50.3&long=7.5&radius=5001", "radius"),
        ("radius=10", "radius"),
        ("service_request_id=abc", "service_request_id"),
        ("extensions=vielleicht", "extensions"),
        ("updated_after=neulich", "updated_after"),
    ] {
        let r = get(&e.app, &q(query), &[]).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        let errs = errors(&r);
        assert!(
            errs.iter()
                .any(|(c, d)| *c == 400 && d.starts_with(parameter)),
            "{query}: {errs:?}"
        );
    }
    let r = get(&e.app, &format!("{V2}/requests.xml?bbox=1"), &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), "text/xml; charset=utf-8");
    let r = get(
        &e.app,
        &format!("{V2}/servicerequestupdates.json?start_date=2026-01-01&end_date=2026-06-01"),
        &[],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
}

#[tokio::test]
async fn the_update_feed_shows_public_events_only() {
    let e = env().await;
    let id = created_id(&post_form(&e.app, "json", &report(&e.key, "Feed")).await);
    execute(
        &e.state,
        &format!(
            "UPDATE maengel.reports SET status = 'erledigt', closed_at = now() WHERE id = {id};
             INSERT INTO maengel.events (report_id, kind, status, public, text) VALUES
                 ({id}, 'status', 'in_bearbeitung', true, 'Auftrag erteilt'),
                 ({id}, 'internal', NULL, false, 'INTERN: Bauhof anrufen'),
                 ({id}, 'note', NULL, true, 'Material bestellt'),
                 ({id}, 'status', 'erledigt', true, 'Behoben');"
        ),
    )
    .await;
    let r = get(&e.app, &format!("{V2}/servicerequestupdates.json"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let list = r.json();
    let mine: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["service_request_id"] == id.to_string().as_str())
        .collect();
    let seen: Vec<(&str, &str, &str)> = mine
        .iter()
        .map(|u| {
            (
                u["description"].as_str().unwrap(),
                u["status"].as_str().unwrap(),
                u["external_status_code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("Auftrag erteilt", "open", "IN_PROGRESS"),
            ("Material bestellt", "open", "IN_PROGRESS"),
            ("Behoben", "closed", "FIXED"),
        ]
    );
    assert!(!r.text().contains("INTERN"), "{}", r.text());
    for u in &mine {
        assert!(
            u["update_id"].as_str().unwrap().parse::<i64>().is_ok(),
            "{u}"
        );
        assert!(
            u["updated_datetime"].as_str().unwrap().ends_with('Z'),
            "{u}"
        );
    }
    let x = get(&e.app, &format!("{V2}/servicerequestupdates.xml"), &[]).await;
    assert!(
        x.text()
            .contains("<service_request_updates><request_update><update_id>"),
        "{}",
        x.text()
    );
    assert!(!x.text().contains("INTERN"));
    // A window in the past has none of them.
    let r = get(
        &e.app,
        &format!("{V2}/servicerequestupdates.json?start_date=2020-01-01T00:00:00Z&end_date=2020-02-01T00:00:00Z"),
        &[],
    )
    .await;
    assert_eq!(r.json(), serde_json::json!([]));
    // The request itself is closed, with its public notes.
    let r = get(
        &e.app,
        &format!("{V2}/requests/{id}.json?extensions=true"),
        &[],
    )
    .await;
    let one = &r.json()[0];
    assert_eq!(one["status"], "closed");
    assert_eq!(one["extended_attributes"]["detailed_status"], "FIXED");
    assert_eq!(one["extended_attributes"]["status"], "erledigt");
    let notes: Vec<&str> = one["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["description"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["Auftrag erteilt", "Material bestellt", "Behoben"]);
}

#[tokio::test]
async fn discovery_services_and_unknown_paths() {
    let e = env().await;
    for path in ["/open311/discovery.json", "/open311/v2/discovery.json"] {
        let r = get(&e.app, path, &[]).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), "application/json; charset=utf-8");
        let d = r.json();
        assert!(d.is_object(), "{d}");
        let endpoint = &d["endpoints"][0];
        assert_eq!(
            endpoint["specification"],
            "http://wiki.open311.org/GeoReport_v2"
        );
        assert!(
            endpoint["url"].as_str().unwrap().ends_with("/open311/v2"),
            "{d}"
        );
        assert_eq!(
            endpoint["formats"],
            serde_json::json!(["text/xml", "application/json"])
        );
        assert_eq!(
            d["contact"],
            e.state.config.maengel.open311_contact.as_str()
        );
    }
    let x = get(&e.app, "/open311/discovery.xml", &[]).await;
    assert_eq!(x.header("content-type"), "text/xml; charset=utf-8");
    assert!(
        x.text().contains(
            "<formats><format>text/xml</format><format>application/json</format></formats>"
        ),
        "{}",
        x.text()
    );

    let r = get(&e.app, &format!("{V2}/services.json"), &[]).await;
    let services = r.json();
    let by_code = |code: &str| {
        services
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service_code"] == code)
            .unwrap_or_else(|| panic!("{code} in {services}"))
            .clone()
    };
    let road = by_code("strassenschaden");
    assert_eq!(road["service_name"], "Straßenschaden / Schlagloch");
    assert_eq!(road["metadata"], true);
    assert_eq!(road["type"], "realtime");
    assert_eq!(road["group"], "Straße und Verkehr");
    assert_eq!(road["keywords"], "Schlagloch,Fahrbahn,Gehweg,Radweg");
    assert_eq!(by_code("graffiti")["metadata"], false);
    let en = get(&e.app, &format!("{V2}/services.json?lang=en"), &[])
        .await
        .json();
    assert!(
        en.as_array()
            .unwrap()
            .iter()
            .any(|s| s["service_name"] == "Road damage / pothole")
    );

    let d = get(&e.app, &format!("{V2}/services/strassenschaden.json"), &[])
        .await
        .json();
    assert_eq!(d["service_code"], "strassenschaden");
    let art = &d["attributes"][0];
    assert_eq!(art["code"], "art");
    assert_eq!(art["datatype"], "singlevaluelist");
    assert_eq!(art["required"], true);
    assert_eq!(art["order"], 1);
    let keys: Vec<&str> = art["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["schlagloch", "riss", "absenkung"]);

    for path in [
        format!("{V2}/services"),
        format!("{V2}/services.html"),
        format!("{V2}/services/strassenschaden.txt"),
        format!("{V2}/services/strassenschaden"),
        format!("{V2}/services/keine.json"),
        format!("{V2}/requests/abc.json"),
        format!("{V2}/requests/0.json"),
        format!("{V2}/tokens/keins.json"),
        format!("{V2}/gibt-es-nicht.json"),
        "/open311/discovery".to_owned(),
    ] {
        let r = get(&e.app, &path, &[]).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(errors(&r)[0].0, 404, "{path}");
    }
}
