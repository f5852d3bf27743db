//! `stadtkarte import vector FILE`: any vector format GDAL reads (and CSV), into a collection.
//!
//! The whole import is one transaction: a staging table is created and filled with binary
//! COPY while the source is read (on a blocking thread, in parallel with the database writing),
//! invalid geometries are repaired with `ST_MakeValid` and cut back to the collection's
//! dimension, the GiST index is built, and only then the old table is dropped, the staging
//! table renamed, the catalog entry written and the audit log appended. A failure at any point
//! — a read error part-way, a malformed CSV row, a geometry PostGIS rejects, a full disk, a
//! killed process — rolls everything back: the previous data and catalog entry stay exactly as
//! they were. An import that succeeds has stored every feature it read, except those the
//! summary lists as skipped, each with its reason: features whose repair left nothing of the
//! collection's dimension, and CSV rows skipped on request (`--skip-bad-rows`).
//!
//! The source's own column names stay visible: the sanitised SQL name is the property name,
//! the original name its title (a column comment, read by `core::schema`). The import never
//! writes next to its input.

mod csv;
mod gdal_ext;
mod source;

use std::path::{Path, PathBuf};
use std::pin::pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::SinkExt as _;
use stadtkarte_core::catalog::{self, NewCollection, quote_ident};
use stadtkarte_core::db::DbError;
use stadtkarte_core::tokio_postgres::{Client, Transaction};

pub use source::{ColumnKind, LayerPlan};
use source::{SourceSpec, inspect, read, resolve};

use crate::names;
use crate::progress::{Counter, Reporter};

/// What to import and how.
#[derive(Debug, Clone)]
pub struct VectorImport {
    /// The file (or zip) to read.
    pub file: PathBuf,
    /// Collection id; default: from the layer or file name.
    pub collection: Option<String>,
    /// Title; default: the existing title or the layer name.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Layer of a multi-layer source.
    pub layer: Option<String>,
    /// `EPSG:n` when the file has no CRS (or a wrong one).
    pub source_srs: Option<String>,
    /// Replace an existing collection.
    pub replace: bool,
    /// Read and load everything, then roll back.
    pub dry_run: bool,
    /// CSV: longitude/easting column.
    pub x_column: Option<String>,
    /// CSV: latitude/northing column.
    pub y_column: Option<String>,
    /// CSV: WKT column.
    pub wkt_column: Option<String>,
    /// CSV: column types (name in the file, type name), overriding the inferred ones.
    pub types: Vec<(String, String)>,
    /// CSV: skip bad rows (each reported) instead of refusing the file.
    pub skip_bad_rows: bool,
    /// Licence of the data; `None` keeps the licence of the collection being replaced.
    pub license: Option<String>,
    /// Attribution text; `None` keeps the attribution of the collection being replaced.
    pub attribution: Option<String>,
    /// Licence of a new collection when none is given.
    pub default_license: String,
    /// Attribution of a new collection when none is given.
    pub default_attribution: String,
    /// Who imports, for the audit log.
    pub actor: String,
    /// EPSG code the data is stored in.
    pub storage_srid: i32,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct VectorSummary {
    /// The collection.
    pub collection: String,
    /// The layer read.
    pub layer: String,
    /// How the source CRS was determined.
    pub source_crs: String,
    /// Features (CSV: data rows) read from the source.
    pub read: u64,
    /// Features stored: `read` minus everything in `skipped`.
    pub written: u64,
    /// Stored geometries that were invalid and repaired with `ST_MakeValid`.
    pub repaired: u64,
    /// Of the repaired ones, those that lost parts of another dimension (e.g. a line left over
    /// from a polygon's repair).
    pub parts_dropped: u64,
    /// Features skipped, by reason, with their counts (they add up to `read - written`).
    pub skipped: Vec<(String, u64)>,
    /// Features whose repair left nothing of the collection's dimension: (id, reason).
    pub skipped_features: Vec<(String, String)>,
    /// CSV rows skipped with `--skip-bad-rows`: (line, reason).
    pub skipped_lines: Vec<(u64, String)>,
    /// The geometries are stored with Z coordinates.
    pub three_d: bool,
    /// Settings of the replaced collection that were kept.
    pub kept_settings: Vec<String>,
    /// Settings of the replaced collection that no longer apply, with the reason.
    pub dropped_settings: Vec<(String, String)>,
    /// Columns whose names had to change: (file, database).
    pub renamed: Vec<(String, String)>,
    /// Fields not imported, with the reason.
    pub dropped_fields: Vec<(String, String)>,
    /// Geometry type registered in the catalog.
    pub geometry_type: String,
    /// Nothing was changed (dry run).
    pub dry_run: bool,
    /// Time taken.
    pub elapsed: Duration,
}

/// Why an import failed. In every case nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VectorImportError {
    /// The file cannot be read.
    #[error("cannot read {}: {reason}", file.display())]
    Unreadable {
        /// The file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// A zip holds no vector dataset.
    #[error("{} contains no vector dataset (looked for .gpkg, .shp, .fgb, .geojson, .json, .gml, .kml, .csv)", .0.display())]
    NoDatasetInZip(PathBuf),
    /// A zip holds several datasets of the same kind.
    #[error("the zip holds several datasets ({}); choose one with --layer NAME (file name without extension)", .0.join(", "))]
    SeveralDatasets(Vec<String>),
    /// The dataset has no layers.
    #[error("the dataset has no layers")]
    NoLayers,
    /// The dataset has several layers and none was chosen.
    #[error("the dataset has several layers ({}); choose one with --layer NAME", .0.join(", "))]
    SeveralLayers(Vec<String>),
    /// The named layer does not exist.
    #[error("layer {layer:?} does not exist; available: {}", available.join(", "))]
    LayerNotFound {
        /// Asked for.
        layer: String,
        /// What there is.
        available: Vec<String>,
    },
    /// The layer has no features.
    #[error("layer {0:?} is empty: nothing to import")]
    EmptyLayer(String),
    /// The layer has no geometry.
    #[error(
        "layer {0:?} has no geometry (for CSV: name the columns with --x-column/--y-column or --wkt-column)"
    )]
    NoGeometry(String),
    /// Neither the file nor the user says which CRS the coordinates are in.
    #[error("{} has no coordinate reference system; give it with --source-srs EPSG:n", .0.display())]
    MissingCrs(PathBuf),
    /// The CRS is unknown to PROJ.
    #[error("unknown coordinate reference system {0}")]
    UnknownCrs(String),
    /// `--source-srs` is not `EPSG:n`.
    #[error("--source-srs must look like EPSG:25832, not {0:?}")]
    BadSrsSyntax(String),
    /// A CSV file is malformed.
    #[error("{} line {line}: {reason}", file.display())]
    CsvBroken {
        /// The file.
        file: PathBuf,
        /// Line of the error.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The collection id is not usable.
    #[error(
        "{0:?} is not a valid collection id (lower-case letters, digits, _ and -, starting with a letter)"
    )]
    BadCollectionId(String),
    /// The collection exists and `--replace` was not given.
    #[error("collection {0:?} exists already; use --replace to replace it")]
    AlreadyExists(String),
    /// The id belongs to an aerial-imagery epoch.
    #[error(
        "{0:?} is the id of an aerial-imagery epoch; choose another collection id with --collection"
    )]
    UsedByImagery(String),
    /// An option does not fit the file.
    #[error("{0}")]
    BadOption(String),
    /// GDAL reported an error while reading: the rest of the layer is unknown.
    #[error(
        "reading {} failed after {after} features: {message} (the file seems damaged; nothing was imported)",
        file.display()
    )]
    ReadFailed {
        /// The file.
        file: PathBuf,
        /// Features read before the error.
        after: u64,
        /// GDAL's message.
        message: String,
    },
    /// Fewer or more features were read than the driver announced.
    #[error(
        "{} announces {announced} features, but {read} could be read (the file seems damaged or changed while reading; nothing was imported)",
        file.display()
    )]
    CountMismatch {
        /// The file.
        file: PathBuf,
        /// The driver's count.
        announced: u64,
        /// Features read.
        read: u64,
    },
    /// A feature's coordinates cannot be transformed into the storage CRS.
    #[error(
        "feature {feature} of {} cannot be transformed into EPSG:{srid} (coordinates outside the CRS's area, or a wrong --source-srs?)",
        file.display()
    )]
    Untransformable {
        /// The file.
        file: PathBuf,
        /// The feature id.
        feature: i64,
        /// The storage CRS.
        srid: i32,
    },
    /// The database refused a step.
    #[error("database error while {what}: {source}")]
    Database {
        /// The step.
        what: &'static str,
        /// The error.
        #[source]
        source: stadtkarte_core::tokio_postgres::Error,
    },
    /// The catalog refused the entry.
    #[error(transparent)]
    Catalog(#[from] DbError),
    /// Reading stopped because writing failed.
    #[error("reading was aborted because the database stopped accepting data")]
    Aborted,
    /// The reading thread failed unexpectedly.
    #[error("the reader failed: {0}")]
    Reader(String),
}

fn db(
    what: &'static str,
) -> impl FnOnce(stadtkarte_core::tokio_postgres::Error) -> VectorImportError {
    move |source| VectorImportError::Database { what, source }
}

fn parse_srs(text: &str) -> Result<u32, VectorImportError> {
    let code = text
        .trim()
        .strip_prefix("EPSG:")
        .or_else(|| text.trim().strip_prefix("epsg:"))
        .unwrap_or(text.trim());
    code.parse()
        .map_err(|_| VectorImportError::BadSrsSyntax(text.to_owned()))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, VectorImportError> + Send + 'static,
) -> Result<T, VectorImportError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| VectorImportError::Reader(e.to_string()))?
}

/// Runs the import.
pub async fn import(
    client: &mut Client,
    job: &VectorImport,
) -> Result<VectorSummary, VectorImportError> {
    let started = Instant::now();
    let unpacked = tempfile::tempdir().map_err(|e| VectorImportError::Unreadable {
        file: job.file.clone(),
        reason: format!("no temporary directory ({e})"),
    })?;
    let source_srs = job.source_srs.as_deref().map(parse_srs).transpose()?;
    let (file, dir, layer) = (
        job.file.clone(),
        unpacked.path().to_owned(),
        job.layer.clone(),
    );
    let path = blocking(move || resolve(&file, &dir, layer.as_deref())).await?;
    let spec = SourceSpec {
        path,
        layer: job.layer.clone(),
        source_srs,
        x_column: job.x_column.clone(),
        y_column: job.y_column.clone(),
        wkt_column: job.wkt_column.clone(),
        types: job.types.clone(),
        skip_bad_rows: job.skip_bad_rows,
        work_dir: unpacked.path().to_owned(),
        checked: Counter::default(),
    };
    let plan = {
        let checking = Reporter::start(
            &format!("Prüfung {}", display_name(&job.file)),
            "Zeilen",
            None,
            spec.checked.clone(),
        );
        let spec = spec.clone();
        let plan = blocking(move || inspect(&spec)).await;
        checking.finish().await;
        plan?
    };
    let id = match &job.collection {
        Some(id) => id.clone(),
        None => names::collection_id(&default_name(&job.file, &plan)),
    };
    if !names::is_collection_id(&id) {
        return Err(VectorImportError::BadCollectionId(id));
    }
    let existing = catalog::get(&*client, &id).await?;
    let row = client
        .query_one(
            "SELECT to_regclass(format('data.%I', $1::text)) IS NOT NULL,
                    EXISTS (SELECT 1 FROM catalog.imagery WHERE id = $1)",
            &[&id],
        )
        .await
        .map_err(db("looking for an existing table"))?;
    let (table_exists, imagery): (bool, bool) = (row.get(0), row.get(1));
    if imagery {
        return Err(VectorImportError::UsedByImagery(id));
    }
    if (existing.is_some() || table_exists) && !job.replace {
        return Err(VectorImportError::AlreadyExists(id));
    }

    client
        .batch_execute("SET client_min_messages TO warning")
        .await
        .map_err(db("preparing the session"))?;
    let tx = client
        .transaction()
        .await
        .map_err(db("starting the transaction"))?;
    let stage = stage_name(&id);
    create_stage(&tx, &stage, &plan, job.storage_srid).await?;
    let stats = copy_features(&tx, &stage, &spec, &plan, job.storage_srid).await?;
    let geometry = finish_geometries(&tx, &stage, plan.dimension).await?;
    swap_in(&tx, &stage, &id).await?;
    let mut skipped: Vec<(String, u64)> = stats.skipped.into_iter().collect();
    if !geometry.removed.is_empty() {
        skipped.push((
            REPAIR_LEFT_NOTHING.to_owned(),
            geometry.removed.len() as u64,
        ));
    }
    let written = stats.written - geometry.removed.len() as u64;
    let outcome = Outcome {
        read: stats.read,
        written,
        repaired: geometry.repaired,
        parts_dropped: geometry.parts_dropped,
        skipped: &skipped,
        removed: &geometry.removed,
        bad_rows: &plan.bad_rows,
        replaced: existing.is_some() || table_exists,
        geometry_type: &geometry.geometry_type,
    };
    let settings = register(&tx, job, &id, &plan, existing.as_ref(), &outcome).await?;
    if job.dry_run {
        tx.rollback()
            .await
            .map_err(db("rolling back the dry run"))?;
    } else {
        tx.commit().await.map_err(db("committing"))?;
    }
    Ok(VectorSummary {
        collection: id,
        layer: plan.layer.clone(),
        source_crs: plan.srs_note.clone(),
        read: outcome.read,
        written,
        repaired: geometry.repaired,
        parts_dropped: geometry.parts_dropped,
        skipped,
        skipped_features: geometry
            .removed
            .iter()
            .map(|(id, reason)| (id.to_string(), reason.clone()))
            .collect(),
        skipped_lines: plan.bad_rows.clone(),
        three_d: plan.has_z,
        kept_settings: settings.kept,
        dropped_settings: settings.dropped,
        renamed: plan
            .columns
            .iter()
            .filter(|c| c.name != c.original)
            .map(|c| (c.original.clone(), c.name.clone()))
            .collect(),
        dropped_fields: plan.dropped_fields.clone(),
        geometry_type: geometry.geometry_type,
        dry_run: job.dry_run,
        elapsed: started.elapsed(),
    })
}

/// The reason given for features whose repair left nothing of the collection's dimension.
const REPAIR_LEFT_NOTHING: &str = "Reparatur ließ nichts von der Geometrieart der Sammlung übrig / repair left nothing of the collection's geometry type";

/// Counts of a load, for the catalog and the audit log.
struct Outcome<'a> {
    read: u64,
    written: u64,
    repaired: u64,
    parts_dropped: u64,
    skipped: &'a [(String, u64)],
    removed: &'a [(i64, String)],
    bad_rows: &'a [(u64, String)],
    replaced: bool,
    geometry_type: &'a str,
}

/// What a replace kept of the previous catalog entry, and what it had to drop.
#[derive(Debug, Default)]
struct Settings {
    kept: Vec<String>,
    dropped: Vec<(String, String)>,
}

/// Writes the catalog entry (keeping every setting of an existing one that still applies) and
/// the audit entry.
async fn register(
    tx: &Transaction<'_>,
    job: &VectorImport,
    id: &str,
    plan: &LayerPlan,
    existing: Option<&catalog::Collection>,
    outcome: &Outcome<'_>,
) -> Result<Settings, VectorImportError> {
    let mut settings = Settings::default();
    let mut keep = |what: String| settings.kept.push(what);
    let title = match (&job.title, existing) {
        (Some(t), _) => t.clone(),
        (None, Some(c)) => {
            keep(format!("Titel »{}«", c.title));
            c.title.clone()
        }
        (None, None) => plan.layer.clone(),
    };
    let description = match (&job.description, existing) {
        (Some(d), _) => d.clone(),
        (None, Some(c)) => c.description.clone(),
        (None, None) => format!("Importiert aus {}", display_name(&job.file)),
    };
    let (license, license_url) = match (&job.license, existing) {
        (Some(l), Some(c)) if *l == c.license => (l.clone(), c.license_url.clone()),
        (Some(l), _) => (l.clone(), None),
        (None, Some(c)) => {
            keep(format!("Lizenz »{}«", c.license));
            (c.license.clone(), c.license_url.clone())
        }
        (None, None) => (job.default_license.clone(), None),
    };
    let attribution = match (&job.attribution, existing) {
        (Some(a), _) => a.clone(),
        (None, Some(c)) => c.attribution.clone(),
        (None, None) => job.default_attribution.clone(),
    };
    let mut temporal = None;
    if let Some(c) = existing {
        if !c.keywords.is_empty() {
            keep(format!("Schlagwörter ({})", c.keywords.join(", ")));
        }
        if (c.min_zoom, c.max_zoom) != (0, 22) {
            keep(format!("Zoomstufen {}–{}", c.min_zoom, c.max_zoom));
        }
        if !c.publish_features || !c.publish_tiles {
            keep(format!(
                "Veröffentlichung: OGC API {}, Kacheln {}",
                if c.publish_features { "ja" } else { "nein" },
                if c.publish_tiles { "ja" } else { "nein" }
            ));
        }
        if let Some(column) = &c.temporal_column {
            let still_there = plan.columns.iter().find(|col| &col.name == column);
            match still_there.map(|col| col.kind) {
                Some(ColumnKind::Date | ColumnKind::Timestamp) => {
                    keep(format!("Zeitspalte »{column}«"));
                    temporal = Some(column.clone());
                }
                Some(kind) => settings.dropped.push((
                    format!("Zeitspalte »{column}«"),
                    format!(
                        "die Spalte ist jetzt {} statt Datum / the column is now {}, not a date",
                        kind.label(),
                        kind.label()
                    ),
                )),
                None => settings.dropped.push((
                    format!("Zeitspalte »{column}«"),
                    "die neue Datei hat diese Spalte nicht / the new file has no such column"
                        .to_owned(),
                )),
            }
        }
    }
    let keywords: Vec<String> = existing.map(|c| c.keywords.clone()).unwrap_or_default();
    let keyword_refs: Vec<&str> = keywords.iter().map(String::as_str).collect();
    catalog::register(
        tx,
        &NewCollection {
            id,
            title: &title,
            description: &description,
            keywords: &keyword_refs,
            table_schema: "data",
            table_name: id,
            geometry_type: outcome.geometry_type,
            storage_srid: job.storage_srid,
            temporal_column: temporal.as_deref(),
            license: &license,
            license_url: license_url.as_deref(),
            attribution: &attribution,
            min_zoom: existing.map_or(0, |c| c.min_zoom),
            max_zoom: existing.map_or(22, |c| c.max_zoom),
        },
    )
    .await?;
    if existing.is_some() {
        let datasets: i64 = tx
            .query_one(
                "SELECT count(*) FROM catalog.dataset_collections WHERE collection_id = $1",
                &[&id],
            )
            .await
            .map_err(db("counting the collection's datasets"))?
            .get(0);
        if datasets > 0 {
            settings
                .kept
                .push(format!("Teil von {datasets} Open-Data-Datensatz/-sätzen"));
        }
    }
    catalog::audit(
        tx,
        &job.actor,
        "import.vector",
        id,
        &serde_json::json!({
            "file": job.file.display().to_string(),
            "layer": plan.layer,
            "read": outcome.read,
            "written": outcome.written,
            "repaired": outcome.repaired,
            "parts_dropped": outcome.parts_dropped,
            "skipped": outcome.skipped.iter().map(|(r, n)| serde_json::json!({"reason": r, "count": n})).collect::<Vec<_>>(),
            "skipped_features": outcome.removed.iter().map(|(id, r)| serde_json::json!({"id": id, "reason": r})).collect::<Vec<_>>(),
            "skipped_lines": outcome.bad_rows.iter().map(|(l, r)| serde_json::json!({"line": l, "reason": r})).collect::<Vec<_>>(),
            "replaced": outcome.replaced,
            "kept_settings": settings.kept,
            "dropped_settings": settings.dropped.iter().map(|(s, r)| serde_json::json!({"setting": s, "reason": r})).collect::<Vec<_>>(),
        }),
    )
    .await?;
    Ok(settings)
}

fn display_name(file: &Path) -> String {
    file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn default_name(file: &Path, plan: &LayerPlan) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if stem.is_empty() {
        plan.layer.clone()
    } else {
        stem
    }
}

fn stage_name(id: &str) -> String {
    let mut name = format!("_stage_{id}");
    name.truncate(63);
    name
}

fn index_name(table: &str, suffix: &str) -> String {
    let mut name = table.to_owned();
    name.truncate(63 - suffix.len());
    name + suffix
}

async fn create_stage(
    tx: &Transaction<'_>,
    stage: &str,
    plan: &LayerPlan,
    srid: i32,
) -> Result<(), VectorImportError> {
    let mut columns = vec!["id bigint NOT NULL".to_owned()];
    columns.extend(
        plan.columns
            .iter()
            .map(|c| format!("{} {}", quote_ident(&c.name), c.kind.sql())),
    );
    let kind = if plan.has_z { "GeometryZ" } else { "Geometry" };
    columns.push(format!("geom geometry({kind}, {srid})"));
    let sql = format!(
        "DROP TABLE IF EXISTS data.{stage}; CREATE TABLE data.{stage} ({})",
        columns.join(", "),
        stage = quote_ident(stage)
    );
    tx.batch_execute(&sql)
        .await
        .map_err(db("creating the staging table"))?;
    // The source's own column names, as titles (COMMENT takes no parameters: format's %L
    // quotes them).
    let (names, titles): (Vec<&str>, Vec<&str>) = plan
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.original.as_str()))
        .unzip();
    let comments: Option<String> = tx
        .query_one(
            "SELECT string_agg(format('COMMENT ON COLUMN data.%I.%I IS %L', $1::text, n, t), '; ')
             FROM unnest($2::text[], $3::text[]) AS u(n, t)",
            &[&stage, &names, &titles],
        )
        .await
        .map_err(db("writing the column titles"))?
        .get(0);
    if let Some(sql) = comments {
        tx.batch_execute(&sql)
            .await
            .map_err(db("writing the column titles"))?;
    }
    Ok(())
}

async fn copy_features(
    tx: &Transaction<'_>,
    stage: &str,
    spec: &SourceSpec,
    plan: &LayerPlan,
    srid: i32,
) -> Result<source::ReadStats, VectorImportError> {
    let mut names = vec!["id".to_owned()];
    names.extend(plan.columns.iter().map(|c| quote_ident(&c.name)));
    names.push("geom".to_owned());
    let sql = format!(
        "COPY data.{} ({}) FROM STDIN (FORMAT binary)",
        quote_ident(stage),
        names.join(", ")
    );
    let sink = tx.copy_in(&sql).await.map_err(db("starting COPY"))?;
    let mut sink = pin!(sink);
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    let counter = Counter::default();
    let reporter = Reporter::start(
        &format!("Import {}", plan.layer),
        "Objekte",
        plan.feature_count,
        counter.clone(),
    );
    let reader = {
        let (spec, plan) = (spec.clone(), plan.clone());
        tokio::task::spawn_blocking(move || read(&spec, &plan, srid, &sender, &counter))
    };
    let mut write_error = None;
    while let Some(chunk) = receiver.recv().await {
        if let Err(e) = sink.send(Bytes::from(chunk)).await {
            write_error = Some(e);
            break;
        }
    }
    drop(receiver);
    let read_result = reader
        .await
        .map_err(|e| VectorImportError::Reader(e.to_string()))?;
    reporter.finish().await;
    if let Some(e) = write_error {
        return Err(db("copying features")(e));
    }
    let stats = read_result?;
    sink.finish().await.map_err(db("copying features"))?;
    Ok(stats)
}

/// What became of the geometries after loading.
#[derive(Debug)]
struct GeometryOutcome {
    repaired: u64,
    parts_dropped: u64,
    removed: Vec<(i64, String)>,
    geometry_type: String,
}

/// Linearises curves, repairs invalid geometries and keeps of each repair only the parts of the
/// collection's dimension (a feature left with nothing is removed and reported), numbers the
/// features when the source's ids are not unique, and makes the geometry type uniform (multi
/// where single and multi are mixed).
async fn finish_geometries(
    tx: &Transaction<'_>,
    stage: &str,
    declared: Option<i32>,
) -> Result<GeometryOutcome, VectorImportError> {
    let table = format!("data.{}", quote_ident(stage));
    tx.execute(
        &format!("UPDATE {table} SET geom = ST_CurveToLine(geom) WHERE ST_HasArc(geom)"),
        &[],
    )
    .await
    .map_err(db("linearising curves"))?;
    let dimension = if let Some(d) = declared {
        Some(d)
    } else {
        {
            let rows = tx
                .query(
                    &format!(
                        "SELECT DISTINCT ST_Dimension(geom) FROM {table}
                         WHERE geom IS NOT NULL AND GeometryType(geom) <> 'GEOMETRYCOLLECTION'"
                    ),
                    &[],
                )
                .await
                .map_err(db("reading geometry dimensions"))?;
            match rows.as_slice() {
                [one] => Some(one.get::<_, i32>(0)),
                _ => None,
            }
        }
    };
    // With a known dimension, a repair keeps only the parts of that dimension ($1 = -1: any).
    let fix = "CASE WHEN $1 < 0 THEN ST_MakeValid(geom)
                    ELSE ST_CollectionExtract(ST_MakeValid(geom), $1 + 1) END";
    let dim = dimension.unwrap_or(-1);
    let repaired_rows = tx
        .query(
            &format!(
                "SELECT id, $1 >= 0 AND GeometryType(ST_MakeValid(geom)) = 'GEOMETRYCOLLECTION'
                        AND ST_NumGeometries(ST_MakeValid(geom)) > ST_NumGeometries({fix})
                 FROM {table} WHERE geom IS NOT NULL AND NOT ST_IsValid(geom)"
            ),
            &[&dim],
        )
        .await
        .map_err(db("repairing invalid geometries"))?;
    let mut removed = Vec::new();
    let mut parts_dropped = 0;
    if !repaired_rows.is_empty() {
        let emptied = tx
            .query(
                &format!(
                    "WITH fixed AS (
                         UPDATE {table} SET geom = {fix}
                         WHERE geom IS NOT NULL AND NOT ST_IsValid(geom) RETURNING id, geom)
                     SELECT id FROM fixed WHERE ST_IsEmpty(geom) ORDER BY id"
                ),
                &[&dim],
            )
            .await
            .map_err(db("repairing invalid geometries"))?;
        let (de, en) = match dimension {
            Some(0) => ("keinen Punkt", "no point"),
            Some(1) => ("keine Linie", "no line"),
            _ => ("keine Fläche", "no polygon"),
        };
        for row in &emptied {
            removed.push((
                row.get::<_, i64>(0),
                format!("ungültige Geometrie, die Reparatur ergibt {de} / invalid geometry, its repair leaves {en}"),
            ));
        }
        if !removed.is_empty() {
            tx.execute(
                &format!("DELETE FROM {table} WHERE geom IS NOT NULL AND ST_IsEmpty(geom)"),
                &[],
            )
            .await
            .map_err(db("removing emptied geometries"))?;
        }
        let emptied_ids: Vec<i64> = removed.iter().map(|(id, _)| *id).collect();
        parts_dropped = repaired_rows
            .iter()
            .filter(|r| r.get::<_, bool>(1) && !emptied_ids.contains(&r.get::<_, i64>(0)))
            .count() as u64;
    }
    let repaired = repaired_rows.len() as u64 - removed.len() as u64;
    // Ids from the source must be unique; number the rows when they are not.
    tx.execute(
        &format!(
            "UPDATE {table} t SET id = n.rn FROM (SELECT ctid, row_number() OVER () AS rn FROM {table}) n
             WHERE t.ctid = n.ctid AND (SELECT count(*) > count(DISTINCT id) FROM {table})"
        ),
        &[],
    )
    .await
    .map_err(db("numbering features"))?;
    let geometry_type = uniform_geometry_type(tx, &table).await?;
    Ok(GeometryOutcome {
        repaired,
        parts_dropped,
        removed,
        geometry_type,
    })
}

/// The collection's geometry type; single geometries become multi where both occur.
async fn uniform_geometry_type(
    tx: &Transaction<'_>,
    table: &str,
) -> Result<String, VectorImportError> {
    let rows = tx
        .query(
            &format!("SELECT DISTINCT ST_GeometryType(geom) FROM {table} WHERE geom IS NOT NULL"),
            &[],
        )
        .await
        .map_err(db("reading geometry types"))?;
    let mut types: Vec<String> = rows
        .iter()
        .map(|r| r.get::<_, String>(0).trim_start_matches("ST_").to_owned())
        .collect();
    types.sort();
    // Sorted, "MultiX" comes before "X".
    Ok(match types.as_slice() {
        [one] => one.clone(),
        [multi, single] if *multi == format!("Multi{single}") => {
            tx.execute(
                &format!(
                    "UPDATE {table} SET geom = ST_Multi(geom) WHERE ST_GeometryType(geom) = $1"
                ),
                &[&format!("ST_{single}")],
            )
            .await
            .map_err(db("making the geometry type uniform"))?;
            multi.clone()
        }
        _ => "Geometry".to_owned(),
    })
}

async fn swap_in(tx: &Transaction<'_>, stage: &str, id: &str) -> Result<(), VectorImportError> {
    let (stage_q, id_q) = (quote_ident(stage), quote_ident(id));
    let sql = format!(
        "ALTER TABLE data.{stage_q} ADD CONSTRAINT {pk_stage} PRIMARY KEY (id);
         CREATE INDEX {gix_stage} ON data.{stage_q} USING gist (geom);
         ANALYZE data.{stage_q};
         DROP TABLE IF EXISTS data.{id_q};
         ALTER TABLE data.{stage_q} RENAME TO {id_q};
         ALTER INDEX data.{pk_stage} RENAME TO {pk};
         ALTER INDEX data.{gix_stage} RENAME TO {gix};",
        pk_stage = quote_ident(&index_name(stage, "_pkey")),
        gix_stage = quote_ident(&index_name(stage, "_geom")),
        pk = quote_ident(&index_name(id, "_pkey")),
        gix = quote_ident(&index_name(id, "_geom")),
    );
    tx.batch_execute(&sql)
        .await
        .map_err(db("swapping in the new table"))
}
