//! The catalog: only real tables and columns, statistics that follow the data, the audit log.

use stadtkarte_core::catalog::{self, NewCollection};
use stadtkarte_tests::{connect, fresh_database};

fn entry<'a>(id: &'a str, table: &'a str) -> NewCollection<'a> {
    NewCollection {
        id,
        title: "Bäume",
        description: "Straßenbäume",
        keywords: &["Baum"],
        table_schema: "data",
        table_name: table,
        geometry_type: "Point",
        storage_srid: 25832,
        temporal_column: None,
        license: "Datenlizenz Deutschland – Namensnennung – Version 2.0",
        license_url: None,
        attribution: "Stadt Koblenz",
        min_zoom: 12,
        max_zoom: 22,
    }
}

#[tokio::test]
async fn register_computes_count_and_extent() {
    let client = connect(&fresh_database().await).await;
    client
        .batch_execute(
            "CREATE TABLE data.baeume (id int PRIMARY KEY, geom geometry(Point, 25832));
             INSERT INTO data.baeume VALUES
               (1, ST_SetSRID(ST_MakePoint(398000, 5579000), 25832)),
               (2, ST_SetSRID(ST_MakePoint(401000, 5582000), 25832))",
        )
        .await
        .unwrap();
    catalog::register(&client, &entry("baeume", "baeume"))
        .await
        .unwrap();
    let c = catalog::get(&client, "baeume").await.unwrap().unwrap();
    assert_eq!(c.feature_count, Some(2));
    assert_eq!(c.title, "Bäume");
    let e = c.extent_crs84.unwrap();
    // Same box computed by PostGIS directly.
    let row = client
        .query_one(
            "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Transform(
                ST_MakeEnvelope(398000, 5579000, 401000, 5582000, 25832), 4326) AS b) s",
            &[],
        )
        .await
        .unwrap();
    for (i, v) in e.iter().enumerate() {
        assert!((v - row.get::<_, f64>(i)).abs() < 1e-9, "{e:?}");
    }
    assert_eq!(c.table_sql(), "\"data\".\"baeume\"");
    // Beside the Mängelmelder's and the petitions' own collections, which every database has.
    assert_eq!(catalog::list(&client).await.unwrap().len(), 3);
    assert!(catalog::get(&client, "nothing").await.unwrap().is_none());
}

#[tokio::test]
async fn an_entry_must_point_at_an_existing_table_and_columns() {
    let client = connect(&fresh_database().await).await;
    let missing_table = catalog::register(&client, &entry("geister", "geister"))
        .await
        .unwrap_err();
    assert!(
        format!("{missing_table:?}").contains("does not exist"),
        "{missing_table:?}"
    );
    client
        .batch_execute("CREATE TABLE data.ohne_geometrie (id int PRIMARY KEY, lage text)")
        .await
        .unwrap();
    let missing_column = catalog::register(&client, &entry("ohne", "ohne_geometrie"))
        .await
        .unwrap_err();
    assert!(
        format!("{missing_column:?}").contains("has no column geom"),
        "{missing_column:?}"
    );
    let bad_id = client
        .execute(
            "INSERT INTO catalog.collections (id, title, table_name, geometry_type, license, attribution)
             VALUES ('Bad Id!', 't', 'ohne_geometrie', 'Point', 'l', 'a')",
            &[],
        )
        .await;
    assert!(bad_id.is_err());
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
async fn audit_entries_are_written() {
    let client = connect(&fresh_database().await).await;
    catalog::audit(
        &client,
        "tester",
        "import",
        "baeume",
        &serde_json::json!({"features": 2}),
    )
    .await
    .unwrap();
    let row = client
        .query_one(
            "SELECT actor, action, subject, details FROM catalog.audit_log",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "tester");
    assert_eq!(row.get::<_, serde_json::Value>(3)["features"], 2);
}
