//! The download preparer: a background task (started by [`crate::router`] when
//! `opendata.prepare_downloads` is on) that, shortly after start and then every
//! `opendata.prepare_interval_secs`, walks every dataset's collections and makes each download
//! that the cache does not hold for the current data version — one file at a time, `ogr2ogr`
//! under `nice` and behind the same lock as requests — and then deletes the files of older
//! versions. The bulk ZIPs of every dataset are made the same way, after the files they
//! bundle, and last the city map's tile archive ([`crate::archive`]). At start it removes what an interrupted preparation left behind
//! ([`DownloadCache::remove_leftovers`]). So the pages and catalogs know every size before anyone
//! downloads, and downloads are served from files with their length (and byte ranges).
//!
//! Every node starts the preparer; a round runs on one node at a time (the advisory lock of
//! [`exclusive::Task::PrepareDownloads`]), so with a shared `opendata.cache_dir` each file is made
//! once. A node that dies mid-round releases the lock with its connection; another node's next
//! round makes what is missing (the dead node's temporary files never carry a final name).

use std::time::{Duration, Instant};

use stadtkarte_core::AppState;
use stadtkarte_core::catalog;
use stadtkarte_core::db::DbError;
use stadtkarte_core::exclusive;
use stadtkarte_core::schema::CollectionSchema;

use crate::archive::{self, TileArchiver};
use crate::cache::DownloadCache;
use crate::downloads::{bulk_parts, bulk_version, make_bulk};
use crate::export::{self, Priority};
use crate::registry::RegistryError;
use crate::{formats, streamed};

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Files made.
    pub made: usize,
    /// Files that could not be made (logged; tried again next round).
    pub failed: usize,
    /// Files of older versions deleted.
    pub removed: usize,
    /// How long it took.
    pub elapsed: Duration,
}

/// Why a round could not run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrepareError {
    /// The database could not be read.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The datasets could not be read.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The cache folder could not be cleaned.
    #[error("cleaning the download cache: {0}")]
    Io(#[from] std::io::Error),
}

/// How long a temporary file or folder of the cache must have been left untouched to count as
/// the leftover of an interrupted preparation.
pub const LEFTOVER_IDLE: Duration = Duration::from_mins(15);

/// Starts the preparer when the configuration asks for it.
pub fn spawn(state: AppState, archiver: TileArchiver) {
    if state.config.opendata.prepare_downloads {
        tokio::spawn(run(state, archiver));
    }
}

async fn run(state: AppState, archiver: TileArchiver) {
    let interval = Duration::from_secs(state.config.opendata.prepare_interval_secs.max(1));
    while !state.is_migrated() {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // What a crashed preparation left (temporary files and folders nobody has written to for
    // a while: another node's running work stays).
    let cache = DownloadCache::new(&state.config);
    match cache.remove_leftovers(LEFTOVER_IDLE) {
        Ok(gone) if !gone.is_empty() => {
            tracing::info!(
                removed = gone.len(),
                "leftovers of an interrupted preparation removed"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "the download cache could not be cleaned"),
    }
    loop {
        let url = state.config.database.url.clone();
        let round = exclusive::run(
            &url,
            exclusive::Task::PrepareDownloads,
            prepare(&state, Some(archiver)),
        )
        .await;
        match round
            .map_err(PrepareError::from)
            .and_then(Option::transpose)
        {
            Ok(None) => {}
            Ok(Some(round)) if round.made + round.failed + round.removed > 0 => tracing::info!(
                made = round.made,
                failed = round.failed,
                removed = round.removed,
                seconds = round.elapsed.as_secs_f64(),
                "downloads prepared"
            ),
            Ok(Some(_)) => tracing::debug!("every download is prepared"),
            Err(e) => tracing::warn!(
                error = %e,
                "preparing downloads failed; next attempt in {} s",
                interval.as_secs()
            ),
        }
        tokio::time::sleep(interval).await;
    }
}

/// One round: makes every missing file of the current versions (the tile archive too when an
/// `archiver` is given), then deletes old ones.
pub async fn prepare(
    state: &AppState,
    archiver: Option<TileArchiver>,
) -> Result<Round, PrepareError> {
    let started = Instant::now();
    let cache = DownloadCache::new(&state.config);
    let client = state.pool.get().await.map_err(DbError::from)?;
    let parts = bulk_parts(&**client).await?;
    drop(client);
    let mut schemas: Vec<&CollectionSchema> = parts.iter().map(|(_, s)| s).collect();
    schemas.sort_by(|a, b| a.collection.id.cmp(&b.collection.id));
    schemas.dedup_by(|a, b| a.collection.id == b.collection.id);
    let mut round = Round::default();
    // The quick streamed formats of every collection first, then the GDAL files.
    let mut jobs: Vec<(&formats::Format, &CollectionSchema)> = Vec::new();
    for streamed_first in [true, false] {
        for format in formats::VECTOR {
            if streamed::EXTS.contains(&format.ext) == streamed_first {
                jobs.extend(schemas.iter().map(|s| (format, *s)));
            }
        }
    }
    for (format, schema) in jobs {
        let target = cache.file(&schema.collection, format.ext);
        if target.is_file() {
            continue;
        }
        let one = Instant::now();
        match make(state, &target, schema, format.ext).await {
            Ok(()) => {
                round.made += 1;
                tracing::debug!(
                    collection = %schema.collection.id,
                    format = format.ext,
                    seconds = one.elapsed().as_secs_f64(),
                    "download prepared"
                );
            }
            Err(e) => {
                round.failed += 1;
                tracing::warn!(
                    collection = %schema.collection.id,
                    format = format.ext,
                    error = %e,
                    "a download could not be prepared"
                );
            }
        }
    }
    // The bulk ZIPs of every dataset, from the files just made.
    let version = bulk_version(&parts);
    for format in export::FILE_FORMATS {
        let target = cache.bulk_file(&version, format.ext.trim_end_matches(".zip"));
        if target.is_file() {
            continue;
        }
        match make_bulk(state, &parts, *format, &target, Priority::Background).await {
            Ok(()) => {
                round.made += 1;
                tracing::debug!(file = %target.display(), "bulk ZIP prepared");
            }
            Err(e) => {
                round.failed += 1;
                tracing::warn!(format = format.ext, error = %e, "a bulk ZIP could not be prepared");
            }
        }
    }
    // The city map's tile archive, from the collections as they are now.
    if let Some(archiver) = archiver {
        let client = state.pool.get().await.map_err(DbError::from)?;
        let collections = catalog::list(&**client).await?;
        drop(client);
        match archive::prepare(state, archiver, &collections).await {
            Ok(made) => {
                round.made += usize::from(made);
                if made {
                    tracing::debug!("tile archive prepared");
                }
            }
            Err(e) => {
                round.failed += 1;
                tracing::warn!(error = %e, "the tile archive could not be prepared");
            }
        }
    }
    let client = state.pool.get().await.map_err(DbError::from)?;
    let current = catalog::list(&**client).await?;
    // The datasets as they are now, in case they changed during the round.
    let now = bulk_parts(&**client).await?;
    drop(client);
    round.removed = cache
        .remove_stale(
            &current,
            Some(&bulk_version(&now)),
            archive::version(&current).as_deref(),
        )?
        .len();
    round.elapsed = started.elapsed();
    Ok(round)
}

async fn make(
    state: &AppState,
    target: &std::path::Path,
    schema: &CollectionSchema,
    ext: &str,
) -> Result<(), String> {
    if let Some(gdal) = export::file_format(ext) {
        return export::file(state, target, schema, gdal, Priority::Background)
            .await
            .map_err(|e| e.to_string());
    }
    let writer = streamed::writer(schema, ext).ok_or_else(|| format!("no writer for {ext}"))?;
    let client = state
        .pool
        .get()
        .await
        .map_err(|e| DbError::from(e).to_string())?;
    streamed::write_file(&**client, writer, target)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
