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
        license_url: None,
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

/// The feature types with a table of their own, and the tables (the contract with the map).
pub(crate) const TYPED_TABLES: [(&str, &str); 7] = [
    (
        "BP_UeberbaubareGrundstuecksFlaeche",
        "ueberbaubare_flaechen",
    ),
    ("BP_BauGrenze", "baugrenzen"),
    ("BP_BauLinie", "baulinien"),
    ("BP_StrassenVerkehrsFlaeche", "strassenverkehrsflaechen"),
    (
        "BP_VerkehrsflaecheBesondererZweckbestimmung",
        "verkehrsflaechen_besonderer_zweckbestimmung",
    ),
    ("BP_GruenFlaeche", "gruenflaechen"),
    ("BP_GemeinbedarfsFlaeche", "gemeinbedarfsflaechen"),
];

/// The XPlanGML text of a `.gml` file or of an archive's `xplan.gml`.
pub(crate) fn gml_text(file: &Path) -> String {
    let bytes = if file.extension().is_some_and(|e| e == "zip") {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(file).unwrap()).unwrap();
        let mut entry = zip.by_name("xplan.gml").unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        bytes
    } else {
        std::fs::read(file).unwrap()
    };
    String::from_utf8(bytes)
        .unwrap()
        .trim_start_matches('\u{feff}')
        .to_owned()
}

/// How many features of each type with a table of its own the document has, read with
/// roxmltree (not with the importer's parser): table → count.
pub(crate) fn typed_counts(gml: &str) -> std::collections::BTreeMap<String, usize> {
    let doc = roxmltree::Document::parse(gml).unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for node in doc.descendants().filter(|n| {
        n.parent_element().is_some_and(|p| {
            matches!(
                p.tag_name().name(),
                "featureMember" | "member" | "featureMembers"
            )
        })
    }) {
        if let Some((_, table)) = TYPED_TABLES
            .iter()
            .find(|(kind, _)| *kind == node.tag_name().name())
        {
            *counts.entry((*table).to_owned()).or_default() += 1;
        }
    }
    counts
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
    // The green area has a table of its own (until migration 0014 it was a generic object).
    assert!(s.generic.is_empty(), "{:?}", s.generic);
    assert_eq!(s.typed, [("gruenflaechen".to_owned(), 1)]);
    let green = client
        .query_one(
            "SELECT zweckbestimmung, zweckbestimmung_text, plan_id FROM plans.gruenflaechen",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (green.get::<_, String>(0), green.get::<_, String>(1)),
        ("1000".to_owned(), "Parkanlage".to_owned())
    );
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
    let mut ids: Vec<&str> = collections.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "baugebiete",
            "baugrenzen",
            "baulinien",
            "bebauungsplaene",
            "gemeinbedarfsflaechen",
            "gruenflaechen",
            "maengel",
            "petitionen",
            "strassenverkehrsflaechen",
            "ueberbaubare_flaechen",
            "verkehrsflaechen_besonderer_zweckbestimmung",
        ]
    );
    let features = |id: &str| {
        collections
            .iter()
            .find(|c| c.id == id)
            .and_then(|c| c.feature_count)
    };
    assert_eq!(features("baugebiete"), Some(2));
    assert_eq!(features("bebauungsplaene"), Some(1));
    assert_eq!(features("gruenflaechen"), Some(1));
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
    // The building limit lies in its own table now, as a multi-line.
    assert_eq!(count(&client, "SELECT count(*) FROM plans.baugrenzen WHERE GeometryType(geom) = 'MULTILINESTRING' AND plan_id = 'PLAN_MOSELBOGEN'").await, 1);
    assert_eq!(
        count(&client, "SELECT count(*) FROM plans.planobjekte").await,
        0
    );
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
        count(&client, "SELECT count(*) FROM plans.gruenflaechen").await,
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
    let mut all_typed = std::collections::BTreeMap::new();
    for (file, version, baugebiete, documents) in expect {
        let s = xplan::import(&mut client, &job(&shared.join(file)))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            (s.version.as_str(), s.baugebiete, s.documents.len()),
            (version, baugebiete, documents),
            "{file}"
        );
        // Green areas, traffic areas of special purpose, overbuildable areas, building limits
        // and community areas go to their own tables now (no longer to planobjekte).
        let expected = typed_counts(&gml_text(&shared.join(file)));
        let typed: std::collections::BTreeMap<String, usize> = s.typed.iter().cloned().collect();
        assert_eq!(typed, expected, "{file}");
        assert!(
            s.generic
                .iter()
                .all(|(kind, _)| TYPED_TABLES.iter().all(|(k, _)| k != kind)),
            "{file}: {:?}",
            s.generic
        );
        for (table, n) in expected {
            *all_typed.entry(table).or_insert(0) += n;
        }
    }
    assert!(all_typed.len() >= 4, "{all_typed:?}");
    for (table, n) in &all_typed {
        assert_eq!(
            count(&client, &format!("SELECT count(*) FROM plans.{table}")).await,
            i64::try_from(*n).unwrap(),
            "{table}"
        );
        assert_eq!(
            count(
                &client,
                &format!("SELECT count(*) FROM plans.{table} WHERE ST_HasArc(geom) OR geom IS NULL OR ST_IsEmpty(geom)")
            )
            .await,
            0,
            "{table}"
        );
    }
    // The 6.0 samples' purposes sit in a complex type (BP_KomplexeZweckbestGruen/allgemein):
    // the playground of BPlan004 and the school of Blankenese 29 are read from there.
    assert_eq!(
        count(&client, "SELECT count(*) FROM plans.gruenflaechen WHERE zweckbestimmung = '1600' AND zweckbestimmung_text = 'Spielplatz'").await,
        1
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM plans.gemeinbedarfsflaechen WHERE zweckbestimmung = '12000' AND zweckbestimmung_text = 'Schule'").await,
        1
    );
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

/// How many features of one type the document has (read with roxmltree).
fn features_of(gml: &str, kind: &str) -> usize {
    roxmltree::Document::parse(gml)
        .unwrap()
        .descendants()
        .filter(|n| {
            n.tag_name().name() == kind
                && n.attribute(("http://www.opengis.net/gml/3.2", "id"))
                    .is_some()
        })
        .count()
}

#[tokio::test]
async fn the_demo_generator_s_archives_fill_every_typed_table() {
    use stadtkarte_importers::demo;
    use std::collections::BTreeMap;

    let dir = tempfile::tempdir().unwrap();
    let frame = demo::CityFrame::new(&demo::boundary_lonlat().unwrap());
    let archives = demo::plans::write_archives(&frame, 1, dir.path()).unwrap();
    assert_eq!(
        archives.len(),
        demo::plans::PLANS.len(),
        "every plan found a place in its district"
    );
    let mut client = connect(&fresh_database().await).await;
    let mut total: BTreeMap<String, usize> = BTreeMap::new();
    for file in &archives {
        let gml = gml_text(file);
        assert!(gml.contains(r#"xmlns:xplan="http://www.xplanung.de/xplangml/6/0""#));
        let expected = typed_counts(&gml);
        let s = xplan::import(&mut client, &job(file)).await.unwrap();
        assert_eq!((s.version.as_str(), s.plans.len()), ("6.0", 1));
        let typed: BTreeMap<String, usize> = s.typed.iter().cloned().collect();
        assert_eq!(typed, expected, "{}", file.display());
        assert!(s.generic.is_empty(), "{:?}", s.generic);
        assert_eq!(s.baugebiete, features_of(&gml, "BP_BaugebietsTeilFlaeche"));
        assert_eq!(s.bereiche, features_of(&gml, "BP_Bereich"));
        assert_eq!(s.documents.len(), 2, "{:?}", s.documents);
        assert!(s.external_links.is_empty(), "{:?}", s.external_links);
        for (table, n) in expected {
            *total.entry(table).or_default() += n;
        }
    }
    for (_, table) in TYPED_TABLES {
        let n = total.get(table).copied().unwrap_or(0);
        assert!(n > 0, "the demo plans have no {table}");
        assert_eq!(
            count(&client, &format!("SELECT count(*) FROM plans.{table}")).await,
            i64::try_from(n).unwrap(),
            "{table}"
        );
        // Valid, not empty, and inside the plan's Geltungsbereich.
        assert_eq!(
            count(
                &client,
                &format!(
                    "SELECT count(*) FROM plans.{table} t JOIN plans.bebauungsplaene p ON p.id = t.plan_id
                      WHERE NOT ST_IsValid(t.geom) OR ST_IsEmpty(t.geom)
                         OR NOT ST_Covers(ST_Buffer(p.geom, 0.05), t.geom)"
                )
            )
            .await,
            0,
            "{table}"
        );
    }
    // Every code has its German label.
    for (table, column) in [
        (
            "verkehrsflaechen_besonderer_zweckbestimmung",
            "zweckbestimmung",
        ),
        ("gruenflaechen", "zweckbestimmung"),
        ("gruenflaechen", "nutzungsform"),
        ("gemeinbedarfsflaechen", "zweckbestimmung"),
        ("strassenverkehrsflaechen", "nutzungsform"),
    ] {
        assert_eq!(
            count(
                &client,
                &format!("SELECT count(*) FROM plans.{table} WHERE {column} IS NULL OR {column}_text IS NULL")
            )
            .await,
            0,
            "{table}.{column}"
        );
    }
    let labels: Vec<String> = client
        .query(
            "SELECT DISTINCT zweckbestimmung_text FROM plans.gemeinbedarfsflaechen ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(labels.contains(&"Schule".to_owned()), "{labels:?}");
    // A plan's zones tile its Geltungsbereich: zones, special traffic areas, green and
    // community areas and the street area cover it without gaps or overlaps.
    let gap: f64 = client
        .query_one(
            "SELECT max(abs(ST_Area(p.geom) - (
                 SELECT sum(ST_Area(geom)) FROM (
                     SELECT geom FROM plans.baugebiete WHERE plan_id = p.id
                     UNION ALL SELECT geom FROM plans.strassenverkehrsflaechen WHERE plan_id = p.id
                     UNION ALL SELECT geom FROM plans.verkehrsflaechen_besonderer_zweckbestimmung WHERE plan_id = p.id
                     UNION ALL SELECT geom FROM plans.gruenflaechen WHERE plan_id = p.id
                     UNION ALL SELECT geom FROM plans.gemeinbedarfsflaechen WHERE plan_id = p.id) z)))
             FROM plans.bebauungsplaene p",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(gap < 1.0, "zones and plan area differ by {gap} m²");

    // Importing a plan again replaces its typed rows in the same transaction.
    let before = count(&client, "SELECT count(*) FROM plans.baugrenzen").await;
    let again = xplan::import(&mut client, &job(&archives[0]))
        .await
        .unwrap();
    assert_eq!(again.replaced, 1);
    assert_eq!(
        count(&client, "SELECT count(*) FROM plans.baugrenzen").await,
        before
    );
}
