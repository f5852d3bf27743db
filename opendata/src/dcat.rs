//! The DCAT-AP.de catalog the state portal harvests, at `/opendata/catalog.ttl`, `.rdf` (RDF/XML,
//! what the RLP harvester reads) and `.jsonld`: the catalog, every dataset (stable URI
//! `/opendata/{id}`) with contact point, contributor id, political geocoding, spatial and temporal
//! coverage, and a distribution per download ([`crate::offers`]: per collection and format,
//! per imagery file) with access and download URL, EU file type, media type, licence,
//! attribution, modified and, once the file is prepared, `byteSize`. Large catalogs are paged
//! with hydra (`?page=N`, [`PAGE_SIZE`] datasets a page).
//!
//! `?profile=3.0` writes `dcat:byteSize` as `xsd:nonNegativeInteger`, as the DCAT-AP.de 3.0
//! shapes demand; the default is DCAT-AP.de 2.0 (what the GovData harvest chain checks), whose
//! shapes demand `xsd:decimal`. Nothing else differs.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use stadtkarte_core::http::base_url;
use stadtkarte_core::{AppState, Config, Problem};

use crate::offers::{Offer, Offers};
use crate::rdf::{
    Graph, RDF_TYPE, Term, XSD_DATE, XSD_DATETIME, XSD_DECIMAL, XSD_INTEGER,
    XSD_NON_NEGATIVE_INTEGER, iri, text, typed,
};
use crate::registry::{self, Dataset};

/// Datasets per catalog page.
pub const PAGE_SIZE: usize = 100;

/// The DCAT-AP.de version whose shapes the catalog satisfies. The two differ only in the
/// datatype of `dcat:byteSize`, and no literal satisfies both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// DCAT-AP.de 2.0 with the GovData conventions: `byteSize` as `xsd:decimal`.
    #[default]
    V2,
    /// DCAT-AP.de 3.0: `byteSize` as `xsd:nonNegativeInteger`.
    V3,
}

impl Profile {
    /// From `?profile=`.
    pub fn parse(value: Option<&str>) -> Result<Self, Problem> {
        match value {
            None | Some("" | "2.0" | "2") => Ok(Self::V2),
            Some("3.0" | "3") => Ok(Self::V3),
            Some(other) => Err(Problem::bad_request(format!(
                "profile {other:?} is unknown; use 2.0 (DCAT-AP.de 2.0, the default) or 3.0"
            ))),
        }
    }

    fn byte_size(self) -> &'static str {
        match self {
            Self::V2 => XSD_DECIMAL,
            Self::V3 => XSD_NON_NEGATIVE_INTEGER,
        }
    }

    fn query(self) -> &'static str {
        match self {
            Self::V2 => "",
            Self::V3 => "&profile=3.0",
        }
    }
}

const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const DCATDE: &str = "http://dcat-ap.de/def/dcatde/";
const FOAF: &str = "http://xmlns.com/foaf/0.1/";
const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
const HYDRA: &str = "http://www.w3.org/ns/hydra/core#";
const EU: &str = "http://publications.europa.eu/resource/authority/";

/// `?page=N&profile=…` of the catalog.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// 1-based page.
    pub page: Option<usize>,
    /// `2.0` (default) or `3.0`: see [`Profile`].
    pub profile: Option<String>,
}

/// `GET /opendata/catalog.{ttl,rdf,jsonld}` (routed by [`crate::pages`]).
pub async fn catalog(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let (media, ext) = match file.as_str() {
        "catalog.ttl" => ("text/turtle; charset=utf-8", "ttl"),
        "catalog.rdf" => ("application/rdf+xml", "rdf"),
        "catalog.jsonld" => ("application/ld+json", "jsonld"),
        other => {
            return Err(if other.starts_with("catalog.") {
                Problem::new(
                    StatusCode::NOT_ACCEPTABLE,
                    "Format nicht verfügbar / format not available",
                    "the catalog is available as catalog.ttl, catalog.rdf and catalog.jsonld",
                )
            } else {
                Problem::not_found(format!("There is nothing at /opendata/{other}."))
            });
        }
    };
    let profile = Profile::parse(query.profile.as_deref())?;
    let client = state.read_db().await?;
    let datasets = registry::list(&**client).await?;
    let offers = Offers::load(&state, &**client).await?;
    drop(client);
    let base = base_url(&state.config, &headers);
    let pages = datasets.len().div_ceil(PAGE_SIZE).max(1);
    let page = query.page.unwrap_or(1);
    if page == 0 || page > pages {
        return Err(Problem::not_found(format!(
            "The catalog has pages 1 to {pages}."
        )));
    }
    let graph = catalog_graph(&base, ext, &state.config, &datasets, page, profile, &|d| {
        offers.of(d)
    });
    let body = match ext {
        "ttl" => graph.turtle(),
        "rdf" => graph.rdf_xml(),
        _ => graph.json_ld().to_string(),
    };
    Ok(([(header::CONTENT_TYPE, media)], body).into_response())
}

/// The catalog (page `page`) as a graph; `offers` lists a dataset's downloads.
#[must_use]
pub fn catalog_graph(
    base: &str,
    ext: &str,
    config: &Config,
    datasets: &[Dataset],
    page: usize,
    profile: Profile,
    offers: &dyn Fn(&Dataset) -> Vec<Offer>,
) -> Graph {
    let mut g = Graph::default();
    let catalog = iri(format!("{base}/opendata/catalog"));
    let publisher = iri(format!("{base}/opendata/publisher"));
    let modified = datasets
        .iter()
        .map(|d| d.modified.as_str())
        .max()
        .unwrap_or("1970-01-01T00:00:00Z");
    g.add(&catalog, RDF_TYPE, iri(format!("{DCAT}Catalog")));
    g.add(
        &catalog,
        &format!("{DCT}title"),
        text(format!("Offene Daten {}", config.city.name), Some("de")),
    );
    g.add(
        &catalog,
        &format!("{DCT}description"),
        text(
            format!(
                "Offene Geodaten der Stadt {} aus der Stadtkarte.",
                config.city.name
            ),
            Some("de"),
        ),
    );
    g.add(&catalog, &format!("{DCT}publisher"), publisher.clone());
    g.add(
        &catalog,
        &format!("{DCT}language"),
        iri(format!("{EU}language/DEU")),
    );
    g.add(
        &catalog,
        &format!("{FOAF}homepage"),
        iri(format!("{base}/opendata")),
    );
    g.add(
        &catalog,
        &format!("{DCT}modified"),
        typed(modified, XSD_DATETIME),
    );
    g.add(&publisher, RDF_TYPE, iri(format!("{FOAF}Agent")));
    g.add(
        &publisher,
        &format!("{FOAF}name"),
        text(config.city.attribution.clone(), None),
    );
    let pages = datasets.len().div_ceil(PAGE_SIZE).max(1);
    if pages > 1 {
        let at = |n: usize| {
            iri(format!(
                "{base}/opendata/catalog.{ext}?page={n}{}",
                profile.query()
            ))
        };
        let view = at(page);
        g.add(
            &view,
            RDF_TYPE,
            iri(format!("{HYDRA}PartialCollectionView")),
        );
        g.add(
            &view,
            &format!("{HYDRA}totalItems"),
            typed(datasets.len().to_string(), XSD_INTEGER),
        );
        g.add(
            &view,
            &format!("{HYDRA}itemsPerPage"),
            typed(PAGE_SIZE.to_string(), XSD_INTEGER),
        );
        g.add(&view, &format!("{HYDRA}first"), at(1));
        g.add(&view, &format!("{HYDRA}last"), at(pages));
        if page > 1 {
            g.add(&view, &format!("{HYDRA}previous"), at(page - 1));
        }
        if page < pages {
            g.add(&view, &format!("{HYDRA}next"), at(page + 1));
        }
    }
    for d in datasets.iter().skip((page - 1) * PAGE_SIZE).take(PAGE_SIZE) {
        let uri = iri(format!("{base}/opendata/{}", d.id));
        g.add(&catalog, &format!("{DCAT}dataset"), uri.clone());
        dataset(&mut g, &publisher, &uri, d);
        distributions(&mut g, base, &uri, d, &offers(d), profile);
    }
    g
}

fn dataset(g: &mut Graph, publisher: &Term, uri: &Term, d: &Dataset) {
    let p = |name: &str| format!("{DCT}{name}");
    let dc = |name: &str| format!("{DCAT}{name}");
    let Term::Iri(uri_text) = uri else { return };
    g.add(uri, RDF_TYPE, iri(dc("Dataset")));
    g.add(uri, &p("identifier"), text(uri_text.clone(), None));
    g.add(uri, &p("title"), text(d.title.clone(), Some("de")));
    g.add(
        uri,
        &p("description"),
        text(d.description.clone(), Some("de")),
    );
    if let Some(en) = &d.title_en {
        g.add(uri, &p("title"), text(en.clone(), Some("en")));
    }
    if let Some(en) = &d.description_en {
        g.add(uri, &p("description"), text(en.clone(), Some("en")));
    }
    for k in &d.keywords {
        g.add(uri, &dc("keyword"), text(k.clone(), None));
    }
    for theme in &d.themes {
        g.add(uri, &dc("theme"), iri(format!("{EU}data-theme/{theme}")));
    }
    g.add(uri, &p("publisher"), publisher.clone());
    let contact = g.blank();
    g.add(uri, &dc("contactPoint"), contact.clone());
    g.add(&contact, RDF_TYPE, iri(format!("{VCARD}Kind")));
    g.add(
        &contact,
        &format!("{VCARD}fn"),
        text(d.contact_name.clone(), None),
    );
    g.add(
        &contact,
        &format!("{VCARD}hasEmail"),
        iri(format!("mailto:{}", d.contact_email)),
    );
    g.add(
        uri,
        &format!("{DCATDE}contributorID"),
        iri(d.contributor_id.clone()),
    );
    g.add(
        uri,
        &format!("{DCATDE}politicalGeocodingLevelURI"),
        iri(d.political_geocoding_level.clone()),
    );
    g.add(
        uri,
        &format!("{DCATDE}politicalGeocodingURI"),
        iri(d.political_geocoding.clone()),
    );
    g.add(uri, &p("spatial"), iri(d.political_geocoding.clone()));
    if let Some([w, s, e, n]) = d.extent_crs84 {
        let location = g.blank();
        g.add(uri, &p("spatial"), location.clone());
        g.add(&location, RDF_TYPE, iri(p("Location")));
        g.add(
            &location,
            &dc("bbox"),
            typed(
                format!("POLYGON(({w:.6} {s:.6}, {e:.6} {s:.6}, {e:.6} {n:.6}, {w:.6} {n:.6}, {w:.6} {s:.6}))"),
                "http://www.opengis.net/ont/geosparql#wktLiteral",
            ),
        );
    }
    if d.temporal_start.is_some() || d.temporal_end.is_some() {
        let period = g.blank();
        g.add(uri, &p("temporal"), period.clone());
        g.add(&period, RDF_TYPE, iri(p("PeriodOfTime")));
        if let Some(s) = &d.temporal_start {
            g.add(&period, &dc("startDate"), typed(s.clone(), XSD_DATE));
        }
        if let Some(e) = &d.temporal_end {
            g.add(&period, &dc("endDate"), typed(e.clone(), XSD_DATE));
        }
    }
    g.add(uri, &p("issued"), typed(d.issued.clone(), XSD_DATETIME));
    g.add(uri, &p("modified"), typed(d.modified.clone(), XSD_DATETIME));
    g.add(
        uri,
        &p("accrualPeriodicity"),
        iri(format!("{EU}frequency/{}", d.accrual_periodicity)),
    );
    g.add(uri, &p("language"), iri(format!("{EU}language/DEU")));
    g.add(
        uri,
        &p("accessRights"),
        iri(format!("{EU}access-right/PUBLIC")),
    );
    g.add(uri, &dc("landingPage"), uri.clone());
}

/// A distribution per offered file whose format the EU file-type vocabulary knows.
fn distributions(
    g: &mut Graph,
    base: &str,
    uri: &Term,
    d: &Dataset,
    offers: &[Offer],
    profile: Profile,
) {
    let p = |name: &str| format!("{DCT}{name}");
    let dc = |name: &str| format!("{DCAT}{name}");
    let Term::Iri(uri_text) = uri else { return };
    for offer in offers {
        if offer.format.eu_file_type.is_none() && offer.format.iana.is_none() {
            continue;
        }
        let dist = iri(format!(
            "{uri_text}/distribution/{}",
            offer.file.replace('.', "-")
        ));
        let url = format!("{base}{}", offer.path(&d.id));
        g.add(uri, &dc("distribution"), dist.clone());
        g.add(&dist, RDF_TYPE, iri(dc("Distribution")));
        g.add(&dist, &p("title"), text(offer.title.clone(), Some("de")));
        if let Some(level) = &offer.level {
            g.add(
                &dist,
                &p("description"),
                text(
                    format!(
                        "Cloud-Optimized GeoTIFF mit WebP-Kompression in EPSG:3857 (Web Mercator), \
                         RGB mit Alpha, unverändert wie gespeichert; Zoomstufe {}, \
                         Pixelgröße {:.2} m.",
                        level.zoom,
                        level.pixel_size()
                    ),
                    Some("de"),
                ),
            );
        }
        g.add(&dist, &dc("accessURL"), iri(url.clone()));
        g.add(&dist, &dc("downloadURL"), iri(url));
        if let Some(file_type) = offer.format.eu_file_type {
            g.add(
                &dist,
                &p("format"),
                iri(format!("{EU}file-type/{file_type}")),
            );
        }
        if let Some(media) = offer.format.iana {
            g.add(
                &dist,
                &dc("mediaType"),
                iri(format!(
                    "https://www.iana.org/assignments/media-types/{media}"
                )),
            );
        }
        if let Some(bytes) = offer.bytes {
            g.add(
                &dist,
                &dc("byteSize"),
                typed(bytes.to_string(), profile.byte_size()),
            );
        }
        g.add(&dist, &p("license"), iri(d.license.clone()));
        g.add(
            &dist,
            &format!("{DCATDE}licenseAttributionByText"),
            text(d.attribution.clone(), None),
        );
        g.add(
            &dist,
            &p("modified"),
            typed(offer.modified.clone(), XSD_DATETIME),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str) -> Dataset {
        Dataset {
            id: id.to_owned(),
            title: "T".into(),
            title_en: None,
            description: "D".into(),
            description_en: None,
            keywords: vec![],
            themes: vec!["TRAN".into()],
            license: format!("{}dl-by-de/2.0", registry::LICENSE_PREFIX),
            attribution: "Stadt".into(),
            publisher_name: "Stadt".into(),
            publisher_url: None,
            contact_name: "C".into(),
            contact_email: "c@example.org".into(),
            contributor_id: "http://dcat-ap.de/def/contributors/x".into(),
            political_geocoding:
                "http://dcat-ap.de/def/politicalGeocoding/regionalKey/071110000000".into(),
            political_geocoding_level:
                "http://dcat-ap.de/def/politicalGeocoding/Level/municipality".into(),
            temporal_start: None,
            temporal_end: None,
            accrual_periodicity: "IRREG".into(),
            issued: "2026-01-01T00:00:00Z".into(),
            modified: "2026-01-02T00:00:00Z".into(),
            collections: vec![],
            imagery: vec![],
            feature_count: 0,
            extent_crs84: None,
        }
    }

    #[test]
    fn large_catalogs_are_paged_with_hydra() {
        let datasets: Vec<Dataset> = (0..250).map(|i| sample(&format!("d{i:03}"))).collect();
        let config = Config::default();
        let page2 = catalog_graph(
            "http://x",
            "ttl",
            &config,
            &datasets,
            2,
            Profile::V2,
            &|_| Vec::new(),
        )
        .turtle();
        assert_eq!(
            page2.matches("<http://www.w3.org/ns/dcat#dataset>").count(),
            PAGE_SIZE
        );
        assert!(
            page2.contains("<http://x/opendata/d100>")
                && !page2.contains("<http://x/opendata/d099>")
        );
        for (rel, n) in [("first", 1), ("previous", 1), ("next", 3), ("last", 3)] {
            let line = format!(
                "<http://www.w3.org/ns/hydra/core#{rel}> <http://x/opendata/catalog.ttl?page={n}>"
            );
            assert!(page2.contains(&line), "{rel}");
        }
        let page3 = catalog_graph(
            "http://x",
            "ttl",
            &config,
            &datasets,
            3,
            Profile::V2,
            &|_| Vec::new(),
        )
        .turtle();
        assert_eq!(
            page3.matches("<http://www.w3.org/ns/dcat#dataset>").count(),
            50
        );
        assert!(!page3.contains("hydra/core#next"));
        let single = catalog_graph(
            "http://x",
            "ttl",
            &config,
            &datasets[..3],
            1,
            Profile::V2,
            &|_| Vec::new(),
        )
        .turtle();
        assert!(!single.contains("hydra"));
    }
}
