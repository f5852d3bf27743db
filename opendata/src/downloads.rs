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
use stadtkarte_core::load::Work;
use stadtkarte_core::schema::{self, CollectionSchema};
use stadtkarte_core::{AppState, Problem};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

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
    let client = state.read_db().await?;
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
    let file = File {
        path: &path,
        media: format.media,
        etag: &etag,
        name: &filename,
        dataset: &dataset_id,
    };
    if let Some(gdal) = export::file_format(ext) {
        drop(client);
        if path.is_file() {
            return send_file(&file, &headers).await;
        }
        let _slot = state.load.admit(Work::Download).await?;
        export::file(&state, &path, &schema, gdal, Priority::Request)
            .await
            .map_err(Problem::internal)?;
        return send_file(&file, &headers).await;
    }
    if let Some(response) = cached(&file, &headers).await? {
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
///
/// Files behave like files: `Accept-Ranges: bytes`, and a `Range` of one byte range is a `206`
/// with `Content-Range` (how GDAL's `/vsicurl/` reads a COG's header and tiles, and how a
/// browser resumes a download), unless an `If-Range` names another version, which gets the
/// whole current file. Several ranges at once get the whole file too (a `200`, as RFC 9110
/// allows); a range beyond the end is a `416` naming the size.
async fn cached(file: &File<'_>, request: &HeaderMap) -> Result<Option<Response>, Problem> {
    let File {
        path,
        media,
        etag,
        name: filename,
        dataset,
    } = *file;
    let mut opened = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Problem::internal(e)),
    };
    let size = opened.metadata().await.map_err(Problem::internal)?.len();
    let Ok(range) = byte_range(request, etag, size) else {
        return Ok(Some(unsatisfiable(request, size)));
    };
    let (status, start, length) = match &range {
        Some(r) => (
            StatusCode::PARTIAL_CONTENT,
            *r.start(),
            r.end() - r.start() + 1,
        ),
        None => (StatusCode::OK, 0, size),
    };
    if start > 0 {
        opened
            .seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(Problem::internal)?;
    }
    let body = axum::body::Body::from_stream(futures_util::stream::unfold(
        opened.take(length),
        |mut file| async move {
            let mut buffer = vec![0u8; stadtkarte_core::stream::CHUNK];
            match file.read(&mut buffer).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    buffer.truncate(n);
                    Some((Ok::<_, std::convert::Infallible>(Bytes::from(buffer)), file))
                }
            }
        },
    ));
    let mut response = Response::new(body);
    *response.status_mut() = status;
    headers_for(&mut response, media, etag, filename);
    let h = response.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Some(r) = &range {
        let dataset = dataset.to_owned();
        metrics::counter!("stadtkarte_download_range_requests_total", "dataset" => dataset.clone())
            .increment(1);
        metrics::counter!("stadtkarte_download_range_bytes_total", "dataset" => dataset)
            .increment(length);
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start(), r.end())) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(Some(response))
}

/// The one byte range a request asks for (`None`: the whole file); `Err` when it lies outside.
fn byte_range(
    request: &HeaderMap,
    etag: &str,
    size: u64,
) -> Result<Option<std::ops::RangeInclusive<u64>>, ()> {
    let Some(wanted) = request.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    // If-Range: the range only for the version it names (a strong comparison; a date or
    // another tag gets the whole file).
    if let Some(condition) = request.get(header::IF_RANGE)
        && condition.as_bytes() != etag.as_bytes()
    {
        return Ok(None);
    }
    // Syntax the parser does not know (another unit, …) is ignored, as RFC 9110 asks.
    let Ok(parsed) = http_range_header::parse_range_header(wanted) else {
        return Ok(None);
    };
    match parsed.validate(size) {
        Ok(ranges) if ranges.len() == 1 => Ok(ranges.into_iter().next()),
        Ok(_) => Ok(None),
        Err(_) => Err(()),
    }
}

/// The `416` for a range outside a file of `size` bytes.
fn unsatisfiable(request: &HeaderMap, size: u64) -> Response {
    let wanted = request
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut response = Problem::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "Bereich nicht lieferbar / range not satisfiable",
        format!("The file has {size} bytes; the range {wanted:?} lies outside it."),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
        response.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    response
}

/// A file to send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct File<'a> {
    /// Where it is.
    pub path: &'a std::path::Path,
    /// Its media type.
    pub media: &'static str,
    /// Its version.
    pub etag: &'a str,
    /// The name it is saved under.
    pub name: &'a str,
    /// The dataset it belongs to (`alle` for the bulk ZIPs), for the metrics.
    pub dataset: &'a str,
}

/// Streams a file with its length, `ETag` and file name (a byte range of it when asked).
pub(crate) async fn send_file(file: &File<'_>, request: &HeaderMap) -> Result<Response, Problem> {
    cached(file, request).await?.ok_or_else(|| {
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
    let client = state.read_db().await?;
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
        make_bulk(state, &schemas, *format, &target, Priority::Request)
            .await
            .map_err(Problem::internal)?;
    }
    send_file(
        &File {
            path: &target,
            media: "application/zip",
            etag: &etag,
            name: &format!("stadtkarte-alle-datensaetze-{wanted}.zip"),
            dataset: "alle",
        },
        headers,
    )
    .await
}

/// Makes the bulk ZIP of `parts` in `format` at `target` (each collection's file first, where
/// it is missing): by a request or by the preparer ([`crate::prepare`]).
pub(crate) async fn make_bulk(
    state: &AppState,
    schemas: &[(Dataset, CollectionSchema)],
    format: export::FileFormat,
    target: &std::path::Path,
    priority: Priority,
) -> Result<(), String> {
    let cache = DownloadCache::new(&state.config);
    let mut parts = Vec::new();
    let mut readme = String::from(
        "Offene Daten der Stadt – alle Datensätze\n\nBitte nennen Sie bei jeder Nutzung die Quelle wie angegeben.\n\n",
    );
    for (d, s) in schemas {
        let path = cache.file(&s.collection, format.ext);
        export::file(state, &path, s, format, priority)
            .await
            .map_err(|e| e.to_string())?;
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
    let target = target.to_owned();
    tokio::task::spawn_blocking(move || write_zip(&target, &parts, &readme))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
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
    stadtkarte_core::files::persist(tmp, target)
}
