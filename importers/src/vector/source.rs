//! The reading side of a vector import: opening what users bring (also zipped), reading the
//! layer's schema and CRS, and streaming its features as binary COPY rows. Every format but CSV
//! is read through GDAL; CSV is read by [`super::csv`].
//!
//! Nothing is lost silently: a GDAL error while reading (a driver that fails part-way reports
//! it only to its error handler, then returns no more features) fails the import, and so does a
//! feature count that differs from the one the driver announced. An absent property is NULL,
//! not an empty string; Z coordinates are kept when the layer has them.
//!
//! GDAL handles are not `Send`: everything here runs on one blocking thread per step, and only
//! plain data (the [`LayerPlan`]) and byte chunks cross to the async side.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::vector::{FieldValue, LayerAccess};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use gdal_sys::OGRFieldType;

use super::VectorImportError as Error;
use crate::copy::{Cell, CopyEncoder, wkb_with_srid};
use crate::names;
use crate::progress::Counter;

/// Extensions of files GDAL can read as vector data, most specific first.
const DATASET_EXTENSIONS: &[&str] = &["gpkg", "shp", "fgb", "geojson", "json", "gml", "kml", "csv"];

/// What to read.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// The dataset to open (inside the extracted zip when the user gave a zip).
    pub path: PathBuf,
    /// The layer the user asked for.
    pub layer: Option<String>,
    /// `EPSG:n` given by the user, overriding or supplying the file's CRS.
    pub source_srs: Option<u32>,
    /// CSV: column with longitude (or easting).
    pub x_column: Option<String>,
    /// CSV: column with latitude (or northing).
    pub y_column: Option<String>,
    /// CSV: column with WKT geometry.
    pub wkt_column: Option<String>,
    /// CSV: column types given by the user (name in the file, type name).
    pub types: Vec<(String, String)>,
    /// CSV: skip (and report) bad rows instead of refusing the file.
    pub skip_bad_rows: bool,
    /// The import's own temporary folder (copies of inputs that must not be touched).
    pub work_dir: PathBuf,
    /// Rows checked so far (CSV's first pass), for the progress report.
    pub checked: Counter,
}

/// PostgreSQL type of an imported attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// `integer`
    Integer,
    /// `boolean` (GDAL integer with boolean subtype)
    Boolean,
    /// `bigint`
    BigInt,
    /// `double precision`
    Double,
    /// `text`
    Text,
    /// `date`
    Date,
    /// `timestamptz`
    Timestamp,
    /// `jsonb` (list fields)
    Json,
}

impl ColumnKind {
    /// The SQL type.
    #[must_use]
    pub fn sql(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Boolean => "boolean",
            Self::BigInt => "bigint",
            Self::Double => "double precision",
            Self::Text => "text",
            Self::Date => "date",
            Self::Timestamp => "timestamptz",
            Self::Json => "jsonb",
        }
    }

    /// The type's name in messages.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Boolean => "boolean",
            Self::BigInt => "big integer",
            Self::Double => "number",
            Self::Text => "text",
            Self::Date => "date (YYYY-MM-DD)",
            Self::Timestamp => "timestamp with time zone",
            Self::Json => "list",
        }
    }
}

/// One attribute column.
#[derive(Debug, Clone)]
pub struct Column {
    /// Name in the database (sanitised).
    pub name: String,
    /// Name in the file.
    pub original: String,
    /// Type.
    pub kind: ColumnKind,
    /// Field index in the GDAL layer.
    pub index: usize,
}

/// Everything learnt about the layer before loading.
#[derive(Debug, Clone)]
pub struct LayerPlan {
    /// Layer name.
    pub layer: String,
    /// Attribute columns.
    pub columns: Vec<Column>,
    /// Fields that cannot be imported, with the reason.
    pub dropped_fields: Vec<(String, String)>,
    /// Features announced by the source (when cheap to know).
    pub feature_count: Option<u64>,
    /// The source CRS as WKT.
    pub source_srs_wkt: String,
    /// How the CRS was found, for the report.
    pub srs_note: String,
    /// The geometries have Z coordinates (stored 3D).
    pub has_z: bool,
    /// The dimension the layer declares (0 points, 1 lines, 2 polygons), when it declares one.
    pub dimension: Option<i32>,
    /// CSV rows skipped with `--skip-bad-rows`: (line, reason).
    pub bad_rows: Vec<(u64, String)>,
    /// How a CSV file is read (`None` for GDAL sources).
    pub csv: Option<super::csv::CsvLayout>,
}

/// Counts of one read.
#[derive(Debug, Clone, Default)]
pub struct ReadStats {
    /// Features read from the source.
    pub read: u64,
    /// Rows written to COPY.
    pub written: u64,
    /// Features skipped, by reason.
    pub skipped: BTreeMap<String, u64>,
}

/// Finds the dataset to open: the file itself, or the one dataset inside an extracted zip.
pub fn resolve(file: &Path, unpack_to: &Path, layer: Option<&str>) -> Result<PathBuf, Error> {
    if !file.is_file() {
        return Err(Error::Unreadable {
            file: file.to_owned(),
            reason: "no such file".to_owned(),
        });
    }
    let is_zip = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if !is_zip {
        return Ok(file.to_owned());
    }
    let unreadable = |reason: String| Error::Unreadable {
        file: file.to_owned(),
        reason,
    };
    crate::archive::unpack(file, unpack_to).map_err(|e| unreadable(e.to_string()))?;
    let mut candidates = Vec::new();
    collect_datasets(unpack_to, &mut candidates);
    candidates.sort_by_key(|p| {
        let ext = extension(p);
        DATASET_EXTENSIONS
            .iter()
            .position(|e| *e == ext)
            .unwrap_or(usize::MAX)
    });
    if let Some(layer) = layer
        && let Some(found) = candidates
            .iter()
            .find(|p| p.file_stem().is_some_and(|s| s.to_string_lossy() == layer))
    {
        return Ok(found.clone());
    }
    match candidates.as_slice() {
        [] => Err(Error::NoDatasetInZip(file.to_owned())),
        [one] => Ok(one.clone()),
        several => {
            // Several files of the most specific kind: the user must choose; otherwise the
            // most specific file wins (a zip of a .gpkg with a README.csv is a GeoPackage).
            let first_ext = extension(&several[0]);
            let same: Vec<String> = several
                .iter()
                .filter(|p| extension(p) == first_ext)
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            if same.len() > 1 && first_ext != "gpkg" {
                Err(Error::SeveralDatasets(same))
            } else {
                Ok(several[0].clone())
            }
        }
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn collect_datasets(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.') || n == "__MACOSX");
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_datasets(&path, out);
        } else if DATASET_EXTENSIONS.contains(&extension(&path).as_str()) {
            out.push(path);
        }
    }
}

fn is_csv(spec: &SourceSpec) -> bool {
    matches!(extension(&spec.path).as_str(), "csv" | "tsv")
}

/// Opens the dataset without ever writing beside it: GML without its `.gfs` schema file,
/// GeoPackages immutable (or, when a write-ahead log lies beside one, a copy of both in the
/// import's own temporary folder, since SQLite would otherwise fold the log into the file).
fn open(spec: &SourceSpec) -> Result<Dataset, Error> {
    let mut options: Vec<&str> = Vec::new();
    let mut path = spec.path.clone();
    match extension(&spec.path).as_str() {
        "gml" => options.push("WRITE_GFS=NO"),
        "gpkg" => {
            let sidecar = |suffix: &str| {
                let mut p = spec.path.clone().into_os_string();
                p.push(suffix);
                PathBuf::from(p)
            };
            let (wal, journal) = (sidecar("-wal"), sidecar("-journal"));
            if wal.exists() || journal.exists() {
                path = copy_with_sidecars(&spec.path, &[wal, journal], &spec.work_dir)?;
            } else {
                options.push("IMMUTABLE=YES");
            }
        }
        _ => {}
    }
    Dataset::open_ex(
        &path,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
            open_options: (!options.is_empty()).then_some(options.as_slice()),
            ..DatasetOptions::default()
        },
    )
    .map_err(|e| Error::Unreadable {
        file: spec.path.clone(),
        reason: format!("GDAL cannot open it as vector data ({e})"),
    })
}

/// Copies `file` and those of `sidecars` that exist into `dir` (once); returns the copy.
fn copy_with_sidecars(file: &Path, sidecars: &[PathBuf], dir: &Path) -> Result<PathBuf, Error> {
    let target = dir.join("kopie").join(file.file_name().unwrap_or_default());
    if target.exists() {
        return Ok(target);
    }
    let copy = |from: &Path| -> Result<(), Error> {
        let to = dir.join("kopie").join(from.file_name().unwrap_or_default());
        std::fs::create_dir_all(dir.join("kopie"))
            .and_then(|()| std::fs::copy(from, &to))
            .map(drop)
            .map_err(|e| Error::Unreadable {
                file: from.to_owned(),
                reason: format!("cannot copy it into a temporary folder ({e})"),
            })
    };
    copy(file)?;
    for s in sidecars.iter().filter(|s| s.exists()) {
        copy(s)?;
    }
    Ok(target)
}
fn traditional(mut srs: SpatialRef) -> SpatialRef {
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    srs
}

fn pick_layer<'a>(
    dataset: &'a Dataset,
    spec: &SourceSpec,
) -> Result<gdal::vector::Layer<'a>, Error> {
    let available: Vec<String> = dataset.layers().map(|l| l.name()).collect();
    let wanted = spec.layer.as_deref();
    let file_is_layer = |name: &str| {
        spec.path
            .file_stem()
            .is_some_and(|s| s.to_string_lossy() == name)
    };
    match wanted {
        Some(name)
            if !available.iter().any(|a| a == name)
                && available.len() == 1
                && file_is_layer(name) =>
        {
            // A zip's dataset was chosen by file name; its single layer is that dataset.
            dataset.layer(0).map_err(|_| Error::LayerNotFound {
                layer: name.to_owned(),
                available,
            })
        }
        Some(name) => dataset
            .layer_by_name(name)
            .map_err(|_| Error::LayerNotFound {
                layer: name.to_owned(),
                available,
            }),
        None if available.len() == 1 => dataset.layer(0).map_err(|e| Error::Unreadable {
            file: PathBuf::new(),
            reason: e.to_string(),
        }),
        None if available.is_empty() => Err(Error::NoLayers),
        None => Err(Error::SeveralLayers(available)),
    }
}

/// Learns the layer's schema, CRS and size (for CSV: checks every row, see [`super::csv`]).
pub fn inspect(spec: &SourceSpec) -> Result<LayerPlan, Error> {
    if is_csv(spec) {
        let (mut plan, layout) = super::csv::inspect(spec, &spec.types, spec.skip_bad_rows)?;
        plan.csv = Some(layout);
        return Ok(plan);
    }
    let dataset = open(spec)?;
    let layer = pick_layer(&dataset, spec)?;
    let layer_name = layer.name();
    let Some(geometry_type) = layer.defn().geom_fields().next().map(|g| g.field_type()) else {
        return Err(Error::NoGeometry(layer_name));
    };
    let feature_count = layer.try_feature_count();
    if feature_count == Some(0) {
        return Err(Error::EmptyLayer(layer_name));
    }
    let (srs, srs_note) = if let Some(code) = spec.source_srs {
        let srs =
            SpatialRef::from_epsg(code).map_err(|_| Error::UnknownCrs(format!("EPSG:{code}")))?;
        (srs, format!("EPSG:{code} (--source-srs)"))
    } else if let Some(srs) = layer.spatial_ref() {
        let note = match (srs.auth_name(), srs.auth_code()) {
            (Some(name), Ok(code)) => format!("{name}:{code} (aus der Datei)"),
            _ => srs.name().unwrap_or_else(|| "aus der Datei".to_owned()),
        };
        (srs, note)
    } else {
        return Err(Error::MissingCrs(spec.path.clone()));
    };
    let source_srs_wkt = srs.to_wkt().map_err(|e| Error::UnknownCrs(e.to_string()))?;

    let defn = layer.defn();
    let fields: Vec<(usize, String, String, OGRFieldType::Type, bool)> = defn
        .fields()
        .enumerate()
        .map(|(i, f)| {
            // A source that carries a field alias (FileGDB, FlatGeobuf) names it for people.
            let alias = f.alternative_name();
            let title = if alias.trim().is_empty() {
                f.name()
            } else {
                alias
            };
            (
                i,
                f.name(),
                title,
                f.field_type(),
                super::gdal_ext::is_boolean(defn, i),
            )
        })
        .collect();
    let names = names::column_names(fields.iter().map(|(_, n, _, _, _)| n.as_str()));
    let mut columns = Vec::new();
    let mut dropped_fields = Vec::new();
    for ((index, _, original, field_type, boolean), name) in fields.into_iter().zip(names) {
        let kind = match field_type {
            OGRFieldType::OFTInteger if boolean => ColumnKind::Boolean,
            OGRFieldType::OFTInteger => ColumnKind::Integer,
            OGRFieldType::OFTInteger64 => ColumnKind::BigInt,
            OGRFieldType::OFTReal => ColumnKind::Double,
            OGRFieldType::OFTString | OGRFieldType::OFTTime => ColumnKind::Text,
            OGRFieldType::OFTDate => ColumnKind::Date,
            OGRFieldType::OFTDateTime => ColumnKind::Timestamp,
            OGRFieldType::OFTIntegerList
            | OGRFieldType::OFTInteger64List
            | OGRFieldType::OFTRealList
            | OGRFieldType::OFTStringList => ColumnKind::Json,
            _ => {
                dropped_fields.push((original, "binary fields are not imported".to_owned()));
                continue;
            }
        };
        columns.push(Column {
            name,
            original,
            kind,
            index,
        });
    }
    Ok(LayerPlan {
        layer: layer_name,
        columns,
        dropped_fields,
        feature_count,
        source_srs_wkt,
        srs_note,
        has_z: gdal::vector::geometry_type_has_z(geometry_type),
        dimension: declared_dimension(geometry_type),
        bad_rows: Vec::new(),
        csv: None,
    })
}

/// The dimension a layer's geometry type stands for: 0 points, 1 lines, 2 polygons; `None` for
/// "any geometry" and collections.
fn declared_dimension(geometry_type: gdal_sys::OGRwkbGeometryType::Type) -> Option<i32> {
    use gdal_sys::OGRwkbGeometryType as T;
    match gdal::vector::geometry_type_flatten(geometry_type) {
        T::wkbPoint | T::wkbMultiPoint => Some(0),
        T::wkbLineString
        | T::wkbMultiLineString
        | T::wkbCircularString
        | T::wkbCompoundCurve
        | T::wkbMultiCurve => Some(1),
        T::wkbPolygon
        | T::wkbMultiPolygon
        | T::wkbCurvePolygon
        | T::wkbMultiSurface
        | T::wkbPolyhedralSurface
        | T::wkbTIN
        | T::wkbTriangle => Some(2),
        _ => None,
    }
}

/// Transforms geometries from the source CRS into the storage CRS and encodes them as EWKB.
#[derive(Debug)]
pub struct Transformer {
    transform: CoordTransform,
    srid: i32,
}

impl Transformer {
    /// From the source CRS (WKT) to EPSG:`srid`.
    pub fn new(source_wkt: &str, srid: i32) -> Result<Self, Error> {
        let source = traditional(
            SpatialRef::from_wkt(source_wkt).map_err(|e| Error::UnknownCrs(e.to_string()))?,
        );
        let code = u32::try_from(srid).map_err(|_| Error::UnknownCrs(srid.to_string()))?;
        let target = traditional(
            SpatialRef::from_epsg(code).map_err(|_| Error::UnknownCrs(format!("EPSG:{srid}")))?,
        );
        let transform =
            CoordTransform::new(&source, &target).map_err(|e| Error::UnknownCrs(e.to_string()))?;
        Ok(Self { transform, srid })
    }

    /// The geometry in the storage CRS as EWKB, 3D when `z`; `None` when it cannot be
    /// transformed or encoded.
    pub fn ewkb(&self, mut geometry: gdal::vector::Geometry, z: bool) -> Option<Vec<u8>> {
        geometry.transform_inplace(&self.transform).ok()?;
        super::gdal_ext::set_dimensions(&mut geometry, z);
        wkb_with_srid(&geometry.wkb().ok()?, self.srid)
    }
}

/// Reads every feature, transforms it into `target_srid` and sends binary COPY chunks.
/// Stops early (with an error) when the receiver goes away.
pub fn read(
    spec: &SourceSpec,
    plan: &LayerPlan,
    target_srid: i32,
    chunks: &tokio::sync::mpsc::Sender<Vec<u8>>,
    progress: &Counter,
) -> Result<ReadStats, Error> {
    let transformer = Transformer::new(&plan.source_srs_wkt, target_srid)?;
    if let Some(layout) = &plan.csv {
        return super::csv::read(&spec.path, plan, layout, &transformer, chunks, progress);
    }
    let dataset = open(spec)?;
    let mut layer = pick_layer(&dataset, spec)?;

    let mut stats = ReadStats::default();
    let mut encoder = CopyEncoder::new();
    let mut cells: Vec<Cell> = Vec::with_capacity(plan.columns.len() + 2);
    let mut next_id: i64 = 0;
    let mut pending = 0u64;
    let send = |bytes: Vec<u8>| chunks.blocking_send(bytes).map_err(|_| Error::Aborted);
    let errors = super::gdal_ext::ErrorCapture::start();
    for feature in layer.features() {
        stats.read += 1;
        pending += 1;
        if pending == 1024 {
            progress.add(pending);
            pending = 0;
        }
        next_id += 1;
        cells.clear();
        let id = feature
            .fid()
            .and_then(|f| i64::try_from(f).ok())
            .unwrap_or(next_id);
        cells.push(Cell::Int8(id));
        for column in &plan.columns {
            let value = if super::gdal_ext::has_value(&feature, column.index) {
                feature.field(column.index).ok().flatten()
            } else {
                None
            };
            cells.push(to_cell(value, column.kind));
        }
        let geometry = match feature.geometry() {
            Some(g) if super::gdal_ext::is_present(g) && !g.is_empty() => {
                let Some(ewkb) = transformer.ewkb(g.clone(), plan.has_z) else {
                    return Err(Error::Untransformable {
                        file: spec.path.clone(),
                        feature: id,
                        srid: target_srid,
                    });
                };
                Cell::Geometry(ewkb)
            }
            _ => Cell::Null,
        };
        cells.push(geometry);
        encoder.row(&cells);
        stats.written += 1;
        if encoder.len() >= 1 << 20 {
            send(encoder.take())?;
        }
    }
    progress.add(pending);
    let failures = errors.take();
    drop(errors);
    if let Some(first) = failures.first() {
        return Err(Error::ReadFailed {
            file: spec.path.clone(),
            after: stats.read,
            message: first.clone(),
        });
    }
    if let Some(announced) = plan.feature_count
        && announced != stats.read
    {
        return Err(Error::CountMismatch {
            file: spec.path.clone(),
            announced,
            read: stats.read,
        });
    }
    send(encoder.finish())?;
    Ok(stats)
}

fn to_cell(value: Option<FieldValue>, kind: ColumnKind) -> Cell {
    let Some(value) = value else {
        return Cell::Null;
    };
    match (kind, value) {
        (ColumnKind::Boolean, FieldValue::IntegerValue(v)) => Cell::Bool(v != 0),
        (ColumnKind::Integer, FieldValue::IntegerValue(v)) => Cell::Int4(v),
        (ColumnKind::BigInt, FieldValue::Integer64Value(v)) => Cell::Int8(v),
        (ColumnKind::BigInt, FieldValue::IntegerValue(v)) => Cell::Int8(i64::from(v)),
        (ColumnKind::Double, FieldValue::RealValue(v)) => Cell::Float8(v),
        (ColumnKind::Text, FieldValue::StringValue(v)) => Cell::Text(v),
        (ColumnKind::Date, FieldValue::DateValue(d)) => Cell::date(d),
        (ColumnKind::Date, FieldValue::DateTimeValue(d)) => Cell::date(d.date_naive()),
        (ColumnKind::Timestamp, FieldValue::DateTimeValue(d)) => {
            Cell::timestamp_micros(d.timestamp_micros())
        }
        (ColumnKind::Json, FieldValue::IntegerListValue(v)) => Cell::Json(json_list(&v)),
        (ColumnKind::Json, FieldValue::Integer64ListValue(v)) => Cell::Json(json_list(&v)),
        (ColumnKind::Json, FieldValue::RealListValue(v)) => Cell::Json(json_list(&v)),
        (ColumnKind::Json, FieldValue::StringListValue(v)) => Cell::Json(json_list(&v)),
        (ColumnKind::Text, other) => other.into_string().map_or(Cell::Null, Cell::Text),
        _ => Cell::Null,
    }
}

fn json_list<T: serde::Serialize>(values: &[T]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}
