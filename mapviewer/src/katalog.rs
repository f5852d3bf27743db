//! `GET /map/katalog.json`: everything the map needs before its first tile, in one document —
//! the tiled collections it shows (title, attribution, licence, zoom range, bounds and the XYZ
//! tile template) and the aerial-image epochs (tile templates of the epoch and of each part of
//! different resolution, zoom ranges, footprint). With it the app builds a style whose sources
//! carry their `tiles` inline, so MapLibre fetches no TileJSON before the first tile.
//!
//! Read from the catalogs in `core` (`catalog.collections`, `catalog.imagery`); the addresses
//! are the public ones of the tile server (`/tiles/{id}/{z}/{x}/{y}`,
//! `/imagery/{id}/{z}/{x}/{y}?teil={part}`), the same its TileJSON documents name. Briefly
//! cached, and served from the last good read while the database is away.

use std::path::Path;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use stadtkarte_core::catalog::{self, Collection};
use stadtkarte_core::http::{base_url, not_modified};
use stadtkarte_core::imagery::{self, EpochRow};
use stadtkarte_core::stale::StaleCache;
use stadtkarte_core::{AppState, Problem};

/// How long browsers and proxies may reuse the document: a publish switch or a new epoch shows
/// on the map within this time.
const MAX_AGE: &str = "public, max-age=60";

/// The state of the route: the shared state and the built documents by base URL.
#[derive(Debug, Clone)]
pub struct KatalogState {
    app: AppState,
    built: StaleCache<Built>,
}

/// A document as sent, with its entity tag.
#[derive(Debug, Clone)]
struct Built {
    body: axum::body::Bytes,
    etag: String,
}

impl KatalogState {
    /// The route's state over `app`.
    #[must_use]
    pub fn new(app: AppState) -> Self {
        Self {
            app,
            built: StaleCache::new(16, Duration::from_secs(3)),
        }
    }
}

/// A collection as the map shows it.
fn collection_json(base: &str, c: &Collection) -> Value {
    json!({
        "id": c.id,
        "title": c.title,
        "attribution": c.attribution,
        "license": c.license,
        "license_url": c.license_url,
        "geometry_type": c.geometry_type,
        "minzoom": c.min_zoom,
        "maxzoom": c.max_zoom,
        "bounds": c.extent_crs84,
        "tiles": [format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}", c.id)],
    })
}

/// The parts of an epoch (0 = coarsest) with their zoom ranges, from its level files.
fn parts(e: &EpochRow) -> Vec<(u32, u8, u8)> {
    let mut parts: Vec<(u32, u8, u8)> = Vec::new();
    for level in &e.levels {
        match parts.iter_mut().find(|p| p.0 == level.part) {
            Some(p) => {
                p.1 = p.1.min(level.zoom);
                p.2 = p.2.max(level.zoom);
            }
            None => parts.push((level.part, level.zoom, level.zoom)),
        }
    }
    parts.sort_unstable();
    parts
}

/// An epoch as the map shows it: what its TileJSON (`/imagery/{id}`) says, without the fetch.
fn epoch_json(base: &str, e: &EpochRow) -> Value {
    let tiles = format!("{base}/imagery/{}/{{z}}/{{x}}/{{y}}", e.id);
    json!({
        "id": e.id,
        "title": e.title,
        "year": e.year,
        "grayscale": e.grayscale,
        "attribution": e.attribution,
        "license": e.license,
        "bbox": e.bbox,
        "minzoom": e.min_zoom,
        "maxzoom": e.max_zoom,
        "tiles": [tiles],
        "parts": parts(e).iter().map(|(part, lo, hi)| json!({
            "part": part, "minzoom": lo, "maxzoom": hi, "tiles": [format!("{tiles}?teil={part}")],
        })).collect::<Vec<_>>(),
    })
}

/// Whether every level file of an epoch is there (the tile server leaves an epoch with missing
/// files out of its lists; the map does too).
async fn files_present(dir: &Path, e: &EpochRow) -> bool {
    for level in &e.levels {
        if !tokio::fs::try_exists(dir.join(&level.file))
            .await
            .unwrap_or(false)
        {
            return false;
        }
    }
    true
}

/// The document, built from the catalogs.
async fn build(app: &AppState, base: &str) -> Result<Built, Problem> {
    let client = app.read_db().await?;
    let collections = catalog::list(&**client).await?;
    let epochs = imagery::list(&**client).await?;
    drop(client);
    let dir = Path::new(&app.config.imagery.dir);
    let mut shown = Vec::with_capacity(epochs.len());
    for e in &epochs {
        if files_present(dir, e).await {
            shown.push(epoch_json(base, e));
        } else {
            tracing::error!(epoch = %e.id, "imagery epoch has missing files, left out of the map's catalog");
        }
    }
    let document = json!({
        "collections": collections
            .iter()
            .filter(|c| c.publish_features && c.publish_tiles)
            .map(|c| collection_json(base, c))
            .collect::<Vec<_>>(),
        "epochs": shown,
        // The municipality's name: the default title of a printed map.
        "city": app.config.city.name,
        "links": [
            {"rel": "self", "type": "application/json", "href": format!("{base}/map/katalog.json")},
            {"rel": "data", "type": "application/json", "href": format!("{base}/collections?f=json")},
            {"rel": "related", "type": "application/json", "title": "Luftbilder", "href": format!("{base}/imagery")},
        ],
    });
    let body = document.to_string();
    let etag = format!("\"k-{:016x}\"", fnv1a(body.as_bytes()));
    Ok(Built {
        body: axum::body::Bytes::from(body),
        etag,
    })
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `GET /map/katalog.json`
pub async fn katalog(
    State(state): State<KatalogState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let base = base_url(&state.app.config, &headers);
    let built = state
        .built
        .get(&base, build(&state.app, &base))
        .await?
        .value;
    let mut response = if not_modified(&headers, &built.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(axum::body::Body::from(built.body));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    if let Ok(v) = HeaderValue::from_str(&built.etag) {
        h.insert(header::ETAG, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stadtkarte_core::imagery::LevelRow;

    #[test]
    fn parts_span_their_levels() {
        let level = |zoom, part| LevelRow {
            zoom,
            part,
            file: String::new(),
            tiles: 0,
            bytes: 0,
        };
        let e = EpochRow {
            id: "luftbild-2023".into(),
            title: String::new(),
            description: String::new(),
            year: 2023,
            source: String::new(),
            license: String::new(),
            attribution: String::new(),
            grayscale: false,
            resolution_m: 0.2,
            bbox: [0.0; 4],
            min_zoom: 10,
            max_zoom: 19,
            version: String::new(),
            updated: String::new(),
            levels: vec![level(19, 1), level(10, 0), level(14, 0), level(15, 1)],
            storage_bytes: 0,
            source_bytes: 0,
        };
        assert_eq!(parts(&e), vec![(0, 10, 14), (1, 15, 19)]);
        let j = epoch_json("http://x", &e);
        assert_eq!(
            j["parts"][1]["tiles"][0],
            "http://x/imagery/luftbild-2023/{z}/{x}/{y}?teil=1"
        );
    }
}
