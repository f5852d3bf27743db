//! `/`: what this instance serves, from the catalog — an HTML page for browsers, JSON for
//! programs. The OGC API landing page will take over the JSON form when `ogc-api` is filled.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use stadtkarte_core::catalog;
use stadtkarte_core::db::DbError;
use stadtkarte_core::negotiate::{Offer, negotiate};
use stadtkarte_core::problem::escape_html;
use stadtkarte_core::{AppState, Problem};

pub(crate) fn router(state: AppState) -> Router {
    Router::new().route("/", get(landing)).with_state(state)
}

#[derive(Debug, Deserialize)]
struct Params {
    f: Option<String>,
}

async fn landing(
    State(state): State<AppState>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let format = negotiate(params.f.as_deref(), &headers, &[Offer::JSON, Offer::HTML])?;
    let client = state.pool.get().await.map_err(DbError::from)?;
    let collections = catalog::list(&**client).await?;
    let base = &state.config.base_url();
    if format == Offer::HTML {
        let mut items = String::new();
        for c in &collections {
            let _ = write!(
                items,
                "<li><strong>{}</strong> <code>{}</code> – {} Objekte – {}</li>",
                escape_html(&c.title),
                escape_html(&c.id),
                c.feature_count.unwrap_or(0),
                escape_html(&c.license),
            );
        }
        if items.is_empty() {
            items.push_str("<li>Noch keine Daten geladen. <code>stadtkarte demo</code> lädt die Demo-Stadt.</li>");
        }
        return Ok(Html(format!(
            "<!doctype html>\n<html lang=\"de\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Stadtkarte Koblenz</title>\
             <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}}a{{color:#0b4f8a}}</style>\
             </head><body><main><h1>Stadtkarte Koblenz</h1>\
             <p>Web-GIS und Open-Data-Plattform. Diese Instanz kennt {} Sammlungen:</p><ul>{items}</ul>\
             <h2>Betrieb</h2><ul><li><a href=\"{base}/health\">/health</a></li>\
             <li><a href=\"{base}/ready\">/ready</a></li><li><a href=\"{base}/metrics\">/metrics</a></li></ul>\
             </main></body></html>\n",
            collections.len()
        ))
        .into_response());
    }
    let list: Vec<_> = collections
        .iter()
        .map(|c| {
            json!({
                "id": c.id, "title": c.title, "description": c.description,
                "featureCount": c.feature_count, "license": c.license,
                "attribution": c.attribution, "updated": c.updated_at,
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "title": "Stadtkarte Koblenz",
        "collections": list,
        "links": [
            {"rel": "self", "type": "application/json", "href": format!("{base}/?f=json")},
            {"rel": "alternate", "type": "text/html", "href": format!("{base}/?f=html")},
            {"rel": "health", "href": format!("{base}/health")},
            {"rel": "ready", "href": format!("{base}/ready")},
            {"rel": "metrics", "type": "text/plain", "href": format!("{base}/metrics")},
        ],
    }))
    .into_response())
}
