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

// Pixel arithmetic converts freely between pixel indexes, metres and colour values; all of them
// are small and bounded by the size of the pictures.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap,
    clippy::similar_names
)]

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use stadtkarte_core::tokio_postgres::{self, Client};

use super::geometry::{contains, utm32};
use super::{CityFrame, DemoError, boundary_lonlat};

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

// ---------------------------------------------------------------------------------------------
// Epochs and parts

/// Pixel size of the whole-city part, metres: zoom level 15 (3.04 m at Koblenz), so the city's
/// pyramid stays small and the demo fast; the centre part adds the deeper levels.
const CITY_PIXEL: f64 = 3.0;
/// Deutsches Eck, the confluence of Rhine and Moselle (longitude, latitude).
const DEUTSCHES_ECK: (f64, f64) = (7.6057, 50.3644);
/// The centre part: metres west, south, east and north of the Deutsches Eck. 1.6 km x 1.25 km
/// with the old town, Ehrenbreitstein across the Rhine and the Moselle.
const CENTRE_AREA: [f64; 4] = [1_200.0, 840.0, 400.0, 410.0];
/// The epoch that shows the city as the vectors describe it today.
const LATEST: i32 = 2023;
/// Rows painted as one unit of work.
const BAND_ROWS: usize = 64;

struct EpochSpec {
    id: &'static str,
    year: i32,
    title: &'static str,
    gray: bool,
    /// Pixel size of the centre part, metres.
    fine_pixel: f64,
    /// Sun azimuth (degrees clockwise from north) and elevation (degrees) at the time of flight.
    sun: (f32, f32),
}

const EPOCHS: [EpochSpec; 3] = [
    EpochSpec {
        id: "luftbild-1958",
        year: 1958,
        title: "Luftbild 1958",
        gray: true,
        fine_pixel: 0.4,
        sun: (218.0, 50.0),
    },
    EpochSpec {
        id: "luftbild-1996",
        year: 1996,
        title: "Luftbild 1996",
        gray: false,
        fine_pixel: 0.4,
        sun: (200.0, 52.0),
    },
    EpochSpec {
        id: "luftbild-2023",
        year: 2023,
        title: "Digitales Orthophoto 2023",
        gray: false,
        fine_pixel: 0.2,
        sun: (165.0, 60.0),
    },
];

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

/// A north-up pixel grid in EPSG:25832.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Grid {
    /// West edge.
    x0: f64,
    /// North edge.
    top: f64,
    /// Pixel size in metres.
    pixel: f64,
    width: usize,
    height: usize,
}

impl Grid {
    /// The grid of `pixel` metres covering `extent` (min x, min y, max x, max y), with its edges
    /// on whole 10 m.
    fn covering(extent: [f64; 4], pixel: f64) -> Self {
        let x0 = (extent[0] / 10.0).floor() * 10.0;
        let y0 = (extent[1] / 10.0).floor() * 10.0;
        let x1 = (extent[2] / 10.0).ceil() * 10.0;
        let top = (extent[3] / 10.0).ceil() * 10.0;
        Self {
            x0,
            top,
            pixel,
            width: ((x1 - x0) / pixel).round().max(1.0) as usize,
            height: ((top - y0) / pixel).round().max(1.0) as usize,
        }
    }

    /// World coordinates to fractional pixel coordinates (x right, y down).
    fn to_pixel(self, p: Xy) -> Xy {
        ((p.0 - self.x0) / self.pixel, (self.top - p.1) / self.pixel)
    }

    /// The bands of rows that a world bounding box touches, if it overlaps the grid at all.
    fn bands(&self, bbox: [f64; 4]) -> Option<Range<usize>> {
        let x1 = self.x0 + self.width as f64 * self.pixel;
        let y0 = self.top - self.height as f64 * self.pixel;
        if bbox[2] < self.x0 || bbox[0] > x1 || bbox[3] < y0 || bbox[1] > self.top {
            return None;
        }
        let first = ((self.top - bbox[3]) / self.pixel).floor().max(0.0) as usize;
        let last = (((self.top - bbox[1]) / self.pixel).ceil().max(0.0) as usize)
            .min(self.height.saturating_sub(1));
        Some(first / BAND_ROWS..last / BAND_ROWS + 1)
    }
}

/// Writes `pixels` as `<stem>.raw` with `<stem>.vrt` beside it; returns the VRT's path.
fn write_part(
    dir: &Path,
    stem: &str,
    grid: &Grid,
    gray: bool,
    pixels: &[u8],
) -> Result<PathBuf, RenderError> {
    let raw_name = format!("{stem}.raw");
    let raw = dir.join(&raw_name);
    std::fs::write(&raw, pixels).map_err(write_error(&raw))?;
    let vrt = dir.join(format!("{stem}.vrt"));
    std::fs::write(&vrt, vrt_text(grid, &raw_name, gray)).map_err(write_error(&vrt))?;
    Ok(vrt)
}

/// A GDAL VRT that reads raw interleaved 8-bit pixels from `raw_name` beside it.
fn vrt_text(grid: &Grid, raw_name: &str, gray: bool) -> String {
    let bands: &[&str] = if gray {
        &["Gray"]
    } else {
        &["Red", "Green", "Blue"]
    };
    let mut s = format!(
        "<VRTDataset rasterXSize=\"{}\" rasterYSize=\"{}\">\n  <SRS>EPSG:25832</SRS>\n  \
         <GeoTransform>{}, {}, 0, {}, 0, {}</GeoTransform>\n",
        grid.width, grid.height, grid.x0, grid.pixel, grid.top, -grid.pixel
    );
    for (i, interp) in bands.iter().enumerate() {
        let _ = write!(
            s,
            "  <VRTRasterBand dataType=\"Byte\" band=\"{band}\" subClass=\"VRTRawRasterBand\">\n    \
             <ColorInterp>{interp}</ColorInterp>\n    \
             <SourceFilename relativeToVRT=\"1\">{raw_name}</SourceFilename>\n    \
             <ImageOffset>{i}</ImageOffset>\n    <PixelOffset>{n}</PixelOffset>\n    \
             <LineOffset>{line}</LineOffset>\n  </VRTRasterBand>\n",
            band = i + 1,
            n = bands.len(),
            line = grid.width * bands.len(),
        );
    }
    s.push_str("</VRTDataset>\n");
    s
}

// ---------------------------------------------------------------------------------------------
// The scene: vectors from the database

type Xy = (f64, f64);
type Rgb = [f32; 3];

struct Scene {
    /// Min x, min y, max x, max y of the districts.
    extent: [f64; 4],
    /// Origin of the local coordinates that textures use (f32 stays precise in them).
    origin: Xy,
    buildings: Vec<Building>,
    streets: Vec<Street>,
    water: Vec<Water>,
    /// River centre lines with half widths, for the barges.
    rivers: Vec<(Vec<Xy>, f64)>,
}

struct Building {
    ring: Vec<Xy>,
    bbox: [f64; 4],
    centroid: Xy,
    year: i32,
    height: f64,
    roof: Roof,
    plot: Option<Plot>,
}

/// What surrounds a house: its garden lot (a tint over the ground), the paved yard and hedges.
struct Plot {
    lot: [Xy; 4],
    yards: [[Xy; 4]; 2],
    hedges: Vec<[Xy; 4]>,
}

impl Plot {
    /// The generator writes a house as a rectangle whose first edge faces the street and whose
    /// fourth corner lies towards the back garden; other shapes get no plot.
    fn around(ring: &[Xy], h: u32) -> Option<Self> {
        let [p0, p1, _, p3] = ring else {
            return None;
        };
        let width = (p1.0 - p0.0).hypot(p1.1 - p0.1);
        let depth = (p3.0 - p0.0).hypot(p3.1 - p0.1);
        if width < 1.0 || depth < 1.0 {
            return None;
        }
        let a = ((p1.0 - p0.0) / width, (p1.1 - p0.1) / width);
        let r = ((p3.0 - p0.0) / depth, (p3.1 - p0.1) / depth);
        let rect = |a0: f64, a1: f64, r0: f64, r1: f64| {
            let at = |al: f64, ac: f64| (p0.0 + a.0 * al + r.0 * ac, p0.1 + a.1 * al + r.1 * ac);
            [at(a0, r0), at(a1, r0), at(a1, r1), at(a0, r1)]
        };
        let roll = |k: i32| f64::from(unit(hash(h, k, 0)));
        let side = 0.6 + 0.9 * roll(11);
        let front = 1.2 + 2.0 * roll(12);
        let back = 1.5 + 3.0 * roll(13);
        let end = depth + 12.0 + 10.0 * roll(14);
        let mut hedges = Vec::new();
        for (k, along) in [(15, -1.2), (16, width + 1.2)] {
            if roll(k) < 0.55 {
                hedges.push(rect(along - 0.9, along + 0.9, depth + back, end));
            }
        }
        // A drive or front garden path, and a terrace behind the house.
        let (t0, t1) = (width * 0.5 * roll(18), width * (0.55 + 0.45 * roll(19)));
        Some(Self {
            lot: rect(-1.2, width + 1.2, -front, end),
            yards: [
                rect(-side, width + side, -front, 0.0),
                rect(t0, t1, depth, depth + back),
            ],
            hedges,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RoofKind {
    Gable,
    Hip,
    Flat,
    /// A flat roof that is planted from 2010 on.
    Green,
}

/// The roof in its own frame: `u` along the ridge from `origin`, `v` across it.
struct Roof {
    kind: RoofKind,
    colour: Rgb,
    origin: (f32, f32),
    along: (f32, f32),
    across: (f32, f32),
    length: f32,
    width: f32,
    hash: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StreetClass {
    Main,
    Collector,
    Local,
}

impl StreetClass {
    fn parse(klasse: &str) -> Self {
        match klasse {
            "Hauptverkehrsstraße" => Self::Main,
            "Sammelstraße" => Self::Collector,
            _ => Self::Local,
        }
    }

    /// Half width of the carriageway and of the whole street space, metres.
    fn widths(self) -> (f64, f64) {
        match self {
            Self::Main => (5.0, 7.5),
            Self::Collector => (3.5, 5.5),
            Self::Local => (2.75, 4.25),
        }
    }
}

/// One straight piece of a street.
struct Street {
    a: Xy,
    b: Xy,
    class: StreetClass,
    /// Completion year of the oldest building along it (`i32::MIN` when none).
    year: i32,
    /// Half width of the carriageway.
    half: f64,
    /// Half width including the pavements.
    outer: f64,
}

struct Water {
    rings: Vec<Vec<Xy>>,
    bbox: [f64; 4],
    /// 0 Rhine, 1 Moselle.
    river: u8,
    layer: Layer,
}

/// What a river shape paints, in this order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layer {
    /// Trees and meadows along the river.
    Bank,
    /// Stones at the water's edge.
    Edge,
    Water,
}

impl Scene {
    async fn load(client: &Client, seed: u64) -> Result<Self, RenderError> {
        let row = client
            .query_one(
                "SELECT ST_XMin(b)::float8, ST_YMin(b)::float8, ST_XMax(b)::float8, \
                 ST_YMax(b)::float8 FROM (SELECT ST_Extent(geom) AS b FROM data.stadtteile) s",
                &[],
            )
            .await
            .map_err(step("reading the city extent"))?;
        let extent: [Option<f64>; 4] = [row.get(0), row.get(1), row.get(2), row.get(3)];
        let [Some(x0), Some(y0), Some(x1), Some(y1)] = extent else {
            return Err(RenderError::NoCity);
        };
        let extent = [x0, y0, x1, y1];
        let origin = ((x0 / 10.0).floor() * 10.0, (y0 / 10.0).floor() * 10.0);
        let salt = seed_u32(seed);

        let rows = client
            .query(
                "SELECT id, ST_AsBinary(geom), extract(year FROM fertigstellung)::int, funktion, \
                 hoehe::float8 FROM data.gebaeude",
                &[],
            )
            .await
            .map_err(step("reading the buildings"))?;
        let mut buildings = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.get(0);
            let wkb: &[u8] = row.get(1);
            let geometry = parse_wkb(wkb).map_err(|detail| RenderError::Geometry {
                table: "data.gebaeude",
                detail,
            })?;
            for ring in geometry.outer_rings() {
                if ring.len() >= 3 {
                    buildings.push(Building::new(
                        ring,
                        row.get(2),
                        row.get(3),
                        row.get(4),
                        hash(salt, id as i32, (id >> 32) as i32),
                        origin,
                    ));
                }
            }
        }

        let rows = client
            .query("SELECT ST_AsBinary(geom), klasse FROM data.strassen", &[])
            .await
            .map_err(step("reading the streets"))?;
        let mut lines = Vec::with_capacity(rows.len());
        for row in &rows {
            let geometry = parse_wkb(row.get(0)).map_err(|detail| RenderError::Geometry {
                table: "data.strassen",
                detail,
            })?;
            if let Geometry::LineString(line) = geometry {
                lines.push((line, StreetClass::parse(row.get(1))));
            }
        }
        let streets = streets_along(&buildings, &lines, extent);

        let rows = client
            .query("SELECT name, ST_AsBinary(geom) FROM data.gewaesser", &[])
            .await
            .map_err(step("reading the rivers"))?;
        let mut water = Vec::new();
        for row in &rows {
            let name: &str = row.get(0);
            let geometry = parse_wkb(row.get(1)).map_err(|detail| RenderError::Geometry {
                table: "data.gewaesser",
                detail,
            })?;
            let river = u8::from(name.contains("Mosel"));
            for polygon in geometry.polygons() {
                water.push(Water::new(polygon, river, Layer::Water));
            }
        }
        // The table stops at the city boundary; the centre lines carry the rivers on to the
        // edges of the picture.
        let frame = CityFrame::new(&boundary_lonlat()?);
        for (i, (line, half)) in frame.rivers.iter().enumerate() {
            let outside = |p: &Xy| !contains(&frame.boundary, *p);
            let river = u8::from(i == 1);
            for (layer, margin) in [(Layer::Bank, 16.0), (Layer::Edge, 3.0), (Layer::Water, 0.0)] {
                water.extend(river_shapes(line, half + margin, river, layer, outside));
            }
        }
        Ok(Self {
            extent,
            origin,
            buildings,
            streets,
            water,
            rivers: frame.rivers,
        })
    }
}

fn seed_u32(seed: u64) -> u32 {
    (seed ^ (seed >> 32)) as u32 ^ 0x5EED_1A6E
}

fn bbox_of<'a>(points: impl IntoIterator<Item = &'a Xy>) -> [f64; 4] {
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for p in points {
        b = [b[0].min(p.0), b[1].min(p.1), b[2].max(p.0), b[3].max(p.1)];
    }
    b
}

fn grow(b: [f64; 4], by: f64) -> [f64; 4] {
    [b[0] - by, b[1] - by, b[2] + by, b[3] + by]
}

impl Building {
    fn new(mut ring: Vec<Xy>, year: i32, funktion: &str, height: f64, h: u32, origin: Xy) -> Self {
        let closed =
            |a: &Xy, b: &Xy| a.0.to_bits() == b.0.to_bits() && a.1.to_bits() == b.1.to_bits();
        if ring.len() > 3
            && ring
                .first()
                .zip(ring.last())
                .is_some_and(|(a, b)| closed(a, b))
        {
            ring.pop();
        }
        let bbox = bbox_of(&ring);
        let n = ring.len() as f64;
        let centroid = (
            ring.iter().map(|p| p.0).sum::<f64>() / n,
            ring.iter().map(|p| p.1).sum::<f64>() / n,
        );
        // The ridge runs along the longest edge.
        let mut along = (1.0, 0.0);
        let mut longest = 0.0;
        for (i, a) in ring.iter().enumerate() {
            let b = ring[(i + 1) % ring.len()];
            let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            if len > longest {
                longest = len;
                along = ((b.0 - a.0) / len, (b.1 - a.1) / len);
            }
        }
        let across = (-along.1, along.0);
        let (mut umin, mut umax, mut vmin, mut vmax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in &ring {
            let (dx, dy) = (p.0 - centroid.0, p.1 - centroid.1);
            let (u, v) = (dx * along.0 + dy * along.1, dx * across.0 + dy * across.1);
            (umin, umax, vmin, vmax) = (umin.min(u), umax.max(u), vmin.min(v), vmax.max(v));
        }
        let corner = (
            centroid.0 + umin * along.0 + vmin * across.0 - origin.0,
            centroid.1 + umin * along.1 + vmin * across.1 - origin.1,
        );
        let roof = Roof {
            kind: roof_kind(funktion, year, h),
            colour: roof_colour(funktion, year, h),
            origin: (corner.0 as f32, corner.1 as f32),
            along: (along.0 as f32, along.1 as f32),
            across: (across.0 as f32, across.1 as f32),
            length: (umax - umin) as f32,
            width: (vmax - vmin) as f32,
            hash: h,
        };
        let plot = if funktion == "Garage" {
            None
        } else {
            Plot::around(&ring, h)
        };
        Self {
            ring,
            bbox,
            centroid,
            year,
            height,
            roof,
            plot,
        }
    }
}

fn roof_kind(funktion: &str, year: i32, h: u32) -> RoofKind {
    let roll = unit(hash(h, 1, 0));
    let flat = match funktion {
        "Gewerbe" | "Schule" => 0.9,
        "Öffentliches Gebäude" => 0.5,
        "Garage" => 0.75,
        "Wohn- und Geschäftsgebäude" if year >= 1955 => 0.45,
        "Wohnhaus" if (1960..1985).contains(&year) => 0.2,
        "Kirche" => 0.0,
        _ => 0.04,
    };
    if roll < flat {
        if year >= 1995 && unit(hash(h, 2, 0)) < 0.2 {
            RoofKind::Green
        } else {
            RoofKind::Flat
        }
    } else if unit(hash(h, 3, 0)) < 0.35 {
        RoofKind::Hip
    } else {
        RoofKind::Gable
    }
}

fn roof_colour(funktion: &str, year: i32, h: u32) -> Rgb {
    const RED: [Rgb; 4] = [
        [152.0, 80.0, 62.0],
        [164.0, 94.0, 72.0],
        [134.0, 72.0, 58.0],
        [148.0, 102.0, 80.0],
    ];
    const BROWN: [Rgb; 3] = [[112.0, 80.0, 64.0], [98.0, 72.0, 62.0], [126.0, 92.0, 70.0]];
    const SLATE: [Rgb; 3] = [[70.0, 72.0, 80.0], [84.0, 86.0, 92.0], [58.0, 61.0, 68.0]];
    const FLAT: [Rgb; 4] = [
        [176.0, 175.0, 168.0],
        [152.0, 154.0, 152.0],
        [194.0, 190.0, 180.0],
        [128.0, 131.0, 132.0],
    ];
    let pick = |list: &[Rgb]| list[(hash(h, 4, 0) as usize) % list.len()];
    let roll = unit(hash(h, 5, 0));
    let base = if matches!(
        roof_kind(funktion, year, h),
        RoofKind::Flat | RoofKind::Green
    ) {
        pick(&FLAT)
    } else {
        // Slate is the old roof of the Rhine and Moselle towns, red tiles the common one.
        let (slate, red) = if year < 1900 {
            (0.6, 0.3)
        } else if year < 1960 {
            (0.3, 0.5)
        } else {
            (0.35, 0.4)
        };
        if funktion == "Kirche" || roll < slate {
            pick(&SLATE)
        } else if roll < slate + red {
            pick(&RED)
        } else {
            pick(&BROWN)
        }
    };
    scale(base, 0.9 + 0.2 * unit(hash(h, 6, 0)))
}

/// The pieces of `lines`, with the width the buildings along them leave free and the year of
/// the oldest of those buildings.
fn streets_along(
    buildings: &[Building],
    lines: &[(Vec<Xy>, StreetClass)],
    extent: [f64; 4],
) -> Vec<Street> {
    const CELL: f64 = 40.0;
    const REACH: f64 = 30.0;
    let nx = ((extent[2] - extent[0]) / CELL).ceil().max(1.0) as usize + 1;
    let ny = ((extent[3] - extent[1]) / CELL).ceil().max(1.0) as usize + 1;
    let cell_of = |p: Xy| {
        (
            ((p.0 - extent[0]) / CELL)
                .floor()
                .clamp(0.0, (nx - 1) as f64) as usize,
            ((p.1 - extent[1]) / CELL)
                .floor()
                .clamp(0.0, (ny - 1) as f64) as usize,
        )
    };
    let mut cells: Vec<Vec<u32>> = vec![Vec::new(); nx * ny];
    for (i, b) in buildings.iter().enumerate() {
        let (cx, cy) = cell_of(b.centroid);
        cells[cy * nx + cx].push(i as u32);
    }
    let mut streets = Vec::new();
    for (line, class) in lines {
        let (class_half, class_outer) = class.widths();
        for w in line.windows(2) {
            let (a, b) = (w[0], w[1]);
            let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            if len < 0.01 {
                continue;
            }
            let d = ((b.0 - a.0) / len, (b.1 - a.1) / len);
            let reach = grow(bbox_of(&[a, b]), REACH + CELL);
            let (c0, c1) = (cell_of((reach[0], reach[1])), cell_of((reach[2], reach[3])));
            let mut year = i32::MAX;
            let mut setback = f64::MAX;
            for cy in c0.1..=c1.1 {
                for cx in c0.0..=c1.0 {
                    for &i in &cells[cy * nx + cx] {
                        let building = &buildings[i as usize];
                        let local = |p: Xy| {
                            let (dx, dy) = (p.0 - a.0, p.1 - a.1);
                            (dx * d.0 + dy * d.1, (dx * d.1 - dy * d.0).abs())
                        };
                        let (t, dist) = local(building.centroid);
                        if dist > REACH || t < -0.1 * len || t > 1.1 * len {
                            continue;
                        }
                        year = year.min(building.year);
                        for &p in &building.ring {
                            let (t, dist) = local(p);
                            if t > 0.05 * len && t < 0.95 * len {
                                setback = setback.min(dist);
                            }
                        }
                    }
                }
            }
            let outer = class_outer.min(setback - 0.2).max(1.2);
            let half = if outer < 3.0 {
                outer
            } else {
                class_half.min(outer * 0.75)
            };
            streets.push(Street {
                a,
                b,
                class: *class,
                year: if year == i32::MAX { i32::MIN } else { year },
                half,
                outer,
            });
        }
    }
    streets
}

impl Water {
    fn new(rings: Vec<Vec<Xy>>, river: u8, layer: Layer) -> Self {
        let bbox = bbox_of(rings.iter().flatten());
        Self {
            rings,
            bbox,
            river,
            layer,
        }
    }
}

/// A river as polygons: one rectangle per piece of the centre line and a disc at each bend. Ends
/// `outside` the city are carried 5 km on, to the edge of the picture; an end inside flows into
/// the other river (the Moselle into the Rhine) and is carried on by its half width.
fn river_shapes(
    line: &[Xy],
    half: f64,
    river: u8,
    layer: Layer,
    outside: impl Fn(&Xy) -> bool,
) -> Vec<Water> {
    let mut shapes = Vec::new();
    let n = line.len();
    for (i, w) in line.windows(2).enumerate() {
        let (mut a, mut b) = (w[0], w[1]);
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        if len < 0.01 {
            continue;
        }
        let d = ((b.0 - a.0) / len, (b.1 - a.1) / len);
        let reach = |p: &Xy| if outside(p) { 5_000.0 } else { half };
        if i == 0 {
            let r = reach(&a);
            a = (a.0 - d.0 * r, a.1 - d.1 * r);
        }
        if i + 2 == n {
            let r = reach(&b);
            b = (b.0 + d.0 * r, b.1 + d.1 * r);
        }
        let nrm = (-d.1 * half, d.0 * half);
        shapes.push(Water::new(
            vec![vec![
                (a.0 + nrm.0, a.1 + nrm.1),
                (b.0 + nrm.0, b.1 + nrm.1),
                (b.0 - nrm.0, b.1 - nrm.1),
                (a.0 - nrm.0, a.1 - nrm.1),
            ]],
            river,
            layer,
        ));
        if i > 0 {
            let disc = (0..32)
                .map(|k| {
                    let t = f64::from(k) * std::f64::consts::TAU / 32.0;
                    (a.0 + half * t.cos(), a.1 + half * t.sin())
                })
                .collect();
            shapes.push(Water::new(vec![disc], river, layer));
        }
    }
    shapes
}

// ---------------------------------------------------------------------------------------------
// WKB

/// The geometries the demo tables hold.
#[derive(Debug, Clone, PartialEq)]
enum Geometry {
    LineString(Vec<Xy>),
    Polygon(Vec<Vec<Xy>>),
    MultiPolygon(Vec<Vec<Vec<Xy>>>),
}

impl Geometry {
    fn polygons(self) -> Vec<Vec<Vec<Xy>>> {
        match self {
            Self::LineString(_) => Vec::new(),
            Self::Polygon(p) => vec![p],
            Self::MultiPolygon(m) => m,
        }
    }

    fn outer_rings(self) -> Vec<Vec<Xy>> {
        self.polygons()
            .into_iter()
            .filter_map(|p| p.into_iter().next())
            .collect()
    }
}

struct WkbReader<'a> {
    data: &'a [u8],
    pos: usize,
    little: bool,
}

impl WkbReader<'_> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let chunk = self
            .data
            .get(self.pos..self.pos + N)
            .ok_or_else(|| format!("WKB ends early at byte {}", self.pos))?;
        self.pos += N;
        let mut out = [0; N];
        out.copy_from_slice(chunk);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.bytes::<4>()?;
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self) -> Result<f64, String> {
        let b = self.bytes::<8>()?;
        Ok(if self.little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    /// A count, checked against the bytes left so that garbage cannot allocate gigabytes.
    fn count(&mut self, item_size: usize) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n.saturating_mul(item_size) > self.data.len() - self.pos {
            return Err(format!("WKB count {n} exceeds the data"));
        }
        Ok(n)
    }

    fn points(&mut self) -> Result<Vec<Xy>, String> {
        let n = self.count(16)?;
        (0..n).map(|_| Ok((self.f64()?, self.f64()?))).collect()
    }

    fn rings(&mut self) -> Result<Vec<Vec<Xy>>, String> {
        let n = self.count(4)?;
        (0..n).map(|_| self.points()).collect()
    }

    fn geometry(&mut self) -> Result<Geometry, String> {
        self.little = match self.bytes::<1>()? {
            [0] => false,
            [1] => true,
            [b] => return Err(format!("WKB byte order {b}")),
        };
        let mut kind = self.u32()?;
        // PostGIS's extended WKB carries an SRID after the type.
        if kind & 0x2000_0000 != 0 {
            self.u32()?;
            kind &= !0x2000_0000;
        }
        match kind {
            2 => Ok(Geometry::LineString(self.points()?)),
            3 => Ok(Geometry::Polygon(self.rings()?)),
            6 => {
                let n = self.count(9)?;
                let mut polygons = Vec::with_capacity(n);
                for _ in 0..n {
                    match self.geometry()? {
                        Geometry::Polygon(p) => polygons.push(p),
                        _ => return Err("a multipolygon holds a non-polygon".to_owned()),
                    }
                }
                Ok(Geometry::MultiPolygon(polygons))
            }
            other => Err(format!(
                "WKB type {other}: only 2D LineString, Polygon and MultiPolygon are read"
            )),
        }
    }
}

fn parse_wkb(data: &[u8]) -> Result<Geometry, String> {
    let mut reader = WkbReader {
        data,
        pos: 0,
        little: true,
    };
    let geometry = reader.geometry()?;
    if reader.pos != data.len() {
        return Err(format!(
            "{} bytes after the WKB geometry",
            data.len() - reader.pos
        ));
    }
    Ok(geometry)
}

// ---------------------------------------------------------------------------------------------
// Scanline fill with anti-aliased coverage

/// Sub-scanlines per pixel row.
const SUB_ROWS: usize = 4;

/// Fills polygons by scanline: each pixel gets the share of its area that the polygon covers
/// (exact across a row, four samples down a column). Rings follow the even-odd rule.
#[derive(Default)]
struct Scan {
    edges: Vec<(Xy, Xy)>,
    xs: Vec<f64>,
    acc: Vec<f32>,
}

impl Scan {
    fn clear(&mut self) {
        self.edges.clear();
    }

    /// Adds a ring in pixel coordinates, closed or not.
    fn ring(&mut self, ring: impl IntoIterator<Item = Xy>) {
        let start = self.edges.len();
        let mut first = None;
        let mut last: Option<Xy> = None;
        for p in ring {
            if let Some(q) = last {
                self.edges.push((q, p));
            } else {
                first = Some(p);
            }
            last = Some(p);
        }
        if let (Some(f), Some(l)) = (first, last)
            && self.edges.len() > start
        {
            self.edges.push((l, f));
        }
    }

    /// Calls `f(x, y, coverage)` for every pixel of rows `rows` (and columns `0..width`) that
    /// the rings touch.
    fn fill(&mut self, rows: Range<usize>, width: usize, mut f: impl FnMut(usize, usize, f32)) {
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for (p, q) in &self.edges {
            b = [
                b[0].min(p.0.min(q.0)),
                b[1].min(p.1.min(q.1)),
                b[2].max(p.0.max(q.0)),
                b[3].max(p.1.max(q.1)),
            ];
        }
        if b[0] > b[2] || b[2] <= 0.0 || b[0] >= width as f64 {
            return;
        }
        let y0 = (b[1].floor().max(0.0) as usize).max(rows.start);
        let y1 = (b[3].ceil().max(0.0) as usize).min(rows.end);
        let x0 = b[0].floor().max(0.0) as usize;
        let x1 = (b[2].ceil() as usize).min(width);
        if y0 >= y1 || x0 >= x1 {
            return;
        }
        let weight = 1.0 / SUB_ROWS as f32;
        for y in y0..y1 {
            self.acc.clear();
            self.acc.resize(x1 - x0, 0.0);
            for s in 0..SUB_ROWS {
                let sy = y as f64 + (s as f64 + 0.5) / SUB_ROWS as f64;
                self.xs.clear();
                for &(p, q) in &self.edges {
                    if (p.1 <= sy) != (q.1 <= sy) {
                        self.xs.push(p.0 + (sy - p.1) * (q.0 - p.0) / (q.1 - p.1));
                    }
                }
                self.xs.sort_unstable_by(f64::total_cmp);
                for pair in self.xs.chunks_exact(2) {
                    add_span(&mut self.acc, x0, pair[0], pair[1], weight);
                }
            }
            for (i, &c) in self.acc.iter().enumerate() {
                if c > 0.002 {
                    f(x0 + i, y, c.min(1.0));
                }
            }
        }
    }
}

/// Adds `weight` times the covered share of each pixel between `xa` and `xb` to `acc`, whose
/// first entry is pixel column `x0`.
fn add_span(acc: &mut [f32], x0: usize, xa: f64, xb: f64, weight: f32) {
    let lo = x0 as f64;
    let hi = (x0 + acc.len()) as f64;
    let (xa, xb) = (xa.max(lo), xb.min(hi));
    if xb <= xa {
        return;
    }
    let (ia, ib) = (xa.floor() as usize - x0, (xb.floor() as usize) - x0);
    if ia == ib {
        acc[ia] += (xb - xa) as f32 * weight;
        return;
    }
    acc[ia] += ((ia + x0 + 1) as f64 - xa) as f32 * weight;
    let end = ib.min(acc.len());
    for a in &mut acc[ia + 1..end] {
        *a += weight;
    }
    if ib < acc.len() {
        acc[ib] += (xb - (ib + x0) as f64) as f32 * weight;
    }
}

fn convex_hull(mut points: Vec<Xy>) -> Vec<Xy> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    points.dedup();
    if points.len() < 3 {
        return points;
    }
    let cross = |o: Xy, a: Xy, b: Xy| (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0);
    let mut hull: Vec<Xy> = Vec::with_capacity(points.len() + 1);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &Xy>> = if pass == 0 {
            Box::new(points.iter())
        } else {
            Box::new(points.iter().rev())
        };
        for &p in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

// ---------------------------------------------------------------------------------------------
// Noise and colour helpers

/// An independent seed for each use of the noise, named by `k`.
fn stream(seed: u32, k: u32) -> u32 {
    seed ^ k.wrapping_mul(0x9E37_79B9)
}

fn hash(seed: u32, x: i32, y: i32) -> u32 {
    let mut h = seed
        ^ (x as u32).wrapping_mul(0x8DA6_B343)
        ^ (y as u32).wrapping_mul(0xD816_3841).rotate_left(13);
    h = (h ^ (h >> 16)).wrapping_mul(0x7FEB_352D);
    h = (h ^ (h >> 15)).wrapping_mul(0x846C_A68B);
    h ^ (h >> 16)
}

/// Uniform in [0, 1) from the high bits.
fn unit(h: u32) -> f32 {
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Uniform in [0, 1) from the low bits (nearly independent of [`unit`]).
fn unit_low(h: u32) -> f32 {
    (h & 0xFFFF) as f32 * (1.0 / 65_536.0)
}

/// `x.floor()` as an integer, without the library call that `f32::floor` is on plain x86-64.
fn ifloor(x: f32) -> i32 {
    let i = x as i32;
    i - i32::from((i as f32) > x)
}

fn ffloor(x: f32) -> f32 {
    ifloor(x) as f32
}

fn fract(x: f32) -> f32 {
    x - ffloor(x)
}

/// Side of the random lattice that [`noise`] reads; it repeats after that many features.
const LATTICE: usize = 256;

/// Random values in [0, 1) on a 256 x 256 torus, the same for every seed (seeds shift it).
fn lattice() -> &'static [f32] {
    static VALUES: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    VALUES.get_or_init(|| {
        (0..LATTICE * LATTICE)
            .map(|i| {
                unit(hash(
                    0x1A77_1CE5,
                    (i % LATTICE) as i32,
                    (i / LATTICE) as i32,
                ))
            })
            .collect()
    })
}

/// Smooth value noise in [0, 1) on a unit lattice.
fn noise(seed: u32, x: f32, y: f32) -> f32 {
    let values = lattice();
    let m = seed.wrapping_mul(0x9E37_79B9);
    let (ix, iy) = (ifloor(x), ifloor(y));
    let (tx, ty) = (x - ix as f32, y - iy as f32);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let mask = LATTICE - 1;
    let x0 = (ix.wrapping_add((m >> 24) as i32) as usize) & mask;
    let y0 = (iy.wrapping_add(((m >> 16) & 0xFF) as i32) as usize) & mask;
    let (x1, y1) = ((x0 + 1) & mask, ((y0 + 1) & mask) * LATTICE);
    let y0 = y0 * LATTICE;
    let all = LATTICE * LATTICE - 1;
    let (a, b, c, d) = (
        values[(y0 + x0) & all],
        values[(y0 + x1) & all],
        values[(y1 + x0) & all],
        values[(y1 + x1) & all],
    );
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

/// How much of a feature of `size` metres survives at `pixel` metres: none below two pixels.
fn detail(size: f32, pixel: f32) -> f32 {
    (size / pixel - 1.0).clamp(0.0, 1.0)
}

/// Value noise of `octaves` octaves, the first with features of `size` metres; octaves finer
/// than the pixel fade to their mean.
fn fbm(seed: u32, x: f32, y: f32, size: f32, octaves: u32, pixel: f32) -> f32 {
    let (mut sum, mut total, mut amp, mut size) = (0.0, 0.0, 1.0, size);
    let mut inv = 1.0 / size;
    for o in 0..octaves {
        let keep = detail(size, pixel);
        let v = if keep > 0.0 {
            0.5 + (noise(seed.wrapping_add(o), x * inv, y * inv) - 0.5) * keep
        } else {
            0.5
        };
        sum += v * amp;
        total += amp;
        amp *= 0.5;
        size *= 0.5;
        inv *= 2.0;
    }
    sum / total
}

fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn scale(c: Rgb, f: f32) -> Rgb {
    [c[0] * f, c[1] * f, c[2] * f]
}

/// Inverse crown radii, in lattice units, from 0.36 to 0.56: with the centres at most 0.25 from
/// the middle of their cell, even a ragged crown stays within reach of [`Crowns::at`], which
/// looks at the four cells nearest to a point.
const INV_RADIUS: [f32; 256] = {
    let mut table = [0.0; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = 1.0 / (0.36 + 0.2 * i as f32 / 255.0);
        i += 1;
    }
    table
};

/// Tree crowns on a jittered lattice. Remembers the four crowns around the last point, which
/// neighbouring pixels nearly always share.
#[derive(Default)]
struct Crowns {
    key: Option<(u32, u32, i32, i32)>,
    /// Centre (lattice units), inverse radius and hash of each.
    near: [(f32, f32, f32, u32); 4],
}

impl Crowns {
    /// The crown of a lattice of `spacing` metres at a point: its coverage (0 in the gaps), its
    /// brightness under the sun (`sun` points towards it) and a hash that names it.
    /// Only a share `keep` of the crowns is there (by their hash).
    fn at(
        &mut self,
        seed: u32,
        (x, y): (f32, f32),
        (spacing, keep): (f32, f32),
        sun: (f32, f32),
        pixel: f32,
    ) -> (f32, f32, u32) {
        let inv = 1.0 / spacing;
        let (gx, gy) = (x * inv, y * inv);
        let (cx, cy) = (ifloor(gx), ifloor(gy));
        let bx = if gx - (cx as f32) < 0.5 { cx - 1 } else { cx };
        let by = if gy - (cy as f32) < 0.5 { cy - 1 } else { cy };
        let key = (seed, spacing.to_bits(), bx, by);
        if self.key != Some(key) {
            for (k, near) in self.near.iter_mut().enumerate() {
                let (ix, iy) = (bx + (k & 1) as i32, by + (k >> 1) as i32);
                let h = hash(seed, ix, iy);
                *near = (
                    ix as f32 + 0.25 + 0.5 * unit(h),
                    iy as f32 + 0.25 + 0.5 * unit_low(h),
                    INV_RADIUS[((h >> 4) & 0xFF) as usize],
                    h,
                );
            }
            self.key = Some(key);
        }
        let mut best = (f32::MAX, 0.0, 0.0, 0);
        for &(jx, jy, inv_r, h) in &self.near {
            if unit(h) >= keep {
                continue;
            }
            let (dx, dy) = ((gx - jx) * inv_r, (gy - jy) * inv_r);
            let d2 = dx * dx + dy * dy;
            if d2 < best.0 {
                best = (d2, dx, dy, h);
            }
        }
        if best.0 >= 1.3 {
            return (0.0, 0.0, best.3);
        }
        // A ragged outline and clumps of leaves, where pixels are small enough to show them.
        let ragged = detail(1.1, pixel);
        let d2 = if ragged > 0.0 {
            best.0 + (noise(seed ^ 0x0C40, x * 0.9, y * 0.9) - 0.5) * 0.6 * ragged
        } else {
            best.0
        };
        if d2 >= 1.0 {
            return (0.0, 0.0, best.3);
        }
        let z = (1.0 - d2).max(0.0).sqrt();
        let light = 0.6 + 0.5 * (0.45 * z + 0.55 * (best.1 * sun.0 + best.2 * sun.1));
        (smoothstep(1.0, 0.75, d2), light.max(0.45), best.3)
    }
}

/// The field parcel of the last point, which neighbouring pixels nearly always share.
#[derive(Default)]
struct Parcel {
    block: Option<(i32, i32)>,
    block_hash: u32,
    /// Direction of the strips.
    cos: f32,
    sin: f32,
    strip: f32,
    strip_key: Option<i32>,
    strip_hash: u32,
    length: f32,
    shift: f32,
    crop_key: Option<i32>,
    crop: Crop,
    tone: f32,
    orchard_roll: f32,
}

/// Per-thread memory of the ground painter.
#[derive(Default)]
struct Memo {
    parcel: Parcel,
    trees: Crowns,
    tree_shadows: Crowns,
    forest: Crowns,
    forest_edge: Crowns,
    shrubs: Crowns,
}

// ---------------------------------------------------------------------------------------------
// Epoch: what the city looked like in one year and how the film renders it

#[derive(Clone, Copy, Default)]
enum Crop {
    Soil,
    Green,
    Ripe,
    Stubble,
    #[default]
    Grass,
    Rape,
}

impl Crop {
    fn colour(self) -> Rgb {
        match self {
            Self::Soil => [126.0, 112.0, 94.0],
            Self::Green => [106.0, 128.0, 72.0],
            Self::Ripe => [184.0, 168.0, 122.0],
            Self::Stubble => [192.0, 182.0, 150.0],
            Self::Grass => [114.0, 134.0, 78.0],
            Self::Rape => [198.0, 188.0, 92.0],
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Surface {
    Paved,
    Track,
}

/// The buildings standing within about 45 m, on a 10 m lattice: how many, and the sum of
/// their heights in hectometres (high in the old town, low among family houses).
struct Density {
    nx: usize,
    ny: usize,
    values: Vec<[f32; 2]>,
}

const DENSITY_CELL: f32 = 10.0;

impl Density {
    fn new(scene: &Scene, year: i32) -> Self {
        const RADIUS: usize = 4;
        let nx = ((scene.extent[2] - scene.origin.0) / f64::from(DENSITY_CELL)).ceil() as usize + 2;
        let ny = ((scene.extent[3] - scene.origin.1) / f64::from(DENSITY_CELL)).ceil() as usize + 2;
        // Summed-area tables of the buildings per cell, one row and column of zeros in front.
        let mut sums = vec![[0.0f64; 2]; (nx + 1) * (ny + 1)];
        for b in scene.buildings.iter().filter(|b| b.year <= year) {
            let cx = ((b.centroid.0 - scene.origin.0) / f64::from(DENSITY_CELL)).floor();
            let cy = ((b.centroid.1 - scene.origin.1) / f64::from(DENSITY_CELL)).floor();
            if cx >= 0.0 && cy >= 0.0 && (cx as usize) < nx && (cy as usize) < ny {
                let cell = &mut sums[(cy as usize + 1) * (nx + 1) + cx as usize + 1];
                cell[0] += 1.0;
                cell[1] += b.height / 100.0;
            }
        }
        for y in 1..=ny {
            for x in 1..=nx {
                let i = y * (nx + 1) + x;
                let (left, up, diagonal) = (sums[i - 1], sums[i - nx - 1], sums[i - nx - 2]);
                for (k, sum) in sums[i].iter_mut().enumerate() {
                    *sum += left[k] + up[k] - diagonal[k];
                }
            }
        }
        let mut values = vec![[0.0; 2]; nx * ny];
        for y in 0..ny {
            for x in 0..nx {
                let (xa, xb) = (x.saturating_sub(RADIUS), (x + RADIUS + 1).min(nx));
                let (ya, yb) = (y.saturating_sub(RADIUS), (y + RADIUS + 1).min(ny));
                let at = |x: usize, y: usize, k: usize| sums[y * (nx + 1) + x][k];
                values[y * nx + x] = std::array::from_fn(|k| {
                    (at(xb, yb, k) + at(xa, ya, k) - at(xa, yb, k) - at(xb, ya, k)) as f32
                });
            }
        }
        Self { nx, ny, values }
    }

    /// Bilinear sample of count and heights at local coordinates.
    fn sample(&self, x: f32, y: f32) -> [f32; 2] {
        let gx = (x * (1.0 / DENSITY_CELL) - 0.5).clamp(0.0, (self.nx - 1) as f32);
        let gy = (y * (1.0 / DENSITY_CELL) - 0.5).clamp(0.0, (self.ny - 1) as f32);
        let (x0, y0) = (gx as usize, gy as usize);
        let (x1, y1) = ((x0 + 1).min(self.nx - 1), (y0 + 1).min(self.ny - 1));
        let (tx, ty) = (gx - x0 as f32, gy - y0 as f32);
        let v = |x: usize, y: usize| self.values[y * self.nx + x];
        std::array::from_fn(|k| {
            let top = v(x0, y0)[k] + (v(x1, y0)[k] - v(x0, y0)[k]) * tx;
            let bottom = v(x0, y1)[k] + (v(x1, y1)[k] - v(x0, y1)[k]) * tx;
            top + (bottom - top) * ty
        })
    }
}

/// The smooth fields of the landscape, evaluated once per scene on a 10 m lattice: one bilinear
/// lookup per pixel instead of a dozen noise evaluations.
struct Landscape {
    nx: usize,
    ny: usize,
    cells: Vec<[f32; LAND]>,
}

const LAND: usize = 10;
const LAND_CELL: f32 = 10.0;
/// 0 (never built) to 1: where the latest epoch has houses; fields and orchards there earlier.
const SETTLED: usize = 0;
/// Above about 0.585: forest.
const FOREST: usize = 1;
/// Roughens the edge of the built-up area.
const RAGGED: usize = 2;
/// Displacement of the field blocks, metres.
const WARP_X: usize = 3;
const WARP_Y: usize = 4;
/// Dry or lush lawns.
const DRY: usize = 5;
/// Soil and moisture patches in the fields.
const PATCH: usize = 6;
/// Above about 0.5: groups of trees in gardens.
const GROVE: usize = 7;
/// Above 0.5: conifers.
const STAND: usize = 8;
/// Denser and lighter patches of the forest canopy.
const CLUMPS: usize = 9;

impl Landscape {
    fn new(scene: &Scene, seed: u32) -> Self {
        let future = Density::new(scene, i32::MAX);
        let nx = ((scene.extent[2] - scene.origin.0) / f64::from(LAND_CELL)).ceil() as usize + 2;
        let ny = ((scene.extent[3] - scene.origin.1) / f64::from(LAND_CELL)).ceil() as usize + 2;
        let s = seed;
        let mut cells = vec![[0.0; LAND]; nx * ny];
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let rows_per_thread = ny.div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for (chunk, rows) in cells.chunks_mut(rows_per_thread * nx).enumerate() {
                let future = &future;
                scope.spawn(move || {
                    for (i, cell) in rows.iter_mut().enumerate() {
                        let (gx, gy) = (i % nx, chunk * rows_per_thread + i / nx);
                        let (x, y) = ((gx as f32 + 0.5) * LAND_CELL, (gy as f32 + 0.5) * LAND_CELL);
                        let mut c = [0.0; LAND];
                        c[SETTLED] = smoothstep(0.3, 2.0, future.sample(x, y)[0]);
                        c[FOREST] = noise(stream(s, 31), x * (1.0 / 1_500.0), y * (1.0 / 1_500.0))
                            * 0.6
                            + noise(stream(s, 32), x * (1.0 / 380.0), y * (1.0 / 380.0)) * 0.3
                            + noise(stream(s, 33), x * (1.0 / 90.0), y * (1.0 / 90.0)) * 0.1
                            - 0.3 * c[SETTLED];
                        c[RAGGED] =
                            (noise(stream(s, 11), x * (1.0 / 40.0), y * (1.0 / 40.0)) - 0.5) * 2.0;
                        c[WARP_X] = (noise(stream(s, 41), x * (1.0 / 600.0), y * (1.0 / 600.0))
                            - 0.5)
                            * 320.0;
                        c[WARP_Y] = (noise(stream(s, 42), x * (1.0 / 600.0), y * (1.0 / 600.0))
                            - 0.5)
                            * 320.0;
                        c[DRY] = noise(stream(s, 25), x * (1.0 / 45.0), y * (1.0 / 45.0));
                        c[PATCH] = fbm(stream(s, 44), x, y, 60.0, 2, LAND_CELL);
                        c[GROVE] = noise(stream(s, 24), x * (1.0 / 24.0), y * (1.0 / 24.0));
                        c[STAND] = noise(stream(s, 51), x * (1.0 / 160.0), y * (1.0 / 160.0));
                        c[CLUMPS] = noise(stream(s, 53), x * (1.0 / 40.0), y * (1.0 / 40.0));
                        *cell = c;
                    }
                });
            }
        });
        Self { nx, ny, cells }
    }

    /// The fields along the row of local coordinate `y` from `x0` to `x1`, interpolated
    /// between lattice rows, with `density`'s count and heights appended.
    fn row(&self, y: f32, (x0, x1): (f32, f32), density: &Density, row: &mut LatticeRow) {
        let gy = (y * (1.0 / LAND_CELL) - 0.5).clamp(0.0, (self.ny - 1) as f32);
        let y0 = gy as usize;
        let y1 = (y0 + 1).min(self.ny - 1);
        let t = gy - y0 as f32;
        let column = |x: f32| ((x * (1.0 / LAND_CELL) - 0.5).max(0.0) as usize).min(self.nx - 1);
        let (first, last) = (column(x0), (column(x1) + 1).min(self.nx - 1));
        row.first = first;
        row.values.clear();
        row.values.extend((first..=last).map(|x| {
            let (a, b) = (&self.cells[y0 * self.nx + x], &self.cells[y1 * self.nx + x]);
            let (c, d) = (
                &density.values[y0 * self.nx + x],
                &density.values[y1 * self.nx + x],
            );
            let mut out = [0.0; ROW];
            for k in 0..LAND {
                out[k] = a[k] + (b[k] - a[k]) * t;
            }
            out[LAND] = c[0] + (d[0] - c[0]) * t;
            out[LAND + 1] = c[1] + (d[1] - c[1]) * t;
            out
        }));
    }
}

/// The lattice fields plus count and heights of the buildings.
const ROW: usize = LAND + 2;

/// Part of a row of the lattice, from column `first` on.
#[derive(Default)]
struct LatticeRow {
    first: usize,
    values: Vec<[f32; ROW]>,
}

/// A point between two lattice columns of a row from [`Landscape::row`].
struct Lookup<'a> {
    a: &'a [f32; ROW],
    b: &'a [f32; ROW],
    t: f32,
}

impl<'a> Lookup<'a> {
    fn new(row: &'a LatticeRow, x: f32) -> Self {
        let last = row.values.len().saturating_sub(1);
        let gx = (x * (1.0 / LAND_CELL) - 0.5 - row.first as f32).clamp(0.0, last as f32);
        let x0 = gx as usize;
        Self {
            a: &row.values[x0],
            b: &row.values[(x0 + 1).min(last)],
            t: gx - x0 as f32,
        }
    }

    /// Field `k` of the landscape.
    fn land(&self, k: usize) -> f32 {
        self.a[k] + (self.b[k] - self.a[k]) * self.t
    }

    /// Count and heights of the buildings around.
    fn density(&self) -> [f32; 2] {
        [self.land(LAND), self.land(LAND + 1)]
    }
}

/// Things that move: parked cars and river barges, rectangles centred on `centre`.
struct Vehicle {
    centre: (f32, f32),
    dir: (f32, f32),
    length: f32,
    width: f32,
    colour: Rgb,
    barge: bool,
    bbox: [f64; 4],
}

/// How an epoch was photographed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Era {
    /// Black and white film: grain, vignetting, exposure differing between photographs.
    BlackAndWhite,
    /// Colour film: warm, faded, a little grain and vignetting.
    ColourFilm,
    /// Digital camera: crisp and balanced.
    Digital,
}

struct Epoch<'a> {
    scene: &'a Scene,
    land: &'a Landscape,
    year: i32,
    era: Era,
    gray: bool,
    seed: u32,
    /// Horizontal unit vector towards the sun (east, north).
    sun: (f32, f32),
    density: Density,
    /// Shadow outline per standing building (empty otherwise).
    shadows: Vec<Vec<Xy>>,
    surfaces: Vec<Option<Surface>>,
    crops: [(Crop, f32); 6],
    /// Width and length ranges of field parcels, metres.
    strips: (f32, f32),
    lengths: (f32, f32),
}

impl<'a> Epoch<'a> {
    fn new(scene: &'a Scene, spec: &EpochSpec, seed: u64, land: &'a Landscape) -> Self {
        let year = spec.year;
        let era = if spec.gray {
            Era::BlackAndWhite
        } else if year < 2010 {
            Era::ColourFilm
        } else {
            Era::Digital
        };
        let (azimuth, elevation) = (spec.sun.0.to_radians(), spec.sun.1.to_radians());
        let sun = (azimuth.sin(), azimuth.cos());
        let reach = 1.0 / f64::from(elevation.tan());
        let shadows = scene
            .buildings
            .iter()
            .map(|b| {
                if b.year > year {
                    return Vec::new();
                }
                let (dx, dy) = (
                    -f64::from(sun.0) * b.height * reach,
                    -f64::from(sun.1) * b.height * reach,
                );
                let mut points = b.ring.clone();
                points.extend(b.ring.iter().map(|p| (p.0 + dx, p.1 + dy)));
                convex_hull(points)
            })
            .collect();
        let surfaces = scene
            .streets
            .iter()
            .map(|s| {
                if year >= LATEST || s.year <= year {
                    Some(Surface::Paved)
                } else if s.year <= year + 12 {
                    Some(Surface::Track)
                } else {
                    None
                }
            })
            .collect();
        // Weights of the crops: July 1958 ripe grain, June 1996 and May 2023 green and rape.
        let crops = match era {
            Era::BlackAndWhite => [
                (Crop::Ripe, 0.3),
                (Crop::Stubble, 0.1),
                (Crop::Grass, 0.26),
                (Crop::Soil, 0.12),
                (Crop::Green, 0.22),
                (Crop::Rape, 0.0),
            ],
            Era::ColourFilm => [
                (Crop::Green, 0.4),
                (Crop::Grass, 0.24),
                (Crop::Soil, 0.14),
                (Crop::Ripe, 0.12),
                (Crop::Rape, 0.05),
                (Crop::Stubble, 0.05),
            ],
            Era::Digital => [
                (Crop::Green, 0.45),
                (Crop::Grass, 0.23),
                (Crop::Soil, 0.2),
                (Crop::Rape, 0.07),
                (Crop::Ripe, 0.03),
                (Crop::Stubble, 0.02),
            ],
        };
        Self {
            scene,
            land,
            year,
            era,
            gray: spec.gray,
            seed: seed_u32(seed),
            sun,
            density: Density::new(scene, year),
            shadows,
            surfaces,
            crops,
            // Before the land consolidation of the 1960s: narrow, short strips.
            strips: if year < 1965 {
                (12.0, 32.0)
            } else {
                (45.0, 120.0)
            },
            lengths: if year < 1965 {
                (70.0, 220.0)
            } else {
                (150.0, 450.0)
            },
        }
    }

    /// Paints one part; returns its interleaved pixels.
    fn paint(&self, grid: &Grid) -> Vec<u8> {
        let channels = if self.gray { 1 } else { 3 };
        let job = Job::new(self, grid);
        let mut out = vec![0u8; grid.width * grid.height * channels];
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let queue = Mutex::new(
            out.chunks_mut(BAND_ROWS * grid.width * channels)
                .enumerate(),
        );
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut work = Work::default();
                    loop {
                        let next = queue.lock().ok().and_then(|mut q| q.next());
                        let Some((band, chunk)) = next else { break };
                        job.band(band, chunk, &mut work);
                    }
                });
            }
        });
        out
    }

    fn crop(&self, roll: f32) -> Crop {
        let mut acc = 0.0;
        for &(crop, weight) in &self.crops {
            acc += weight;
            if roll < acc {
                return crop;
            }
        }
        Crop::Grass
    }

    /// The ground at local coordinates: gardens and yards where houses stand, fields, meadows
    /// and forest elsewhere.
    fn ground(&self, x: f32, y: f32, px: f32, m: &Lookup<'_>, memo: &mut Memo) -> Rgb {
        let [count, bulk] = m.density();
        let urban = smoothstep(0.7, 2.6, count + m.land(RAGGED));
        if urban >= 1.0 {
            return self.garden(x, y, px, bulk, m, memo);
        }
        let rural = self.rural(x, y, px, m, memo);
        if urban <= 0.0 {
            return rural;
        }
        mix(rural, self.garden(x, y, px, bulk, m, memo), urban)
    }

    fn garden(&self, x: f32, y: f32, px: f32, bulk: f32, m: &Lookup<'_>, memo: &mut Memo) -> Rgb {
        let s = self.seed;
        let paved = paved_share(bulk);
        let n = fbm(stream(s, 23), x, y, 8.0, 2, px);
        let lawn = mix(
            [92.0, 116.0, 66.0],
            [130.0, 132.0, 94.0],
            m.land(DRY) * 0.6 + n * 0.4,
        );
        let mut c = mix(
            scale(lawn, 0.9 + 0.2 * n),
            [138.0, 134.0, 126.0],
            paved * 0.5,
        );
        let grove = m.land(GROVE);
        let share = 0.1 + 0.55 * smoothstep(0.5, 0.72, grove) - 0.1 * paved;
        let (alpha, light, id) = memo
            .trees
            .at(stream(s, 26), (x, y), (7.0, share), self.sun, px);
        if alpha > 0.0 {
            let leaf = mix([56.0, 84.0, 44.0], [86.0, 104.0, 56.0], unit_low(id));
            c = mix(c, scale(leaf, light), alpha);
        } else if px < 1.0 {
            // Shadow of a tree on the sun's side.
            let at = (x + self.sun.0 * 3.5, y + self.sun.1 * 3.5);
            let (alpha, _, _) = memo
                .tree_shadows
                .at(stream(s, 26), at, (7.0, share), self.sun, px);
            if alpha > 0.0 {
                c = scale(c, 1.0 - 0.45 * alpha);
            }
        }
        c
    }

    fn rural(&self, x: f32, y: f32, px: f32, m: &Lookup<'_>, memo: &mut Memo) -> Rgb {
        const EDGE: f32 = 0.585;
        let s = self.seed;
        let forest = m.land(FOREST);
        if forest > EDGE + 0.012 {
            return self.forest(x, y, px, m, memo);
        }
        let field = self.field(x, y, px, m, &mut memo.parcel);
        if forest < EDGE - 0.012 {
            return field;
        }
        // The forest edge: single crowns over the field.
        let t = smoothstep(EDGE - 0.012, EDGE + 0.012, forest);
        let (alpha, light, _) =
            memo.forest_edge
                .at(stream(s, 52), (x, y), (5.5, t * 1.4), self.sun, px);
        if alpha > 0.0 {
            mix(field, scale([52.0, 80.0, 42.0], light), alpha)
        } else {
            field
        }
    }

    fn forest(&self, x: f32, y: f32, px: f32, m: &Lookup<'_>, memo: &mut Memo) -> Rgb {
        let s = self.seed;
        let conifer = m.land(STAND) > 0.5;
        let (base, spacing) = if conifer {
            ([46.0, 70.0, 48.0], 4.2)
        } else {
            ([70.0, 98.0, 52.0], 6.0)
        };
        let (alpha, light, _) = memo
            .forest
            .at(stream(s, 52), (x, y), (spacing, 1.0), self.sun, px);
        let clumps = m.land(CLUMPS);
        let canopy = 0.5 + (light - 0.5) * alpha;
        scale(base, canopy * (0.8 + 0.4 * clumps))
    }

    fn field(&self, x: f32, y: f32, px: f32, m: &Lookup<'_>, p: &mut Parcel) -> Rgb {
        const BLOCK: f32 = 420.0;
        let s = self.seed;
        let settled = m.land(SETTLED);
        let (wx, wy) = (x + m.land(WARP_X), y + m.land(WARP_Y));
        let (bx, by) = (ifloor(wx * (1.0 / BLOCK)), ifloor(wy * (1.0 / BLOCK)));
        if p.block != Some((bx, by)) {
            // Parcels are strips; neighbouring blocks run in similar directions.
            let hb = hash(stream(s, 43), bx, by);
            let trend =
                noise(stream(s, 47), bx as f32 * 0.3, by as f32 * 0.3) * 2.0 * std::f32::consts::PI;
            let (sin, cos) = (trend + (unit(hb) - 0.5) * 0.8).sin_cos();
            p.block = Some((bx, by));
            p.block_hash = hb;
            (p.cos, p.sin) = (cos, sin);
            p.strip = self.strips.0 + (self.strips.1 - self.strips.0) * unit(hash(hb, 1, 0));
            p.strip_key = None;
        }
        let (u, v) = (x * p.cos + y * p.sin, y * p.cos - x * p.sin);
        let sv = v / p.strip;
        let iv = ifloor(sv);
        if p.strip_key != Some(iv) {
            p.strip_hash = hash(p.block_hash, iv, 7);
            p.length = self.lengths.0 + (self.lengths.1 - self.lengths.0) * unit(p.strip_hash);
            p.shift = unit_low(p.strip_hash);
            p.strip_key = Some(iv);
            p.crop_key = None;
        }
        let su = u / p.length + p.shift;
        let iu = ifloor(su);
        if p.crop_key != Some(iu) {
            let hp = hash(p.strip_hash ^ (self.year as u32), iu, 3);
            p.crop = self.crop(unit(hp));
            p.tone = 0.9 + 0.2 * unit(hash(hp, 1, 1));
            p.orchard_roll = unit(hash(hp, 5, 5));
            p.crop_key = Some(iu);
        }
        let orchard = settled > 0.05 && p.orchard_roll < 0.1 + 0.3 * settled;
        let crop = if orchard { Crop::Grass } else { p.crop };
        // Soil and moisture patterns.
        let mut c = scale(crop.colour(), p.tone * (0.9 + 0.2 * m.land(PATCH)));
        match crop {
            Crop::Soil => {
                let furrows = ((fract(v * (1.0 / 0.9)) - 0.5).abs() * 4.0 - 1.0) * 0.08;
                c = scale(c, 1.0 + furrows * detail(0.9, px));
            }
            Crop::Green | Crop::Ripe | Crop::Rape => {
                let d = (fract(v * (1.0 / 20.0)) - 0.5).abs() * 20.0;
                if d < (0.3f32).max(px * 0.5) {
                    let dark = 0.2 * (0.6 / px).min(1.0);
                    c = mix(c, [120.0, 106.0, 84.0], dark);
                }
            }
            Crop::Stubble => {
                let d = (fract(v * (1.0 / 7.0)) - 0.5).abs() * 7.0;
                if d < (0.7f32).max(px * 0.5) {
                    c = mix(c, [170.0, 154.0, 112.0], 0.45 * (1.4 / px).min(1.0));
                }
            }
            Crop::Grass => {
                let n = fbm(stream(s, 45), x, y, 6.0, 1, px);
                c = scale(c, 0.9 + 0.2 * n);
            }
        }
        if orchard {
            c = self.orchard(c, u, v, (p.cos, p.sin));
        }
        // A strip of grass between parcels and gravel tracks between blocks.
        let (fv, fu) = (sv - iv as f32, su - iu as f32);
        let edge = (fv.min(1.0 - fv) * p.strip).min(fu.min(1.0 - fu) * p.length);
        if edge < (0.5f32).max(px * 0.5) {
            c = mix(c, [108.0, 126.0, 74.0], 0.5 * (1.0 / px).min(1.0));
        }
        let fx = wx * (1.0 / BLOCK) - bx as f32;
        let fy = wy * (1.0 / BLOCK) - by as f32;
        let track = fx.min(1.0 - fx).min(fy).min(1.0 - fy) * BLOCK;
        if track < (1.6f32).max(px * 0.5) {
            let t = fbm(stream(s, 46), x, y, 2.0, 1, px);
            c = mix(
                c,
                scale([178.0, 166.0, 140.0], 0.9 + 0.2 * t),
                (3.2 / px).min(1.0),
            );
        }
        c
    }

    /// Fruit trees in rows, 9 m apart, in the parcel frame `(u, v)` turned by `(cos, sin)`.
    fn orchard(&self, c: Rgb, u: f32, v: f32, (cs, sn): (f32, f32)) -> Rgb {
        const SPACING: f32 = 9.0;
        const RADIUS: f32 = 0.36;
        let sun = (
            self.sun.0 * cs + self.sun.1 * sn,
            self.sun.1 * cs - self.sun.0 * sn,
        );
        let at = |u: f32, v: f32| {
            let (cu, cv) = (
                (fract(u * (1.0 / SPACING)) - 0.5) * (1.0 / RADIUS),
                (fract(v * (1.0 / SPACING)) - 0.5) * (1.0 / RADIUS),
            );
            (cu, cv, cu * cu + cv * cv)
        };
        let (cu, cv, d2) = at(u, v);
        if d2 < 1.0 {
            let z = (1.0 - d2).sqrt();
            let light = 0.6 + 0.5 * (0.45 * z + 0.55 * (cu * sun.0 + cv * sun.1));
            return mix(
                c,
                scale([70.0, 96.0, 50.0], light),
                smoothstep(1.0, 0.7, d2),
            );
        }
        let (_, _, d2) = at(u + sun.0 * 2.5, v + sun.1 * 2.5);
        if d2 < 1.0 { scale(c, 0.62) } else { c }
    }

    /// Meadow and trees along a river.
    fn bank(&self, x: f32, y: f32, px: f32, memo: &mut Memo) -> Rgb {
        let s = self.seed;
        let n = fbm(stream(s, 64), x, y, 6.0, 2, px);
        let c = mix([96.0, 122.0, 66.0], [130.0, 134.0, 92.0], n);
        let (alpha, light, _) = memo
            .trees
            .at(stream(s, 65), (x, y), (8.0, 0.7), self.sun, px);
        if alpha > 0.0 {
            mix(c, scale([58.0, 86.0, 46.0], light), alpha)
        } else {
            c
        }
    }

    /// Stones and gravel at the water's edge.
    fn edge(&self, x: f32, y: f32, px: f32) -> Rgb {
        let n = fbm(stream(self.seed, 66), x, y, 1.0, 2, px);
        scale([150.0, 144.0, 132.0], 0.8 + 0.4 * n)
    }

    fn water(&self, x: f32, y: f32, px: f32, river: u8) -> Rgb {
        let s = self.seed;
        let base = if river == 1 {
            [58.0, 76.0, 62.0]
        } else {
            [50.0, 66.0, 72.0]
        };
        let broad = noise(stream(s, 61), x * (1.0 / 220.0), y * (1.0 / 220.0));
        let ripples = fbm(stream(s, 62), x, y, 4.0, 2, px);
        let mut c = scale(base, 0.84 + 0.26 * broad + 0.16 * (ripples - 0.5));
        if px < 1.0 && unit(hash(stream(s, 63), (x * 4.0) as i32, (y * 4.0) as i32)) < 0.0004 {
            c = mix(c, [150.0, 160.0, 165.0], 0.4);
        }
        c
    }

    fn street(&self, st: &Street, surface: Surface, x: f32, y: f32, px: f32, inner: bool) -> Rgb {
        let s = self.seed;
        let grain = 0.94 + 0.12 * unit(hash(stream(s, 71), (x * 5.0) as i32, (y * 5.0) as i32));
        let patches = fbm(stream(s, 72), x, y, 6.0, 2, px);
        if surface == Surface::Track {
            let c = scale([172.0, 154.0, 124.0], grain * (0.9 + 0.2 * patches));
            return if inner {
                scale(c, 0.94)
            } else {
                mix(c, [112.0, 128.0, 74.0], 0.4)
            };
        }
        if !inner {
            return scale([154.0, 150.0, 142.0], grain * (0.92 + 0.16 * patches));
        }
        let asphalt = match self.era {
            Era::BlackAndWhite => [128.0, 125.0, 118.0],
            Era::ColourFilm => [108.0, 106.0, 102.0],
            Era::Digital => [98.0, 97.0, 95.0],
        };
        let mut c = scale(asphalt, grain * (0.9 + 0.2 * patches));
        if self.year >= 1970 && st.class != StreetClass::Local && st.half >= 3.0 {
            let o = self.scene.origin;
            let (ax, ay) = ((st.a.0 - o.0) as f32, (st.a.1 - o.1) as f32);
            let len = ((st.b.0 - st.a.0).hypot(st.b.1 - st.a.1)) as f32;
            let d = (
                (st.b.0 - st.a.0) as f32 / len,
                (st.b.1 - st.a.1) as f32 / len,
            );
            let (qx, qy) = (x - ax, y - ay);
            let u = qx * d.0 + qy * d.1;
            let v = (qx * d.1 - qy * d.0).abs();
            let width = 0.12f32;
            if v < width.max(px * 0.5) && fract(u / 9.0) < 0.4 {
                c = mix(c, [222.0, 222.0, 214.0], (width / px).min(1.0));
            }
            let kerb = st.half as f32 - 0.35;
            if (v - kerb).abs() < width.max(px * 0.5) {
                c = mix(c, [214.0, 214.0, 206.0], (width / px).min(1.0) * 0.8);
            }
        }
        c
    }

    /// Terrace, drive and paths around a house.
    fn yard(&self, b: &Building, x: f32, y: f32, px: f32) -> Rgb {
        const PAVING: [Rgb; 4] = [
            [156.0, 150.0, 138.0],
            [140.0, 138.0, 134.0],
            [164.0, 156.0, 140.0],
            [128.0, 120.0, 112.0],
        ];
        let h = b.roof.hash;
        let base = PAVING[(hash(h, 20, 0) >> 4) as usize % PAVING.len()];
        let n = fbm(stream(self.seed, 29), x, y, 2.0, 2, px);
        scale(base, 0.86 + 0.26 * n)
    }

    /// A hedge, a row of shrubs: its colour and how much of the pixel the shrubs cover.
    fn hedge(&self, x: f32, y: f32, px: f32, memo: &mut Memo) -> (Rgb, f32) {
        let (alpha, light, id) =
            memo.shrubs
                .at(stream(self.seed, 30), (x, y), (1.6, 1.0), self.sun, px);
        let leaf = mix([48.0, 74.0, 40.0], [70.0, 92.0, 48.0], unit_low(id));
        (scale(leaf, light), alpha.max(0.35))
    }

    fn construction(&self, b: &Building, x: f32, y: f32, px: f32) -> Rgb {
        let r = &b.roof;
        let (qx, qy) = (x - r.origin.0, y - r.origin.1);
        let u = qx * r.along.0 + qy * r.along.1;
        let v = qx * r.across.0 + qy * r.across.1;
        let grain = fbm(stream(self.seed, 81), x, y, 1.5, 2, px);
        let inside = u > 0.0 && u < r.length && v > 0.0 && v < r.width;
        let base = if inside {
            [126.0, 112.0, 94.0]
        } else {
            [178.0, 164.0, 138.0]
        };
        scale(base, 0.82 + 0.36 * grain)
    }

    fn roof(&self, r: &Roof, x: f32, y: f32, px: f32) -> Rgb {
        let s = self.seed;
        let (qx, qy) = (x - r.origin.0, y - r.origin.1);
        let u = qx * r.along.0 + qy * r.along.1;
        let v = qx * r.across.0 + qy * r.across.1;
        let (l, w) = (r.length, r.width);
        let weather = 0.93 + 0.14 * fbm(stream(s, 91) ^ r.hash, x, y, 2.5, 2, px);
        let grain = 0.95 + 0.1 * unit(hash(stream(s, 92), (x * 8.0) as i32, (y * 8.0) as i32));
        let to_edge = u.min(l - u).min(v).min(w - v).max(0.0);
        if matches!(r.kind, RoofKind::Flat | RoofKind::Green) {
            let base = if r.kind == RoofKind::Green && self.year >= 2010 {
                mix(
                    [104.0, 122.0, 74.0],
                    [132.0, 130.0, 92.0],
                    noise(stream(s, 93), x * (1.0 / 1.5), y * (1.0 / 1.5)),
                )
            } else {
                r.colour
            };
            let rim = if to_edge < (0.35f32).max(px * 0.5) {
                1.0 + 0.14 * (0.35 / px).min(1.0)
            } else {
                1.0
            };
            return scale(base, weather * grain * rim);
        }
        // Pitched roof: the plane of the nearest eave (gable: only the long sides).
        let (mut dist, mut normal) = if v < w - v {
            (v, (-r.across.0, -r.across.1))
        } else {
            (w - v, r.across)
        };
        if r.kind == RoofKind::Hip {
            if u < dist {
                (dist, normal) = (u, (-r.along.0, -r.along.1));
            }
            if l - u < dist {
                (dist, normal) = (l - u, r.along);
            }
        }
        let facing = normal.0 * self.sun.0 + normal.1 * self.sun.1;
        let mut f = 0.84 + 0.24 * facing;
        // Rows of tiles, eaves and ridge.
        let rows = detail(0.33, px);
        if rows > 0.0 && fract(dist / 0.33) < 0.22 {
            f *= 1.0 - 0.1 * rows;
        }
        if dist < (0.25f32).max(px * 0.5) {
            f *= 1.0 - 0.22 * (0.25 / px).min(1.0);
        }
        if (dist - w * 0.5).abs() < (0.15f32).max(px * 0.5) {
            f *= 1.0 + 0.12 * (0.3 / px).min(1.0);
        }
        let mut c = scale(r.colour, f * weather * grain);
        // Solar panels on the southern plane, from the 2000s on.
        let south = -normal.1 > 0.3;
        if self.year >= 2005 && south && unit(hash(r.hash, 9, 0)) < 0.26 {
            let on_plane = dist > 0.6 && dist < w * 0.5 - 0.5 && u > 0.8 && u < l - 0.8;
            if on_plane && w > 6.0 {
                let seams = (fract(u / 1.05) < 0.06 || fract(dist / 1.7) < 0.04) && px < 0.3;
                c = if seams {
                    [96.0, 100.0, 110.0]
                } else {
                    scale(
                        [36.0, 44.0, 62.0],
                        0.9 + 0.2 * facing.max(0.0) + 0.1 * grain,
                    )
                };
            }
        }
        c
    }

    fn vehicle(v: &Vehicle, x: f32, y: f32, px: f32) -> Rgb {
        let (qx, qy) = (x - v.centre.0, y - v.centre.1);
        let u = (qx * v.dir.0 + qy * v.dir.1) / (v.length * 0.5);
        let w = (qy * v.dir.0 - qx * v.dir.1).abs() / (v.width * 0.5);
        if v.barge {
            let tail = 1.0 - 14.0 / (v.length * 0.5);
            if w > 1.0 - 1.2 / (v.width * 0.5) {
                return [46.0, 44.0, 46.0];
            }
            if u > tail {
                return [206.0, 204.0, 198.0];
            }
            if u < -0.92 {
                return [70.0, 70.0, 72.0];
            }
            let hatch = px < 1.0 && fract((u + 1.0) * v.length / 10.0) < 0.05;
            return if hatch {
                scale(v.colour, 0.7)
            } else {
                v.colour
            };
        }
        if px > 0.5 {
            return v.colour;
        }
        if (0.22..0.48).contains(&u) || (-0.72..-0.58).contains(&u) {
            return scale(v.colour, 0.3);
        }
        scale(v.colour, if w > 0.8 { 0.8 } else { 1.05 })
    }

    /// The film or sensor: colour balance, grain, vignetting of the single photographs.
    fn develop(&self, c: Rgb, x: f32, y: f32, grain: u32) -> [f32; 3] {
        match self.era {
            Era::BlackAndWhite => {
                let l = 0.30 * c[0] + 0.52 * c[1] + 0.18 * c[2];
                let v = vignette(stream(self.seed, 101), x, y, 1_600.0, 0.24, 0.12);
                let g = (unit(grain) + unit_low(grain) - 1.0) * 16.0;
                let speck = if grain & 0x000F_FFFF == 7 { 90.0 } else { 0.0 };
                let l = (l - 110.0) * 1.08 + 124.0;
                let l = l * v + g + speck;
                [l, l, l]
            }
            Era::ColourFilm => {
                let v = vignette(stream(self.seed, 102), x, y, 2_400.0, 0.1, 0.05);
                let l = 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2];
                let c = mix([l, l, l], c, 0.78);
                let g = (unit(grain) - 0.5) * 8.0;
                [
                    (c[0] * 1.06 + 10.0) * 0.92 * v + g,
                    (c[1] * 1.0 + 8.0) * 0.92 * v + g,
                    (c[2] * 0.86 + 12.0) * 0.92 * v + g,
                ]
            }
            Era::Digital => {
                let g = (unit(grain) - 0.5) * 3.0;
                [
                    (c[0] - 118.0) * 1.08 + 120.0 + g,
                    (c[1] - 118.0) * 1.08 + 120.0 + g,
                    (c[2] - 118.0) * 1.08 + 121.0 + g,
                ]
            }
        }
    }
}

/// The share of paved courtyards among the gardens, from the bulk of the buildings around.
fn paved_share(bulk: f32) -> f32 {
    ((bulk - 1.2) / 1.8).clamp(0.0, 0.85)
}

/// Brightness of a photograph of `frame` metres, darker towards its corners by `strength`,
/// with an exposure that differs by up to `spread` between photographs.
fn vignette(seed: u32, x: f32, y: f32, frame: f32, strength: f32, spread: f32) -> f32 {
    let (gx, gy) = (x / frame, y / frame);
    let (fx, fy) = (ifloor(gx), ifloor(gy));
    let (dx, dy) = (gx - fx as f32 - 0.5, gy - fy as f32 - 0.5);
    let exposure = 1.0 + spread * (unit(hash(seed, fx, fy)) - 0.5);
    (1.0 - strength * 2.0 * (dx * dx + dy * dy)) * exposure
}

// ---------------------------------------------------------------------------------------------
// Painting one part

/// What one part needs besides the epoch: the objects of each band of rows.
struct Job<'a> {
    epoch: &'a Epoch<'a>,
    grid: &'a Grid,
    water: Vec<Vec<u32>>,
    streets: Vec<Vec<u32>>,
    buildings: Vec<Vec<u32>>,
    vehicles: Vec<Vehicle>,
    vehicle_bins: Vec<Vec<u32>>,
}

/// Per-thread buffers.
#[derive(Default)]
struct Work {
    rgb: Vec<Rgb>,
    mask: Vec<f32>,
    river: Vec<u8>,
    scan: Scan,
    memo: Memo,
    lattice: LatticeRow,
    hidden: Vec<bool>,
}

impl<'a> Job<'a> {
    fn new(epoch: &'a Epoch<'a>, grid: &'a Grid) -> Self {
        let scene = epoch.scene;
        let bands = grid.height.div_ceil(BAND_ROWS);
        let bin = |boxes: &mut dyn Iterator<Item = (usize, [f64; 4])>| {
            let mut bins = vec![Vec::new(); bands];
            for (i, b) in boxes {
                if let Some(range) = grid.bands(grow(b, grid.pixel)) {
                    for band in range {
                        bins[band].push(i as u32);
                    }
                }
            }
            bins
        };
        let water = bin(&mut scene.water.iter().map(|w| w.bbox).enumerate());
        let streets = bin(&mut scene
            .streets
            .iter()
            .enumerate()
            .filter(|(i, _)| epoch.surfaces[*i].is_some())
            .map(|(i, s)| (i, grow(bbox_of(&[s.a, s.b]), s.outer))));
        let buildings = bin(&mut scene
            .buildings
            .iter()
            .enumerate()
            .filter(|(_, b)| b.year <= epoch.year + 2)
            .map(|(i, b)| {
                let shadow = bbox_of(&epoch.shadows[i]);
                let b = grow(b.bbox, 25.0);
                (
                    i,
                    [
                        b[0].min(shadow[0]),
                        b[1].min(shadow[1]),
                        b[2].max(shadow[2]),
                        b[3].max(shadow[3]),
                    ],
                )
            }));
        let vehicles = vehicles(epoch, grid);
        let vehicle_bins = bin(&mut vehicles.iter().map(|v| v.bbox).enumerate());
        Self {
            epoch,
            grid,
            water,
            streets,
            buildings,
            vehicles,
            vehicle_bins,
        }
    }

    #[allow(clippy::too_many_lines)]
    fn band(&self, band: usize, out: &mut [u8], work: &mut Work) {
        let (e, g) = (self.epoch, self.grid);
        let scene = e.scene;
        let w = g.width;
        let channels = if e.gray { 1 } else { 3 };
        let n_rows = out.len() / (w * channels);
        let row0 = band * BAND_ROWS;
        let rows = row0..row0 + n_rows;
        let px = g.pixel as f32;
        let lx0 = g.x0 - scene.origin.0;
        let ly0 = g.top - scene.origin.1;
        let local_x = |x: usize| (lx0 + (x as f64 + 0.5) * g.pixel) as f32;
        let local_y = |y: usize| (ly0 - (y as f64 + 0.5) * g.pixel) as f32;
        let to_px = |p: &Xy| g.to_pixel(*p);
        let at = |x: usize, y: usize| (y - row0) * w + x;

        // Water first: where it, a roof or a street covers a pixel completely, the ground
        // under it is never seen and not painted.
        let mask = &mut work.mask;
        mask.clear();
        mask.resize(n_rows * w, 0.0);
        work.river.clear();
        work.river.resize(n_rows * w, 0);
        let scan = &mut work.scan;
        for &i in &self.water[band] {
            let water = &scene.water[i as usize];
            if water.layer != Layer::Water {
                continue;
            }
            scan.clear();
            for ring in &water.rings {
                scan.ring(ring.iter().map(to_px));
            }
            scan.fill(rows.clone(), w, |x, y, c| {
                let i = at(x, y);
                if c > mask[i] {
                    mask[i] = c;
                    work.river[i] = water.river;
                }
            });
        }
        let hidden = &mut work.hidden;
        hidden.clear();
        hidden.extend(mask.iter().map(|&m| m >= 0.999));
        for &i in &self.buildings[band] {
            let b = &scene.buildings[i as usize];
            if b.year <= e.year {
                scan.clear();
                scan.ring(b.ring.iter().map(to_px));
                scan.fill(rows.clone(), w, |x, y, c| hidden[at(x, y)] |= c >= 0.999);
            }
        }
        for &i in &self.streets[band] {
            let st = &scene.streets[i as usize];
            if e.surfaces[i as usize] == Some(Surface::Paved) {
                scan.clear();
                scan.ring(thick_segment(st.a, st.b, st.outer).iter().map(to_px));
                scan.fill(rows.clone(), w, |x, y, c| hidden[at(x, y)] |= c >= 0.999);
            }
        }

        let rgb = &mut work.rgb;
        rgb.clear();
        rgb.resize(n_rows * w, [0.0; 3]);
        for (r, line) in rgb.chunks_exact_mut(w).enumerate() {
            let y = local_y(row0 + r);
            e.land.row(
                y,
                (local_x(0), local_x(w - 1)),
                &e.density,
                &mut work.lattice,
            );
            let hidden = &hidden[r * w..(r + 1) * w];
            for (x, c) in line.iter_mut().enumerate() {
                if hidden[x] {
                    continue;
                }
                let lx = local_x(x);
                let m = Lookup::new(&work.lattice, lx);
                *c = e.ground(lx, y, px, &m, &mut work.memo);
            }
        }

        for layer in [Layer::Bank, Layer::Edge] {
            for &i in &self.water[band] {
                let shape = &scene.water[i as usize];
                if shape.layer != layer {
                    continue;
                }
                scan.clear();
                for ring in &shape.rings {
                    scan.ring(ring.iter().map(to_px));
                }
                let memo = &mut work.memo;
                scan.fill(rows.clone(), w, |x, y, c| {
                    let i = at(x, y);
                    if hidden[i] {
                        return;
                    }
                    let (lx, ly) = (local_x(x), local_y(y));
                    let col = if layer == Layer::Bank {
                        e.bank(lx, ly, px, memo)
                    } else {
                        e.edge(lx, ly, px)
                    };
                    rgb[i] = mix(rgb[i], col, c);
                });
            }
        }
        for (i, &m) in mask.iter().enumerate() {
            if m > 0.0 {
                let (x, y) = (i % w, row0 + i / w);
                let c = e.water(local_x(x), local_y(y), px, work.river[i]);
                rgb[i] = mix(rgb[i], c, m);
            }
        }

        // Gardens of the standing houses: a tint per lot, the yard, hedges.
        for &i in &self.buildings[band] {
            let b = &scene.buildings[i as usize];
            let Some(plot) = b.plot.as_ref().filter(|_| b.year <= e.year) else {
                continue;
            };
            let centre = (
                (b.centroid.0 - scene.origin.0) as f32,
                (b.centroid.1 - scene.origin.1) as f32,
            );
            let [count, bulk] = e.density.sample(centre.0, centre.1);
            let h = b.roof.hash;
            // Courtyards in the dense town, gardens of their own tint elsewhere.
            let courtyard = unit(hash(h, 23, 0)) < paved_share(bulk);
            let (f, warm) = (
                0.9 + 0.2 * unit(hash(h, 21, 0)),
                0.1 * (unit(hash(h, 22, 0)) - 0.5),
            );
            let tint = [f * (1.0 + warm), f, f * (1.0 - warm)];
            scan.clear();
            scan.ring(plot.lot.iter().map(to_px));
            scan.fill(rows.clone(), w, |x, y, c| {
                let i = at(x, y);
                let p = rgb[i];
                rgb[i] = if courtyard {
                    mix(p, e.yard(b, local_x(x), local_y(y), px), c * 0.92)
                } else {
                    mix(p, [p[0] * tint[0], p[1] * tint[1], p[2] * tint[2]], c)
                };
            });
            for yard in &plot.yards {
                scan.clear();
                scan.ring(yard.iter().map(to_px));
                scan.fill(rows.clone(), w, |x, y, c| {
                    let i = at(x, y);
                    rgb[i] = mix(rgb[i], e.yard(b, local_x(x), local_y(y), px), c * 0.9);
                });
            }
            if courtyard || count > 14.0 {
                continue;
            }
            for hedge in &plot.hedges {
                scan.clear();
                scan.ring(hedge.iter().map(to_px));
                let memo = &mut work.memo;
                scan.fill(rows.clone(), w, |x, y, c| {
                    let i = at(x, y);
                    let (col, alpha) = e.hedge(local_x(x), local_y(y), px, memo);
                    rgb[i] = mix(rgb[i], col, c * alpha);
                });
            }
        }

        // Streets: all pavements first, then all carriageways, so crossings stay open.
        for inner in [false, true] {
            for &i in &self.streets[band] {
                let st = &scene.streets[i as usize];
                let Some(surface) = e.surfaces[i as usize] else {
                    continue;
                };
                let half = match (surface, inner) {
                    (Surface::Paved, true) => st.half,
                    (Surface::Paved, false) => st.outer,
                    (Surface::Track, true) => st.half.min(1.3),
                    (Surface::Track, false) => st.half.min(1.3) + 0.6,
                };
                if !inner && half <= st.half {
                    continue;
                }
                scan.clear();
                scan.ring(thick_segment(st.a, st.b, half).iter().map(to_px));
                scan.fill(rows.clone(), w, |x, y, c| {
                    let i = at(x, y);
                    let col = e.street(st, surface, local_x(x), local_y(y), px, inner);
                    rgb[i] = mix(rgb[i], col, c);
                });
            }
        }

        // Construction sites, then cars and barges.
        for &i in &self.buildings[band] {
            let b = &scene.buildings[i as usize];
            if b.year <= e.year {
                continue;
            }
            scan.clear();
            scan.ring(
                b.ring
                    .iter()
                    .map(|p| {
                        let (dx, dy) = (p.0 - b.centroid.0, p.1 - b.centroid.1);
                        let len = dx.hypot(dy).max(0.1);
                        (p.0 + dx / len * 3.5, p.1 + dy / len * 3.5)
                    })
                    .map(|p| g.to_pixel(p)),
            );
            scan.fill(rows.clone(), w, |x, y, c| {
                let i = at(x, y);
                rgb[i] = mix(rgb[i], e.construction(b, local_x(x), local_y(y), px), c);
            });
        }
        for &i in &self.vehicle_bins[band] {
            let v = &self.vehicles[i as usize];
            scan.clear();
            scan.ring(vehicle_outline(v, scene.origin).iter().map(to_px));
            scan.fill(rows.clone(), w, |x, y, c| {
                let i = at(x, y);
                rgb[i] = mix(rgb[i], Epoch::vehicle(v, local_x(x), local_y(y), px), c);
            });
        }

        // Shadows, then roofs.
        mask.fill(0.0);
        for &i in &self.buildings[band] {
            let shadow = &e.shadows[i as usize];
            if shadow.is_empty() {
                continue;
            }
            scan.clear();
            scan.ring(shadow.iter().map(to_px));
            scan.fill(rows.clone(), w, |x, y, c| {
                let i = at(x, y);
                mask[i] = mask[i].max(c);
            });
        }
        for (c, &m) in rgb.iter_mut().zip(mask.iter()) {
            if m > 0.0 {
                *c = [
                    c[0] * (1.0 - 0.52 * m),
                    c[1] * (1.0 - 0.5 * m),
                    c[2] * (1.0 - 0.42 * m),
                ];
            }
        }
        for &i in &self.buildings[band] {
            let b = &scene.buildings[i as usize];
            if b.year > e.year {
                continue;
            }
            scan.clear();
            scan.ring(b.ring.iter().map(to_px));
            scan.fill(rows.clone(), w, |x, y, c| {
                let i = at(x, y);
                rgb[i] = mix(rgb[i], e.roof(&b.roof, local_x(x), local_y(y), px), c);
            });
        }

        // Develop the film.
        let part = hash(stream(e.seed, 103), g.width as i32, g.height as i32);
        for (r, line) in rgb.chunks_exact(w).enumerate() {
            let y = row0 + r;
            let ly = local_y(y);
            let out_line = &mut out[r * w * channels..(r + 1) * w * channels];
            let mut grain = hash(part, y as i32, 0) | 1;
            for (x, c) in line.iter().enumerate() {
                grain ^= grain << 13;
                grain ^= grain >> 17;
                grain ^= grain << 5;
                let d = e.develop(*c, local_x(x), ly, grain);
                let o = &mut out_line[x * channels..(x + 1) * channels];
                for (o, v) in o.iter_mut().zip(d) {
                    *o = (v + 0.5).clamp(0.0, 255.0) as u8;
                }
            }
        }
    }
}

/// A segment widened by `half` on both sides and at both ends.
fn thick_segment(a: Xy, b: Xy, half: f64) -> [Xy; 4] {
    let len = (b.0 - a.0).hypot(b.1 - a.1).max(1e-9);
    let d = ((b.0 - a.0) / len * half, (b.1 - a.1) / len * half);
    let n = (-d.1, d.0);
    [
        (a.0 - d.0 + n.0, a.1 - d.1 + n.1),
        (b.0 + d.0 + n.0, b.1 + d.1 + n.1),
        (b.0 + d.0 - n.0, b.1 + d.1 - n.1),
        (a.0 - d.0 - n.0, a.1 - d.1 - n.1),
    ]
}

fn vehicle_outline(v: &Vehicle, origin: Xy) -> [Xy; 4] {
    let c = (
        f64::from(v.centre.0) + origin.0,
        f64::from(v.centre.1) + origin.1,
    );
    let d = (f64::from(v.dir.0), f64::from(v.dir.1));
    let (hl, hw) = (f64::from(v.length) * 0.5, f64::from(v.width) * 0.5);
    let corner = |a: f64, b: f64| (c.0 + d.0 * a - d.1 * b, c.1 + d.1 * a + d.0 * b);
    [
        corner(-hl, -hw),
        corner(hl, -hw),
        corner(hl, hw),
        corner(-hl, hw),
    ]
}

/// Parked cars (only where they show, at 0.5 m and finer) and barges on the rivers.
fn vehicles(epoch: &Epoch<'_>, grid: &Grid) -> Vec<Vehicle> {
    const CARS: [Rgb; 8] = [
        [222.0, 222.0, 218.0],
        [30.0, 31.0, 34.0],
        [150.0, 152.0, 156.0],
        [96.0, 98.0, 104.0],
        [40.0, 56.0, 98.0],
        [150.0, 36.0, 32.0],
        [196.0, 198.0, 200.0],
        [62.0, 80.0, 70.0],
    ];
    const CARGO: [Rgb; 4] = [
        [42.0, 40.0, 40.0],
        [176.0, 150.0, 110.0],
        [122.0, 64.0, 44.0],
        [58.0, 76.0, 96.0],
    ];
    let scene = epoch.scene;
    let o = scene.origin;
    let seed = epoch.seed ^ epoch.year as u32;
    let mut out = Vec::new();
    let mut push = |centre: Xy, dir: Xy, length: f64, width: f64, colour: Rgb, barge: bool| {
        let mut v = Vehicle {
            centre: ((centre.0 - o.0) as f32, (centre.1 - o.1) as f32),
            dir: (dir.0 as f32, dir.1 as f32),
            length: length as f32,
            width: width as f32,
            colour,
            barge,
            bbox: [0.0; 4],
        };
        v.bbox = bbox_of(&vehicle_outline(&v, o));
        if grid.bands(v.bbox).is_some() {
            out.push(v);
        }
    };
    let chance = match epoch.era {
        Era::BlackAndWhite => 0.05,
        Era::ColourFilm => 0.3,
        Era::Digital => 0.42,
    };
    if grid.pixel <= 0.5 {
        for (i, st) in scene.streets.iter().enumerate() {
            if epoch.surfaces[i] != Some(Surface::Paved) || st.half < 2.7 {
                continue;
            }
            let len = (st.b.0 - st.a.0).hypot(st.b.1 - st.a.1);
            let d = ((st.b.0 - st.a.0) / len, (st.b.1 - st.a.1) / len);
            for side in [-1.0, 1.0] {
                let slots = ((len - 16.0) / 6.0).floor().max(0.0) as i32;
                for k in 0..slots {
                    let h = hash(seed, i as i32, k * 2 + i32::from(side > 0.0));
                    if unit(h) >= chance {
                        continue;
                    }
                    let t = 11.0 + f64::from(k) * 6.0 + f64::from(unit_low(h)) * 0.8;
                    let off = side * (st.half - 1.25);
                    let centre = (st.a.0 + d.0 * t - d.1 * off, st.a.1 + d.1 * t + d.0 * off);
                    let colour = CARS[(h >> 3) as usize % CARS.len()];
                    push(
                        centre,
                        d,
                        4.2 + 0.6 * f64::from(unit(hash(h, 1, 0))),
                        1.8,
                        colour,
                        false,
                    );
                }
            }
        }
    }
    for (r, (line, half)) in scene.rivers.iter().enumerate() {
        for (i, w) in line.windows(2).enumerate() {
            let (a, b) = (w[0], w[1]);
            let len = (b.0 - a.0).hypot(b.1 - a.1);
            let d = ((b.0 - a.0) / len, (b.1 - a.1) / len);
            let slots = (len / 600.0).floor() as i32;
            for k in 0..slots {
                let h = hash(seed ^ 0xB4A6, (r * 100 + i) as i32, k);
                if unit(h) > 0.45 {
                    continue;
                }
                let t = f64::from(k) * 600.0 + 200.0 + f64::from(unit_low(h)) * 200.0;
                let off = if h & 1 == 0 { 0.35 } else { -0.35 } * half;
                let centre = (a.0 + d.0 * t - d.1 * off, a.1 + d.1 * t + d.0 * off);
                let dir = if h & 2 == 0 { d } else { (-d.0, -d.1) };
                let length = 80.0 + 30.0 * f64::from(unit(hash(h, 1, 0)));
                let colour = CARGO[(h >> 5) as usize % CARGO.len()];
                push(centre, dir, length, 10.5, colour, true);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wkb_header(out: &mut Vec<u8>, little: bool, kind: u32) {
        out.push(u8::from(little));
        out.extend(if little {
            kind.to_le_bytes()
        } else {
            kind.to_be_bytes()
        });
    }

    fn wkb_u32(out: &mut Vec<u8>, little: bool, v: u32) {
        out.extend(if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        });
    }

    fn wkb_points(out: &mut Vec<u8>, little: bool, points: &[Xy]) {
        wkb_u32(out, little, points.len() as u32);
        for p in points {
            for v in [p.0, p.1] {
                out.extend(if little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                });
            }
        }
    }

    fn wkb_polygon(out: &mut Vec<u8>, little: bool, rings: &[&[Xy]]) {
        wkb_header(out, little, 3);
        wkb_u32(out, little, rings.len() as u32);
        for ring in rings {
            wkb_points(out, little, ring);
        }
    }

    const SQUARE: [Xy; 5] = [(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)];
    const HOLE: [Xy; 4] = [(1.0, 1.0), (2.0, 1.0), (2.0, 2.0), (1.0, 1.0)];

    #[test]
    fn wkb_reads_linestrings_polygons_and_multipolygons_in_both_byte_orders() {
        for little in [true, false] {
            let mut line = Vec::new();
            wkb_header(&mut line, little, 2);
            wkb_points(&mut line, little, &[(1.5, 2.5), (400_000.25, 5_580_000.5)]);
            assert_eq!(
                parse_wkb(&line),
                Ok(Geometry::LineString(vec![
                    (1.5, 2.5),
                    (400_000.25, 5_580_000.5)
                ]))
            );

            let mut polygon = Vec::new();
            wkb_polygon(&mut polygon, little, &[&SQUARE, &HOLE]);
            assert_eq!(
                parse_wkb(&polygon),
                Ok(Geometry::Polygon(vec![SQUARE.to_vec(), HOLE.to_vec()]))
            );

            // Parts may use the other byte order than the collection.
            let mut multi = Vec::new();
            wkb_header(&mut multi, little, 6);
            wkb_u32(&mut multi, little, 2);
            wkb_polygon(&mut multi, !little, &[&SQUARE]);
            wkb_polygon(&mut multi, little, &[&HOLE]);
            let geometry = parse_wkb(&multi).expect("multipolygon");
            assert_eq!(
                geometry.clone(),
                Geometry::MultiPolygon(vec![vec![SQUARE.to_vec()], vec![HOLE.to_vec()]])
            );
            assert_eq!(geometry.outer_rings(), vec![SQUARE.to_vec(), HOLE.to_vec()]);
        }
    }

    #[test]
    fn wkb_reads_an_srid_and_rejects_garbage() {
        let mut ewkb = Vec::new();
        wkb_header(&mut ewkb, true, 0x2000_0002);
        wkb_u32(&mut ewkb, true, 25_832);
        wkb_points(&mut ewkb, true, &[(1.0, 2.0), (3.0, 4.0)]);
        assert_eq!(
            parse_wkb(&ewkb),
            Ok(Geometry::LineString(vec![(1.0, 2.0), (3.0, 4.0)]))
        );

        let mut polygon = Vec::new();
        wkb_polygon(&mut polygon, true, &[&SQUARE]);
        assert!(
            parse_wkb(&polygon[..polygon.len() - 3]).is_err(),
            "truncated"
        );
        let mut trailing = polygon.clone();
        trailing.push(0);
        assert!(parse_wkb(&trailing).is_err(), "trailing bytes");
        let mut point = Vec::new();
        wkb_header(&mut point, true, 1);
        point.extend([0; 16]);
        assert!(parse_wkb(&point).is_err(), "points are not read");
        let mut huge = Vec::new();
        wkb_header(&mut huge, true, 2);
        wkb_u32(&mut huge, true, u32::MAX);
        assert!(parse_wkb(&huge).is_err(), "a count beyond the data");
        assert!(parse_wkb(&[7, 2, 0, 0, 0]).is_err(), "byte order");
    }

    fn coverage(ring: &[Xy], rows: Range<usize>, width: usize) -> Vec<(usize, usize, f32)> {
        let mut scan = Scan::default();
        scan.ring(ring.iter().copied());
        let mut hits = Vec::new();
        scan.fill(rows, width, |x, y, c| hits.push((x, y, c)));
        hits
    }

    #[test]
    fn a_square_on_the_pixel_grid_covers_exactly_its_pixels() {
        let square = [(2.0, 3.0), (12.0, 3.0), (12.0, 13.0), (2.0, 13.0)];
        let hits = coverage(&square, 0..100, 100);
        assert_eq!(hits.len(), 100);
        assert!(hits.iter().all(|&(x, y, c)| {
            (2..12).contains(&x) && (3..13).contains(&y) && (c - 1.0).abs() < 1e-6
        }));
    }

    #[test]
    fn coverage_is_the_covered_area_and_respects_rows_and_columns() {
        // Shifted by half a pixel: the border pixels are half covered, the area is the same.
        let square = [(2.5, 3.5), (12.5, 3.5), (12.5, 13.5), (2.5, 13.5)];
        let hits = coverage(&square, 0..100, 100);
        let area: f32 = hits.iter().map(|h| h.2).sum();
        assert!((area - 100.0).abs() < 1e-3, "{area}");
        assert_eq!(hits.len(), 121);
        let corner = hits.iter().find(|h| (h.0, h.1) == (2, 3)).map(|h| h.2);
        assert_eq!(corner, Some(0.25));
        // A triangle: half of a 10 x 10 square.
        let triangle = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
        let area: f32 = coverage(&triangle, 0..100, 100).iter().map(|h| h.2).sum();
        assert!((area - 50.0).abs() < 0.2, "{area}");
        // Clipped to rows 5..8 and columns 0..6.
        let hits = coverage(&square, 5..8, 6);
        assert_eq!(hits.len(), 3 * 4);
        // A hole (even-odd) is left out.
        let mut scan = Scan::default();
        scan.ring([(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]);
        scan.ring([(3.0, 3.0), (7.0, 3.0), (7.0, 7.0), (3.0, 7.0)]);
        let mut area = 0.0;
        scan.fill(0..20, 20, |_, _, c| area += c);
        assert!((area - 84.0).abs() < 1e-3, "{area}");
    }

    #[test]
    fn grid_and_bands() {
        let grid = Grid::covering([392_886.7, 5_570_970.4, 408_037.9, 5_584_965.9], 2.0);
        assert_eq!((grid.x0, grid.top), (392_880.0, 5_584_970.0));
        assert_eq!((grid.width, grid.height), (7_580, 7_000));
        let (x, y) = grid.to_pixel((392_890.0, 5_584_960.0));
        assert!((x - 5.0).abs() < 1e-9 && (y - 5.0).abs() < 1e-9);
        assert_eq!(
            grid.bands([392_900.0, 5_584_700.0, 393_000.0, 5_584_960.0]),
            Some(0..3)
        );
        assert_eq!(grid.bands([0.0, 0.0, 10.0, 10.0]), None);
    }

    #[test]
    fn shadows_are_the_convex_hull_of_the_building_and_its_offset() {
        let ring = vec![(0.0, 0.0), (10.0, 0.0), (10.0, 5.0), (0.0, 5.0)];
        let mut points = ring.clone();
        points.extend(ring.iter().map(|p| (p.0 + 3.0, p.1 + 4.0)));
        let hull = convex_hull(points);
        assert_eq!(hull.len(), 6);
        let area = hull
            .iter()
            .zip(hull.iter().cycle().skip(1))
            .map(|(a, b)| a.0 * b.1 - b.0 * a.1)
            .sum::<f64>()
            / 2.0;
        // Rectangle 50 plus the swept parallelograms 10 * 4 + 5 * 3.
        assert!((area - 105.0).abs() < 1e-9, "{area}");
    }

    #[test]
    fn gdal_reads_the_vrt_with_extent_crs_and_pixels() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let grid = Grid {
            x0: 400_000.0,
            top: 5_580_010.0,
            pixel: 0.5,
            width: 4,
            height: 3,
        };
        let rgb: Vec<u8> = (0..36).collect();
        let vrt = write_part(dir.path(), "rgb", &grid, false, &rgb).expect("written");
        let gray: Vec<u8> = (100..112).collect();
        let gray_vrt = write_part(dir.path(), "gray", &grid, true, &gray).expect("written");

        let ds = gdal::Dataset::open(&vrt).expect("GDAL opens the VRT");
        assert_eq!(ds.raster_size(), (4, 3));
        assert_eq!(ds.raster_count(), 3);
        let transform = ds.geo_transform().expect("geotransform");
        let expected = [400_000.0, 0.5, 0.0, 5_580_010.0, 0.0, -0.5];
        assert!(
            transform
                .iter()
                .zip(expected)
                .all(|(a, b)| (a - b).abs() < 1e-9),
            "{transform:?}"
        );
        assert_eq!(
            ds.spatial_ref().expect("srs").auth_code().ok(),
            Some(25_832)
        );
        let green = ds.rasterband(2).expect("band 2");
        let values = green
            .read_as::<u8>((0, 0), (4, 3), (4, 3), None)
            .expect("pixels");
        assert_eq!(
            values.data(),
            &[1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 34]
        );
        assert_eq!(
            green.color_interpretation(),
            gdal::raster::ColorInterpretation::GreenBand
        );

        let ds = gdal::Dataset::open(&gray_vrt).expect("GDAL opens the gray VRT");
        assert_eq!(ds.raster_count(), 1);
        let band = ds.rasterband(1).expect("band 1");
        let values = band
            .read_as::<u8>((3, 2), (1, 1), (1, 1), None)
            .expect("pixel");
        assert_eq!(values.data(), &[111]);

        // And the command-line tools agree.
        let info = std::process::Command::new("gdalinfo")
            .arg(&vrt)
            .output()
            .expect("gdalinfo runs");
        let text = String::from_utf8_lossy(&info.stdout);
        assert!(info.status.success(), "{text}");
        assert!(text.contains("ETRS89 / UTM zone 32N"), "{text}");
        assert!(
            text.contains("Upper Left  (  400000.000, 5580010.000)"),
            "{text}"
        );
        assert!(
            text.contains("Lower Right (  400002.000, 5580008.500)"),
            "{text}"
        );
    }

    #[test]
    fn noise_is_smooth_and_in_range() {
        let mut last = noise(1, 0.0, 0.3);
        for i in 1..1_000 {
            let v = noise(1, i as f32 * 0.01, 0.3);
            assert!((0.0..1.0).contains(&v));
            assert!((v - last).abs() < 0.05, "jump at {i}");
            last = v;
        }
        assert!(
            (fbm(3, 10.0, 10.0, 0.1, 3, 2.0) - 0.5).abs() < 1e-6,
            "sub-pixel detail fades"
        );
    }
}
