//! Every HTML page of the platform in its one layout: one `<main id="inhalt">`, the skip link
//! first, the language of the page in `<html lang>`, the footer with imprint and privacy, the
//! versioned stylesheet, no inline style or script; data escaped wherever a page shows it; the
//! language chosen by `?lang=`, the cookie or `Accept-Language`. In a real browser: axe-core
//! finds nothing serious, the skip link is the first stop of the keyboard, and no page is
//! wider than a 360-pixel phone.

use serde_json::Value;
use stadtkarte_importers::demo::{self, DemoOptions};
use stadtkarte_importers::xplan;
use stadtkarte_opendata::registry;
use stadtkarte_tests::{app_with, config_for, connect, fresh_database, get, serve};

use crate::import_xplan;

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const HOSTILE: &str = "<script>alert(1)</script>";
const ESCAPED: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";

/// The demo city with its datasets, and hostile text in a collection title, a feature
/// property and a dataset title. Returns the app and the id of the hostile feature.
async fn app() -> (axum::Router, i64) {
    let url = fresh_database().await;
    let mut client = connect(&url).await;
    demo::load(&mut client, DemoOptions::default(), |_| {})
        .await
        .unwrap();
    let config = config_for(&url);
    registry::fill_demo(&client, &stadtkarte::dataset_defaults(&config))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    xplan::import(
        &mut client,
        &import_xplan::job(&import_xplan::archive(dir.path())),
    )
    .await
    .unwrap();
    let feature: i64 = client
        .query_one(
            &format!(
                "UPDATE data.poi SET name = '{HOSTILE}' WHERE id = (SELECT min(id) FROM data.poi)
                 RETURNING id::bigint"
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    client
        .batch_execute(&format!(
            "UPDATE catalog.collections SET title = 'Orte {HOSTILE}' WHERE id = 'poi';
             UPDATE catalog.datasets SET title = 'Orte {HOSTILE}', title_en = 'Places {HOSTILE}'
              WHERE id = 'orte';
             UPDATE plans.bebauungsplaene SET name = 'Moselbogen {HOSTILE}';"
        ))
        .await
        .unwrap();
    (app_with(config).await.0, feature)
}

/// Every page: its address, the status it answers with, and whether it shows the hostile text.
fn pages(feature: i64) -> Vec<(String, u16, bool)> {
    vec![
        ("/?f=html".into(), 200, false),
        ("/entwickler".into(), 200, true),
        ("/collections?f=html".into(), 200, true),
        ("/collections/poi?f=html".into(), 200, true),
        ("/collections/poi/items?f=html&limit=5".into(), 200, true),
        (
            format!("/collections/poi/items/{feature}?f=html"),
            200,
            true,
        ),
        ("/collections/poi/queryables?f=html".into(), 200, true),
        ("/conformance?f=html".into(), 200, false),
        ("/api?f=html".into(), 200, true),
        ("/opendata".into(), 200, true),
        ("/opendata/orte".into(), 200, true),
        ("/plans/PLAN_MOSELBOGEN/dokumente?f=html".into(), 200, true),
        ("/plans/PLAN_MOSELBOGEN?f=html".into(), 200, true),
        ("/collections/gibtsnicht?f=html".into(), 404, false),
        ("/impressum".into(), 200, false),
        ("/datenschutz".into(), 200, false),
    ]
}

/// The entries of the start page, in order: the map, reporting a problem, the petitions, the
/// open data, the developers' page.
const START_ENTRIES: [&str; 5] = [
    "/map",
    "/maengel/melden",
    "/petitionen",
    "/opendata",
    "/entwickler",
];

fn with_lang(path: &str, lang: &str) -> String {
    let join = if path.contains('?') { '&' } else { '?' };
    format!("{path}{join}lang={lang}")
}

/// The layout's promises, for one page in one language.
fn check_layout(path: &str, html: &str, lang: &str) {
    let has = |needle: &str| html.contains(needle);
    assert!(has("<!doctype html>"), "{path}: doctype");
    assert!(
        has(&format!("<html lang=\"{lang}\">")),
        "{path}: lang {lang}"
    );
    assert_eq!(
        html.matches("<main id=\"inhalt\">").count(),
        1,
        "{path}: one main"
    );
    assert_eq!(html.matches("<main").count(), 1, "{path}: one main");
    // The skip link is the first thing in the body a keyboard can reach.
    let body = &html[html.find("<body>").unwrap()..];
    let first = [
        "<a ",
        "<input",
        "<select",
        "<button",
        "<textarea",
        "tabindex=\"0\"",
    ]
    .iter()
    .filter_map(|tag| body.find(tag))
    .min()
    .unwrap();
    assert!(
        body[first..].starts_with("<a class=\"skip-link\" href=\"#inhalt\">"),
        "{path}: the skip link comes first: {}",
        &body[first..first + 80]
    );
    let skip = if lang == "de" {
        "Zum Inhalt springen"
    } else {
        "Skip to content"
    };
    assert!(has(skip), "{path}: skip link text in {lang}");
    // The footer links the imprint and the privacy notice.
    let footer = &html[html
        .find("<footer")
        .unwrap_or_else(|| panic!("{path}: footer"))..];
    assert!(
        footer.contains("href=\"/impressum\"") && footer.contains("href=\"/datenschutz\""),
        "{path}: footer links"
    );
    // The header names the site and links the start page, the map, the open data, the
    // developers' page and the other language (this page with lang swapped).
    let header = &html[html.find("<header").unwrap()..html.find("</header>").unwrap()];
    for link in [
        "href=\"/\"",
        "href=\"/map\"",
        "href=\"/opendata\"",
        "href=\"/entwickler\"",
    ] {
        assert!(header.contains(link), "{path}: header lacks {link}");
    }
    assert!(header.contains("Stadtkarte Koblenz"), "{path}: site name");
    let other = if lang == "de" { "en" } else { "de" };
    assert!(
        header.contains(&format!("lang={other}\" lang=\"{other}\"")),
        "{path}: language switch to {other}: {header}"
    );
    // One stylesheet, versioned; nothing inline.
    assert!(
        has("<link rel=\"stylesheet\" href=\"/static/stadtkarte.css?v="),
        "{path}: stylesheet"
    );
    assert!(!has("<style"), "{path}: inline <style>");
    assert!(!has("style=\""), "{path}: style attribute");
    for (at, _) in html.match_indices("<script") {
        let tag = &html[at..at + html[at..].find('>').unwrap()];
        assert!(tag.contains(" src=\""), "{path}: inline script {tag}");
    }
    for handler in [" onclick=", " onload=", " onerror=", "javascript:"] {
        assert!(!has(handler), "{path}: {handler}");
    }
}

#[tokio::test]
async fn every_page_has_the_layout_in_both_languages_and_escapes_data() {
    let (app, feature) = app().await;
    for (path, status, shows_hostile) in pages(feature) {
        for lang in ["de", "en"] {
            let address = if lang == "de" {
                path.clone()
            } else {
                with_lang(&path, lang)
            };
            let r = get(&app, &address, &[("accept", BROWSER)]).await;
            assert_eq!(r.status.as_u16(), status, "{address}");
            assert!(
                r.header("content-type").starts_with("text/html"),
                "{address}"
            );
            assert!(r.header("vary").contains("Accept-Language"), "{address}");
            let html = r.text();
            check_layout(&address, &html, lang);
            assert!(!html.contains(HOSTILE), "{address}: unescaped data");
            if shows_hostile {
                assert!(html.contains(ESCAPED), "{address}: the data, escaped");
            }
        }
    }
}

/// The part of `html` inside `<main>`.
fn main_of(html: &str) -> &str {
    &html[html.find("<main").unwrap()..html.find("</main>").unwrap()]
}

#[tokio::test]
async fn the_start_page_leads_people_to_the_map_the_participation_and_the_data() {
    let (app, _) = app().await;
    let labels = [
        (
            "de",
            [
                "Karte",
                "Mangel melden",
                "Petitionen",
                "Offene Daten",
                "Für Entwickler",
            ],
        ),
        (
            "en",
            [
                "Map",
                "Report a problem",
                "Petitions",
                "Open data",
                "For developers",
            ],
        ),
    ];
    for (lang, labels) in labels {
        for address in [format!("/?lang={lang}"), format!("/?f=html&lang={lang}")] {
            let r = get(&app, &address, &[("accept", BROWSER)]).await;
            assert_eq!(r.status, 200, "{address}");
            let html = r.text();
            assert!(
                html.contains("<h1>Stadtkarte Koblenz</h1>"),
                "{address}: the site is the heading"
            );
            let main = main_of(&html);
            // Five entries, each a heading with one link and a line saying what is behind it.
            assert_eq!(main.matches("<li class=\"start-entry").count(), 5, "{main}");
            assert_eq!(main.matches("<h2>").count(), 5, "{main}");
            let mut at = 0;
            for (href, label) in START_ENTRIES.iter().zip(labels) {
                let heading = format!("<h2><a href=\"{href}\">{label}</a></h2>");
                let found = main[at..]
                    .find(&heading)
                    .unwrap_or_else(|| panic!("{address}: {heading} in order: {main}"));
                at += found + heading.len();
                let line = &main[at..];
                let line = &line[line.find("<p>").unwrap() + 3..line.find("</p>").unwrap()];
                assert!(line.len() > 20, "{address}: {href} is explained: {line:?}");
            }
            // The preview of the map: the demo city's districts, drawn on the server, labelled.
            assert!(
                main.contains("<svg class=\"start-preview\"")
                    && main.contains("role=\"img\" aria-labelledby=\"start-preview-title\""),
                "{address}: {main}"
            );
            let preview = if lang == "de" {
                "Vorschau der Karte: die Stadtteile von Koblenz"
            } else {
                "Preview of the map: the districts of Koblenz"
            };
            assert!(main.contains(preview), "{address}: {main}");
            assert!(
                main.matches("<path d=\"M").count() >= 5,
                "{address}: districts"
            );
            assert!(
                !html.contains("<script"),
                "{address}: works without JavaScript"
            );
        }
    }
    // Every entry leads to a page, in either language.
    for href in START_ENTRIES {
        for lang in ["de", "en"] {
            let address = with_lang(href, lang);
            let r = get(&app, &address, &[("accept", BROWSER)]).await;
            assert_eq!(r.status, 200, "{address}");
            assert!(
                r.header("content-type").starts_with("text/html"),
                "{address}"
            );
        }
    }
    // Programs still get the landing page of the OGC API at the same address.
    for (address, headers) in [
        ("/", &[][..]),
        ("/", &[("accept", "application/json")][..]),
        ("/?f=json", &[("accept", BROWSER)][..]),
    ] {
        let r = get(&app, address, headers).await;
        assert_eq!(r.header("content-type"), "application/json", "{address}");
        let doc = r.json();
        assert_eq!(doc["title"], "Stadtkarte Koblenz");
        assert!(
            doc["links"].as_array().unwrap().iter().any(
                |l| l["rel"] == "data" && l["href"].as_str().unwrap().ends_with("/collections")
            ),
            "{doc}"
        );
    }
}

#[tokio::test]
async fn the_developers_page_keeps_everything_the_landing_page_showed() {
    let (app, _) = app().await;
    let landing = get(&app, "/?f=json", &[]).await.json();
    let base = landing["links"][0]["href"]
        .as_str()
        .unwrap()
        .trim_end_matches("/?f=json")
        .to_owned();
    let collections = get(&app, "/collections?f=json", &[]).await.json();
    for lang in ["de", "en"] {
        let address = format!("/entwickler?lang={lang}");
        let html = get(&app, &address, &[("accept", BROWSER)]).await.text();
        let main = main_of(&html);
        let (title, intro, apis, operations) = if lang == "de" {
            (
                "Für Entwickler",
                "Offene Geodaten der Stadt Koblenz",
                "Schnittstellen",
                "Betrieb",
            )
        } else {
            (
                "For developers",
                "Open geodata of the City of Koblenz",
                "Interfaces",
                "Operations",
            )
        };
        assert!(
            main.contains(&format!("<h1>{title}</h1>")),
            "{address}: {main}"
        );
        assert!(main.contains(intro) && main.contains(&format!("<h2>{apis}</h2>")));
        assert!(
            main.contains(&format!("<h2>{operations}</h2>")),
            "{address}"
        );
        // Every published collection of features, linked to its page.
        let ids: Vec<&str> = collections["collections"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["itemType"] == "feature")
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert!(ids.len() >= 5, "{collections}");
        for id in ids {
            assert!(
                main.contains(&format!("href=\"{base}/collections/{id}?f=html\"")),
                "{address}: collection {id}"
            );
        }
        // Every link of the landing page (but the one to this page) with its media type, and
        // the operational endpoints.
        for l in landing["links"].as_array().unwrap() {
            let href = l["href"].as_str().unwrap();
            if l["rel"] == "alternate" {
                assert_eq!(href, format!("{base}/entwickler"), "{l}");
                continue;
            }
            assert!(
                main.contains(&format!("<a href=\"{href}\">")),
                "{address}: {href}"
            );
            assert!(
                main.contains(&format!("<code>{}</code>", l["type"].as_str().unwrap())),
                "{address}: {l}"
            );
        }
        for path in ["/map", "/opendata", "/health", "/ready", "/metrics"] {
            assert!(
                main.contains(&format!("href=\"{base}{path}\"")),
                "{address}: {path}"
            );
        }
        // It leads back to the start page, and the navigation marks it as the API's part.
        let crumbs = &html[html.find("<nav class=\"breadcrumbs\"").unwrap()..];
        assert!(crumbs[..crumbs.find("</nav>").unwrap()].contains("<a href=\"/\">"));
        assert!(
            html.contains("<a href=\"/entwickler\" aria-current=\"true\">"),
            "{address}"
        );
    }
    // The pages of the API lead to it in their trail.
    for address in [
        "/collections?f=html",
        "/conformance?f=html",
        "/api?f=html",
        "/collections/poi/items?f=html&limit=2",
    ] {
        let html = get(&app, address, &[("accept", BROWSER)]).await.text();
        let crumbs = &html[html.find("<nav class=\"breadcrumbs\"").unwrap()..];
        let crumbs = &crumbs[..crumbs.find("</nav>").unwrap()];
        let start = crumbs
            .find("<a href=\"/\">")
            .unwrap_or_else(|| panic!("{address}"));
        let developers = crumbs
            .find("<a href=\"/entwickler\">Für Entwickler</a>")
            .unwrap_or_else(|| panic!("{address}: {crumbs}"));
        assert!(start < developers, "{address}: {crumbs}");
    }
}

#[tokio::test]
async fn the_language_comes_from_the_query_the_cookie_or_the_browser() {
    let (app, _) = app().await;
    let lang_of = |html: &str| {
        html.split("<html lang=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_owned()
    };
    let page = |headers: &'static [(&'static str, &'static str)], path: &'static str| {
        let app = app.clone();
        async move { get(&app, path, headers).await }
    };
    assert_eq!(lang_of(&page(&[], "/opendata").await.text()), "de");
    let chosen = page(&[], "/opendata?lang=en").await;
    assert_eq!(lang_of(&chosen.text()), "en");
    let cookie = chosen.header("set-cookie");
    assert!(
        cookie.starts_with("lang=en;") && cookie.contains("Path=/") && cookie.contains("SameSite"),
        "{cookie}"
    );
    assert_eq!(
        lang_of(&page(&[("cookie", "lang=en")], "/impressum").await.text()),
        "en"
    );
    assert_eq!(
        page(&[("cookie", "lang=en")], "/impressum?lang=en")
            .await
            .header("set-cookie"),
        "",
        "an unchanged choice sets no cookie"
    );
    assert_eq!(
        lang_of(
            &page(&[("cookie", "lang=en")], "/impressum?lang=de")
                .await
                .text()
        ),
        "de",
        "the query beats the cookie"
    );
    assert_eq!(
        lang_of(
            &page(&[("accept-language", "en-GB,en;q=0.9")], "/datenschutz")
                .await
                .text()
        ),
        "en"
    );
    assert_eq!(
        lang_of(
            &page(
                &[("accept-language", "en"), ("cookie", "lang=de")],
                "/datenschutz"
            )
            .await
            .text()
        ),
        "de",
        "the cookie beats the browser"
    );
    // The language of a problem page follows the same rule.
    let problem = page(
        &[("accept", BROWSER), ("accept-language", "en")],
        "/gibtsnicht",
    )
    .await;
    assert_eq!(problem.status, 404);
    assert_eq!(lang_of(&problem.text()), "en");
    // JSON is not affected, and sets no cookie.
    let json = page(&[], "/collections?lang=en").await;
    assert!(json.header("content-type").starts_with("application/json"));
    assert_eq!(json.header("set-cookie"), "");
    // An items page keeps working with lang and drops it from its paging links.
    let items = page(&[], "/collections/poi/items?f=html&limit=2&lang=en")
        .await
        .text();
    assert!(items.contains("Features on this page"), "{items}");
    let next = items
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    assert!(!next.contains("lang="), "{next}");
}

#[tokio::test]
async fn the_stylesheet_is_cached_by_version_and_the_legal_links_are_configurable() {
    let (app, _) = app().await;
    let html = get(&app, "/impressum", &[]).await.text();
    let href = html
        .split("<link rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let css = get(&app, &href, &[]).await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    assert!(css.header("cache-control").contains("immutable"));
    assert!(css.text().contains(":focus-visible"));
    let etag = css.header("etag").to_owned();
    assert_eq!(
        get(&app, &href, &[("if-none-match", &etag)]).await.status,
        304
    );
    let unversioned = get(&app, "/static/stadtkarte.css", &[]).await;
    assert_eq!(unversioned.header("cache-control"), "no-cache");
    assert!(
        html.contains("Stadtkarte Koblenz") && html.contains("city.imprint_url"),
        "the placeholder says how to replace it"
    );

    let url = fresh_database().await;
    let mut config = config_for(&url);
    config.city.name = "Musterstadt".into();
    config.city.imprint_url = "https://www.musterstadt.de/impressum".into();
    config.city.privacy_url = "https://www.musterstadt.de/datenschutz".into();
    let (other, _) = app_with(config).await;
    for path in ["/opendata", "/collections?f=html", "/gibtsnicht"] {
        let html = get(&other, path, &[("accept", BROWSER)]).await.text();
        let footer = &html[html.find("<footer").unwrap()..];
        assert!(
            footer.contains("href=\"https://www.musterstadt.de/impressum\"")
                && footer.contains("href=\"https://www.musterstadt.de/datenschutz\""),
            "{path}: {footer}"
        );
        assert!(html.contains("Stadtkarte Musterstadt"), "{path}");
    }
}

fn serious(violations: &Value) -> Vec<&Value> {
    violations
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_every_page_is_accessible_keyboard_first_and_fits_a_phone() {
    let (app, feature) = app().await;
    let port = serve(app).await;
    let mut urls = Vec::new();
    for (path, _, _) in pages(feature) {
        for lang in ["de", "en"] {
            urls.push(format!("http://127.0.0.1:{port}{}", with_lang(&path, lang)));
        }
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/pages.mjs");
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .args(&urls)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), urls.len(), "{stdout}");
    for r in &results {
        let url = r["url"].as_str().unwrap();
        assert!(serious(&r["violations"]).is_empty(), "axe on {url}: {r}");
        assert_eq!(r["firstFocus"], "skip-link", "{url}: {r}");
        assert_eq!(r["skipVisible"], true, "{url}: the focused skip link shows");
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
        assert_eq!(r["focusVisible"], true, "{url}: a visible focus: {r}");
        if url.contains("/?f=html") {
            assert_eq!(
                r["mainStops"].as_array().unwrap()[..START_ENTRIES.len()],
                START_ENTRIES.map(serde_json::Value::from),
                "{url}: past the skip link, the keyboard reaches the five entries in order: {r}"
            );
        }
    }
}
