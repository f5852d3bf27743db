//! The city map to take away: `/opendata/stadtkarte.pmtiles`, a PMTiles archive of the vector
//! tiles of every tiled collection (the collections the map shows, all public), for use offline
//! or on one's own static hosting (MapLibre reads it by byte ranges with the `pmtiles`
//! protocol).
//!
//! This crate does not render tiles: the binary hands the preparer ([`crate::prepare`]) a
//! [`TileArchiver`] (the tiles crate's `archive::write`). Here live what the archive is called,
//! its version — like the bulk ZIPs', it changes when any of its collections does —, its place in
//! the download cache (`alle/{version}.pmtiles`, written under a temporary name and renamed, old
//! versions removed by [`crate::cache::DownloadCache::remove_stale`]), the download (with byte
//! ranges, [`crate::downloads::send_file`]) and its offer on the pages and in the catalogs. Until
//! the preparer has made it, the download is a 503 "wird vorbereitet" with `Retry-After`: a
//! request does not render thousands of tiles.

use std::path::PathBuf;

use axum::http::HeaderMap;
use axum::response::Response;
pub use futures_util::future::BoxFuture;
use stadtkarte_core::catalog::{self, Collection};
use stadtkarte_core::db::DbError;
use stadtkarte_core::{AppState, Problem};

use crate::cache::DownloadCache;
use crate::downloads::{File, not_modified, send_file};
use crate::formats::PMTILES;

/// The archive's file name, also its path under `/opendata/`.
pub const FILE: &str = "stadtkarte.pmtiles";

/// Writes the archive of the given collections into an empty file; returns the number of
/// tiles written. The binary passes the tiles crate's renderer.
pub type TileArchiver =
    fn(AppState, Vec<String>, std::fs::File) -> BoxFuture<'static, Result<u64, String>>;

/// The collections in the archive: those published as tiles that have data.
#[must_use]
pub fn collections(all: &[Collection]) -> Vec<&Collection> {
    all.iter()
        .filter(|c| c.publish_tiles && c.extent_crs84.is_some())
        .collect()
}

/// The archive's version: changes when any of its collections changes, comes or goes.
#[must_use]
pub fn version(all: &[Collection]) -> Option<String> {
    let mut parts = collections(all);
    if parts.is_empty() {
        return None;
    }
    parts.sort_by(|a, b| a.id.cmp(&b.id));
    let mut hasher = std::hash::DefaultHasher::new();
    for c in parts {
        std::hash::Hash::hash(&(&c.id, &c.updated_at), &mut hasher);
    }
    Some(format!("{:016x}", std::hash::Hasher::finish(&hasher)))
}

/// When its data last changed (RFC 3339): the latest change of its collections.
#[must_use]
pub fn modified(all: &[Collection]) -> String {
    collections(all)
        .iter()
        .map(|c| c.updated_at.clone())
        .max()
        .unwrap_or_default()
}

/// Where the archive of `version` is (or will be).
#[must_use]
pub fn path(cache: &DownloadCache, version: &str) -> PathBuf {
    cache.dir().join("alle").join(format!("{version}.pmtiles"))
}

/// Makes the archive of the current version unless it is there; `Ok(false)` when nothing was
/// to be done.
pub async fn prepare(
    state: &AppState,
    archiver: TileArchiver,
    all: &[Collection],
) -> Result<bool, String> {
    let Some(version) = version(all) else {
        return Ok(false);
    };
    let cache = DownloadCache::new(&state.config);
    let target = path(&cache, &version);
    if target.is_file() {
        return Ok(false);
    }
    let dir = target
        .parent()
        .map(std::path::Path::to_owned)
        .unwrap_or_default();
    let tmp = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        let tmp = tempfile::NamedTempFile::new_in(&dir)?;
        let file = tmp.reopen()?;
        Ok::<_, std::io::Error>((tmp, file))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let (tmp, file) = tmp;
    let ids = collections(all).iter().map(|c| c.id.clone()).collect();
    archiver(state.clone(), ids, file).await?;
    tokio::task::spawn_blocking(move || stadtkarte_core::files::persist(tmp, &target))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    Ok(true)
}

/// The size of the prepared archive of the current version, `None` while it is being prepared.
#[must_use]
pub fn size(cache: &DownloadCache, all: &[Collection]) -> Option<u64> {
    let version = version(all)?;
    std::fs::metadata(path(cache, &version))
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len())
}

/// `GET /opendata/stadtkarte.pmtiles`: the prepared archive, with byte ranges.
pub async fn download(state: &AppState, headers: &HeaderMap) -> Result<Response, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let all = catalog::list(&**client).await?;
    drop(client);
    let version = version(&all)
        .ok_or_else(|| Problem::not_found("There are no tiled collections to archive."))?;
    let etag = format!("\"karte-{version}\"");
    if stadtkarte_core::http::not_modified(headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let target = path(&DownloadCache::new(&state.config), &version);
    if !target.is_file() {
        return Err(Problem::unavailable(
            "Die Kartenkacheln werden vorbereitet / the tile archive is being prepared; please try again later.",
        )
        .retry_after(60));
    }
    let date = modified(&all);
    let name = format!("stadtkarte-{}.pmtiles", date.get(..10).unwrap_or_default());
    send_file(
        &File {
            path: &target,
            media: PMTILES.media,
            etag: &etag,
            name: &name,
            dataset: "alle",
        },
        headers,
    )
    .await
}
