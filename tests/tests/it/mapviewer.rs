//! The citizens' map end to end: `/map` in headless Chromium (playwright-core) over the full
//! demo (city, three aerial-image epochs, two development plans), as a citizen uses it; axe-core
//! for accessibility.

use std::path::Path;

use serde_json::{Value, json};
use stadtkarte_core::cog::{CogLevel, WORLD_HALF};
use stadtkarte_core::crs::inverse_mercator;
use stadtkarte_tests::{connect, full_demo, full_demo_app, get, serve};

/// Centre (lon, lat) of the deepest level of the newest epoch: where the 20-cm images are.
pub(crate) async fn fine_centre(url: &str, imagery: &std::path::Path) -> (f64, f64) {
    let client = connect(url).await;
    let levels: String = client
        .query_one(
            "SELECT levels::text FROM catalog.imagery ORDER BY year DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let levels: Value = serde_json::from_str(&levels).unwrap();
    let deepest = levels
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|l| l["zoom"].as_u64().unwrap())
        .unwrap();
    let level = CogLevel::open(&imagery.join(deepest["file"].as_str().unwrap())).unwrap();
    let tile = 2.0 * WORLD_HALF / f64::from(1u32 << level.zoom);
    let x = -WORLD_HALF + (f64::from(level.col0) + f64::from(level.cols) / 2.0) * tile;
    let y = WORLD_HALF - (f64::from(level.row0) + f64::from(level.rows) / 2.0) * tile;
    inverse_mercator(x, y)
}

pub(crate) fn serious(violations: &Value) -> Vec<&Value> {
    violations
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect()
}

/// The XYZ tile (x, y) of a point at zoom z (Web Mercator).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn tile_of(lon: f64, lat: f64, z: i32) -> (u32, u32) {
    let n = 2f64.powi(z);
    let lat = lat.to_radians();
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    (x.floor() as u32, y.floor() as u32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_gets_what_it_needs_in_one_document() {
    let (app, _) = full_demo_app().await;
    let answer = get(&app, "/map/katalog.json", &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(
        answer
            .header("content-type")
            .starts_with("application/json")
    );
    assert_eq!(answer.header("cache-control"), "public, max-age=60");
    let etag = answer.header("etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() > 4, "{etag}");
    let again = get(&app, "/map/katalog.json", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert_eq!(again.header("etag"), etag);
    let katalog = answer.json();

    // The collections: the tiled ones of the OGC API, each with its tile template, zoom range
    // and bounds.
    let listed = get(&app, "/collections?f=json", &[]).await.json();
    let mut expected: Vec<&str> = listed["collections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["itemType"] == "feature"
                && c["links"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l["rel"].as_str().unwrap().ends_with("tilesets-vector"))
        })
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    expected.sort_unstable();
    let collections = katalog["collections"].as_array().unwrap();
    let mut ids: Vec<&str> = collections
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, expected);
    for id in ["stadtteile", "gebaeude", "strassen", "bebauungsplaene"] {
        assert!(ids.contains(&id), "{id} missing: {ids:?}");
    }
    for c in collections {
        let id = c["id"].as_str().unwrap();
        let tiles = c["tiles"].as_array().unwrap();
        assert_eq!(tiles.len(), 1, "{c}");
        assert!(
            tiles[0]
                .as_str()
                .unwrap()
                .ends_with(&format!("/tiles/{id}/{{z}}/{{x}}/{{y}}")),
            "{c}"
        );
        assert!(!c["title"].as_str().unwrap().is_empty(), "{c}");
        assert!(
            c["attribution"].is_string() && c["license"].is_string(),
            "{c}"
        );
        assert!(c["minzoom"].as_i64().unwrap() <= c["maxzoom"].as_i64().unwrap());
        // What the collection's TileJSON says, the document says too.
        let tilejson = get(&app, &format!("/tiles/{id}"), &[]).await.json();
        assert_eq!(c["tiles"], tilejson["tiles"], "{id}");
        assert_eq!(c["minzoom"], tilejson["minzoom"], "{id}");
        assert_eq!(c["maxzoom"], tilejson["maxzoom"], "{id}");
        if !c["bounds"].is_null() {
            assert_eq!(c["bounds"], tilejson["bounds"], "{id}");
        }
    }
    // A tile from the template is a tile.
    let districts = collections
        .iter()
        .find(|c| c["id"] == "stadtteile")
        .unwrap();
    let b: Vec<f64> = districts["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (x, y) = tile_of(f64::midpoint(b[0], b[2]), f64::midpoint(b[1], b[3]), 13);
    let template = districts["tiles"][0].as_str().unwrap();
    let path = template
        .split_once("/tiles/")
        .map(|(_, p)| format!("/tiles/{p}"))
        .unwrap()
        .replace("{z}", "13")
        .replace("{x}", &x.to_string())
        .replace("{y}", &y.to_string());
    let tile = get(&app, &path, &[]).await;
    assert_eq!(tile.status, 200, "{path}");
    assert_eq!(
        tile.header("content-type"),
        "application/vnd.mapbox-vector-tile"
    );

    // The epochs, oldest first, with what their TileJSON gives: templates, parts, zoom range.
    let epochs = katalog["epochs"].as_array().unwrap();
    let years: Vec<i64> = epochs.iter().map(|e| e["year"].as_i64().unwrap()).collect();
    assert_eq!(years, [1958, 1996, 2023]);
    for e in epochs {
        let id = e["id"].as_str().unwrap();
        let tilejson = get(&app, &format!("/imagery/{id}"), &[]).await.json();
        for key in ["tiles", "parts", "minzoom", "maxzoom", "grayscale", "year"] {
            assert_eq!(e[key], tilejson[key], "{id}: {key}");
        }
        assert_eq!(e["bbox"], tilejson["bounds"], "{id}");
        assert!(!e["parts"].as_array().unwrap().is_empty(), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_uses_the_map() {
    let (url, imagery) = full_demo();
    let (app, _) = full_demo_app().await;

    // The page and its assets are served by the binary itself, versioned and compressed.
    let page = get(&app, "/map", &[]).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    assert!(script.starts_with("/map/app.js?v="), "{script}");
    let js = get(&app, &script, &[("accept-encoding", "gzip")]).await;
    assert_eq!(js.header("content-encoding"), "gzip");
    assert!(js.header("cache-control").contains("immutable"));
    assert!(
        js.body.len() < 600_000,
        "{} bytes compressed",
        js.body.len()
    );
    let etag = js.header("etag").to_owned();
    assert_eq!(
        get(&app, &script, &[("if-none-match", &etag)]).await.status,
        304
    );
    // The licences name MapLibre, jsPDF and every package jsPDF needs (its `dependencies`,
    // with theirs: the print bundle carries them all; type declarations, `@types/…`, are no
    // code), read off the installed packages.
    let licences = get(&app, "/map/lizenzen.txt", &[]).await.text();
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mapviewer/web/node_modules");
    let mut needed = vec!["maplibre-gl".to_owned(), "jspdf".to_owned()];
    let mut i = 1;
    while i < needed.len() {
        let pkg: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(modules.join(&needed[i]).join("package.json")).unwrap(),
        )
        .unwrap();
        for dep in pkg["dependencies"].as_object().into_iter().flatten() {
            if !dep.0.starts_with("@types/") && !needed.contains(dep.0) {
                needed.push(dep.0.clone());
            }
        }
        i += 1;
    }
    assert!(needed.len() > 4, "{needed:?}");
    for name in &needed {
        assert!(
            licences.contains(&format!("\n{name} ")) || licences.starts_with(&format!("{name} ")),
            "{name} missing in lizenzen.txt"
        );
    }

    let client = connect(url).await;
    let (lon, lat) = fine_centre(url, imagery).await;
    let plan = client
        .query_one(
            "SELECT ST_X(p), ST_Y(p), b.grz, pl.name FROM plans.baugebiete b
               JOIN plans.bebauungsplaene pl ON pl.id = b.plan_id,
               LATERAL ST_Transform(ST_PointOnSurface(b.geom), 4326) p
              WHERE b.grz IS NOT NULL ORDER BY b.id LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let (plan_lon, plan_lat, grz, plan_name): (f64, f64, f64, String) =
        (plan.get(0), plan.get(1), plan.get(2), plan.get(3));
    let street = client
        .query_one(
            "SELECT name, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
                 SELECT name, ST_Extent(ST_Transform(geom, 4326)) e FROM data.strassen
                  WHERE stadtteil = 'Mitte' AND length(name) > 8 GROUP BY name, stadtteil ORDER BY name LIMIT 1) x",
            &[],
        )
        .await
        .unwrap();
    let street_name: String = street.get(0);
    let street_bbox: [f64; 4] = [street.get(1), street.get(2), street.get(3), street.get(4)];

    // Twenty released reports within a few metres of each other (one of them done), for the
    // Mängelmelder's layer.
    client
        .batch_execute(&format!(
            "DELETE FROM maengel.reports;
             INSERT INTO maengel.reports (category, status, description, released_at, geom, secret, token)
             SELECT 'beleuchtung', CASE WHEN i = 1 THEN 'erledigt' ELSE 'eingegangen' END, 'Laterne ' || i,
                    now() - interval '1 minute',
                    ST_Transform(ST_SetSRID(ST_MakePoint({plan_lon} + i * 0.00002, {plan_lat}), 4326), 25832),
                    'geheim-karte-' || i, 'token-karte-' || i
             FROM generate_series(1, 20) i;"
        ))
        .await
        .unwrap();
    let port = serve(app).await;
    let scenario = json!({
        "reports": {"lon": plan_lon + 0.0002, "lat": plan_lat},
        "center": [lon, lat], "zoom": 17, "newEpoch": "luftbild-2023", "oldEpoch": "luftbild-1958",
        "plan": {"lon": plan_lon, "lat": plan_lat}, "street": street_name, "streetBbox": street_bbox,
    });
    let browser = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/mapviewer.mjs");
    let out = tokio::process::Command::new("node")
        .arg(&browser)
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(scenario.to_string())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(result["error"].is_null(), "{}", result["error"]);
    let s = &result["steps"];

    // Loads without console errors; the canvas shows something. One document before the
    // style, no TileJSON or catalog list before the tiles.
    assert_eq!(s["load"]["errors"], json!([]), "{s}");
    assert_eq!(s["load"]["katalog"], 1, "{}", s["load"]);
    assert_eq!(s["load"]["metadata"], json!([]), "{}", s["load"]);
    assert!(s["load"]["tiles"].as_i64().unwrap() > 0, "{}", s["load"]);
    // The city's base collections come in one request per tile (one vector source), not one
    // request per collection.
    let asked: Vec<&str> = s["load"]["vectorTiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let city = ["stadtteile", "gewaesser", "gebaeude", "strassen", "poi"];
    assert!(
        asked
            .iter()
            .any(|ids| city.iter().all(|c| ids.split(',').any(|i| i == *c))),
        "no tile request carries all of {city:?}: {asked:?}"
    );
    for c in city {
        assert!(
            !asked.contains(&c),
            "{c} was also asked for alone: {asked:?}"
        );
    }
    assert!(
        s["canvas"]["spread"].as_f64().unwrap() > 10.0,
        "blank canvas: {}",
        s["canvas"]
    );

    // Over the aerial image the buildings are outlines; "Flächen füllen" (mouse, then keyboard)
    // fills them and back, and the permalink keeps the choice. Over the city map areas are
    // filled and the switch is not offered.
    let a = &s["areas"];
    assert_eq!(a["aerial"]["fill"], 0, "{a}");
    assert_eq!(a["aerial"]["outline"], 1, "{a}");
    assert_eq!(a["aerial"]["control"], true, "{a}");
    assert_eq!(a["aerial"]["checked"], false, "{a}");
    assert_eq!(a["filled"]["fill"], 1, "{a}");
    assert_eq!(a["filled"]["outline"], 0, "{a}");
    assert_eq!(a["filled"]["checked"], true, "{a}");
    assert!(
        a["filled"]["hash"].as_str().unwrap().contains("fuellen=1"),
        "{a}"
    );
    assert_eq!(a["restored"]["fill"], 1, "{a}");
    assert_eq!(a["restored"]["checked"], true, "{a}");
    assert_eq!(a["keyboard"]["fill"], 0, "{a}");
    assert_eq!(a["keyboard"]["outline"], 1, "{a}");
    assert!(
        !a["keyboard"]["hash"].as_str().unwrap().contains("fuellen"),
        "{a}"
    );
    assert_eq!(a["map"]["fill"], 0.55, "{a}");
    assert_eq!(a["map"]["control"], false, "{a}");
    assert_eq!(a["errors"], json!([]), "{a}");

    // Toggling the buildings changes what is rendered, and the permalink follows.
    let before = s["toggle"]["before"].as_i64().unwrap();
    assert!(before > 10, "{}", s["toggle"]);
    assert_eq!(s["toggle"]["off"], 0);
    assert_eq!(s["toggle"]["after"].as_i64().unwrap(), before);

    // The Mängelmelder's layer: off at first, clustered at city zoom, points by status up close,
    // a click links the report's page.
    let r = &s["reports"];
    assert_eq!(r["hidden"], "none", "{r}");
    assert!(r["clusters"].as_i64().unwrap() >= 1, "{r}");
    assert!(r["points"].as_i64().unwrap() >= 10, "{r}");
    let colours = r["colours"].as_array().unwrap();
    assert!(
        colours.contains(&json!("erledigt")) && colours.contains(&json!("eingegangen")),
        "{r}"
    );
    assert!(
        r["link"].as_str().unwrap_or("").starts_with("/maengel/"),
        "{r}"
    );
    assert!(r["info"].as_str().unwrap().contains("Nr. "), "{r}");
    assert_eq!(r["errors"], json!([]), "{r}");

    // Clicking a building shows its attributes and names it in the URL.
    let building = &s["building"];
    assert!(building["error"].is_null(), "{building}");
    let info = building["info"].as_str().unwrap();
    for key in ["strasse", "funktion"] {
        let value = building["props"][key].as_str().unwrap();
        assert!(info.contains(value), "{value} missing in {info}");
    }
    assert!(info.contains("OGC API"), "{info}");
    // Properties are named by their titles (the queryables'), not their API names.
    for title in ["Höhe (m)", "Postleitzahl", "Gebäudefunktion"] {
        assert!(info.contains(title), "{title} missing in {info}");
    }
    assert!(!info.contains("hoehe"), "{info}");
    assert!(
        building["hash"]
            .as_str()
            .unwrap()
            .contains(&format!("objekt=gebaeude/{}", building["id"])),
        "{building}"
    );
    assert!(
        serious(&s["axeMap"]).is_empty(),
        "axe on /map: {}",
        s["axeMap"]
    );

    // The text view names what is in view; the PNG export is a PNG of the map.
    let text_view = s["textView"].as_str().unwrap();
    assert!(
        text_view.contains(building["props"]["strasse"].as_str().unwrap())
            && text_view.contains("Straßen"),
        "{text_view}"
    );
    assert_eq!(s["png"]["head"], "89504e470d0a1a0a", "{}", s["png"]);
    assert!(s["png"]["bytes"].as_u64().unwrap() > 20_000, "{}", s["png"]);
    assert!(
        s["png"]["name"]
            .as_str()
            .unwrap()
            .starts_with("stadtkarte-")
    );

    // German by default, English by switch (also in the permalink), and back.
    assert_eq!(s["english"]["lang"], "en");
    assert_eq!(s["english"]["layers"], "Themes");
    assert_eq!(s["english"]["fill"], "Fill areas");
    assert!(
        s["english"]["search"]
            .as_str()
            .unwrap()
            .starts_with("Street")
    );
    assert!(s["english"]["hash"].as_str().unwrap().contains("lang=en"));
    assert_eq!(s["german"]["lang"], "de");
    assert_eq!(s["german"]["layers"], "Themen");
    assert_eq!(s["german"]["fill"], "Flächen füllen");

    // The permalink restores view, background, layers and the open feature.
    let p = &s["permalink"];
    assert_eq!(p["state1"]["base"], "luftbild-1958");
    assert_eq!(p["state2"]["base"], p["state1"]["base"], "{p}");
    assert_eq!(p["state2"]["visible"], p["state1"]["visible"], "{p}");
    assert_eq!(p["state2"]["strassenShown"], "none");
    for axis in ["lng", "lat"] {
        let d = p["state1"]["c"][axis].as_f64().unwrap() - p["state2"]["c"][axis].as_f64().unwrap();
        assert!(d.abs() < 1e-4, "{p}");
    }
    assert!((p["state1"]["z"].as_f64().unwrap() - p["state2"]["z"].as_f64().unwrap()).abs() < 0.01);
    assert!(
        p["state2"]["info"]
            .as_str()
            .unwrap_or_default()
            .contains(building["props"]["strasse"].as_str().unwrap()),
        "{p}"
    );
    assert_eq!(p["errors"], json!([]), "{p}");

    // The swipe shows colour (2023) on the left and grey (1958) on the right.
    let w = &s["swipe"];
    let left = w["left"]["saturation"].as_f64().unwrap();
    let right = w["right"]["saturation"].as_f64().unwrap();
    assert!(
        left > 12.0 && right < 6.0,
        "left {left}, right {right}: {w}"
    );
    assert!(
        w["left"]["spread"].as_f64().unwrap() > 8.0 && w["right"]["spread"].as_f64().unwrap() > 8.0,
        "{w}"
    );
    assert_eq!(w["labels"], json!(["2023", "1958"]));
    assert_ne!(w["moved"], "50", "the keyboard moves the divider");
    let dragged = w["dragged"].as_f64().unwrap();
    assert!(
        (dragged - 25.0).abs() < 3.0,
        "the mouse drags the divider: {w}"
    );
    let t = &s["touch"];
    assert!(
        t["touched"].as_f64().unwrap() > 70.0,
        "touch drags the divider: {t}"
    );
    for axis in ["lng", "lat"] {
        let d = t["located"][axis].as_f64().unwrap() - t["expected"][axis].as_f64().unwrap();
        assert!(
            d.abs() < 1e-4,
            "locate-me centres the device's position: {t}"
        );
    }
    assert_eq!(w["errors"], json!([]), "{w}");

    // Clicking a plan shows its name, its zoning at that place and its documents.
    let plan_info = s["plan"]["info"].as_str().unwrap();
    assert!(plan_info.contains(&plan_name), "{plan_info}");
    assert!(plan_info.contains("GRZ"), "{plan_info}");
    let grz_text = format!("{grz}").replace('.', ",");
    assert!(
        plan_info.contains(&format!("{grz}")) || plan_info.contains(&grz_text),
        "GRZ {grz} missing: {plan_info}"
    );
    assert!(plan_info.contains("Planunterlagen"), "{plan_info}");

    // Search finds the street and centres it.
    let found = &s["search"];
    assert!(found["index"].as_i64().unwrap() >= 0, "{found}");
    let c = &found["centre"];
    let (cx, cy) = (c["lng"].as_f64().unwrap(), c["lat"].as_f64().unwrap());
    let m = 0.002;
    assert!(
        cx > street_bbox[0] - m
            && cx < street_bbox[2] + m
            && cy > street_bbox[1] - m
            && cy < street_bbox[3] + m,
        "centre {cx},{cy} outside {street_bbox:?}: {found}"
    );
    assert!(found["zoom"].as_f64().unwrap() >= 14.0, "{found}");

    // A 360-pixel phone shows every control.
    for (name, shown) in s["phone"]["closed"]
        .as_object()
        .unwrap()
        .iter()
        .chain(s["phone"]["opened"].as_object().unwrap())
    {
        assert_eq!(shown, true, "{name} not visible on a phone: {}", s["phone"]);
    }

    // The landing page links the map and passes axe.
    assert!(s["landingLinksMap"].as_i64().unwrap() >= 1);
    assert!(
        serious(&s["axeLanding"]).is_empty(),
        "axe on /: {}",
        s["axeLanding"]
    );

    // The open-data pages pass axe; a dataset page embeds the map with its layer, the aerial
    // images' page with the newest epoch as background.
    let od = &s["opendata"];
    for (page, result) in od.as_object().unwrap() {
        assert!(
            serious(&result["axe"]).is_empty(),
            "axe on {page}: {}",
            result["axe"]
        );
    }
    let buildings = &od["/opendata/gebaeude"];
    assert!(
        buildings["frame"]
            .as_str()
            .unwrap()
            .contains("ebenen=gebaeude"),
        "{buildings}"
    );
    assert_eq!(
        buildings["embedded"]["visible"],
        json!(["gebaeude"]),
        "{buildings}"
    );
    assert!(
        buildings["embedded"]["buildings"].as_i64().unwrap() > 0,
        "{buildings}"
    );
    assert_eq!(
        od["/opendata/luftbilder"]["embedded"]["base"], "luftbild-2023",
        "{od}"
    );

    // Measured, not asserted (see bench/): the cold load.
    eprintln!("cold load of /map: {}", s["cold"]);
}
