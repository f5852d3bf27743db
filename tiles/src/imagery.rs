//! Aerial imagery: tiles copied byte for byte from the aligned pyramids the importer prepares
//! (one Cloud-Optimized `GeoTIFF` per zoom level and part, WebP tiles with alpha), as XYZ with
//! TileJSON, OGC API Tiles map tiles and WMTS 1.0.0 (REST and KVP).
//!
//! Epochs are named by id (`luftbild-1958`) or by year (`1958`); the series collection
//! [`SERIES`] lists every epoch and takes the epoch from `datetime`. A request never touches
//! the database while the epoch is cached (a few seconds), and never decodes an image.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use stadtkarte_core::stale::StaleCache;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use stadtkarte_core::db::DbError;
use stadtkarte_core::http::base_url;
use stadtkarte_core::{AppState, Problem};

use crate::tms::{TileMatrixSet, WEB_MERCATOR_QUAD};
use stadtkarte_core::cog::{CogLevel, TileCodec};
use stadtkarte_core::imagery::{self as catalog, EpochRow};

pub use stadtkarte_core::imagery::SERIES;

/// One imagery epoch, ready to serve.
#[derive(Debug)]
pub struct Epoch {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Year of the flight.
    pub year: i32,
    /// Where the images come from.
    pub source: String,
    /// Licence.
    pub license: String,
    /// Attribution text.
    pub attribution: String,
    /// One band of grey.
    pub grayscale: bool,
    /// Finest ground resolution of the source (m/pixel).
    pub resolution_m: f64,
    /// Footprint bounding box in CRS84.
    pub bbox: [f64; 4],
    /// Shallowest zoom level.
    pub min_zoom: u8,
    /// Deepest zoom level.
    pub max_zoom: u8,
    /// Changes with every import.
    pub version: String,
    /// When it was imported (RFC 3339).
    pub updated: String,
    /// Tile codec.
    pub codec: TileCodec,
    /// Levels by zoom with their part; within a zoom, finer parts last.
    levels: Vec<(u32, CogLevel)>,
}

/// What a tile request finds.
#[derive(Debug)]
pub enum Found {
    /// The zoom level is outside the pyramid.
    OutOfRange,
    /// Inside the pyramid, but no image there.
    Empty,
    /// The tile's bytes.
    Tile(Vec<u8>),
}

impl Epoch {
    /// The parts (0 = coarsest) with their zoom ranges.
    #[must_use]
    pub fn parts(&self) -> Vec<(u32, u8, u8)> {
        let mut parts: Vec<(u32, u8, u8)> = Vec::new();
        for (part, level) in &self.levels {
            match parts.iter_mut().find(|p| p.0 == *part) {
                Some(p) => {
                    p.1 = p.1.min(level.zoom);
                    p.2 = p.2.max(level.zoom);
                }
                None => parts.push((*part, level.zoom, level.zoom)),
            }
        }
        parts.sort_unstable();
        parts
    }

    /// The zoom range of the epoch, or of one part.
    fn zoom_range(&self, part: Option<u32>) -> Option<(u8, u8)> {
        match part {
            None => Some((self.min_zoom, self.max_zoom)),
            Some(p) => self
                .parts()
                .into_iter()
                .find(|x| x.0 == p)
                .map(|x| (x.1, x.2)),
        }
    }

    /// The tile at (z, column, row), read from the finest part that has it (or from `part`).
    pub fn tile(&self, z: u8, col: u32, row: u32, part: Option<u32>) -> std::io::Result<Found> {
        let Some((lo, hi)) = self.zoom_range(part) else {
            return Ok(Found::OutOfRange);
        };
        if z < lo || z > hi {
            return Ok(Found::OutOfRange);
        }
        for (_, level) in self
            .levels
            .iter()
            .rev()
            .filter(|(p, l)| l.zoom == z && part.is_none_or(|want| want == *p))
        {
            if level.has_tile(col, row)
                && let Some(bytes) = level.tile(col, row)?
            {
                return Ok(Found::Tile(bytes));
            }
        }
        Ok(Found::Empty)
    }

    /// Stored tiles and bytes over all levels.
    #[must_use]
    pub fn stored(&self) -> (u64, u64) {
        self.levels
            .iter()
            .map(|(_, l)| l.stored())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }

    fn etag(&self, z: u8, col: u32, row: u32) -> String {
        format!("\"{}.{}.{z}.{col}.{row}\"", self.id, self.version)
    }
}

/// Epochs by the name a request used, briefly cached; parsed pyramids by version.
#[derive(Debug, Clone)]
pub struct Imagery {
    app: AppState,
    by_name: StaleCache<Arc<Epoch>>,
    all: StaleCache<Vec<Arc<Epoch>>>,
    by_version: moka::sync::Cache<String, Arc<Epoch>>,
}

impl Imagery {
    /// A registry over the catalog of `app`.
    #[must_use]
    pub fn new(app: AppState) -> Self {
        Self {
            app,
            // While the database is away, the last good catalog rows keep the tiles coming.
            by_name: StaleCache::new(1_000, Duration::from_secs(3)),
            all: StaleCache::new(1, Duration::from_secs(3)),
            by_version: moka::sync::Cache::builder().max_capacity(200).build(),
        }
    }

    fn dir(&self) -> PathBuf {
        PathBuf::from(&self.app.config.imagery.dir)
    }

    /// The epoch named `name`: an id, or a year (the newest epoch of that year).
    pub async fn epoch(&self, name: &str) -> Result<Arc<Epoch>, Problem> {
        Ok(self.by_name.get(name, self.load(name)).await?.value)
    }

    async fn load(&self, name: &str) -> Result<Arc<Epoch>, Problem> {
        let client = self.app.pool.get().await.map_err(DbError::from)?;
        let row = catalog::get(&**client, name).await?.ok_or_else(|| {
            Problem::not_found(format!(
                "Es gibt kein Luftbild {name:?} / there is no imagery epoch {name:?}."
            ))
        })?;
        drop(client);
        self.open(row).await
    }

    /// The parsed pyramid of a catalog row (cached per epoch and version).
    async fn open(&self, row: EpochRow) -> Result<Arc<Epoch>, Problem> {
        let key = format!("{}/{}", row.id, row.version);
        if let Some(epoch) = self.by_version.get(&key) {
            return Ok(epoch);
        }
        let dir = self.dir();
        let files = row.levels.clone();
        let mut opened = tokio::task::spawn_blocking(move || {
            files
                .into_iter()
                .map(|l| {
                    let path = dir.join(&l.file);
                    CogLevel::open(&path)
                        .map(|c| (l.zoom, l.part, c))
                        .map_err(|e| format!("{}: {e}", path.display()))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(Problem::internal)?
        .map_err(Problem::internal)?;
        opened.sort_by_key(|(zoom, part, _)| (*zoom, *part));
        let codec = opened.first().map_or(TileCodec::Webp, |l| l.2.codec);
        let epoch = Arc::new(Epoch {
            id: row.id,
            title: row.title,
            description: row.description,
            year: row.year,
            source: row.source,
            license: row.license,
            attribution: row.attribution,
            grayscale: row.grayscale,
            resolution_m: row.resolution_m,
            bbox: row.bbox,
            min_zoom: row.min_zoom,
            max_zoom: row.max_zoom,
            version: row.version,
            updated: row.updated,
            codec,
            levels: opened.into_iter().map(|l| (l.1, l.2)).collect(),
        });
        self.by_version.insert(key, epoch.clone());
        Ok(epoch)
    }

    /// Every epoch, oldest first.
    pub async fn list(&self) -> Result<Vec<Arc<Epoch>>, Problem> {
        Ok(self.all.get("", self.load_all()).await?.value)
    }

    async fn load_all(&self) -> Result<Vec<Arc<Epoch>>, Problem> {
        let client = self.app.pool.get().await.map_err(DbError::from)?;
        let rows = catalog::list(&**client).await?;
        drop(client);
        let mut epochs = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.id.clone();
            match self.open(row).await {
                Ok(epoch) => epochs.push(epoch),
                // One epoch with missing or broken files must not hide the others.
                Err(problem) => {
                    tracing::error!(epoch = %id, detail = %problem.detail, "imagery epoch unusable, left out of lists");
                }
            }
        }
        Ok(epochs)
    }

    /// The epoch a series request means: the year in `datetime` (`1958`, `1958-06-01`,
    /// `1958-06-01T10:00:00Z`), or the newest epoch.
    pub async fn in_series(&self, datetime: Option<&str>) -> Result<Arc<Epoch>, Problem> {
        match datetime.filter(|d| !d.is_empty()) {
            Some(d) => {
                let year = d.get(..4).filter(|y| y.bytes().all(|b| b.is_ascii_digit()));
                let year = year.ok_or_else(|| {
                    Problem::bad_request(format!(
                        "datetime {d:?} names no year; use e.g. 1958 or 1958-06-01"
                    ))
                })?;
                self.epoch(year).await.map_err(|p| {
                    if p.status == StatusCode::NOT_FOUND {
                        Problem::not_found(format!(
                            "Es gibt kein Luftbild aus dem Jahr {year} / no imagery epoch of {year}."
                        ))
                    } else {
                        p
                    }
                })
            }
            None => self.list().await?.pop().ok_or_else(|| {
                Problem::not_found("Es sind noch keine Luftbilder importiert / no imagery yet.")
            }),
        }
    }

    /// An epoch by the name in a path, or the series with its `datetime`.
    async fn named(&self, name: &str, datetime: Option<&str>) -> Result<Arc<Epoch>, Problem> {
        if name == SERIES {
            self.in_series(datetime).await
        } else {
            self.epoch(name).await
        }
    }
}

/// State of the imagery routes.
#[derive(Debug, Clone)]
pub struct ImageryState {
    /// The shared state.
    pub app: AppState,
    /// The epochs.
    pub imagery: Imagery,
}

fn number(text: &str, what: &str) -> Result<u32, Problem> {
    crate::tms::coordinate(text, what, &["webp", "jpg", "jpeg", "png"])
}

/// Answers one tile request.
fn serve(
    state: &ImageryState,
    epoch: &Epoch,
    (z, col, row): (&str, &str, &str),
    part: Option<u32>,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    let z = number(z, "zoom level")?;
    let col = number(col, "column")?;
    let row = number(row, "row")?;
    let z = u8::try_from(z)
        .ok()
        .filter(|z| *z <= 30)
        .ok_or_else(|| Problem::not_found(format!("zoom level {z} is not in the pyramid")))?;
    if z <= 24 && (col >= 1 << z || row >= 1 << z) {
        return Err(Problem::bad_request(format!(
            "tile {col}/{row} is outside the tile matrix of zoom level {z}"
        )));
    }
    let found = epoch.tile(z, col, row, part).map_err(Problem::internal)?;
    let etag = epoch.etag(z, col, row);
    let mut response = match found {
        Found::OutOfRange => {
            let Some((lo, hi)) = epoch.zoom_range(part) else {
                return Err(Problem::not_found(format!(
                    "{} hat keinen Teil {} / no part {} (parts: {:?})",
                    epoch.title,
                    part.unwrap_or_default(),
                    part.unwrap_or_default(),
                    epoch.parts().iter().map(|p| p.0).collect::<Vec<_>>()
                )));
            };
            return Err(Problem::not_found(format!(
                "{} hat Kacheln der Zoomstufen {lo} bis {hi} / zoom level {z} is outside the pyramid ({lo}–{hi}).",
                epoch.title
            )));
        }
        _ if stadtkarte_core::http::not_modified(headers, &etag) => {
            StatusCode::NOT_MODIFIED.into_response()
        }
        Found::Empty => StatusCode::NO_CONTENT.into_response(),
        Found::Tile(bytes) => {
            let mut r = Response::new(Body::from(bytes));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(epoch.codec.media_type()),
            );
            r
        }
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "public, max-age={}",
        state.app.config.imagery.max_age_secs
    )) {
        h.insert(header::CACHE_CONTROL, v);
    }
    Ok(response)
}

/// Query of tile requests.
#[derive(Debug, Deserialize, Default)]
pub struct TileQuery {
    /// The epoch of the series, by year.
    #[serde(default)]
    datetime: Option<String>,
    /// German alias of `datetime`.
    #[serde(default)]
    jahr: Option<String>,
    /// Only this part of the epoch (0 = coarsest), e.g. to stack parts as separate sources.
    #[serde(default)]
    teil: Option<u32>,
}

impl TileQuery {
    fn datetime(&self) -> Option<&str> {
        self.datetime.as_deref().or(self.jahr.as_deref())
    }
}

/// `GET /imagery/{id}/{z}/{x}/{y}`: XYZ tiles.
pub async fn xyz_tile(
    State(state): State<ImageryState>,
    Path((id, z, x, y)): Path<(String, String, String, String)>,
    Query(query): Query<TileQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let epoch = state.imagery.named(&id, query.datetime()).await?;
    serve(&state, &epoch, (&z, &x, &y), query.teil, &headers)
}

/// `GET /collections/{id}/map/tiles/{tms}/{z}/{row}/{col}`: OGC API Tiles map tiles.
pub async fn map_tile(
    State(state): State<ImageryState>,
    Path((id, tms, z, row, col)): Path<(String, String, String, String, String)>,
    Query(query): Query<TileQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    check_tms(&tms)?;
    let epoch = state.imagery.named(&id, query.datetime()).await?;
    serve(&state, &epoch, (&z, &col, &row), query.teil, &headers)
}

fn check_tms(tms: &str) -> Result<TileMatrixSet, Problem> {
    if tms == WEB_MERCATOR_QUAD.id {
        Ok(WEB_MERCATOR_QUAD)
    } else {
        Err(Problem::not_found(format!(
            "Aerial imagery is tiled in WebMercatorQuad only, not {tms:?}."
        )))
    }
}

fn json_response(value: &Value, media_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, media_type)], value.to_string()).into_response()
}

/// The TileJSON 3.0 document of an epoch.
fn tilejson(base: &str, name: &str, epoch: &Epoch) -> Value {
    let b = epoch.bbox;
    json!({
        "tilejson": "3.0.0",
        "name": epoch.title,
        "description": epoch.description,
        "version": "1.0.0",
        "attribution": epoch.attribution,
        "scheme": "xyz",
        "tiles": [format!("{base}/imagery/{name}/{{z}}/{{x}}/{{y}}")],
        "minzoom": epoch.min_zoom,
        "maxzoom": epoch.max_zoom,
        "bounds": b,
        "center": [f64::midpoint(b[0], b[2]), f64::midpoint(b[1], b[3]), epoch.min_zoom.max(13).min(epoch.max_zoom)],
        "format": epoch.codec.extension(),
        "tileSize": 256,
        "year": epoch.year,
        "grayscale": epoch.grayscale,
        // The parts of different resolution, for clients that stack them as separate sources
        // (the coarse one over-zoomed below the fine one).
        "parts": epoch.parts().iter().map(|(part, lo, hi)| json!({
            "part": part,
            "minzoom": lo,
            "maxzoom": hi,
            "tiles": [format!("{base}/imagery/{name}/{{z}}/{{x}}/{{y}}?teil={part}")],
        })).collect::<Vec<_>>(),
    })
}

fn summary(base: &str, epoch: &Epoch) -> Value {
    let (tiles, bytes) = epoch.stored();
    json!({
        "id": epoch.id,
        "title": epoch.title,
        "description": epoch.description,
        "year": epoch.year,
        "grayscale": epoch.grayscale,
        "resolution_m": epoch.resolution_m,
        "minzoom": epoch.min_zoom,
        "maxzoom": epoch.max_zoom,
        "bbox": epoch.bbox,
        "source": epoch.source,
        "license": epoch.license,
        "attribution": epoch.attribution,
        "updated": epoch.updated,
        "tiles": tiles,
        "bytes": bytes,
        "links": [
            {"rel": "tilejson", "type": "application/json", "href": format!("{base}/imagery/{}", epoch.id)},
            {"rel": "item", "type": epoch.codec.media_type(), "templated": true,
             "href": format!("{base}/imagery/{}/{{z}}/{{x}}/{{y}}", epoch.id)},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map", "type": "application/json",
             "href": format!("{base}/collections/{}/map/tiles", epoch.id)},
            {"rel": "service", "type": "application/xml", "title": "WMTS",
             "href": format!("{base}/wmts/1.0.0/WMTSCapabilities.xml")},
        ],
    })
}

/// `GET /imagery`: every epoch, oldest first.
pub async fn list(
    State(state): State<ImageryState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let base = base_url(&state.app.config, &headers);
    let epochs = state.imagery.list().await?;
    let items: Vec<Value> = epochs.iter().map(|e| summary(&base, e)).collect();
    Ok(json_response(
        &json!({"series": SERIES, "epochs": items, "links": [
            {"rel": "self", "type": "application/json", "href": format!("{base}/imagery")},
            {"rel": "service", "type": "application/xml", "href": format!("{base}/wmts/1.0.0/WMTSCapabilities.xml")},
        ]}),
        "application/json",
    ))
}

/// `GET /imagery/{id}`: TileJSON of an epoch (or of the series, with `datetime`).
pub async fn tilejson_route(
    State(state): State<ImageryState>,
    Path(id): Path<String>,
    Query(query): Query<TileQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let base = base_url(&state.app.config, &headers);
    let epoch = state.imagery.named(&id, query.datetime()).await?;
    let name = if id == SERIES {
        epoch.id.as_str()
    } else {
        id.as_str()
    };
    Ok(json_response(
        &tilejson(&base, name, &epoch),
        "application/json",
    ))
}

fn limits(epoch: &Epoch) -> Vec<Value> {
    let bbox = WEB_MERCATOR_QUAD.from_crs84(epoch.bbox);
    (epoch.min_zoom..=epoch.max_zoom)
        .map(|z| {
            let (c0, r0, c1, r1) = WEB_MERCATOR_QUAD.cover(z, bbox);
            json!({"tileMatrix": z.to_string(), "minTileRow": r0, "maxTileRow": r1,
                   "minTileCol": c0, "maxTileCol": c1})
        })
        .collect()
}

fn tileset(base: &str, epoch: &Epoch, collection: &str) -> Value {
    json!({
        "title": epoch.title,
        "description": epoch.description,
        "dataType": "map",
        "crs": WEB_MERCATOR_QUAD.crs,
        "tileMatrixSetURI": WEB_MERCATOR_QUAD.uri,
        "tileMatrixSetLimits": limits(epoch),
        "boundingBox": {
            "lowerLeft": [epoch.bbox[0], epoch.bbox[1]],
            "upperRight": [epoch.bbox[2], epoch.bbox[3]],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        },
        "attribution": epoch.attribution,
        "license": epoch.license,
        "links": [
            {"rel": "self", "type": "application/json",
             "href": format!("{base}/collections/{collection}/map/tiles/WebMercatorQuad")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": "application/json",
             "href": format!("{base}/tileMatrixSets/WebMercatorQuad")},
            {"rel": "item", "type": epoch.codec.media_type(), "templated": true,
             "href": format!("{base}/collections/{collection}/map/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}")},
        ],
    })
}

/// `GET /collections/{id}/map/tiles`: the map tilesets of an epoch.
pub async fn map_tilesets(
    State(state): State<ImageryState>,
    Path(id): Path<String>,
    Query(query): Query<TileQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let base = base_url(&state.app.config, &headers);
    let epoch = state.imagery.named(&id, query.datetime()).await?;
    let href = format!("{base}/collections/{id}/map/tiles/WebMercatorQuad");
    Ok(json_response(
        &json!({
            "tilesets": [{
                "title": epoch.title,
                "dataType": "map",
                "crs": WEB_MERCATOR_QUAD.crs,
                "tileMatrixSetURI": WEB_MERCATOR_QUAD.uri,
                "links": [
                    {"rel": "self", "type": "application/json", "href": href},
                    {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                     "href": format!("{base}/tileMatrixSets/WebMercatorQuad")},
                ],
            }],
            "links": [{"rel": "self", "type": "application/json",
                       "href": format!("{base}/collections/{id}/map/tiles")}],
        }),
        "application/json",
    ))
}

/// `GET /collections/{id}/map/tiles/{tms}`: tileset metadata.
pub async fn map_tileset(
    State(state): State<ImageryState>,
    Path((id, tms)): Path<(String, String)>,
    Query(query): Query<TileQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    check_tms(&tms)?;
    let base = base_url(&state.app.config, &headers);
    let epoch = state.imagery.named(&id, query.datetime()).await?;
    Ok(json_response(
        &tileset(&base, &epoch, &id),
        "application/json",
    ))
}

// ---------------------------------------------------------------------------------------------
// WMTS 1.0.0

const SCALE_PIXEL: f64 = 0.000_28;

/// Text escaped for XML content and attribute values.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// The WMTS capabilities document.
fn capabilities(base: &str, epochs: &[Arc<Epoch>]) -> String {
    let mut out = String::with_capacity(8192);
    let _ = write!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.0.0">
<ows:ServiceIdentification><ows:Title>Stadtkarte – Luftbilder</ows:Title><ows:Abstract>Aktuelle und historische Luftbilder als Kacheln (WebMercatorQuad)</ows:Abstract><ows:ServiceType>OGC WMTS</ows:ServiceType><ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion></ows:ServiceIdentification>
<ows:OperationsMetadata>
<ows:Operation name="GetCapabilities"><ows:DCP><ows:HTTP><ows:Get xlink:href="{base}/wmts/1.0.0/WMTSCapabilities.xml"><ows:Constraint name="GetEncoding"><ows:AllowedValues><ows:Value>RESTful</ows:Value></ows:AllowedValues></ows:Constraint></ows:Get><ows:Get xlink:href="{base}/wmts?"><ows:Constraint name="GetEncoding"><ows:AllowedValues><ows:Value>KVP</ows:Value></ows:AllowedValues></ows:Constraint></ows:Get></ows:HTTP></ows:DCP></ows:Operation>
<ows:Operation name="GetTile"><ows:DCP><ows:HTTP><ows:Get xlink:href="{base}/wmts/1.0.0/"><ows:Constraint name="GetEncoding"><ows:AllowedValues><ows:Value>RESTful</ows:Value></ows:AllowedValues></ows:Constraint></ows:Get><ows:Get xlink:href="{base}/wmts?"><ows:Constraint name="GetEncoding"><ows:AllowedValues><ows:Value>KVP</ows:Value></ows:AllowedValues></ows:Constraint></ows:Get></ows:HTTP></ows:DCP></ows:Operation>
</ows:OperationsMetadata>
<Contents>
"#
    );
    let layer = |out: &mut String, id: &str, e: &Epoch, time: Option<&[Arc<Epoch>]>| {
        let b = e.bbox;
        let mime = e.codec.media_type();
        let ext = e.codec.extension();
        let _ = write!(
            out,
            "<Layer><ows:Title>{}</ows:Title><ows:Abstract>{}</ows:Abstract>\
             <ows:WGS84BoundingBox><ows:LowerCorner>{} {}</ows:LowerCorner><ows:UpperCorner>{} {}</ows:UpperCorner></ows:WGS84BoundingBox>\
             <ows:Identifier>{id}</ows:Identifier>\
             <Style isDefault=\"true\"><ows:Identifier>default</ows:Identifier></Style>\
             <Format>{mime}</Format>",
            xml(if time.is_some() {
                "Luftbilder (alle Jahrgänge)"
            } else {
                &e.title
            }),
            xml(&format!("{} — {}", e.description, e.attribution)),
            b[0],
            b[1],
            b[2],
            b[3]
        );
        if let Some(all) = time {
            let _ = write!(
                out,
                "<Dimension><ows:Identifier>Time</ows:Identifier><Default>{}</Default>",
                e.year
            );
            for ep in all {
                let _ = write!(out, "<Value>{}</Value>", ep.year);
            }
            out.push_str("</Dimension>");
        }
        out.push_str("<TileMatrixSetLink><TileMatrixSet>WebMercatorQuad</TileMatrixSet><TileMatrixSetLimits>");
        let bbox = WEB_MERCATOR_QUAD.from_crs84(b);
        let (lo, hi) = match time {
            Some(all) => (
                all.iter().map(|x| x.min_zoom).min().unwrap_or(e.min_zoom),
                all.iter().map(|x| x.max_zoom).max().unwrap_or(e.max_zoom),
            ),
            None => (e.min_zoom, e.max_zoom),
        };
        for z in lo..=hi {
            let (c0, r0, c1, r1) = WEB_MERCATOR_QUAD.cover(z, bbox);
            let _ = write!(
                out,
                "<TileMatrixLimits><TileMatrix>{z}</TileMatrix><MinTileRow>{r0}</MinTileRow><MaxTileRow>{r1}</MaxTileRow><MinTileCol>{c0}</MinTileCol><MaxTileCol>{c1}</MaxTileCol></TileMatrixLimits>"
            );
        }
        out.push_str("</TileMatrixSetLimits></TileMatrixSetLink>");
        let time_segment = if time.is_some() { "{Time}/" } else { "" };
        let _ = writeln!(
            out,
            "<ResourceURL format=\"{mime}\" resourceType=\"tile\" template=\"{base}/wmts/1.0.0/{id}/{{Style}}/{time_segment}{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}.{ext}\"/></Layer>"
        );
    };
    if let Some(newest) = epochs.last() {
        layer(&mut out, SERIES, newest, Some(epochs));
    }
    for e in epochs {
        layer(&mut out, &e.id, e, None);
    }
    let deepest = epochs.iter().map(|e| e.max_zoom).max().unwrap_or(19);
    let _ = write!(
        out,
        "<TileMatrixSet><ows:Identifier>WebMercatorQuad</ows:Identifier>\
         <ows:SupportedCRS>urn:ogc:def:crs:EPSG::3857</ows:SupportedCRS>\
         <WellKnownScaleSet>urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible</WellKnownScaleSet>"
    );
    for z in 0..=deepest {
        let n = 1u64 << z;
        let _ = write!(
            out,
            "<TileMatrix><ows:Identifier>{z}</ows:Identifier><ScaleDenominator>{}</ScaleDenominator>\
             <TopLeftCorner>{} {}</TopLeftCorner><TileWidth>256</TileWidth><TileHeight>256</TileHeight>\
             <MatrixWidth>{n}</MatrixWidth><MatrixHeight>{n}</MatrixHeight></TileMatrix>",
            WEB_MERCATOR_QUAD.cell(z) / SCALE_PIXEL,
            WEB_MERCATOR_QUAD.origin.0,
            WEB_MERCATOR_QUAD.origin.1
        );
    }
    let _ = write!(
        out,
        "</TileMatrixSet>\n</Contents>\n<ServiceMetadataURL xlink:href=\"{base}/wmts/1.0.0/WMTSCapabilities.xml\"/>\n</Capabilities>\n"
    );
    out
}

fn xml_response(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A refusal of a WMTS request as OWS 1.1 `ExceptionReport` XML (what GDAL and QGIS show to
/// their users), with the status of the problem; the code follows from it: a missing parameter,
/// a bad value, a tile outside the matrix, an unknown operation, the server's own trouble.
fn ows_exception(problem: &Problem) -> Response {
    let detail = problem.detail.as_str();
    let code = match problem.status.as_u16() {
        400 if detail.contains("needs") => "MissingParameterValue",
        400 if detail.starts_with("REQUEST=") => "OperationNotSupported",
        400..=499 if detail.contains("outside") => "TileOutOfRange",
        400..=499 => "InvalidParameterValue",
        _ => "NoApplicableCode",
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ExceptionReport xmlns=\"http://www.opengis.net/ows/1.1\" version=\"1.1.0\" xml:lang=\"en\">\n<Exception exceptionCode=\"{code}\"><ExceptionText>{}</ExceptionText></Exception>\n</ExceptionReport>\n",
        xml(if detail.is_empty() {
            &problem.title
        } else {
            detail
        })
    );
    let mut response = (
        problem.status,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response();
    if let Some(secs) = problem.retry_after_secs
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// `GET /wmts/1.0.0/WMTSCapabilities.xml`
pub async fn wmts_capabilities(State(state): State<ImageryState>, headers: HeaderMap) -> Response {
    wmts_capabilities_or(state, headers)
        .await
        .unwrap_or_else(|p| ows_exception(&p))
}

async fn wmts_capabilities_or(
    state: ImageryState,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let base = base_url(&state.app.config, &headers);
    let epochs = state.imagery.list().await?;
    Ok(xml_response(capabilities(&base, &epochs)))
}

/// `GET /wmts/1.0.0/{layer}/{style}/{tms}/{z}/{row}/{col}.webp`
pub async fn wmts_tile(
    State(state): State<ImageryState>,
    Path((layer, _style, tms, z, row, col)): Path<(String, String, String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    async {
        check_tms(&tms)?;
        let epoch = state.imagery.named(&layer, None).await?;
        serve(&state, &epoch, (&z, &col, &row), None, &headers)
    }
    .await
    .unwrap_or_else(|p| ows_exception(&p))
}

/// `GET /wmts/1.0.0/{layer}/{style}/{time}/{tms}/{z}/{row}/{col}.webp` (time dimension)
pub async fn wmts_time_tile(
    State(state): State<ImageryState>,
    Path((layer, _style, time, tms, z, row, col)): Path<(
        String,
        String,
        String,
        String,
        String,
        String,
        String,
    )>,
    headers: HeaderMap,
) -> Response {
    async {
        check_tms(&tms)?;
        let epoch = if layer == SERIES {
            state.imagery.in_series(Some(&time)).await?
        } else {
            state.imagery.epoch(&layer).await?
        };
        serve(&state, &epoch, (&z, &col, &row), None, &headers)
    }
    .await
    .unwrap_or_else(|p| ows_exception(&p))
}

/// `GET /wmts?SERVICE=WMTS&REQUEST=GetCapabilities|GetTile&…` (KVP; parameter names in any case)
pub async fn wmts_kvp(
    State(state): State<ImageryState>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    wmts_kvp_or(state, query, headers)
        .await
        .unwrap_or_else(|p| ows_exception(&p))
}

async fn wmts_kvp_or(
    state: ImageryState,
    query: Vec<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if let Some(service) = get("service").filter(|s| !s.eq_ignore_ascii_case("WMTS")) {
        return Err(Problem::bad_request(format!(
            "SERVICE={service}: only WMTS is offered here"
        )));
    }
    match get("request").map(str::to_ascii_lowercase).as_deref() {
        Some("getcapabilities") | None => {
            let base = base_url(&state.app.config, &headers);
            let epochs = state.imagery.list().await?;
            Ok(xml_response(capabilities(&base, &epochs)))
        }
        Some("gettile") => {
            let need = |name: &str| {
                get(name).ok_or_else(|| {
                    Problem::bad_request(format!("GetTile needs {}", name.to_ascii_uppercase()))
                })
            };
            check_tms(need("tilematrixset")?)?;
            let layer = need("layer")?;
            let epoch = if layer == SERIES {
                state.imagery.in_series(get("time")).await?
            } else {
                state.imagery.epoch(layer).await?
            };
            serve(
                &state,
                &epoch,
                (need("tilematrix")?, need("tilecol")?, need("tilerow")?),
                None,
                &headers,
            )
        }
        Some(other) => Err(Problem::bad_request(format!(
            "REQUEST={other}: use GetCapabilities or GetTile"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_text_is_escaped() {
        assert_eq!(
            xml("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
    }
}
