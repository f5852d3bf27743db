//! The city map to take away: the vector tiles of zoom [`MIN_ZOOM`]–[`MAX_ZOOM`] of the tiled
//! collections, over the union of their extents, as one PMTiles v3 archive (the `pmtiles`
//! crate's streaming writer). Each tile is the same multi-layer MVT the server renders for
//! `/tiles/{ids}/{z}/{x}/{y}` ([`crate::handlers::render`]: same layers, attributes and zoom
//! ranges), gzip-compressed; the metadata carries `vector_layers`, attribution and name.
//!
//! Tiles are rendered one at a time behind the `TileRender` slot, in tile-id order, and handed
//! to a blocking thread that writes them to the file as they come: memory holds the directory
//! entries and a hash per distinct tile, never the tiles. Which collections go in, and where the
//! file lives, is the caller's business (the open-data preparer: temporary name, rename,
//! versions).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pmtiles::{Compression, PmTilesWriter, TileCoord, TileId, TileType};
use serde_json::json;
use stadtkarte_core::AppState;
use stadtkarte_core::db::DbError;
use stadtkarte_core::schema::{self, CollectionSchema};

use crate::handlers::{attribution, render, union_extent, vector_layers};
use crate::render::Layer;
use crate::tms::WEB_MERCATOR_QUAD;

/// The shallowest zoom in the archive.
pub const MIN_ZOOM: u8 = 10;
/// The deepest zoom in the archive.
pub const MAX_ZOOM: u8 = 16;

/// What writing an archive did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Tiles with content written (empty tiles are left out).
    pub tiles: u64,
    /// How long it took.
    pub elapsed: Duration,
}

/// Why an archive could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The collections could not be read.
    #[error(transparent)]
    Db(#[from] DbError),
    /// None of the collections asked for is tiled and has data.
    #[error("no tiled collection with data among {0:?}")]
    NoCollections(Vec<String>),
    /// A tile could not be rendered.
    #[error("rendering tile {z}/{x}/{y}: {message}")]
    Render {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
        /// What went wrong.
        message: String,
    },
    /// The file could not be written.
    #[error("writing the PMTiles archive: {0}")]
    Write(#[from] pmtiles::PmtError),
    /// The writing thread ended unexpectedly.
    #[error("the PMTiles writer stopped: {0}")]
    Writer(String),
}

/// Writes the archive of the collections `ids` (those of them that are tiled and have data)
/// into `file`, which must be empty and seekable.
pub async fn write(
    app: &AppState,
    ids: &[String],
    file: std::fs::File,
) -> Result<Summary, ArchiveError> {
    let started = Instant::now();
    let schemas = load(app, ids).await?;
    let extent = union_extent(&schemas).ok_or_else(|| ArchiveError::NoCollections(ids.to_vec()))?;
    let tms = WEB_MERCATOR_QUAD;
    let metadata = json!({
        "name": "Stadtkarte",
        "description": format!(
            "Vektorkacheln (Mapbox Vector Tiles) der Kartenebenen {}, Zoomstufen {MIN_ZOOM}–{MAX_ZOOM}",
            schemas.iter().map(|s| s.collection.id.as_str()).collect::<Vec<_>>().join(", ")
        ),
        "attribution": attribution(&schemas),
        "type": "overlay",
        "format": "pbf",
        "minzoom": MIN_ZOOM,
        "maxzoom": MAX_ZOOM,
        "bounds": extent,
        "vector_layers": vector_layers(&schemas),
    });
    let center = (
        f64::midpoint(extent[0], extent[2]),
        f64::midpoint(extent[1], extent[3]),
    );
    let builder = PmTilesWriter::new(TileType::Mvt)
        .precompressed(Compression::Gzip)
        .internal_compression(Compression::Gzip)
        .min_zoom(MIN_ZOOM)
        .max_zoom(MAX_ZOOM)
        .bounds(extent[0], extent[1], extent[2], extent[3])
        .center(center.0, center.1)
        .center_zoom(14)
        .metadata(metadata.to_string());
    // A few tiles in flight between the renderer and the writing thread, no more.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(TileCoord, Bytes)>(8);
    let writer = tokio::task::spawn_blocking(move || -> Result<(), pmtiles::PmtError> {
        let mut out = builder.create(file)?;
        while let Some((coord, data)) = rx.blocking_recv() {
            out.add_tile(coord, &data)?;
        }
        out.finalize()
    });
    let rendered = render_all(app, &schemas, extent, &tx).await;
    drop(tx);
    let written = writer
        .await
        .map_err(|e| ArchiveError::Writer(e.to_string()))?;
    // A render error is the cause when both failed (the writer then only saw the channel close).
    let tiles = rendered?;
    written?;
    let summary = Summary {
        tiles,
        elapsed: started.elapsed(),
    };
    tracing::info!(
        tiles,
        collections = schemas.len(),
        seconds = summary.elapsed.as_secs_f64(),
        tms = tms.id,
        "PMTiles archive written"
    );
    Ok(summary)
}

/// The tiled collections among `ids` that have data.
async fn load(app: &AppState, ids: &[String]) -> Result<Vec<Arc<CollectionSchema>>, ArchiveError> {
    let client = app.pool.get().await.map_err(DbError::from)?;
    let mut schemas = Vec::new();
    for id in ids {
        if let Some(s) = schema::load(&**client, id).await?
            && s.collection.publish_tiles
            && s.collection.extent_crs84.is_some()
        {
            schemas.push(Arc::new(s));
        }
    }
    if schemas.is_empty() {
        return Err(ArchiveError::NoCollections(ids.to_vec()));
    }
    Ok(schemas)
}

/// Renders every tile of every zoom, in tile-id order (so the archive is clustered), and sends
/// those with content to the writer; returns how many.
async fn render_all(
    app: &AppState,
    schemas: &[Arc<CollectionSchema>],
    extent: [f64; 4],
    tx: &tokio::sync::mpsc::Sender<(TileCoord, Bytes)>,
) -> Result<u64, ArchiveError> {
    let tms = WEB_MERCATOR_QUAD;
    let bbox = tms.from_crs84(extent);
    let mut written = 0;
    for z in MIN_ZOOM..=MAX_ZOOM {
        let layers: Vec<Layer<'_>> = schemas
            .iter()
            .filter(|s| {
                i16::from(z) >= s.collection.min_zoom && i16::from(z) <= s.collection.max_zoom
            })
            .map(|s| Layer {
                schema: s,
                filter: None,
            })
            .collect();
        if layers.is_empty() {
            continue;
        }
        let (c0, r0, c1, r1) = tms.cover(z, bbox);
        let mut coords = Vec::new();
        for x in c0..=c1 {
            for y in r0..=r1 {
                let coord = TileCoord::new(z, x, y)?;
                coords.push((TileId::from(coord).value(), coord));
            }
        }
        coords.sort_unstable_by_key(|(id, _)| *id);
        for (_, coord) in coords {
            let (x, y) = (coord.x(), coord.y());
            let tile = render_patiently(app, z, x, y, &layers).await?;
            if tile.raw_len == 0 {
                continue;
            }
            if tx.send((coord, tile.gzip.clone())).await.is_err() {
                // The writer failed; its error is reported by the caller.
                return Ok(written);
            }
            written += 1;
        }
    }
    Ok(written)
}

/// One tile; a busy server (no slot) or a passing database error is waited out a few times.
async fn render_patiently(
    app: &AppState,
    z: u8,
    x: u32,
    y: u32,
    layers: &[Layer<'_>],
) -> Result<crate::cache::Tile, ArchiveError> {
    let mut attempt = 0;
    loop {
        match render(app, 0, WEB_MERCATOR_QUAD, (z, x, y), layers).await {
            Ok(tile) => return Ok(tile),
            Err(e) if attempt < 4 => {
                attempt += 1;
                tracing::debug!(z, x, y, error = %e, "tile for the archive retried");
                tokio::time::sleep(Duration::from_secs(attempt)).await;
            }
            Err(e) => {
                return Err(ArchiveError::Render {
                    z,
                    x,
                    y,
                    message: e.to_string(),
                });
            }
        }
    }
}
