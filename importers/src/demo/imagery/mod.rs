//! Synthetic aerial photographs (orthophotos) of the demo city in three epochs: 1958 (black and
//! white film), 1996 (colour film) and 2023 (digital orthophoto).
//!
//! The pictures are painted from the demo vectors in PostGIS: roofs from `data.gebaeude` (a
//! building appears from its completion year on, one or two years before as a construction
//! site), streets from `data.strassen` (an epoch only shows the streets that have houses by then;
//! a few years earlier they are dirt tracks), water from `data.gewaesser` and the rivers'
//! centre lines. Everything else is procedural land cover from hashed value noise: gardens and
//! courtyards where houses stand, elsewhere a patchwork of fields (smaller parcels before the land
//! consolidation of the 1960s), meadows and forest. Shadows fall away from each epoch's sun.
//!
//! Each epoch has two parts, coarsest first: the whole city at 3 m per pixel and the centre around
//! the Deutsches Eck at 0.4 m (0.2 m in 2023). A part is raw interleaved 8-bit pixels with a GDAL
//! VRT beside it, so any GDAL reader opens it. The same seed always paints the same pictures.
//!
//! Not here: reading, reprojecting or tiling the pictures (that is [`crate::imagery`]).
//!
//! The modules, in the order the pictures come about: `scene` reads the vectors (with `wkb`);
//! `buildings`, `streets` and `water` hold those objects and paint them; `landscape` evaluates
//! the smooth fields once per scene and `ground` paints the land cover from them; `epochs` says
//! what each year and its film look like; `vehicles` places cars and barges; `paint` puts one
//! part together band by band (with `scan` and `noise`) and `part` writes it to disk.

// Pixel arithmetic converts freely between pixel indexes, metres and colour values; all of them
// are small and bounded by the size of the pictures.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap,
    clippy::similar_names
)]

mod buildings;
mod epochs;
mod ground;
mod landscape;
mod noise;
mod paint;
mod part;
mod scan;
mod scene;
mod streets;
mod vehicles;
mod water;
mod wkb;

use std::path::{Path, PathBuf};

use stadtkarte_core::tokio_postgres::{self, Client};

use super::DemoError;
use super::geometry::utm32;
use epochs::{EPOCHS, Epoch};
use landscape::Landscape;
use noise::seed_u32;
use part::{Grid, write_part};
use scene::Scene;

/// One demo epoch: its source files (EPSG:25832, any GDAL-readable raster; coarsest first).
#[derive(Debug, Clone)]
pub struct DemoEpoch {
    /// Identifier, e.g. `luftbild-2023`.
    pub id: &'static str,
    /// Year of the flight.
    pub year: i32,
    /// Human-readable title.
    pub title: &'static str,
    /// Black and white (one band) instead of colour (three bands).
    pub gray: bool,
    /// The VRT files of the parts, coarsest first.
    pub parts: Vec<PathBuf>,
}

/// Why the demo aerial images could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// A query failed.
    #[error("rendering the demo aerial images failed while {what}: {source}")]
    Database {
        /// The step.
        what: &'static str,
        /// The database error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// `data.stadtteile` is empty.
    #[error("the demo city is not loaded (data.stadtteile is empty); run `stadtkarte demo` first")]
    NoCity,
    /// A geometry could not be decoded.
    #[error("unreadable geometry in {table}: {detail}")]
    Geometry {
        /// The table.
        table: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The shipped city frame (boundary, rivers) is unusable.
    #[error(transparent)]
    Frame(#[from] DemoError),
    /// A file could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The rendering thread stopped unexpectedly.
    #[error("the rendering worker stopped: {0}")]
    Worker(String),
}

fn step(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> RenderError {
    move |source| RenderError::Database { what, source }
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> RenderError {
    let path = path.to_path_buf();
    move |source| RenderError::Write { path, source }
}

/// Renders the three epochs into `dir`; returns them oldest first.
///
/// Each part is `<id>-stadtgebiet` (whole city, 3 m) or `<id>-innenstadt` (centre), as `.raw`
/// pixels and the `.vrt` that `parts` lists. At scale 1 that is about 570 MB on disk; painting
/// takes about 10 s on two cores and 400 MB of memory, on a blocking thread of the runtime.
pub async fn render(client: &Client, dir: &Path, seed: u64) -> Result<Vec<DemoEpoch>, RenderError> {
    let scene = Scene::load(client, seed).await?;
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || render_scene(&scene, &dir, seed))
        .await
        .map_err(|e| RenderError::Worker(e.to_string()))?
}

/// Pixel size of the whole-city part, metres: zoom level 15 (3.04 m at Koblenz), so the city's
/// pyramid stays small and the demo fast; the centre part adds the deeper levels.
const CITY_PIXEL: f64 = 3.0;
/// Deutsches Eck, the confluence of Rhine and Moselle (longitude, latitude).
const DEUTSCHES_ECK: (f64, f64) = (7.6057, 50.3644);
/// The centre part: metres west, south, east and north of the Deutsches Eck. 1.6 km x 1.25 km
/// with the old town, Ehrenbreitstein across the Rhine and the Moselle.
const CENTRE_AREA: [f64; 4] = [1_200.0, 840.0, 400.0, 410.0];

fn render_scene(scene: &Scene, dir: &Path, seed: u64) -> Result<Vec<DemoEpoch>, RenderError> {
    std::fs::create_dir_all(dir).map_err(write_error(dir))?;
    let city = Grid::covering(scene.extent, CITY_PIXEL);
    let eck = utm32(DEUTSCHES_ECK.0, DEUTSCHES_ECK.1);
    let (ex, ey) = ((eck.0 / 10.0).round() * 10.0, (eck.1 / 10.0).round() * 10.0);
    let centre = [
        ex - CENTRE_AREA[0],
        ey - CENTRE_AREA[1],
        ex + CENTRE_AREA[2],
        ey + CENTRE_AREA[3],
    ];
    let land = Landscape::new(scene, seed_u32(seed));
    // Files are written by a thread of their own while the next part is painted.
    let (send, receive) = std::sync::mpsc::sync_channel::<(String, Grid, bool, Vec<u8>)>(0);
    std::thread::scope(|s| {
        let writer = s.spawn(move || {
            receive
                .into_iter()
                .map(|(stem, grid, gray, pixels)| write_part(dir, &stem, &grid, gray, &pixels))
                .collect::<Result<Vec<PathBuf>, RenderError>>()
        });
        let mut epochs = Vec::new();
        'epochs: for spec in &EPOCHS {
            let epoch = Epoch::new(scene, spec, seed, &land);
            for (name, grid) in [
                ("stadtgebiet", city),
                ("innenstadt", Grid::covering(centre, spec.fine_pixel)),
            ] {
                let started = std::time::Instant::now();
                let pixels = epoch.paint(&grid);
                let stem = format!("{}-{name}", spec.id);
                tracing::debug!(part = %stem, width = grid.width, height = grid.height,
                    elapsed = ?started.elapsed(), "painted a demo aerial image");
                if send.send((stem, grid, spec.gray, pixels)).is_err() {
                    // The writer stopped on an error, which it reports below.
                    break 'epochs;
                }
            }
            epochs.push(DemoEpoch {
                id: spec.id,
                year: spec.year,
                title: spec.title,
                gray: spec.gray,
                parts: Vec::new(),
            });
        }
        drop(send);
        let mut parts = writer
            .join()
            .map_err(|_| RenderError::Worker("the file writer panicked".to_owned()))??
            .into_iter();
        for epoch in &mut epochs {
            epoch.parts = parts.by_ref().take(2).collect();
        }
        Ok(epochs)
    })
}

/// A point: metres in EPSG:25832, or pixels of a grid.
type Xy = (f64, f64);
/// A colour, about 0 to 255 per channel until the film develops it.
type Rgb = [f32; 3];

/// Min x, min y, max x, max y of `points`.
fn bbox_of<'a>(points: impl IntoIterator<Item = &'a Xy>) -> [f64; 4] {
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for p in points {
        b = [b[0].min(p.0), b[1].min(p.1), b[2].max(p.0), b[3].max(p.1)];
    }
    b
}

/// `b` widened by `by` on every side.
fn grow(b: [f64; 4], by: f64) -> [f64; 4] {
    [b[0] - by, b[1] - by, b[2] + by, b[3] + by]
}
