//! The city map to take away: the preparer's PMTiles archive `/opendata/stadtkarte.pmtiles` of
//! the demo city, read by protomaps' own Python reader, its tiles the server's tiles, served by
//! byte ranges with CORS, in the DCAT catalog and CKAN, replaced when the data changes, and shown
//! by MapLibre in Chromium through the `pmtiles` protocol.

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;
use stadtkarte_core::AppState;
use stadtkarte_core::catalog;
use stadtkarte_opendata::archive;
use stadtkarte_opendata::cache::DownloadCache;
use stadtkarte_opendata::registry;
use stadtkarte_tests::{app_with, config_for, connect, demo_copy, get, mvt};
use stadtkarte_tiles::tms::WEB_MERCATOR_QUAD;

use crate::downloads::validate_dcat;

/// The centre of the demo city's old town, where the buildings are dense.
const CENTRE: (f64, f64) = (7.5975, 50.3605);

fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let (x, y) = stadtkarte_core::crs::mercator(lon, lat);
    let (c, r, _, _) = WEB_MERCATOR_QUAD.cover(z, [x, y, x, y]);
    (c, r)
}

struct Fixture {
    app: axum::Router,
    state: AppState,
    client: tokio_postgres::Client,
    cache: DownloadCache,
    _dir: tempfile::TempDir,
}

/// The demo city with its datasets and a download cache of its own; the preparer does not run
/// by itself (the tests call its archive step).
async fn fixture() -> Fixture {
    let url = demo_copy().await;
    let client = connect(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&url);
    config.opendata.cache_dir = dir.path().join("cache").display().to_string();
    config.opendata.prepare_downloads = false;
    registry::fill_demo(&client, &stadtkarte::dataset_defaults(&config))
        .await
        .unwrap();
    let cache = DownloadCache::new(&config);
    let (app, state) = app_with(config).await;
    Fixture {
        app,
        state,
        client,
        cache,
        _dir: dir,
    }
}

/// Runs the preparer's archive step; returns the archive's path.
async fn prepare(f: &Fixture) -> PathBuf {
    let all = catalog::list(&f.client).await.unwrap();
    let started = Instant::now();
    let made = archive::prepare(&f.state, stadtkarte::tile_archive, &all)
        .await
        .unwrap();
    assert!(made, "the archive was missing, so it is made");
    let path = archive::path(&f.cache, &archive::version(&all).unwrap());
    println!(
        "PMTiles archive of the demo city: {} bytes in {:.1} s",
        std::fs::metadata(&path).unwrap().len(),
        started.elapsed().as_secs_f64()
    );
    path
}

/// What protomaps' Python reader (`pmtiles` from `PyPI`) finds in the archive: header, metadata,
/// the zooms of all tiles, the largest tile (uncompressed bytes and address) and the stored bytes
/// of tile `z/x/y` (hex).
async fn read_with_python(path: &std::path::Path, (z, x, y): (u8, u32, u32)) -> Value {
    let script = r#"
import gzip, json, sys
from pmtiles.reader import Reader, MmapSource, all_tiles
path, z, x, y = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with open(path, "r+b") as f:
    source = MmapSource(f)
    reader = Reader(source)
    h = reader.header()
    zooms = {}
    largest = [0, None]
    for (tz, tx, ty), data in all_tiles(source):
        zooms[tz] = zooms.get(tz, 0) + 1
        size = len(gzip.decompress(data))
        if size > largest[0]:
            largest = [size, f"{tz}/{tx}/{ty}"]
    tile = reader.get(z, x, y)
    print(json.dumps({
        "header": {
            "min_zoom": h["min_zoom"], "max_zoom": h["max_zoom"],
            "bounds": [h["min_lon_e7"] / 1e7, h["min_lat_e7"] / 1e7, h["max_lon_e7"] / 1e7, h["max_lat_e7"] / 1e7],
            "tile_type": int(h["tile_type"].value), "tile_compression": int(h["tile_compression"].value),
            "clustered": h["clustered"], "addressed_tiles": h["addressed_tiles_count"],
        },
        "metadata": reader.metadata(),
        "zooms": {str(k): v for k, v in sorted(zooms.items())},
        "largest": largest,
        "tile": tile.hex() if tile else None,
    }))
"#;
    let out = tokio::process::Command::new(stadtkarte_tests::python())
        .arg("-c")
        .arg(script)
        .arg(path)
        .args([z.to_string(), x.to_string(), y.to_string()])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    assert_eq!(
        &bytes[..2],
        [0x1f, 0x8b],
        "tiles are stored gzip-compressed"
    );
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut raw)
        .unwrap();
    raw
}

/// (layer, feature count) of a decoded tile, by layer name.
fn summary(layers: &[mvt::MvtLayer]) -> Vec<(String, usize)> {
    let mut s: Vec<(String, usize)> = layers
        .iter()
        .map(|l| (l.name.clone(), l.features.len()))
        .collect();
    s.sort();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_city_map_is_a_pmtiles_archive_that_independent_readers_read() {
    let f = fixture().await;
    let app = &f.app;

    // Before the preparer made it: "being prepared", not rendered on the request.
    let early = get(app, "/opendata/stadtkarte.pmtiles", &[]).await;
    assert_eq!(early.status, 503, "{}", early.text());
    assert_eq!(early.header("retry-after"), "60");
    let list = get(app, "/opendata", &[]).await.text();
    assert!(
        list.contains("<a href=\"/opendata/stadtkarte.pmtiles\" download>"),
        "{list}"
    );

    let path = prepare(&f).await;
    let all = catalog::list(&f.client).await.unwrap();
    assert!(
        !archive::prepare(&f.state, stadtkarte::tile_archive, &all)
            .await
            .unwrap(),
        "an archive of the current version is not made again"
    );

    // (a) protomaps' reader: header, metadata, and a tile over the centre at zoom 14.
    let (x, y) = tile_of(CENTRE.0, CENTRE.1, 14);
    let read = read_with_python(&path, (14, x, y)).await;
    let header = &read["header"];
    assert_eq!(header["min_zoom"], 10, "{header}");
    assert_eq!(header["max_zoom"], 16, "{header}");
    assert_eq!(header["tile_type"], 1, "MVT: {header}");
    assert_eq!(header["tile_compression"], 2, "gzip: {header}");
    assert_eq!(header["clustered"], true, "{header}");
    let b: Vec<f64> = header["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        b[0] > 7.3
            && b[2] < 7.9
            && b[1] > 50.2
            && b[3] < 50.5
            && b[0] < CENTRE.0
            && CENTRE.0 < b[2],
        "bounds around Koblenz: {b:?}"
    );
    let zooms = read["zooms"].as_object().unwrap();
    println!("tiles per zoom: {zooms:?}");
    // Every tile within the byte budget the server warns above (uncompressed): a phone that
    // reads the archive never meets a tile the server itself calls too large.
    let budget = stadtkarte_core::config::TilesConfig::default().max_tile_bytes;
    println!("largest tile: {}", read["largest"]);
    assert!(
        read["largest"][0].as_u64().unwrap() <= budget as u64,
        "largest tile {} over the budget of {budget} bytes",
        read["largest"]
    );
    assert_eq!(
        zooms.keys().map(String::as_str).collect::<Vec<_>>(),
        ["10", "11", "12", "13", "14", "15", "16"],
        "tiles of every zoom 10–16 and no other: {zooms:?}"
    );
    let metadata = &read["metadata"];
    assert_eq!(metadata["name"], "Stadtkarte");
    assert!(
        !metadata["attribution"].as_str().unwrap().is_empty(),
        "{metadata}"
    );
    let layers = metadata["vector_layers"].as_array().unwrap();
    let gebaeude = layers
        .iter()
        .find(|l| l["id"] == "gebaeude")
        .unwrap_or_else(|| panic!("the buildings are a layer: {metadata}"));
    assert!(gebaeude["fields"]["funktion"].is_string(), "{gebaeude}");
    assert!(gebaeude["minzoom"].is_i64() && gebaeude["maxzoom"].is_i64());
    let tiled: Vec<String> = all
        .iter()
        .filter(|c| c.publish_tiles && c.extent_crs84.is_some())
        .map(|c| c.id.clone())
        .collect();
    let mut in_archive: Vec<String> = layers
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    in_archive.sort();
    let mut expected = tiled.clone();
    expected.sort();
    assert_eq!(in_archive, expected, "every tiled collection, nothing else");

    let stored = hex(read["tile"].as_str().expect("the centre's tile is there"));
    let decoded = mvt::decode(&gunzip(&stored));
    let buildings = decoded
        .iter()
        .find(|l| l.name == "gebaeude")
        .expect("the z14 tile has the building layer");
    assert!(
        buildings.features.len() > 10,
        "{}",
        buildings.features.len()
    );
    assert!(
        buildings.features[0].properties.contains_key("funktion"),
        "with the attributes"
    );
    // The same tile as the server's multi-layer tile of those collections.
    let ids: Vec<&str> = layers.iter().map(|l| l["id"].as_str().unwrap()).collect();
    let served = get(app, &format!("/tiles/{}/14/{x}/{y}", ids.join(",")), &[]).await;
    assert_eq!(served.status, 200);
    assert_eq!(summary(&decoded), summary(&mvt::decode(&served.body)));

    // (b) the download: whole, by byte range (how the pmtiles protocol reads it), with CORS.
    let size = std::fs::metadata(&path).unwrap().len();
    let whole = get(app, "/opendata/stadtkarte.pmtiles", &[]).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-type"), "application/vnd.pmtiles");
    assert_eq!(whole.header("content-length"), size.to_string());
    assert_eq!(whole.header("accept-ranges"), "bytes");
    assert!(
        whole
            .header("content-disposition")
            .contains("stadtkarte-20")
    );
    assert_eq!(whole.body.len() as u64, size);
    let etag = whole.header("etag").to_owned();
    let head = get(
        app,
        "/opendata/stadtkarte.pmtiles",
        &[
            ("range", "bytes=0-126"),
            ("origin", "https://hackathon.example"),
        ],
    )
    .await;
    assert_eq!(head.status, 206);
    assert_eq!(head.header("content-range"), format!("bytes 0-126/{size}"));
    assert_eq!(head.header("access-control-allow-origin"), "*");
    assert_eq!(head.body.len(), 127);
    assert_eq!(&head.body[..8], b"PMTiles\x03");
    assert_eq!(head.body[..], whole.body[..127]);
    let tail = get(
        app,
        "/opendata/stadtkarte.pmtiles",
        &[("range", &format!("bytes={}-", size - 10))],
    )
    .await;
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body[..], whole.body[whole.body.len() - 10..]);
    assert_eq!(
        get(
            app,
            "/opendata/stadtkarte.pmtiles",
            &[("range", &format!("bytes={size}-"))]
        )
        .await
        .status,
        416
    );
    assert_eq!(
        get(
            app,
            "/opendata/stadtkarte.pmtiles",
            &[("if-none-match", &etag)]
        )
        .await
        .status,
        304
    );

    // (d) in the catalogs: a distribution of the datasets whose collections it holds.
    let turtle = get(app, "/opendata/catalog.ttl", &[]).await.text();
    let dist = "/opendata/gebaeude/distribution/stadtkarte-pmtiles>";
    let lines: Vec<&str> = turtle.lines().filter(|l| l.contains(dist)).collect();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(
        has("<http://www.w3.org/ns/dcat#downloadURL> <http://"),
        "{lines:#?}"
    );
    assert!(has("/opendata/stadtkarte.pmtiles>"), "{lines:#?}");
    assert!(
        has("<https://www.iana.org/assignments/media-types/application/vnd.pmtiles>"),
        "{lines:#?}"
    );
    assert!(has(&format!("dcat#byteSize> \"{size}\"")), "{lines:#?}");
    for (profile, query) in [("2.0", ""), ("3.0", "?profile=3.0")] {
        let r = get(app, &format!("/opendata/catalog.ttl{query}"), &[]).await;
        let result = validate_dcat(&r.body, profile).await;
        assert_eq!(result["violations"], 0, "DCAT-AP.de {profile}: {result}");
    }
    let package = get(app, "/api/3/action/package_show?id=gebaeude", &[])
        .await
        .json();
    let resource = package["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["url"]
                .as_str()
                .unwrap()
                .ends_with("/opendata/stadtkarte.pmtiles")
        })
        .unwrap_or_else(|| panic!("a CKAN resource: {package}"))
        .clone();
    assert_eq!(resource["format"], "PMTiles");
    assert_eq!(resource["mimetype"], "application/vnd.pmtiles");
    assert_eq!(resource["size"], size);
    let page = get(app, "/opendata/gebaeude", &[]).await.text();
    assert!(
        page.contains("<a href=\"/opendata/stadtkarte.pmtiles\" download>"),
        "{page}"
    );

    // The buildings change: a new version, "being prepared" until it is made, the old removed.
    f.client
        .execute(
            "UPDATE data.gebaeude SET funktion = funktion WHERE id = (SELECT min(id) FROM data.gebaeude)",
            &[],
        )
        .await
        .unwrap();
    catalog::refresh_statistics(&f.client, "gebaeude")
        .await
        .unwrap();
    let now = catalog::list(&f.client).await.unwrap();
    assert_ne!(archive::version(&now), archive::version(&all));
    assert_eq!(
        get(app, "/opendata/stadtkarte.pmtiles", &[]).await.status,
        503
    );
    let new_path = prepare(&f).await;
    assert_ne!(new_path, path);
    let removed = f
        .cache
        .remove_stale(&now, None, archive::version(&now).as_deref())
        .unwrap();
    assert!(removed.contains(&path), "{removed:?}");
    assert!(new_path.is_file());
    assert_eq!(
        get(app, "/opendata/stadtkarte.pmtiles", &[]).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maplibre_shows_the_buildings_from_the_archive_through_the_pmtiles_protocol() {
    let f = fixture().await;
    prepare(&f).await;
    let port = stadtkarte_tests::serve(f.app.clone()).await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/pmtiles.mjs");
    assert!(
        script
            .with_file_name("node_modules")
            .join("pmtiles")
            .is_dir(),
        "tests/browser/node_modules/pmtiles is missing: scripts/env.sh (make test) runs npm ci there"
    );
    let archive_url = format!("http://127.0.0.1:{port}/opendata/stadtkarte.pmtiles");
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .args([
            archive_url.as_str(),
            "gebaeude",
            &CENTRE.0.to_string(),
            &CENTRE.1.to_string(),
            "15.5",
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    println!("{result}");
    assert_eq!(result["errors"], serde_json::json!([]), "{result}");
    assert!(
        result["features"].as_u64().unwrap() > 10,
        "rendered buildings: {result}"
    );
    assert!(result["properties"]["funktion"].is_string(), "{result}");
    assert!(
        result["coloured"].as_u64().unwrap() > 5_000,
        "the canvas shows buildings: {result}"
    );
    // Read by byte ranges from another origin (the page's server is not ours).
    let ranges = result["ranges"].as_array().unwrap();
    assert!(
        !ranges.is_empty()
            && ranges
                .iter()
                .all(|r| r.as_str().is_some_and(|r| r.starts_with("bytes="))),
        "{result}"
    );
}
