//! HTTP: XYZ tiles and TileJSON for MapLibre, OGC API Tiles (tile matrix sets, tileset lists,
//! tileset metadata, tiles of one collection and of several), with ETag, 304, Cache-Control,
//! gzip for clients that accept it, and 204 for empty tiles.

use std::io::{Read as _, Write as _};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use stadtkarte_core::db::DbError;
use stadtkarte_core::http::base_url;
use stadtkarte_core::negotiate::{Offer, negotiate};
use stadtkarte_core::schema::{self, CollectionSchema, PropType};
use stadtkarte_core::{AppState, Problem, cql2};

use crate::cache::{Tile, TileCache, TileKey};
use crate::render::{Layer, tile_sql};
use crate::tms::{self, TileMatrixSet, WEB_MERCATOR_QUAD};
use stadtkarte_core::load::Work;

/// Mapbox vector tiles.
pub const MVT: Offer = Offer {
    key: "mvt",
    media_type: "application/vnd.mapbox-vector-tile",
};

/// State of the tile routes.
#[derive(Clone, Debug)]
pub struct TileState {
    /// The shared state.
    pub app: AppState,
    /// The tile cache.
    pub cache: TileCache,
    /// Collections and their columns, briefly cached; evicted when a collection changes.
    pub schemas: SchemaCache,
}

/// Collections by id.
pub type SchemaCache = stadtkarte_core::stale::StaleCache<Arc<CollectionSchema>>;

fn json(value: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn parse_number(text: &str, what: &str) -> Result<u32, Problem> {
    crate::tms::coordinate(text, what, &["pbf", "mvt"])
}

/// The collections of a layer list, from the schema cache (a cached tile then needs no
/// database round trip at all) or the database; `true` when a schema could not be confirmed
/// because the database is away (the last good one is used, so cached tiles keep coming).
async fn load_layers(
    state: &TileState,
    ids: &str,
) -> Result<(Vec<Arc<CollectionSchema>>, bool), Problem> {
    let mut layers: Vec<Arc<CollectionSchema>> = Vec::new();
    let mut unconfirmed = false;
    for id in ids.split(',').map(str::trim) {
        if layers.iter().any(|l| l.collection.id == id) {
            return Err(Problem::bad_request(format!(
                "collection {id:?} is named twice"
            )));
        }
        let app = state.app.clone();
        let cached = state
            .schemas
            .get(id, async move {
                let client = app.read_db().await?;
                let loaded = schema::load(&**client, id)
                    .await?
                    .filter(|s| s.collection.publish_tiles)
                    .ok_or_else(|| {
                        Problem::not_found(format!("There is no tiled collection {id:?}."))
                    })?;
                Ok(Arc::new(loaded))
            })
            .await?;
        unconfirmed |= cached.stale;
        layers.push(cached.value);
    }
    Ok((layers, unconfirmed))
}

fn check_query(query: &[(String, String)]) -> Result<Option<String>, Problem> {
    let mut filter = None;
    for (k, v) in query {
        match k.as_str() {
            "f" => {}
            "filter" => filter = Some(v.clone()),
            "filter-lang" if v == "cql2-text" => {}
            other => {
                return Err(Problem::bad_request(format!(
                    "unknown query parameter {other:?}; tiles take f and filter (CQL2 text)"
                )));
            }
        }
    }
    Ok(filter)
}

/// Renders or serves one tile.
async fn serve_tile(
    state: &TileState,
    ids: &str,
    tms: TileMatrixSet,
    (z, x, y): (&str, &str, &str),
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    let f = query
        .iter()
        .find(|(k, _)| k == "f")
        .map(|(_, v)| v.as_str());
    negotiate(f, headers, &[MVT])?;
    let filter_text = check_query(query)?;
    let z = parse_number(z, "zoom")?;
    let (x, y) = (parse_number(x, "column")?, parse_number(y, "row")?);
    let z = u8::try_from(z)
        .ok()
        .filter(|z| *z <= tms.max_zoom)
        .ok_or_else(|| {
            Problem::not_found(format!(
                "zoom {z} is beyond this tile matrix set (0–{})",
                tms.max_zoom
            ))
        })?;
    let n = TileMatrixSet::matrix_size(z);
    if x >= n || y >= n {
        return Err(Problem::not_found(format!(
            "tile {x}/{y} lies outside the {n}×{n} matrix of zoom {z}"
        )));
    }
    let (layers, unconfirmed) = load_layers(state, ids).await?;
    let in_range: Vec<&CollectionSchema> = layers
        .iter()
        .map(|l| &**l)
        .filter(|l| i16::from(z) >= l.collection.min_zoom && i16::from(z) <= l.collection.max_zoom)
        .collect();
    if in_range.is_empty() {
        let ranges: Vec<String> = layers
            .iter()
            .map(|l| {
                format!(
                    "{} {}–{}",
                    l.collection.id, l.collection.min_zoom, l.collection.max_zoom
                )
            })
            .collect();
        return Err(Problem::not_found(format!(
            "zoom {z} is outside the zoom range ({})",
            ranges.join(", ")
        )));
    }
    let filter = filter_text
        .as_deref()
        .map(|t| cql2::parse_text(t).map_err(|e| Problem::bad_request(format!("filter: {e}"))))
        .transpose()?;
    if let Some(expr) = &filter {
        for l in &in_range {
            let mut scratch = stadtkarte_core::query::Sql::default();
            cql2::translate(expr, l, stadtkarte_core::crs::CRS84, &mut scratch)
                .map_err(|e| Problem::bad_request(format!("filter on {}: {e}", l.collection.id)))?;
        }
    }
    let key = TileKey {
        layers: layers
            .iter()
            .map(|l| l.collection.id.clone())
            .collect::<Vec<_>>()
            .into(),
        tms: tms.id,
        z,
        x,
        y,
        filter: filter_text.map(Arc::from),
    };
    let render_layers: Vec<Layer<'_>> = in_range
        .iter()
        .map(|s| Layer {
            schema: s,
            filter: filter.as_ref(),
        })
        .collect();
    let app = state.app.clone();
    let tile = state
        .cache
        .get_or_render(
            key,
            render(&app, state.cache.fence(), tms, (z, x, y), &render_layers),
        )
        .await
        .map_err(|e| e.as_ref().clone())?;
    let mut response = respond(&tile, headers, state.app.config.tiles.max_age_secs);
    if unconfirmed {
        // RFC 9111 (obsoleted warn-code, still shown by tools): served without revalidation.
        response.headers_mut().insert(
            header::WARNING,
            HeaderValue::from_static("111 - \"Revalidation Failed\""),
        );
    }
    Ok(response)
}

/// Renders one tile (one database statement, behind a `TileRender` slot); an empty tile has
/// `raw_len` 0. It reads from a replica that has replayed the primary's WAL up to `fence`
/// (0: any healthy one), else from the primary.
pub(crate) async fn render(
    app: &AppState,
    fence: u64,
    tms: TileMatrixSet,
    (z, x, y): (u8, u32, u32),
    layers: &[Layer<'_>],
) -> Result<Tile, Problem> {
    let Some(sql) =
        tile_sql(tms, z, x, y, layers).map_err(|e| Problem::bad_request(format!("filter: {e}")))?
    else {
        return Ok(empty());
    };
    let _slot = app.load.admit(Work::TileRender).await?;
    let client = app.read_db_after(fence).await?;
    let statement = client
        .prepare_cached(&sql.text)
        .await
        .map_err(DbError::query("preparing a tile"))?;
    let row = client
        .query_one(&statement, &sql.refs())
        .await
        .map_err(DbError::query("rendering a tile"))?;
    let raw: Vec<u8> = row.get(0);
    let names: Vec<&str> = layers
        .iter()
        .map(|l| l.schema.collection.id.as_str())
        .collect();
    metrics::counter!("tiles_rendered_total", "tms" => tms.id, "layers" => names.join(","))
        .increment(1);
    if raw.len() > app.config.tiles.max_tile_bytes {
        tracing::warn!(
            layers = names.join(","),
            tms = tms.id,
            z,
            x,
            y,
            bytes = raw.len(),
            budget = app.config.tiles.max_tile_bytes,
            "tile exceeds the byte budget; raise min_zoom of its collections or tiles.max_tile_bytes"
        );
    }
    if raw.is_empty() {
        return Ok(empty());
    }
    // A tile is compressed once and sent many times: zlib's default level makes building tiles
    // about a tenth smaller than the fastest one for ~2 ms more per render (level 9 saves
    // nothing more; bench/README.md).
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 3),
        flate2::Compression::default(),
    );
    encoder.write_all(&raw).map_err(Problem::internal)?;
    let gzip = encoder.finish().map_err(Problem::internal)?;
    Ok(Tile {
        etag: format!("\"{:016x}\"", fnv(&raw)),
        raw_len: raw.len(),
        gzip: gzip.into(),
    })
}

fn empty() -> Tile {
    Tile {
        gzip: bytes::Bytes::new(),
        raw_len: 0,
        etag: "\"empty\"".to_owned(),
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|part| {
                let mut bits = part.split(';');
                let name = bits.next().unwrap_or("").trim();
                let refused =
                    bits.any(|b| matches!(b.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
                (name == "gzip" || name == "*") && !refused
            })
        })
}

fn respond(tile: &Tile, headers: &HeaderMap, max_age: u32) -> Response {
    let not_modified = stadtkarte_core::http::not_modified(headers, &tile.etag);
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else if tile.raw_len == 0 {
        StatusCode::NO_CONTENT.into_response()
    } else if accepts_gzip(headers) {
        let mut r = Response::new(Body::from(tile.gzip.clone()));
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        let mut raw = Vec::with_capacity(tile.raw_len);
        let _ = flate2::read::GzDecoder::new(&tile.gzip[..]).read_to_end(&mut raw);
        Response::new(Body::from(raw))
    };
    let h = response.headers_mut();
    if tile.raw_len > 0 && !not_modified {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.mapbox-vector-tile"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&tile.etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    response
}

/// `GET /collections/{id}/tiles/{tms}/{z}/{row}/{col}`
pub async fn collection_tile(
    State(state): State<TileState>,
    Path((id, tms_id, z, row, col)): Path<(String, String, String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let tms = tms::find(&tms_id)
        .ok_or_else(|| Problem::not_found(format!("There is no tile matrix set {tms_id:?}.")))?;
    serve_tile(&state, &id, tms, (&z, &col, &row), &query, &headers).await
}

/// `GET /tiles/{a}/{b}/{c}/{d}`: OGC dataset tiles when `a` is a tile matrix set
/// (`{tms}/{z}/{row}/{col}`), otherwise XYZ tiles for MapLibre (`{layers}/{z}/{x}/{y}`).
pub async fn tiles(
    State(state): State<TileState>,
    Path((a, b, c, d)): Path<(String, String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if let Some(tms) = tms::find(&a) {
        let all = all_tiled(&state).await?.join(",");
        if all.is_empty() {
            return Err(Problem::not_found("There are no tiled collections."));
        }
        return serve_tile(&state, &all, tms, (&b, &d, &c), &query, &headers).await;
    }
    serve_tile(
        &state,
        &a,
        WEB_MERCATOR_QUAD,
        (&b, &c, &d),
        &query,
        &headers,
    )
    .await
}

async fn all_tiled(state: &TileState) -> Result<Vec<String>, Problem> {
    let client = state.app.read_db().await?;
    Ok(stadtkarte_core::catalog::list(&**client)
        .await?
        .into_iter()
        .filter(|c| c.publish_tiles && c.extent_crs84.is_some())
        .map(|c| c.id)
        .collect())
}

/// `GET /tiles/{a}`: the dataset tileset of a tile matrix set, or the TileJSON of layers.
pub async fn tiles_meta(
    State(state): State<TileState>,
    Path(a): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let base = base_url(&state.app.config, &headers);
    if let Some(tms) = tms::find(&a) {
        let ids = all_tiled(&state).await?.join(",");
        let (layers, _) = load_layers(&state, &ids).await?;
        return Ok(json(&tileset(
            &base,
            &format!("{base}/tiles/{}", tms.id),
            "Alle Kartenebenen",
            tms,
            &layers,
        )));
    }
    let ids = a.trim_end_matches(".json");
    let (layers, _) = load_layers(&state, ids).await?;
    Ok(json(&tilejson(&base, ids, &layers)))
}

/// `GET /tiles`
pub async fn dataset_tilesets(
    State(state): State<TileState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let base = base_url(&state.app.config, &headers);
    Ok(json(&tileset_list(&base, &format!("{base}/tiles"))))
}

/// `GET /collections/{id}/tiles`
pub async fn collection_tilesets(
    State(state): State<TileState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    load_layers(&state, &id).await?;
    let base = base_url(&state.app.config, &headers);
    Ok(json(&tileset_list(
        &base,
        &format!("{base}/collections/{id}/tiles"),
    )))
}

/// `GET /collections/{id}/tiles/{tms}`
pub async fn collection_tileset(
    State(state): State<TileState>,
    Path((id, tms_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let tms = tms::find(&tms_id)
        .ok_or_else(|| Problem::not_found(format!("There is no tile matrix set {tms_id:?}.")))?;
    let (layers, _) = load_layers(&state, &id).await?;
    let base = base_url(&state.app.config, &headers);
    let title = layers[0].collection.title.clone();
    Ok(json(&tileset(
        &base,
        &format!("{base}/collections/{id}/tiles/{}", tms.id),
        &title,
        tms,
        &layers,
    )))
}

/// `GET /tileMatrixSets`
pub async fn tile_matrix_sets(State(state): State<TileState>, headers: HeaderMap) -> Response {
    let base = base_url(&state.app.config, &headers);
    let sets: Vec<Value> = tms::ALL
        .iter()
        .map(|t| {
            json!({"id": t.id, "title": t.title, "crs": t.crs, "uri": t.uri,
                   "links": [{"rel": "self", "type": "application/json", "href": format!("{base}/tileMatrixSets/{}", t.id)}]})
        })
        .collect();
    json(
        &json!({"tileMatrixSets": sets, "links": [{"rel": "self", "type": "application/json", "href": format!("{base}/tileMatrixSets")}]}),
    )
}

/// `GET /tileMatrixSets/{id}`
pub async fn tile_matrix_set(Path(id): Path<String>) -> Result<Response, Problem> {
    let tms = tms::find(&id)
        .ok_or_else(|| Problem::not_found(format!("There is no tile matrix set {id:?}.")))?;
    Ok(json(&tms.document()))
}

fn tileset_list(base: &str, href: &str) -> Value {
    let sets: Vec<Value> = tms::ALL
        .iter()
        .map(|t| {
            json!({
                "title": t.title, "dataType": "vector", "crs": t.crs, "tileMatrixSetURI": t.uri,
                "links": [
                    {"rel": "self", "type": "application/json", "href": format!("{href}/{}", t.id)},
                    {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": "application/json",
                     "href": format!("{base}/tileMatrixSets/{}", t.id)},
                ],
            })
        })
        .collect();
    json!({"tilesets": sets, "links": [{"rel": "self", "type": "application/json", "href": href}]})
}

pub(crate) fn union_extent(layers: &[Arc<CollectionSchema>]) -> Option<[f64; 4]> {
    layers
        .iter()
        .filter_map(|l| l.collection.extent_crs84)
        .reduce(|a, b| {
            [
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[2].max(b[2]),
                a[3].max(b[3]),
            ]
        })
}

fn dimension(geometry_type: &str) -> u8 {
    if geometry_type.contains("Point") {
        0
    } else if geometry_type.contains("Line") {
        1
    } else {
        2
    }
}

fn tileset(
    base: &str,
    href: &str,
    title: &str,
    tms: TileMatrixSet,
    layers: &[Arc<CollectionSchema>],
) -> Value {
    let min = layers
        .iter()
        .map(|l| l.collection.min_zoom)
        .min()
        .unwrap_or(0)
        .max(0);
    let max = layers
        .iter()
        .map(|l| l.collection.max_zoom)
        .max()
        .unwrap_or(0)
        .min(i16::from(tms.max_zoom));
    let mut limits = Vec::new();
    if let Some(extent) = union_extent(layers) {
        let b = tms.from_crs84(extent);
        for z in min..=max {
            let z = u8::try_from(z).unwrap_or(0);
            let (c0, r0, c1, r1) = tms.cover(z, b);
            limits.push(json!({"tileMatrix": z.to_string(), "minTileRow": r0, "maxTileRow": r1, "minTileCol": c0, "maxTileCol": c1}));
        }
    }
    let ids: Vec<&str> = layers.iter().map(|l| l.collection.id.as_str()).collect();
    json!({
        "title": title,
        "dataType": "vector",
        "crs": tms.crs,
        "tileMatrixSetURI": tms.uri,
        "links": [
            {"rel": "self", "type": "application/json", "href": href},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": "application/json", "href": format!("{base}/tileMatrixSets/{}", tms.id)},
            {"rel": "item", "type": "application/vnd.mapbox-vector-tile", "templated": true, "href": format!("{href}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}")},
            {"rel": "describedby", "type": "application/json", "title": "TileJSON", "href": format!("{base}/tiles/{}", ids.join(","))},
        ],
        "tileMatrixSetLimits": limits,
        "layers": layers.iter().map(|l| json!({
            "id": l.collection.id, "title": l.collection.title, "dataType": "vector",
            "geometryDimension": dimension(&l.collection.geometry_type),
            "minTileMatrix": l.collection.min_zoom.to_string(), "maxTileMatrix": l.collection.max_zoom.min(i16::from(tms.max_zoom)).to_string(),
        })).collect::<Vec<_>>(),
    })
}

fn tilejson(base: &str, ids: &str, layers: &[Arc<CollectionSchema>]) -> Value {
    let bounds = union_extent(layers).unwrap_or([-180.0, -85.0, 180.0, 85.0]);
    let minzoom = layers
        .iter()
        .map(|l| l.collection.min_zoom)
        .min()
        .unwrap_or(0);
    let maxzoom = layers
        .iter()
        .map(|l| l.collection.max_zoom)
        .max()
        .unwrap_or(22);
    let vector_layers = vector_layers(layers);
    let attribution = attribution(layers);
    json!({
        "tilejson": "3.0.0",
        "name": layers.iter().map(|l| l.collection.title.clone()).collect::<Vec<_>>().join(", "),
        "description": layers.iter().map(|l| l.collection.description.clone()).collect::<Vec<_>>().join(" "),
        "attribution": attribution,
        "scheme": "xyz",
        "tiles": [format!("{base}/tiles/{ids}/{{z}}/{{x}}/{{y}}")],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": bounds,
        "center": [f64::midpoint(bounds[0], bounds[2]), f64::midpoint(bounds[1], bounds[3]), minzoom.max(12)],
        "vector_layers": vector_layers,
    })
}

/// TileJSON's `vector_layers`: per collection its id, title, zoom range and typed fields (the
/// attributes a tile carries).
pub(crate) fn vector_layers(layers: &[Arc<CollectionSchema>]) -> Vec<Value> {
    layers
        .iter()
        .map(|l| {
            let fields: serde_json::Map<String, Value> = l
                .properties
                .iter()
                .filter(|p| p.kind != PropType::Other)
                .map(|p| {
                    let kind = match p.kind {
                        PropType::Integer | PropType::Number => "Number",
                        PropType::Boolean => "Boolean",
                        _ => "String",
                    };
                    (p.name.clone(), json!(kind))
                })
                .collect();
            json!({"id": l.collection.id, "description": l.collection.title, "minzoom": l.collection.min_zoom,
                   "maxzoom": l.collection.max_zoom, "fields": fields})
        })
        .collect()
}

/// The collections' attributions, each once, joined by `; `.
pub(crate) fn attribution(layers: &[Arc<CollectionSchema>]) -> String {
    layers
        .iter()
        .map(|l| l.collection.attribution.clone())
        .fold(Vec::new(), |mut acc, a| {
            if !acc.contains(&a) {
                acc.push(a);
            }
            acc
        })
        .join("; ")
}
