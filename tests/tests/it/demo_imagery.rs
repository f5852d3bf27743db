//! The demo's aerial images, as `stadtkarte demo` loads them: three epochs drawn from the demo
//! vectors in which the city grows.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use stadtkarte_core::cog::WORLD_HALF;
use stadtkarte_core::crs::mercator;
use stadtkarte_tests::{connect, full_demo, full_demo_app, get};

/// RGB around (lon, lat) at zoom `z` of `epoch`: the mean of a 5×5 block of pixels.
async fn colour(app: &axum::Router, epoch: &str, z: u8, lon: f64, lat: f64) -> [f64; 3] {
    let (mx, my) = mercator(lon, lat);
    let tile = 2.0 * WORLD_HALF / f64::from(1u32 << z);
    let (fx, fy) = ((mx + WORLD_HALF) / tile, (WORLD_HALF - my) / tile);
    let (x, y) = (fx.floor() as u32, fy.floor() as u32);
    let (px, py) = (
        ((fx - fx.floor()) * 256.0) as i64,
        ((fy - fy.floor()) * 256.0) as i64,
    );
    let r = get(app, &format!("/imagery/{epoch}/{z}/{x}/{y}"), &[]).await;
    assert_eq!(r.status, 200, "{epoch} {z}/{x}/{y}");
    let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(&r.body[..])).unwrap();
    let mut buf = vec![0; decoder.output_buffer_size().unwrap()];
    decoder.read_image(&mut buf).unwrap();
    let channels = if decoder.has_alpha() { 4 } else { 3 };
    let mut sum = [0.0; 3];
    let mut n = 0.0;
    for dy in -2..=2 {
        for dx in -2..=2 {
            let (qx, qy) = ((px + dx).clamp(0, 255), (py + dy).clamp(0, 255));
            let i = ((qy * 256 + qx) as usize) * channels;
            for c in 0..3 {
                sum[c] += f64::from(buf[i + c]);
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|i| (a[i] - b[i]).abs()).sum::<f64>() / 3.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_grows_across_its_aerial_images() {
    let (url, _) = full_demo();
    let client = connect(url).await;
    let epochs = client
        .query(
            "SELECT id, year, grayscale, min_zoom, max_zoom, resolution_m, jsonb_array_length(levels)
               FROM catalog.imagery ORDER BY year",
            &[],
        )
        .await
        .unwrap();
    let summary: Vec<(String, i32, bool, i16, i16)> = epochs
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("luftbild-1958".to_owned(), 1958, true, 10, 18),
            ("luftbild-1996".to_owned(), 1996, false, 10, 18),
            ("luftbild-2023".to_owned(), 2023, false, 10, 19),
        ]
    );
    let finest: f64 = epochs[2].get(5);
    assert!(finest <= 0.2 + 1e-9, "2023 has 20 cm: {finest}");
    let dataset: i64 = client
        .query_one(
            "SELECT count(*) FROM catalog.dataset_imagery WHERE dataset_id = 'luftbilder'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        dataset, 3,
        "the demo publishes its epochs as an open-data dataset"
    );

    // Buildings in the 20-cm centre, big enough that their middle is roof: those completed after
    // 1996 are open land in 1996 and roofs in 2023; those older than 1958 are roofs in both.
    let centre = "ST_Within(geom, ST_MakeEnvelope(399800, 5579400, 401100, 5580350, 25832)) AND ST_Area(geom) > 90";
    let points = |period: &str| {
        format!(
            "SELECT ST_X(p), ST_Y(p) FROM data.gebaeude, LATERAL ST_Transform(ST_PointOnSurface(ST_Buffer(geom, -1.5)), 4326) p
              WHERE {centre} AND {period} AND NOT ST_IsEmpty(ST_Buffer(geom, -1.5)) ORDER BY id LIMIT 25"
        )
    };
    let mut found = Vec::new();
    for period in [
        "fertigstellung >= '1999-01-01'",
        "fertigstellung < '1955-01-01'",
    ] {
        let rows = client.query(&points(period), &[]).await.unwrap();
        found.push(
            rows.iter()
                .map(|r| (r.get::<_, f64>(0), r.get::<_, f64>(1)))
                .collect::<Vec<_>>(),
        );
    }
    let (new, old) = (&found[0], &found[1]);
    assert!(
        new.len() >= 10 && old.len() >= 10,
        "{} new, {} old buildings in the centre",
        new.len(),
        old.len()
    );
    let (app, _) = full_demo_app().await;
    let mut change_new = 0.0;
    for &(lon, lat) in new {
        change_new += distance(
            colour(&app, "luftbild-1996", 18, lon, lat).await,
            colour(&app, "luftbild-2023", 18, lon, lat).await,
        );
    }
    let mut change_old = 0.0;
    for &(lon, lat) in old {
        change_old += distance(
            colour(&app, "luftbild-1996", 18, lon, lat).await,
            colour(&app, "luftbild-2023", 18, lon, lat).await,
        );
    }
    let (change_new, change_old) = (change_new / new.len() as f64, change_old / old.len() as f64);
    eprintln!("mean colour change 1996→2023: new buildings {change_new:.1}, old {change_old:.1}");
    assert!(
        change_new > change_old * 1.5 && change_new > change_old + 10.0,
        "buildings completed after 1996 should appear between the epochs: new {change_new:.1}, old {change_old:.1}"
    );
}

/// GDAL reads a published COG over HTTP with a few byte ranges (`/vsicurl/`, as QGIS does):
/// its header and metadata without fetching the file, counted in the server's metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdal_reads_a_published_cog_over_http_with_a_few_ranges() {
    let (app, _) = full_demo_app().await;
    let path = "/opendata/luftbilder/luftbild-2023.tif";
    let whole = get(&app, path, &[]).await;
    assert_eq!(whole.status, 200, "{}", whole.text());
    let size = whole.body.len() as f64;
    let port = stadtkarte_tests::serve(app.clone()).await;
    let metric = |text: &str, name: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(name) && l.contains("dataset=\"luftbilder\""))
            .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
            .sum()
    };
    let before = get(&app, "/metrics", &[]).await.text();
    let out = tokio::process::Command::new("gdalinfo")
        .arg("-json")
        .arg(format!("/vsicurl/http://127.0.0.1:{port}{path}"))
        .env("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        info["bands"].as_array().unwrap().len(),
        4,
        "RGBA, read over HTTP"
    );
    assert_eq!(info["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"], "COG");
    let after = get(&app, "/metrics", &[]).await.text();
    let ranges = metric(&after, "stadtkarte_download_range_requests_total")
        - metric(&before, "stadtkarte_download_range_requests_total");
    let bytes = metric(&after, "stadtkarte_download_range_bytes_total")
        - metric(&before, "stadtkarte_download_range_bytes_total");
    println!("gdalinfo /vsicurl/: {ranges} ranges, {bytes} bytes of {size}");
    assert!((1.0..=8.0).contains(&ranges), "a few ranges: {ranges}");
    assert!(bytes < size / 10.0, "{bytes} bytes read of {size}");
}
