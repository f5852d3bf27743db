//! Downloads: GeoJSON and CSV that GDAL and Python's csv module read, with the right counts,
//! CRS and umlauts; ETag/304; clear errors.

use stadtkarte_importers::demo::{self, DemoOptions};
use stadtkarte_opendata::registry;
use stadtkarte_tests::{app_with, config_for, connect, fresh_database, get};

async fn app() -> (axum::Router, tokio_postgres::Client) {
    let url = fresh_database().await;
    let mut client = connect(&url).await;
    demo::load(&mut client, DemoOptions::default(), |_| {})
        .await
        .unwrap();
    let config = config_for(&url);
    registry::fill_demo(&client, &stadtkarte::dataset_defaults(&config))
        .await
        .unwrap();
    (app_with(config).await.0, client)
}

#[tokio::test]
async fn geojson_and_csv_open_in_real_readers() {
    let (app, client) = app().await;
    let count: i64 = client
        .query_one("SELECT count(*) FROM data.poi", &[])
        .await
        .unwrap()
        .get(0);

    let geojson = get(&app, "/opendata/orte/poi.geojson", &[]).await;
    assert_eq!(geojson.status, 200);
    assert_eq!(geojson.header("content-type"), "application/geo+json");
    assert!(
        geojson
            .header("content-disposition")
            .starts_with("attachment; filename=\"orte-poi-20")
    );
    let doc = geojson.json();
    assert!(doc.get("crs").is_none(), "RFC 7946: no crs member");
    let features = doc["features"].as_array().unwrap();
    assert_eq!(features.len() as i64, count);
    for f in features {
        let c = &f["geometry"]["coordinates"];
        let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!(
            (7.4..7.8).contains(&lon) && (50.2..50.5).contains(&lat),
            "lon/lat order: {c}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("poi.geojson");
    std::fs::write(&file, &geojson.body).unwrap();
    let out = tokio::process::Command::new("ogrinfo")
        .args(["-ro", "-al", "-so"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(info.contains(&format!("Feature Count: {count}")), "{info}");
    assert!(info.contains("WGS 84"), "{info}");
    let out = tokio::process::Command::new("ogrinfo")
        .args([
            "-ro",
            "-al",
            "-geom=NO",
            "-where",
            "funktion = 'Öffentliche Toilette'",
        ])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Öffentliche Toilette"),
        "umlauts survive"
    );

    let csv = get(&app, "/opendata/orte/poi.csv", &[]).await;
    assert_eq!(csv.header("content-type"), "text/csv; charset=utf-8");
    assert!(
        csv.body.starts_with(b"\xEF\xBB\xBF"),
        "a BOM for spreadsheets"
    );
    let path = dir.path().join("poi.csv");
    std::fs::write(&path, &csv.body).unwrap();
    let script = format!(
        "import csv\nrows = list(csv.DictReader(open('{}', encoding='utf-8-sig', newline='')))\n\
         assert list(rows[0].keys()) == ['id', 'name', 'funktion', 'stadtteil', 'wkt', 'lat', 'lon'], list(rows[0].keys())\n\
         assert all(r['wkt'].startswith('POINT(7.') and 50.2 < float(r['lat']) < 50.5 for r in rows)\n\
         assert any(r['funktion'] == 'Öffentliche Toilette' for r in rows)\n\
         print(len(rows))\n",
        path.display()
    );
    let out = tokio::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        count.to_string()
    );

    // Polygons: WKT, no lat/lon.
    let districts = get(&app, "/opendata/stadtteile/stadtteile.csv", &[])
        .await
        .text();
    assert!(districts.lines().nth(1).unwrap().contains("MULTIPOLYGON"));
}

#[tokio::test]
async fn etag_and_errors() {
    let (app, _) = app().await;
    let first = get(&app, "/opendata/gewaesser/gewaesser.geojson", &[]).await;
    let etag = first.header("etag").to_owned();
    assert!(!etag.is_empty());
    assert_eq!(
        get(
            &app,
            "/opendata/gewaesser/gewaesser.geojson",
            &[("if-none-match", &etag)]
        )
        .await
        .status,
        304
    );
    assert_eq!(
        get(&app, "/opendata/gibtsnicht/poi.geojson", &[])
            .await
            .status,
        404
    );
    assert_eq!(
        get(&app, "/opendata/gewaesser/poi.geojson", &[])
            .await
            .status,
        404,
        "not a collection of this dataset"
    );
    let xlsx = get(&app, "/opendata/gewaesser/gewaesser.xlsx", &[]).await;
    assert_eq!(xlsx.status, 406);
    let detail = xlsx.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("geojson, csv, gpkg, shp.zip, fgb, kml"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_made_by_gdal_open_with_the_right_crs_and_counts() {
    let (app, client) = app().await;
    let count: i64 = client
        .query_one("SELECT count(*) FROM data.poi", &[])
        .await
        .unwrap()
        .get(0);
    let dir = tempfile::tempdir().unwrap();
    for (ext, crs) in [
        ("gpkg", "ETRS89 / UTM zone 32N"),
        ("fgb", "WGS 84"),
        ("kml", "WGS 84"),
        ("shp.zip", "ETRS89 / UTM zone 32N"),
    ] {
        let r = get(&app, &format!("/opendata/orte/poi.{ext}"), &[]).await;
        assert_eq!(r.status, 200, "{ext}: {}", r.text());
        assert!(
            r.header("content-disposition")
                .ends_with(&format!(".{ext}\"")),
            "{ext}"
        );
        let file = dir.path().join(format!("poi.{ext}"));
        std::fs::write(&file, &r.body).unwrap();
        let source = if ext == "shp.zip" {
            format!("/vsizip/{}", file.display())
        } else {
            file.display().to_string()
        };
        let out = tokio::process::Command::new("ogrinfo")
            .args(["-ro", "-al", "-so", &source])
            .output()
            .await
            .unwrap();
        let info = String::from_utf8_lossy(&out.stdout);
        assert!(
            info.contains(&format!("Feature Count: {count}")),
            "{ext}: {info}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(info.contains(crs), "{ext}: {info}");
        let out = tokio::process::Command::new("ogrinfo")
            .args([
                "-ro",
                "-al",
                "-geom=NO",
                "-where",
                "funktion = 'Öffentliche Toilette'",
                &source,
            ])
            .output()
            .await
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Öffentliche Toilette"),
            "{ext}: umlauts"
        );
        // The second request is served from the cache: the same bytes.
        assert_eq!(
            get(&app, &format!("/opendata/orte/poi.{ext}"), &[])
                .await
                .body,
            r.body,
            "{ext}"
        );
    }
    // Shapefile: .prj and .cpg, and the shortened field names listed.
    let r = get(&app, "/opendata/gebaeude/gebaeude.shp.zip", &[]).await;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.body.to_vec())).unwrap();
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().to_owned())
        .collect();
    for needed in [
        "gebaeude.shp",
        "gebaeude.dbf",
        "gebaeude.shx",
        "gebaeude.prj",
        "gebaeude.cpg",
        "LIESMICH.txt",
    ] {
        assert!(names.iter().any(|n| n == needed), "{needed} in {names:?}");
    }
    let mut readme = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("LIESMICH.txt").unwrap(), &mut readme).unwrap();
    assert!(readme.contains("fertigstellung to fertigstel"), "{readme}");
}

/// The fields of a FlatGeobuf header this test checks, read from the bytes as the format
/// defines them (a size-prefixed flatbuffer after the eight magic bytes), independently of the
/// writer: (`features_count`, `index_node_size`, where the index starts).
fn fgb_header(bytes: &[u8]) -> (u64, u16, usize) {
    let u16_at = |p: usize| u16::from_le_bytes(bytes[p..p + 2].try_into().unwrap());
    let u32_at = |p: usize| u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap());
    assert_eq!(&bytes[..8], b"fgb\x03fgb\x00", "magic bytes");
    let size = u32_at(8) as usize;
    let base = 12;
    let table = base + u32_at(base) as usize;
    let soffset = i32::from_le_bytes(bytes[table..table + 4].try_into().unwrap());
    let vtable = table
        .checked_add_signed(-isize::try_from(soffset).unwrap())
        .unwrap();
    let vtable_len = usize::from(u16_at(vtable));
    // Field n's offset in the table is the vtable's (2 + n)-th u16; 0 = absent (the default).
    let field = |n: usize| -> Option<usize> {
        let at = vtable + 4 + 2 * n;
        (at < vtable + vtable_len)
            .then(|| usize::from(u16_at(at)))
            .filter(|&o| o != 0)
            .map(|o| table + o)
    };
    // Schema order: name, envelope, geometry_type, has_z, has_m, has_t, has_tm, columns,
    // features_count (8), index_node_size (9, default 16).
    let count = field(8).map_or(0, |p| {
        u64::from_le_bytes(bytes[p..p + 8].try_into().unwrap())
    });
    let node_size = field(9).map_or(16, u16_at);
    (count, node_size, base + size)
}

/// FlatGeobuf is written in-process with its packed Hilbert R-tree, whatever the size: GDAL
/// reads every feature with its fields and CRS, the header announces the index, and a box
/// filter — answered through the index — returns exactly the buildings PostGIS finds in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flatgeobuf_has_a_spatial_index_that_gdal_uses() {
    let (app, client) = app().await;
    let count: i64 = client
        .query_one("SELECT count(*) FROM data.gebaeude", &[])
        .await
        .unwrap()
        .get(0);
    assert!(count > 1000, "{count} buildings: the tree has three levels");
    let r = get(&app, "/opendata/gebaeude/gebaeude.fgb", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), "application/flatgeobuf");
    let (features, node_size, index_start) = fgb_header(&r.body);
    assert_eq!(features, u64::try_from(count).unwrap());
    assert_eq!(node_size, 16, "the header announces the packed R-tree");
    // The tree's size follows from the count (levels of ceil(n / 16) up to one root, 40 bytes a
    // node); the first feature starts right after it with its own size prefix.
    let leaves = usize::try_from(count).unwrap();
    let (mut nodes, mut n) = (leaves, leaves);
    loop {
        n = n.div_ceil(16);
        nodes += n;
        if n == 1 {
            break;
        }
    }
    let first = index_start + nodes * 40;
    let first_size = u32::from_le_bytes(r.body[first..first + 4].try_into().unwrap()) as usize;
    assert!(
        first_size > 0 && first + 4 + first_size < r.body.len(),
        "a feature follows the tree"
    );
    // The root's box is the data's extent in WGS 84.
    let root: Vec<f64> = (0..4)
        .map(|i| {
            f64::from_le_bytes(
                r.body[index_start + 8 * i..index_start + 8 * i + 8]
                    .try_into()
                    .unwrap(),
            )
        })
        .collect();
    assert!(
        (7.4..7.8).contains(&root[0]) && (50.2..50.5).contains(&root[1]),
        "{root:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gebaeude.fgb");
    std::fs::write(&file, &r.body).unwrap();
    let out = tokio::process::Command::new("ogrinfo")
        .args(["-ro", "-al", "-so"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(info.contains(&format!("Feature Count: {count}")), "{info}");
    assert!(info.contains("Geometry: Polygon"), "{info}");
    assert!(info.contains("WGS 84"), "{info}");
    for field in [
        "id: Integer64 (0.0) NOT NULL",
        "funktion: String",
        "geschosse: Integer(Int16)",
        "hoehe: Real(Float32)",
        "fertigstellung: DateTime",
        "alternative name=\"Geschosse\"",
    ] {
        assert!(info.contains(field), "{field}: {info}");
    }

    // A box around the city centre: PostGIS's answer against GDAL's through the index.
    let boxed = client
        .query_one(
            "WITH e AS (SELECT ST_Extent(ST_Transform(geom, 4326)) AS b FROM data.gebaeude)
             SELECT ST_XMin(b) + (ST_XMax(b) - ST_XMin(b)) * 0.45, ST_YMin(b) + (ST_YMax(b) - ST_YMin(b)) * 0.45,
                    ST_XMin(b) + (ST_XMax(b) - ST_XMin(b)) * 0.55, ST_YMin(b) + (ST_YMax(b) - ST_YMin(b)) * 0.55 FROM e",
            &[],
        )
        .await
        .unwrap();
    let b: Vec<f64> = (0..4).map(|i| boxed.get(i)).collect();
    let expected: Vec<i64> = client
        .query(
            "SELECT id FROM data.gebaeude
             WHERE ST_Intersects(ST_Transform(geom, 4326), ST_MakeEnvelope($1, $2, $3, $4, 4326)) ORDER BY id",
            &[&b[0], &b[1], &b[2], &b[3]],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        !expected.is_empty() && (expected.len() as i64) < count / 4,
        "{} of {count} in the box",
        expected.len()
    );
    let spat: Vec<String> = b.iter().map(f64::to_string).collect();
    let out = tokio::process::Command::new("ogrinfo")
        .args(["-ro", "-al", "-geom=NO", "-spat"])
        .args(&spat)
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut found: Vec<i64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("id (Integer64) = "))
        .map(|v| v.parse().unwrap())
        .collect();
    found.sort_unstable();
    assert_eq!(found, expected, "the features in the box");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ckanapi_reads_the_ckan_subset() {
    let (app, _) = app().await;
    let port = stadtkarte_tests::serve(app.clone()).await;
    let script = format!(
        "import ckanapi\n\
         ckan = ckanapi.RemoteCKAN('http://127.0.0.1:{port}')\n\
         assert ckan.action.status_show()['site_title'].startswith('Stadtkarte')\n\
         names = ckan.action.package_list()\n\
         assert names == ['gebaeude', 'gewaesser', 'orte', 'stadtteile', 'strassen'], names\n\
         seen = []\n\
         start = 0\n\
         while True:\n\
         \x20   page = ckan.action.package_search(rows=2, start=start, sort='name asc')\n\
         \x20   if not page['results']: break\n\
         \x20   seen += [p['name'] for p in page['results']]\n\
         \x20   start += 2\n\
         assert seen == names, seen\n\
         assert page['count'] == 5\n\
         orte = ckan.action.package_show(id='orte')\n\
         assert orte['license_id'] == 'dl-by-de/2.0'\n\
         formats = sorted(r['format'] for r in orte['resources'])\n\
         assert formats == ['CSV', 'FlatGeobuf', 'GPKG', 'GeoJSON', 'KML', 'OGC API Features', 'PMTiles', 'SHP'], formats\n\
         tran = ckan.action.package_search(fq='groups:tran')\n\
         assert sorted(p['name'] for p in tran['results']) == ['orte', 'strassen'], tran\n\
         tagged = ckan.action.package_search(fq='tags:Schule')\n\
         assert [p['name'] for p in tagged['results']] == ['orte']\n\
         found = ckan.action.package_search(q='Rhein')\n\
         assert [p['name'] for p in found['results']] == ['gewaesser'], found\n\
         assert ckan.action.group_list() == ['educ', 'envi', 'gove', 'regi', 'soci', 'tran']\n\
         try:\n\
         \x20   ckan.action.package_show(id='gibtsnicht')\n\
         \x20   raise SystemExit('no NotFound')\n\
         except ckanapi.NotFound:\n\
         \x20   pass\n\
         print('ok')\n"
    );
    let out = tokio::process::Command::new(stadtkarte_tests::python())
        .args(["-c", &script])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let clamped = get(&app, "/api/3/action/package_search?rows=5000", &[]).await;
    assert_eq!(clamped.status, 200);
    assert_eq!(
        clamped.json()["result"]["results"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let bad = get(&app, "/api/3/action/package_search?fq=kaputt", &[]).await;
    assert_eq!(bad.status, 400);
    let body = bad.json();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["__type"], "Search Query Error");
    assert_eq!(
        get(&app, "/api/3/action/package_search?fq=unbekannt:x", &[])
            .await
            .status,
        400
    );
    assert_eq!(
        get(&app, "/api/3/action/package_show?id=gibtsnicht", &[])
            .await
            .status,
        404
    );
}

/// Validates a catalog in Turtle with pyshacl (`tests/validate_dcat.py`) against the official
/// DCAT-AP.de shapes of `profile` ("2.0" with the GovData conventions, or "3.0") in
/// `../shared/data/dcat-ap-de`; returns the report (`violations`, `warnings`, `messages`).
pub(crate) async fn validate_dcat(turtle: &[u8], profile: &str) -> serde_json::Value {
    let shapes = stadtkarte_tests::shared_data("dcat-ap-de").expect(
        "shared/data/dcat-ap-de is missing (next to the clone, $STADTKARTE_SHARED_DATA or \
         /work/shared/data): the DCAT-AP.de shapes are needed to validate the catalog",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.ttl");
    std::fs::write(&file, turtle).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("validate_dcat.py");
    let out = tokio::process::Command::new(stadtkarte_tests::python())
        .arg(&script)
        .arg(&file)
        .arg(&shapes)
        .arg(profile)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn the_dcat_ap_de_catalog_passes_the_official_shapes() {
    let (app, _) = app().await;
    let r = get(&app, "/opendata/catalog.ttl", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "text/turtle; charset=utf-8");
    let text = r.text();
    assert!(
        text.contains("<http://www.w3.org/ns/dcat#Catalog>"),
        "{text}"
    );
    assert!(text.contains("/opendata/orte> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/ns/dcat#Dataset>"));
    // The profiles differ only in the datatype of dcat:byteSize.
    for (profile, query) in [("2.0", ""), ("3.0", "?profile=3.0")] {
        let r = get(&app, &format!("/opendata/catalog.ttl{query}"), &[]).await;
        assert_eq!(r.status, 200);
        let result = validate_dcat(&r.body, profile).await;
        assert_eq!(result["violations"], 0, "DCAT-AP.de {profile}: {result}");
    }
    assert_eq!(
        get(&app, "/opendata/catalog.ttl?profile=4.0", &[])
            .await
            .status,
        400
    );
}

/// Counts the dataset cards on an `/opendata` list page.
fn cards(html: &str) -> usize {
    html.matches("<section class=\"card\">").count()
}

#[tokio::test]
async fn dataset_pages_list_filter_and_explain_each_dataset() {
    let (app, _) = app().await;
    let all = get(&app, "/opendata", &[]).await;
    assert_eq!(all.status, 200);
    assert!(all.header("content-type").starts_with("text/html"));
    let html = all.text();
    assert!(html.contains("<html lang=\"de\">"), "German by default");
    assert_eq!(cards(&html), 5, "{html}");

    let rhein = get(&app, "/opendata?q=rhein", &[]).await.text();
    assert_eq!(cards(&rhein), 1);
    assert!(rhein.contains("href=\"/opendata/gewaesser\""));

    let verkehr = get(&app, "/opendata?thema=TRAN", &[]).await.text();
    assert_eq!(cards(&verkehr), 2, "streets and bus stops");
    assert!(verkehr.contains("/opendata/strassen") && verkehr.contains("/opendata/orte"));
    assert_eq!(
        cards(&get(&app, "/opendata?seit=2999-01-01", &[]).await.text()),
        0
    );

    let english = get(&app, "/opendata?lang=en", &[]).await.text();
    assert!(english.contains("<html lang=\"en\">"));
    assert!(english.contains("Street network") && !english.contains("Straßennetz"));

    let page = get(&app, "/opendata/orte", &[]).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    for expected in [
        "Bitte nennen Sie die Quelle genau so:",
        "/opendata/orte/poi.gpkg",
        "/opendata/orte/poi.shp.zip",
        "/collections/poi/items",
        "curl &#39;http",
        "import requests",
        "await fetch(",
        "Änderungen",
    ] {
        assert!(
            html.contains(expected) || html.contains(&expected.replace("&#39;", "'")),
            "dataset page lacks {expected:?}"
        );
    }
    assert_eq!(get(&app, "/opendata/gibtsnicht", &[]).await.status, 404);
    let catalog = get(&app, "/opendata/catalog.ttl", &[]).await;
    assert_eq!(catalog.status, 200, "the DCAT catalog still answers");
    assert!(catalog.text().contains("http://www.w3.org/ns/dcat#Catalog"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bulk_zip_holds_every_dataset_with_licences() {
    let (app, client) = app().await;
    let expected: i64 = client
        .query_one("SELECT count(*) FROM catalog.dataset_collections", &[])
        .await
        .unwrap()
        .get(0);
    let response = get(&app, "/opendata/alle.gpkg.zip", &[]).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), "application/zip");
    let etag = response.header("etag").to_owned();
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(response.body.to_vec())).expect("a ZIP");
    let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    let packages: Vec<&String> = names
        .iter()
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e == "gpkg")
        })
        .collect();
    assert_eq!(
        packages.len(),
        usize::try_from(expected).unwrap(),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == "orte/poi.gpkg"), "{names:?}");
    let mut readme = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("LIESMICH.txt").unwrap(), &mut readme)
        .unwrap();
    assert!(readme.contains("gewaesser/gewaesser.gpkg") && readme.contains("Quellenangabe"));
    let mut head = [0u8; 15];
    std::io::Read::read_exact(&mut archive.by_name("orte/poi.gpkg").unwrap(), &mut head).unwrap();
    assert_eq!(&head, b"SQLite format 3", "a real GeoPackage inside");
    assert_eq!(
        get(&app, "/opendata/alle.gpkg.zip", &[("if-none-match", &etag)])
            .await
            .status,
        304
    );
    assert_eq!(get(&app, "/opendata/alle.xlsx.zip", &[]).await.status, 404);
    assert!(
        get(&app, "/opendata", &[])
            .await
            .text()
            .contains("/opendata/alle.shp.zip")
    );
}

/// A prepared file behaves like a file: one byte range is a 206 with `Content-Range`, the rest
/// of an interrupted download continues it byte for byte, `If-Range` with another version and
/// several ranges at once get the whole file (200), a range beyond the end is a 416 naming the
/// size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_files_answer_byte_ranges() {
    let (app, _) = app().await;
    let path = "/opendata/gewaesser/gewaesser.gpkg";
    let whole = get(&app, path, &[]).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), "bytes");
    let size = whole.body.len();
    assert!(size > 1000, "a GeoPackage of {size} bytes");
    assert_eq!(whole.header("content-length"), size.to_string());
    let etag = whole.header("etag").to_owned();

    let head = get(&app, path, &[("range", "bytes=0-99")]).await;
    assert_eq!(head.status, 206);
    assert_eq!(head.header("content-range"), format!("bytes 0-99/{size}"));
    assert_eq!(head.header("content-length"), "100");
    assert_eq!(head.body, whole.body[..100]);
    assert!(head.body.starts_with(b"SQLite format 3\0"));

    // An interrupted download resumes where it stopped, for the same version.
    let resumed = get(&app, path, &[("range", "bytes=100-"), ("if-range", &etag)]).await;
    assert_eq!(resumed.status, 206);
    assert_eq!(
        resumed.header("content-range"),
        format!("bytes 100-{}/{size}", size - 1)
    );
    let mut joined = head.body.to_vec();
    joined.extend_from_slice(&resumed.body);
    assert_eq!(joined, whole.body, "the two parts are the file");
    let tail = get(&app, path, &[("range", "bytes=-10")]).await;
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, whole.body[size - 10..], "the last ten bytes");

    for (headers, why) in [
        (
            vec![
                ("range", "bytes=100-"),
                ("if-range", "\"eine-alte-version\""),
            ],
            "another version: the whole file",
        ),
        (
            vec![("range", "bytes=0-1,5-9")],
            "several ranges: the whole file",
        ),
        (vec![("range", "zeilen=1-2")], "another unit: ignored"),
    ] {
        let r = get(&app, path, &headers).await;
        assert_eq!(r.status, 200, "{why}");
        assert_eq!(r.body, whole.body, "{why}");
    }
    let beyond = get(&app, path, &[("range", &format!("bytes={size}-"))]).await;
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), format!("bytes */{size}"));
    assert!(
        beyond
            .header("content-type")
            .starts_with("application/problem+json"),
        "{}",
        beyond.text()
    );
}

/// The petitions mix points and areas, which a Shapefile cannot: one Shapefile per kind goes
/// into the ZIP. With no petition yet (the points' layer, the first, empty), the ZIP still
/// opens, with the fields of the collection and no feature — before, GDAL could not add the
/// next layer to the folder the empty first one had been removed from, and the file (and the
/// bulk ZIP with it) was never made.
#[tokio::test]
async fn a_shapefile_zip_of_mixed_kinds_without_features_still_opens() {
    let (app, client) = app().await;
    let defaults = stadtkarte::dataset_defaults(&config_for("postgresql://unused"));
    registry::ensure_participation(&client, &defaults)
        .await
        .unwrap();
    let none: i64 = client
        .query_one("SELECT count(*) FROM petitions.petitions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(none, 0);
    let r = get(&app, "/opendata/petitionen/petitionen.shp.zip", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("petitionen.shp.zip");
    std::fs::write(&file, &r.body).unwrap();
    let out = tokio::process::Command::new("ogrinfo")
        .args(["-ro", "-al", "-so"])
        .arg(format!("/vsizip/{}", file.display()))
        .output()
        .await
        .unwrap();
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(info.contains("Layer name: petitionen_punkte"), "{info}");
    assert!(info.contains("Feature Count: 0"), "{info}");
    assert!(info.contains("title: String"), "{info}");
}
