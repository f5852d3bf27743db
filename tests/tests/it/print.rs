//! The map's print to PDF: the dialog in headless Chromium (opened by keyboard, A4 landscape,
//! A3 portrait, comparison mode, a phone, English), the downloaded PDFs read back with poppler —
//! the page size with `pdfinfo`, the map frame drawn (not blank) with `pdftoppm`, the texts
//! (title, scale, legend, sources, the years compared) with `pdftotext`.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use stadtkarte_tests::{full_demo, full_demo_app, get, serve};

use crate::mapviewer::{fine_centre, serious};

/// A poppler tool's output; a missing tool fails the test (scripts/env.sh installs
/// poppler-utils).
fn poppler(tool: &str, args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (poppler-utils, see scripts/env.sh): {e}"));
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Width and height of the first page in points, and the number of pages (`pdfinfo`).
fn page_size(pdf: &Path) -> (f64, f64, u32) {
    let info = poppler("pdfinfo", &[pdf.as_os_str()]);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map_or_else(|| panic!("{name} missing in pdfinfo: {info}"), str::trim)
            .to_owned()
    };
    // "Page size:      841.89 x 595.28 pts (A4)"
    let size = field("Page size:");
    let numbers: Vec<f64> = size
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1], field("Pages:").parse().unwrap())
}

/// The page as pixels, at 50 dpi (`pdftoppm -r 50 -png`).
fn raster(pdf: &Path, dir: &Path) -> image::RgbImage {
    let prefix = dir.join(pdf.file_stem().unwrap());
    poppler(
        "pdftoppm",
        &[
            "-r".as_ref(),
            "50".as_ref(),
            "-png".as_ref(),
            "-singlefile".as_ref(),
            pdf.as_os_str(),
            prefix.as_os_str(),
        ],
    );
    image::open(prefix.with_extension("png")).unwrap().to_rgb8()
}

/// The words of the page (`pdftotext`), whitespace folded so wrapped lines read as one.
fn text(pdf: &Path) -> String {
    let raw = poppler("pdftotext", &[pdf.as_os_str(), "-".as_ref()]);
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The scale bar of a 1 : 1000 print, measured on the page: the distance in millimetres from
/// its "0" to its last label ("50 m"), and that label's metres. At 1 : 1000 the two are equal.
fn scale_bar(pdf: &Path) -> (f64, f64) {
    let html = poppler(
        "pdftotext",
        &["-bbox".as_ref(), pdf.as_os_str(), "-".as_ref()],
    );
    // <word xMin="26.42" yMin="523.91" xMax="30.31" yMax="530.39">0</word>
    let words: Vec<(f64, f64, f64, String)> = html
        .lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("<word ")?;
            let num = |key: &str| -> Option<f64> {
                l.split(&format!("{key}=\""))
                    .nth(1)?
                    .split('"')
                    .next()?
                    .parse()
                    .ok()
            };
            let word = l.split('>').nth(1)?.split('<').next()?.to_owned();
            Some((num("xMin")?, num("yMin")?, num("xMax")?, word))
        })
        .collect();
    let zero = words
        .iter()
        .find(|w| w.3 == "0")
        .expect("the scale bar's 0");
    let same_line = |w: &&(f64, f64, f64, String)| (w.1 - zero.1).abs() < 0.5;
    let line: Vec<_> = words.iter().filter(same_line).collect();
    let last = line
        .windows(2)
        .filter(|p| p[1].3 == "m" && p[0].3.parse::<f64>().is_ok())
        .max_by(|a, b| a[0].0.total_cmp(&b[0].0))
        .expect("the scale bar's last label");
    let points = f64::midpoint(last[0].0, last[1].2) - f64::midpoint(zero.0, zero.2);
    (points * 25.4 / 72.0, last[0].3.parse().unwrap())
}

/// What a part of the page shows.
#[derive(Debug)]
struct Look {
    /// Distinct colours at 5 bits per channel.
    colours: usize,
    /// Share of the most frequent of them.
    dominant: f64,
    /// Standard deviation of the brightness.
    spread: f64,
    /// Mean of max − min channel.
    saturation: f64,
}

/// The region between the fractions (x0, y0) and (x1, y1) of the page's width and height.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
fn look(img: &image::RgbImage, x0: f64, y0: f64, x1: f64, y1: f64) -> Look {
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    let mut counts = std::collections::HashMap::new();
    let (mut n, mut sum, mut sum_sq, mut sat) = (0.0, 0.0, 0.0, 0.0);
    for y in (y0 * h) as u32..(y1 * h) as u32 {
        for x in (x0 * w) as u32..(x1 * w) as u32 {
            let [r, g, b] = img.get_pixel(x, y).0;
            *counts.entry((r >> 3, g >> 3, b >> 3)).or_insert(0u32) += 1;
            let l = (f64::from(r) + f64::from(g) + f64::from(b)) / 3.0;
            n += 1.0;
            sum += l;
            sum_sq += l * l;
            sat += f64::from(r.max(g).max(b) - r.min(g).min(b));
        }
    }
    Look {
        colours: counts.len(),
        dominant: f64::from(*counts.values().max().unwrap()) / n,
        spread: (sum_sq / n - (sum / n).powi(2)).sqrt(),
        saturation: sat / n,
    }
}

/// A drawn map: an aerial image with the city's themes has hundreds of colours, none taking
/// most of the frame, and light and dark parts. A blank frame — white paper, the map's plain
/// background, one colour — has one colour taking all of it and no spread, and fails each of
/// the three.
fn assert_drawn(look: &Look, what: &str) {
    assert!(look.colours >= 150, "{what}: too few colours: {look:?}");
    assert!(
        look.dominant < 0.4,
        "{what}: one colour dominates: {look:?}"
    );
    assert!(look.spread > 12.0, "{what}: flat: {look:?}");
}

fn assert_page(pdf: &Path, width: f64, height: f64) {
    let (w, h, pages) = page_size(pdf);
    assert_eq!(pages, 1, "{}", pdf.display());
    assert!(
        (w - width).abs() <= 1.0 && (h - height).abs() <= 1.0,
        "{}: {w} × {h} pt, expected {width} × {height}",
        pdf.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_prints_to_pdf() {
    let (url, imagery) = full_demo();
    let (app, _) = full_demo_app().await;
    let katalog = get(&app, "/map/katalog.json", &[]).await.json();
    let epoch = |id: &str| {
        katalog["epochs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()
            .clone()
    };
    let (new, old) = (epoch("luftbild-2023"), epoch("luftbild-1958"));
    assert_eq!(old["grayscale"], true, "{old}");
    let (lon, lat) = fine_centre(url, imagery).await;
    let port = serve(app).await;
    let dir = tempfile::tempdir().unwrap();
    let scenario = json!({"center": [lon, lat], "zoom": 17, "newEpoch": "luftbild-2023", "oldEpoch": "luftbild-1958"});
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/print.mjs");
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(scenario.to_string())
        .arg(dir.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(r["error"].is_null(), "{}", r["error"]);
    assert_eq!(r["errors"], json!([]), "{r}");

    // The dialog: reached by Tab from the PNG export and opened with Enter; focus inside, never
    // on the page behind while tabbing; back on the button after Escape; axe finds nothing
    // serious.
    let d = &r["dialog"];
    assert_eq!(d["tabbedTo"], "print", "{d}");
    assert_eq!(d["focusInside"], "print-dialog", "{d}");
    assert_eq!(d["heading"], "Karte drucken", "{d}");
    let tabs = d["tabs"].as_array().unwrap();
    assert!(
        tabs.iter()
            .all(|t| !t.as_str().unwrap().starts_with("outside:")),
        "{d}"
    );
    assert!(
        tabs.iter()
            .any(|t| t.as_str().unwrap() == "dialog:print-create"),
        "{d}"
    );
    assert!(serious(&d["axe"]).is_empty(), "{}", d["axe"]);
    assert_eq!(d["focusAfter"], "print", "{d}");
    let title = d["title"].as_str().unwrap();
    assert!(title.starts_with("Stadtkarte"), "{d}");

    // While it works the button is disabled and the dialog says so.
    let busy = &r["prints"]["a4Busy"];
    assert_eq!(busy["disabled"], true, "{busy}");
    assert_eq!(busy["busy"], "true", "{busy}");
    assert!(!busy["status"].as_str().unwrap().is_empty(), "{busy}");

    // Named stadtkarte-YYYY-MM-DD.pdf.
    let name = r["prints"]["a4"]["suggested"].as_str().unwrap();
    let date = name
        .strip_prefix("stadtkarte-")
        .and_then(|n| n.strip_suffix(".pdf"))
        .unwrap_or_default();
    assert!(
        date.len() == 10 && date.starts_with("20") && &date[4..5] == "-" && &date[7..8] == "-",
        "{name}"
    );

    // A4 landscape at 1 : 1000: the page size, a drawn map, title, scale, legend, sources.
    let a4 = Path::new(r["prints"]["a4"]["file"].as_str().unwrap());
    assert_page(a4, 841.89, 595.28);
    let page = raster(a4, dir.path());
    assert_drawn(&look(&page, 0.08, 0.22, 0.65, 0.80), "A4 map frame");
    let words = text(a4);
    for expected in [
        title,
        "Maßstab 1 : 1.000",
        "Legende",
        "Hauptverkehrsstraße",
        "Stand:",
        new["attribution"].as_str().unwrap(),
    ] {
        assert!(words.contains(expected), "{expected:?} missing: {words}");
    }
    let (millimetres, metres) = scale_bar(a4);
    assert!(
        (millimetres - metres).abs() < 0.7,
        "scale bar: {metres} m drawn {millimetres} mm long at 1 : 1000"
    );
    assert!(
        r["prints"]["a4"]["trueScale"]
            .as_str()
            .unwrap()
            .contains("1 : 1.000"),
        "{}",
        r["prints"]["a4"]
    );

    // A3 portrait of the current view.
    let a3 = Path::new(r["prints"]["a3"]["file"].as_str().unwrap());
    assert_page(a3, 841.89, 1190.55);
    let page = raster(a3, dir.path());
    assert_drawn(&look(&page, 0.08, 0.12, 0.85, 0.75), "A3 map frame");
    assert!(text(a3).contains("Maßstab 1 : "));

    // Comparison: both years side by side, each drawn and labelled; the old one is greyscale.
    let cmp = Path::new(r["prints"]["compare"]["file"].as_str().unwrap());
    assert_page(cmp, 841.89, 595.28);
    let page = raster(cmp, dir.path());
    let left = look(&page, 0.06, 0.22, 0.32, 0.80);
    let right = look(&page, 0.44, 0.22, 0.70, 0.80);
    assert_drawn(&left, "left half");
    assert_drawn(&right, "right half");
    assert!(
        left.saturation > right.saturation + 5.0,
        "the 2023 image in colour, 1958 in grey: {left:?} {right:?}"
    );
    let words = text(cmp);
    for expected in ["2023", "1958", old["attribution"].as_str().unwrap()] {
        assert!(words.contains(expected), "{expected:?} missing: {words}");
    }

    // A 360-pixel phone in English: the dialog fits the screen, its button is on it.
    let p = &r["phone"];
    assert_eq!(p["heading"], "Print the map", "{p}");
    assert_eq!(p["create"], "Create PDF", "{p}");
    let (x, w) = (
        p["box"]["x"].as_f64().unwrap(),
        p["box"]["width"].as_f64().unwrap(),
    );
    assert!(x >= 0.0 && x + w <= 360.5, "{p}");
    assert!(
        p["scrollWidth"].as_i64().unwrap() <= p["clientWidth"].as_i64().unwrap(),
        "{p}"
    );
    let b = &p["button"];
    assert!(
        b["x"].as_f64().unwrap() >= 0.0
            && b["x"].as_f64().unwrap() + b["width"].as_f64().unwrap() <= 360.5,
        "{p}"
    );

    // Measured, not asserted: how long a PDF takes and how large it is. To look at the PDFs,
    // name a folder in KEEP_PRINTS_IN: they are copied there.
    let keep = std::env::var_os("KEEP_PRINTS_IN");
    for name in ["a4", "a3", "compare"] {
        let file = Path::new(r["prints"][name]["file"].as_str().unwrap());
        if let Some(keep) = &keep {
            std::fs::copy(file, Path::new(keep).join(file.file_name().unwrap())).unwrap();
        }
        eprintln!(
            "print {name}: {} ms, {} bytes",
            r["prints"][name]["timing"]["ms"],
            std::fs::metadata(file).unwrap().len()
        );
    }
}
