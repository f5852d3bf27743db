//! The Mängelmelder against a real `stadtkarte serve` process: a server killed while it
//! processes the photos of a report leaves the report complete or absent (never half), and a
//! status change reaches the vector tile without a restart.

use crate::maengel::{multipart, stamp_of};
use crate::privacy_maengel::{fetch, request, tile_of};
use stadtkarte_tests::{ServerProcess, connect, demo_copy};
use std::io::Cursor;
use std::time::{Duration, Instant};

/// A JPEG of noise (which compresses badly, like a photo), `w`×`h`.
fn noisy_jpeg(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .unwrap();
    out
}

async fn a_point(url: &str, n: i64) -> (String, String) {
    let row = connect(url)
        .await
        .query_one(
            "SELECT ST_Y(p), ST_X(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p
             FROM data.gebaeude ORDER BY id OFFSET $1 LIMIT 1) g",
            &[&n],
        )
        .await
        .unwrap();
    (
        format!("{:.6}", row.get::<_, f64>(0)),
        format!("{:.6}", row.get::<_, f64>(1)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_while_processing_photos_leaves_the_report_whole_or_absent() {
    let url = demo_copy().await;
    let client = connect(&url).await;
    let (la, lo) = a_point(&url, 40).await;
    let photos: Vec<(&str, &str, Vec<u8>)> = (0..3_u32)
        .map(|i| {
            (
                "fotos",
                ["a.jpg", "b.jpg", "c.jpg"][i as usize],
                noisy_jpeg(1600, 1200, i + 1),
            )
        })
        .collect();
    let env = [
        ("STADTKARTE_DATABASE__URL", url.as_str()),
        ("STADTKARTE_MAENGEL__MIN_FILL_SECS", "0"),
    ];
    // Killed at several moments: while the body arrives, while the photos are decoded and
    // re-encoded, around the commit.
    let mut outcomes = Vec::new();
    for (trial, delay_ms) in [Some(50_u64), Some(400), Some(1500), None]
        .into_iter()
        .enumerate()
    {
        let mut server = ServerProcess::start(&env);
        let port = server.port;
        let stamp = stamp_of(
            &fetch(
                port,
                "/maengel/melden?kategorie=beleuchtung&stadtteil=Altstadt",
            )
            .text(),
        );
        let description = format!("Abgebrochen {trial}");
        let (content_type, body) = multipart(
            &[
                ("kategorie", "beleuchtung"),
                ("lat", &la),
                ("lon", &lo),
                ("beschreibung", &description),
                ("datenschutz", "ja"),
                ("stamp", &stamp),
            ],
            &photos,
        );
        let sender = std::thread::spawn(move || {
            std::panic::catch_unwind(|| {
                request(port, "POST", "/maengel/melden", &content_type, &body).status
            })
            .ok()
        });
        // The last time only after the answer: then the report must be there, whole.
        let answered = if let Some(ms) = delay_ms {
            std::thread::sleep(Duration::from_millis(ms));
            server.process.0.kill().unwrap();
            server.process.0.wait().unwrap();
            sender.join().unwrap()
        } else {
            let answered = sender.join().unwrap();
            assert_eq!(answered, Some(303));
            server.process.0.kill().unwrap();
            server.process.0.wait().unwrap();
            answered
        };
        // After a restart: the report with all three photos, or nothing of it.
        let again = ServerProcess::start(&env);
        let rows = client
            .query(
                "SELECT r.id, (SELECT count(*) FROM maengel.photos p WHERE p.report_id = r.id)
                 FROM maengel.reports r WHERE r.description = $1",
                &[&description],
            )
            .await
            .unwrap();
        match rows.as_slice() {
            [] => {
                assert_ne!(
                    answered,
                    Some(303),
                    "{delay_ms:?} ms: confirmed but not stored"
                );
                outcomes.push("absent");
            }
            [row] => {
                assert_eq!(
                    row.get::<_, i64>(1),
                    3,
                    "{delay_ms:?} ms: a report with some of its photos"
                );
                let id: i64 = row.get(0);
                assert_eq!(fetch(again.port, &format!("/maengel/{id}")).status, 200);
                outcomes.push("complete");
            }
            _ => panic!("{delay_ms:?} ms: stored twice"),
        }
    }
    // No photo without its report, and nothing else half-written.
    let orphans: i64 = client
        .query_one(
            "SELECT count(*) FROM maengel.photos p WHERE NOT EXISTS (SELECT 1 FROM maengel.reports r WHERE r.id = p.report_id)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(orphans, 0);
    eprintln!("killed at 50, 400, 1500 ms and after the answer: {outcomes:?}");
    // The first kill fell into the upload; after the answer the report is complete.
    assert_eq!(outcomes.first(), Some(&"absent"), "{outcomes:?}");
    assert_eq!(outcomes.last(), Some(&"complete"), "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_reaches_the_vector_tile() {
    let url = demo_copy().await;
    let client = connect(&url).await;
    let (la, lo) = a_point(&url, 77).await;
    let (lat, lon): (f64, f64) = (la.parse().unwrap(), lo.parse().unwrap());
    let server = ServerProcess::start(&[("STADTKARTE_DATABASE__URL", url.as_str())]);
    let (x, y) = tile_of(lon, lat, 16);
    let path = format!("/collections/maengel/tiles/WebMercatorQuad/16/{y}/{x}");
    // Empty before the first report (and cached so).
    assert_eq!(fetch(server.port, &path).status, 204);
    let id: i64 = client
        .query_one(
            "INSERT INTO maengel.reports (category, description, released_at, geom, secret, token)
             VALUES ('beleuchtung', 'Laterne', now(), ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), 25832),
                     'geheim-kachel', 'token-kachel') RETURNING id",
            &[&lon, &lat],
        )
        .await
        .unwrap()
        .get(0);
    let wait_for = |what: &str, check: &dyn Fn(&stadtkarte_tests::RawResponse) -> bool| {
        let started = Instant::now();
        loop {
            let r = fetch(server.port, &path);
            if check(&r) {
                return r.body;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{what}: {} {:?}",
                r.status,
                r.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let first = wait_for("the new report in the tile", &|r| {
        r.status == 200 && !r.body.is_empty()
    });
    assert!(String::from_utf8_lossy(&first).contains("eingegangen"));
    client
        .execute(
            "UPDATE maengel.reports SET status = 'erledigt' WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let changed = wait_for("the changed status in the tile", &|r| {
        r.status == 200 && String::from_utf8_lossy(&r.body).contains("erledigt")
    });
    assert_ne!(first, changed);
}
