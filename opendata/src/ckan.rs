//! The CKAN API subset at `/api/3/action/…` that CKAN clients (`ckanapi`) and harvesters read:
//! `status_show`, `package_list`, `package_show`, `package_search` (`q`, `fq` on tags, groups and
//! `res_format`, `rows` up to 1000, `start`, `sort`), `organization_list`, `group_list`. Parameters
//! come from the query string or, as `ckanapi` sends them, a JSON body. Answers use CKAN's
//! envelope, errors too. Resources are the downloads of [`crate::offers`] (with `size` once the
//! file is prepared, else `null`) and the APIs: OGC API Features per collection; TileJSON, XYZ,
//! WMTS and OGC API map tiles per imagery epoch.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use stadtkarte_core::AppState;
use stadtkarte_core::http::base_url;

use crate::formats;
use crate::offers::Offers;
use crate::registry::{self, Dataset};

/// How `package_search` sorts.
type Order = fn(&&Dataset, &&Dataset) -> std::cmp::Ordering;

/// Largest page of `package_search`.
pub const MAX_ROWS: usize = 1000;

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/3/action/{action}", get(action_get).post(action_post))
        // ckanapi and older harvesters call the unversioned path.
        .route("/api/action/{action}", get(action_get).post(action_post))
        .with_state(state)
}

fn envelope(base: &str, action: &str, result: &Value) -> Response {
    axum::Json(json!({"help": format!("{base}/api/3/action/help_show?name={action}"), "success": true, "result": result}))
        .into_response()
}

fn error(base: &str, action: &str, status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "help": format!("{base}/api/3/action/help_show?name={action}"),
            "success": false,
            "error": {"__type": kind, "message": message},
        })),
    )
        .into_response()
}

async fn action_get(
    State(state): State<AppState>,
    Path(action): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let params: Map<String, Value> = query
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    run(&state, &action, &params, &headers).await
}

async fn action_post(
    State(state): State<AppState>,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = if body.is_empty() {
        Map::new()
    } else {
        #[allow(clippy::single_match_else)]
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(m)) => m,
            _ => {
                let base = base_url(&state.config, &headers);
                return error(
                    &base,
                    &action,
                    StatusCode::BAD_REQUEST,
                    "Validation Error",
                    "the body must be a JSON object",
                );
            }
        }
    };
    run(&state, &action, &params, &headers).await
}

fn text(params: &Map<String, Value>, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

async fn run(
    state: &AppState,
    action: &str,
    params: &Map<String, Value>,
    headers: &HeaderMap,
) -> Response {
    let base = base_url(&state.config, headers);
    // CKAN's own error shape, with our own words: never a pool's or driver's text.
    let failed = |unavailable: bool| {
        let mut response = if unavailable {
            error(
                &base,
                action,
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                "the catalog is not available at the moment; please try again shortly",
            )
        } else {
            error(
                &base,
                action,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
                "the catalog could not be read; the fault has been logged",
            )
        };
        if unavailable {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(stadtkarte_core::problem::DEFAULT_RETRY_AFTER_SECS),
            );
        }
        response
    };
    let client = match state.read_db().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "CKAN API: database not available");
            return failed(true);
        }
    };
    let datasets = match registry::list(&**client).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "CKAN API: listing datasets failed");
            return failed(matches!(&e, registry::RegistryError::Db(db) if db.is_unavailable()));
        }
    };
    let offers = match Offers::load(state, &**client).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "CKAN API: reading the collections failed");
            return failed(e.is_unavailable());
        }
    };
    drop(client);
    let organization = json!({"name": slug(&state.config.city.attribution), "title": state.config.city.attribution, "type": "organization", "is_organization": true});
    match action {
        "help_show" => {
            let name = text(params, "name").unwrap_or_default();
            match ACTIONS.iter().find(|(a, _)| *a == name) {
                Some((_, help)) => envelope(&base, action, &json!(help)),
                None => error(
                    &base,
                    action,
                    StatusCode::NOT_FOUND,
                    "Not Found Error",
                    &format!(
                        "no help for {name:?}; actions: {}",
                        ACTIONS
                            .iter()
                            .map(|(a, _)| *a)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            }
        }
        "status_show" => envelope(
            &base,
            action,
            &json!({"site_title": format!("Stadtkarte {}", state.config.city.name), "site_url": base, "ckan_version": "2.10.0", "extensions": []}),
        ),
        "package_list" => envelope(
            &base,
            action,
            &json!(datasets.iter().map(|d| d.id.clone()).collect::<Vec<_>>()),
        ),
        "organization_list" => envelope(&base, action, &json!([organization["name"]])),
        "group_list" => {
            let mut themes: Vec<String> = datasets
                .iter()
                .flat_map(|d| d.themes.iter().map(|t| t.to_lowercase()))
                .collect();
            themes.sort();
            themes.dedup();
            envelope(&base, action, &json!(themes))
        }
        "package_show" => {
            let Some(id) = text(params, "id") else {
                return error(
                    &base,
                    action,
                    StatusCode::BAD_REQUEST,
                    "Validation Error",
                    "id: Missing value",
                );
            };
            match datasets.iter().find(|d| d.id == id) {
                Some(d) => envelope(&base, action, &package(&base, d, &offers, &organization)),
                None => error(
                    &base,
                    action,
                    StatusCode::NOT_FOUND,
                    "Not Found Error",
                    "Not found",
                ),
            }
        }
        "package_search" => search(&base, action, params, &datasets, &offers, &organization),
        _ => error(
            &base,
            action,
            StatusCode::BAD_REQUEST,
            "Validation Error",
            &format!(
                "unknown action {action:?}; this CKAN subset has {}",
                ACTIONS
                    .iter()
                    .map(|(a, _)| *a)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
}

/// The actions of this CKAN subset, with the text `help_show` gives for each.
const ACTIONS: &[(&str, &str)] = &[
    (
        "status_show",
        "Status of the site: title, address, CKAN version.",
    ),
    ("package_list", "The ids of every dataset."),
    (
        "package_show",
        "One dataset with its resources; parameter id (name or id).",
    ),
    (
        "package_search",
        "Datasets matching q (text) and fq (field:value), with rows, start and sort (e.g. metadata_modified desc).",
    ),
    ("organization_list", "The organisations (the city)."),
    ("group_list", "The groups (the EU data themes in use)."),
    ("help_show", "The help of an action; parameter name."),
];

fn slug(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// An API resource: a link to a service rather than a file.
#[derive(Debug, Clone)]
struct Api {
    /// End of the resource id.
    suffix: &'static str,
    /// CKAN `format`.
    format: &'static str,
    /// CKAN `mimetype`.
    media: &'static str,
    /// Path of the URL.
    path: String,
}

/// The APIs of a collection.
fn collection_apis(c: &str) -> Vec<Api> {
    vec![Api {
        suffix: "api",
        format: "OGC API Features",
        media: "application/geo+json",
        path: format!("/collections/{c}/items"),
    }]
}

/// The APIs of an imagery epoch (served by the tiles crate).
fn epoch_apis(e: &str) -> Vec<Api> {
    vec![
        Api {
            suffix: "tilejson",
            format: "TileJSON",
            media: "application/json",
            path: format!("/imagery/{e}"),
        },
        Api {
            suffix: "xyz",
            format: "XYZ",
            media: "image/webp",
            path: format!("/imagery/{e}/{{z}}/{{x}}/{{y}}"),
        },
        Api {
            suffix: "wmts",
            format: "WMTS",
            media: "application/xml",
            path: "/wmts/1.0.0/WMTSCapabilities.xml".to_owned(),
        },
        Api {
            suffix: "ogc-api-tiles",
            format: "OGC API Tiles",
            media: "image/webp",
            path: format!("/collections/{e}/map/tiles/WebMercatorQuad/{{z}}/{{row}}/{{col}}"),
        },
    ]
}

/// The resource formats of a dataset (for `fq=res_format:…`).
fn resource_formats(d: &Dataset) -> Vec<&'static str> {
    let mut out: Vec<&str> = formats::of_dataset(d).iter().map(|f| f.name).collect();
    if let Some(c) = d.collections.first() {
        out.extend(collection_apis(c).iter().map(|a| a.format));
    }
    if let Some(e) = d.imagery.first() {
        out.extend(epoch_apis(e).iter().map(|a| a.format));
    }
    out
}

fn resources(base: &str, d: &Dataset, offers: &Offers) -> Vec<Value> {
    let all = offers.of(d);
    let mut out = Vec::new();
    let sources = d
        .collections
        .iter()
        .map(|c| (c, collection_apis(c)))
        .chain(d.imagery.iter().map(|e| (e, epoch_apis(e))));
    let file = |offer: &crate::offers::Offer| {
        json!({
            "id": format!("{}-{}", d.id, offer.file.replace('.', "-")),
            "name": offer.title,
            "url": format!("{base}{}", offer.path(&d.id)),
            "format": offer.format.name,
            "mimetype": offer.format.media,
            "size": offer.bytes,
            "package_id": d.id,
            "last_modified": offer.modified,
        })
    };
    for (source, apis) in sources {
        for offer in all.iter().filter(|o| &o.source == source) {
            out.push(file(offer));
        }
        for api in apis {
            out.push(json!({
                "id": format!("{}-{source}-{}", d.id, api.suffix),
                "name": format!("{source} ({})", api.format),
                "url": format!("{base}{}", api.path),
                "format": api.format,
                "mimetype": api.media,
                "size": null,
                "package_id": d.id,
                "last_modified": d.modified,
            }));
        }
    }
    // The city map's tile archive, which holds this dataset's collections among others.
    out.extend(
        all.iter()
            .filter(|o| o.format == &formats::PMTILES)
            .map(file),
    );
    out
}

fn package(base: &str, d: &Dataset, offers: &Offers, organization: &Value) -> Value {
    let resources = resources(base, d, offers);
    let license_short = d
        .license
        .strip_prefix(registry::LICENSE_PREFIX)
        .unwrap_or(&d.license);
    json!({
        "id": d.id,
        "name": d.id,
        "title": d.title,
        "notes": d.description,
        "url": format!("{base}/opendata/{}", d.id),
        "license_id": license_short,
        "license_title": registry::license_name(&d.license),
        "license_url": d.license,
        "metadata_created": d.issued,
        "metadata_modified": d.modified,
        "maintainer": d.contact_name,
        "maintainer_email": d.contact_email,
        "author": d.publisher_name,
        "organization": organization,
        "owner_org": organization["name"],
        "state": "active",
        "type": "dataset",
        "private": false,
        "tags": d.keywords.iter().map(|k| json!({"name": k, "display_name": k})).collect::<Vec<_>>(),
        "groups": d.themes.iter().map(|t| json!({"name": t.to_lowercase(), "title": t})).collect::<Vec<_>>(),
        "num_resources": resources.len(),
        "resources": resources,
        "extras": [
            {"key": "contributorID", "value": d.contributor_id},
            {"key": "politicalGeocodingURI", "value": d.political_geocoding},
            {"key": "accrual_periodicity", "value": d.accrual_periodicity},
            {"key": "attribution", "value": d.attribution},
        ],
    })
}

/// One `field:value` term of `fq`.
fn matches_term(d: &Dataset, field: &str, value: &str) -> Option<bool> {
    let value = value.trim_matches('"');
    Some(match field {
        "tags" => d.keywords.iter().any(|k| k == value),
        "groups" => d.themes.iter().any(|t| t.eq_ignore_ascii_case(value)),
        "res_format" => resource_formats(d)
            .iter()
            .any(|f| f.eq_ignore_ascii_case(value)),
        "organization" | "owner_org" => true,
        _ => return None,
    })
}

fn search(
    base: &str,
    action: &str,
    params: &Map<String, Value>,
    datasets: &[Dataset],
    offers: &Offers,
    organization: &Value,
) -> Response {
    let rows = match text(params, "rows").map(|r| r.parse::<usize>()) {
        None => 10,
        Some(Ok(n)) => n.min(MAX_ROWS),
        Some(Err(_)) => {
            return error(
                base,
                action,
                StatusCode::BAD_REQUEST,
                "Validation Error",
                "rows: Invalid integer",
            );
        }
    };
    let start = match text(params, "start").map(|r| r.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return error(
                base,
                action,
                StatusCode::BAD_REQUEST,
                "Validation Error",
                "start: Invalid integer",
            );
        }
    };
    let q = text(params, "q").unwrap_or_default().to_lowercase();
    let mut terms = Vec::new();
    if let Some(fq) = text(params, "fq") {
        for part in fq.split_whitespace().filter(|p| *p != "AND" && *p != "+") {
            let part = part.trim_start_matches('+');
            let Some((field, value)) = part.split_once(':') else {
                return error(
                    base,
                    action,
                    StatusCode::BAD_REQUEST,
                    "Search Query Error",
                    &format!("fq: {part:?} is not field:value"),
                );
            };
            if value.is_empty()
                || !["tags", "groups", "res_format", "organization", "owner_org"].contains(&field)
            {
                return error(
                    base,
                    action,
                    StatusCode::BAD_REQUEST,
                    "Search Query Error",
                    &format!(
                        "fq: field {field:?} cannot be searched; use tags, groups, res_format or organization"
                    ),
                );
            }
            terms.push((field.to_owned(), value.to_owned()));
        }
    }
    let mut found: Vec<&Dataset> = datasets
        .iter()
        .filter(|d| {
            q.is_empty()
                || q == "*:*"
                || d.title.to_lowercase().contains(&q)
                || d.description.to_lowercase().contains(&q)
                || d.keywords.iter().any(|k| k.to_lowercase().contains(&q))
        })
        .filter(|d| {
            terms
                .iter()
                .all(|(f, v)| matches_term(d, f, v).unwrap_or(false))
        })
        .collect();
    let order: Order = match text(params, "sort").as_deref().map(str::trim) {
        None | Some("" | "score desc, metadata_modified desc" | "name asc") => {
            |a, b| a.id.cmp(&b.id)
        }
        Some("metadata_modified desc") => |a, b| b.modified.cmp(&a.modified).then(a.id.cmp(&b.id)),
        Some("metadata_modified asc") => |a, b| a.modified.cmp(&b.modified).then(a.id.cmp(&b.id)),
        Some("title_string asc") => |a, b| a.title.cmp(&b.title).then(a.id.cmp(&b.id)),
        Some("title_string desc") => |a, b| b.title.cmp(&a.title).then(a.id.cmp(&b.id)),
        Some("name desc") => |a, b| b.id.cmp(&a.id),
        Some(other) => {
            return error(
                base,
                action,
                StatusCode::BAD_REQUEST,
                "Validation Error",
                &format!(
                    "sort: {other:?} is not supported; use name, title_string or metadata_modified with asc or desc"
                ),
            );
        }
    };
    found.sort_by(order);
    let count = found.len();
    let page: Vec<Value> = found
        .into_iter()
        .skip(start)
        .take(rows)
        .map(|d| package(base, d, offers, organization))
        .collect();
    envelope(
        base,
        action,
        &json!({"count": count, "results": page, "sort": text(params, "sort"), "facets": {}, "search_facets": {}}),
    )
}
