//! `import xplan`: our own 5.4 and 6.0 fixtures (arcs, an XPlanArchiv with PDF and scan), the
//! real sample plans when they are there, re-import, documents over HTTP, bad input.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use stadtkarte_core::catalog;
use stadtkarte_importers::xplan::{self, XplanError, XplanImport};
use stadtkarte_tests::{connect, fresh_database, get, test_app};
use tokio_postgres::Client;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/xplan")
        .join(name)
}

pub(crate) fn job(file: &Path) -> XplanImport {
    XplanImport {
        file: file.to_owned(),
        license: "Datenlizenz Deutschland – Namensnennung – Version 2.0".to_owned(),
        attribution: "Stadt Koblenz".to_owned(),
        actor: "test".to_owned(),
        storage_srid: 25832,
    }
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\nnot really pixels";
const PGW: &[u8] = b"0.1\n0\n0\n-0.1\n394000.05\n5578149.95\n";

/// The 6.0 fixture packed as an XPlanArchiv with its plan PDF and georeferenced scan.
pub(crate) fn archive(dir: &Path) -> PathBuf {
    let path = dir.join("moselbogen.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in [
        (
            "xplan.gml",
            std::fs::read(fixture("koblenz-moselbogen_6-0.gml")).unwrap(),
        ),
        ("plan.pdf", PDF.to_vec()),
        ("scan.png", PNG.to_vec()),
        ("scan.pgw", PGW.to_vec()),
    ] {
        zip.start_file(name, options).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_5_4_plan_with_its_zoning() {
    let mut client = connect(&fresh_database().await).await;
    let s = xplan::import(&mut client, &job(&fixture("koblenz-am-weinberg_5-4.gml")))
        .await
        .unwrap();
    assert_eq!(
        (s.version.as_str(), s.plans.as_slice()),
        ("5.4", &["Am Weinberg".to_owned()][..])
    );
    assert_eq!((s.bereiche, s.baugebiete), (1, 2));
    assert_eq!(s.generic, [("BP_GruenFlaeche".to_owned(), 1)]);
    assert_eq!(s.external_links, ["https://www.koblenz.de/pflanzliste"]);
    let plan = client
        .query_one(
            "SELECT name, nummer, rechtsstand, rechtsstand_text, planart_text, gemeinde, ags, ortsteil,
                    inkrafttreten::text, satzungsbeschluss::text, xplan_version, ST_Area(geom), attribute->>'beschreibung'
             FROM plans.bebauungsplaene",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(plan.get::<_, String>(0), "Am Weinberg");
    assert_eq!(plan.get::<_, String>(1), "G 12");
    assert_eq!(plan.get::<_, String>(2), "4000");
    assert_eq!(plan.get::<_, String>(3), "In Kraft getreten");
    assert_eq!(plan.get::<_, String>(4), "Bebauungsplan");
    assert_eq!(plan.get::<_, String>(5), "Koblenz");
    assert_eq!(plan.get::<_, String>(6), "07111000");
    assert_eq!(plan.get::<_, String>(7), "Güls");
    assert_eq!(plan.get::<_, String>(8), "2024-06-01");
    assert_eq!(plan.get::<_, String>(9), "2024-05-14");
    assert_eq!(plan.get::<_, String>(10), "5.4");
    assert!((plan.get::<_, f64>(11) - 30_000.0).abs() < 1e-6);
    assert_eq!(
        plan.get::<_, String>(12),
        "Wohnen am Südhang über der Mosel"
    );
    let zoning = client
        .query(
            "SELECT gml_id, allg_art_text, besondere_art_text, grz, gfz, geschosse_min, geschosse_max, bauweise_text
             FROM plans.baugebiete ORDER BY gml_id",
            &[],
        )
        .await
        .unwrap();
    let mi = &zoning[0];
    assert_eq!(mi.get::<_, String>(0), "MI_1");
    assert_eq!(mi.get::<_, String>(2), "Mischgebiet (MI)");
    assert_eq!(
        (mi.get::<_, Option<i32>>(5), mi.get::<_, Option<i32>>(6)),
        (Some(2), Some(3))
    );
    assert_eq!(mi.get::<_, String>(7), "geschlossene Bauweise");
    let wa = &zoning[1];
    assert_eq!(wa.get::<_, String>(1), "Wohnbaufläche");
    assert_eq!(wa.get::<_, String>(2), "Allgemeines Wohngebiet (WA)");
    assert_eq!(
        (wa.get::<_, Option<f64>>(3), wa.get::<_, Option<f64>>(4)),
        (Some(0.4), Some(0.8))
    );
    assert_eq!(wa.get::<_, Option<i32>>(6), Some(2));
    assert_eq!(wa.get::<_, String>(7), "offene Bauweise");

    let collections = catalog::list(&client).await.unwrap();
    let ids: Vec<&str> = collections.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        ["baugebiete", "bebauungsplaene", "maengel", "petitionen"]
    );
    assert_eq!(collections[0].feature_count, Some(2));
    assert_eq!(collections[1].feature_count, Some(1));
}

#[tokio::test]
async fn a_6_0_archive_with_arcs_documents_and_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let zip = archive(dir.path());
    let (app, state) = test_app().await;
    let mut client = connect(&state.config.database.url).await;
    let s = xplan::import(&mut client, &job(&zip)).await.unwrap();
    assert_eq!(s.version, "6.0");
    let mut documents = s.documents.clone();
    documents.sort();
    assert_eq!(documents, ["plan.pdf", "scan.png"]);

    // The boundary is a 100 m square topped by a half circle of radius 50 m.
    let row = client
        .query_one("SELECT ST_HasArc(geom), ST_NPoints(geom), ST_Area(geom), ST_IsValid(geom) FROM plans.bebauungsplaene", &[])
        .await
        .unwrap();
    assert!(!row.get::<_, bool>(0), "arcs are linearised");
    assert!(row.get::<_, i32>(1) > 20);
    let expected = 10_000.0 + std::f64::consts::PI * 50.0 * 50.0 / 2.0;
    assert!(
        (row.get::<_, f64>(2) - expected).abs() / expected < 0.01,
        "{}",
        row.get::<_, f64>(2)
    );
    assert!(row.get::<_, bool>(3));
    assert_eq!(count(&client, "SELECT count(*) FROM plans.planobjekte WHERE objektart = 'BP_BauGrenze' AND GeometryType(geom) = 'LINESTRING'").await, 1);
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM plans.baugebiete WHERE grz = 0.3 AND geschosse_max = 1"
        )
        .await,
        1
    );

    let list = get(&app, "/plans/PLAN_MOSELBOGEN/dokumente", &[]).await;
    assert_eq!(list.status, 200, "{}", list.text());
    let json = list.json();
    let docs = json["dokumente"].as_array().unwrap();
    assert_eq!(docs.len(), 2);
    let scan = docs.iter().find(|d| d["art"] == "Scan").unwrap();
    assert!(
        scan["georef"]
            .as_str()
            .unwrap()
            .ends_with("/plans/PLAN_MOSELBOGEN/dokumente/scan.pgw")
    );
    let pdf = get(&app, "/plans/PLAN_MOSELBOGEN/dokumente/plan.pdf", &[]).await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.header("content-type"), "application/pdf");
    assert_eq!(&pdf.body[..], PDF);
    let etag = pdf.header("etag").to_owned();
    assert_eq!(
        get(
            &app,
            "/plans/PLAN_MOSELBOGEN/dokumente/plan.pdf",
            &[("if-none-match", &etag)]
        )
        .await
        .status,
        304
    );
    let pgw = get(&app, "/plans/PLAN_MOSELBOGEN/dokumente/scan.pgw", &[]).await;
    assert_eq!(&pgw.body[..], PGW);
    assert_eq!(
        get(&app, "/plans/PLAN_MOSELBOGEN/dokumente/fehlt.pdf", &[])
            .await
            .status,
        404
    );
    assert_eq!(
        get(&app, "/plans/KEIN_PLAN/dokumente", &[]).await.status,
        404
    );
}

#[tokio::test]
async fn importing_a_plan_again_replaces_it() {
    let mut client = connect(&fresh_database().await).await;
    let file = fixture("koblenz-am-weinberg_5-4.gml");
    xplan::import(&mut client, &job(&file)).await.unwrap();
    let again = xplan::import(&mut client, &job(&file)).await.unwrap();
    assert_eq!(again.replaced, 1);
    assert_eq!(
        count(&client, "SELECT count(*) FROM plans.bebauungsplaene").await,
        1
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM plans.baugebiete").await,
        2
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM plans.planobjekte").await,
        1
    );
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM catalog.audit_log WHERE action = 'import.xplan'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn bad_plans_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut client = connect(&fresh_database().await).await;
    xplan::import(&mut client, &job(&fixture("koblenz-am-weinberg_5-4.gml")))
        .await
        .unwrap();
    let snapshot = async |client: &Client| -> String {
        client
            .query_one(
                "SELECT (SELECT md5(coalesce(string_agg(p::text, '|' ORDER BY id), '')) FROM plans.bebauungsplaene p)
                     || (SELECT count(*) FROM plans.baugebiete)::text || (SELECT count(*) FROM catalog.audit_log)::text",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    };
    let before = snapshot(&client).await;
    let plain_gml = dir.path().join("kein_xplan.gml");
    std::fs::write(&plain_gml, r#"<?xml version="1.0"?><gml:FeatureCollection xmlns:gml="http://www.opengis.net/gml/3.2"/>"#).unwrap();
    let truncated = dir.path().join("halb.gml");
    let text = std::fs::read_to_string(fixture("koblenz-am-weinberg_5-4.gml")).unwrap();
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    let zip_without = dir.path().join("ohne.zip");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_without).unwrap());
        zip.start_file("plan.pdf", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(PDF).unwrap();
        zip.finish().unwrap();
    }
    let no_plan = dir.path().join("ohne_plan.gml");
    std::fs::write(&no_plan, text.replace("BP_Plan", "FP_Plan")).unwrap();
    let cases: Vec<(PathBuf, fn(&XplanError) -> bool)> = vec![
        (
            fixture("unsupported_4-1.gml"),
            |e| matches!(e, XplanError::UnsupportedVersion(v) if v == "4.1"),
        ),
        (plain_gml, |e| matches!(e, XplanError::NotXplan(_))),
        (truncated, |e| matches!(e, XplanError::NotXml(_))),
        (zip_without, |e| matches!(e, XplanError::NoPlanInZip(_))),
        (no_plan, |e| matches!(e, XplanError::NoBebauungsplan)),
        (dir.path().join("fehlt.gml"), |e| {
            matches!(e, XplanError::Unreadable { .. })
        }),
    ];
    for (file, expected) in cases {
        let err = xplan::import(&mut client, &job(&file))
            .await
            .expect_err(&file.display().to_string());
        assert!(expected(&err), "{}: {err}", file.display());
        assert_eq!(snapshot(&client).await, before);
    }
}

#[tokio::test]
async fn the_real_sample_plans_import_when_they_are_there() {
    let shared = stadtkarte_tests::shared_data("xplanung").expect(
        "shared/data/xplanung is missing (next to the clone, $STADTKARTE_SHARED_DATA or \
         /work/shared/data): the real XPlanGML sample plans are part of the tests",
    );
    let mut client = connect(&fresh_database().await).await;
    let expect = [
        ("BPlan002_5-4.gml", "5.4", 3, 0),
        ("BPlan002_5-3.zip", "5.3", 1, 2),
        ("BPlan004_6-0.zip", "6.0", 2, 2),
        ("Blankenese29_6-0.gml", "6.0", 42, 0),
    ];
    for (file, version, baugebiete, documents) in expect {
        let s = xplan::import(&mut client, &job(&shared.join(file)))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            (s.version.as_str(), s.baugebiete, s.documents.len()),
            (version, baugebiete, documents),
            "{file}"
        );
    }
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM plans.bebauungsplaene WHERE NOT ST_IsValid(geom) OR geom IS NULL"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM plans.planobjekte WHERE ST_HasArc(geom)"
        )
        .await,
        0
    );
    let pdf: Vec<u8> = client
        .query_one(
            "SELECT inhalt FROM plans.dokumente WHERE datei = 'BPlan004_6-0.pdf'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(pdf.starts_with(b"%PDF"));
}
