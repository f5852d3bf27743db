//! The open-data pages citizens and hackathon participants read: `/opendata` (every dataset,
//! with search and filters by theme, format, licence and update date) and `/opendata/{id}`
//! (metadata, licence with the attribution text to copy, every download with its size, the API
//! links with examples for curl, Python and JavaScript, a preview map and the change history).
//! German, or English with `?lang=en`. Plain HTML without scripts.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use stadtkarte_core::db::DbError;
use stadtkarte_core::http::base_url;
use stadtkarte_core::problem::escape_html as e;
use stadtkarte_core::{AppState, Problem};

use crate::formats;
use crate::offers::{Offer, Offers};
use crate::registry::{self, Dataset};

/// The routes (`/opendata/catalog.*` goes to [`crate::dcat`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/opendata", get(list))
        .route("/opendata/{name}", get(one))
        .with_state(state)
}

#[derive(Debug, Deserialize, Default)]
struct Filters {
    q: Option<String>,
    thema: Option<String>,
    format: Option<String>,
    lizenz: Option<String>,
    seit: Option<String>,
    lang: Option<String>,
    page: Option<usize>,
    profile: Option<String>,
}

fn english(f: &Filters) -> bool {
    f.lang.as_deref() == Some("en")
}

fn t<'a>(en: bool, de: &'a str, english: &'a str) -> &'a str {
    if en { english } else { de }
}

fn theme_name(code: &str, en: bool) -> &'static str {
    match (code, en) {
        ("AGRI", false) => "Landwirtschaft",
        ("AGRI", true) => "Agriculture",
        ("ECON", false) => "Wirtschaft und Finanzen",
        ("ECON", true) => "Economy and finance",
        ("EDUC", false) => "Bildung, Kultur und Sport",
        ("EDUC", true) => "Education, culture and sport",
        ("ENER", false) => "Energie",
        ("ENER", true) => "Energy",
        ("ENVI", false) => "Umwelt",
        ("ENVI", true) => "Environment",
        ("GOVE", false) => "Regierung und öffentlicher Sektor",
        ("GOVE", true) => "Government and public sector",
        ("HEAL", false) => "Gesundheit",
        ("HEAL", true) => "Health",
        ("INTR", false) => "Internationale Themen",
        ("INTR", true) => "International issues",
        ("JUST", false) => "Justiz und öffentliche Sicherheit",
        ("JUST", true) => "Justice and public safety",
        ("REGI", false) => "Regionen und Städte",
        ("REGI", true) => "Regions and cities",
        ("SOCI", false) => "Bevölkerung und Gesellschaft",
        ("SOCI", true) => "Population and society",
        ("TECH", false) => "Wissenschaft und Technologie",
        ("TECH", true) => "Science and technology",
        ("TRAN", false) => "Verkehr",
        ("TRAN", true) => "Transport",
        _ => "",
    }
}

/// A file size for people: "12,3 MB" (German) or "12.3 MB" (English), decimal units.
fn human_size(bytes: u64, en: bool) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    // Exact up to 2^53 bytes, far beyond any download.
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let text = format!("{value:.1} {}", UNITS[unit]);
    if en { text } else { text.replace('.', ",") }
}

/// The citizens' map, embedded with this dataset's layers (or its aerial image as background)
/// over the dataset's extent; a link opens it large.
fn preview_map(body: &mut String, d: &registry::Dataset, min_zoom: f64, en: bool) {
    let Some(b) = d.extent_crs84 else {
        return;
    };
    let (lon, lat) = (f64::midpoint(b[0], b[2]), f64::midpoint(b[1], b[3]));
    // The zoom level at which the extent fills a map about 700 pixels wide.
    let span = (b[2] - b[0]).max((b[3] - b[1]) * 1.6).max(1e-6);
    let zoom = ((360.0 * 700.0 / 256.0 / span).log2() - 0.3)
        .max(min_zoom + 0.5)
        .clamp(2.0, 18.0);
    let base = d.imagery.last().map_or("karte", String::as_str);
    let layers = if d.collections.is_empty() && !d.imagery.is_empty() {
        "stadtteile".to_owned()
    } else {
        d.collections.join(",")
    };
    let lang = if en { "&amp;lang=en" } else { "" };
    let href = format!(
        "/map#karte={zoom:.2}/{lat:.5}/{lon:.5}&amp;grund={}&amp;ebenen={}{lang}",
        e(base),
        e(&layers)
    );
    let _ = write!(
        body,
        "<h2>{}</h2><iframe src=\"{href}\" title=\"{}\" loading=\"lazy\" \
         style=\"width:100%;height:24rem;border:1px solid #bbb;border-radius:6px\"></iframe>\
         <p><a href=\"{href}\">{}</a></p>",
        t(en, "Kartenvorschau", "Map preview"),
        e(&format!(
            "{}: {}",
            t(en, "Kartenvorschau", "Map preview"),
            d.title
        )),
        t(en, "Karte groß öffnen", "Open the map full size"),
    );
}

/// A decimal number for people, with a comma in German.
fn decimal(value: f64, digits: usize, en: bool) -> String {
    let text = format!("{value:.digits$}");
    if en { text } else { text.replace('.', ",") }
}

fn page(title: &str, en: bool, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} – Stadtkarte</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#1a1a1a}}\
         a{{color:#0b4f8a}}a:focus,input:focus,select:focus,button:focus{{outline:3px solid #e07b00}}\
         .card{{border:1px solid #bbb;border-radius:6px;padding:.5rem 1rem;margin:.75rem 0}}\
         table{{border-collapse:collapse}}th,td{{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;vertical-align:top}}\
         pre,code{{background:#f3f3f3}}pre{{padding:.5rem;overflow-x:auto}}label{{margin-right:.5rem}}</style></head>\
         <body><nav aria-label=\"{nav}\"><a href=\"/\">Start</a> › <a href=\"/opendata{suffix}\">Open Data</a> · \
         <a href=\"?lang={other}\" lang=\"{other}\">{switch}</a></nav><main><h1>{title}</h1>{body}</main></body></html>\n",
        lang = if en { "en" } else { "de" },
        nav = t(en, "Pfad", "Breadcrumb"),
        suffix = if en { "?lang=en" } else { "" },
        other = if en { "de" } else { "en" },
        switch = t(en, "English", "Deutsch"),
        title = e(title),
    ))
}

async fn list(
    State(state): State<AppState>,
    Query(f): Query<Filters>,
) -> Result<Response, Problem> {
    let en = english(&f);
    let client = state.pool.get().await.map_err(DbError::from)?;
    let all = registry::list(&**client).await?;
    let q = f.q.clone().unwrap_or_default().to_lowercase();
    let found: Vec<&Dataset> = all
        .iter()
        .filter(|d| {
            q.is_empty()
                || [&d.title, &d.description]
                    .iter()
                    .any(|s| s.to_lowercase().contains(&q))
                || d.keywords.iter().any(|k| k.to_lowercase().contains(&q))
        })
        .filter(|d| {
            f.thema
                .as_deref()
                .is_none_or(|th| th.is_empty() || d.themes.iter().any(|x| x == th))
        })
        .filter(|d| {
            f.format
                .as_deref()
                .is_none_or(|x| x.is_empty() || formats::of_dataset(d).iter().any(|fm| fm.ext == x))
        })
        .filter(|d| {
            f.lizenz
                .as_deref()
                .is_none_or(|l| l.is_empty() || d.license.ends_with(l))
        })
        .filter(|d| {
            f.seit
                .as_deref()
                .is_none_or(|s| s.is_empty() || d.modified.as_str() >= s)
        })
        .collect();
    let mut themes: Vec<&str> = all
        .iter()
        .flat_map(|d| d.themes.iter().map(String::as_str))
        .collect();
    themes.sort_unstable();
    themes.dedup();
    let mut options = format!(
        "<option value=\"\">{}</option>",
        t(en, "alle Themen", "all themes")
    );
    for th in themes {
        let selected = if f.thema.as_deref() == Some(th) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            options,
            "<option value=\"{th}\"{selected}>{}</option>",
            theme_name(th, en)
        );
    }
    let mut format_options = format!(
        "<option value=\"\">{}</option>",
        t(en, "alle Formate", "all formats")
    );
    for fm in formats::ALL {
        let selected = if f.format.as_deref() == Some(fm.ext) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            format_options,
            "<option value=\"{}\"{selected}>{}</option>",
            fm.ext,
            e(fm.label)
        );
    }
    let mut licences = format!(
        "<option value=\"\">{}</option>",
        t(en, "alle Lizenzen", "all licences")
    );
    for (id, name) in registry::LICENSES {
        let selected = if f.lizenz.as_deref() == Some(*id) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            licences,
            "<option value=\"{id}\"{selected}>{}</option>",
            e(name)
        );
    }
    let mut body = format!(
        "<p>{}</p><form method=\"get\" action=\"/opendata\" role=\"search\">\
         <label>{} <input type=\"search\" name=\"q\" value=\"{}\"></label>\
         <label>{} <select name=\"thema\">{options}</select></label>\
         <label>{} <select name=\"format\">{format_options}</select></label>\
         <label>{} <select name=\"lizenz\">{licences}</select></label>\
         <label>{} <input type=\"date\" name=\"seit\" value=\"{}\"></label>\
         <input type=\"hidden\" name=\"lang\" value=\"{}\"><button type=\"submit\">{}</button></form>\
         <p role=\"status\">{} {}</p>",
        t(
            en,
            "Alle Datensätze der Stadt zum Herunterladen und für eigene Anwendungen.",
            "Every dataset of the city, to download and to build on."
        ),
        t(en, "Suche", "Search"),
        e(&f.q.clone().unwrap_or_default()),
        t(en, "Thema", "Theme"),
        t(en, "Format", "Format"),
        t(en, "Lizenz", "Licence"),
        t(en, "geändert seit", "changed since"),
        e(&f.seit.clone().unwrap_or_default()),
        if en { "en" } else { "de" },
        t(en, "Suchen", "Search"),
        found.len(),
        t(en, "Datensätze", "datasets"),
    );
    for d in found {
        let title = if en {
            d.title_en.as_deref().unwrap_or(&d.title)
        } else {
            &d.title
        };
        let description = if en {
            d.description_en.as_deref().unwrap_or(&d.description)
        } else {
            &d.description
        };
        let themes: Vec<&str> = d.themes.iter().map(|th| theme_name(th, en)).collect();
        let formats: Vec<&str> = formats::of_dataset(d).iter().map(|fm| fm.name).collect();
        let mut amount = Vec::new();
        if !d.collections.is_empty() {
            amount.push(format!(
                "{} {}",
                d.feature_count,
                t(en, "Objekte", "features")
            ));
        }
        if !d.imagery.is_empty() {
            amount.push(format!(
                "{} {}",
                d.imagery.len(),
                t(en, "Luftbild-Jahrgänge", "aerial-image epochs")
            ));
        }
        let _ = write!(
            body,
            "<section class=\"card\"><h2><a href=\"/opendata/{id}{suffix}\">{}</a></h2><p>{}</p>\
             <p>{}: {} · {}: {} · {}: {} · {}: {} · {}</p></section>",
            e(title),
            e(description),
            t(en, "Themen", "Themes"),
            e(&themes.join(", ")),
            t(en, "Formate", "Formats"),
            e(&formats.join(", ")),
            t(en, "Lizenz", "Licence"),
            e(registry::license_name(&d.license)),
            t(en, "geändert", "changed"),
            e(d.modified.get(..10).unwrap_or(&d.modified)),
            e(&amount.join(", ")),
            id = e(&d.id),
            suffix = if en { "?lang=en" } else { "" },
        );
    }
    let _ = write!(
        body,
        "<h2>{}</h2><p>{}</p><ul><li><a href=\"/opendata/alle.gpkg.zip\" download>GeoPackage</a></li>\
         <li><a href=\"/opendata/alle.shp.zip\" download>Shapefile</a></li>\
         <li><a href=\"/opendata/alle.fgb.zip\" download>FlatGeobuf</a></li>\
         <li><a href=\"/opendata/alle.kml.zip\" download>KML</a></li></ul>",
        t(en, "Alle Datensätze auf einmal", "Every dataset at once"),
        t(
            en,
            "Eine ZIP-Datei je Format, mit einer LIESMICH.txt zu Lizenzen und Quellenangaben.",
            "One ZIP file per format, with a LIESMICH.txt (readme) on licences and attribution."
        ),
    );
    Ok(page(t(en, "Offene Daten", "Open data"), en, &body).into_response())
}

async fn one(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(f): Query<Filters>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if name.starts_with("alle.") {
        return crate::downloads::bulk(&state, &name, &headers).await;
    }
    if name.starts_with("catalog.") {
        return crate::dcat::catalog(
            State(state),
            Path(name),
            Query(crate::dcat::PageQuery {
                page: f.page,
                profile: f.profile,
            }),
            headers,
        )
        .await;
    }
    let en = english(&f);
    let client = state.pool.get().await.map_err(DbError::from)?;
    let d = registry::get(&**client, &name)
        .await?
        .ok_or_else(|| Problem::not_found(format!("There is no dataset {name:?}.")))?;
    let base = base_url(&state.config, &headers);
    let offers = Offers::load(&state, &**client).await?;
    let subjects: Vec<&String> = d.collections.iter().chain(&d.imagery).collect();
    let history = client
        .query(
            "SELECT to_char(at, 'YYYY-MM-DD HH24:MI'), action, subject,
                    coalesce(details->>'written', details->>'buildings', details->>'features', '')
             FROM catalog.audit_log WHERE subject = ANY($1) OR subject = $2 ORDER BY at DESC LIMIT 20",
            &[&subjects, &d.id],
        )
        .await
        .map_err(DbError::query("reading the change history"))?;
    let title = if en {
        d.title_en.as_deref().unwrap_or(&d.title)
    } else {
        &d.title
    };
    let description = if en {
        d.description_en.as_deref().unwrap_or(&d.description)
    } else {
        &d.description
    };
    let mut body = format!(
        "<p>{}</p><h2>{}</h2><table><tbody>",
        e(description),
        t(en, "Beschreibung der Daten", "About the data")
    );
    let rows = [
        (t(en, "Herausgeber", "Publisher"), d.publisher_name.clone()),
        (
            t(en, "Kontakt", "Contact"),
            format!("{} <{}>", d.contact_name, d.contact_email),
        ),
        (
            t(en, "Themen", "Themes"),
            d.themes
                .iter()
                .map(|th| theme_name(th, en))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (t(en, "Schlagworte", "Keywords"), d.keywords.join(", ")),
        (
            t(en, "Aktualisierung", "Update frequency"),
            d.accrual_periodicity.clone(),
        ),
        (
            t(en, "Zeitraum", "Period"),
            format!(
                "{} – {}",
                d.temporal_start.clone().unwrap_or_default(),
                d.temporal_end.clone().unwrap_or_default()
            ),
        ),
        (
            t(en, "Veröffentlicht", "Published"),
            d.issued.get(..10).unwrap_or_default().to_owned(),
        ),
        (
            t(en, "Zuletzt geändert", "Last changed"),
            d.modified.get(..10).unwrap_or_default().to_owned(),
        ),
        (t(en, "Objekte", "Features"), d.feature_count.to_string()),
        (
            t(en, "Luftbild-Jahrgänge", "Aerial-image epochs"),
            offers
                .epochs(&d)
                .iter()
                .map(|ep| format!("{} ({})", ep.title, ep.year))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ];
    for (k, v) in rows {
        if v.is_empty() || (k == t(en, "Objekte", "Features") && d.collections.is_empty()) {
            continue;
        }
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            e(k),
            e(&v)
        );
    }
    let _ = write!(
        body,
        "</tbody></table><h2>{}</h2><p><a href=\"{lic}\">{}</a></p><p>{}</p><pre tabindex=\"0\"><code>{}</code></pre>",
        t(en, "Lizenz", "Licence"),
        e(registry::license_name(&d.license)),
        t(
            en,
            "Bitte nennen Sie die Quelle genau so:",
            "Please credit the source exactly like this:"
        ),
        e(&format!(
            "{}, {}",
            d.attribution,
            format_args!("{base}/opendata/{}", d.id)
        )),
        lic = e(&d.license),
    );
    downloads_table(&mut body, &d, &offers.of(&d), en);
    // The deepest minimum zoom of the dataset's layers: the preview must show them.
    let min_zoom: Option<i16> = client
        .query_one(
            "SELECT max(min_zoom) FROM catalog.collections WHERE id = ANY($1)",
            &[&d.collections],
        )
        .await
        .map_err(DbError::query("reading the zoom range"))?
        .get(0);
    preview_map(&mut body, &d, min_zoom.map_or(0.0, f64::from), en);
    if let Some(c) = d.collections.first() {
        let _ = write!(
            body,
            "<h2>{}</h2><ul><li><a href=\"/collections/{c}/items?f=html\">OGC API Features</a> \
             (<code>{base}/collections/{c}/items</code>)</li><li><a href=\"/tiles/{c}\">TileJSON</a> \
             (<code>{base}/tiles/{c}/{{z}}/{{x}}/{{y}}</code>)</li></ul>\
             <h3>curl</h3><pre tabindex=\"0\"><code>curl '{base}/collections/{c}/items?limit=10'</code></pre>\
             <h3>Python</h3><pre tabindex=\"0\"><code>import requests\nfc = requests.get('{base}/collections/{c}/items', params={{'limit': 10}}).json()\n\
             for feature in fc['features']:\n    print(feature['id'], feature['properties'])</code></pre>\
             <h3>JavaScript</h3><pre tabindex=\"0\"><code>const fc = await (await fetch('{base}/collections/{c}/items?limit=10')).json();\n\
             console.log(fc.features.length);</code></pre>\
             <p><a href=\"/collections/{c}/items?f=html&amp;limit=100\">{}</a></p>",
            t(en, "Schnittstellen", "APIs"),
            t(en, "Vorschau mit Karte", "Preview with a map"),
            c = e(c),
            base = e(&base),
        );
    }
    for ep in offers.epochs(&d) {
        imagery_apis(&mut body, &base, &ep.id, &ep.title, en);
    }
    let _ = write!(
        body,
        "<h2>{}</h2><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        t(en, "Änderungen", "Changes"),
        t(en, "Zeitpunkt", "When"),
        t(en, "Was", "What"),
        t(en, "Objekte", "Features"),
    );
    for r in &history {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{} ({})</td><td>{}</td></tr>",
            e(r.get::<_, &str>(0)),
            e(r.get::<_, &str>(1)),
            e(r.get::<_, &str>(2)),
            e(r.get::<_, &str>(3))
        );
    }
    body.push_str("</tbody></table>");
    Ok(page(title, en, &body).into_response())
}

/// The downloads as a table: file, format, size (or that it is being prepared).
fn downloads_table(body: &mut String, d: &Dataset, offers: &[Offer], en: bool) {
    if offers.is_empty() {
        return;
    }
    let _ = write!(
        body,
        "<h2 id=\"herunterladen\">{}</h2><table aria-labelledby=\"herunterladen\"><thead><tr>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        t(en, "Herunterladen", "Download"),
        t(en, "Datei", "File"),
        t(en, "Format", "Format"),
        t(en, "Größe", "Size"),
    );
    for o in offers {
        let size = o.bytes.map_or_else(
            || t(en, "wird vorbereitet", "being prepared").to_owned(),
            |b| format!("<data value=\"{b}\">{}</data>", human_size(b, en)),
        );
        let mut format = e(o.format.label);
        if let Some(level) = &o.level {
            let _ = write!(
                format,
                "; {} {}, {} {} m",
                t(en, "Zoomstufe", "zoom level"),
                level.zoom,
                t(en, "Pixelgröße", "pixel size"),
                decimal(level.pixel_size(), 2, en),
            );
            if !level.finest() {
                let _ = write!(
                    format,
                    "; {} {} {} {} ({})",
                    t(en, "Teil", "part"),
                    level.part + 1,
                    t(en, "von", "of"),
                    level.parts,
                    t(en, "gröber", "coarser")
                );
            }
        }
        let _ = write!(
            body,
            "<tr><td><a href=\"{}\" download>{}</a></td><td>{format}</td><td>{size}</td></tr>",
            e(&o.path(&d.id)),
            e(&o.file),
        );
    }
    body.push_str("</tbody></table>");
    if offers.iter().any(|o| o.level.is_some()) {
        let _ = write!(
            body,
            "<p>{}</p>",
            t(
                en,
                "Die Luftbilder sind Cloud-Optimized GeoTIFFs in EPSG:3857 (Web Mercator), \
                 WebP-komprimiert, RGB mit Alpha – genau so, wie die Stadtkarte sie speichert und \
                 als Kacheln ausliefert; GDAL und QGIS lesen sie direkt. Die Datei eines Jahrgangs \
                 hat seine feinste Auflösung, die „Teil“-Dateien decken die gröber aufgelösten \
                 Bereiche ab.",
                "The aerial images are Cloud-Optimized GeoTIFFs in EPSG:3857 (Web Mercator), \
                 WebP-compressed, RGB with alpha – exactly as the Stadtkarte stores them and serves \
                 them as tiles; GDAL and QGIS read them directly. The file of an epoch has its \
                 finest resolution; the \"teil\" (part) files cover the areas of coarser resolution."
            )
        );
    }
}

/// The tile APIs of an imagery epoch (served by the tiles crate), with examples.
fn imagery_apis(body: &mut String, base: &str, id: &str, title: &str, en: bool) {
    let _ = write!(
        body,
        "<h2>{} – {}</h2><ul>\
         <li><a href=\"/imagery/{id}\">TileJSON</a> (<code>{base}/imagery/{id}</code>)</li>\
         <li>XYZ: <code>{base}/imagery/{id}/{{z}}/{{x}}/{{y}}</code></li>\
         <li><a href=\"/wmts/1.0.0/WMTSCapabilities.xml\">WMTS</a> \
         (<code>{base}/wmts/1.0.0/WMTSCapabilities.xml</code>)</li>\
         <li>OGC API – Tiles: \
         <code>{base}/collections/{id}/map/tiles/WebMercatorQuad/{{z}}/{{row}}/{{col}}</code></li></ul>\
         <h3>curl</h3><pre tabindex=\"0\"><code>curl '{base}/imagery/{id}'</code></pre>\
         <h3>Python</h3><pre tabindex=\"0\"><code>import requests\n\
         tilejson = requests.get('{base}/imagery/{id}').json()\n\
         print(tilejson['tiles'][0], tilejson['minzoom'], tilejson['maxzoom'])</code></pre>\
         <h3>JavaScript (MapLibre)</h3><pre tabindex=\"0\"><code>map.addSource('{id}', \
         {{ type: 'raster', url: '{base}/imagery/{id}', tileSize: 256 }});\n\
         map.addLayer({{ id: '{id}', type: 'raster', source: '{id}' }});</code></pre>",
        t(en, "Schnittstellen", "APIs"),
        e(title),
        id = e(id),
        base = e(base),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(999, false), "999 B");
        assert_eq!(human_size(12_345_678, false), "12,3 MB");
        assert_eq!(human_size(12_345_678, true), "12.3 MB");
        assert_eq!(human_size(999_960, false), "1,0 MB");
        assert_eq!(human_size(57_625_175_000, true), "57.6 GB");
    }
}
