//! Shared HTTP behaviour: operational endpoints, errors, negotiation, request ids, metrics.

use serde_json::json;
use stadtkarte_tests::{get, test_app};

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[tokio::test]
async fn health_and_ready_answer_when_the_database_does() {
    let (app, _) = test_app().await;
    let health = get(&app, "/health", &[]).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "alive");
    let ready = get(&app, "/ready", &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(ready.json()["status"], "ready");
}

#[tokio::test]
async fn unknown_route_is_a_problem_for_machines_and_a_page_for_browsers() {
    let (app, _) = test_app().await;
    let machine = get(&app, "/no/such/thing", &[]).await;
    assert_eq!(machine.status, 404);
    assert_eq!(machine.header("content-type"), "application/problem+json");
    let problem = machine.json();
    assert_eq!(problem["status"], 404);
    assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("/no/such/thing")
    );

    let any = get(&app, "/no/such/thing", &[("accept", "*/*")]).await;
    assert_eq!(any.header("content-type"), "application/problem+json");

    let browser = get(&app, "/no/such/thing", &[("accept", BROWSER)]).await;
    assert_eq!(browser.status, 404);
    assert!(browser.header("content-type").starts_with("text/html"));
    let page = browser.text();
    assert!(
        page.contains("<html lang=\"de\">") && page.contains("404"),
        "{page}"
    );
}

#[tokio::test]
async fn problem_pages_escape_what_the_request_put_in() {
    let (app, _) = test_app().await;
    let page = get(&app, "/%3Cscript%3E", &[("accept", BROWSER)])
        .await
        .text();
    assert!(!page.contains("<script>"), "{page}");
}

#[tokio::test]
async fn landing_page_negotiates_and_lists_the_catalog() {
    let (app, state) = test_app().await;
    let client = state.pool.get().await.unwrap();
    client
        .batch_execute(
            "CREATE TABLE data.orte (id int PRIMARY KEY, geom geometry(Point, 25832));
             INSERT INTO data.orte VALUES (1, ST_SetSRID(ST_MakePoint(400000, 5580000), 25832));
             INSERT INTO catalog.collections (id, title, table_name, geometry_type, license, attribution)
             VALUES ('orte', 'Orte', 'orte', 'Point', 'dl-de/by-2-0', 'Stadt Koblenz')",
        )
        .await
        .unwrap();
    let json = get(&app, "/", &[]).await;
    assert_eq!(json.status, 200);
    assert!(json.header("content-type").starts_with("application/json"));
    // The whole landing page of the OGC API; its HTML alternate is the developers' page.
    let doc = json.json();
    let base = doc["links"][0]["href"]
        .as_str()
        .unwrap()
        .trim_end_matches("/?f=json")
        .to_owned();
    let link = |rel: &str, media: &str, title: &str, path: &str| json!({"rel": rel, "type": media, "title": title, "href": format!("{base}{path}")});
    assert_eq!(
        doc,
        json!({
            "title": "Stadtkarte Koblenz",
            "description": "Web-GIS und Open-Data-Plattform der Stadt Koblenz: OGC API Features und Tiles.",
            "links": [
                link("self", "application/json", "Diese Seite (JSON)", "/?f=json"),
                link("alternate", "text/html", "Diese Seite (HTML)", "/entwickler"),
                link("service-desc", "application/vnd.oai.openapi+json;version=3.0",
                     "API-Beschreibung (OpenAPI 3.0)", "/api"),
                link("service-doc", "text/html", "API-Dokumentation", "/api?f=html"),
                link("conformance", "application/json", "Konformitätsklassen", "/conformance"),
                link("data", "application/json", "Datensammlungen", "/collections"),
                link("related", "text/html", "Karte", "/map"),
                link("related", "text/html", "Offene Daten (Downloads, Katalog)", "/opendata"),
                link("related", "application/xml", "Luftbilder (WMTS)",
                     "/wmts/1.0.0/WMTSCapabilities.xml"),
            ],
        })
    );
    assert_eq!(
        get(&app, "/?f=json", &[("accept", BROWSER)]).await.json(),
        doc
    );
    // A browser gets the start page, which leads to the developers' page with the catalog;
    // without districts it has no preview of the map, and still answers.
    let html = get(&app, "/", &[("accept", BROWSER)]).await;
    assert_eq!(html.status, 200);
    assert!(html.header("content-type").starts_with("text/html"));
    let start = html.text();
    assert!(start.contains("<h2><a href=\"/entwickler\">"), "{start}");
    assert!(!start.contains("<svg"), "{start}");
    let developers = get(&app, "/entwickler", &[("accept", BROWSER)]).await;
    assert_eq!(developers.status, 200);
    assert!(developers.header("content-type").starts_with("text/html"));
    assert!(developers.text().contains("Orte"));
    // Whatever it is asked for, the developers' page is a page.
    assert!(
        get(&app, "/entwickler", &[])
            .await
            .header("content-type")
            .starts_with("text/html")
    );
    assert_eq!(
        get(&app, "/?f=html", &[]).await.header("content-type"),
        "text/html; charset=utf-8"
    );
    let unsupported = get(&app, "/?f=xml", &[]).await;
    assert_eq!(unsupported.status, 406);
    assert_eq!(
        unsupported.header("content-type"),
        "application/problem+json"
    );
    assert_eq!(get(&app, "/", &[("accept", "image/png")]).await.status, 406);
}

#[tokio::test]
async fn request_ids_are_made_or_passed_through() {
    let (app, _) = test_app().await;
    let made = get(&app, "/health", &[]).await;
    assert_eq!(made.header("x-request-id").len(), 36, "a UUID");
    let passed = get(&app, "/health", &[("x-request-id", "abc-123")]).await;
    assert_eq!(passed.header("x-request-id"), "abc-123");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool() {
    let (app, _) = test_app().await;
    get(&app, "/health", &[]).await;
    get(&app, "/does-not-exist", &[]).await;
    let metrics = get(&app, "/metrics", &[]).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.header("content-type").starts_with("text/plain"));
    let text = metrics.text();
    let has = |needle: &str| {
        text.lines()
            .any(|l| l.starts_with(needle) || (l.contains(needle) && !l.starts_with('#')))
    };
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total{")
            && l.contains("route=\"/health\"")
            && l.contains("status=\"200\"")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total{")
            && l.contains("route=\"unmatched\"")
            && l.contains("status=\"404\"")),
        "{text}"
    );
    assert!(has("http_request_duration_seconds_bucket{"), "{text}");
    assert!(has("db_pool_max_connections 4"), "{text}");
    assert!(has("db_pool_connections"), "{text}");
}

#[tokio::test]
async fn every_page_has_the_site_icon_and_favicon_ico_is_one() {
    let (app, _) = test_app().await;
    // The pages and the map link the SVG icon, so browsers do not ask for /favicon.ico (a 404
    // before).
    for path in ["/impressum", "/datenschutz", "/opendata", "/map"] {
        let page = get(&app, path, &[("accept", BROWSER)]).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.text()
                .contains(r#"<link rel="icon" href="/favicon.svg" type="image/svg+xml">"#),
            "{path}"
        );
    }
    let svg = get(&app, "/favicon.svg", &[]).await;
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("content-type"), "image/svg+xml");
    assert!(svg.text().starts_with("<svg"), "{}", svg.text());
    // Readers that ask for the old name get a real ICO: 32 × 32, transparent corners, blue at
    // the edge, the white gable in the middle.
    let ico = get(&app, "/favicon.ico", &[]).await;
    assert_eq!(ico.status, 200);
    assert_eq!(ico.header("content-type"), "image/vnd.microsoft.icon");
    let image = image::load_from_memory_with_format(&ico.body, image::ImageFormat::Ico)
        .unwrap()
        .to_rgba8();
    assert_eq!(image.dimensions(), (32, 32));
    assert_eq!(image.get_pixel(0, 0).0[3], 0, "corner transparent");
    assert_eq!(image.get_pixel(16, 2).0, [11, 92, 173, 255], "blue edge");
    assert_eq!(
        image.get_pixel(16, 18).0,
        [255, 255, 255, 255],
        "white gable"
    );
}
