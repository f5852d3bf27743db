//! Downloads of aerial-imagery epochs: `/opendata/{dataset}/{epoch}.tif` is the deepest level of
//! the epoch's finest part, `{epoch}-teil{N}.tif` the deepest level of each coarser part
//! (N = part + 1). Each is a file `stadtkarte import imagery` prepared — a WebP-compressed
//! Cloud-Optimized `GeoTIFF` in EPSG:3857 (Web Mercator), RGB with alpha — served exactly as
//! stored; the sizes come from the files.

use std::path::{Path, PathBuf};

use axum::http::HeaderMap;
use axum::response::Response;
use stadtkarte_core::imagery::EpochRow;
use stadtkarte_core::{AppState, Problem};

use crate::downloads::{File, send_file};
use crate::formats::GEOTIFF;
use crate::registry::Dataset;

/// Width in metres of a `WebMercatorQuad` tile at zoom 0, divided by its 256 pixels.
const PIXEL_AT_ZOOM_0: f64 = 156_543.033_928_041;

/// One download of an epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochFile {
    /// File name without `.tif`: the epoch id, or `{epoch}-teil{N}` for a coarser part.
    pub stem: String,
    /// Part of the epoch (0 = coarsest).
    pub part: u32,
    /// Number of parts of the epoch.
    pub parts: u32,
    /// Zoom level of the file, the deepest of its part.
    pub zoom: u8,
    /// Where the file is.
    pub path: PathBuf,
    /// Its size, when it is there.
    pub bytes: Option<u64>,
}

impl EpochFile {
    /// Pixel size in metres (EPSG:3857 units) of the file.
    #[must_use]
    pub fn pixel_size(&self) -> f64 {
        PIXEL_AT_ZOOM_0 / 2f64.powi(i32::from(self.zoom))
    }

    /// Whether this is the epoch's finest part (the file named like the epoch).
    #[must_use]
    pub fn finest(&self) -> bool {
        self.part + 1 == self.parts
    }
}

/// The downloads of `epoch` whose level files lie under `imagery_dir`: the finest part first,
/// then the coarser ones from fine to coarse.
#[must_use]
pub fn files(epoch: &EpochRow, imagery_dir: &Path) -> Vec<EpochFile> {
    let Some(finest) = epoch.levels.iter().map(|l| l.part).max() else {
        return Vec::new();
    };
    (0..=finest)
        .rev()
        .filter_map(|part| {
            let level = epoch
                .levels
                .iter()
                .filter(|l| l.part == part)
                .max_by_key(|l| l.zoom)?;
            let path = imagery_dir.join(&level.file);
            let bytes = std::fs::metadata(&path)
                .ok()
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len());
            Some(EpochFile {
                stem: if part == finest {
                    epoch.id.clone()
                } else {
                    format!("{}-teil{}", epoch.id, part + 1)
                },
                part,
                parts: finest + 1,
                zoom: level.zoom,
                path,
                bytes,
            })
        })
        .collect()
}

/// The imagery folder of the configuration.
#[must_use]
pub fn dir(state: &AppState) -> PathBuf {
    PathBuf::from(&state.config.imagery.dir)
}

/// `GET /opendata/{dataset}/{stem}.tif`.
pub async fn download(
    state: &AppState,
    dataset: &Dataset,
    stem: &str,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    let client = state
        .pool
        .get()
        .await
        .map_err(stadtkarte_core::db::DbError::from)?;
    let mut epochs = Vec::new();
    for id in &dataset.imagery {
        if let Some(e) = stadtkarte_core::imagery::get(&**client, id).await? {
            epochs.push(e);
        }
    }
    drop(client);
    let dir = dir(state);
    let found = epochs.iter().find_map(|e| {
        files(e, &dir)
            .into_iter()
            .find(|f| f.stem == stem)
            .map(|f| (e, f))
    });
    let Some((epoch, file)) = found else {
        let offered: Vec<String> = epochs
            .iter()
            .flat_map(|e| files(e, &dir))
            .map(|f| format!("{}.tif", f.stem))
            .collect();
        return Err(Problem::not_found(if offered.is_empty() {
            format!("Dataset {:?} has no imagery to download.", dataset.id)
        } else {
            format!(
                "Dataset {:?} has no file {stem}.tif; it has {}.",
                dataset.id,
                offered.join(", ")
            )
        }));
    };
    let etag = format!("\"{}-{}-z{}\"", epoch.version, file.part, file.zoom);
    if stadtkarte_core::http::not_modified(headers, &etag) {
        return Ok(crate::downloads::not_modified(&etag));
    }
    if file.bytes.is_none() {
        return Err(Problem::internal(format!(
            "imagery file {} of epoch {} is missing",
            file.path.display(),
            epoch.id
        )));
    }
    send_file(
        &File {
            path: &file.path,
            media: GEOTIFF.media,
            etag: &etag,
            name: &format!("{}-{}.tif", dataset.id, file.stem),
            dataset: &dataset.id,
        },
        headers,
    )
    .await
}
