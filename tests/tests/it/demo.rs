//! The demo city: realistic, inside the boundary, deterministic, registered, replaceable.

use stadtkarte_core::catalog;
use stadtkarte_importers::demo::{self, BOUNDARY_GEOJSON, DemoOptions, LICENSE};
use stadtkarte_tests::{connect, fresh_database};

async fn load(url: &str, seed: u64) -> demo::DemoSummary {
    let mut client = connect(url).await;
    demo::load(&mut client, DemoOptions { scale: 1, seed }, |_| {})
        .await
        .unwrap()
}

async fn scalar_i64(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

const BOUNDARY_SQL: &str =
    "ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(($1::jsonb -> 'geometry')::text), 4326), 25832)";

#[tokio::test]
async fn scale_one_is_a_plausible_koblenz() {
    let url = fresh_database().await;
    let summary = load(&url, 1).await;
    let client = connect(&url).await;

    assert_eq!(summary.districts, 30);
    assert!(summary.buildings >= 50_000, "{summary:?}");
    assert_eq!(
        scalar_i64(&client, "SELECT count(*) FROM data.gebaeude").await,
        i64::try_from(summary.buildings).unwrap()
    );
    let names: Vec<String> = client
        .query("SELECT name FROM data.stadtteile ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<&str> = demo::DISTRICTS.iter().map(|d| d.name).collect();
    assert_eq!(names, expected);
    assert!(names.iter().any(|n| n == "Ehrenbreitstein") && names.iter().any(|n| n == "Güls"));

    // Every district has buildings; the old town is denser than the outskirts.
    let per_district = client
        .query(
            "SELECT stadtteil, count(*) FROM data.gebaeude GROUP BY 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(per_district.len(), 30);

    // Everything lies inside the shipped boundary and no building stands in a river.
    let boundary: serde_json::Value = serde_json::from_str(BOUNDARY_GEOJSON).unwrap();
    let outside: i64 = client
        .query_one(
            &format!(
                "SELECT count(*) FROM data.gebaeude WHERE NOT ST_Within(geom, {BOUNDARY_SQL})"
            ),
            &[&boundary],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(outside, 0);
    let wet = scalar_i64(&client, "SELECT count(*) FROM data.gebaeude b JOIN data.gewaesser w ON ST_Intersects(b.geom, w.geom)").await;
    assert_eq!(wet, 0);
    // Districts tile the city: their areas add up to the boundary's and they do not overlap.
    let coverage: f64 = client
        .query_one(
            &format!("SELECT sum(ST_Area(geom)) / ST_Area({BOUNDARY_SQL}) FROM data.stadtteile"),
            &[&boundary],
        )
        .await
        .unwrap()
        .get(0);
    assert!((coverage - 1.0).abs() < 1e-6, "{coverage}");
    assert_eq!(
        scalar_i64(
            &client,
            "SELECT count(*) FROM data.gebaeude WHERE NOT ST_IsValid(geom)"
        )
        .await,
        0
    );

    // Attributes people search for.
    for kind in [
        "Schule",
        "Spielplatz",
        "Bushaltestelle",
        "Öffentliche Toilette",
    ] {
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM data.poi WHERE funktion = $1",
                &[&kind],
            )
            .await
            .unwrap()
            .get(0);
        assert!(n >= 5, "{kind}: {n}");
    }
    assert!(scalar_i64(&client, "SELECT count(DISTINCT name) FROM data.strassen").await > 200);
    assert!(
        scalar_i64(
            &client,
            "SELECT count(*) FROM data.strassen WHERE name = 'Löhrstraße'"
        )
        .await
            > 0
    );
    assert!(
        scalar_i64(
            &client,
            "SELECT count(DISTINCT funktion) FROM data.gebaeude"
        )
        .await
            >= 6
    );
    assert!(
        scalar_i64(
            &client,
            "SELECT count(*) FROM data.gebaeude WHERE fertigstellung > '1958-12-31'"
        )
        .await
            > 1_000
    );
    assert_eq!(
        scalar_i64(&client, "SELECT count(*) FROM data.gewaesser").await,
        2
    );

    // Registered in the catalog, with the licence and current statistics.
    let collections = catalog::list(&client).await.unwrap();
    let ids: Vec<&str> = collections.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "baugebiete",
            "baugrenzen",
            "baulinien",
            "bebauungsplaene",
            "gebaeude",
            "gemeinbedarfsflaechen",
            "gewaesser",
            "gruenflaechen",
            "maengel",
            "petitionen",
            "poi",
            "stadtteile",
            "strassen",
            "strassenverkehrsflaechen",
            "ueberbaubare_flaechen",
            "verkehrsflaechen_besonderer_zweckbestimmung",
        ],
        "the city's five, the participation's two, the development plans' nine"
    );
    // The Mängelmelder's and the petitions' collections start empty, under their own licence
    // (Zero).
    let (participation, collections): (Vec<_>, Vec<_>) = collections
        .into_iter()
        .partition(|c| c.id == "maengel" || c.id == "petitionen");
    assert_eq!(participation.len(), 2);
    for own in &participation {
        assert!(
            matches!(own.feature_count, None | Some(0)),
            "a live view: no stored count"
        );
        assert!(own.extent_crs84.is_none());
        assert!(own.license.contains("Zero"), "{}", own.license);
    }
    for c in &collections {
        assert_eq!(c.license, LICENSE);
        assert_eq!(c.storage_srid, 25832);
        let n = scalar_i64(&client, &format!("SELECT count(*) FROM {}", c.table_sql())).await;
        assert_eq!(c.feature_count, Some(n), "{}", c.id);
        let [w, s, e, nn] = c.extent_crs84.unwrap();
        assert!(
            (7.4..7.8).contains(&w)
                && (7.4..7.8).contains(&e)
                && (50.2..50.5).contains(&s)
                && (50.2..50.5).contains(&nn),
            "{:?}",
            c.extent_crs84
        );
    }
    let gebaeude = collections.iter().find(|c| c.id == "gebaeude").unwrap();
    assert_eq!(gebaeude.temporal_column.as_deref(), Some("fertigstellung"));
    assert_eq!(
        scalar_i64(
            &client,
            "SELECT count(*) FROM catalog.audit_log WHERE action = 'demo.load'"
        )
        .await,
        1
    );
}

async fn fingerprint(url: &str) -> String {
    let client = connect(url).await;
    client
        .query_one(
            "SELECT md5(string_agg(id || funktion || strasse || hausnummer || fertigstellung || ST_AsText(geom), ',' ORDER BY id)) FROM data.gebaeude",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn the_same_seed_gives_the_same_city_and_reloading_replaces_it() {
    let (a, b) = (fresh_database().await, fresh_database().await);
    let first = load(&a, 7).await;
    let second = load(&b, 7).await;
    assert_eq!(first.buildings, second.buildings);
    assert_eq!(fingerprint(&a).await, fingerprint(&b).await);

    // Another seed, loaded over the first city in the same database, replaces it entirely.
    let other = load(&a, 8).await;
    assert_ne!(fingerprint(&a).await, fingerprint(&b).await);
    let client = connect(&a).await;
    assert_eq!(
        scalar_i64(&client, "SELECT count(*) FROM data.gebaeude").await,
        i64::try_from(other.buildings).unwrap()
    );
    assert_eq!(catalog::list(&client).await.unwrap().len(), 16);
    assert_eq!(
        scalar_i64(&client, "SELECT count(*) FROM plans.bebauungsplaene").await,
        i64::try_from(demo::plans::PLANS.len()).unwrap(),
        "the plans were replaced, not added"
    );
}

#[tokio::test]
async fn a_bad_scale_changes_nothing() {
    let url = fresh_database().await;
    let mut client = connect(&url).await;
    let err = demo::load(&mut client, DemoOptions { scale: 0, seed: 1 }, |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--scale"), "{err}");
    let left: Vec<String> = catalog::list(&client)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(
        left,
        ["maengel", "petitionen"],
        "only the Mängelmelder's and the petitions' own collections"
    );
}

#[tokio::test]
async fn the_projection_agrees_with_postgis() {
    let client = connect(&fresh_database().await).await;
    for (lon, lat) in [(7.6055, 50.3645), (7.494, 50.36), (7.707, 50.29)] {
        let (x, y) = demo::utm32(lon, lat);
        let row = client
            .query_one(
                "SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), 25832) AS p",
                &[&lon, &lat],
            )
            .await
            .unwrap();
        assert!(
            (x - row.get::<_, f64>(0)).abs() < 0.001 && (y - row.get::<_, f64>(1)).abs() < 0.001
        );
    }
}

/// The tile of a longitude/latitude at zoom `z` (`WebMercatorQuad`).
// Tile indexes of Koblenz at zoom 15 are small and positive.
#[allow(clippy::cast_possible_truncation)]
fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    let index = |v: f64| u32::try_from(v.floor() as i64).unwrap();
    (index(x), index(y))
}

#[tokio::test]
async fn the_demo_s_development_plans_are_served_with_planurkunde_and_scan() {
    let (app, state) = stadtkarte_tests::demo_app(|_| {}).await;
    let client = connect(&state.config.database.url).await;
    let plans = client
        .query(
            "SELECT id, nummer, name, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)
             FROM plans.bebauungsplaene WHERE id LIKE 'DEMO_%' ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(plans.len(), demo::plans::PLANS.len());

    // Every typed collection is listed, has items over OGC API Features with the columns the
    // map styles on, and draws in a vector tile.
    for (id, columns) in [
        ("ueberbaubare_flaechen", &[][..]),
        ("baugrenzen", &[][..]),
        ("baulinien", &[][..]),
        ("strassenverkehrsflaechen", &["nutzungsform"][..]),
        (
            "verkehrsflaechen_besonderer_zweckbestimmung",
            &["zweckbestimmung", "zweckbestimmung_text"][..],
        ),
        (
            "gruenflaechen",
            &["zweckbestimmung", "zweckbestimmung_text", "nutzungsform"][..],
        ),
        (
            "gemeinbedarfsflaechen",
            &["zweckbestimmung", "zweckbestimmung_text"][..],
        ),
    ] {
        let items =
            stadtkarte_tests::get(&app, &format!("/collections/{id}/items?limit=200"), &[]).await;
        assert_eq!(items.status, 200, "{id}: {}", items.text());
        let json = items.json();
        let features = json["features"].as_array().unwrap();
        assert!(!features.is_empty(), "{id}");
        for f in features {
            let p = &f["properties"];
            assert!(
                p["plan_id"].as_str().unwrap().starts_with("DEMO_BPLAN_"),
                "{f}"
            );
            assert!(p["gml_id"].is_string(), "{f}");
            for column in columns {
                assert!(p[*column].is_string(), "{id}.{column}: {f}");
            }
        }
        let kind = features[0]["geometry"]["type"].as_str().unwrap();
        assert!(kind.starts_with("Multi"), "{id}: {kind}");
        let (lon, lat): (f64, f64) = client
            .query_one(
                &format!("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) p FROM plans.{id} ORDER BY id LIMIT 1) x"),
                &[],
            )
            .await
            .map(|r| (r.get(0), r.get(1)))
            .unwrap();
        let (x, y) = tile_of(lon, lat, 15);
        let tile = stadtkarte_tests::get(&app, &format!("/tiles/{id}/15/{x}/{y}"), &[]).await;
        assert_eq!(tile.status, 200, "{id} tile");
        assert!(!tile.body.is_empty(), "{id} tile");
    }

    let dir = tempfile::tempdir().unwrap();
    for plan in &plans {
        let (id, nummer, name): (String, String, String) = (plan.get(0), plan.get(1), plan.get(2));
        let bbox: [f64; 4] = [plan.get(3), plan.get(4), plan.get(5), plan.get(6)];

        // The Planurkunde: a one-page A3 PDF that poppler reads, with the plan's number in its
        // title and the title block, legend and procedure notes in its text.
        let pdf: Vec<u8> = client
            .query_one(
                "SELECT inhalt FROM plans.dokumente WHERE plan_id = $1 AND art = 'Dokument' AND media_type = 'application/pdf'",
                &[&id],
            )
            .await
            .unwrap()
            .get(0);
        let file = dir.path().join(format!("{id}.pdf"));
        std::fs::write(&file, &pdf).unwrap();
        let info = std::process::Command::new("pdfinfo")
            .arg(&file)
            .output()
            .expect("pdfinfo (poppler-utils) must be installed: scripts/env.sh");
        assert!(
            info.status.success(),
            "{}",
            String::from_utf8_lossy(&info.stderr)
        );
        let info = String::from_utf8_lossy(&info.stdout);
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(field("Pages:"), "1", "{info}");
        assert!(info.contains("1190.55 x 841.89 pts (A3)"), "{info}");
        assert!(info.contains(&nummer), "{info}");
        let text = std::process::Command::new("pdftotext")
            .args([file.as_os_str(), std::ffi::OsStr::new("-")])
            .output()
            .expect("pdftotext (poppler-utils)");
        assert!(text.status.success());
        let text = String::from_utf8_lossy(&text.stdout);
        for expected in [
            name.as_str(),
            "Stadt Koblenz",
            "Zeichenerklärung",
            "Verfahrensvermerke",
            "Baugrenze",
        ] {
            assert!(text.contains(expected), "{expected} missing in {text}");
        }

        // The scan: a PNG whose world file puts it around the Geltungsbereich.
        let scan = client
            .query_one(
                "SELECT inhalt, georef, georef_datei FROM plans.dokumente WHERE plan_id = $1 AND art = 'Scan'",
                &[&id],
            )
            .await
            .unwrap();
        let (png, pgw): (Vec<u8>, Vec<u8>) = (scan.get(0), scan.get(1));
        let world_file: String = scan.get(2);
        assert_eq!(
            std::path::Path::new(&world_file).extension(),
            Some(std::ffi::OsStr::new("pgw"))
        );
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let width = f64::from(u32::from_be_bytes(png[16..20].try_into().unwrap()));
        let height = f64::from(u32::from_be_bytes(png[20..24].try_into().unwrap()));
        let w: Vec<f64> = String::from_utf8(pgw)
            .unwrap()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        assert_eq!(w.len(), 6);
        assert!(
            w[0] > 0.0 && w[3] < 0.0 && w[1] == 0.0 && w[2] == 0.0,
            "{w:?}"
        );
        let extent = [
            w[4] - w[0] / 2.0,
            w[5] + w[3] * (height - 0.5),
            w[4] + w[0] * (width - 0.5),
            w[5] - w[3] / 2.0,
        ];
        assert!(
            extent[0] <= bbox[0]
                && extent[1] <= bbox[1]
                && extent[2] >= bbox[2]
                && extent[3] >= bbox[3],
            "scan {extent:?} does not cover the Geltungsbereich {bbox:?}"
        );
        for k in 0..4 {
            assert!(
                (extent[k] - bbox[k]).abs() < 50.0,
                "scan {extent:?} far from {bbox:?}"
            );
        }
        let list = stadtkarte_tests::get(&app, &format!("/plans/{id}/dokumente"), &[]).await;
        assert_eq!(list.status, 200);
        let json = list.json();
        let docs = json["dokumente"].as_array().unwrap();
        assert!(
            docs.iter()
                .any(|d| d["art"] == "Scan" && d["georef"].is_string()),
            "{json}"
        );
    }
}
