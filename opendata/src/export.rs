//! The formats that are files rather than streams: GeoPackage and zipped Shapefile in
//! EPSG:25832 and KML in WGS 84 made by GDAL (`ogr2ogr` from Debian's gdal-bin), FlatGeobuf in
//! WGS 84 written in-process with its spatial index ([`crate::fgb`]). Each file is made once per
//! collection and data version (written under a temporary name and renamed, so a reader never
//! sees half a file) into the cache folder ([`crate::cache`]), one at a time per process.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use stadtkarte_core::AppState;
use stadtkarte_core::catalog::quote_ident;
use stadtkarte_core::db::DbError;
use stadtkarte_core::schema::{CollectionSchema, PropType};

/// A file format (its names and media type: [`crate::formats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFormat {
    /// File name ending.
    pub ext: &'static str,
    /// GDAL driver; `None`: written in-process ([`crate::fgb`]).
    driver: Option<&'static str>,
    /// EPSG code of the file.
    srid: u32,
}

/// The formats.
pub const FILE_FORMATS: &[FileFormat] = &[
    FileFormat {
        ext: "gpkg",
        driver: Some("GPKG"),
        srid: 25832,
    },
    FileFormat {
        ext: "shp.zip",
        driver: Some("ESRI Shapefile"),
        srid: 25832,
    },
    FileFormat {
        ext: "fgb",
        driver: None,
        srid: 4326,
    },
    FileFormat {
        ext: "kml",
        driver: Some("KML"),
        srid: 4326,
    },
];

/// Why a file could not be made (a fault of the server, logged).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// ogr2ogr failed or is missing.
    #[error("ogr2ogr failed: {0}")]
    Gdal(String),
    /// The FlatGeobuf writer failed.
    #[error(transparent)]
    FlatGeobuf(#[from] crate::fgb::FgbError),
    /// No database connection for the FlatGeobuf writer.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The cache folder is not writable.
    #[error("cannot write the download cache: {0}")]
    Io(#[from] std::io::Error),
}

/// The file format with this file name ending.
#[must_use]
pub fn file_format(ext: &str) -> Option<FileFormat> {
    FILE_FORMATS.iter().find(|f| f.ext == ext).copied()
}

/// Who waits for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// A download request: ogr2ogr at normal priority.
    Request,
    /// The preparer: ogr2ogr under `nice`, so requests keep the processor (the in-process
    /// FlatGeobuf writer runs as it is: most of its work is PostGIS's).
    Background,
}

static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Makes `target` (a file of the download cache) from `schema` in `format` unless it exists.
pub async fn file(
    state: &AppState,
    target: &Path,
    schema: &CollectionSchema,
    format: FileFormat,
    priority: Priority,
) -> Result<(), ExportError> {
    let c = &schema.collection;
    // One maker at a time: concurrent first requests wait for the same file.
    let _guard = LOCK.lock().await;
    if target.is_file() {
        return Ok(());
    }
    let Some(driver) = format.driver else {
        let client = state.read_db().await?;
        crate::fgb::write_file(&**client, schema, target).await?;
        return Ok(());
    };
    let database_url = &state.config.database.url;
    let cache = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(cache)?;
    let work = tempfile::tempdir_in(cache)?;
    let columns: Vec<String> = std::iter::once(schema.id())
        .chain(
            schema
                .properties
                .iter()
                .filter(|p| p.kind != PropType::Other)
                .map(|p| quote_ident(&p.name)),
        )
        .chain(std::iter::once(schema.geom()))
        .collect();
    let sql = format!("SELECT {} FROM {}", columns.join(", "), c.table_sql());
    let shapefile = format.ext == "shp.zip";
    let out = if shapefile {
        work.path().join("shp")
    } else {
        work.path().join(format!("out.{}", format.ext))
    };
    // A Shapefile holds one kind of geometry: a collection of mixed points and areas (the
    // petitions) becomes one Shapefile per kind in the ZIP; empty ones are left out.
    let parts: Vec<(String, String, Option<&str>)> = if shapefile && is_mixed(&c.geometry_type) {
        [
            ("punkte", 0, "MULTIPOINT"),
            ("linien", 1, "MULTILINESTRING"),
            ("flaechen", 2, "MULTIPOLYGON"),
        ]
        .iter()
        .map(|(suffix, dimension, kind)| {
            (
                format!("{}_{suffix}", c.id),
                format!(
                    "SELECT * FROM ({sql}) s WHERE ST_Dimension({}) = {dimension}",
                    schema.geom()
                ),
                Some(*kind),
            )
        })
        .collect()
    } else {
        vec![(c.id.clone(), sql, None)]
    };
    let mut messages = String::new();
    let mut empty: Vec<&str> = Vec::new();
    for (i, (layer, sql, kind)) in parts.iter().enumerate() {
        let mut args: Vec<String> = vec![
            "-f".into(),
            driver.into(),
            out.display().to_string(),
            format!("PG:{database_url}"),
            "-sql".into(),
            sql.clone(),
            "-nln".into(),
            layer.clone(),
            "-t_srs".into(),
            format!("EPSG:{}", format.srid),
        ];
        if let Some(kind) = kind {
            args.extend(["-nlt".into(), (*kind).into()]);
        }
        if i > 0 {
            args.push("-update".into());
        }
        if shapefile {
            args.extend(["-lco".into(), "ENCODING=UTF-8".into()]);
        }
        let mut command = match priority {
            Priority::Request => tokio::process::Command::new("ogr2ogr"),
            Priority::Background => {
                let mut c = tokio::process::Command::new("nice");
                c.args(["-n", "10", "ogr2ogr"]);
                c
            }
        };
        let result = command
            .args(&args)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| {
                ExportError::Gdal(format!("cannot run ogr2ogr ({e}); install gdal-bin"))
            })?;
        if !result.status.success() {
            return Err(ExportError::Gdal(
                String::from_utf8_lossy(&result.stderr).into_owned(),
            ));
        }
        messages.push_str(&String::from_utf8_lossy(&result.stderr));
        if kind.is_some() && std::fs::metadata(out.join(format!("{layer}.shp")))?.len() <= 100 {
            empty.push(layer);
        }
    }
    // An empty Shapefile (only its 100-byte header) of a mixed collection is left out, once all
    // parts are written (GDAL cannot add a layer to a folder without one) — unless all are
    // empty: a collection without features still gets its fields' description.
    if empty.len() < parts.len() {
        for layer in empty {
            for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
                let _ = std::fs::remove_file(out.join(format!("{layer}.{ext}")));
            }
        }
    }
    if format.ext == "gpkg" {
        write_gpkg_titles(&out, &c.id, schema).await?;
    }
    let made = if shapefile {
        let zip_path = work.path().join("out.shp.zip");
        zip_dir(&out, &zip_path, &messages, schema)?;
        zip_path
    } else {
        out
    };
    // Flushed and renamed: a reader on any node sees the whole file or none.
    stadtkarte_core::files::publish(&made, target)?;
    Ok(())
}

/// A collection whose features may be of several kinds (points and areas).
fn is_mixed(geometry_type: &str) -> bool {
    matches!(
        geometry_type.to_ascii_lowercase().as_str(),
        "geometry" | "geometrycollection" | "unknown" | ""
    )
}

/// Records the source's own column names in the GeoPackage's `gpkg_data_columns` (the
/// standard's schema extension: `name` is what GDAL 3.7+ and QGIS show as the field's alias,
/// `title` its human-readable title). GDAL 3.6 has no way to write them, so they are added with
/// SQL through `ogrinfo`, statements taken from GDAL's own schema.
async fn write_gpkg_titles(
    gpkg: &Path,
    table: &str,
    schema: &CollectionSchema,
) -> Result<(), ExportError> {
    let titled: Vec<(&str, &str)> = schema
        .properties
        .iter()
        .filter(|p| p.kind != PropType::Other)
        .filter_map(|p| p.title.as_deref().map(|t| (p.name.as_str(), t)))
        .collect();
    if titled.is_empty() {
        return Ok(());
    }
    let literal = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut statements = vec![
        "CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, \
         name TEXT UNIQUE, title TEXT, description TEXT, mime_type TEXT, constraint_name TEXT, \
         CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), CONSTRAINT gdc_tn UNIQUE (table_name, name))"
            .to_owned(),
        "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) \
         SELECT 'gpkg_data_columns', NULL, 'gpkg_schema', 'http://www.geopackage.org/spec121/#extension_schema', 'read-write' \
         WHERE NOT EXISTS (SELECT 1 FROM gpkg_extensions WHERE table_name = 'gpkg_data_columns' AND extension_name = 'gpkg_schema')"
            .to_owned(),
    ];
    for (column, title) in titled {
        statements.push(format!(
            "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title) VALUES ({}, {}, {}, {})",
            literal(table),
            literal(column),
            literal(title),
            literal(title)
        ));
    }
    for sql in statements {
        let result = tokio::process::Command::new("ogrinfo")
            .arg("-q")
            .arg(gpkg)
            .args(["-sql", &sql])
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| {
                ExportError::Gdal(format!("cannot run ogrinfo ({e}); install gdal-bin"))
            })?;
        let stderr = String::from_utf8_lossy(&result.stderr);
        if !result.status.success() || stderr.contains("ERROR") {
            return Err(ExportError::Gdal(stderr.into_owned()));
        }
    }
    Ok(())
}

/// Zips a Shapefile folder, adding LIESMICH.txt with the field names Shapefiles had to shorten.
fn zip_dir(
    dir: &Path,
    zip_path: &Path,
    gdal_messages: &str,
    schema: &CollectionSchema,
) -> Result<(), ExportError> {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(zip_path)?);
    let options = zip::write::SimpleFileOptions::default();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    for path in names {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        zip.start_file(name, options)
            .map_err(|e| ExportError::Gdal(e.to_string()))?;
        zip.write_all(&std::fs::read(&path)?)?;
    }
    // GDAL says "Normalized/laundered field name: 'fertigstellung' to 'fertigstel'".
    let renamed: Vec<String> = gdal_messages
        .lines()
        .filter(|l| l.contains("Normalized/laundered field name"))
        .filter_map(|l| {
            l.split_once("field name:")
                .map(|(_, r)| r.trim().replace('\'', ""))
        })
        .collect();
    let mut readme = format!(
        "{} – {}\nKoordinatenreferenzsystem: ETRS89 / UTM Zone 32N (EPSG:25832), Zeichensatz UTF-8 (.cpg).\nLizenz: {} – {}\n",
        schema.collection.title,
        schema.collection.description,
        schema.collection.license,
        schema.collection.attribution
    );
    if !renamed.is_empty() {
        readme.push_str("\nShapefile-Feldnamen sind höchstens 10 Zeichen lang; gekürzt wurden:\n");
        for r in renamed {
            readme.push_str("  ");
            readme.push_str(&r);
            readme.push('\n');
        }
    }
    // Shapefiles have no field aliases: the source's own column names are listed here.
    let titled: Vec<String> = schema
        .properties
        .iter()
        .filter_map(|p| p.title.as_ref().map(|t| format!("  {} = {t}\n", p.name)))
        .collect();
    if !titled.is_empty() {
        readme.push_str("\nUrsprüngliche Spaltennamen der Quelle:\n");
        readme.extend(titled);
    }
    zip.start_file("LIESMICH.txt", options)
        .map_err(|e| ExportError::Gdal(e.to_string()))?;
    zip.write_all(readme.as_bytes())?;
    zip.finish().map_err(|e| ExportError::Gdal(e.to_string()))?;
    Ok(())
}
