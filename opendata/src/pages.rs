//! The open-data pages citizens and hackathon participants read: `/opendata` (every dataset,
//! with search and filters by theme, licence and update date) and `/opendata/{id}` (metadata,
//! licence with the attribution text to copy, every download, the API links with examples for
//! curl, Python and JavaScript, a preview map and the change history). German, or English with
//! `?lang=en`. Plain HTML without scripts.

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
    lizenz: Option<String>,
    seit: Option<String>,
    lang: Option<String>,
    page: Option<usize>,
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
    let all = registry::list(&**client).await.map_err(Problem::internal)?;
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
        let _ = write!(
            body,
            "<section class=\"card\"><h2><a href=\"/opendata/{id}{suffix}\">{}</a></h2><p>{}</p>\
             <p>{}: {} · {}: {} · {}: {} · {} {}</p></section>",
            e(title),
            e(description),
            t(en, "Themen", "Themes"),
            e(&themes.join(", ")),
            t(en, "Lizenz", "Licence"),
            e(registry::license_name(&d.license)),
            t(en, "geändert", "changed"),
            e(d.modified.get(..10).unwrap_or(&d.modified)),
            d.feature_count,
            t(en, "Objekte", "features"),
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
            Query(crate::dcat::PageQuery { page: f.page }),
            headers,
        )
        .await;
    }
    let en = english(&f);
    let client = state.pool.get().await.map_err(DbError::from)?;
    let d = registry::get(&**client, &name)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found(format!("There is no dataset {name:?}.")))?;
    let base = base_url(&state.config, &headers);
    let history = client
        .query(
            "SELECT to_char(at, 'YYYY-MM-DD HH24:MI'), action, subject,
                    coalesce(details->>'written', details->>'buildings', details->>'features', '')
             FROM catalog.audit_log WHERE subject = ANY($1) OR subject = $2 ORDER BY at DESC LIMIT 20",
            &[&d.collections, &d.id],
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
    ];
    for (k, v) in rows {
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            e(k),
            e(&v)
        );
    }
    let _ = write!(
        body,
        "</tbody></table><h2>{}</h2><p><a href=\"{lic}\">{}</a></p><p>{}</p><pre><code>{}</code></pre>",
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
    let _ = write!(body, "<h2>{}</h2><ul>", t(en, "Herunterladen", "Download"));
    for c in &d.collections {
        for (ext, label) in [
            ("geojson", "GeoJSON (WGS 84)"),
            ("csv", "CSV (UTF-8, WGS 84)"),
            ("gpkg", "GeoPackage (EPSG:25832)"),
            ("shp.zip", "Shapefile, ZIP (EPSG:25832)"),
            ("fgb", "FlatGeobuf (WGS 84)"),
            ("kml", "KML (WGS 84)"),
        ] {
            let _ = write!(
                body,
                "<li><a href=\"/opendata/{}/{c}.{ext}\" download>{c} – {label}</a></li>",
                e(&d.id),
                c = e(c)
            );
        }
    }
    body.push_str("</ul>");
    if let Some(c) = d.collections.first() {
        let _ = write!(
            body,
            "<h2>{}</h2><ul><li><a href=\"/collections/{c}/items?f=html\">OGC API Features</a> \
             (<code>{base}/collections/{c}/items</code>)</li><li><a href=\"/tiles/{c}\">TileJSON</a> \
             (<code>{base}/tiles/{c}/{{z}}/{{x}}/{{y}}</code>)</li></ul>\
             <h3>curl</h3><pre><code>curl '{base}/collections/{c}/items?limit=10'</code></pre>\
             <h3>Python</h3><pre><code>import requests\nfc = requests.get('{base}/collections/{c}/items', params={{'limit': 10}}).json()\n\
             for feature in fc['features']:\n    print(feature['id'], feature['properties'])</code></pre>\
             <h3>JavaScript</h3><pre><code>const fc = await (await fetch('{base}/collections/{c}/items?limit=10')).json();\n\
             console.log(fc.features.length);</code></pre>\
             <p><a href=\"/collections/{c}/items?f=html&amp;limit=100\">{}</a></p>",
            t(en, "Schnittstellen", "APIs"),
            t(en, "Vorschau mit Karte", "Preview with a map"),
            c = e(c),
            base = e(&base),
        );
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
