//! `stadtkarte import xplan FILE.gml|FILE.zip`: development plans (Bebauungspläne) from
//! XPlanGML 5.x and 6.0 into the `plans` schema.
//!
//! Each `BP_Plan` becomes a row of `plans.bebauungsplaene` (name, number, legal status, dates,
//! municipality, Geltungsbereich), its `BP_Bereich` parts rows of `plans.bereiche`, its zoning
//! areas (`BP_BaugebietsTeilFlaeche`) rows of `plans.baugebiete` with type of use, GRZ, GFZ,
//! storeys and building style as columns, the objects a map styles by their purpose
//! (overbuildable areas, building limits and lines, traffic, green and community areas) rows of
//! their own tables (`typed`), and every other object a row of `plans.planobjekte`
//! (feature type, attributes as JSON, geometry). Arcs are linearised by PostGIS. Files that an
//! XPlanArchiv (zip) carries and the plan references — the plan PDF, the georeferenced scan with
//! its world file — are stored in `plans.dokumente`. A plan imported again (same `gml:id`)
//! replaces the old one in the same transaction.

pub(crate) mod codes;
mod parse;
mod typed;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use stadtkarte_core::catalog::{self, NewCollection};
use stadtkarte_core::db::DbError;
use stadtkarte_core::tokio_postgres::{Client, Transaction};

pub use parse::{PlanFile, PlanObject, SUPPORTED};

/// What to import.
#[derive(Debug, Clone)]
pub struct XplanImport {
    /// A `.gml` file or an XPlanArchiv `.zip`.
    pub file: PathBuf,
    /// Licence of the plans' data.
    pub license: String,
    /// Where the licence text is (the collections' `license` link), when known.
    pub license_url: Option<String>,
    /// Attribution text.
    pub attribution: String,
    /// Who imports, for the audit log.
    pub actor: String,
    /// EPSG code of the storage CRS.
    pub storage_srid: i32,
}

/// What was imported.
#[derive(Debug, Clone, Default)]
pub struct XplanSummary {
    /// XPlanGML version.
    pub version: String,
    /// Names of the plans.
    pub plans: Vec<String>,
    /// Plans that replaced an earlier import.
    pub replaced: usize,
    /// `BP_Bereich` rows.
    pub bereiche: usize,
    /// Zoning areas.
    pub baugebiete: usize,
    /// Objects stored in their own tables, by table (e.g. `baugrenzen`).
    pub typed: Vec<(String, usize)>,
    /// Other objects, by feature type (stored generically).
    pub generic: Vec<(String, usize)>,
    /// Documents stored.
    pub documents: Vec<String>,
    /// References to files that are not in the archive (e.g. web addresses).
    pub external_links: Vec<String>,
    /// Time taken.
    pub elapsed: Duration,
}

/// Why a plan could not be imported. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XplanError {
    /// The file cannot be read.
    #[error("cannot read {}: {reason}", file.display())]
    Unreadable {
        /// The file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// The zip holds no XPlanGML file.
    #[error("{} contains no XPlanGML file (.gml)", .0.display())]
    NoPlanInZip(PathBuf),
    /// Not XML.
    #[error("not an XML document: {0}")]
    NotXml(String),
    /// XML, but not XPlanGML.
    #[error("not XPlanGML: {0}")]
    NotXplan(String),
    /// An XPlanGML version this importer does not read.
    #[error("XPlanGML {0} is not supported; supported are {supported}", supported = SUPPORTED.join(", "))]
    UnsupportedVersion(String),
    /// No `BP_Plan` in the file.
    #[error("the file holds no Bebauungsplan (BP_Plan); other plan types are not supported yet")]
    NoBebauungsplan,
    /// A geometry cannot be read.
    #[error("geometry of {gml_id} cannot be read: {reason}")]
    Geometry {
        /// The object.
        gml_id: String,
        /// Why.
        reason: String,
    },
    /// A geometry has no CRS and the file names none.
    #[error("geometry of {0} has no srsName and the file names no CRS")]
    MissingCrs(String),
    /// The database refused a step.
    #[error("database error while {what}: {source}")]
    Database {
        /// The step.
        what: &'static str,
        /// The error.
        #[source]
        source: stadtkarte_core::tokio_postgres::Error,
    },
    /// The catalog refused an entry.
    #[error(transparent)]
    Catalog(#[from] DbError),
}

fn db(what: &'static str) -> impl FnOnce(stadtkarte_core::tokio_postgres::Error) -> XplanError {
    move |source| XplanError::Database { what, source }
}

/// The XPlanGML text and the files beside it (from the archive, or the file's folder).
struct Source {
    gml: String,
    files: HashMap<String, PathBuf>,
    _unpacked: Option<tempfile::TempDir>,
}

fn read_source(file: &Path) -> Result<Source, XplanError> {
    let unreadable = |reason: String| XplanError::Unreadable {
        file: file.to_owned(),
        reason,
    };
    if !file.is_file() {
        return Err(unreadable("no such file".to_owned()));
    }
    let is_zip = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    let (gml_path, dir, unpacked) = if is_zip {
        let dir = tempfile::tempdir().map_err(|e| unreadable(e.to_string()))?;
        crate::archive::unpack(file, dir.path()).map_err(|e| unreadable(e.to_string()))?;
        let mut gmls: Vec<PathBuf> = walk(dir.path())
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("gml")))
            .collect();
        // The archive's main file is xplan.gml; other .gml files are attachments.
        gmls.sort_by_key(|p| p.file_name().is_none_or(|n| n != "xplan.gml"));
        let gml = gmls
            .first()
            .cloned()
            .ok_or_else(|| XplanError::NoPlanInZip(file.to_owned()))?;
        (gml, dir.path().to_owned(), Some(dir))
    } else {
        let dir = file.parent().map(Path::to_owned).unwrap_or_default();
        (file.to_owned(), dir, None)
    };
    let bytes = std::fs::read(&gml_path).map_err(|e| unreadable(e.to_string()))?;
    let gml = decode(&bytes);
    let files = walk(&dir)
        .into_iter()
        .filter(|p| *p != gml_path)
        .filter_map(|p| Some((p.file_name()?.to_string_lossy().into_owned(), p)))
        .collect();
    Ok(Source {
        gml,
        files,
        _unpacked: unpacked,
    })
}

/// UTF-8, or ISO-8859-1 when the XML declaration says so (or the bytes are not UTF-8).
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// The regular files under `dir`; symbolic links and other special files are never followed
/// (a plan's documents must be the files that came with it, nothing else on the server).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                out.extend(walk(&entry.path()));
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out
}

fn media_type(file: &str) -> &'static str {
    match file
        .rsplit('.')
        .next()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("tif" | "tiff") => "image/tiff",
        Some("gml" | "xml") => "application/gml+xml",
        Some("html" | "htm") => "text/html",
        Some("txt" | "pgw" | "jgw" | "tfw" | "wld") => "text/plain",
        _ => "application/octet-stream",
    }
}

/// Imports every Bebauungsplan of the file, in a transaction of its own.
pub async fn import(client: &mut Client, job: &XplanImport) -> Result<XplanSummary, XplanError> {
    let started = Instant::now();
    let (source, parsed) = read(job).await?;
    let tx = client
        .transaction()
        .await
        .map_err(db("starting the transaction"))?;
    let mut summary = store(&tx, job, &source, &parsed).await?;
    tx.commit().await.map_err(db("committing"))?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Imports every Bebauungsplan of the file inside the caller's transaction (the demo loads its
/// plans together with its city, so that both appear at once).
pub async fn import_in(
    tx: &Transaction<'_>,
    job: &XplanImport,
) -> Result<XplanSummary, XplanError> {
    let started = Instant::now();
    let (source, parsed) = read(job).await?;
    let mut summary = store(tx, job, &source, &parsed).await?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Reads and parses the file (or archive) on a blocking thread: GDAL parses the geometries.
async fn read(job: &XplanImport) -> Result<(Source, PlanFile), XplanError> {
    let file = job.file.clone();
    tokio::task::spawn_blocking(move || {
        let source = read_source(&file)?;
        let parsed = parse::parse(&source.gml)?;
        Ok::<_, XplanError>((source, parsed))
    })
    .await
    .map_err(|e| XplanError::Unreadable {
        file: job.file.clone(),
        reason: e.to_string(),
    })?
}

/// Stores the parsed plans, replacing earlier imports of the same plans.
async fn store(
    tx: &Transaction<'_>,
    job: &XplanImport,
    source: &Source,
    parsed: &PlanFile,
) -> Result<XplanSummary, XplanError> {
    let plans: Vec<&PlanObject> = parsed
        .objects
        .iter()
        .filter(|o| o.kind == "BP_Plan")
        .collect();
    if plans.is_empty() {
        return Err(XplanError::NoBebauungsplan);
    }
    let plan_of = assign_plans(parsed, &plans);
    let ids: Vec<&str> = plans.iter().map(|p| p.gml_id.as_str()).collect();
    let replaced = tx
        .execute(
            "DELETE FROM plans.bebauungsplaene WHERE id = ANY($1)",
            &[&ids],
        )
        .await
        .map_err(db("removing the earlier import"))?;
    let mut summary = XplanSummary {
        version: parsed.version.clone(),
        replaced: usize::try_from(replaced).unwrap_or(0),
        ..XplanSummary::default()
    };
    let quelle = job
        .file
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    for plan in &plans {
        insert_plan(tx, plan, &parsed.version, &quelle, job.storage_srid).await?;
        summary
            .plans
            .push(plan.text("name").unwrap_or(&plan.gml_id).to_owned());
    }
    let mut generic: HashMap<String, usize> = HashMap::new();
    let mut typed_counts: HashMap<&str, usize> = HashMap::new();
    for object in &parsed.objects {
        let Some(plan_id) = plan_of.get(object.gml_id.as_str()) else {
            continue;
        };
        match object.kind.as_str() {
            "BP_Plan" => {}
            "BP_Bereich" => {
                insert_bereich(tx, object, plan_id, job.storage_srid).await?;
                summary.bereiche += 1;
            }
            "BP_BaugebietsTeilFlaeche" => {
                insert_baugebiet(tx, object, plan_id, job.storage_srid).await?;
                summary.baugebiete += 1;
            }
            other => {
                if let Some(table) = typed::of(other) {
                    typed::insert(tx, table, object, plan_id, job.storage_srid).await?;
                    *typed_counts.entry(table.table).or_default() += 1;
                    continue;
                }
                insert_generic(tx, object, plan_id, job.storage_srid).await?;
                *generic.entry(other.to_owned()).or_default() += 1;
            }
        }
    }
    summary.generic = generic.into_iter().collect();
    summary.generic.sort();
    summary.typed = typed_counts
        .into_iter()
        .map(|(table, n)| (table.to_owned(), n))
        .collect();
    summary.typed.sort();
    store_documents(tx, parsed, &plan_of, source, &mut summary).await?;
    register_collections(tx, job).await?;
    typed::register(tx, job).await?;
    catalog::audit(
        tx,
        &job.actor,
        "import.xplan",
        &ids.join(","),
        &serde_json::json!({
            "file": job.file.display().to_string(), "version": parsed.version,
            "plans": summary.plans, "baugebiete": summary.baugebiete,
            "typed": summary.typed, "documents": summary.documents, "replaced": summary.replaced,
        }),
    )
    .await?;
    Ok(summary)
}

/// Which plan each object belongs to: through its Bereich (`gehoertZuBereich` →
/// `gehoertZuPlan`, or the plan's `bereich` links); with one plan in the file, everything is
/// that plan's.
fn assign_plans<'a>(parsed: &'a PlanFile, plans: &[&'a PlanObject]) -> HashMap<&'a str, String> {
    let mut bereich_plan: HashMap<String, String> = HashMap::new();
    for plan in plans {
        for bereich in plan.links("bereich") {
            bereich_plan.insert(bereich, plan.gml_id.clone());
        }
    }
    for object in parsed.objects.iter().filter(|o| o.kind == "BP_Bereich") {
        if let Some(plan) = object.links("gehoertZuPlan").into_iter().next() {
            bereich_plan.insert(object.gml_id.clone(), plan);
        }
    }
    let only = (plans.len() == 1).then(|| plans[0].gml_id.clone());
    parsed
        .objects
        .iter()
        .filter_map(|o| {
            let plan = if o.kind == "BP_Plan" {
                Some(o.gml_id.clone())
            } else if o.kind == "BP_Bereich" {
                bereich_plan.get(&o.gml_id).cloned()
            } else {
                o.links("gehoertZuBereich")
                    .into_iter()
                    .find_map(|b| bereich_plan.get(&b).cloned())
            }
            .or_else(|| only.clone())?;
            Some((o.gml_id.as_str(), plan))
        })
        .collect()
}

/// SQL for a polygon geometry from WKB in `$n` with SRID in `$m`: linearised, in the storage
/// CRS, valid, multi.
fn multipolygon_sql(wkb: usize, srid: usize, storage: i32) -> String {
    format!(
        "ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Transform(ST_SetSRID(ST_CurveToLine(ST_GeomFromWKB(${wkb})), ${srid}), {storage})), 3))"
    )
}

fn date(object: &PlanObject, name: &str) -> Option<String> {
    object.text(name).map(|d| d.chars().take(10).collect())
}

async fn insert_plan(
    tx: &Transaction<'_>,
    plan: &PlanObject,
    version: &str,
    quelle: &str,
    storage: i32,
) -> Result<(), XplanError> {
    let planart = plan.text("planArt");
    let rechtsstand = plan.text("rechtsstand");
    let attributes = Value::Object(plan.attributes.clone());
    let sql = format!(
        "INSERT INTO plans.bebauungsplaene (id, name, nummer, planart, planart_text, rechtsstand,
             rechtsstand_text, gemeinde, ags, ortsteil, aufstellungsbeschluss, satzungsbeschluss,
             rechtsverordnung, ausfertigung, inkrafttreten, techn_herstellung, beschreibung,
             xplan_version, quelle, attribute, geom)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::date, $12::text::date,
             $13::text::date, $14::text::date, $15::text::date, $16::text::date, $17, $18, $19, $20,
             {})",
        multipolygon_sql(21, 22, storage)
    );
    tx.execute(
        &sql,
        &[
            &plan.gml_id,
            &plan.text("name").unwrap_or("(ohne Namen)"),
            &plan.text("nummer"),
            &planart,
            &planart.and_then(codes::planart),
            &rechtsstand,
            &rechtsstand.and_then(codes::rechtsstand),
            &plan.nested_text(&["gemeinde", "gemeindeName"]),
            &plan.nested_text(&["gemeinde", "ags"]),
            &plan.nested_text(&["gemeinde", "ortsteilName"]),
            &date(plan, "aufstellungsbeschlussDatum"),
            &date(plan, "satzungsbeschlussDatum"),
            &date(plan, "rechtsverordnungsDatum"),
            &date(plan, "ausfertigungsDatum"),
            &date(plan, "inkrafttretensDatum"),
            &date(plan, "technHerstellDatum"),
            &plan.text("beschreibung"),
            &version,
            &quelle,
            &attributes,
            &plan.wkb,
            &plan.srid.unwrap_or(storage),
        ],
    )
    .await
    .map_err(db("storing a plan"))?;
    Ok(())
}

async fn insert_bereich(
    tx: &Transaction<'_>,
    object: &PlanObject,
    plan_id: &str,
    storage: i32,
) -> Result<(), XplanError> {
    let sql = format!(
        "INSERT INTO plans.bereiche (gml_id, plan_id, nummer, name, attribute, geom)
         VALUES ($1, $2, $3, $4, $5, {})",
        multipolygon_sql(6, 7, storage)
    );
    tx.execute(
        &sql,
        &[
            &object.gml_id,
            &plan_id,
            &object.text("nummer"),
            &object.text("name"),
            &Value::Object(object.attributes.clone()),
            &object.wkb,
            &object.srid.unwrap_or(storage),
        ],
    )
    .await
    .map_err(db("storing a Bereich"))?;
    Ok(())
}

fn number(object: &PlanObject, name: &str) -> Option<f64> {
    object
        .text(name)
        .and_then(|v| v.trim().replace(',', ".").parse().ok())
}

fn integer(object: &PlanObject, name: &str) -> Option<i32> {
    object.text(name).and_then(|v| v.trim().parse().ok())
}

async fn insert_baugebiet(
    tx: &Transaction<'_>,
    object: &PlanObject,
    plan_id: &str,
    storage: i32,
) -> Result<(), XplanError> {
    let allg = object.text("allgArtDerBaulNutzung");
    let besondere = object.text("besondereArtDerBaulNutzung");
    let bauweise = object.text("bauweise");
    let grz = number(object, "GRZ").or_else(|| number(object, "GRZmax"));
    let gfz = number(object, "GFZ").or_else(|| number(object, "GFZmax"));
    let z_max = integer(object, "Z")
        .or_else(|| integer(object, "Zmax"))
        .or_else(|| integer(object, "Zzwingend"));
    let z_min = integer(object, "Zmin").or_else(|| integer(object, "Zzwingend"));
    let bereich = object.links("gehoertZuBereich").into_iter().next();
    let sql = format!(
        "INSERT INTO plans.baugebiete (gml_id, plan_id, bereich_gml_id, allg_art, allg_art_text,
             besondere_art, besondere_art_text, grz, gfz, geschosse_min, geschosse_max, bauweise,
             bauweise_text, attribute, geom)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, {})",
        multipolygon_sql(15, 16, storage)
    );
    tx.execute(
        &sql,
        &[
            &object.gml_id,
            &plan_id,
            &bereich,
            &allg,
            &allg.and_then(codes::allgemeine_art),
            &besondere,
            &besondere.and_then(codes::besondere_art),
            &grz,
            &gfz,
            &z_min,
            &z_max,
            &bauweise,
            &bauweise.and_then(codes::bauweise),
            &Value::Object(object.attributes.clone()),
            &object.wkb,
            &object.srid.unwrap_or(storage),
        ],
    )
    .await
    .map_err(db("storing a zoning area"))?;
    Ok(())
}

async fn insert_generic(
    tx: &Transaction<'_>,
    object: &PlanObject,
    plan_id: &str,
    storage: i32,
) -> Result<(), XplanError> {
    tx.execute(
        &format!(
            "INSERT INTO plans.planobjekte (gml_id, plan_id, objektart, attribute, geom)
             VALUES ($1, $2, $3, $4,
                 ST_Transform(ST_SetSRID(ST_CurveToLine(ST_GeomFromWKB($5)), $6), {storage}))"
        ),
        &[
            &object.gml_id,
            &plan_id,
            &object.kind,
            &Value::Object(object.attributes.clone()),
            &object.wkb,
            &object.srid.unwrap_or(storage),
        ],
    )
    .await
    .map_err(db("storing a plan object"))?;
    Ok(())
}

async fn store_documents(
    tx: &Transaction<'_>,
    parsed: &PlanFile,
    plan_of: &HashMap<&str, String>,
    source: &Source,
    summary: &mut XplanSummary,
) -> Result<(), XplanError> {
    for reference in &parsed.references {
        let Some(plan_id) = plan_of.get(reference.owner.as_str()) else {
            continue;
        };
        let file_name = reference
            .url
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(&reference.url);
        let Some(path) = source.files.get(file_name) else {
            summary.external_links.push(reference.url.clone());
            continue;
        };
        let content = std::fs::read(path).map_err(|e| XplanError::Unreadable {
            file: path.clone(),
            reason: e.to_string(),
        })?;
        let georef_name = reference
            .georef_url
            .as_deref()
            .map(|g| g.rsplit(['/', '\\']).next().unwrap_or(g).to_owned());
        let georef = georef_name
            .as_ref()
            .and_then(|g| source.files.get(g))
            .and_then(|p| std::fs::read(p).ok());
        tx.execute(
            "INSERT INTO plans.dokumente (plan_id, datei, art, name, typ, media_type, inhalt, georef_datei, georef)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (plan_id, datei) DO NOTHING",
            &[
                plan_id,
                &file_name,
                &if reference.is_scan { "Scan" } else { "Dokument" },
                &reference.name,
                &reference.typ,
                &media_type(file_name),
                &content,
                &georef.as_ref().and(georef_name.as_ref()),
                &georef,
            ],
        )
        .await
        .map_err(db("storing a document"))?;
        summary.documents.push(file_name.to_owned());
    }
    Ok(())
}

async fn register_collections(tx: &Transaction<'_>, job: &XplanImport) -> Result<(), XplanError> {
    for (id, table, title, description) in [
        (
            "bebauungsplaene",
            "bebauungsplaene",
            "Bebauungspläne",
            "Geltungsbereiche der Bebauungspläne mit Name, Nummer, Rechtsstand und Daten (aus XPlanGML).",
        ),
        (
            "baugebiete",
            "baugebiete",
            "Baugebiete der Bebauungspläne",
            "Baugebietsteilflächen mit Art der baulichen Nutzung, GRZ, GFZ, Geschossen und Bauweise (aus XPlanGML).",
        ),
    ] {
        catalog::register(
            tx,
            &NewCollection {
                id,
                title,
                description,
                keywords: &["Bebauungsplan", "XPlanung", "Bauleitplanung"],
                table_schema: "plans",
                table_name: table,
                geometry_type: "MultiPolygon",
                storage_srid: job.storage_srid,
                temporal_column: None,
                license: &job.license,
                license_url: job.license_url.as_deref(),
                attribution: &job.attribution,
                min_zoom: 10,
                max_zoom: 22,
            },
        )
        .await?;
    }
    Ok(())
}
