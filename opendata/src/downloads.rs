//! Downloads of a dataset: `/opendata/{dataset}/{collection}.{ext}` in every vector format of
//! [`crate::formats`], and `/opendata/{dataset}/{epoch}.tif` for its imagery
//! ([`crate::imagery`]). Every download has an `ETag` of the data version and a meaningful file
//! name.
//!
//! A prepared file of the current data version ([`crate::cache`], filled by
//! [`crate::prepare`]) is served with its `Content-Length`. Otherwise GeoJSON and CSV are
//! streamed from the database with bounded memory ([`crate::streamed`]), and the GDAL formats
//! are made on the spot ([`crate::export`]).
//!
//! `/opendata/alle.{gpkg|shp|fgb|kml}.zip` bundles every dataset ([`bulk`]).

use std::fmt::Write as _;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use stadtkarte_core::db::DbError;
use stadtkarte_core::load::Work;
use stadtkarte_core::schema::{self, CollectionSchema};
use stadtkarte_core::{AppState, Problem};

use crate::cache::{self, DownloadCache};
use crate::export::{self, Priority};
use crate::formats;
use crate::registry::{self, Dataset};
use crate::streamed;

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/opendata/{dataset}/{file}", get(download))
        .with_state(state)
}

/// 304 with the tag.
pub(crate) fn not_modified(etag: &str) -> Response {
    (StatusCode::NOT_MODIFIED, [(header::ETAG, etag.to_owned())]).into_response()
}

async fn download(
    State(state): State<AppState>,
    Path((dataset_id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let dataset = registry::get(&**client, &dataset_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("There is no dataset {dataset_id:?}.")))?;
    if let Some(stem) = file.strip_suffix(".tif") {
        drop(client);
        return crate::imagery::download(&state, &dataset, stem, &headers).await;
    }
    let (collection_id, ext) = file.split_once('.').ok_or_else(|| {
        Problem::not_found(format!("{file:?} is not a download (collection.format)"))
    })?;
    if dataset.imagery.iter().any(|e| e == collection_id) {
        return Err(Problem::new(
            StatusCode::NOT_ACCEPTABLE,
            "Format nicht verfügbar / format not available",
            format!("{ext:?} is not offered for imagery; available: tif"),
        ));
    }
    if !dataset.collections.iter().any(|c| c == collection_id) {
        return Err(Problem::not_found(format!(
            "Dataset {dataset_id:?} has no collection {collection_id:?}; it has {}.",
            dataset.collections.join(", ")
        )));
    }
    let Some(format) = formats::VECTOR.iter().find(|f| f.ext == ext) else {
        let list: Vec<&str> = formats::VECTOR.iter().map(|f| f.ext).collect();
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
    let etag = format!("\"{}-{ext}\"", cache::version(c));
    if stadtkarte_core::http::not_modified(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let date = c.updated_at.get(..10).unwrap_or_default();
    let filename = format!("{dataset_id}-{collection_id}-{date}.{ext}");
    let cache = DownloadCache::new(&state.config);
    let path = cache.file(c, ext);
    if let Some(gdal) = export::file_format(ext) {
        drop(client);
        if path.is_file() {
            return send_file(&path, format.media, &etag, &filename).await;
        }
        let _slot = state.load.admit(Work::Download).await?;
        export::file(
            &state.config.database.url,
            &path,
            &schema,
            gdal,
            Priority::Request,
        )
        .await
        .map_err(Problem::internal)?;
        return send_file(&path, format.media, &etag, &filename).await;
    }
    if let Some(response) = cached(&path, format.media, &etag, &filename).await? {
        return Ok(response);
    }
    // Not prepared (yet): streamed as it is read (the slot bounds the starts).
    let _slot = state.load.admit(Work::Download).await?;
    let writer = streamed::writer(&schema, ext)
        .ok_or_else(|| Problem::internal(format!("no writer for {ext}")))?;
    let body = streamed::body(client, writer).await?;
    let mut response = Response::new(body);
    headers_for(&mut response, format.media, &etag, &filename);
    Ok(response)
}

fn headers_for(response: &mut Response, media: &'static str, etag: &str, filename: &str) {
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
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
}

/// The response for a file of the cache, `None` when it is not there.
async fn cached(
    path: &std::path::Path,
    media: &'static str,
    etag: &str,
    filename: &str,
) -> Result<Option<Response>, Problem> {
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Problem::internal(e)),
    };
    let size = file.metadata().await.map_err(Problem::internal)?.len();
    let body =
        axum::body::Body::from_stream(futures_util::stream::unfold(file, |mut file| async move {
            use tokio::io::AsyncReadExt as _;
            let mut buffer = vec![0u8; stadtkarte_core::stream::CHUNK];
            match file.read(&mut buffer).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    buffer.truncate(n);
                    Some((Ok::<_, std::convert::Infallible>(Bytes::from(buffer)), file))
                }
            }
        }));
    let mut response = Response::new(body);
    headers_for(&mut response, media, etag, filename);
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(Some(response))
}

/// Streams a file with its length, `ETag` and file name.
pub(crate) async fn send_file(
    path: &std::path::Path,
    media: &'static str,
    etag: &str,
    filename: &str,
) -> Result<Response, Problem> {
    cached(path, media, etag, filename).await?.ok_or_else(|| {
        // The preparer deleted the file of a version that changed during the request.
        Problem::unavailable("The data changed just now; please try again.")
    })
}

/// The version of the bulk ZIPs: changes when any dataset or any of its collections does.
pub(crate) fn bulk_version(parts: &[(Dataset, CollectionSchema)]) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    for (d, s) in parts {
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
    format!("{:016x}", std::hash::Hasher::finish(&hasher))
}

/// Every dataset with the schema of each of its collections.
pub(crate) async fn bulk_parts(
    client: &impl stadtkarte_core::tokio_postgres::GenericClient,
) -> Result<Vec<(Dataset, CollectionSchema)>, registry::RegistryError> {
    let datasets = registry::list(client).await?;
    let mut parts = Vec::new();
    for d in &datasets {
        for c in &d.collections {
            if let Some(s) = schema::load(client, c).await? {
                parts.push((d.clone(), s));
            }
        }
    }
    Ok(parts)
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
    let schemas = bulk_parts(&**client).await?;
    drop(client);
    let version = bulk_version(&schemas);
    let etag = format!("\"alle-{version}-{wanted}\"");
    if stadtkarte_core::http::not_modified(headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let cache = DownloadCache::new(&state.config);
    let target = cache.bulk_file(&version, wanted);
    if !target.is_file() {
        let mut parts = Vec::new();
        let mut readme = String::from(
            "Offene Daten der Stadt – alle Datensätze\n\nBitte nennen Sie bei jeder Nutzung die Quelle wie angegeben.\n\n",
        );
        for (d, s) in &schemas {
            let path = cache.file(&s.collection, format.ext);
            export::file(
                &state.config.database.url,
                &path,
                s,
                *format,
                Priority::Request,
            )
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
    std::fs::create_dir_all(dir)?;
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
