//! OGC API Features Parts 1–3 on the demo city: the assertions of the OGC test suite as a table
//! of cases, the CRS checks it leaves out, paging, CQL2, bad input, and real clients.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use stadtkarte_tests::{TestResponse, connect, demo_app, demo_database, get, python, serve};

const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const EPSG: &str = "http://www.opengis.net/def/crs/EPSG/0/";
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn link<'a>(doc: &'a Value, rel: &str, media: &str) -> Option<&'a str> {
    doc["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel && l["type"] == media)
        .and_then(|l| l["href"].as_str())
}

fn path_of(href: &str) -> String {
    let start = href.find("://").map_or(0, |i| i + 3);
    href[start..]
        .find('/')
        .map_or("/".to_owned(), |i| href[start + i..].to_owned())
}

fn ids(doc: &Value) -> Vec<i64> {
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect()
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn sql_ids(sql: &str) -> Vec<i64> {
    let client = connect(demo_database()).await;
    let sql = format!("SELECT v::bigint FROM ({sql}) s(v)");
    client
        .query(&sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, i64>(0))
        .collect()
}

fn assert_links_typed(doc: &Value) {
    for l in doc["links"].as_array().unwrap() {
        assert!(
            l["rel"].is_string() && l["type"].is_string() && l["href"].is_string(),
            "untyped link {l}"
        );
    }
}

#[tokio::test]
async fn landing_conformance_and_api() {
    let (app, _) = demo_app(|_| {}).await;
    let landing = get(&app, "/", &[("accept", "application/json")]).await;
    assert_eq!(landing.status, 200);
    let doc = landing.json();
    assert_links_typed(&doc);
    for (rel, media) in [
        ("self", "application/json"),
        ("alternate", "text/html"),
        (
            "service-desc",
            "application/vnd.oai.openapi+json;version=3.0",
        ),
        ("service-doc", "text/html"),
        ("conformance", "application/json"),
        ("data", "application/json"),
    ] {
        assert!(
            link(&doc, rel, media).is_some(),
            "landing link {rel} {media}"
        );
    }
    // The landing page as HTML is the developers' page (a browser at / gets the start page).
    let alternate = path_of(link(&doc, "alternate", "text/html").unwrap());
    assert_eq!(alternate, "/entwickler");
    let page = get(&app, &alternate, &[("accept", BROWSER)]).await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(
        get(&app, "/", &[("accept", "*/*")])
            .await
            .header("content-type")
            .starts_with("application/json")
    );
    assert!(
        get(&app, "/", &[("accept", BROWSER)])
            .await
            .header("content-type")
            .starts_with("text/html")
    );
    assert!(
        get(&app, "/?f=json", &[("accept", BROWSER)])
            .await
            .header("content-type")
            .starts_with("application/json")
    );

    let conformance = get(&app, "/conformance", &[]).await.json();
    let classes: Vec<&str> = conformance["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for needed in [
        "ogcapi-features-1/1.0/conf/core",
        "ogcapi-features-1/1.0/conf/oas30",
        "ogcapi-features-2/1.0/conf/crs",
        "ogcapi-features-3/1.0/conf/filter",
        "cql2/1.0/conf/basic-cql2",
        "cql2/1.0/conf/spatial-functions",
        "cql2/1.0/conf/temporal-functions",
    ] {
        assert!(classes.iter().any(|c| c.ends_with(needed)), "{needed}");
    }
    assert!(
        !classes
            .iter()
            .any(|c| c.ends_with("array-functions") || c.ends_with("arithmetic"))
    );

    let api = get(
        &app,
        "/api",
        &[("accept", "application/vnd.oai.openapi+json;version=3.0")],
    )
    .await;
    assert_eq!(
        api.header("content-type"),
        "application/vnd.oai.openapi+json;version=3.0"
    );
    let doc = api.json();
    let limit = &doc["components"]["parameters"]["limit"];
    assert_eq!(
        (
            limit["schema"]["minimum"].as_i64(),
            limit["schema"]["default"].as_i64(),
            limit["schema"]["maximum"].as_i64()
        ),
        (Some(1), Some(10), Some(10_000))
    );
    assert_eq!(
        (
            limit["in"].as_str(),
            limit["style"].as_str(),
            limit["explode"].as_bool()
        ),
        (Some("query"), Some("form"), Some(false))
    );
    let bbox = &doc["components"]["parameters"]["bbox"]["schema"];
    assert_eq!(
        (
            bbox["minItems"].as_i64(),
            bbox["maxItems"].as_i64(),
            bbox["items"]["type"].as_str()
        ),
        (Some(4), Some(6), Some("number"))
    );
    let items = &doc["paths"]["/collections/gebaeude/items"]["get"]["parameters"];
    assert!(
        items
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "funktion"),
        "queryables are declared parameters"
    );
    assert!(
        get(&app, "/api?f=html", &[])
            .await
            .text()
            .contains("/collections/gebaeude/items")
    );

    // The document validates strictly as OpenAPI 3.0.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, api.body.as_ref()).unwrap();
    let out = tokio::process::Command::new(python())
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn collections_describe_themselves_identically() {
    let (app, _) = demo_app(|_| {}).await;
    let list = get(&app, "/collections", &[]).await.json();
    assert_links_typed(&list);
    assert_eq!(list["crs"][0], CRS84);
    let collections = list["collections"].as_array().unwrap();
    assert_eq!(
        collections.len(),
        16,
        "the demo's five, the Mängelmelder's, the petitions' and the demo plans' nine \
         (plans, zoning areas and the seven typed plan objects)"
    );
    for c in collections {
        assert_eq!(c["itemType"], "feature");
        if c["id"] == "maengel" || c["id"] == "petitionen" {
            // Empty in the demo: no extent yet.
            assert!(c["extent"]["spatial"]["bbox"].is_null(), "{c}");
            continue;
        }
        assert_eq!(c["crs"][0], CRS84);
        assert!(c["crs"].as_array().unwrap().contains(&c["storageCrs"]));
        assert_eq!(c["storageCrs"], format!("{EPSG}25832"));
        assert_links_typed(c);
        for media in ["application/geo+json", "text/html", "text/csv"] {
            assert!(link(c, "items", media).is_some());
        }
        assert!(link(c, "license", "text/html").is_some());
        let bbox = c["extent"]["spatial"]["bbox"][0].as_array().unwrap();
        assert_eq!(bbox.len(), 4);
        let id = c["id"].as_str().unwrap();
        let one = get(&app, &format!("/collections/{id}"), &[]).await.json();
        for key in ["id", "title", "description", "extent"] {
            assert_eq!(one[key], c[key], "{id}: {key}");
        }
    }
    let gebaeude = collections.iter().find(|c| c["id"] == "gebaeude").unwrap();
    let interval = &gebaeude["extent"]["temporal"]["interval"][0];
    assert!(interval[0].as_str().unwrap() < interval[1].as_str().unwrap());
    assert_eq!(
        get(&app, "/collections/gibt-es-nicht", &[]).await.status,
        404
    );

    let q = get(&app, "/collections/gebaeude/queryables", &[]).await;
    assert_eq!(q.header("content-type"), "application/schema+json");
    let q = q.json();
    assert_eq!(q["additionalProperties"], false);
    assert_eq!(q["properties"]["geschosse"]["type"], "integer");
    assert_eq!(q["properties"]["fertigstellung"]["format"], "date");
    assert_eq!(
        q["properties"]["geometry"]["x-ogc-role"],
        "primary-geometry"
    );
}

#[tokio::test]
async fn items_pages_counts_and_links() {
    let (app, _) = demo_app(|c| {
        c.features.max_limit = 500;
        c.features.number_matched_cap = 2_000;
    })
    .await;
    let first = get(
        &app,
        "/collections/poi/items",
        &[("accept", "application/geo+json")],
    )
    .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), "application/geo+json");
    assert_eq!(first.header("content-crs"), format!("<{CRS84}>"));
    let doc = first.json();
    assert_eq!(doc["type"], "FeatureCollection");
    assert_eq!(doc["numberReturned"], 10);
    assert_eq!(doc["features"].as_array().unwrap().len(), 10);
    let total = sql_ids("SELECT count(*) FROM data.poi").await[0];
    assert_eq!(doc["numberMatched"].as_i64(), Some(total));
    assert!(chrono_like(doc["timeStamp"].as_str().unwrap()));
    assert_links_typed(&doc);
    for (rel, media) in [
        ("self", "application/geo+json"),
        ("alternate", "text/html"),
        ("alternate", "text/csv"),
        ("next", "application/geo+json"),
        ("collection", "application/json"),
    ] {
        assert!(link(&doc, rel, media).is_some(), "{rel} {media}");
    }
    // Above the maximum: clamped, never refused.
    assert_eq!(
        get(&app, "/collections/poi/items?limit=100000", &[])
            .await
            .json()["numberReturned"],
        500
    );
    // Above the count cap numberMatched is left out.
    let big = get(&app, "/collections/gebaeude/items?limit=1", &[])
        .await
        .json();
    assert!(big.get("numberMatched").is_none());

    // Walking next to the end yields every feature exactly once; prev walks back.
    for sortby in ["", "&sortby=%2Bstadtteil,-name", "&sortby=-funktion"] {
        let mut seen = Vec::new();
        let mut pages = Vec::new();
        let mut href = format!("/collections/poi/items?limit=97{sortby}");
        loop {
            let page = get(&app, &href, &[]).await.json();
            assert_links_typed(&page);
            pages.push(ids(&page));
            seen.extend(ids(&page));
            match link(&page, "next", "application/geo+json") {
                Some(next) => href = path_of(next),
                None => break,
            }
        }
        assert_eq!(seen.len() as i64, total, "{sortby}");
        assert_eq!(
            seen.iter().collect::<BTreeSet<_>>().len() as i64,
            total,
            "no duplicates {sortby}"
        );
        let last = get(&app, &href, &[]).await.json();
        let mut back = link(&last, "prev", "application/geo+json").map(path_of);
        let mut index = pages.len() - 1;
        while let Some(prev) = back {
            index -= 1;
            let page = get(&app, &prev, &[]).await.json();
            assert_eq!(ids(&page), pages[index], "prev page {index} {sortby}");
            back = link(&page, "prev", "application/geo+json").map(path_of);
        }
        assert_eq!(index, 0);
    }

    // A next link followed with another limit (as the OGC test suite does) continues where the
    // page ended: 20 after the first 10 are the features 11–30 of one page of 30.
    let thirty = ids(&get(&app, "/collections/poi/items?limit=30", &[])
        .await
        .json());
    let ten = get(&app, "/collections/poi/items?limit=10", &[])
        .await
        .json();
    let next = path_of(link(&ten, "next", "application/geo+json").unwrap());
    assert!(next.contains("limit=10"), "{next}");
    let other = next.replace("limit=10", "limit=20");
    let page = get(&app, &other, &[]).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let mut walked = ids(&ten);
    walked.extend(ids(&page.json()));
    assert_eq!(walked, thirty);
    // A cursor of another query is still refused.
    let forged = next.replace("limit=10", "limit=20&funktion=Schule");
    assert_eq!(get(&app, &forged, &[]).await.status, 400);
}

fn chrono_like(s: &str) -> bool {
    s.len() == 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T'
}

#[tokio::test]
async fn sorting_properties_and_property_filters() {
    let (app, _) = demo_app(|_| {}).await;
    let doc = get(&app, "/collections/gebaeude/items?funktion=Schule&sortby=%2Bstrasse,-geschosse&limit=1000&properties=strasse,geschosse", &[]).await.json();
    let expected = sql_ids("SELECT id FROM data.gebaeude WHERE funktion = 'Schule' ORDER BY strasse, geschosse DESC, id").await;
    assert_eq!(ids(&doc), expected);
    for f in doc["features"].as_array().unwrap() {
        let keys: Vec<&String> = f["properties"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["geschosse", "strasse"], "{f}");
    }
    let n = get(
        &app,
        "/collections/gebaeude/items?geschosse=3&stadtteil=Lay&limit=1",
        &[],
    )
    .await
    .json()["numberMatched"]
        .as_i64();
    assert_eq!(
        n,
        Some(
            sql_ids("SELECT count(*) FROM data.gebaeude WHERE geschosse = 3 AND stadtteil = 'Lay'")
                .await[0]
        )
    );
}

#[tokio::test]
async fn bbox_and_datetime_select_what_postgis_selects() {
    let (app, _) = demo_app(|_| {}).await;
    let count = |doc: &Value| doc["numberMatched"].as_i64().unwrap();
    // A box in CRS84 (counted exactly as PostGIS does with the densified transformed box).
    let crs84 = get(
        &app,
        "/collections/poi/items?bbox=7.58,50.35,7.60,50.36&limit=1",
        &[],
    )
    .await
    .json();
    let reference = sql_ids("SELECT count(*) FROM data.poi WHERE ST_Intersects(geom, ST_Transform(ST_Segmentize(ST_MakeEnvelope(7.58,50.35,7.60,50.36,4326), 0.01), 25832))").await[0];
    assert_eq!(count(&crs84), reference);
    assert!(reference > 10);
    // The same box with latitude first in EPSG:4326, and with 6 numbers.
    let lat_first = get(
        &app,
        &format!(
            "/collections/poi/items?bbox=50.35,7.58,50.36,7.60&bbox-crs={}&limit=1",
            enc(&format!("{EPSG}4326"))
        ),
        &[],
    )
    .await
    .json();
    assert_eq!(count(&lat_first), reference);
    assert_eq!(
        count(
            &get(
                &app,
                "/collections/poi/items?bbox=7.58,50.35,0,7.60,50.36,500&limit=1",
                &[]
            )
            .await
            .json()
        ),
        reference
    );
    // A box in the storage CRS.
    let utm = get(
        &app,
        &format!(
            "/collections/gebaeude/items?bbox=398000,5578000,399000,5579000&bbox-crs={}&limit=1",
            enc(&format!("{EPSG}25832"))
        ),
        &[],
    )
    .await
    .json();
    let utm_ref = sql_ids("SELECT count(*) FROM data.gebaeude WHERE ST_Intersects(geom, ST_MakeEnvelope(398000,5578000,399000,5579000,25832))").await[0];
    assert_eq!(count(&utm), utm_ref);
    // Across the antimeridian, at the poles: valid and empty here.
    for b in ["177,65,-177,70", "-180,85,180,90", "-180,-90,180,-85"] {
        let r = get(&app, &format!("/collections/poi/items?bbox={b}"), &[]).await;
        assert_eq!(r.status, 200, "{b}");
        assert_eq!(r.json()["numberReturned"], 0);
    }
    // A collection without any feature (the demo's Mängelmelder) has no extent to clip to.
    for b in ["0,0,0,0", "7,50,8,51", "0,0,0,0,0,0"] {
        let r = get(&app, &format!("/collections/maengel/items?bbox={b}"), &[]).await;
        assert_eq!(r.status, 200, "{b}: {}", r.text());
        assert_eq!(r.json()["numberReturned"], 0);
    }
    for (datetime, sql) in [
        ("1975-06-01", "fertigstellung = '1975-06-01'"),
        (
            "1950-01-01/1960-12-31",
            "fertigstellung BETWEEN '1950-01-01' AND '1960-12-31'",
        ),
        ("../1900-01-01", "fertigstellung <= '1900-01-01'"),
        ("2020-01-01/..", "fertigstellung >= '2020-01-01'"),
        (
            "2020-01-01T00:00:00Z/2020-06-30T23:59:59Z",
            "fertigstellung BETWEEN '2020-01-01' AND '2020-06-30'",
        ),
    ] {
        let doc = get(
            &app,
            &format!(
                "/collections/gebaeude/items?datetime={}&limit=1",
                enc(datetime)
            ),
            &[],
        )
        .await
        .json();
        let expected = sql_ids(&format!("SELECT count(*) FROM data.gebaeude WHERE {sql}")).await[0];
        if expected <= 10_000 {
            assert_eq!(doc["numberMatched"].as_i64(), Some(expected), "{datetime}");
        } else {
            assert!(doc.get("numberMatched").is_none(), "{datetime}");
        }
    }
    // A collection without time: datetime is accepted and selects everything.
    let all = get(
        &app,
        "/collections/poi/items?datetime=2020-01-01&limit=1",
        &[],
    )
    .await
    .json();
    assert_eq!(
        all["numberMatched"].as_i64(),
        Some(sql_ids("SELECT count(*) FROM data.poi").await[0])
    );
}

#[tokio::test]
async fn output_crs_coordinates_match_postgis() {
    let (app, _) = demo_app(|_| {}).await;
    let client = connect(demo_database()).await;
    for (srid, flip) in [(25832, false), (3857, false), (4326, true), (4258, true)] {
        let uri = format!("{EPSG}{srid}");
        let r = get(
            &app,
            &format!("/collections/poi/items?limit=5&crs={}", enc(&uri)),
            &[],
        )
        .await;
        assert_eq!(r.header("content-crs"), format!("<{uri}>"));
        for f in r.json()["features"].as_array().unwrap() {
            let id = f["id"].as_i64().unwrap();
            let c = &f["geometry"]["coordinates"];
            let row = client
                .query_one(&format!("SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(geom, {srid}) g FROM data.poi WHERE id = $1) s"), &[&id])
                .await
                .unwrap();
            let (x, y): (f64, f64) = (row.get(0), row.get(1));
            let (a, b) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
            let (ex, ey) = if flip { (y, x) } else { (x, y) };
            let tolerance = if srid == 25832 || srid == 3857 {
                0.001
            } else {
                1e-8
            };
            assert!(
                (a - ex).abs() <= tolerance && (b - ey).abs() <= tolerance,
                "{srid}: {a},{b} vs {ex},{ey}"
            );
        }
    }
    let one = get(
        &app,
        &format!(
            "/collections/poi/items/7?crs={}",
            enc(&format!("{EPSG}25832"))
        ),
        &[],
    )
    .await;
    assert_eq!(one.header("content-crs"), format!("<{EPSG}25832>"));
    let unsupported = get(
        &app,
        "/collections/poi/items?crs=http://www.opengis.net/def/crs/0/unsupported",
        &[],
    )
    .await;
    assert_eq!(unsupported.status, 400);
    assert_eq!(
        get(
            &app,
            "/collections/poi/items?bbox=1,2,3,4&bbox-crs=EPSG:9999",
            &[]
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn single_features_html_and_csv() {
    let (app, _) = demo_app(|_| {}).await;
    let f = get(&app, "/collections/gebaeude/items/42", &[]).await;
    assert_eq!(f.status, 200);
    assert_eq!(f.header("content-type"), "application/geo+json");
    let doc = f.json();
    assert_eq!(doc["id"], 42);
    for (rel, media) in [
        ("self", "application/geo+json"),
        ("alternate", "text/html"),
        ("collection", "application/json"),
    ] {
        assert!(link(&doc, rel, media).is_some());
    }
    assert_eq!(
        get(&app, "/collections/gebaeude/items/99999999", &[])
            .await
            .status,
        404
    );
    assert_eq!(
        get(&app, "/collections/gebaeude/items/abc", &[])
            .await
            .status,
        404
    );
    let page = get(
        &app,
        "/collections/gebaeude/items/42",
        &[("accept", BROWSER)],
    )
    .await
    .text();
    assert!(
        page.contains("<th scope=\"row\">Gebäudefunktion</th>"),
        "the title, not the API name"
    );

    let html = get(
        &app,
        "/collections/poi/items?limit=5",
        &[("accept", BROWSER)],
    )
    .await;
    assert!(html.header("content-type").starts_with("text/html"));
    let text = html.text();
    assert!(
        text.contains("<svg") && text.contains("<circle") && text.contains("<table"),
        "{text}"
    );
    assert_eq!(text.matches("<tr><td>").count(), 5);

    let csv = get(&app, "/collections/poi/items?limit=3&f=csv", &[]).await;
    assert!(csv.header("content-type").starts_with("text/csv"));
    let mut reader = csv::Reader::from_reader(csv.body.as_ref());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["id", "name", "funktion", "stadtteil", "wkt", "lon", "lat"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0][4].starts_with("POINT(7."));
    let lon: f64 = rows[0][5].parse().unwrap();
    assert!((7.4..7.8).contains(&lon));
}

#[tokio::test]
async fn bad_input_is_a_400_problem() {
    let (app, _) = demo_app(|_| {}).await;
    // Parentheses need no escaping in a query string, so 10,000 levels fit into a URL.
    let deep = format!(
        "{}{}{}",
        "(".repeat(10_000),
        enc("funktion = 'Schule'"),
        ")".repeat(10_000)
    );
    let deep_json = format!(
        "{}{}",
        r#"{"op":"not","args":["#.repeat(1_000),
        "]}".repeat(1_000)
    );
    let cases: Vec<(String, u16)> = vec![
        ("limit=0".into(), 400),
        ("limit=-1".into(), 400),
        ("limit=abc".into(), 400),
        ("bbox=1,2,3".into(), 400),
        ("bbox=1,2,3,4,5".into(), 400),
        ("bbox=1,2,3,4,5,6,7".into(), 400),
        ("bbox=7,91,8,92".into(), 400),
        ("bbox=7,51,8,50".into(), 400),
        ("datetime=gestern".into(), 400),
        ("datetime=2024-02-30".into(), 400),
        ("unbekannt=1".into(), 400),
        ("geschosse=drei".into(), 400),
        ("sortby=gibtsnicht".into(), 400),
        ("properties=gibtsnicht".into(), 400),
        (format!("filter={}", enc("gibtsnicht = 1")), 400),
        (format!("filter={}", enc("funktion = ")), 400),
        (format!("filter={}", enc("FROBNICATE(funktion) = 1")), 400),
        (format!("filter={}", enc("funktion = 5")), 400),
        (format!("filter={}", enc("geschosse LIKE 'a%'")), 400),
        (
            format!(
                "filter={}",
                enc("S_INTERSECTS(geometry, POLYGON((7 50, 8 50, 8 51)))")
            ),
            400,
        ),
        (
            format!(
                "filter={}",
                enc("T_AFTER(fertigstellung, DATE('2020-13-01'))")
            ),
            400,
        ),
        (format!("filter={deep}"), 400),
        (
            format!("filter={}&filter-lang=cql2-json", enc(&deep_json)),
            400,
        ),
        (
            format!(
                "filter={}&filter-lang=cql2-json",
                enc(r#"{"op":"=","args":[{"property":"funktion"}]}"#)
            ),
            400,
        ),
        ("filter-lang=cql2-json".into(), 400),
        (format!("filter={}&filter-lang=sql", enc("1=1")), 400),
        ("cursor=Zm9yZ2Vk".into(), 400),
        (
            "cursor=eyJkIjoibiIsImsiOlsyXSwicSI6IjAwMDAwMDAwMDAwMDAwMDAifQ".into(),
            400,
        ),
        ("f=xml".into(), 406),
    ];
    for (query, status) in cases {
        let r = get(&app, &format!("/collections/gebaeude/items?{query}"), &[]).await;
        assert_eq!(r.status, status, "{query}: {}", r.text());
        assert_eq!(
            r.header("content-type"),
            "application/problem+json",
            "{query}"
        );
        assert!(
            r.json()["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{query}"
        );
    }
    assert_eq!(
        get(
            &app,
            "/collections/gebaeude/items",
            &[("accept", "image/png")]
        )
        .await
        .status,
        406
    );
}

/// Each case: CQL2 text, the same in CQL2 JSON, and an SQL condition selecting the same ids.
fn battery() -> Vec<(&'static str, &'static str, Value, &'static str)> {
    vec![
        (
            "gebaeude",
            "funktion = 'Schule'",
            json!({"op":"=","args":[{"property":"funktion"},"Schule"]}),
            "funktion = 'Schule'",
        ),
        (
            "gebaeude",
            "geschosse >= 5 AND funktion <> 'Wohnhaus'",
            json!({"op":"and","args":[{"op":">=","args":[{"property":"geschosse"},5]},{"op":"<>","args":[{"property":"funktion"},"Wohnhaus"]}]}),
            "geschosse >= 5 AND funktion <> 'Wohnhaus'",
        ),
        (
            "poi",
            "name LIKE 'Spielplatz L%' OR funktion = 'Schule'",
            json!({"op":"or","args":[{"op":"like","args":[{"property":"name"},"Spielplatz L%"]},{"op":"=","args":[{"property":"funktion"},"Schule"]}]}),
            "name LIKE 'Spielplatz L%' OR funktion = 'Schule'",
        ),
        (
            "gebaeude",
            "geschosse BETWEEN 5 AND 6 AND stadtteil IN ('Altstadt', 'Süd')",
            json!({"op":"and","args":[{"op":"between","args":[{"property":"geschosse"},5,6]},{"op":"in","args":[{"property":"stadtteil"},["Altstadt","Süd"]]}]}),
            "geschosse BETWEEN 5 AND 6 AND stadtteil IN ('Altstadt','Süd')",
        ),
        (
            "poi",
            "NOT funktion IN ('Spielplatz', 'Bushaltestelle')",
            json!({"op":"not","args":[{"op":"in","args":[{"property":"funktion"},["Spielplatz","Bushaltestelle"]]}]}),
            "funktion NOT IN ('Spielplatz','Bushaltestelle')",
        ),
        (
            "stadtteile",
            "CASEI(name) = casei('LÜTZEL')",
            json!({"op":"=","args":[{"op":"casei","args":[{"property":"name"}]},{"op":"casei","args":["LÜTZEL"]}]}),
            "lower(name) = lower('LÜTZEL')",
        ),
        (
            "stadtteile",
            "ACCENTI(name) = accenti('Lutzel')",
            json!({"op":"=","args":[{"op":"accenti","args":[{"property":"name"}]},{"op":"accenti","args":["Lutzel"]}]}),
            "unaccent(name) = unaccent('Lutzel')",
        ),
        (
            "stadtteile",
            "S_INTERSECTS(geometry, POINT(7.5975 50.3605))",
            json!({"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[7.5975,50.3605]}]}),
            "ST_Intersects(geom, ST_Transform(ST_SetSRID(ST_MakePoint(7.5975,50.3605),4326),25832))",
        ),
        (
            "poi",
            "S_WITHIN(geometry, BBOX(7.58, 50.35, 7.60, 50.36))",
            json!({"op":"s_within","args":[{"property":"geometry"},{"bbox":[7.58,50.35,7.60,50.36]}]}),
            "ST_Within(geom, ST_Transform(ST_MakeEnvelope(7.58,50.35,7.60,50.36,4326),25832))",
        ),
        (
            "stadtteile",
            "S_CONTAINS(geometry, POINT(7.55 50.35)) OR S_TOUCHES(geometry, POLYGON((0 0, 1 0, 1 1, 0 0)))",
            json!({"op":"or","args":[{"op":"s_contains","args":[{"property":"geometry"},{"type":"Point","coordinates":[7.55,50.35]}]},{"op":"s_touches","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}]}]}),
            "ST_Contains(geom, ST_Transform(ST_SetSRID(ST_MakePoint(7.55,50.35),4326),25832))",
        ),
        (
            "stadtteile",
            "S_DISJOINT(geometry, LINESTRING(7.55 50.33, 7.65 50.38))",
            json!({"op":"s_disjoint","args":[{"property":"geometry"},{"type":"LineString","coordinates":[[7.55,50.33],[7.65,50.38]]}]}),
            "ST_Disjoint(geom, ST_Transform(ST_GeomFromText('LINESTRING(7.55 50.33, 7.65 50.38)',4326),25832))",
        ),
        (
            "stadtteile",
            "S_CROSSES(geometry, LINESTRING(7.55 50.33, 7.65 50.38))",
            json!({"op":"s_crosses","args":[{"property":"geometry"},{"type":"LineString","coordinates":[[7.55,50.33],[7.65,50.38]]}]}),
            "ST_Crosses(geom, ST_Transform(ST_GeomFromText('LINESTRING(7.55 50.33, 7.65 50.38)',4326),25832))",
        ),
        (
            "gebaeude",
            "T_AFTER(fertigstellung, DATE('2023-06-01'))",
            json!({"op":"t_after","args":[{"property":"fertigstellung"},{"date":"2023-06-01"}]}),
            "fertigstellung > '2023-06-01'",
        ),
        (
            "gebaeude",
            "T_BEFORE(fertigstellung, TIMESTAMP('1750-01-01T00:00:00Z'))",
            json!({"op":"t_before","args":[{"property":"fertigstellung"},{"timestamp":"1750-01-01T00:00:00Z"}]}),
            "fertigstellung < '1750-01-01'",
        ),
        (
            "gebaeude",
            "T_DURING(fertigstellung, INTERVAL('1990-01-01', '1990-03-01'))",
            json!({"op":"t_during","args":[{"property":"fertigstellung"},{"interval":["1990-01-01","1990-03-01"]}]}),
            "fertigstellung > '1990-01-01' AND fertigstellung < '1990-03-01'",
        ),
        (
            "gebaeude",
            "T_INTERSECTS(fertigstellung, INTERVAL('2024-01-01', '..')) AND funktion = 'Garage'",
            json!({"op":"and","args":[{"op":"t_intersects","args":[{"property":"fertigstellung"},{"interval":["2024-01-01",".."]}]},{"op":"=","args":[{"property":"funktion"},"Garage"]}]}),
            "fertigstellung >= '2024-01-01' AND funktion = 'Garage'",
        ),
        (
            "gebaeude",
            "T_EQUALS(fertigstellung, DATE('1975-06-01'))",
            json!({"op":"t_equals","args":[{"property":"fertigstellung"},{"date":"1975-06-01"}]}),
            "fertigstellung = '1975-06-01'",
        ),
        (
            "gebaeude",
            "hoehe > geschosse AND geschosse > 5",
            json!({"op":"and","args":[{"op":">","args":[{"property":"hoehe"},{"property":"geschosse"}]},{"op":">","args":[{"property":"geschosse"},5]}]}),
            "hoehe > geschosse AND geschosse > 5",
        ),
        (
            "poi",
            "name IS NULL OR TRUE AND funktion = 'Öffentliche Toilette'",
            json!({"op":"or","args":[{"op":"isNull","args":[{"property":"name"}]},{"op":"and","args":[true,{"op":"=","args":[{"property":"funktion"},"Öffentliche Toilette"]}]}]}),
            "name IS NULL OR funktion = 'Öffentliche Toilette'",
        ),
    ]
}

async fn filtered_ids(app: &axum::Router, collection: &str, filter: &str, lang: &str) -> Vec<i64> {
    let r: TestResponse = get(
        app,
        &format!(
            "/collections/{collection}/items?limit=10000&filter={}&filter-lang={lang}",
            enc(filter)
        ),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{filter}: {}", r.text());
    let doc = r.json();
    assert!(
        link(&doc, "next", "application/geo+json").is_none(),
        "battery filters fit on one page"
    );
    let mut ids = ids(&doc);
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn cql2_text_and_json_agree_with_sql() {
    let (app, _) = demo_app(|_| {}).await;
    for (collection, text, json_filter, sql) in battery() {
        let expected = sql_ids(&format!(
            "SELECT id FROM data.{collection} WHERE {sql} ORDER BY id"
        ))
        .await;
        let from_text = filtered_ids(&app, collection, text, "cql2-text").await;
        let from_json = filtered_ids(&app, collection, &json_filter.to_string(), "cql2-json").await;
        assert_eq!(from_text, expected, "text: {text}");
        assert_eq!(from_json, expected, "json: {json_filter}");
        assert!(
            !expected.is_empty() || text.contains("TOUCHES"),
            "a case that selects nothing tests little: {text}"
        );
    }
    // filter-crs: the same point in UTM.
    let (x, y) = stadtkarte_importers::demo::utm32(7.5975, 50.3605);
    let utm = get(
        &app,
        &format!(
            "/collections/stadtteile/items?filter={}&filter-crs={}",
            enc(&format!("S_INTERSECTS(geometry, POINT({x} {y}))")),
            enc(&format!("{EPSG}25832"))
        ),
        &[],
    )
    .await
    .json();
    let names: Vec<&str> = utm["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Altstadt"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdal_and_owslib_read_the_api() {
    let (app, _) = demo_app(|_| {}).await;
    let port = serve(app).await;
    let url = format!("OAPIF:http://127.0.0.1:{port}/");
    let out = tokio::process::Command::new("ogrinfo")
        .args(["-ro", "-q", &url])
        .output()
        .await
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    for c in ["gebaeude", "gewaesser", "poi", "stadtteile", "strassen"] {
        assert!(listing.contains(c), "{c} not listed by ogrinfo: {listing}");
    }
    let out = tokio::process::Command::new("ogrinfo")
        .args(["-ro", "-al", "-geom=NO", &url, "poi"])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = sql_ids("SELECT count(*) FROM data.poi").await[0];
    let read = text
        .lines()
        .filter(|l| l.starts_with("OGRFeature("))
        .count();
    assert_eq!(
        read as i64,
        expected,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Öffentliche Toilette"));

    let script = format!(
        "from owslib.ogcapi.features import Features\n\
         api = Features('http://127.0.0.1:{port}/')\n\
         ids = api.feature_collections()\n\
         assert sorted(ids) == ['baugebiete','baugrenzen','baulinien','bebauungsplaene','gebaeude','gemeinbedarfsflaechen','gewaesser','gruenflaechen','maengel','petitionen','poi','stadtteile','strassen','strassenverkehrsflaechen','ueberbaubare_flaechen','verkehrsflaechen_besonderer_zweckbestimmung'], ids\n\
         items = api.collection_items('poi', limit=7, funktion='Schule')\n\
         assert items['numberReturned'] == 7, items['numberReturned']\n\
         assert all(f['properties']['funktion'] == 'Schule' for f in items['features'])\n\
         q = api.collection_queryables('gebaeude')\n\
         assert 'geschosse' in q['properties']\n\
         print('ok', len(ids))\n"
    );
    let out = tokio::process::Command::new(python())
        .args(["-c", &script])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn cql2_json_as_post_body() {
    let (app, _) = demo_app(|_| {}).await;
    let body = r#"{"op":"=","args":[{"property":"funktion"},"Schule"]}"#;
    let request = axum::http::Request::post("/collections/gebaeude/items?limit=10000")
        .header("content-type", "application/query-cql-json")
        .body(axum::body::Body::from(body))
        .unwrap();
    let r = stadtkarte_tests::send(&app, request).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut got = ids(&r.json());
    got.sort_unstable();
    assert_eq!(
        got,
        sql_ids("SELECT id FROM data.gebaeude WHERE funktion = 'Schule' ORDER BY id").await
    );
    let bad = axum::http::Request::post("/collections/gebaeude/items")
        .body(axum::body::Body::from("{not json"))
        .unwrap();
    assert_eq!(stadtkarte_tests::send(&app, bad).await.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_cancels_the_query() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (app, _) = demo_app(|c| c.features.max_limit = 1_000_000).await;
    let metrics_app = app.clone();
    let port = serve(app).await;
    let cancelled = async || -> f64 {
        let text = get(&metrics_app, "/metrics", &[]).await.text();
        text.lines()
            .find(|l| l.starts_with("features_streams_cancelled_total"))
            .and_then(|l| l.split_whitespace().last()?.parse().ok())
            .unwrap_or(0.0)
    };
    let before = cancelled().await;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(
            b"GET /collections/gebaeude/items?limit=1000000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        )
        .await
        .unwrap();
    let mut first = vec![0u8; 4096];
    let n = stream.read(&mut first).await.unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    drop(stream); // hang up after the first bytes of about 25 MB
    let started = std::time::Instant::now();
    while cancelled().await <= before {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the stream was not cancelled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// With a bbox, `numberMatched` is the exact count of the geometries that intersect the box —
/// not of those whose bounding boxes overlap it — and it is left out (as the standard allows)
/// when already the boxes' overlap, counted cheaply with the index, exceeds the cap.
#[tokio::test]
async fn a_bbox_count_is_exact_and_made_only_below_the_cap() {
    let area =
        "ST_Transform(ST_Segmentize(ST_MakeEnvelope(7.590,50.355,7.592,50.356,4326), 0.01), 25832)";
    let exact = sql_ids(&format!(
        "SELECT count(*) FROM data.gebaeude WHERE ST_Intersects(geom, {area})"
    ))
    .await[0];
    let overlap = sql_ids(&format!(
        "SELECT count(*) FROM data.gebaeude WHERE geom && {area}"
    ))
    .await[0];
    assert!(
        overlap > exact && exact > 1,
        "the box is to show the difference: {overlap} overlapping, {exact} intersecting"
    );
    let path = "/collections/gebaeude/items?bbox=7.590,50.355,7.592,50.356&limit=1";
    let cap = |cap: i64| {
        move |c: &mut stadtkarte_core::Config| {
            c.features.number_matched_cap = u32::try_from(cap).unwrap();
        }
    };
    let (app, _) = demo_app(cap(overlap)).await;
    let doc = get(&app, path, &[]).await.json();
    assert_eq!(
        doc["numberMatched"].as_i64(),
        Some(exact),
        "exact at the cap"
    );
    let (app, _) = demo_app(cap(overlap - 1)).await;
    let doc = get(&app, path, &[]).await.json();
    assert_eq!(doc["numberReturned"], 1);
    assert!(
        doc.get("numberMatched").is_none(),
        "the overlap exceeds the cap: not counted ({doc})"
    );
}
