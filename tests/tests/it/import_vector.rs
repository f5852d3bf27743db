//! `import vector`: formats, types, encodings, CRS, repair, atomic replace, bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

use stadtkarte_core::catalog;
use stadtkarte_importers::vector::{self, VectorImport, VectorImportError};
use stadtkarte_tests::{connect, fresh_database};
use tokio_postgres::Client;

/// Three features in WGS84 with every attribute type, umlauts, and a name needing care.
const GEOJSON: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"Name":"Brunnen am Görresplatz","Anzahl":3,"Höhe m":12.5,"geprüft":true,"seit":"2019-05-01","Straße Nr.":"Görresplatz 1"},
  "geometry":{"type":"Point","coordinates":[7.5937,50.3597]}},
 {"type":"Feature","properties":{"Name":"Schängelbrunnen","Anzahl":1,"Höhe m":2.25,"geprüft":false,"seit":"1941-01-01","Straße Nr.":"Willi-Hörter-Platz"},
  "geometry":{"type":"Point","coordinates":[7.5949,50.3602]}},
 {"type":"Feature","properties":{"Name":"Ohne Ort","Anzahl":null,"Höhe m":null,"geprüft":null,"seit":null,"Straße Nr.":null},
  "geometry":null}
]}"#;

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Converts `source` with GDAL's ogr2ogr (an independent writer of each format).
pub(crate) fn ogr2ogr(source: &Path, target: &Path, args: &[&str]) -> PathBuf {
    let out = Command::new("ogr2ogr")
        .args(args)
        .arg(target)
        .arg(source)
        .output()
        .expect("ogr2ogr (Debian gdal-bin) is installed by scripts/env.sh");
    assert!(
        out.status.success(),
        "ogr2ogr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.to_owned()
}

pub(crate) fn job(file: &Path, collection: &str) -> VectorImport {
    VectorImport {
        file: file.to_owned(),
        collection: Some(collection.to_owned()),
        title: None,
        description: None,
        layer: None,
        source_srs: None,
        replace: false,
        dry_run: false,
        x_column: None,
        y_column: None,
        wkt_column: None,
        types: Vec::new(),
        skip_bad_rows: false,
        license: None,
        attribution: None,
        default_license: "Datenlizenz Deutschland – Namensnennung – Version 2.0".to_owned(),
        default_attribution: "Stadt Koblenz".to_owned(),
        actor: "test".to_owned(),
        storage_srid: 25832,
    }
}

/// Everything an import may change: catalog rows, data tables and their contents.
pub(crate) async fn snapshot(client: &Client) -> String {
    let catalog = client
        .query_one(
            "SELECT coalesce(json_agg(c ORDER BY id)::text, '') FROM catalog.collections c",
            &[],
        )
        .await
        .unwrap()
        .get::<_, String>(0);
    let tables: Vec<String> = client
        .query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'data' ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut contents = String::new();
    for t in &tables {
        let row = client
            .query_one(&format!("SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM data.\"{t}\" t"), &[])
            .await
            .unwrap();
        contents.push_str(&format!("{t}:{};", row.get::<_, String>(0)));
    }
    let audit: i64 = client
        .query_one("SELECT count(*) FROM catalog.audit_log", &[])
        .await
        .unwrap()
        .get(0);
    format!("{catalog}\n{contents}\naudit={audit}")
}

async fn column_types(client: &Client, table: &str) -> Vec<(String, String)> {
    client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = 'data' AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test]
async fn geojson_types_names_crs_catalog_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "brunnen.geojson", GEOJSON);
    let mut client = connect(&fresh_database().await).await;
    let summary = vector::import(&mut client, &job(&file, "brunnen"))
        .await
        .unwrap();
    assert_eq!((summary.read, summary.written, summary.repaired), (3, 3, 0));
    assert!(
        summary
            .renamed
            .contains(&("Straße Nr.".to_owned(), "strasse_nr".to_owned())),
        "{:?}",
        summary.renamed
    );

    let types = column_types(&client, "brunnen").await;
    let expected = [
        ("id", "bigint"),
        ("name", "text"),
        ("anzahl", "integer"),
        ("hoehe_m", "double precision"),
        ("geprueft", "boolean"),
        ("seit", "date"),
        ("strasse_nr", "text"),
        ("geom", "USER-DEFINED"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(types, expected);

    let row = client
        .query_one(
            "SELECT name, anzahl, hoehe_m, geprueft, seit::text, strasse_nr,
                    ST_Distance(geom, ST_Transform(ST_SetSRID(ST_MakePoint(7.5937, 50.3597), 4326), 25832))
             FROM data.brunnen WHERE anzahl = 3",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Brunnen am Görresplatz");
    assert_eq!(row.get::<_, f64>(2), 12.5);
    assert!(row.get::<_, bool>(3));
    assert_eq!(row.get::<_, String>(4), "2019-05-01");
    assert_eq!(row.get::<_, String>(5), "Görresplatz 1");
    assert!(row.get::<_, f64>(6) < 0.001, "transformed within 1 mm");
    let nulls: i64 = client
        .query_one(
            "SELECT count(*) FROM data.brunnen WHERE geom IS NULL AND anzahl IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(nulls, 1);

    let c = catalog::get(&client, "brunnen").await.unwrap().unwrap();
    assert_eq!(c.feature_count, Some(3));
    assert_eq!(c.geometry_type, "Point");
    assert_eq!(c.title, "brunnen");
    // The extent contains every feature and is tight (within about 10 m).
    let [w, s, e, n] = c.extent_crs84.unwrap();
    let eps = 1e-9;
    assert!(
        w <= 7.5937 + eps && e >= 7.5949 - eps && s <= 50.3597 + eps && n >= 50.3602 - eps,
        "{:?}",
        c.extent_crs84
    );
    assert!(
        (w - 7.5937).abs() < 1e-4
            && (e - 7.5949).abs() < 1e-4
            && (s - 50.3597).abs() < 1e-4
            && (n - 50.3602).abs() < 1e-4
    );
    let index: i64 = client
        .query_one("SELECT count(*) FROM pg_indexes WHERE schemaname = 'data' AND tablename = 'brunnen' AND indexdef LIKE '%gist%'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(index, 1);
    let audit = client
        .query_one("SELECT actor, details FROM catalog.audit_log WHERE action = 'import.vector' AND subject = 'brunnen'", &[])
        .await
        .unwrap();
    assert_eq!(audit.get::<_, String>(0), "test");
    let details: serde_json::Value = audit.get(1);
    assert_eq!(details["written"], 3);
    assert!(
        details["file"]
            .as_str()
            .unwrap()
            .ends_with("brunnen.geojson")
    );
}

#[tokio::test]
async fn every_format_people_bring_gives_the_same_features() {
    let dir = tempfile::tempdir().unwrap();
    let source = write(dir.path(), "brunnen.geojson", GEOJSON);
    // Shapefiles and KML cannot hold a feature without geometry in every reader; compare the two located ones.
    let located = ogr2ogr(
        &source,
        &dir.path().join("located.geojson"),
        &["-where", "Anzahl IS NOT NULL"],
    );
    let files = [
        ogr2ogr(&located, &dir.path().join("brunnen.gpkg"), &["-f", "GPKG"]),
        ogr2ogr(
            &located,
            &dir.path().join("brunnen.fgb"),
            &["-f", "FlatGeobuf"],
        ),
        ogr2ogr(&located, &dir.path().join("brunnen.kml"), &["-f", "KML"]),
        ogr2ogr(&located, &dir.path().join("brunnen.gml"), &["-f", "GML"]),
        ogr2ogr(
            &located,
            &dir.path().join("shp"),
            &["-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8"],
        ),
    ];
    let mut client = connect(&fresh_database().await).await;
    for (i, file) in files.iter().enumerate() {
        let file = if file.is_dir() {
            file.join("brunnen.shp")
        } else {
            file.clone()
        };
        let id = format!("format_{i}");
        let summary = vector::import(&mut client, &job(&file, &id))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(summary.written, 2, "{}", file.display());
        let names: Vec<String> = client
            .query(&format!("SELECT name FROM data.{id} ORDER BY name"), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            names,
            ["Brunnen am Görresplatz", "Schängelbrunnen"],
            "{}",
            file.display()
        );
        let off: f64 = client
            .query_one(
                &format!("SELECT max(ST_Distance(geom, ST_Transform(ST_SetSRID(ST_MakePoint(7.5949, 50.3602), 4326), 25832))) FROM data.{id} WHERE name = 'Schängelbrunnen'"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(off < 0.01, "{}: {off} m", file.display());
    }
}

#[tokio::test]
async fn a_zipped_latin1_shapefile_keeps_its_umlauts() {
    let dir = tempfile::tempdir().unwrap();
    let source = write(dir.path(), "brunnen.geojson", GEOJSON);
    let shp_dir = dir.path().join("shp");
    ogr2ogr(
        &source,
        &shp_dir,
        &[
            "-f",
            "ESRI Shapefile",
            "-lco",
            "ENCODING=ISO-8859-1",
            "-nln",
            "brunnen",
            "-where",
            "Anzahl IS NOT NULL",
        ],
    );
    let dbf = std::fs::read(shp_dir.join("brunnen.dbf")).unwrap();
    assert!(
        dbf.windows(2).any(|w| w == [b'G', 0xF6]),
        "the DBF really is ISO-8859-1 (ö = 0xF6)"
    );
    assert_eq!(
        std::fs::read_to_string(shp_dir.join("brunnen.cpg"))
            .unwrap()
            .trim(),
        "ISO-8859-1"
    );
    let zip_path = dir.path().join("brunnen.zip");
    let status = Command::new("zip")
        .arg("-qj")
        .arg(&zip_path)
        .args(
            std::fs::read_dir(&shp_dir)
                .unwrap()
                .map(|e| e.unwrap().path()),
        )
        .status();
    if status.is_err() {
        // No zip program: build the archive with the zip crate's reader counterpart, Python.
        let py = format!(
            "import zipfile,os\nz=zipfile.ZipFile('{}','w')\nfor f in os.listdir('{}'): z.write(os.path.join('{}',f), f)\nz.close()",
            zip_path.display(),
            shp_dir.display(),
            shp_dir.display()
        );
        assert!(
            Command::new("python3")
                .args(["-c", &py])
                .status()
                .unwrap()
                .success()
        );
    }
    let mut client = connect(&fresh_database().await).await;
    vector::import(&mut client, &job(&zip_path, "brunnen"))
        .await
        .unwrap();
    let names: Vec<String> = client
        .query("SELECT name FROM data.brunnen ORDER BY name", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["Brunnen am Görresplatz", "Schängelbrunnen"]);
}

#[tokio::test]
async fn geopackage_layers_are_chosen_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let source = write(dir.path(), "brunnen.geojson", GEOJSON);
    let gpkg = dir.path().join("stadt.gpkg");
    ogr2ogr(&source, &gpkg, &["-f", "GPKG", "-nln", "brunnen"]);
    ogr2ogr(
        &source,
        &gpkg,
        &[
            "-f",
            "GPKG",
            "-update",
            "-nln",
            "denkmaeler",
            "-where",
            "Anzahl = 1",
        ],
    );
    let mut client = connect(&fresh_database().await).await;
    let before = snapshot(&client).await;
    let err = vector::import(&mut client, &job(&gpkg, "stadt"))
        .await
        .unwrap_err();
    assert!(matches!(err, VectorImportError::SeveralLayers(_)), "{err}");
    assert!(
        err.to_string().contains("brunnen") && err.to_string().contains("denkmaeler"),
        "{err}"
    );
    let mut wrong = job(&gpkg, "stadt");
    wrong.layer = Some("baeume".to_owned());
    let err = vector::import(&mut client, &wrong).await.unwrap_err();
    assert!(
        matches!(err, VectorImportError::LayerNotFound { .. }),
        "{err}"
    );
    assert_eq!(snapshot(&client).await, before);
    let mut right = job(&gpkg, "denkmaeler");
    right.layer = Some("denkmaeler".to_owned());
    assert_eq!(
        vector::import(&mut client, &right).await.unwrap().written,
        1
    );
    let geprueft: bool = client
        .query_one("SELECT geprueft FROM data.denkmaeler", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!geprueft, "booleans survive GeoPackage");
}

#[tokio::test]
async fn csv_with_lonlat_or_wkt_columns() {
    let dir = tempfile::tempdir().unwrap();
    let lonlat = write(
        dir.path(),
        "haltestellen.csv",
        "name;lat;lon;linien\nZentralplatz;50.3590;7.5930;5\n\"Löhr-Center; Eingang\";50.3570;7.5905;12\n",
    );
    let mut client = connect(&fresh_database().await).await;
    let s = vector::import(&mut client, &job(&lonlat, "haltestellen"))
        .await
        .unwrap();
    assert_eq!(s.written, 2);
    assert!(s.source_crs.contains("4326"), "{}", s.source_crs);
    let row = client
        .query_one("SELECT linien, ST_Distance(geom, ST_Transform(ST_SetSRID(ST_MakePoint(7.5905, 50.3570), 4326), 25832)) FROM data.haltestellen WHERE name = 'Löhr-Center; Eingang'", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 12);
    assert!(row.get::<_, f64>(1) < 0.001);
    assert!(
        !column_types(&client, "haltestellen")
            .await
            .iter()
            .any(|(c, _)| c == "lat" || c == "lon")
    );

    let wkt = write(
        dir.path(),
        "flaechen.csv",
        "bezeichnung,wkt\nHof,\"POLYGON((400000 5580000,400010 5580000,400010 5580010,400000 5580000))\"\n",
    );
    let err = vector::import(&mut client, &job(&wkt, "flaechen"))
        .await
        .unwrap_err();
    assert!(matches!(err, VectorImportError::MissingCrs(_)), "{err}");
    let mut with_srs = job(&wkt, "flaechen");
    with_srs.source_srs = Some("EPSG:25832".to_owned());
    assert_eq!(
        vector::import(&mut client, &with_srs)
            .await
            .unwrap()
            .written,
        1
    );
    let area: f64 = client
        .query_one("SELECT ST_Area(geom) FROM data.flaechen", &[])
        .await
        .unwrap()
        .get(0);
    assert!((area - 50.0).abs() < 1e-9);

    // Columns named explicitly: easting/northing in UTM.
    let utm = write(
        dir.path(),
        "baeume.csv",
        "art,rechts,hoch\nLinde,400100.5,5580200.25\n",
    );
    let mut named = job(&utm, "baeume");
    named.x_column = Some("rechts".to_owned());
    named.y_column = Some("hoch".to_owned());
    named.source_srs = Some("EPSG:25832".to_owned());
    vector::import(&mut client, &named).await.unwrap();
    let x: f64 = client
        .query_one("SELECT ST_X(geom) FROM data.baeume", &[])
        .await
        .unwrap()
        .get(0);
    assert!((x - 400_100.5).abs() < 1e-9);
}

#[tokio::test]
async fn invalid_geometries_are_repaired_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    // A bow tie: self-intersecting, invalid.
    let file = write(
        dir.path(),
        "flaechen.geojson",
        r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"n":1},"geometry":{"type":"Polygon","coordinates":[[[7.59,50.35],[7.60,50.36],[7.60,50.35],[7.59,50.36],[7.59,50.35]]]}},
      {"type":"Feature","properties":{"n":2},"geometry":{"type":"Polygon","coordinates":[[[7.59,50.35],[7.60,50.35],[7.60,50.36],[7.59,50.35]]]}}]}"#,
    );
    let mut client = connect(&fresh_database().await).await;
    let s = vector::import(&mut client, &job(&file, "flaechen"))
        .await
        .unwrap();
    assert_eq!((s.written, s.repaired), (2, 1));
    let invalid: i64 = client
        .query_one(
            "SELECT count(*) FROM data.flaechen WHERE NOT ST_IsValid(geom)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(invalid, 0);
    let repaired: serde_json::Value = client
        .query_one(
            "SELECT details FROM catalog.audit_log WHERE subject = 'flaechen'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(repaired["repaired"], 1);
}

#[tokio::test]
async fn replace_is_explicit_atomic_and_dry_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(dir.path(), "brunnen.geojson", GEOJSON);
    let mut client = connect(&fresh_database().await).await;
    vector::import(&mut client, &job(&first, "brunnen"))
        .await
        .unwrap();
    let one_feature = write(
        dir.path(),
        "neu.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"Name":"Neu"},"geometry":{"type":"Point","coordinates":[7.6,50.36]}}]}"#,
    );

    let before = snapshot(&client).await;
    let err = vector::import(&mut client, &job(&one_feature, "brunnen"))
        .await
        .unwrap_err();
    assert!(matches!(err, VectorImportError::AlreadyExists(_)), "{err}");
    let mut dry = job(&one_feature, "brunnen");
    dry.replace = true;
    dry.dry_run = true;
    let s = vector::import(&mut client, &dry).await.unwrap();
    assert!(s.dry_run && s.written == 1);
    assert_eq!(snapshot(&client).await, before);

    // PostGIS refuses a ring that is not closed: the whole import fails, the old data stays.
    let broken = write(
        dir.path(),
        "kaputt.geojson",
        r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"Name":"A"},"geometry":{"type":"Point","coordinates":[7.6,50.36]}},
      {"type":"Feature","properties":{"Name":"B"},"geometry":{"type":"Polygon","coordinates":[[[7.59,50.35],[7.60,50.35],[7.60,50.36]]]}}]}"#,
    );
    let mut replace_broken = job(&broken, "brunnen");
    replace_broken.replace = true;
    let result = vector::import(&mut client, &replace_broken).await;
    if let Err(e) = &result {
        assert!(matches!(e, VectorImportError::Database { .. }), "{e}");
        assert_eq!(snapshot(&client).await, before);
    } else {
        panic!("an unclosed ring was accepted: {result:?}");
    }

    let mut replace = job(&one_feature, "brunnen");
    replace.replace = true;
    replace.title = Some("Brunnen (neu)".to_owned());
    vector::import(&mut client, &replace).await.unwrap();
    let names: Vec<String> = client
        .query("SELECT name FROM data.brunnen", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["Neu"]);
    let c = catalog::get(&client, "brunnen").await.unwrap().unwrap();
    assert_eq!(
        (c.feature_count, c.title.as_str()),
        (Some(1), "Brunnen (neu)")
    );
    let leftovers: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname LIKE '\\_stage\\_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leftovers, 0);
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut client = connect(&fresh_database().await).await;
    let good = write(dir.path(), "brunnen.geojson", GEOJSON);
    vector::import(&mut client, &job(&good, "brunnen"))
        .await
        .unwrap();
    let before = snapshot(&client).await;

    let garbage = write(
        dir.path(),
        "kaputt.geojson",
        "\u{1}\u{2}not a dataset at all",
    );
    let truncated = write(dir.path(), "halb.geojson", &GEOJSON[..GEOJSON.len() / 2]);
    let empty_zip = dir.path().join("leer.zip");
    {
        let py = format!(
            "import zipfile\nz=zipfile.ZipFile('{}','w')\nz.writestr('LIESMICH.txt','nur Text')\nz.close()",
            empty_zip.display()
        );
        assert!(
            Command::new("python3")
                .args(["-c", &py])
                .status()
                .unwrap()
                .success()
        );
    }
    let no_crs = write(dir.path(), "ohne_krs.csv", "name,wkt\nA,\"POINT(1 2)\"\n");
    let empty = write(
        dir.path(),
        "leer.geojson",
        r#"{"type":"FeatureCollection","features":[]}"#,
    );
    let broken_csv = write(
        dir.path(),
        "zitat.csv",
        "name,lat,lon\n\"offen,50.35,7.59\nB,50.36,7.60\n",
    );
    let gpkg = ogr2ogr(&good, &dir.path().join("eins.gpkg"), &["-f", "GPKG"]);

    let mut unknown_crs = job(&good, "x1");
    unknown_crs.source_srs = Some("EPSG:999999".to_owned());
    let mut bad_srs_syntax = job(&good, "x2");
    bad_srs_syntax.source_srs = Some("utm32".to_owned());
    let mut missing_layer = job(&gpkg, "x3");
    missing_layer.layer = Some("gibt_es_nicht".to_owned());
    let cases: Vec<(VectorImport, &str)> = vec![
        (job(&garbage, "x4"), "cannot read"),
        (job(&truncated, "x5"), "cannot read"),
        (job(&dir.path().join("fehlt.shp"), "x6"), "no such file"),
        (job(&empty_zip, "x7"), "contains no vector dataset"),
        (job(&no_crs, "x8"), "no coordinate reference system"),
        (unknown_crs, "unknown coordinate reference system"),
        (bad_srs_syntax, "must look like EPSG:25832"),
        (job(&empty, "x9"), "is empty"),
        (missing_layer, "does not exist"),
        (job(&broken_csv, "x10"), "line"),
        (job(&good, "Kein Id!"), "not a valid collection id"),
    ];
    for (job, expected) in cases {
        let err = vector::import(&mut client, &job)
            .await
            .expect_err(&job.file.display().to_string());
        assert!(
            err.to_string().contains(expected),
            "{}: {err}",
            job.file.display()
        );
        assert_eq!(snapshot(&client).await, before, "{}", job.file.display());
    }
}

#[tokio::test]
async fn column_names_that_are_not_identifiers_are_sanitised() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "spalten.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature",
      "properties":{"ID":"A-1","1. Wert":5,"Größe (m²)":2.5,"select":"x","name":"a","NAME":"b"},
      "geometry":{"type":"Point","coordinates":[7.6,50.36]}}]}"#,
    );
    let mut client = connect(&fresh_database().await).await;
    let s = vector::import(&mut client, &job(&file, "spalten"))
        .await
        .unwrap();
    let names: Vec<String> = column_types(&client, "spalten")
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "id",
            "id_2",
            "f_1_wert",
            "groesse_m",
            "select",
            "name",
            "name_2",
            "geom"
        ]
    );
    assert!(
        s.renamed
            .contains(&("Größe (m²)".to_owned(), "groesse_m".to_owned()))
    );
    let v: String = client
        .query_one("SELECT \"select\" FROM data.spalten", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "x");
}
