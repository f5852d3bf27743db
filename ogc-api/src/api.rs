//! OGC API Common: the landing page, `/conformance`, `/api` (OpenAPI 3.0), `/collections`,
//! `/collections/{id}` and `/collections/{id}/queryables`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use stadtkarte_core::catalog::{self, Collection};
use stadtkarte_core::http::base_url;
use stadtkarte_core::i18n;
use stadtkarte_core::negotiate::{Offer, negotiate};
use stadtkarte_core::page::{self, PageContext};
use stadtkarte_core::{AppState, Problem};

use crate::features::collection;
use crate::html::{self, Link};
use crate::start;
use stadtkarte_core::crs;
use stadtkarte_core::schema::{CollectionSchema, PropType, load};

/// The OpenAPI media type.
pub const OPENAPI_JSON: &str = "application/vnd.oai.openapi+json;version=3.0";
const OPENAPI: Offer = Offer {
    key: "json",
    media_type: OPENAPI_JSON,
};
const SCHEMA_JSON: Offer = Offer {
    key: "json",
    media_type: "application/schema+json",
};

/// The conformance classes this server fully implements (and tests).
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
];

/// Conformance classes of other crates, declared here too.
#[derive(Debug, Clone, Copy)]
pub struct MoreConformance(pub &'static [&'static str]);

/// The OpenAPI paths of the other crates (tiles, imagery, open data), merged into `/api`.
#[derive(Debug, Clone)]
pub struct MorePaths(pub std::sync::Arc<serde_json::Map<String, Value>>);

#[derive(Debug, Deserialize)]
pub(crate) struct FormatOnly {
    pub(crate) f: Option<String>,
}

fn json_response(media: &'static str, value: &Value) -> Response {
    ([(header::CONTENT_TYPE, media)], value.to_string()).into_response()
}

/// "12 Objekte": the amount of a collection, in words of the page's language.
fn page_amount(cx: &PageContext, count: Option<i64>) -> String {
    i18n::fill(cx.lang, "ogc.features_count", &[&count.unwrap_or(0)])
}

async fn published(state: &AppState) -> Result<Vec<Collection>, Problem> {
    let client = state.read_db().await?;
    Ok(catalog::list(&**client)
        .await?
        .into_iter()
        .filter(|c| c.publish_features)
        .collect())
}

/// `GET /`: the landing page of the OGC API as JSON; for a browser (or with `f=html`) the start
/// page for people ([`crate::start`]), which leads to the landing page as HTML at
/// `/entwickler`.
pub async fn landing(
    State(state): State<AppState>,
    axum::Extension(preview): axum::Extension<start::Preview>,
    Query(q): Query<FormatOnly>,
    cx: PageContext,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let format = negotiate(q.f.as_deref(), &headers, &[Offer::JSON, Offer::HTML])?;
    if format == Offer::HTML {
        return start::page(&state, &cx, &preview).await;
    }
    let base = base_url(&state.config, &headers);
    let city = &state.config.city.name;
    let links = [
        (
            "Diese Seite (JSON)",
            format!("{base}/?f=json"),
            "application/json",
            "self",
        ),
        (
            "Diese Seite (HTML)",
            format!("{base}/entwickler"),
            "text/html",
            "alternate",
        ),
        (
            "API-Beschreibung (OpenAPI 3.0)",
            format!("{base}/api"),
            OPENAPI_JSON,
            "service-desc",
        ),
        (
            "API-Dokumentation",
            format!("{base}/api?f=html"),
            "text/html",
            "service-doc",
        ),
        (
            "Konformitätsklassen",
            format!("{base}/conformance"),
            "application/json",
            "conformance",
        ),
        (
            "Datensammlungen",
            format!("{base}/collections"),
            "application/json",
            "data",
        ),
        ("Karte", format!("{base}/map"), "text/html", "related"),
        (
            "Offene Daten (Downloads, Katalog)",
            format!("{base}/opendata"),
            "text/html",
            "related",
        ),
        (
            "Luftbilder (WMTS)",
            format!("{base}/wmts/1.0.0/WMTSCapabilities.xml"),
            "application/xml",
            "related",
        ),
    ];
    let links: Vec<Value> = links
        .iter()
        .map(|(title, href, media, rel)| json!({"rel": rel, "type": media, "title": title, "href": href}))
        .collect();
    Ok(json_response(
        "application/json",
        &json!({
            "title": format!("Stadtkarte {city}"),
            "description": format!("Web-GIS und Open-Data-Plattform der Stadt {city}: OGC API Features und Tiles."),
            "links": links,
        }),
    ))
}

/// `GET /entwickler`: the landing page of the OGC API as HTML, for developers: the collections,
/// the links of the JSON landing page with their media types, the operational endpoints.
pub async fn developers(
    State(state): State<AppState>,
    cx: PageContext,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let base = base_url(&state.config, &headers);
    let collections = published(&state)
        .await?
        .into_iter()
        .map(|c| html::LandingCollection {
            amount: page_amount(&cx, c.feature_count),
            id: c.id,
            title: c.title,
        })
        .collect();
    let t = |key| cx.lang.tr(key);
    let links = vec![
        Link::new(
            t("landing.link_json"),
            format!("{base}/?f=json"),
            "application/json",
        ),
        Link::new(
            t("landing.link_openapi"),
            format!("{base}/api"),
            OPENAPI_JSON,
        ),
        Link::new(
            t("landing.link_api_docs"),
            format!("{base}/api?f=html"),
            "text/html",
        ),
        Link::new(
            t("landing.link_conformance"),
            format!("{base}/conformance"),
            "application/json",
        ),
        Link::new(
            t("landing.link_collections"),
            format!("{base}/collections"),
            "application/json",
        ),
        Link::new(t("landing.link_map"), format!("{base}/map"), "text/html"),
        Link::new(
            t("landing.link_opendata"),
            format!("{base}/opendata"),
            "text/html",
        ),
        Link::new(
            t("landing.link_wmts"),
            format!("{base}/wmts/1.0.0/WMTSCapabilities.xml"),
            "application/xml",
        ),
    ];
    page::html(&html::Landing {
        page: cx
            .page(&state.config, t("landing.developers"))
            .crumb(t("ogc.crumb_start"), "/"),
        base,
        city: state.config.city.name.clone(),
        collections,
        links,
    })
}

/// `GET /conformance`
pub async fn conformance(
    State(state): State<AppState>,
    axum::Extension(more): axum::Extension<MoreConformance>,
    Query(q): Query<FormatOnly>,
    cx: PageContext,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let classes: Vec<&str> = CONFORMANCE.iter().chain(more.0).copied().collect();
    let format = negotiate(q.f.as_deref(), &headers, &[Offer::JSON, Offer::HTML])?;
    if format == Offer::HTML {
        let title = cx.lang.tr("ogc.conformance.title");
        return page::html(&html::Conformance {
            page: html::api_page(&cx, &state.config, title),
            classes,
        });
    }
    let base = base_url(&state.config, &headers);
    Ok(json_response(
        "application/json",
        &json!({
            "conformsTo": classes,
            "links": [
                {"rel": "self", "type": "application/json", "href": format!("{base}/conformance?f=json")},
                {"rel": "alternate", "type": "text/html", "href": format!("{base}/conformance?f=html")},
            ],
        }),
    ))
}

fn collection_json(base: &str, c: &Collection) -> Value {
    let href = format!("{base}/collections/{}", c.id);
    let mut links = vec![
        json!({"rel": "self", "type": "application/json", "title": "Diese Sammlung (JSON)", "href": format!("{href}?f=json")}),
        json!({"rel": "alternate", "type": "text/html", "title": "Diese Sammlung (HTML)", "href": format!("{href}?f=html")}),
        json!({"rel": "items", "type": "application/geo+json", "title": "Objekte als GeoJSON", "href": format!("{href}/items?f=json")}),
        json!({"rel": "items", "type": "text/html", "title": "Objekte als HTML", "href": format!("{href}/items?f=html")}),
        json!({"rel": "items", "type": "text/csv", "title": "Objekte als CSV", "href": format!("{href}/items?f=csv")}),
        json!({"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json",
               "title": "Abfragbare Eigenschaften", "href": format!("{href}/queryables")}),
    ];
    if let Some(url) = &c.license_url {
        links.push(json!({"rel": "license", "type": "text/html", "title": c.license, "href": url}));
    }
    if c.publish_tiles {
        links.push(json!({"rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "type": "application/json",
                          "title": "Vektorkacheln", "href": format!("{href}/tiles")}));
    }
    let mut extent = json!({});
    if let Some(bbox) = c.extent_crs84 {
        extent["spatial"] = json!({"bbox": [bbox], "crs": crs::CRS84.uri});
    }
    if let Some([start, end]) = &c.temporal_extent {
        extent["temporal"] = json!({"interval": [[start, end]], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"});
    }
    json!({
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "keywords": c.keywords,
        "attribution": c.attribution,
        "license": c.license,
        "itemType": "feature",
        "extent": extent,
        "crs": crs::uris(),
        "storageCrs": crs::uri_of_srid(c.storage_srid),
        "links": links,
    })
}

/// `GET /collections`
pub async fn collections(
    State(state): State<AppState>,
    Query(q): Query<FormatOnly>,
    cx: PageContext,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let format = negotiate(q.f.as_deref(), &headers, &[Offer::JSON, Offer::HTML])?;
    let base = base_url(&state.config, &headers);
    let list = published(&state).await?;
    let imagery = {
        let client = state.read_db().await?;
        stadtkarte_core::imagery::collections(
            &stadtkarte_core::imagery::list(&**client).await?,
            &base,
        )
    };
    if format == Offer::HTML {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let rows = imagery
            .iter()
            .map(|c| html::CollectionRow {
                id: text(&c["id"]),
                title: text(&c["title"]),
                description: text(&c["description"]),
                amount: cx.lang.tr("ogc.collections.imagery").to_owned(),
                license: text(&c["attribution"]),
            })
            .chain(list.iter().map(|c| html::CollectionRow {
                id: c.id.clone(),
                title: c.title.clone(),
                description: c.description.clone(),
                amount: c.feature_count.unwrap_or(0).to_string(),
                license: c.license.clone(),
            }))
            .collect();
        let title = cx.lang.tr("ogc.collections.title");
        return page::html(&html::Collections {
            page: html::api_page(&cx, &state.config, title),
            base,
            rows,
        });
    }
    let collections: Vec<Value> = list
        .iter()
        .map(|c| collection_json(&base, c))
        .chain(imagery)
        .collect();
    Ok(json_response(
        "application/json",
        &json!({
            "links": [
                {"rel": "self", "type": "application/json", "href": format!("{base}/collections?f=json")},
                {"rel": "alternate", "type": "text/html", "href": format!("{base}/collections?f=html")},
            ],
            "crs": crs::uris(),
            "collections": collections,
        }),
    ))
}

/// An imagery epoch (or the series) as a collection page.
fn imagery_page(
    state: &AppState,
    cx: &PageContext,
    format: Offer,
    value: &Value,
) -> Result<Response, Problem> {
    if format != Offer::HTML {
        return Ok(json_response("application/json", value));
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let epochs = value["epochs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| html::Epoch {
            href: text(&e["href"]),
            title: text(&e["title"]),
            year: e["year"].to_string(),
        })
        .collect();
    let links = value["links"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| Link::new(text(&l["rel"]), text(&l["href"]), text(&l["type"])))
        .collect();
    let t = |key| cx.lang.tr(key);
    page::html(&html::ImageryCollection {
        page: html::api_page(cx, &state.config, text(&value["title"]))
            .crumb(t("ogc.crumb_collections"), "/collections"),
        description: text(&value["description"]),
        attribution: text(&value["attribution"]),
        epochs,
        links,
    })
}

/// `GET /collections/{id}`
pub async fn collection_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<FormatOnly>,
    cx: PageContext,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let format = negotiate(q.f.as_deref(), &headers, &[Offer::JSON, Offer::HTML])?;
    let base = base_url(&state.config, &headers);
    let schema = match collection(&state, &id).await {
        Ok(s) => s,
        Err(p) if p.status == axum::http::StatusCode::NOT_FOUND => {
            let client = state.read_db().await?;
            let epochs = stadtkarte_core::imagery::list(&**client).await?;
            let Some(value) = stadtkarte_core::imagery::collection_json(&epochs, &id, &base) else {
                return Err(p);
            };
            return imagery_page(&state, &cx, format, &value);
        }
        Err(p) => return Err(p),
    };
    let c = &schema.collection;
    if format == Offer::HTML {
        let href = format!("{base}/collections/{}", c.id);
        let t = |key| cx.lang.tr(key);
        let links = vec![
            Link::new(
                t("ogc.collection.items_html"),
                format!("{href}/items?f=html"),
                "text/html",
            ),
            Link::new(
                t("ogc.collection.items_geojson"),
                format!("{href}/items?f=json"),
                "application/geo+json",
            ),
            Link::new(
                t("ogc.collection.items_csv"),
                format!("{href}/items?f=csv"),
                "text/csv",
            ),
            Link::new(
                t("ogc.collection.queryables"),
                format!("{href}/queryables?f=html"),
                "text/html",
            ),
        ];
        let extent = c
            .extent_crs84
            .map(|b| format!("{:.5}, {:.5} – {:.5}, {:.5}", b[0], b[1], b[2], b[3]));
        return page::html(&html::Collection {
            page: html::api_page(&cx, &state.config, c.title.clone())
                .crumb(t("ogc.crumb_collections"), "/collections"),
            description: c.description.clone(),
            features: c.feature_count.unwrap_or(0),
            updated: c.updated_at.clone(),
            license: c.license.clone(),
            attribution: c.attribution.clone(),
            extent,
            links,
        });
    }
    Ok(json_response(
        "application/json",
        &collection_json(&base, c),
    ))
}

fn queryable_schema(kind: PropType) -> Value {
    match kind {
        PropType::String => json!({"type": "string"}),
        PropType::Integer => json!({"type": "integer"}),
        PropType::Number => json!({"type": "number"}),
        PropType::Boolean => json!({"type": "boolean"}),
        PropType::Date => json!({"type": "string", "format": "date"}),
        PropType::DateTime => json!({"type": "string", "format": "date-time"}),
        PropType::Geometry => json!({"format": "geometry-any"}),
        PropType::Other => json!({}),
    }
}

/// Name, type and title (the source's own column name) of every queryable.
fn queryables_of(schema: &CollectionSchema) -> Vec<(String, PropType, String)> {
    let mut list = vec![
        (
            "geometry".to_owned(),
            PropType::Geometry,
            "Geometrie".to_owned(),
        ),
        (
            schema.collection.id_column.clone(),
            schema.id_kind,
            schema.collection.id_column.clone(),
        ),
    ];
    list.extend(
        schema
            .properties
            .iter()
            .filter(|p| p.kind != PropType::Other)
            .map(|p| (p.name.clone(), p.kind, p.label().to_owned())),
    );
    list
}

/// The name of a type for people.
fn type_name(cx: &PageContext, kind: PropType) -> &'static str {
    let t = |key| i18n::tr(cx.lang, key);
    match kind {
        PropType::String => t("ogc.queryables.type_string"),
        PropType::Integer => t("ogc.queryables.type_integer"),
        PropType::Number => t("ogc.queryables.type_number"),
        PropType::Boolean => t("ogc.queryables.type_boolean"),
        PropType::Date => t("ogc.queryables.type_date"),
        PropType::DateTime => t("ogc.queryables.type_datetime"),
        PropType::Geometry => t("ogc.queryables.type_geometry"),
        PropType::Other => t("ogc.queryables.type_other"),
    }
}

/// `GET /collections/{id}/queryables`
pub async fn queryables(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<FormatOnly>,
    cx: PageContext,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let format = negotiate(q.f.as_deref(), &headers, &[SCHEMA_JSON, Offer::HTML])?;
    let schema = collection(&state, &id).await?;
    let base = base_url(&state.config, &headers);
    let list = queryables_of(&schema);
    if format == Offer::HTML {
        let t = |key| cx.lang.tr(key);
        let rows = list
            .iter()
            .map(|(name, kind, title)| html::Queryable {
                name: name.clone(),
                title: title.clone(),
                kind: type_name(&cx, *kind).to_owned(),
            })
            .collect();
        let collection_title = &schema.collection.title;
        return page::html(&html::Queryables {
            page: html::api_page(
                &cx,
                &state.config,
                i18n::fill(cx.lang, "ogc.queryables.page_title", &[collection_title]),
            )
            .crumb(t("ogc.crumb_collections"), "/collections")
            .crumb(collection_title, format!("{base}/collections/{id}")),
            rows,
            json_href: format!("{base}/collections/{id}/queryables?f=json"),
        });
    }
    let mut properties = serde_json::Map::new();
    let temporal = schema.collection.temporal_column.clone();
    for (name, kind, title) in list {
        let mut s = queryable_schema(kind);
        s["title"] = json!(title);
        if kind == PropType::Geometry {
            s["x-ogc-role"] = json!("primary-geometry");
        } else if name == schema.collection.id_column {
            s["x-ogc-role"] = json!("id");
        } else if Some(&name) == temporal.as_ref() {
            s["x-ogc-role"] = json!("primary-instant");
        }
        properties.insert(name, s);
    }
    Ok(json_response(
        "application/schema+json",
        &json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": format!("{base}/collections/{id}/queryables"),
            "type": "object",
            "title": schema.collection.title,
            "properties": properties,
            "additionalProperties": false,
        }),
    ))
}

/// `GET /api`: the OpenAPI 3.0 document (JSON) or its HTML rendering.
pub async fn openapi(
    State(state): State<AppState>,
    axum::Extension(more): axum::Extension<MorePaths>,
    Query(q): Query<FormatOnly>,
    cx: PageContext,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let format = negotiate(
        q.f.as_deref(),
        &headers,
        &[OPENAPI, Offer::JSON, Offer::HTML],
    )?;
    let client = state.read_db().await?;
    let mut schemas = Vec::new();
    for c in catalog::list(&**client).await? {
        if let Some(s) = load(&**client, &c.id).await? {
            schemas.push(s);
        }
    }
    drop(client);
    let doc = crate::openapi::document(
        &state.config,
        &base_url(&state.config, &headers),
        &schemas,
        &more.0,
    );
    if format == Offer::HTML {
        return crate::openapi::html(&state.config, &cx, &doc);
    }
    Ok(json_response(OPENAPI_JSON, &doc))
}
