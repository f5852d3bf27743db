//! The files that came with a development plan (plan PDF, georeferenced scan and its world
//! file), served as they were imported: `/plans/{plan}/dokumente` lists them (JSON, or a page
//! for browsers), `/plans/{plan}/dokumente/{file}` returns one.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use stadtkarte_core::db::DbError;
use stadtkarte_core::i18n;
use stadtkarte_core::negotiate::{Offer, negotiate};
use stadtkarte_core::page::{self, PageContext};
use stadtkarte_core::{AppState, Problem};

use crate::api::FormatOnly;
use crate::html;

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/plans/{plan}", get(crate::plan::plan))
        .route("/plans/{plan}/dokumente", get(list))
        .route("/plans/{plan}/dokumente/{file}", get(document))
        .with_state(state)
}

async fn list(
    State(state): State<AppState>,
    Path(plan): Path<String>,
    Query(q): Query<FormatOnly>,
    cx: PageContext,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let format = negotiate(q.f.as_deref(), &headers, &[Offer::JSON, Offer::HTML])?;
    let client = state.read_db().await?;
    let exists = client
        .query_opt(
            "SELECT name FROM plans.bebauungsplaene WHERE id = $1",
            &[&plan],
        )
        .await
        .map_err(DbError::query("looking up a plan"))?;
    let Some(row) = exists else {
        return Err(Problem::not_found(format!("There is no plan {plan}.")));
    };
    let name: String = row.get(0);
    let rows = client
        .query(
            "SELECT datei, art, name, typ, media_type, length(inhalt), georef_datei
             FROM plans.dokumente WHERE plan_id = $1 ORDER BY art, datei",
            &[&plan],
        )
        .await
        .map_err(DbError::query("listing plan documents"))?;
    let base = stadtkarte_core::http::base_url(&state.config, &headers);
    if format == Offer::HTML {
        let documents = rows
            .iter()
            .map(|r| {
                let file: String = r.get(0);
                let bytes = i64::from(r.get::<_, i32>(5));
                html::PlanDocument {
                    href: format!("{base}/plans/{plan}/dokumente/{file}"),
                    georef: r
                        .get::<_, Option<String>>(6)
                        .map(|g| format!("{base}/plans/{plan}/dokumente/{g}")),
                    kind: r.get(1),
                    name: r.get::<_, Option<String>>(2).unwrap_or_default(),
                    media_type: r.get(4),
                    size: human_size(bytes, &cx),
                    bytes,
                    file,
                }
            })
            .collect();
        let title = i18n::fill(cx.lang, "plans.title", &[&name]);
        return page::html(&html::PlanDocuments {
            page: cx
                .page(&state.config, title)
                .crumb(cx.lang.tr("ogc.crumb_start"), "/")
                .crumb(cx.lang.tr("layout.nav_map"), "/map"),
            documents,
            json_href: format!("{base}/plans/{plan}/dokumente?f=json"),
        });
    }
    let documents: Vec<_> = rows
        .iter()
        .map(|r| {
            let file: String = r.get(0);
            let georef: Option<String> = r.get(6);
            json!({
                "datei": file,
                "art": r.get::<_, String>(1),
                "name": r.get::<_, Option<String>>(2),
                "typ": r.get::<_, Option<String>>(3),
                "type": r.get::<_, String>(4),
                "length": r.get::<_, i32>(5),
                "href": format!("{base}/plans/{plan}/dokumente/{file}"),
                "georef": georef.map(|g| format!("{base}/plans/{plan}/dokumente/{g}")),
            })
        })
        .collect();
    Ok(axum::Json(json!({"plan": plan, "name": name, "dokumente": documents})).into_response())
}

/// A size for people: "1,2 MB" in German, "1.2 MB" in English (decimal units).
pub(crate) fn human_size(bytes: i64, cx: &PageContext) -> String {
    // Documents are far below 2^53 bytes.
    #[allow(clippy::cast_precision_loss)]
    let value = bytes as f64;
    let decimal = |v: f64| match cx.lang {
        i18n::Lang::De => format!("{v:.1}").replace('.', ","),
        i18n::Lang::En => format!("{v:.1}"),
    };
    if bytes < 1000 {
        format!("{bytes} B")
    } else if bytes < 1_000_000 {
        format!("{} kB", decimal(value / 1e3))
    } else {
        format!("{} MB", decimal(value / 1e6))
    }
}

async fn document(
    State(state): State<AppState>,
    Path((plan, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let client = state.read_db().await?;
    // The world file of a scan is served under its own name, as GIS programs expect it
    // next to the image.
    let row = client
        .query_opt(
            "SELECT media_type, inhalt, md5(inhalt) FROM plans.dokumente WHERE plan_id = $1 AND datei = $2
             UNION ALL
             SELECT 'text/plain', georef, md5(georef) FROM plans.dokumente
              WHERE plan_id = $1 AND georef_datei = $2 AND georef IS NOT NULL
             LIMIT 1",
            &[&plan, &file],
        )
        .await
        .map_err(DbError::query("reading a plan document"))?;
    let Some(row) = row else {
        return Err(Problem::not_found(format!(
            "Plan {plan} has no document {file}."
        )));
    };
    let etag = format!("\"{}\"", row.get::<_, String>(2));
    let mut response = if stadtkarte_core::http::not_modified(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        row.get::<_, Vec<u8>>(1).into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(row.get(0)) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    let disposition = format!("inline; filename=\"{}\"", file.replace(['"', '\\'], "_"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
