//! The tile cache: gzip-compressed tiles in memory, weighted by their bytes, with single-flight
//! (concurrent requests for one uncached tile cause one query) and eviction of exactly the tiles
//! that a change touches.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use moka::future::Cache;

use crate::tms::TileMatrixSet;

/// What identifies a tile.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    /// Collection ids, in request order.
    pub layers: Arc<[String]>,
    /// Tile matrix set id.
    pub tms: &'static str,
    /// Zoom.
    pub z: u8,
    /// Column.
    pub x: u32,
    /// Row.
    pub y: u32,
    /// CQL2 filter text, when one was given.
    pub filter: Option<Arc<str>>,
}

/// A rendered tile.
#[derive(Debug)]
pub struct Tile {
    /// The MVT, gzip-compressed (empty for a tile without features).
    pub gzip: Bytes,
    /// Size before compression.
    pub raw_len: usize,
    /// Strong validator of the content.
    pub etag: String,
}

/// The cache.
#[derive(Clone, Debug)]
pub struct TileCache {
    inner: Cache<TileKey, Arc<Tile>>,
    /// The primary's WAL position (bytes since 0/0) when the last change evicted tiles: a tile
    /// rendered after the eviction must show the change, so it is read from a replica only
    /// once the replica has replayed this far (with read replicas; 0 without).
    fence: Arc<AtomicU64>,
}

impl TileCache {
    /// A cache of at most `bytes` compressed tile bytes.
    #[must_use]
    pub fn new(bytes: u64) -> Self {
        let inner = Cache::builder()
            .max_capacity(bytes)
            .weigher(|_k: &TileKey, v: &Arc<Tile>| {
                u32::try_from(v.gzip.len() + 128).unwrap_or(u32::MAX)
            })
            .support_invalidation_closures()
            .build();
        Self {
            inner,
            fence: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The WAL position renders must have seen (see the field).
    #[must_use]
    pub fn fence(&self) -> u64 {
        self.fence.load(Ordering::Acquire)
    }

    /// Raises the fence to `lsn` (before the changed tiles are evicted).
    pub fn raise_fence(&self, lsn: u64) {
        self.fence.fetch_max(lsn, Ordering::AcqRel);
    }

    /// The cached tile, or the one `render` makes; concurrent callers for one key share one
    /// render. An error is not cached.
    pub async fn get_or_render<F, E>(&self, key: TileKey, render: F) -> Result<Arc<Tile>, Arc<E>>
    where
        F: Future<Output = Result<Tile, E>>,
        E: Send + Sync + 'static,
    {
        self.inner
            .try_get_with(key, async { render.await.map(Arc::new) })
            .await
    }

    /// Evicts the tiles of `collection` that intersect `bbox` (CRS84), or all its tiles.
    pub fn invalidate(&self, collection: &str, bbox: Option<[f64; 4]>) {
        let collection = collection.to_owned();
        let result = self.inner.invalidate_entries_if(move |key, _| {
            if !key.layers.contains(&collection) {
                return false;
            }
            let Some(b) = bbox else { return true };
            let Some(tms) = crate::tms::find(key.tms) else {
                return true;
            };
            touches(tms, key, b)
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "tile invalidation failed; clearing the cache");
            self.inner.invalidate_all();
        }
    }

    /// Evicts everything (after missing notifications).
    pub fn clear(&self) {
        self.inner.invalidate_all();
    }
}

/// Whether a change in `bbox` (CRS84) can show in the tile, including its 64/4096 buffer.
fn touches(tms: TileMatrixSet, key: &TileKey, bbox: [f64; 4]) -> bool {
    let changed = tms.from_crs84(bbox);
    let t = tms.bounds(key.z, key.x, key.y);
    let margin = (t[2] - t[0]) * 0.02;
    changed[0] <= t[2] + margin
        && changed[2] >= t[0] - margin
        && changed[1] <= t[3] + margin
        && changed[3] >= t[1] - margin
}
