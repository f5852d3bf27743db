//! A development plan's own resource, `/plans/{id}` (JSON and HTML), over the real sample
//! XPlanArchiv `BPlan004_6-0.zip` (xPlanBox test data: a PDF and a georeferenced PNG scan): its
//! facts equal what the GML says (read here with roxmltree, not by the importer), the scan's
//! corners equal the world-file arithmetic done here (and turned into UTM by `core::crs`, not
//! PostGIS); unknown plans are 404. Then the map and the plan page in Chromium
//! (`tests/browser/plans.mjs`): the plan layers in the colours and lines of the
//! Planzeichenverordnung, the legend, the plan panel with the scan overlay and its opacity
//! slider (mouse and keyboard), axe-core on the map with the panel open and on the plan page.

use std::io::Read as _;
use std::path::PathBuf;

use serde_json::{Value, json};
use stadtkarte_core::crs::utm32;
use stadtkarte_importers::xplan;
use stadtkarte_tests::{connect, get, serve, shared_data, test_app};

const XPLAN: &str = "http://www.xplanung.de/xplangml/6/0";
const GML: &str = "http://www.opengis.net/gml/3.2";

fn sample() -> PathBuf {
    shared_data("xplanung")
        .expect("shared/data/xplanung is missing (next to the clone, $STADTKARTE_SHARED_DATA or /work/shared/data)")
        .join("BPlan004_6-0.zip")
}

/// The files of the archive, read here.
fn archive_file(name: &str) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(sample()).unwrap()).unwrap();
    let mut file = zip.by_name(name).unwrap();
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    bytes
}

/// What the GML says of the plan: its id, texts by element name, the area of its boundary
/// (shoelace over the posList) and the GRZ values of its zones.
struct FromGml {
    id: String,
    text: std::collections::HashMap<String, String>,
    area: f64,
    grz: Vec<f64>,
}

fn read_gml() -> FromGml {
    let bytes = archive_file("xplan.gml");
    let text = String::from_utf8(bytes).unwrap();
    let doc = roxmltree::Document::parse(text.trim_start_matches('\u{feff}')).unwrap();
    let plan = doc
        .descendants()
        .find(|n| n.has_tag_name((XPLAN, "BP_Plan")))
        .unwrap();
    let id = plan.attribute((GML, "id")).unwrap().to_owned();
    let mut texts = std::collections::HashMap::new();
    for n in plan.descendants().filter(roxmltree::Node::is_element) {
        if let Some(t) = n.text().map(str::trim).filter(|t| !t.is_empty())
            && n.tag_name().namespace() == Some(XPLAN)
        {
            texts
                .entry(n.tag_name().name().to_owned())
                .or_insert(t.to_owned());
        }
    }
    let ring: Vec<f64> = plan
        .descendants()
        .find(|n| n.has_tag_name((XPLAN, "raeumlicherGeltungsbereich")))
        .unwrap()
        .descendants()
        .find(|n| n.has_tag_name((GML, "posList")))
        .unwrap()
        .text()
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let points: Vec<(f64, f64)> = ring.chunks(2).map(|p| (p[0], p[1])).collect();
    let area = points
        .windows(2)
        .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
        .sum::<f64>()
        .abs()
        / 2.0;
    let mut grz: Vec<f64> = doc
        .descendants()
        .filter(|n| n.has_tag_name((XPLAN, "BP_BaugebietsTeilFlaeche")))
        .filter_map(|z| {
            z.children()
                .find(|c| c.has_tag_name((XPLAN, "GRZ")))
                .and_then(|c| c.text())
                .map(|t| t.trim().parse().unwrap())
        })
        .collect();
    grz.sort_by(f64::total_cmp);
    FromGml {
        id,
        text: texts,
        area,
        grz,
    }
}

async fn imported() -> (axum::Router, String, FromGml) {
    let (app, state) = test_app().await;
    let mut client = connect(&state.config.database.url).await;
    let job = crate::import_xplan::job(&sample());
    xplan::import(&mut client, &job).await.unwrap();
    let gml = read_gml();
    (app, gml.id.clone(), gml)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_as_json_says_what_its_gml_says() {
    let (app, id, gml) = imported().await;
    let answer = get(&app, &format!("/plans/{id}"), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(
        answer
            .header("content-type")
            .starts_with("application/json")
    );
    let p = answer.json();
    assert_eq!(p["id"], id.as_str());
    assert_eq!(p["name"], gml.text["name"].as_str());
    assert_eq!(p["planart"]["code"], gml.text["planArt"].as_str());
    assert_eq!(p["planart"]["text"], "Vorhabenbezogener Bebauungsplan");
    assert_eq!(p["rechtsstand"]["code"], gml.text["rechtsstand"].as_str());
    assert_eq!(p["gemeinde"]["name"], gml.text["gemeindeName"].as_str());
    assert_eq!(p["gemeinde"]["ags"], gml.text["ags"].as_str());
    assert_eq!(p["gemeinde"]["ortsteil"], gml.text["ortsteilName"].as_str());
    assert_eq!(
        p["daten"]["rechtsverordnung"],
        gml.text["rechtsverordnungsDatum"].as_str()
    );
    assert_eq!(
        p["daten"]["techn_herstellung"],
        gml.text["technHerstellDatum"].as_str()
    );
    assert_eq!(p["xplan_version"], "6.0");
    let area = p["flaeche_m2"].as_f64().unwrap();
    assert!((area - gml.area).abs() < 0.5, "{area} vs {}", gml.area);
    let mut grz: Vec<f64> = p["baugebiete"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|z| z["grz"].as_f64())
        .collect();
    grz.sort_by(f64::total_cmp);
    assert_eq!(grz, gml.grz);
    assert!(
        p["baugebiete"]
            .as_array()
            .unwrap()
            .iter()
            .all(|z| z["besondere_art_text"] == "Allgemeines Wohngebiet (WA)"),
        "{}",
        p["baugebiete"]
    );

    // Its documents: the PDF and the scan, each fetchable with the bytes of the archive.
    let docs = p["dokumente"].as_array().unwrap();
    let pdf = docs
        .iter()
        .find(|d| d["type"] == "application/pdf")
        .unwrap();
    let bytes = archive_file("BPlan004_6-0.pdf");
    assert_eq!(pdf["length"], bytes.len());
    let href = pdf["href"].as_str().unwrap();
    let path = &href[href.find("/plans/").unwrap()..];
    assert_eq!(get(&app, path, &[]).await.body.as_ref(), bytes.as_slice());

    // The OGC API items of its objects: each link answers with as many features as it says.
    let objects = p["objekte"].as_array().unwrap();
    assert!(
        objects.iter().any(|o| o["collection"] == "baugebiete"),
        "{objects:?}"
    );
    for o in objects {
        let href = o["href"].as_str().unwrap();
        let items = get(&app, &href[href.find("/collections/").unwrap()..], &[]).await;
        assert_eq!(items.status, 200, "{}", items.text());
        assert_eq!(
            items.json()["features"].as_array().unwrap().len(),
            usize::try_from(o["count"].as_i64().unwrap()).unwrap(),
            "{o}"
        );
    }

    // Negotiation: f= beats Accept; a browser gets the page.
    let html = get(&app, &format!("/plans/{id}"), &[("accept", "text/html")]).await;
    assert_eq!(html.status, 200);
    assert!(html.header("content-type").starts_with("text/html"));
    let forced = get(
        &app,
        &format!("/plans/{id}?f=json"),
        &[("accept", "text/html")],
    )
    .await;
    assert!(
        forced
            .header("content-type")
            .starts_with("application/json")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scan_is_placed_by_its_world_file() {
    let (app, id, _) = imported().await;
    let p = get(&app, &format!("/plans/{id}?f=json"), &[]).await.json();
    let scan = &p["scan"];
    assert!(scan.is_object(), "{p}");

    // The arithmetic, here: the PNG's size from its IHDR chunk; the world file's six numbers
    // (A, D, B, E, C, F) map the centre of pixel (col, row) to x = A·col + B·row + C,
    // y = D·col + E·row + F; the image's edges lie half a pixel outside the centres.
    let png = archive_file("BPlan004_6-0.png");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(
        (scan["width"].as_u64(), scan["height"].as_u64()),
        (Some(u64::from(width)), Some(u64::from(height)))
    );
    let world: Vec<f64> = String::from_utf8(archive_file("BPlan004_6-0.pgw"))
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let (a, d, b, e, c, f) = (world[0], world[1], world[2], world[3], world[4], world[5]);
    let edge = |col: f64, row: f64| (a * col + b * row + c, d * col + e * row + f);
    let (w, h) = (f64::from(width), f64::from(height));
    let expected = [
        edge(-0.5, -0.5),
        edge(w - 0.5, -0.5),
        edge(w - 0.5, h - 0.5),
        edge(-0.5, h - 0.5),
    ];
    let corners = scan["coordinates"].as_array().unwrap();
    assert_eq!(corners.len(), 4);
    for (corner, (x, y)) in corners.iter().zip(expected) {
        // Back from WGS 84 into UTM 32 by core's own formulas (not PostGIS): within 2 cm.
        let (cx, cy) = utm32(corner[0].as_f64().unwrap(), corner[1].as_f64().unwrap());
        assert!(
            (cx - x).abs() < 0.02 && (cy - y).abs() < 0.02,
            "corner {corner} is ({cx}, {cy}) in UTM, the world file says ({x}, {y})"
        );
    }
    // The image and its world file are served where the placement says.
    let href = scan["href"].as_str().unwrap();
    let image = get(&app, &href[href.find("/plans/").unwrap()..], &[]).await;
    assert_eq!(image.header("content-type"), "image/png");
    assert_eq!(image.body.as_ref(), png.as_slice());
    let georef = scan["georef"].as_str().unwrap();
    let pgw = get(&app, &georef[georef.find("/plans/").unwrap()..], &[]).await;
    assert_eq!(
        pgw.body.as_ref(),
        archive_file("BPlan004_6-0.pgw").as_slice()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_page_shows_facts_zoning_documents_and_a_map() {
    let (app, id, gml) = imported().await;
    for (lang, heading, zoning) in [
        ("de", "Angaben zum Plan", "Baugebiete"),
        ("en", "About the plan", "Building zones"),
    ] {
        let page = get(&app, &format!("/plans/{id}?f=html&lang={lang}"), &[]).await;
        assert_eq!(page.status, 200);
        let html = page.text();
        assert!(html.contains(&format!("<html lang=\"{lang}\"")), "{html}");
        assert!(html.contains(heading) && html.contains(zoning), "{html}");
        assert!(html.contains(&gml.text["name"]), "{html}");
        assert!(html.contains(&gml.text["gemeindeName"]), "{html}");
        assert!(html.contains("Allgemeines Wohngebiet (WA)"), "{html}");
        // GRZ as people write it: 0,9 in German, 0.9 in English.
        let grz = if lang == "de" { "0,9" } else { "0.9" };
        assert!(html.contains(&format!("<td>{grz}</td>")), "{html}");
        assert!(html.contains("BPlan004_6-0.pdf"), "{html}");
        assert!(html.contains("id=\"planmap\""), "{html}");
        assert!(html.contains("/map/plan.js?v="), "{html}");
        assert!(!html.contains("style="), "no inline styles");
    }
    let html = get(&app, &format!("/plans/{id}?f=html"), &[]).await.text();
    let src = html
        .split("src=\"")
        .find(|s| s.starts_with("/map/plan.js"))
        .and_then(|s| s.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    let script = get(&app, &src, &[]).await;
    assert_eq!(script.status, 200);
    assert!(script.header("content-type").starts_with("text/javascript"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_plan_is_not_found() {
    let (app, _, _) = imported().await;
    let json = get(&app, "/plans/GML_gibt-es-nicht", &[]).await;
    assert_eq!(json.status, 404);
    assert_eq!(json.header("content-type"), "application/problem+json");
    assert_eq!(json.json()["status"], 404);
    let html = get(&app, "/plans/GML_gibt-es-nicht", &[("accept", "text/html")]).await;
    assert_eq!(html.status, 404);
    assert!(html.header("content-type").starts_with("text/html"));
    let bad = get(&app, "/plans/GML_x?f=xml", &[]).await;
    assert_eq!(bad.status, 406, "{}", bad.text());
}

fn serious(violations: &Value) -> Vec<&Value> {
    violations
        .as_array()
        .unwrap_or_else(|| panic!("no violations list: {violations}"))
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_draws_a_plan_in_planzv_signs_with_its_scan() {
    let (app, id, _) = imported().await;
    let p = get(&app, &format!("/plans/{id}?f=json"), &[]).await.json();
    let port = serve(app).await;
    let scenario = json!({"plan": id, "bbox": p["bbox"], "scan": p["scan"]["coordinates"],
        "collections": p["objekte"].as_array().unwrap().iter().map(|o| o["collection"].clone()).collect::<Vec<_>>()});
    let browser = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/plans.mjs");
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
    assert_eq!(s["load"]["errors"], json!([]), "{s}");

    // The styles: zones by their type (WA: a medium red), Baugrenze blue dash-dot, the
    // Geltungsbereich a dark dashed line; each drawn.
    let st = &s["styles"];
    let rgb = |v: &Value| -> (i64, i64, i64) {
        let at = |i: usize| {
            v[i].as_i64()
                .unwrap_or_else(|| panic!("no colour {v} in {st}"))
        };
        (at(0), at(1), at(2))
    };
    let (r, g, b) = rgb(&st["zonePixel"]);
    assert!(
        r > 180 && r - g > 50 && r - b > 50,
        "a WA zone is red: {st}"
    );
    let (r, g, b) = rgb(&st["baugrenze"]["colour"]);
    assert!(b > 150 && b - r > 80 && b - g > 40, "Baugrenze blue: {st}");
    assert_eq!(st["baugrenze"]["dashes"], 4, "dash-dot: {st}");
    assert!(st["baugrenze"]["rendered"].as_i64().unwrap() > 0, "{st}");
    let (r, g, b) = rgb(&st["geltungsbereich"]["colour"]);
    assert!(r < 60 && g < 60 && b < 60, "Geltungsbereich dark: {st}");
    assert_eq!(st["geltungsbereich"]["dashes"], 2, "dashed: {st}");
    assert!(
        st["geltungsbereich"]["rendered"].as_i64().unwrap() > 0,
        "{st}"
    );
    assert!(st["zones"].as_i64().unwrap() >= 2, "{st}");
    assert!(
        st["linePixels"]["blue"].as_i64().unwrap() > 20,
        "blue Baugrenze pixels: {st}"
    );

    // The legend names the signs, in German and in English.
    let legend = s["legend"]["de"].as_str().unwrap();
    for text in ["Geltungsbereich", "Wohngebiete", "Baugrenze"] {
        assert!(legend.contains(text), "{text} missing in {legend}");
    }
    assert!(
        s["legend"]["en"]
            .as_str()
            .unwrap()
            .contains("Building limit"),
        "{}",
        s["legend"]
    );

    // A zone's label gives its GRZ (and GFZ) with the language's decimal sign.
    let label = &s["legend"]["labelDe"];
    let grz = label["grz"]
        .as_f64()
        .unwrap_or_else(|| panic!("{}", s["legend"]));
    assert!(grz.fract() != 0.0, "{label}");
    let german = format!("{grz}").replace('.', ",");
    let de = label["text"].as_str().unwrap();
    assert!(de.contains(&format!("GRZ {german}")), "{label}");
    assert!(!de.contains(&format!("{grz}")), "{label}");
    let en = s["legend"]["labelEn"]["text"].as_str().unwrap();
    assert!(en.contains(&format!("GRZ {grz}")), "{}", s["legend"]);
    if let Some(gfz) = label["gfz"].as_f64() {
        let german = format!("{gfz}").replace('.', ",");
        assert!(de.contains(&format!("GFZ {german}")), "{label}");
    }

    // The plan panel: the plan page, the PDF, the scan switch; the scan lies where the server
    // placed it; the slider sets the opacity by mouse and keyboard.
    let panel = &s["panel"];
    assert!(
        panel["pageLink"]
            .as_str()
            .unwrap()
            .contains(&format!("/plans/{id}")),
        "{panel}"
    );
    assert!(
        panel["pdf"]
            .as_str()
            .unwrap()
            .contains("/dokumente/BPlan004_6-0.pdf"),
        "{panel}"
    );
    // With only the boundary on, the panel's button shows the plan's contents.
    let all = &s["showAll"];
    assert_eq!(all["hidden"], "none", "{all}");
    assert_eq!(all["shown"], "visible", "{all}");
    assert_eq!(all["checked"], true, "{all}");
    assert_eq!(all["errors"], json!([]), "{all}");
    let sc = &s["scan"];
    assert_eq!(sc["before"], json!(null), "{sc}");
    assert_eq!(sc["coordinates"], scenario["scan"], "{sc}");
    assert_eq!(sc["shown"], 0.7, "{sc}");
    assert_eq!(sc["keyboard"], 0.5, "{sc}");
    assert_eq!(sc["valuetext"], "50 %", "{sc}");
    assert_eq!(sc["end"], 1.0, "{sc}");
    assert!(
        sc["changed"].as_f64().unwrap() > 5.0,
        "the scan changes the picture: {sc}"
    );
    assert_eq!(sc["off"], json!(null), "{sc}");
    // The map link names the scan with its opacity (Home, then eight steps of 5 %), and a map
    // opened from it shows the scan in place at that opacity; switched off, the link drops it.
    assert!(
        sc["link"]
            .as_str()
            .unwrap()
            .contains(&format!("planscan={id}:40")),
        "{sc}"
    );
    assert_eq!(sc["linked"]["opacity"], 0.4, "{sc}");
    assert_eq!(sc["linked"]["coordinates"], scenario["scan"], "{sc}");
    assert_eq!(sc["linked"]["errors"], json!([]), "{sc}");
    assert!(
        !sc["offLink"].as_str().unwrap().contains("planscan"),
        "{sc}"
    );
    assert_eq!(sc["label"], "Deckkraft des Planscans", "{sc}");
    assert!(serious(&s["axeMap"]).is_empty(), "{}", s["axeMap"]);

    // The plan page: its small map draws the plan, its legend names the signs, axe finds
    // nothing serious, and it fits a phone.
    let page = &s["page"];
    assert_eq!(page["errors"], json!([]), "{page}");
    assert!(page["drawn"].as_i64().unwrap() > 0, "{page}");
    assert!(
        page["legend"].as_str().unwrap().contains("Baugrenze"),
        "{page}"
    );
    assert!(serious(&page["axe"]).is_empty(), "{}", page["axe"]);
    assert!(serious(&page["axeEn"]).is_empty(), "{}", page["axeEn"]);
    assert!(page["phoneWidth"].as_i64().unwrap() <= 360, "{page}");
}
