//! The DCAT-AP.de catalog the state portal harvests, as Turtle at `/opendata/catalog.ttl`: the
//! catalog, every dataset (stable URI `/opendata/{id}`) with its contact point, contributor id,
//! political geocoding, spatial and temporal coverage, and a distribution per collection and
//! format (access and download URL, EU file type, media type, licence, attribution, modified).
//!
//! To come: RDF/XML and JSON-LD, hydra paging for large catalogs, `byteSize`.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use stadtkarte_core::db::DbError;
use stadtkarte_core::http::base_url;
use stadtkarte_core::{AppState, Config, Problem};

use crate::registry::{self, Dataset};

/// (extension, EU file type, media type) of the distributions listed.
const DISTRIBUTIONS: &[(&str, &str, &str)] = &[
    ("geojson", "GEOJSON", "application/geo+json"),
    ("csv", "CSV", "text/csv"),
    ("gpkg", "GPKG", "application/geopackage+sqlite3"),
    ("shp.zip", "SHP", "application/zip"),
    ("kml", "KML", "application/vnd.google-earth.kml+xml"),
];

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/opendata/catalog.ttl", get(turtle))
        .with_state(state)
}

async fn turtle(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let datasets = registry::list(&**client).await.map_err(Problem::internal)?;
    let base = base_url(&state.config, &headers);
    Ok((
        [(header::CONTENT_TYPE, "text/turtle; charset=utf-8")],
        catalog_turtle(&base, &state.config, &datasets),
    )
        .into_response())
}

/// A Turtle string literal.
fn lit(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An IRI; characters Turtle does not allow in IRIs are percent-encoded.
fn iri(text: &str) -> String {
    let mut out = String::from("<");
    for c in text.chars() {
        if matches!(
            c,
            '<' | '>' | '"' | '{' | '}' | '|' | '^' | '`' | '\\' | ' '
        ) {
            let _ = write!(out, "%{:02X}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out.push('>');
    out
}

/// The whole catalog.
#[must_use]
pub fn catalog_turtle(base: &str, config: &Config, datasets: &[Dataset]) -> String {
    let mut t = String::from(
        "@prefix dcat: <http://www.w3.org/ns/dcat#> .\n@prefix dct: <http://purl.org/dc/terms/> .\n\
         @prefix dcatde: <http://dcat-ap.de/def/dcatde/> .\n@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n\
         @prefix vcard: <http://www.w3.org/2006/vcard/ns#> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n\
         @prefix gsp: <http://www.opengis.net/ont/geosparql#> .\n\n",
    );
    let catalog = format!("{base}/opendata/catalog");
    let publisher = format!("{base}/opendata/publisher");
    let modified = datasets
        .iter()
        .map(|d| d.modified.as_str())
        .max()
        .unwrap_or("1970-01-01T00:00:00Z");
    let _ = write!(
        t,
        "{} a dcat:Catalog ;\n  dct:title {}@de ;\n  dct:description {}@de ;\n  dct:publisher {} ;\n  \
         dct:language <http://publications.europa.eu/resource/authority/language/DEU> ;\n  foaf:homepage {} ;\n  \
         dct:modified {}^^xsd:dateTime",
        iri(&catalog),
        lit(&format!("Offene Daten {}", config.city.name)),
        lit(&format!(
            "Offene Geodaten der Stadt {} aus der Stadtkarte.",
            config.city.name
        )),
        iri(&publisher),
        iri(&format!("{base}/opendata")),
        lit(modified),
    );
    for d in datasets {
        let _ = write!(
            t,
            " ;\n  dcat:dataset {}",
            iri(&format!("{base}/opendata/{}", d.id))
        );
    }
    t.push_str(" .\n\n");
    let _ = write!(
        t,
        "{} a foaf:Agent ;\n  foaf:name {} .\n\n",
        iri(&publisher),
        lit(&config.city.attribution)
    );
    for d in datasets {
        dataset_turtle(&mut t, base, &publisher, d);
    }
    t
}

fn dataset_turtle(t: &mut String, base: &str, publisher: &str, d: &Dataset) {
    let uri = format!("{base}/opendata/{}", d.id);
    let _ = write!(
        t,
        "{} a dcat:Dataset ;\n  dct:identifier {} ;\n  dct:title {}@de ;\n  dct:description {}@de ;\n",
        iri(&uri),
        lit(&uri),
        lit(&d.title),
        lit(&d.description)
    );
    if let Some(en) = &d.title_en {
        let _ = writeln!(t, "  dct:title {}@en ;", lit(en));
    }
    if let Some(en) = &d.description_en {
        let _ = writeln!(t, "  dct:description {}@en ;", lit(en));
    }
    for k in &d.keywords {
        let _ = writeln!(t, "  dcat:keyword {} ;", lit(k));
    }
    for theme in &d.themes {
        let _ = writeln!(
            t,
            "  dcat:theme <http://publications.europa.eu/resource/authority/data-theme/{theme}> ;"
        );
    }
    let _ = write!(
        t,
        "  dct:publisher {} ;\n  dcat:contactPoint [ a vcard:Kind ; vcard:fn {} ; vcard:hasEmail {} ] ;\n  \
         dcatde:contributorID {} ;\n  dcatde:politicalGeocodingLevelURI {} ;\n  dcatde:politicalGeocodingURI {} ;\n  \
         dct:spatial {} ;\n",
        iri(publisher),
        lit(&d.contact_name),
        iri(&format!("mailto:{}", d.contact_email)),
        iri(&d.contributor_id),
        iri(&d.political_geocoding_level),
        iri(&d.political_geocoding),
        iri(&d.political_geocoding),
    );
    if let Some([w, s, e, n]) = d.extent_crs84 {
        let _ = writeln!(
            t,
            "  dct:spatial [ a dct:Location ; dcat:bbox \"POLYGON(({w:.6} {s:.6}, {e:.6} {s:.6}, {e:.6} {n:.6}, {w:.6} {n:.6}, {w:.6} {s:.6}))\"^^gsp:wktLiteral ] ;"
        );
    }
    if d.temporal_start.is_some() || d.temporal_end.is_some() {
        t.push_str("  dct:temporal [ a dct:PeriodOfTime");
        if let Some(s) = &d.temporal_start {
            let _ = write!(t, " ; dcat:startDate {}^^xsd:date", lit(s));
        }
        if let Some(e) = &d.temporal_end {
            let _ = write!(t, " ; dcat:endDate {}^^xsd:date", lit(e));
        }
        t.push_str(" ] ;\n");
    }
    let _ = write!(
        t,
        "  dct:issued {}^^xsd:dateTime ;\n  dct:modified {}^^xsd:dateTime ;\n  \
         dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/{}> ;\n  \
         dct:language <http://publications.europa.eu/resource/authority/language/DEU> ;\n  \
         dct:accessRights <http://publications.europa.eu/resource/authority/access-right/PUBLIC> ;\n  \
         dcat:landingPage {}",
        lit(&d.issued),
        lit(&d.modified),
        d.accrual_periodicity,
        iri(&uri),
    );
    let mut distributions = Vec::new();
    for c in &d.collections {
        for (ext, file_type, media) in DISTRIBUTIONS {
            let dist = format!("{uri}/distribution/{c}-{}", ext.replace('.', "-"));
            let _ = write!(t, " ;\n  dcat:distribution {}", iri(&dist));
            distributions.push((dist, c, *ext, *file_type, *media));
        }
    }
    t.push_str(" .\n\n");
    for (dist, c, ext, file_type, media) in distributions {
        let url = format!("{uri}/{c}.{ext}");
        let _ = write!(
            t,
            "{} a dcat:Distribution ;\n  dct:title {}@de ;\n  dcat:accessURL {} ;\n  dcat:downloadURL {} ;\n  \
             dct:format <http://publications.europa.eu/resource/authority/file-type/{file_type}> ;\n  \
             dcat:mediaType {} ;\n  dct:license {} ;\n  dcatde:licenseAttributionByText {} ;\n  \
             dct:modified {}^^xsd:dateTime .\n\n",
            iri(&dist),
            lit(&format!("{c} ({file_type})")),
            iri(&url),
            iri(&url),
            iri(&format!(
                "https://www.iana.org/assignments/media-types/{media}"
            )),
            iri(&d.license),
            lit(&d.attribution),
            lit(&d.modified),
        );
    }
}
