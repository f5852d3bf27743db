//! Vector tiles: metadata, correct tiles from EPSG:25832 data (edges, low zooms), status codes,
//! cache, live eviction, filters, and GDAL reading them.

use std::io::Read as _;

use serde_json::Value;
use stadtkarte_core::catalog::{self, NewCollection};
use stadtkarte_tests::mvt::{self, MvtValue};
use stadtkarte_tests::{
    TestResponse, app_with, config_for, connect, demo_app, demo_database, fresh_database, get,
};
use stadtkarte_tiles::tms::{ADV_UTM32, WEB_MERCATOR_QUAD};

/// Web Mercator tile (column, row) of a position.
fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let (x, y) = stadtkarte_core::crs::mercator(lon, lat);
    let (c, r, _, _) = WEB_MERCATOR_QUAD.cover(z, [x, y, x, y]);
    (c, r)
}

/// Tiles rendered for a layer list (labels keep concurrent tests apart).
async fn rendered(app: &axum::Router, layers: &str) -> f64 {
    let label = format!("layers=\"{layers}\"");
    get(app, "/metrics", &[])
        .await
        .text()
        .lines()
        .filter(|l| l.starts_with("tiles_rendered_total") && l.contains(&label))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

fn layer<'a>(layers: &'a [mvt::MvtLayer], name: &str) -> Option<&'a mvt::MvtLayer> {
    layers.iter().find(|l| l.name == name)
}

#[tokio::test]
async fn metadata_tilejson_and_conformance() {
    let (app, _) = demo_app(|_| {}).await;
    let sets = get(&app, "/tileMatrixSets", &[]).await.json();
    let ids: Vec<&str> = sets["tileMatrixSets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["WebMercatorQuad", "AdV_EPSG_25832"]);
    let wmq = get(&app, "/tileMatrixSets/WebMercatorQuad", &[])
        .await
        .json();
    assert_eq!(wmq["tileMatrices"][0]["matrixWidth"], 1);
    assert_eq!(wmq["tileMatrices"][14]["matrixWidth"], 16384);
    assert_eq!(
        get(&app, "/tileMatrixSets/Unbekannt", &[]).await.status,
        404
    );

    let list = get(&app, "/collections/gebaeude/tiles", &[]).await.json();
    assert_eq!(list["tilesets"].as_array().unwrap().len(), 2);
    let ts = get(&app, "/collections/gebaeude/tiles/WebMercatorQuad", &[])
        .await
        .json();
    assert_eq!(ts["dataType"], "vector");
    let item = ts["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "item")
        .unwrap();
    assert_eq!(item["type"], "application/vnd.mapbox-vector-tile");
    assert!(
        item["href"].as_str().unwrap().ends_with(
            "/collections/gebaeude/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}"
        )
    );
    let limits = ts["tileMatrixSetLimits"].as_array().unwrap();
    assert_eq!(
        limits[0]["tileMatrix"], "14",
        "from the buildings' min zoom"
    );
    let (c, r) = tile_of(7.5975, 50.3605, 14);
    let z14 = limits.iter().find(|l| l["tileMatrix"] == "14").unwrap();
    assert!(
        z14["minTileCol"].as_u64().unwrap() <= u64::from(c)
            && u64::from(c) <= z14["maxTileCol"].as_u64().unwrap()
    );
    assert!(
        z14["minTileRow"].as_u64().unwrap() <= u64::from(r)
            && u64::from(r) <= z14["maxTileRow"].as_u64().unwrap()
    );

    let tj = get(&app, "/tiles/gebaeude,strassen", &[]).await.json();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert!(
        tj["tiles"][0]
            .as_str()
            .unwrap()
            .ends_with("/tiles/gebaeude,strassen/{z}/{x}/{y}")
    );
    assert_eq!(
        (tj["minzoom"].as_i64(), tj["maxzoom"].as_i64()),
        (Some(11), Some(22))
    );
    assert_eq!(tj["vector_layers"][0]["fields"]["geschosse"], "Number");
    assert_eq!(
        get(&app, "/tiles/gebaeude.json", &[]).await.json()["tilejson"],
        "3.0.0"
    );
    assert_eq!(get(&app, "/tiles/gibtsnicht", &[]).await.status, 404);

    let conformance = get(&app, "/conformance", &[]).await.json();
    let classes = conformance["conformsTo"].as_array().unwrap();
    assert!(
        classes
            .iter()
            .any(|c| c.as_str().unwrap().ends_with("ogcapi-tiles-1/1.0/conf/mvt"))
    );
    let collection = get(&app, "/collections/gebaeude", &[]).await.json();
    assert!(
        collection["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector")
    );
}

#[tokio::test]
async fn demo_tiles_decode_with_ids_and_attributes_and_gdal_reads_them() {
    let (app, _) = demo_app(|_| {}).await;
    let (x, y) = tile_of(7.5975, 50.3605, 15);
    let r = get(
        &app,
        &format!("/tiles/gebaeude,strassen,poi/15/{x}/{y}"),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        "application/vnd.mapbox-vector-tile"
    );
    let layers = mvt::decode(&r.body);
    let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["gebaeude", "strassen", "poi"]);
    let buildings = layer(&layers, "gebaeude").unwrap();
    assert!(buildings.features.len() > 20);
    let client = connect(demo_database()).await;
    for f in buildings.features.iter().take(10) {
        let id = i64::try_from(f.id.expect("feature ids are kept")).unwrap();
        let row = client
            .query_one(
                "SELECT funktion, geschosse FROM data.gebaeude WHERE id = $1",
                &[&id],
            )
            .await
            .unwrap();
        assert_eq!(f.properties["funktion"], MvtValue::Text(row.get(0)));
        assert_eq!(
            f.properties["geschosse"],
            MvtValue::Int(i64::from(row.get::<_, i16>(1)))
        );
        assert_eq!(f.geometry_type, 3);
    }
    // GDAL's MVT driver reads the same tile.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("15/{x}"));
    std::fs::create_dir_all(&path).unwrap();
    let file = path.join(format!("{y}.pbf"));
    std::fs::write(&file, &r.body).unwrap();
    let out = tokio::process::Command::new("ogrinfo")
        .args([
            "-ro",
            "-al",
            "-geom=NO",
            "-oo",
            "CLIP=NO",
            &format!("MVT:{}", file.display()),
            "gebaeude",
        ])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("OGRFeature(gebaeude)"))
            .count(),
        buildings.features.len(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("funktion (String) ="));

    // The AdV grid in EPSG:25832 gives tiles of the same data without any reprojection.
    let (ux, uy) = stadtkarte_core::crs::utm32(7.5975, 50.3605);
    let (col, row, _, _) = ADV_UTM32.cover(14, [ux, uy, ux, uy]);
    let adv = get(
        &app,
        &format!("/collections/gebaeude/tiles/AdV_EPSG_25832/14/{row}/{col}"),
        &[],
    )
    .await;
    assert_eq!(adv.status, 200);
    assert!(
        !layer(&mvt::decode(&adv.body), "gebaeude")
            .unwrap()
            .features
            .is_empty()
    );
    // OGC order is row before column: the same tile through the OGC and the XYZ route.
    let ogc = get(
        &app,
        &format!("/collections/gebaeude/tiles/WebMercatorQuad/15/{y}/{x}"),
        &[],
    )
    .await;
    assert_eq!(
        layer(&mvt::decode(&ogc.body), "gebaeude")
            .unwrap()
            .features
            .len(),
        buildings.features.len()
    );
}

/// A collection of our own, with min zoom 0, in a fresh database.
async fn own_collection(sql: &str) -> (axum::Router, String) {
    let url = fresh_database().await;
    let client = connect(&url).await;
    client.batch_execute(sql).await.unwrap();
    catalog::register(
        &client,
        &NewCollection {
            id: "kanten",
            title: "Kanten",
            description: "",
            keywords: &[],
            table_schema: "data",
            table_name: "kanten",
            geometry_type: "Geometry",
            storage_srid: 25832,
            temporal_column: None,
            license: "dl-de/by-2-0",
            license_url: None,
            attribution: "Test",
            min_zoom: 0,
            max_zoom: 20,
        },
    )
    .await
    .unwrap();
    let (app, _) = app_with(config_for(&url)).await;
    (app, url)
}

#[tokio::test]
async fn features_across_and_beside_tile_edges_are_in_both_tiles() {
    // The boundary between two z16 columns near the Deutsches Eck, in EPSG:3857.
    let (c, r) = tile_of(7.6055, 50.3645, 16);
    let edge_x = WEB_MERCATOR_QUAD.bounds(16, c + 1, r)[0];
    let b = WEB_MERCATOR_QUAD.bounds(16, c, r);
    let mid_y = f64::midpoint(b[1], b[3]);
    let tile_width = b[2] - b[0];
    let sql = format!(
        "CREATE TABLE data.kanten (id bigint PRIMARY KEY, art text, geom geometry(Geometry, 25832));
         INSERT INTO data.kanten VALUES
          (1, 'quer', ST_Transform(ST_MakeEnvelope({a}, {lo}, {bb}, {hi}, 3857), 25832)),
          (2, 'im Puffer', ST_Transform(ST_SetSRID(ST_MakePoint({p}, {mid_y}), 3857), 25832));",
        a = edge_x - 20.0,
        bb = edge_x + 20.0,
        lo = mid_y - 20.0,
        hi = mid_y + 20.0,
        // 2 tile pixels (of 256) right of the edge: in the right tile, and in the left tile's
        // buffer (64 of 4096 units = 4 pixels).
        p = edge_x + tile_width * 2.0 / 256.0,
    );
    let (app, _) = own_collection(&sql).await;
    let left = mvt::decode(
        &get(&app, &format!("/tiles/kanten/16/{c}/{r}"), &[])
            .await
            .body,
    );
    let right = mvt::decode(
        &get(&app, &format!("/tiles/kanten/16/{}/{r}", c + 1), &[])
            .await
            .body,
    );
    let ids = |layers: &[mvt::MvtLayer]| -> Vec<u64> {
        let mut v: Vec<u64> = layers[0].features.iter().map(|f| f.id.unwrap()).collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        ids(&left),
        [1, 2],
        "the polygon across the edge and the point in the buffer"
    );
    assert_eq!(ids(&right), [1, 2]);
    let point = left[0].features.iter().find(|f| f.id == Some(2)).unwrap();
    assert!(
        point.points[0].0 > 4096,
        "the point lies in the buffer beyond the tile's right edge"
    );
}

#[tokio::test]
async fn low_zooms_and_status_codes() {
    let (app, _) = own_collection(
        "CREATE TABLE data.kanten (id bigint PRIMARY KEY, art text, geom geometry(Geometry, 25832));
         INSERT INTO data.kanten VALUES (1, 'Eck', ST_Transform(ST_SetSRID(ST_MakePoint(7.6055, 50.3645), 4326), 25832));",
    )
    .await;
    for z in 0..=3u8 {
        let n = 1u32 << z;
        for x in 0..n {
            for y in 0..n {
                let r = get(&app, &format!("/tiles/kanten/{z}/{x}/{y}"), &[]).await;
                assert!(
                    r.status == 200 || r.status == 204,
                    "z{z}/{x}/{y}: {} {}",
                    r.status,
                    r.text()
                );
                let (cx, cy) = tile_of(7.6055, 50.3645, z);
                assert_eq!(r.status == 200, (x, y) == (cx, cy), "z{z}/{x}/{y}");
            }
        }
    }
    let (x, y) = tile_of(7.6055, 50.3645, 14);
    let empty = get(&app, &format!("/tiles/kanten/14/{}/{y}", x + 3), &[]).await;
    assert_eq!(empty.status, 204);
    assert!(empty.body.is_empty());
    assert!(!empty.header("cache-control").is_empty());
    assert_eq!(
        get(&app, &format!("/tiles/kanten/21/{x}/{y}"), &[])
            .await
            .status,
        404,
        "beyond the collection's max zoom"
    );
    assert_eq!(
        get(&app, "/tiles/kanten/25/0/0", &[]).await.status,
        404,
        "beyond the matrix set"
    );
    assert_eq!(
        get(&app, "/tiles/kanten/2/4/0", &[]).await.status,
        404,
        "column outside the matrix"
    );
    assert_eq!(
        get(&app, "/tiles/kanten/2/0/9", &[]).await.status,
        404,
        "row outside the matrix"
    );
    assert_eq!(get(&app, "/tiles/kanten/zwei/0/0", &[]).await.status, 400);
    assert_eq!(get(&app, "/tiles/kanten/2/0/x", &[]).await.status, 400);
    assert_eq!(
        get(&app, &format!("/tiles/kanten/14/{x}/{y}?f=png"), &[])
            .await
            .status,
        406
    );
    assert_eq!(
        get(
            &app,
            &format!("/tiles/kanten/14/{x}/{y}"),
            &[("accept", "image/png")]
        )
        .await
        .status,
        406
    );
    assert_eq!(
        get(&app, &format!("/tiles/kanten/14/{x}/{y}?unbekannt=1"), &[])
            .await
            .status,
        400
    );
    assert_eq!(
        get(&app, &format!("/tiles/kanten/14/{x}/{y}.pbf"), &[])
            .await
            .status,
        200
    );
    assert_eq!(get(&app, "/tiles/gibtsnicht/14/0/0", &[]).await.status, 404);
    assert_eq!(
        get(&app, "/collections/kanten/tiles/Unbekannt/1/0/0", &[])
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn cache_etag_gzip_and_single_flight() {
    let (app, _) = demo_app(|_| {}).await;
    let (x, y) = tile_of(7.59, 50.355, 16);
    // A layer list no other test asks for, so the render counter is this test's alone.
    let path = format!("/tiles/gebaeude,gewaesser/16/{x}/{y}");
    let before = rendered(&app, "gebaeude,gewaesser").await;
    let requests = (0..8).map(|_| {
        let app = app.clone();
        let path = path.clone();
        tokio::spawn(async move { get(&app, &path, &[("accept-encoding", "gzip, br")]).await })
    });
    let mut responses: Vec<TestResponse> = Vec::new();
    for r in requests {
        responses.push(r.await.unwrap());
    }
    assert_eq!(
        rendered(&app, "gebaeude,gewaesser").await - before,
        1.0,
        "eight concurrent requests, one query"
    );
    let first = &responses[0];
    assert_eq!(first.header("content-encoding"), "gzip");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&first.body[..])
        .read_to_end(&mut raw)
        .unwrap();
    let plain = get(&app, &path, &[]).await;
    assert!(plain.header("content-encoding").is_empty());
    assert_eq!(raw, plain.body.to_vec(), "the gzip body is the tile");
    let etag = first.header("etag").to_owned();
    assert!(etag.starts_with('"'));
    assert!(responses.iter().all(|r| r.header("etag") == etag));
    assert!(first.header("cache-control").contains("max-age="));
    let again = get(&app, &path, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(
        rendered(&app, "gebaeude,gewaesser").await - before,
        1.0,
        "served from the cache"
    );
}

#[tokio::test]
async fn a_change_in_the_table_evicts_exactly_the_affected_tiles() {
    let (app, url) = own_collection(
        "CREATE TABLE data.kanten (id bigint PRIMARY KEY, art text, geom geometry(Geometry, 25832));
         INSERT INTO data.kanten VALUES
          (1, 'alt', ST_Transform(ST_SetSRID(ST_MakePoint(7.6055, 50.3645), 4326), 25832)),
          (2, 'fern', ST_Transform(ST_SetSRID(ST_MakePoint(7.55, 50.33), 4326), 25832));",
    )
    .await;
    let (x, y) = tile_of(7.6055, 50.3645, 15);
    let (fx, fy) = tile_of(7.55, 50.33, 15);
    let near = format!("/tiles/kanten/15/{x}/{y}");
    let far = format!("/tiles/kanten/15/{fx}/{fy}");
    // Wait until the change listener is connected (it clears the cache when it connects).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let old = get(&app, &near, &[]).await;
    get(&app, &far, &[]).await;
    let art = |r: &TestResponse| match &mvt::decode(&r.body)[0].features[0].properties["art"] {
        MvtValue::Text(t) => t.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(art(&old), "alt");
    let renders = rendered(&app, "kanten").await;
    connect(&url)
        .await
        .execute("UPDATE data.kanten SET art = 'neu' WHERE id = 1", &[])
        .await
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let now = get(&app, &near, &[]).await;
        if art(&now) == "neu" {
            assert_ne!(now.header("etag"), old.header("etag"));
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the change never showed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let after_near = rendered(&app, "kanten").await;
    get(&app, &far, &[]).await;
    assert_eq!(
        rendered(&app, "kanten").await,
        after_near,
        "the far tile stayed cached"
    );
    assert!(after_near > renders);
    // A deleted feature leaves the tile.
    connect(&url)
        .await
        .execute("DELETE FROM data.kanten WHERE id = 1", &[])
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while get(&app, &near, &[]).await.status != 204 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the deletion never showed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn cql2_filters_on_tiles() {
    let (app, _) = demo_app(|_| {}).await;
    let (x, y) = tile_of(7.5975, 50.3605, 14);
    let base = format!("/tiles/gebaeude/14/{x}/{y}");
    let all = mvt::decode(&get(&app, &base, &[]).await.body);
    let filtered = get(&app, &format!("{base}?filter=geschosse%20%3E%3D%205"), &[]).await;
    assert_eq!(filtered.status, 200);
    let some = mvt::decode(&filtered.body);
    assert!(!some[0].features.is_empty() && some[0].features.len() < all[0].features.len());
    assert!(
        some[0]
            .features
            .iter()
            .all(|f| matches!(f.properties["geschosse"], MvtValue::Int(n) if n >= 5))
    );
    assert_eq!(
        get(&app, &format!("{base}?filter=gibtsnicht%20%3D%201"), &[])
            .await
            .status,
        400
    );
    assert_eq!(
        get(&app, &format!("{base}?filter=geschosse%20%3D"), &[])
            .await
            .status,
        400
    );
    assert_eq!(
        get(
            &app,
            &format!("{base}?filter=geschosse%20%3D%20%27fuenf%27"),
            &[]
        )
        .await
        .status,
        400
    );
    let tj: Value = get(&app, "/tiles/gebaeude", &[]).await.json();
    assert!(tj["vector_layers"][0]["fields"].get("funktion").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maplibre_in_chromium_renders_the_demo_buildings() {
    let (app, _) = demo_app(|_| {}).await;
    let port = stadtkarte_tests::serve(app).await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/maplibre.mjs");
    assert!(
        script.with_file_name("node_modules").is_dir(),
        "tests/browser/node_modules is missing: scripts/env.sh (make test) runs npm ci there"
    );
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .args([
            &format!("http://127.0.0.1:{port}/tiles/gebaeude"),
            "gebaeude",
            "7.5975",
            "50.3605",
            "16",
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
    assert_eq!(result["errors"], serde_json::json!([]), "{result}");
    assert!(
        result["coloured"].as_u64().unwrap() > 5_000,
        "the canvas shows buildings: {result}"
    );
    assert!(result["features"].as_u64().unwrap() > 10, "{result}");
    assert!(result["properties"]["funktion"].is_string(), "{result}");
    assert!(
        result["ids"][0].as_u64().is_some(),
        "feature ids reach the browser: {result}"
    );
}

#[test]
fn a_tile_over_the_byte_budget_is_reported_in_the_log() {
    let url = demo_database();
    let port = stadtkarte_tests::free_port();
    let log = tempfile::NamedTempFile::new().unwrap();
    let server = std::process::Command::new(stadtkarte_tests::stadtkarte_bin())
        .arg("serve")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("STADTKARTE_DATABASE__URL", url)
        .env("STADTKARTE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("STADTKARTE_TILES__MAX_TILE_BYTES", "1000")
        .env("STADTKARTE_LOG__FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let server = stadtkarte_tests::KillOnDrop(server);
    let (x, y) = tile_of(7.5975, 50.3605, 15);
    let started = std::time::Instant::now();
    let status = loop {
        if let Some((status, _)) =
            stadtkarte_tests::http_get(port, &format!("/tiles/gebaeude/15/{x}/{y}"))
            && status != 503
        {
            break status;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "server did not come up"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    drop(server);
    assert_eq!(status, 200, "the tile is still served");
    let text = std::fs::read_to_string(log.path()).unwrap();
    let warning = text
        .lines()
        .find(|l| l.contains("byte budget"))
        .unwrap_or_else(|| panic!("no warning in: {text}"));
    let v: Value = serde_json::from_str(warning).unwrap();
    assert_eq!(v["level"], "WARN");
    assert_eq!(v["layers"], "gebaeude");
    assert!(v["bytes"].as_u64().unwrap() > 1000);
}
