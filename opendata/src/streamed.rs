//! GeoJSON (RFC 7946, WGS 84) and CSV (UTF-8 with BOM for spreadsheets, WKT geometry, lat/lon
//! for points), written row by row from one SQL statement with bounded memory: into a response
//! body ([`body`]) or into a file of the download cache ([`write_file`]). Both use the same
//! [`Writer`], so a prepared file has exactly the bytes of a streamed download.
//!
//! The CSV header carries the source's own column names (the properties' titles); NULL is an
//! empty field and the empty string a quoted `""`, as in PostgreSQL's CSV format and the
//! importer.

use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use futures_util::StreamExt as _;
use stadtkarte_core::catalog::quote_ident;
use stadtkarte_core::db::{DbError, PooledClient};
use stadtkarte_core::schema::{CollectionSchema, PropType};
use stadtkarte_core::tokio_postgres::{GenericClient, Row};
use tokio::io::AsyncWriteExt as _;

/// File name endings of the formats written here.
pub const EXTS: &[&str] = &["geojson", "csv"];

/// Why a file could not be written (a fault of the server, logged).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamedError {
    /// The query failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The cache folder is not writable.
    #[error("cannot write {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// Turns one row into bytes; told whether it is the first.
type RowFn = Box<dyn Fn(&Row, bool) -> Vec<u8> + Send + Sync>;

/// How one collection becomes one format: the statement, what comes before and after the rows,
/// and the bytes of each row.
pub struct Writer {
    sql: String,
    head: Vec<u8>,
    tail: Vec<u8>,
    row: RowFn,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("sql", &self.sql)
            .finish_non_exhaustive()
    }
}

/// The writer of `schema` in the format with ending `ext` (`None`: not written here).
#[must_use]
pub fn writer(schema: &CollectionSchema, ext: &str) -> Option<Writer> {
    if !EXTS.contains(&ext) {
        return None;
    }
    let c = &schema.collection;
    let names: Vec<String> = schema
        .properties
        .iter()
        .filter(|p| p.kind != PropType::Other)
        .map(|p| p.name.clone())
        .collect();
    let geom = schema.geom();
    let wgs84 = format!("ST_Transform({geom}, 4326)");
    let props = names
        .chunks(50)
        .map(|chunk| {
            let pairs: Vec<String> = chunk
                .iter()
                .map(|n| format!("'{}', {}", n.replace('\'', "''"), quote_ident(n)))
                .collect();
            format!("jsonb_build_object({})", pairs.join(", "))
        })
        .collect::<Vec<_>>()
        .join(" || ");
    let props = if props.is_empty() {
        "'{}'::jsonb".to_owned()
    } else {
        props
    };
    let sql = format!(
        "SELECT json_build_object('type', 'Feature', 'id', {id}, 'geometry', ST_AsGeoJSON({wgs84}, 7)::json,
                'properties', {props})::text,
            ({props})::text, {id}::text, ST_AsText({wgs84}, 7),
            CASE WHEN GeometryType({geom}) = 'POINT' THEN ST_Y({wgs84}) END,
            CASE WHEN GeometryType({geom}) = 'POINT' THEN ST_X({wgs84}) END
         FROM {table} ORDER BY {id}",
        id = schema.id(),
        table = c.table_sql(),
    );
    Some(if ext == "geojson" {
        Writer {
            sql,
            head: format!(
                "{{\"type\":\"FeatureCollection\",\"name\":{},\"features\":[",
                serde_json::to_string(&c.id).unwrap_or_default()
            )
            .into_bytes(),
            tail: b"]}\n".to_vec(),
            row: Box::new(|row, first| {
                let text: &str = row.get(0);
                let mut out = Vec::with_capacity(text.len() + 2);
                if !first {
                    out.extend_from_slice(b",\n");
                }
                out.extend_from_slice(text.as_bytes());
                out
            }),
        }
    } else {
        let mut head = vec![0xEF, 0xBB, 0xBF];
        let mut columns = vec!["id".to_owned()];
        columns.extend(
            schema
                .properties
                .iter()
                .filter(|p| p.kind != PropType::Other)
                .map(|p| p.label().to_owned()),
        );
        columns.extend(["wkt".to_owned(), "lat".to_owned(), "lon".to_owned()]);
        head.extend(csv_record(columns.iter().map(|c| Some(c.as_str()))));
        Writer {
            sql,
            head,
            tail: Vec::new(),
            row: Box::new(move |row, _| {
                let props: serde_json::Value =
                    serde_json::from_str(row.get::<_, &str>(1)).unwrap_or_default();
                let mut record: Vec<Option<String>> = vec![row.get::<_, Option<String>>(2)];
                for n in &names {
                    record.push(match props.get(n) {
                        None | Some(serde_json::Value::Null) => None,
                        Some(serde_json::Value::String(s)) => Some(s.clone()),
                        Some(v) => Some(v.to_string()),
                    });
                }
                record.push(row.get::<_, Option<String>>(3));
                let coord = |v: Option<f64>| v.map(|v| format!("{v:.7}"));
                record.push(coord(row.get(4)));
                record.push(coord(row.get(5)));
                csv_record(record.iter().map(Option::as_deref))
            }),
        }
    })
}

/// One CSV line (RFC 4180, `\r\n`): a value is quoted when it holds a comma, a quote or a line
/// break, or is empty; NULL (`None`) is an empty, unquoted field.
fn csv_record<'a>(fields: impl Iterator<Item = Option<&'a str>>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let Some(value) = field else { continue };
        if value.is_empty() || value.contains([',', '"', '\n', '\r']) {
            out.push(b'"');
            out.extend_from_slice(value.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(value.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A response body streaming `w`'s rows; the query is cancelled when the client hangs up.
pub async fn body(client: PooledClient, w: Writer) -> Result<Body, DbError> {
    let rows = client
        .query_raw(&w.sql, std::iter::empty::<&str>())
        .await
        .map_err(DbError::query("exporting a collection"))?;
    Ok(stadtkarte_core::stream::rows_body(
        client,
        rows,
        Bytes::from(w.head),
        Bytes::from(w.tail),
        w.row,
    ))
}

/// Writes `w`'s rows into `target` (under a temporary name in the same folder, renamed when
/// complete); returns the file's size.
pub async fn write_file(
    client: &impl GenericClient,
    w: Writer,
    target: &Path,
) -> Result<u64, StreamedError> {
    let io = |e| StreamedError::Io(target.to_owned(), e);
    let dir = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut builder = tempfile::Builder::new();
    // Readable like the files GDAL writes, for a web server in front that serves the folder.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let (file, temp_path) = builder.tempfile_in(dir).map_err(io)?.into_parts();
    let mut out = tokio::io::BufWriter::with_capacity(
        stadtkarte_core::stream::CHUNK,
        tokio::fs::File::from_std(file),
    );
    let rows = client
        .query_raw(&w.sql, std::iter::empty::<&str>())
        .await
        .map_err(DbError::query("exporting a collection"))?;
    let mut rows = std::pin::pin!(rows);
    out.write_all(&w.head).await.map_err(io)?;
    let mut first = true;
    while let Some(row) = rows.next().await {
        let row = row.map_err(DbError::query("exporting a collection"))?;
        out.write_all(&(w.row)(&row, first)).await.map_err(io)?;
        first = false;
    }
    out.write_all(&w.tail).await.map_err(io)?;
    out.flush().await.map_err(io)?;
    let file = out.into_inner();
    file.sync_all().await.map_err(io)?;
    let size = file.metadata().await.map_err(io)?.len();
    drop(file);
    temp_path.persist(target).map_err(|e| io(e.error))?;
    // The new name is on the disk too (another node may read the folder over NFS).
    stadtkarte_core::files::sync_dir(dir).map_err(io)?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::csv_record;

    #[test]
    fn null_is_empty_and_the_empty_string_is_quoted() {
        let line = csv_record(
            [
                Some("a"),
                None,
                Some(""),
                Some("x, \"y\""),
                Some("2\nZeilen"),
            ]
            .into_iter(),
        );
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "a,,\"\",\"x, \"\"y\"\"\",\"2\nZeilen\"\r\n"
        );
    }
}
