//! `stadtkarte import imagery`: aerial images (`GeoTIFF` or anything GDAL reads, in any CRS) into
//! a tile pyramid aligned to `WebMercatorQuad` that the server answers by copying bytes.
//!
//! The pyramid is one Cloud-Optimized `GeoTIFF` per zoom level (GDAL's COG driver with the
//! `GoogleMapsCompatible` tiling scheme, 256-pixel WebP tiles with alpha, empty tiles omitted).
//! The deepest level is warped from the source; every shallower level is averaged from the level
//! below, so each level is exactly aligned without the padding that `ALIGNED_LEVELS` costs
//! (measured: 83 s instead of 0.5 s for a 3-megapixel source with 10 aligned levels).
//! Pixels outside the footprint are transparent (alpha), so the rotation of the footprint by the
//! 25832 → 3857 reprojection leaves no black wedges. An epoch may have several parts of
//! different resolution (e.g. 2 m for the whole city, 20 cm for the centre): each finer part
//! adds the zoom levels below its resolution, and the server takes a tile from the finest part
//! that has it.
//!
//! The files are written under a new version folder; the catalog row is swapped in one
//! transaction, and only then the previous version's folder is removed. A failed import leaves
//! the catalog and the previous files as they were.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use gdal::Dataset;
use gdal::raster::{ColorInterpretation, GdalDataType};
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use stadtkarte_core::catalog;
use stadtkarte_core::cog::{CogLevel, WORLD_HALF};
use stadtkarte_core::imagery::SERIES;
use stadtkarte_core::tokio_postgres::Client;
use tokio::io::AsyncReadExt as _;

use crate::progress::{Counter, Reporter};

/// How long the replaced version's files stay after the catalog row was swapped: longer than
/// the 3 seconds for which a node keeps an epoch's row (`tiles::imagery`).
const REPLACED_GRACE: Duration = Duration::from_secs(5);

/// One imagery import.
#[derive(Debug, Clone)]
pub struct ImageryImport {
    /// The source files (one or more parts of one epoch).
    pub files: Vec<PathBuf>,
    /// Epoch id (e.g. `luftbild-1958`).
    pub id: String,
    /// Year of the flight.
    pub year: i32,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Where the images come from.
    pub source: String,
    /// Licence.
    pub license: String,
    /// Attribution text.
    pub attribution: String,
    /// CRS of the source when the file has none, e.g. `EPSG:25832`.
    pub source_srs: Option<String>,
    /// Replace an existing epoch with the same id.
    pub replace: bool,
    /// WebP quality 1–100.
    pub quality: u8,
    /// Who imports, for the audit log.
    pub actor: String,
    /// The imagery folder.
    pub dir: PathBuf,
    /// Show progress.
    pub progress: bool,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImagerySummary {
    /// Epoch id.
    pub id: String,
    /// Shallowest zoom.
    pub min_zoom: u8,
    /// Deepest zoom.
    pub max_zoom: u8,
    /// Stored (non-empty) tiles.
    pub tiles: u64,
    /// Bytes of the prepared files.
    pub storage_bytes: u64,
    /// Bytes of the source files.
    pub source_bytes: u64,
    /// Finest ground resolution in metres per pixel.
    pub resolution_m: f64,
    /// Whether the epoch is grayscale.
    pub grayscale: bool,
    /// Conversions done on the way (16 bit scaled, palette expanded, …).
    pub notes: Vec<String>,
    /// Whether an older version was replaced.
    pub replaced: bool,
    /// Time taken.
    pub elapsed: Duration,
}

/// Why an imagery import failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageryError {
    /// The id is not usable.
    #[error(
        "Ungültige Kennung {0:?}: erlaubt sind a–z, 0–9, - und _, beginnend mit einem Buchstaben (höchstens 63 Zeichen)"
    )]
    BadId(String),
    /// The id is taken by something else.
    #[error("Die Kennung {0:?} ist bereits vergeben ({1})")]
    IdTaken(String, &'static str),
    /// The epoch exists.
    #[error("Das Luftbild {0:?} gibt es schon; mit --replace wird es ersetzt")]
    Exists(String),
    /// No files given.
    #[error("Keine Datei angegeben")]
    NoFiles,
    /// Not a raster GDAL reads.
    #[error("{0}: keine Rasterdatei, die GDAL lesen kann ({1})")]
    NotRaster(PathBuf, String),
    /// No CRS.
    #[error(
        "{0}: die Datei hat kein Koordinatenreferenzsystem; bitte mit --source-srs angeben (z. B. --source-srs EPSG:25832)"
    )]
    NoCrs(PathBuf),
    /// No georeferencing.
    #[error(
        "{0}: die Datei ist nicht georeferenziert (keine Lage in Koordinaten; World-File oder GeoTIFF-Tags fehlen)"
    )]
    NoGeoreference(PathBuf),
    /// An image layout that cannot be converted.
    #[error("{0}: {1}")]
    Unsupported(PathBuf, String),
    /// The given `--source-srs` is unknown.
    #[error("Unbekanntes Koordinatenreferenzsystem {0:?}: {1}")]
    BadSrs(String, String),
    /// The parts do not fit together.
    #[error("{0}")]
    Parts(String),
    /// GDAL failed while preparing the pyramid.
    #[error("GDAL konnte die Kachelpyramide nicht erzeugen: {0}")]
    Gdal(String),
    /// A file system operation failed.
    #[error("Dateifehler bei {0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The database refused.
    #[error("Datenbankfehler: {0}")]
    Db(String),
}

/// What the inspection of one source file found.
#[derive(Debug, Clone)]
struct Inspected {
    path: PathBuf,
    /// `gdal_translate` options that make an 8-bit RGBA (or gray + alpha) VRT.
    vrt_args: Vec<String>,
    grayscale: bool,
    resolution_m: f64,
    /// Footprint as WKT polygon in EPSG:4326 (lon/lat).
    footprint: String,
    notes: Vec<String>,
    bytes: u64,
}

fn check_id(id: &str) -> Result<(), ImageryError> {
    let mut chars = id.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && id.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        return Err(ImageryError::BadId(id.to_owned()));
    }
    if id == SERIES {
        return Err(ImageryError::IdTaken(
            id.to_owned(),
            "Name der Sammlung aller Luftbilder",
        ));
    }
    Ok(())
}

/// Looks at a source: raster, bands, CRS, georeference, footprint.
fn inspect(path: &Path, source_srs: Option<&str>) -> Result<Inspected, ImageryError> {
    let not_raster = |e: String| ImageryError::NotRaster(path.to_owned(), e);
    let ds = Dataset::open_ex(
        path,
        gdal::DatasetOptions {
            open_flags: gdal::GdalOpenFlags::GDAL_OF_RASTER | gdal::GdalOpenFlags::GDAL_OF_READONLY,
            ..Default::default()
        },
    )
    .map_err(|e| not_raster(e.to_string()))?;
    let count = ds.raster_count();
    if count == 0 {
        return Err(not_raster("keine Rasterkanäle".into()));
    }
    let unsupported = |why: String| ImageryError::Unsupported(path.to_owned(), why);
    let mut kinds = Vec::new();
    let mut types = Vec::new();
    for i in 1..=count {
        let band = ds.rasterband(i).map_err(|e| not_raster(e.to_string()))?;
        kinds.push(band.color_interpretation());
        types.push(band.band_type());
    }
    if kinds.iter().any(|k| {
        matches!(
            k,
            ColorInterpretation::CyanBand
                | ColorInterpretation::MagentaBand
                | ColorInterpretation::YellowBand
                | ColorInterpretation::BlackBand
        )
    }) {
        return Err(unsupported(
            "CMYK-Bilder (Druckfarben) werden nicht unterstützt: bitte vorher in RGB umwandeln, \
             z. B. mit einem Bildbearbeitungsprogramm oder gdal_translate -co PHOTOMETRIC=RGB"
                .into(),
        ));
    }
    let mut notes = Vec::new();
    let wide = types.iter().any(|t| *t != GdalDataType::UInt8);
    if types
        .iter()
        .any(|t| matches!(t, GdalDataType::Float32 | GdalDataType::Float64))
    {
        return Err(unsupported(
            "Gleitkomma-Raster (z. B. Höhenmodelle) sind keine Luftbilder; erwartet werden 8- oder 16-Bit-Bilder"
                .into(),
        ));
    }
    let alpha = kinds
        .iter()
        .position(|k| *k == ColorInterpretation::AlphaBand)
        .map(|i| i + 1);
    let colour: Vec<usize> = (1..=count).filter(|i| Some(*i) != alpha).collect();
    let mut args: Vec<String> = Vec::new();
    let palette = count == 1 && kinds[0] == ColorInterpretation::PaletteIndex;
    let grayscale;
    let data_bands: Vec<usize> = match (colour.len(), palette) {
        (1, true) => {
            notes.push("Farbpalette in RGB umgewandelt".into());
            args.extend(["-expand".into(), "rgb".into()]);
            grayscale = false;
            vec![1, 2, 3]
        }
        (1, false) => {
            grayscale = true;
            vec![colour[0], colour[0], colour[0]]
        }
        (3, _) => {
            grayscale = false;
            colour.clone()
        }
        (n, _) => {
            return Err(unsupported(format!(
                "{n} Farbkanäle; erwartet werden 1 (Graustufen), 3 (RGB) oder 3 + Alpha"
            )));
        }
    };
    if wide {
        notes.push("16-Bit-Werte je Kanal linear auf 8 Bit skaliert (Minimum bis Maximum)".into());
        args.extend(["-ot".into(), "Byte".into()]);
        // Scale the colour bands only; the alpha/mask band is 8-bit already.
        for (i, _) in data_bands.iter().enumerate() {
            args.push(format!("-scale_{}", i + 1));
        }
    }
    if palette {
        // -expand makes bands 1–3 of the VRT; the mask comes from the source.
        args.extend(["-b".into(), "1".into(), "-b".into(), "mask".into()]);
    } else {
        for b in &data_bands {
            args.extend(["-b".into(), b.to_string()]);
        }
        match alpha {
            Some(a) => args.extend(["-b".into(), a.to_string()]),
            None => args.extend(["-b".into(), "mask".into()]),
        }
    }
    let gt = ds
        .geo_transform()
        .map_err(|_| ImageryError::NoGeoreference(path.to_owned()))?;
    #[allow(clippy::float_cmp)]
    let default_transform = gt == [0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    if default_transform {
        return Err(ImageryError::NoGeoreference(path.to_owned()));
    }
    let srs = match source_srs {
        Some(s) => {
            args.extend(["-a_srs".into(), s.to_owned()]);
            SpatialRef::from_definition(s)
                .map_err(|e| ImageryError::BadSrs(s.to_owned(), e.to_string()))?
        }
        None => ds
            .spatial_ref()
            .ok()
            .filter(|s| s.to_wkt().is_ok_and(|w| !w.is_empty()))
            .ok_or_else(|| ImageryError::NoCrs(path.to_owned()))?,
    };
    let (w, h) = ds.raster_size();
    #[allow(clippy::cast_precision_loss)]
    let (w, h) = (w as f64, h as f64);
    // Densified outline (20 points per side) in lon/lat.
    let mut xs = Vec::with_capacity(81);
    let mut ys = Vec::with_capacity(81);
    let corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h), (0.0, 0.0)];
    for pair in corners.windows(2) {
        for k in 0..20 {
            let t = f64::from(k) / 20.0;
            let (px, py) = (
                pair[0].0 + (pair[1].0 - pair[0].0) * t,
                pair[0].1 + (pair[1].1 - pair[0].1) * t,
            );
            xs.push(gt[0] + px * gt[1] + py * gt[2]);
            ys.push(gt[3] + px * gt[4] + py * gt[5]);
        }
    }
    xs.push(xs[0]);
    ys.push(ys[0]);
    let mut src = srs.clone();
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut wgs = SpatialRef::from_epsg(4326).map_err(|e| ImageryError::Gdal(e.to_string()))?;
    wgs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let transform = CoordTransform::new(&src, &wgs)
        .map_err(|e| ImageryError::BadSrs(String::new(), e.to_string()))?;
    transform
        .transform_coords(&mut xs, &mut ys, &mut [])
        .map_err(|e| {
            ImageryError::Unsupported(path.to_owned(), format!("Lage nicht umrechenbar: {e}"))
        })?;
    if xs.iter().chain(ys.iter()).any(|v| !v.is_finite()) || ys.iter().any(|y| y.abs() > 85.06) {
        return Err(unsupported(
            "die Lage liegt außerhalb des Web-Mercator-Bereichs".into(),
        ));
    }
    let footprint = format!(
        "POLYGON(({}))",
        xs.iter()
            .zip(&ys)
            .map(|(x, y)| format!("{x} {y}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    // Ground resolution: pixel size in metres (degrees converted at the centre latitude).
    let pixel = gt[1].hypot(gt[4]);
    let resolution_m = if srs.is_geographic() {
        #[allow(clippy::cast_precision_loss)]
        let mean_lat = ys.iter().sum::<f64>() / ys.len() as f64;
        pixel * 111_320.0 * mean_lat.to_radians().cos().abs().max(0.01)
    } else {
        pixel * srs.linear_units()
    };
    let bytes = source_bytes(path);
    Ok(Inspected {
        path: path.to_owned(),
        vrt_args: args,
        grayscale,
        resolution_m: resolution_m.abs(),
        footprint,
        notes,
        bytes,
    })
}

/// Size of a source on disk; for a VRT, with the files it reads.
fn source_bytes(path: &Path) -> u64 {
    let own = std::fs::metadata(path).map_or(0, |m| m.len());
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("vrt"))
    {
        return own;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return own;
    };
    let Ok(doc) = roxmltree::Document::parse(&text) else {
        return own;
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut files: Vec<PathBuf> = doc
        .descendants()
        .filter(|n| n.has_tag_name("SourceFilename"))
        .filter_map(|n| {
            let name = n.text()?;
            Some(if n.attribute("relativeToVRT") == Some("1") {
                dir.join(name)
            } else {
                PathBuf::from(name)
            })
        })
        .collect();
    files.sort();
    files.dedup();
    own + files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum::<u64>()
}

/// Runs a GDAL command line tool; reports its `0...10...` progress into `counter` (percent).
async fn gdal_tool(
    program: &str,
    args: &[String],
    counter: Option<&Counter>,
) -> Result<(), ImageryError> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            ImageryError::Gdal(format!(
                "{program} lässt sich nicht starten ({e}); ist gdal-bin installiert?"
            ))
        })?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let progress = async {
        let Some(out) = stdout.as_mut() else { return };
        let mut buf = [0u8; 256];
        let mut text = String::new();
        let mut shown = 0u64;
        while let Ok(n) = out.read(&mut buf).await {
            if n == 0 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
            // "0...10...20" – the last complete number, dots count 2.5 % each.
            let dots = text.matches('.').count() as u64;
            let percent = (dots * 10 / 4).min(100);
            if let Some(c) = counter
                && percent > shown
            {
                c.add(percent - shown);
                shown = percent;
            }
        }
    };
    let errors = async {
        let mut text = String::new();
        if let Some(err) = stderr.as_mut() {
            let _ = err.read_to_string(&mut text).await;
        }
        text
    };
    let ((), err_text) = tokio::join!(progress, errors);
    let status = child
        .wait()
        .await
        .map_err(|e| ImageryError::Gdal(e.to_string()))?;
    // GDAL 3.6 tools may exit with 0 after a failed tile; an ERROR line is a failure.
    if !status.success() || err_text.lines().any(|l| l.starts_with("ERROR")) {
        let detail: Vec<&str> = err_text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(5)
            .collect();
        return Err(ImageryError::Gdal(format!(
            "{program}: {}",
            detail.join(" / ")
        )));
    }
    Ok(())
}

fn s(v: &str) -> String {
    v.to_owned()
}

/// COG creation options shared by every level.
fn cog_options(quality: u8) -> Vec<String> {
    [
        "-of",
        "COG",
        "-co",
        "TILING_SCHEME=GoogleMapsCompatible",
        "-co",
        "BLOCKSIZE=256",
        "-co",
        "COMPRESS=WEBP",
        "-co",
        "OVERVIEWS=NONE",
        "-co",
        "SPARSE_OK=TRUE",
        "-co",
        "BIGTIFF=IF_SAFER",
        "-co",
        "NUM_THREADS=ALL_CPUS",
    ]
    .iter()
    .map(|v| s(v))
    .chain([s("-co"), format!("QUALITY={quality}")])
    .collect()
}

/// One prepared level file.
#[derive(Debug, Clone, serde::Serialize)]
struct LevelFile {
    zoom: u8,
    part: u32,
    file: String,
    tiles: u64,
    bytes: u64,
}

/// Builds the levels of one part into `work`; returns them deepest first.
async fn build_part(
    job: &ImageryImport,
    part: u32,
    source: &Inspected,
    min_zoom_floor: Option<u8>,
    work: &Path,
    rel: &str,
) -> Result<Vec<LevelFile>, ImageryError> {
    // Two VRTs: the band selection first, then the colour roles (GDAL 3.6 does not set the
    // role of a `-b mask` band in the same step).
    let bands = work.join(format!("baender-{part}.vrt"));
    let vrt = work.join(format!("quelle-{part}.vrt"));
    let mut args = vec![s("-q"), s("-of"), s("VRT")];
    args.extend(source.vrt_args.iter().cloned());
    args.push(source.path.display().to_string());
    args.push(bands.display().to_string());
    gdal_tool("gdal_translate", &args, None).await?;
    let args = [
        s("-q"),
        s("-of"),
        s("VRT"),
        s("-colorinterp"),
        s("red,green,blue,alpha"),
        bands.display().to_string(),
        vrt.display().to_string(),
    ];
    gdal_tool("gdal_translate", &args, None).await?;

    let counter = Counter::default();
    let reporter = job.progress.then(|| {
        Reporter::start(
            &format!(
                "Teil {} ({}): Kacheln der tiefsten Zoomstufe",
                part + 1,
                source.path.display()
            ),
            "%",
            Some(100),
            counter.clone(),
        )
    });
    let deepest_tmp = work.join(format!("tiefste-{part}.tif"));
    let mut args = cog_options(job.quality);
    args.extend([s("-co"), s("WARP_RESAMPLING=cubic")]);
    args.push(vrt.display().to_string());
    args.push(deepest_tmp.display().to_string());
    let result = gdal_tool("gdal_translate", &args, Some(&counter)).await;
    if let Some(r) = reporter {
        r.finish().await;
    }
    result?;
    let level = open_level(&deepest_tmp)?;
    let zmax = level.zoom;
    if min_zoom_floor.is_some_and(|floor| zmax < floor) {
        return Err(ImageryError::Parts(format!(
            "Teil {} ({}) ist nicht feiner als der vorige Teil (Zoomstufe {zmax}); \
             die Teile müssen nach Auflösung verschieden sein",
            part + 1,
            source.path.display()
        )));
    }
    let name = |z: u8| format!("z{z:02}-t{part}.tif");
    let deepest = work.join(name(zmax));
    std::fs::rename(&deepest_tmp, &deepest).map_err(|e| ImageryError::Io(deepest.clone(), e))?;
    let mut levels = vec![describe(&level, zmax, part, rel, &name(zmax), &deepest)?];
    let mut previous = deepest;
    let mut z = zmax;
    loop {
        let done = if let Some(floor) = min_zoom_floor {
            z <= floor
        } else {
            let l = open_level(&previous)?;
            z == 0 || (l.cols <= 2 && l.rows <= 2)
        };
        if done {
            break;
        }
        z -= 1;
        let path = work.join(name(z));
        let mut args = cog_options(job.quality);
        args.extend([
            s("-co"),
            format!("ZOOM_LEVEL={z}"),
            s("-co"),
            s("WARP_RESAMPLING=average"),
            s("-q"),
        ]);
        args.push(previous.display().to_string());
        args.push(path.display().to_string());
        gdal_tool("gdal_translate", &args, None).await?;
        let level = open_level(&path)?;
        if level.zoom != z {
            return Err(ImageryError::Gdal(format!(
                "Zoomstufe {} statt {z} erzeugt",
                level.zoom
            )));
        }
        levels.push(describe(&level, z, part, rel, &name(z), &path)?);
        previous = path;
    }
    let _ = std::fs::remove_file(&vrt);
    let _ = std::fs::remove_file(&bands);
    Ok(levels)
}

fn open_level(path: &Path) -> Result<CogLevel, ImageryError> {
    CogLevel::open(path).map_err(|e| ImageryError::Gdal(format!("{}: {e}", path.display())))
}

fn describe(
    level: &CogLevel,
    zoom: u8,
    part: u32,
    rel: &str,
    name: &str,
    path: &Path,
) -> Result<LevelFile, ImageryError> {
    let (tiles, _) = level.stored();
    let bytes = std::fs::metadata(path)
        .map_err(|e| ImageryError::Io(path.to_owned(), e))?
        .len();
    Ok(LevelFile {
        zoom,
        part,
        file: format!("{rel}/{name}"),
        tiles,
        bytes,
    })
}

/// The zoom level whose ground resolution at latitude `lat` is closest to `metres`.
#[must_use]
pub fn zoom_for(metres: f64, lat: f64) -> u8 {
    let ground0 = 2.0 * WORLD_HALF / 256.0 * lat.to_radians().cos();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let z = (ground0 / metres).log2().round().clamp(0.0, 24.0) as u8;
    z
}

/// Imports started by this process, for unique version names.
static IMPORTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Imports one epoch.
pub async fn import(
    client: &mut Client,
    job: ImageryImport,
) -> Result<ImagerySummary, ImageryError> {
    let started = Instant::now();
    check_id(&job.id)?;
    if job.files.is_empty() {
        return Err(ImageryError::NoFiles);
    }
    let db = |e: stadtkarte_core::tokio_postgres::Error| ImageryError::Db(e.to_string());
    if client
        .query_opt(
            "SELECT 1 FROM catalog.collections WHERE id = $1",
            &[&job.id],
        )
        .await
        .map_err(db)?
        .is_some()
    {
        return Err(ImageryError::IdTaken(
            job.id.clone(),
            "eine Vektor-Sammlung heißt so",
        ));
    }
    let existing = client
        .query_opt(
            "SELECT version FROM catalog.imagery WHERE id = $1",
            &[&job.id],
        )
        .await
        .map_err(db)?
        .map(|r| r.get::<_, String>(0));
    if existing.is_some() && !job.replace {
        return Err(ImageryError::Exists(job.id.clone()));
    }
    // Inspect every part (GDAL is blocking).
    let files = job.files.clone();
    let srs = job.source_srs.clone();
    let mut parts = tokio::task::spawn_blocking(move || {
        files
            .iter()
            .map(|f| inspect(f, srs.as_deref()))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| ImageryError::Gdal(e.to_string()))??;
    // Coarsest first.
    parts.sort_by(|a, b| b.resolution_m.total_cmp(&a.resolution_m));
    let grayscale = parts.iter().all(|p| p.grayscale);

    // Unique per import, also for imports started in the same millisecond (the demo runs its
    // epochs side by side): time, process and a counter.
    let version = format!(
        "v{}-{}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
        std::process::id(),
        IMPORTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let rel = format!("{}/{version}", job.id);
    let final_dir = job.dir.join(&rel);
    let work = job.dir.join(&job.id).join(format!(".in-arbeit-{version}"));
    std::fs::create_dir_all(&work).map_err(|e| ImageryError::Io(work.clone(), e))?;
    let cleanup = |work: &Path| {
        let _ = std::fs::remove_dir_all(work);
    };
    let mut levels: Vec<LevelFile> = Vec::new();
    let mut floor: Option<u8> = None;
    for (i, part) in parts.iter().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        match build_part(&job, index, part, floor, &work, &rel).await {
            Ok(mut l) => {
                floor = l.iter().map(|x| x.zoom).max().map(|z| z + 1);
                levels.append(&mut l);
            }
            Err(e) => {
                cleanup(&work);
                return Err(e);
            }
        }
    }
    // Flushed, then renamed into place: a node reading the folder over NFS sees a version
    // folder only when all of it is there.
    if let Err(e) = stadtkarte_core::files::publish(&work, &final_dir) {
        cleanup(&work);
        return Err(ImageryError::Io(final_dir, e));
    }
    let min_zoom = levels.iter().map(|l| l.zoom).min().unwrap_or(0);
    let max_zoom = levels.iter().map(|l| l.zoom).max().unwrap_or(0);
    let tiles: u64 = levels.iter().map(|l| l.tiles).sum();
    let storage_bytes: u64 = levels.iter().map(|l| l.bytes).sum();
    let source_bytes: u64 = parts.iter().map(|p| p.bytes).sum();
    let resolution_m = parts.last().map_or(0.0, |p| p.resolution_m);
    let notes: Vec<String> = parts.iter().flat_map(|p| p.notes.iter().cloned()).collect();
    levels.sort_by_key(|l| (l.zoom, l.part));
    let levels_json = serde_json::to_value(&levels).map_err(|e| ImageryError::Db(e.to_string()))?;
    let footprints: Vec<String> = parts.iter().map(|p| p.footprint.clone()).collect();
    let registered = async {
        let tx = client.transaction().await.map_err(db)?;
        tx.execute("DELETE FROM catalog.imagery WHERE id = $1", &[&job.id]).await.map_err(db)?;
        tx.execute(
            "INSERT INTO catalog.imagery (id, title, description, year, source, license, attribution,
                 grayscale, resolution_m, footprint, min_zoom, max_zoom, tile_format, version, levels,
                 source_bytes, storage_bytes)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9,
                    ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(ST_GeomFromText(f, 4326))), 3)),
                    $11, $12, 'webp', $13, $14, $15, $16
               FROM unnest($10::text[]) AS f",
            &[
                &job.id,
                &job.title,
                &job.description,
                &job.year,
                &job.source,
                &job.license,
                &job.attribution,
                &grayscale,
                &resolution_m,
                &footprints,
                &i16::from(min_zoom),
                &i16::from(max_zoom),
                &version,
                &levels_json,
                &i64::try_from(source_bytes).unwrap_or(i64::MAX),
                &i64::try_from(storage_bytes).unwrap_or(i64::MAX),
            ],
        )
        .await
        .map_err(db)?;
        catalog::audit(
            &tx,
            &job.actor,
            if existing.is_some() { "imagery.replace" } else { "imagery.import" },
            &job.id,
            &serde_json::json!({
                "files": job.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
                "version": version, "tiles": tiles, "storage_bytes": storage_bytes,
                "zoom": [min_zoom, max_zoom],
            }),
        )
        .await
        .map_err(|e| ImageryError::Db(e.to_string()))?;
        tx.commit().await.map_err(db)
    }
    .await;
    if let Err(e) = registered {
        cleanup(&job.dir.join(&rel));
        return Err(e);
    }
    let replaced = existing.is_some();
    if let Some(old) = existing {
        // The nodes still read the old version until their epoch cache expires; over NFS a file
        // that another machine has open is not kept alive by that, so it goes a little later.
        tokio::time::sleep(REPLACED_GRACE).await;
        cleanup(&job.dir.join(&job.id).join(old));
    }
    Ok(ImagerySummary {
        id: job.id.clone(),
        min_zoom,
        max_zoom,
        tiles,
        storage_bytes,
        source_bytes,
        resolution_m,
        grayscale,
        notes,
        replaced,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(check_id("luftbild-1958").is_ok());
        assert!(check_id("Luftbild").is_err());
        assert!(check_id("1958").is_err());
        assert!(check_id(SERIES).is_err());
    }

    #[test]
    fn zoom_for_koblenz_resolutions() {
        assert_eq!(zoom_for(0.2, 50.36), 19);
        assert_eq!(zoom_for(0.4, 50.36), 18);
        assert_eq!(zoom_for(2.0, 50.36), 16);
    }
}
