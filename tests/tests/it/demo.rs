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
            "gebaeude",
            "gewaesser",
            "maengel",
            "petitionen",
            "poi",
            "stadtteile",
            "strassen"
        ]
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
    assert_eq!(catalog::list(&client).await.unwrap().len(), 7);
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
