//! Downloads of a dataset's collections: `/opendata/{dataset}/{collection}.geojson` (RFC 7946,
//! WGS 84) and `.csv` (UTF-8 with BOM for spreadsheets, WKT geometry, lat/lon for points),
//! streamed with bounded memory; `.gpkg`, `.shp.zip`, `.fgb`, `.kml` as files made by GDAL once
//! per data version ([`crate::export`]). Every download has an `ETag` of the data version and a
//! meaningful file name.
//!
//! `/opendata/alle.{gpkg|shp|fgb|kml}.zip` bundles every dataset ([`bulk`]).
//!
//! To come: imagery files, sizes shown before download.

use std::fmt::Write as _;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use stadtkarte_core::catalog::quote_ident;
use stadtkarte_core::db::DbError;
use stadtkarte_core::schema::{self, PropType};
use stadtkarte_core::{AppState, Problem};

use crate::{export, registry};

/// Formats offered now, by file extension.
pub const FORMATS: &[(&str, &str)] = &[
    ("geojson", "application/geo+json"),
    ("csv", "text/csv; charset=utf-8"),
];

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/opendata/{dataset}/{file}", get(download))
        .with_state(state)
}

async fn download(
    State(state): State<AppState>,
    Path((dataset_id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let (collection_id, ext) = file.split_once('.').ok_or_else(|| {
        Problem::not_found(format!("{file:?} is not a download (collection.format)"))
    })?;
    let client = state.pool.get().await.map_err(DbError::from)?;
    let dataset = registry::get(&**client, &dataset_id)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found(format!("There is no dataset {dataset_id:?}.")))?;
    if !dataset.collections.iter().any(|c| c == collection_id) {
        return Err(Problem::not_found(format!(
            "Dataset {dataset_id:?} has no collection {collection_id:?}; it has {}.",
            dataset.collections.join(", ")
        )));
    }
    let schema_client = &**client;
    if let Some(format) = export::FILE_FORMATS
        .iter()
        .find(|f| file.ends_with(&format!(".{}", f.ext)))
    {
        let collection_id = file.trim_end_matches(&format!(".{}", format.ext));
        let schema = schema::load(schema_client, collection_id)
            .await?
            .ok_or_else(|| {
                Problem::not_found(format!("There is no collection {collection_id:?}."))
            })?;
        drop(client);
        return serve_file(&state, &dataset_id, &schema, *format, &headers).await;
    }
    let Some((_, media)) = FORMATS.iter().find(|(e, _)| *e == ext) else {
        let list: Vec<&str> = FORMATS
            .iter()
            .map(|(e, _)| *e)
            .chain(export::FILE_FORMATS.iter().map(|f| f.ext))
            .collect();
        return Err(Problem::new(
            StatusCode::NOT_ACCEPTABLE,
            "Format nicht verfügbar / format not available",
            format!("{ext:?} is not offered; available: {}", list.join(", ")),
        ));
    };
    let schema = schema::load(&**client, collection_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("There is no collection {collection_id:?}.")))?;
    let c = &schema.collection;
    let etag = format!(
        "\"{}-{}-{ext}\"",
        c.updated_at.replace([':', '.', '+'], ""),
        schema.properties.len()
    );
    if stadtkarte_core::http::not_modified(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
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
    let rows = client
        .query_raw(&sql, std::iter::empty::<&str>())
        .await
        .map_err(DbError::query("exporting a collection"))?;
    let body = if ext == "geojson" {
        let head = format!(
            "{{\"type\":\"FeatureCollection\",\"name\":{},\"features\":[",
            serde_json::to_string(&c.id).unwrap_or_default()
        );
        stadtkarte_core::stream::rows_body(
            client,
            rows,
            Bytes::from(head),
            Bytes::from_static(b"]}\n"),
            |row, first| {
                let text: &str = row.get(0);
                let mut out = Vec::with_capacity(text.len() + 2);
                if !first {
                    out.extend_from_slice(b",\n");
                }
                out.extend_from_slice(text.as_bytes());
                out
            },
        )
    } else {
        let mut head = vec![0xEF, 0xBB, 0xBF];
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut columns = vec!["id".to_owned()];
        columns.extend(names.iter().cloned());
        columns.extend(["wkt".to_owned(), "lat".to_owned(), "lon".to_owned()]);
        let _ = w.write_record(&columns);
        head.extend(w.into_inner().unwrap_or_default());
        stadtkarte_core::stream::rows_body(
            client,
            rows,
            Bytes::from(head),
            Bytes::new(),
            move |row, _| {
                let props: serde_json::Value =
                    serde_json::from_str(row.get::<_, &str>(1)).unwrap_or_default();
                let mut record = vec![row.get::<_, Option<String>>(2).unwrap_or_default()];
                for n in &names {
                    record.push(match props.get(n) {
                        None | Some(serde_json::Value::Null) => String::new(),
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(v) => v.to_string(),
                    });
                }
                record.push(row.get::<_, Option<String>>(3).unwrap_or_default());
                let coord = |v: Option<f64>| v.map(|v| format!("{v:.7}")).unwrap_or_default();
                record.push(coord(row.get(4)));
                record.push(coord(row.get(5)));
                let mut w = csv::Writer::from_writer(Vec::new());
                let _ = w.write_record(&record);
                w.into_inner().unwrap_or_default()
            },
        )
    };
    let date = c.updated_at.get(..10).unwrap_or_default();
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{dataset_id}-{collection_id}-{date}.{ext}\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

async fn serve_file(
    state: &AppState,
    dataset_id: &str,
    schema: &stadtkarte_core::schema::CollectionSchema,
    format: export::FileFormat,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    let c = &schema.collection;
    let etag = format!(
        "\"{}-{}\"",
        c.updated_at.replace([':', '.', '+'], ""),
        format.ext
    );
    if stadtkarte_core::http::not_modified(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let cache = cache_dir(state);
    let path = export::file(&state.config.database.url, &cache, schema, format)
        .await
        .map_err(Problem::internal)?;
    let date = c.updated_at.get(..10).unwrap_or_default();
    send_file(
        &path,
        format.media,
        &etag,
        &format!("{dataset_id}-{}-{date}.{}", c.id, format.ext),
    )
    .await
}

/// The download cache folder.
fn cache_dir(state: &AppState) -> std::path::PathBuf {
    if state.config.opendata.cache_dir.is_empty() {
        std::env::temp_dir().join("stadtkarte-downloads")
    } else {
        std::path::PathBuf::from(&state.config.opendata.cache_dir)
    }
}

/// Streams a file from the cache with its length, ETag and file name.
async fn send_file(
    path: &std::path::Path,
    media: &'static str,
    etag: &str,
    filename: &str,
) -> Result<Response, Problem> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(Problem::internal)?;
    let size = file.metadata().await.map_err(Problem::internal)?.len();
    let body =
        axum::body::Body::from_stream(futures_util::stream::unfold(file, |mut file| async move {
            use tokio::io::AsyncReadExt as _;
            let mut buffer = vec![0u8; 64 * 1024];
            match file.read(&mut buffer).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    buffer.truncate(n);
                    Some((Ok::<_, std::convert::Infallible>(Bytes::from(buffer)), file))
                }
            }
        }));
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

/// `/opendata/alle.{gpkg|shp|fgb|kml}.zip`: every collection of every dataset in one ZIP
/// (`{dataset}/{collection}.{ext}`) with a LIESMICH.txt naming each dataset's licence and the
/// attribution to give. Made once per combination of data versions.
pub async fn bulk(state: &AppState, name: &str, headers: &HeaderMap) -> Result<Response, Problem> {
    let wanted = name
        .strip_prefix("alle.")
        .and_then(|r| r.strip_suffix(".zip"))
        .unwrap_or_default();
    let Some(format) = export::FILE_FORMATS
        .iter()
        .find(|f| f.ext.trim_end_matches(".zip") == wanted)
    else {
        return Err(Problem::not_found(format!(
            "{name:?} is not a bulk download; available: alle.gpkg.zip, alle.shp.zip, alle.fgb.zip, alle.kml.zip"
        )));
    };
    let client = state.pool.get().await.map_err(DbError::from)?;
    let datasets = registry::list(&**client).await.map_err(Problem::internal)?;
    let mut schemas = Vec::new();
    for d in &datasets {
        for c in &d.collections {
            if let Some(s) = schema::load(&**client, c).await? {
                schemas.push((d.clone(), s));
            }
        }
    }
    drop(client);
    let mut hasher = std::hash::DefaultHasher::new();
    for (d, s) in &schemas {
        std::hash::Hash::hash(
            &(
                &d.id,
                &d.modified,
                &s.collection.id,
                &s.collection.updated_at,
            ),
            &mut hasher,
        );
    }
    let version = format!("{:016x}", std::hash::Hasher::finish(&hasher));
    let etag = format!("\"alle-{version}-{wanted}\"");
    if stadtkarte_core::http::not_modified(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let cache = cache_dir(state);
    let target = cache.join(format!("alle-{version}.{wanted}.zip"));
    if !target.is_file() {
        let mut parts = Vec::new();
        let mut readme = String::from(
            "Offene Daten der Stadt – alle Datensätze\n\nBitte nennen Sie bei jeder Nutzung die Quelle wie angegeben.\n\n",
        );
        for (d, s) in &schemas {
            let path = export::file(&state.config.database.url, &cache, s, *format)
                .await
                .map_err(Problem::internal)?;
            parts.push((format!("{}/{}.{}", d.id, s.collection.id, format.ext), path));
            let _ = write!(
                readme,
                "{}/{}.{}: {}\n  Lizenz: {} ({})\n  Quellenangabe: {}\n\n",
                d.id,
                s.collection.id,
                format.ext,
                d.title,
                registry::license_name(&d.license),
                d.license,
                d.attribution
            );
        }
        let target_for_task = target.clone();
        tokio::task::spawn_blocking(move || write_zip(&target_for_task, &parts, &readme))
            .await
            .map_err(Problem::internal)?
            .map_err(Problem::internal)?;
    }
    send_file(
        &target,
        "application/zip",
        &etag,
        &format!("stadtkarte-alle-datensaetze-{wanted}.zip"),
    )
    .await
}

/// Writes the bulk ZIP under a temporary name and renames it, so no reader sees half a file.
fn write_zip(
    target: &std::path::Path,
    parts: &[(String, std::path::PathBuf)],
    readme: &str,
) -> Result<(), std::io::Error> {
    use std::io::Write as _;
    let dir = target.parent().unwrap_or(std::path::Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut zip = zip::ZipWriter::new(tmp.reopen()?);
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("LIESMICH.txt", options)
        .map_err(std::io::Error::other)?;
    zip.write_all(readme.as_bytes())?;
    for (name, path) in parts {
        zip.start_file(name.as_str(), options)
            .map_err(std::io::Error::other)?;
        std::io::copy(&mut std::fs::File::open(path)?, &mut zip)?;
    }
    zip.finish().map_err(std::io::Error::other)?;
    tmp.persist(target).map_err(|e| e.error)?;
    Ok(())
}
