//! `stadtkarte import vector FILE`: any vector format GDAL reads, into a collection.
//!
//! The whole import is one transaction: a staging table is created and filled with binary
//! COPY while GDAL reads (on a blocking thread, in parallel with the database writing),
//! invalid geometries are repaired with `ST_MakeValid`, the GiST index is built, and only then
//! the old table is dropped, the staging table renamed, the catalog entry written and the audit
//! log appended. A failure at any point — a bad file, a geometry PostGIS rejects, a full disk,
//! a killed process — rolls everything back: the previous data and catalog entry stay exactly
//! as they were.

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
    /// Licence of the data.
    pub license: String,
    /// Attribution text.
    pub attribution: String,
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
    /// Features read.
    pub read: u64,
    /// Features written.
    pub written: u64,
    /// Geometries repaired with `ST_MakeValid`.
    pub repaired: u64,
    /// Features skipped, with the reason.
    pub skipped: Vec<(String, u64)>,
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
    };
    let plan = {
        let spec = spec.clone();
        blocking(move || inspect(&spec)).await?
    };
    let id = match &job.collection {
        Some(id) => id.clone(),
        None => names::collection_id(&default_name(&job.file, &plan)),
    };
    if !names::is_collection_id(&id) {
        return Err(VectorImportError::BadCollectionId(id));
    }
    let existing = catalog::get(&*client, &id).await?;
    let table_exists: bool = client
        .query_one(
            "SELECT to_regclass(format('data.%I', $1::text)) IS NOT NULL",
            &[&id],
        )
        .await
        .map_err(db("looking for an existing table"))?
        .get(0);
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
    let repaired = repair(&tx, &stage).await?;
    let geometry_type = geometry_type(&tx, &stage).await?;
    swap_in(&tx, &stage, &id).await?;
    let skipped: Vec<(String, u64)> = stats.skipped.into_iter().collect();
    let outcome = Outcome {
        read: stats.read,
        written: stats.written,
        repaired,
        skipped: &skipped,
        replaced: existing.is_some() || table_exists,
        geometry_type: &geometry_type,
    };
    register(&tx, job, &id, &plan, existing.as_ref(), &outcome).await?;
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
        written: outcome.written,
        repaired,
        skipped,
        renamed: plan
            .columns
            .iter()
            .filter(|c| c.name != c.original)
            .map(|c| (c.original.clone(), c.name.clone()))
            .collect(),
        dropped_fields: plan.dropped_fields.clone(),
        geometry_type,
        dry_run: job.dry_run,
        elapsed: started.elapsed(),
    })
}

/// Counts of a load, for the catalog and the audit log.
struct Outcome<'a> {
    read: u64,
    written: u64,
    repaired: u64,
    skipped: &'a [(String, u64)],
    replaced: bool,
    geometry_type: &'a str,
}

/// Writes the catalog entry (keeping metadata of an existing one unless given) and the audit
/// entry.
async fn register(
    tx: &Transaction<'_>,
    job: &VectorImport,
    id: &str,
    plan: &LayerPlan,
    existing: Option<&catalog::Collection>,
    outcome: &Outcome<'_>,
) -> Result<(), VectorImportError> {
    let title = job
        .title
        .clone()
        .or_else(|| existing.map(|c| c.title.clone()))
        .unwrap_or_else(|| plan.layer.clone());
    let description = job
        .description
        .clone()
        .or_else(|| existing.map(|c| c.description.clone()))
        .unwrap_or_else(|| format!("Importiert aus {}", display_name(&job.file)));
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
            temporal_column: None,
            license: &job.license,
            license_url: None,
            attribution: &job.attribution,
            min_zoom: existing.map_or(0, |c| c.min_zoom),
            max_zoom: existing.map_or(22, |c| c.max_zoom),
        },
    )
    .await?;
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
            "skipped": outcome.skipped.iter().map(|(r, n)| serde_json::json!({"reason": r, "count": n})).collect::<Vec<_>>(),
            "replaced": outcome.replaced,
        }),
    )
    .await?;
    Ok(())
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
    columns.push(format!("geom geometry(Geometry, {srid})"));
    let sql = format!(
        "DROP TABLE IF EXISTS data.{stage}; CREATE TABLE data.{stage} ({})",
        columns.join(", "),
        stage = quote_ident(stage)
    );
    tx.batch_execute(&sql)
        .await
        .map_err(db("creating the staging table"))
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

/// Linearises curves and repairs invalid geometries; returns how many were repaired.
async fn repair(tx: &Transaction<'_>, stage: &str) -> Result<u64, VectorImportError> {
    let table = format!("data.{}", quote_ident(stage));
    tx.execute(
        &format!("UPDATE {table} SET geom = ST_CurveToLine(geom) WHERE ST_HasArc(geom)"),
        &[],
    )
    .await
    .map_err(db("linearising curves"))?;
    let repaired = tx
        .execute(
            &format!(
                "UPDATE {table} SET geom = ST_MakeValid(geom) WHERE geom IS NOT NULL AND NOT ST_IsValid(geom)"
            ),
            &[],
        )
        .await
        .map_err(db("repairing invalid geometries"))?;
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
    Ok(repaired)
}

async fn geometry_type(tx: &Transaction<'_>, stage: &str) -> Result<String, VectorImportError> {
    let rows = tx
        .query(
            &format!(
                "SELECT DISTINCT ST_GeometryType(geom) FROM data.{} WHERE geom IS NOT NULL",
                quote_ident(stage)
            ),
            &[],
        )
        .await
        .map_err(db("reading geometry types"))?;
    let mut types: Vec<String> = rows
        .iter()
        .map(|r| r.get::<_, String>(0).trim_start_matches("ST_").to_owned())
        .collect();
    types.sort();
    Ok(match types.as_slice() {
        [one] => one.clone(),
        [a, b] if *b == format!("Multi{a}") => b.clone(),
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
