//! Imports lose nothing and accept nothing broken: read errors part-way, malformed CSV, leading
//! zeros, NULL against empty, repaired polygons, inputs left untouched, original column names,
//! settings kept on replace, 3D. Every case replaces a good collection and checks that a
//! refusal leaves it (and its catalog row) exactly as it was, and that the summary adds up.

use std::path::{Path, PathBuf};
use std::process::Command;

use stadtkarte_core::catalog;
use stadtkarte_importers::vector::{self, VectorImport, VectorImportError, VectorSummary};
use stadtkarte_opendata::registry::{self, DatasetInput};
use stadtkarte_tests::{app_with, config_for, connect, fresh_database, get};
use tokio_postgres::Client;

use crate::import_vector::{job, ogr2ogr, snapshot, write};

/// A good collection `id` of three points, imported before each refusal is tried.
const GOOD: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"name":"A","nr":"0001"},"geometry":{"type":"Point","coordinates":[7.59,50.35]}},
 {"type":"Feature","properties":{"name":"B","nr":"0002"},"geometry":{"type":"Point","coordinates":[7.60,50.36]}},
 {"type":"Feature","properties":{"name":"C","nr":"0003"},"geometry":{"type":"Point","coordinates":[7.61,50.37]}}]}"#;

/// Checks that the numbers of a summary add up: read = stored + skipped, the skipped features
/// and lines are each counted once, and the table holds exactly the stored features.
async fn assert_adds_up(client: &Client, s: &VectorSummary) {
    let skipped: u64 = s.skipped.iter().map(|(_, n)| n).sum();
    assert_eq!(
        s.read,
        s.written + skipped,
        "read = stored + skipped: {s:?}"
    );
    let listed = (s.skipped_features.len() + s.skipped_lines.len()) as u64;
    assert_eq!(listed, skipped, "every skipped feature is listed: {s:?}");
    assert!(s.parts_dropped <= s.repaired, "{s:?}");
    if !s.dry_run {
        let stored: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM data.\"{}\"", s.collection),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(stored.cast_unsigned(), s.written, "{s:?}");
    }
}

/// Imports `job`, checks the arithmetic and returns the summary.
async fn import_ok(client: &mut Client, job: &VectorImport) -> VectorSummary {
    let s = vector::import(client, job)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", job.file.display()));
    assert_adds_up(client, &s).await;
    s
}

/// A database holding the good collection `ziel`, and a snapshot of everything.
async fn with_good_collection(dir: &Path) -> (Client, String) {
    let mut client = connect(&fresh_database().await).await;
    let good = write(dir, "gut.geojson", GOOD);
    import_ok(&mut client, &job(&good, "ziel")).await;
    let before = snapshot(&client).await;
    (client, before)
}

/// Tries to replace `ziel` with `file`; asserts the refusal names `expected` and changes nothing.
async fn refused(
    client: &mut Client,
    before: &str,
    mut job: VectorImport,
    expected: &str,
) -> VectorImportError {
    job.replace = true;
    job.collection = Some("ziel".to_owned());
    let err = vector::import(client, &job)
        .await
        .expect_err(&format!("{} must be refused", job.file.display()));
    assert!(
        err.to_string().contains(expected),
        "{}: {err}",
        job.file.display()
    );
    assert_eq!(
        snapshot(client).await,
        before,
        "{}: nothing changed",
        job.file.display()
    );
    err
}

fn python(script: &str, args: &[&Path]) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A GeoPackage of `n` points in the demo area.
fn points_gpkg(dir: &Path, name: &str, n: usize) -> PathBuf {
    let mut csv = String::from("nr,lon,lat\n");
    for i in 0..u32::try_from(n).unwrap() {
        csv.push_str(&format!(
            "{i},{},{}\n",
            7.55 + f64::from(i % 100) * 0.001,
            50.33 + f64::from(i / 100) * 0.001
        ));
    }
    let source = write(dir, &format!("{name}.csv"), &csv);
    ogr2ogr(
        &source,
        &dir.join(format!("{name}.gpkg")),
        &[
            "-f",
            "GPKG",
            "-oo",
            "X_POSSIBLE_NAMES=lon",
            "-oo",
            "Y_POSSIBLE_NAMES=lat",
            "-a_srs",
            "EPSG:4326",
            "-nln",
            name,
        ],
    )
}

#[tokio::test]
async fn a_read_error_part_way_fails_the_import() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, before) = with_good_collection(dir.path()).await;
    let good = points_gpkg(dir.path(), "punkte", 5000);
    // Three leaf pages of the table's b-tree, from the middle, overwritten with garbage: the
    // file opens and announces 5000 features, then SQLite fails part-way.
    let damaged = dir.path().join("beschaedigt.gpkg");
    python(
        r#"
import shutil, sqlite3, sys
src, dst = sys.argv[1], sys.argv[2]
con = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
size = con.execute("PRAGMA page_size").fetchone()[0]
leaves = [r[0] for r in con.execute("SELECT pageno FROM dbstat WHERE name='punkte' AND pagetype='leaf' ORDER BY path")]
con.close()
shutil.copyfile(src, dst)
with open(dst, "r+b") as f:
    for p in leaves[len(leaves) // 2:len(leaves) // 2 + 3]:
        f.seek((p - 1) * size)
        f.write(b"\xab" * size)
"#,
        &[&good, &damaged],
    );
    let err = refused(
        &mut client,
        &before,
        job(&damaged, "ziel"),
        "database disk image is malformed",
    )
    .await;
    match err {
        VectorImportError::ReadFailed { after, .. } => {
            assert!(after > 0 && after < 5000, "{after}");
        }
        other => panic!("{other}"),
    }

    // A count the driver announces but the file does not hold.
    let short = dir.path().join("zaehlung.gpkg");
    std::fs::copy(&good, &short).unwrap();
    python(
        "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nc.execute(\"UPDATE gpkg_ogr_contents SET feature_count=5100\")\nc.commit()",
        &[&short],
    );
    let err = refused(
        &mut client,
        &before,
        job(&short, "ziel"),
        "announces 5100 features, but 5000",
    )
    .await;
    assert!(
        matches!(err, VectorImportError::CountMismatch { .. }),
        "{err}"
    );

    // The undamaged file goes in whole.
    let mut whole = job(&good, "ziel");
    whole.replace = true;
    assert_eq!(import_ok(&mut client, &whole).await.written, 5000);
}

#[tokio::test]
async fn a_csv_with_a_broken_quote_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, before) = with_good_collection(dir.path()).await;
    let mut rows = String::from("name,lat,lon\n");
    for i in 0..30 {
        if i == 2 {
            rows.push_str("\"Offen,50.35,7.59\n");
        } else {
            rows.push_str(&format!("Halt {i},50.3{i:02},7.59\n"));
        }
    }
    let file = write(dir.path(), "zitat.csv", &rows);
    refused(
        &mut client,
        &before,
        job(&file, "ziel"),
        "line 4: an opening quote",
    )
    .await;
    // Not even on request: after an unclosed quote nobody knows where rows end.
    let mut skipping = job(&file, "ziel");
    skipping.skip_bad_rows = true;
    refused(&mut client, &before, skipping, "line 4").await;
}

#[tokio::test]
async fn malformed_csv_rows_are_refused_or_skipped_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, before) = with_good_collection(dir.path()).await;
    let fields = write(
        dir.path(),
        "felder.csv",
        "name;lat;lon\nA;50.35;7.59\nB;50.36;7.60;zu viel\nC;50.37\nD;50,38;7,61\n",
    );
    refused(
        &mut client,
        &before,
        job(&fields, "ziel"),
        "line 3: 4 fields instead of 3",
    )
    .await;
    let coordinate = write(
        dir.path(),
        "koord.csv",
        "name,lat,lon\nA,50.35,7.59\nB,fünfzig,7.60\n",
    );
    refused(
        &mut client,
        &before,
        job(&coordinate, "ziel"),
        "line 3: the coordinate \"fünfzig\" is not a number",
    )
    .await;
    let wkt = write(
        dir.path(),
        "wkt.csv",
        "name,wkt\nA,POINT(400000 5580000)\nB,POINT(400000\n",
    );
    let mut wkt_job = job(&wkt, "ziel");
    wkt_job.source_srs = Some("EPSG:25832".to_owned());
    refused(&mut client, &before, wkt_job.clone(), "line 3: the WKT").await;

    // On request the bad rows are skipped, each reported with its line.
    let mut skipping = job(&fields, "ziel");
    skipping.replace = true;
    skipping.skip_bad_rows = true;
    let s = import_ok(&mut client, &skipping).await;
    assert_eq!((s.read, s.written), (4, 2));
    let lines: Vec<u64> = s.skipped_lines.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [3, 4]);
    assert!(
        s.skipped_lines[1].1.contains("2 fields instead of 3"),
        "{:?}",
        s.skipped_lines
    );
    // The decimal comma of a German spreadsheet is a coordinate, not an error.
    let x: f64 = client
        .query_one(
            "SELECT ST_X(ST_Transform(geom, 4326)) FROM data.ziel WHERE name = 'D'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!((x - 7.61).abs() < 1e-9, "{x}");
    let audit: serde_json::Value = client
        .query_one(
            "SELECT details FROM catalog.audit_log WHERE subject = 'ziel' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audit["skipped_lines"][0]["line"], 3);
}

#[tokio::test]
async fn identifiers_keep_their_leading_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let mut client = connect(&fresh_database().await).await;
    let file = write(
        dir.path(),
        "haltestellen.csv",
        "nr,telefon,einwohner,anteil,betrag,code,linien,seit,lat,lon\n\
         0001,+49 261 1290,\"1.000\",0.5,12,A7,3,2019-05-01,50.35,7.59\n\
         0012,+49 261 1291,\"12.500\",1,\"1,5\",17,12,2020-01-31,50.36,7.60\n",
    );
    import_ok(&mut client, &job(&file, "haltestellen")).await;
    let types = column_types(&client, "haltestellen").await;
    let of = |c: &str| {
        types
            .iter()
            .find(|(n, _)| n == c)
            .map(|(_, t)| t.as_str())
            .unwrap()
    };
    assert_eq!(of("nr"), "text");
    assert_eq!(of("telefon"), "text");
    assert_eq!(of("einwohner"), "text", "thousands separators stay text");
    assert_eq!(of("anteil"), "double precision");
    assert_eq!(of("betrag"), "text", "a decimal comma is not unambiguous");
    assert_eq!(of("code"), "text", "mixed content");
    assert_eq!(of("linien"), "integer");
    assert_eq!(of("seit"), "date");
    let nr: Vec<String> = client
        .query("SELECT nr FROM data.haltestellen ORDER BY nr", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(nr, ["0001", "0012"]);

    // GDAL's .csvt beside the file, and --type, decide instead of the inference.
    let typed_csv = write(
        dir.path(),
        "typen.csv",
        "plz,menge,lat,lon\n56068,7,50.35,7.59\n",
    );
    write(
        dir.path(),
        "typen.csvt",
        "\"String(5)\",\"Real\",\"CoordY\",\"CoordX\"\n",
    );
    import_ok(&mut client, &job(&typed_csv, "typen")).await;
    let types = column_types(&client, "typen").await;
    assert_eq!(types[1], ("plz".to_owned(), "text".to_owned()));
    assert_eq!(
        types[2],
        ("menge".to_owned(), "double precision".to_owned())
    );
    let plain = write(
        dir.path(),
        "plain.csv",
        "plz,menge,lat,lon\n56068,7,50.35,7.59\n",
    );
    let mut forced = job(&plain, "plain");
    forced.types = vec![("plz".to_owned(), "text".to_owned())];
    import_ok(&mut client, &forced).await;
    let types = column_types(&client, "plain").await;
    assert_eq!(types[1].1, "text");
    assert_eq!(types[2].1, "integer");
    let mut unknown = job(&plain, "plain2");
    unknown.types = vec![("gibtsnicht".to_owned(), "text".to_owned())];
    let err = vector::import(&mut client, &unknown).await.unwrap_err();
    assert!(
        err.to_string().contains("no column \"gibtsnicht\""),
        "{err}"
    );
    // A .csvt type that a value does not fit is refused with the line.
    let wrong = write(
        dir.path(),
        "falsch.csv",
        "menge,lat,lon\n7,50.35,7.59\nsieben,50.36,7.60\n",
    );
    write(dir.path(), "falsch.csvt", "Integer,CoordY,CoordX\n");
    let err = vector::import(&mut client, &job(&wrong, "falsch"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("line 3: column \"menge\""),
        "{err}"
    );
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
async fn null_and_the_empty_string_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let mut client = connect(&fresh_database().await).await;
    // Per feature: null, absent, and empty for a text property; null and absent for the rest.
    let geojson = write(
        dir.path(),
        "hinweise.geojson",
        r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"n":1,"hinweis":null,"anzahl":null,"seit":null,"offen":null},"geometry":{"type":"Point","coordinates":[7.59,50.35]}},
 {"type":"Feature","properties":{"n":2},"geometry":{"type":"Point","coordinates":[7.59,50.35]}},
 {"type":"Feature","properties":{"n":3,"hinweis":"","anzahl":0,"seit":"2020-01-01","offen":false},"geometry":{"type":"Point","coordinates":[7.59,50.35]}},
 {"type":"Feature","properties":{"n":4,"hinweis":"x","anzahl":5,"seit":"2021-01-01","offen":true},"geometry":{"type":"Point","coordinates":[7.59,50.35]}}]}"#,
    );
    let gpkg = ogr2ogr(&geojson, &dir.path().join("hinweise.gpkg"), &["-f", "GPKG"]);
    let csv = write(
        dir.path(),
        "hinweise.csv",
        "n,hinweis,anzahl,lat,lon\n1,,,50.35,7.59\n2,,,50.35,7.59\n3,\"\",0,50.35,7.59\n4,x,5,50.35,7.59\n",
    );
    let expected = [
        "1|NULL|NULL|NULL|NULL",
        "2|NULL|NULL|NULL|NULL",
        "3|''|'0'|'2020-01-01'|'false'",
        "4|'x'|'5'|'2021-01-01'|'true'",
    ];
    for (file, id) in [(&geojson, "aus_geojson"), (&gpkg, "aus_gpkg")] {
        import_ok(&mut client, &job(file, id)).await;
        let rows: Vec<String> = client
            .query(
                &format!(
                    "SELECT concat_ws('|', n, quote_nullable(hinweis), quote_nullable(anzahl), quote_nullable(seit), quote_nullable(offen))
                     FROM data.{id} ORDER BY n"
                ),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(rows, expected, "{id}");
    }
    import_ok(&mut client, &job(&csv, "aus_csv")).await;
    let rows: Vec<String> = client
        .query(
            "SELECT concat_ws('|', n, quote_nullable(hinweis), quote_nullable(anzahl)) FROM data.aus_csv ORDER BY n",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        rows,
        ["1|NULL|NULL", "2|NULL|NULL", "3|''|'0'", "4|'x'|'5'"]
    );
}

#[tokio::test]
async fn a_repaired_polygon_stays_a_polygon() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, before) = with_good_collection(dir.path()).await;
    // 1 a bow tie (two triangles), 2 a valid square, 3 a square with a dangling spike (repair
    // gives a polygon and a line), 4 a "polygon" on one straight line (repair gives only a line),
    // 5 a valid multipolygon.
    let file = write(
        dir.path(),
        "flaechen.csv",
        "n,wkt\n\
         1,\"POLYGON((400000 5580000,400010 5580010,400010 5580000,400000 5580010,400000 5580000))\"\n\
         2,\"POLYGON((400100 5580000,400110 5580000,400110 5580010,400100 5580010,400100 5580000))\"\n\
         3,\"POLYGON((400200 5580000,400210 5580000,400210 5580010,400200 5580010,400200 5580005,400195 5580005,400200 5580005,400200 5580000))\"\n\
         4,\"POLYGON((400300 5580000,400310 5580000,400320 5580000,400300 5580000))\"\n\
         5,\"MULTIPOLYGON(((400400 5580000,400410 5580000,400410 5580010,400400 5580000)),((400420 5580000,400430 5580000,400430 5580010,400420 5580000)))\"\n",
    );
    let mut replace = job(&file, "ziel");
    replace.replace = true;
    replace.source_srs = Some("EPSG:25832".to_owned());
    let s = import_ok(&mut client, &replace).await;
    assert_eq!(
        (s.read, s.written, s.repaired, s.parts_dropped),
        (5, 4, 2, 1),
        "{s:?}"
    );
    assert_eq!(s.skipped_features.len(), 1);
    assert_eq!(s.skipped_features[0].0, "4");
    assert!(
        s.skipped_features[0].1.contains("keine Fläche"),
        "{:?}",
        s.skipped_features
    );
    assert_eq!(s.geometry_type, "MultiPolygon");
    let types: Vec<String> = client
        .query("SELECT DISTINCT GeometryType(geom) FROM data.ziel", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        types,
        ["MULTIPOLYGON"],
        "uniform, and no GEOMETRYCOLLECTION"
    );
    let invalid: i64 = client
        .query_one(
            "SELECT count(*) FROM data.ziel WHERE NOT ST_IsValid(geom)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(invalid, 0);
    let c = catalog::get(&client, "ziel").await.unwrap().unwrap();
    assert_eq!(c.geometry_type, "MultiPolygon");
    assert_ne!(snapshot(&client).await, before);
}

#[tokio::test]
async fn an_import_never_writes_next_to_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut client = connect(&fresh_database().await).await;
    let source = write(dir.path(), "quelle.geojson", GOOD);
    let folder = dir.path().join("nur-lesen");
    std::fs::create_dir(&folder).unwrap();
    ogr2ogr(&source, &folder.join("punkte.gml"), &["-f", "GML"]);
    // Without its .xsd GDAL would write a .gfs schema file beside the GML.
    std::fs::remove_file(folder.join("punkte.xsd")).unwrap();
    // A GeoPackage in write-ahead-log mode with an uncheckpointed log beside it.
    let gpkg = ogr2ogr(
        &source,
        &folder.join("punkte.gpkg"),
        &["-f", "GPKG", "-nln", "punkte", "-lco", "SPATIAL_INDEX=NO"],
    );
    python(
        r#"
import sqlite3, sys, shutil, os
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA journal_mode=WAL")
c.execute("PRAGMA wal_autocheckpoint=0")
c.execute("INSERT INTO punkte (name, nr) VALUES ('D', '0004')")
c.commit()
# Keep the log as it is now: copy it aside before closing checkpoints it.
shutil.copyfile(sys.argv[1] + "-wal", sys.argv[1] + "-wal.keep")
c.close()
os.replace(sys.argv[1] + "-wal.keep", sys.argv[1] + "-wal")
"#,
        &[&gpkg],
    );
    let listing = |folder: &Path| -> Vec<(String, u64, std::time::SystemTime, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let m = e.metadata().unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    m.len(),
                    m.modified().unwrap(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let mut perms = std::fs::metadata(&folder).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(&folder, perms).unwrap();
    let before = listing(&folder);
    assert!(
        before.iter().any(|f| f.0 == "punkte.gpkg-wal"),
        "the test's log exists"
    );
    let s = import_ok(&mut client, &job(&folder.join("punkte.gml"), "aus_gml")).await;
    assert_eq!(s.written, 3);
    let s = import_ok(&mut client, &job(&gpkg, "aus_gpkg")).await;
    assert_eq!(s.written, 4, "the rows in the write-ahead log are read too");
    assert_eq!(
        listing(&folder),
        before,
        "no file added, changed or touched"
    );
}

#[tokio::test]
async fn the_original_column_names_stay_visible() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database().await;
    let mut client = connect(&url).await;
    let file = write(
        dir.path(),
        "gebaeude.geojson",
        r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"Gebäudefunktion":"Wohnhaus","Fläche m²":120.5,"Baujahr":"1962"},"geometry":{"type":"Point","coordinates":[7.59,50.35]}},
 {"type":"Feature","properties":{"Gebäudefunktion":"Schule","Fläche m²":800,"Baujahr":""},"geometry":{"type":"Point","coordinates":[7.60,50.36]}}]}"#,
    );
    let s = import_ok(&mut client, &job(&file, "haeuser")).await;
    assert!(
        s.renamed
            .contains(&("Gebäudefunktion".to_owned(), "gebaeudefunktion".to_owned()))
    );
    let config = config_for(&url);
    registry::add(
        &client,
        "haeuser",
        &DatasetInput {
            title: Some("Häuser".to_owned()),
            description: Some("Testdaten".to_owned()),
            collections: Some(vec!["haeuser".to_owned()]),
            ..DatasetInput::default()
        },
        &stadtkarte::dataset_defaults(&config),
        "test",
    )
    .await
    .unwrap();
    let (app, _) = app_with(config.clone()).await;

    let q = get(&app, "/collections/haeuser/queryables?f=json", &[])
        .await
        .json();
    assert_eq!(
        q["properties"]["gebaeudefunktion"]["title"],
        "Gebäudefunktion"
    );
    assert_eq!(q["properties"]["flaeche_m"]["title"], "Fläche m²");
    let page = get(&app, "/collections/haeuser/items?f=html", &[])
        .await
        .text();
    assert!(page.contains("<th scope=\"col\">Fläche m²</th>"), "{page}");
    let item = get(&app, "/collections/haeuser/items/0?f=html", &[])
        .await
        .text();
    assert!(
        item.contains("<th scope=\"row\">Gebäudefunktion</th>"),
        "{item}"
    );

    let csv = get(&app, "/opendata/haeuser/haeuser.csv", &[]).await;
    assert_eq!(csv.status, 200);
    let text = csv.text();
    let header = text
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(header, "id,Gebäudefunktion,Fläche m²,Baujahr,wkt,lat,lon");
    assert!(
        text.contains(",Schule,800,\"\","),
        "the empty string is quoted: {text}"
    );

    let gpkg = get(&app, "/opendata/haeuser/haeuser.gpkg", &[]).await;
    assert_eq!(gpkg.status, 200);
    let path = dir.path().join("download.gpkg");
    std::fs::write(&path, &gpkg.body).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nfor r in c.execute(\"SELECT column_name, name FROM gpkg_data_columns WHERE table_name='haeuser' ORDER BY column_name\"): print(r[0] + '=' + r[1])",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "baujahr=Baujahr\nflaeche_m=Fläche m²\ngebaeudefunktion=Gebäudefunktion\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_replace_keeps_the_collection_settings() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database().await;
    let mut client = connect(&url).await;
    let with_date = |name: &str, dates: &[&str]| {
        let features: Vec<String> = dates
            .iter()
            .enumerate()
            .map(|(i, d)| {
                format!(
                    r#"{{"type":"Feature","properties":{{"name":"H{i}","fertigstellung":"{d}"}},"geometry":{{"type":"Point","coordinates":[7.59,50.35]}}}}"#
                )
            })
            .collect();
        write(
            dir.path(),
            name,
            &format!(
                r#"{{"type":"FeatureCollection","features":[{}]}}"#,
                features.join(",")
            ),
        )
    };
    let first = with_date("a.geojson", &["1950-01-01", "2001-06-01"]);
    import_ok(&mut client, &job(&first, "bauten")).await;
    client
        .batch_execute(
            "UPDATE catalog.collections SET temporal_column = 'fertigstellung', min_zoom = 14, max_zoom = 18,
                 publish_tiles = false, title = 'Bauten der Stadt', keywords = '{Gebäude}',
                 license = 'Creative Commons Namensnennung 4.0', license_url = 'https://creativecommons.org/licenses/by/4.0/'
             WHERE id = 'bauten'",
        )
        .await
        .unwrap();
    let config = config_for(&url);
    registry::add(
        &client,
        "bauten",
        &DatasetInput {
            title: Some("Bauten".to_owned()),
            description: Some("Testdaten".to_owned()),
            collections: Some(vec!["bauten".to_owned()]),
            ..DatasetInput::default()
        },
        &stadtkarte::dataset_defaults(&config),
        "test",
    )
    .await
    .unwrap();
    let settings = "SELECT temporal_column, min_zoom, max_zoom, publish_tiles, title, keywords, license, license_url
                    FROM catalog.collections WHERE id = 'bauten'";
    let read = async |client: &Client| client.query_one(settings, &[]).await.unwrap();
    let kept = read(&client).await;

    let second = with_date("b.geojson", &["1890-01-01", "1960-01-01", "2010-01-01"]);
    let mut replace = job(&second, "bauten");
    replace.replace = true;
    let s = import_ok(&mut client, &replace).await;
    assert!(s.dropped_settings.is_empty(), "{:?}", s.dropped_settings);
    assert!(
        s.kept_settings
            .iter()
            .any(|k| k.contains("Zeitspalte »fertigstellung«")),
        "{:?}",
        s.kept_settings
    );
    let after = read(&client).await;
    assert_eq!(
        after.get::<_, Option<String>>(0),
        kept.get::<_, Option<String>>(0)
    );
    assert_eq!(after.get::<_, i16>(1), 14);
    assert_eq!(after.get::<_, i16>(2), 18);
    assert!(!after.get::<_, bool>(3));
    assert_eq!(after.get::<_, String>(4), "Bauten der Stadt");
    assert_eq!(after.get::<_, Vec<String>>(5), ["Gebäude"]);
    assert_eq!(
        after.get::<_, String>(6),
        "Creative Commons Namensnennung 4.0"
    );
    assert_eq!(
        after.get::<_, Option<String>>(7).as_deref(),
        Some("https://creativecommons.org/licenses/by/4.0/")
    );
    let linked: i64 = client
        .query_one(
            "SELECT count(*) FROM catalog.dataset_collections WHERE collection_id = 'bauten'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(linked, 1);
    // The datetime filter still filters.
    let (app, _) = app_with(config).await;
    let items = get(
        &app,
        "/collections/bauten/items?datetime=1900-01-01/1970-01-01&f=json",
        &[],
    )
    .await
    .json();
    assert_eq!(items["numberReturned"], 1, "{items}");

    // A file without the column: the temporal column is dropped, and the summary says why.
    let third = write(
        dir.path(),
        "c.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"X"},"geometry":{"type":"Point","coordinates":[7.59,50.35]}}]}"#,
    );
    let mut replace = job(&third, "bauten");
    replace.replace = true;
    let s = import_ok(&mut client, &replace).await;
    assert_eq!(s.dropped_settings.len(), 1, "{:?}", s.dropped_settings);
    assert!(
        s.dropped_settings[0].0.contains("fertigstellung")
            && s.dropped_settings[0].1.contains("no such column")
    );
    assert_eq!(read(&client).await.get::<_, Option<String>>(0), None);
    assert_eq!(read(&client).await.get::<_, i16>(1), 14, "the rest stays");
}

#[tokio::test]
async fn an_imagery_id_is_not_a_collection_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut client = connect(&fresh_database().await).await;
    client
        .batch_execute(
            "INSERT INTO catalog.imagery (id, title, year, license, attribution, grayscale, resolution_m, footprint,
                 min_zoom, max_zoom, version, levels, source_bytes, storage_bytes)
             VALUES ('luftbild-1996', 'Luftbild 1996', 1996, 'dl-by-de/2.0', 'Stadt', false, 0.4,
                 ST_Multi(ST_MakeEnvelope(7.5, 50.3, 7.7, 50.4, 4326)), 10, 18, 'v1', '[]', 1, 1)",
        )
        .await
        .unwrap();
    let before = snapshot(&client).await;
    let file = write(dir.path(), "x.geojson", GOOD);
    let mut clash = job(&file, "luftbild-1996");
    clash.replace = true;
    let err = vector::import(&mut client, &clash).await.unwrap_err();
    assert!(matches!(err, VectorImportError::UsedByImagery(_)), "{err}");
    assert!(err.to_string().contains("aerial-imagery epoch"), "{err}");
    assert_eq!(snapshot(&client).await, before);
}

#[tokio::test]
async fn z_coordinates_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database().await;
    let mut client = connect(&url).await;
    let file = write(
        dir.path(),
        "daecher.geojson",
        r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"n":1},"geometry":{"type":"Polygon","coordinates":[[[7.5905,50.3503,70.5],[7.5907,50.3503,70.5],[7.5907,50.3505,74.25],[7.5905,50.3503,70.5]]]}}]}"#,
    );
    let s = import_ok(&mut client, &job(&file, "daecher")).await;
    assert!(s.three_d);
    let row = client
        .query_one(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'data.daecher'::regclass AND attname = 'geom'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "geometry(GeometryZ,25832)");
    let (app, _) = app_with(config_for(&url)).await;
    let page = get(&app, "/collections/daecher/items?f=json", &[])
        .await
        .json();
    let f = &page["features"][0];
    let ring = &f["geometry"]["coordinates"][0];
    assert_eq!(ring[2].as_array().unwrap().len(), 3, "{f}");
    assert!((ring[2][2].as_f64().unwrap() - 74.25).abs() < 1e-6, "{f}");
    // Tiles stay 2D: the tile over the roof renders.
    let tile = get(&app, "/tiles/daecher/16/34149/22126", &[]).await;
    assert_eq!(tile.status, 200);
}
