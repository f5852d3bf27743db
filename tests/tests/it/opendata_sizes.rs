//! Sizes before download: the preparer makes every download of every dataset, the pages, the
//! DCAT catalog and the CKAN API show each file's size, and it is the size of what is then
//! downloaded; a change of the data retires the old files. And imagery epochs as datasets:
//! their Cloud-Optimized `GeoTIFFs` as downloads, in the catalogs and in the format filter.
#![allow(clippy::cast_precision_loss)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stadtkarte_core::Config;
use stadtkarte_core::catalog::{self, Collection, NewCollection};
use stadtkarte_importers::demo::{self, DemoOptions};
use stadtkarte_opendata::cache::{self, DownloadCache};
use stadtkarte_opendata::formats::{self, Format};
use stadtkarte_opendata::registry::{self, DatasetInput};
use stadtkarte_tests::{TestResponse, app_with, config_for, connect, fresh_database, get};

use crate::downloads::validate_dcat;

/// Waits until `check` gives a value; fails after `timeout`, saying what it waited for.
async fn until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            started.elapsed() < timeout,
            "waited {timeout:?} in vain for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The size a dataset page shows for the download at `path`; `None` when it says the file is
/// being prepared. Fails when the page has no such download.
fn page_size(html: &str, path: &str) -> Option<u64> {
    let at = html
        .find(&format!("<a href=\"{path}\" download>"))
        .unwrap_or_else(|| panic!("the page has no download {path}: {html}"));
    let row = &html[at..];
    let row = &row[..row.find("</tr>").unwrap()];
    if row.contains("wird vorbereitet") || row.contains("being prepared") {
        return None;
    }
    let value = row
        .split("<data value=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no size in {row}"));
    Some(value[..value.find('"').unwrap()].parse().unwrap())
}

/// The `dcat:byteSize` of distribution `dist` of dataset `dataset` in a Turtle catalog, with
/// its datatype.
fn byte_size(turtle: &str, dataset: &str, dist: &str) -> Option<(u64, String)> {
    let subject =
        format!("/opendata/{dataset}/distribution/{dist}> <http://www.w3.org/ns/dcat#byteSize> \"");
    let line = turtle.lines().find(|l| l.contains(&subject))?;
    let rest = line.split(&subject).nth(1)?;
    let (value, datatype) = rest.split_once("\"^^<")?;
    Some((
        value.parse().unwrap(),
        datatype.trim_end_matches("> .").to_owned(),
    ))
}

/// The CKAN resource of `dataset` whose URL ends with `path`.
async fn ckan_resource(app: &axum::Router, dataset: &str, path: &str) -> serde_json::Value {
    let package = get(
        app,
        &format!("/api/3/action/package_show?id={dataset}"),
        &[],
    )
    .await
    .json();
    package["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["url"].as_str().unwrap().ends_with(path))
        .unwrap_or_else(|| panic!("no CKAN resource {path}: {package}"))
        .clone()
}

/// Checks that what the page, the catalog and CKAN say about the download at `path` is the
/// size of the file that is then downloaded; returns the download.
async fn same_size_everywhere(
    app: &axum::Router,
    dataset: &str,
    file: &str,
    format: &Format,
    expected: u64,
) -> TestResponse {
    let path = format!("/opendata/{dataset}/{file}");
    let r = get(app, &path, &[]).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(r.header("content-type"), format.media, "{path}");
    assert_eq!(r.header("content-length"), expected.to_string(), "{path}");
    assert_eq!(r.body.len() as u64, expected, "{path}");
    for lang in ["", "?lang=en"] {
        let page = get(app, &format!("/opendata/{dataset}{lang}"), &[])
            .await
            .text();
        assert_eq!(page_size(&page, &path), Some(expected), "{path}{lang}");
    }
    assert_eq!(
        ckan_resource(app, dataset, &path).await["size"],
        expected,
        "{path}"
    );
    let dist = file.replace('.', "-");
    if format.eu_file_type.is_some() {
        for (query, datatype) in [
            ("", "http://www.w3.org/2001/XMLSchema#decimal"),
            (
                "?profile=3.0",
                "http://www.w3.org/2001/XMLSchema#nonNegativeInteger",
            ),
        ] {
            let turtle = get(app, &format!("/opendata/catalog.ttl{query}"), &[])
                .await
                .text();
            assert_eq!(
                byte_size(&turtle, dataset, &dist),
                Some((expected, datatype.to_owned())),
                "{path}{query}"
            );
        }
    }
    r
}

fn with_cache(config: &Config, dir: &Path, prepare: bool, interval_secs: u64) -> Config {
    let mut c = config.clone();
    c.opendata.cache_dir = dir.display().to_string();
    c.opendata.prepare_downloads = prepare;
    c.opendata.prepare_interval_secs = interval_secs;
    c
}

/// Every download of `collections` has a file of its current version.
fn all_prepared(cache: &DownloadCache, collections: &[Collection]) -> bool {
    collections.iter().all(|c| {
        cache::sizes(cache, c)
            .iter()
            .all(|(_, size)| size.is_some())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_downloads_have_their_sizes_shown_before_download() {
    let url = fresh_database().await;
    let mut client = connect(&url).await;
    demo::load(&mut client, DemoOptions::default(), |_| {})
        .await
        .unwrap();
    let config = config_for(&url);
    registry::fill_demo(&client, &stadtkarte::dataset_defaults(&config))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let cache = DownloadCache::new(&with_cache(&config, &cache_dir, true, 1));

    // Nothing prepared: no sizes anywhere, GeoJSON is streamed without a length. (Six files of
    // the collection and the city map's tile archive.)
    let (cold, _) = app_with(with_cache(&config, &cache_dir, false, 60)).await;
    let page = get(&cold, "/opendata/orte", &[]).await.text();
    assert_eq!(page.matches("wird vorbereitet").count(), 7, "{page}");
    assert_eq!(
        get(&cold, "/opendata/orte?lang=en", &[])
            .await
            .text()
            .matches("being prepared")
            .count(),
        7
    );
    let streamed = get(&cold, "/opendata/orte/poi.geojson", &[]).await;
    assert_eq!(streamed.status, 200);
    assert_eq!(streamed.header("content-length"), "");
    let csv_streamed = get(&cold, "/opendata/orte/poi.csv", &[]).await;
    assert_eq!(csv_streamed.header("content-length"), "");
    assert!(
        !get(&cold, "/opendata/catalog.ttl", &[])
            .await
            .text()
            .contains("byteSize")
    );
    assert!(ckan_resource(&cold, "orte", "/opendata/orte/poi.csv").await["size"].is_null());

    // What a preparation killed an hour ago left behind, and a temporary file being written now.
    std::fs::create_dir_all(cache_dir.join(".tmpAbC123")).unwrap();
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    for old in [
        cache_dir.join(".tmpAbC123/poi.gpkg"),
        cache_dir.join(".tmpXyZ789"),
    ] {
        let f = std::fs::File::create(&old).unwrap();
        f.set_modified(an_hour_ago).unwrap();
    }
    std::fs::File::open(cache_dir.join(".tmpAbC123"))
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    std::fs::write(cache_dir.join(".tmpJetzt1"), b"halb").unwrap();

    // The preparer (on at start) makes every format of every dataset's collections.
    let prepared = with_cache(&config, &cache_dir, true, 3600);
    let started = Instant::now();
    let (app, _) = app_with(prepared.clone()).await;
    let mut collections = Vec::new();
    for d in registry::list(&client).await.unwrap() {
        for c in &d.collections {
            collections.push(catalog::get(&client, c).await.unwrap().unwrap());
        }
    }
    assert_eq!(collections.len(), 5);
    until(
        "every download of the demo city",
        Duration::from_secs(300),
        || all_prepared(&cache, &collections).then_some(()),
    )
    .await;
    assert!(
        !cache_dir.join(".tmpAbC123").exists() && !cache_dir.join(".tmpXyZ789").exists(),
        "the leftovers are gone"
    );
    assert!(
        cache_dir.join(".tmpJetzt1").exists(),
        "a file being written stays"
    );
    // Then the bulk ZIPs of every dataset, one per GDAL format, and the tile archive.
    until(
        "the bulk ZIPs and the tile archive",
        Duration::from_secs(300),
        || {
            let paths: Vec<PathBuf> = std::fs::read_dir(cache_dir.join("alle"))
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .collect();
            let ending = |ext: &str| {
                paths
                    .iter()
                    .filter(|p| p.extension().is_some_and(|e| e == ext))
                    .count()
            };
            let (zips, archives) = (ending("zip"), ending("pmtiles"));
            (zips == 4 && archives == 1).then_some(())
        },
    )
    .await;
    let bulk = get(&app, "/opendata/alle.gpkg.zip", &[]).await;
    assert_eq!(bulk.status, 200);
    assert_ne!(
        bulk.header("content-length"),
        "",
        "served from the prepared file"
    );
    println!(
        "the preparer made {} files in {:.1} s",
        collections.len() * formats::VECTOR.len(),
        started.elapsed().as_secs_f64()
    );
    let poi = collections.iter().find(|c| c.id == "poi").unwrap().clone();
    for (dataset, c) in [
        ("orte", &poi),
        (
            "gewaesser",
            collections.iter().find(|c| c.id == "gewaesser").unwrap(),
        ),
    ] {
        for (format, size) in cache::sizes(&cache, c) {
            let file = format!("{}.{}", c.id, format.ext);
            same_size_everywhere(&app, dataset, &file, format, size.unwrap()).await;
        }
    }
    // A prepared file has exactly the bytes of the streamed download.
    let cached = get(&app, "/opendata/orte/poi.geojson", &[]).await;
    assert_eq!(cached.body, streamed.body);
    assert_eq!(cached.header("etag"), streamed.header("etag"));
    let csv_cached = get(&app, "/opendata/orte/poi.csv", &[]).await;
    assert_ne!(csv_cached.header("content-length"), "");
    assert_eq!(csv_cached.body, csv_streamed.body);
    // The catalog with sizes passes both DCAT-AP.de profiles.
    for (profile, query) in [("2.0", ""), ("3.0", "?profile=3.0")] {
        let r = get(&app, &format!("/opendata/catalog.ttl{query}"), &[]).await;
        let result = validate_dcat(&r.body, profile).await;
        assert_eq!(result["violations"], 0, "DCAT-AP.de {profile}: {result}");
    }

    // The data changes: the old sizes are gone at once (this app's next round is an hour
    // away), the download is streamed with the new data.
    let old_files: Vec<PathBuf> = formats::VECTOR
        .iter()
        .map(|f| cache.file(&poi, f.ext))
        .collect();
    assert!(old_files.iter().all(|f| f.is_file()));
    client
        .execute(
            "UPDATE data.poi SET name = name || ' (neu)' WHERE id = (SELECT min(id) FROM data.poi)",
            &[],
        )
        .await
        .unwrap();
    catalog::refresh_statistics(&client, "poi").await.unwrap();
    let poi_now = catalog::get(&client, "poi").await.unwrap().unwrap();
    assert_ne!(cache::version(&poi_now), cache::version(&poi));
    let page = get(&app, "/opendata/orte", &[]).await.text();
    assert_eq!(page.matches("wird vorbereitet").count(), 7, "{page}");
    let turtle = get(&app, "/opendata/catalog.ttl", &[]).await.text();
    assert!(byte_size(&turtle, "orte", "poi-geojson").is_none());
    assert!(byte_size(&turtle, "gewaesser", "gewaesser-geojson").is_some());
    let fresh = get(&app, "/opendata/orte/poi.geojson", &[]).await;
    assert_eq!(fresh.header("content-length"), "");
    assert!(fresh.text().contains("(neu)"));

    // The next round (here: a restarted server) makes the new files and deletes the old ones;
    // the files of unchanged collections stay.
    let (restarted, _) = app_with(prepared).await;
    until("the new version's files", Duration::from_secs(120), || {
        (all_prepared(&cache, std::slice::from_ref(&poi_now))
            && old_files.iter().all(|f| !f.exists()))
        .then_some(())
    })
    .await;
    for (format, size) in cache::sizes(&cache, &poi_now) {
        let r = same_size_everywhere(
            &restarted,
            "orte",
            &format!("poi.{}", format.ext),
            format,
            size.unwrap(),
        )
        .await;
        if format.ext == "geojson" {
            assert!(r.text().contains("(neu)"));
        }
    }
    let unchanged: Vec<Collection> = collections.into_iter().filter(|c| c.id != "poi").collect();
    assert!(
        all_prepared(&cache, &unchanged),
        "unchanged collections keep their files"
    );
}

/// Fixture images: raw RGB pixels with a VRT that georeferences them (EPSG:25832).
struct Source {
    origin: (f64, f64),
    pixel: f64,
    width: usize,
    height: usize,
}

impl Source {
    const FINE: Self = Self {
        origin: (398_000.0, 5_581_000.0),
        pixel: 0.2,
        width: 600,
        height: 500,
    };
    const COARSE: Self = Self {
        origin: (397_600.0, 5_581_400.0),
        pixel: 2.0,
        width: 300,
        height: 300,
    };

    fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let mut raw = Vec::with_capacity(self.width * self.height * 3);
        for y in 0..self.height {
            for x in 0..self.width {
                let e = self.origin.0 + (x as f64 + 0.5) * self.pixel;
                let n = self.origin.1 - (y as f64 + 0.5) * self.pixel;
                let checker = ((e / 20.0).floor() + (n / 20.0).floor()).rem_euclid(2.0);
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                raw.extend([
                    ((e - 397_600.0) / 6.0).clamp(0.0, 255.0) as u8,
                    ((5_581_400.0 - n) / 6.0).clamp(0.0, 255.0) as u8,
                    (60.0 + checker * 140.0) as u8,
                ]);
            }
        }
        std::fs::write(dir.join(format!("{name}.raw")), raw).unwrap();
        let mut vrt = format!(
            "<VRTDataset rasterXSize=\"{}\" rasterYSize=\"{}\"><SRS>EPSG:25832</SRS>\
             <GeoTransform>{}, {}, 0, {}, 0, -{}</GeoTransform>",
            self.width, self.height, self.origin.0, self.pixel, self.origin.1, self.pixel
        );
        for (i, role) in ["Red", "Green", "Blue"].iter().enumerate() {
            vrt.push_str(&format!(
                "<VRTRasterBand dataType=\"Byte\" band=\"{}\" subClass=\"VRTRawRasterBand\">\
                 <ColorInterp>{role}</ColorInterp><SourceFilename relativeToVRT=\"1\">{name}.raw</SourceFilename>\
                 <ImageOffset>{i}</ImageOffset><PixelOffset>3</PixelOffset><LineOffset>{}</LineOffset>\
                 <ByteOrder>LSB</ByteOrder></VRTRasterBand>",
                i + 1,
                3 * self.width
            ));
        }
        vrt.push_str("</VRTDataset>");
        let path = dir.join(format!("{name}.vrt"));
        std::fs::write(&path, vrt).unwrap();
        path
    }
}

/// Imports epoch `luftbild-{year}` into `imagery_dir` with `stadtkarte import imagery`: the
/// fine image, and with `two_parts` a coarse one around it as a second part.
pub(crate) async fn import_epoch(
    url: &str,
    imagery_dir: &Path,
    work: &Path,
    year: i32,
    two_parts: bool,
    replace: bool,
) -> String {
    let mut args = vec![
        Source::FINE
            .write(work, &format!("fein-{year}"))
            .display()
            .to_string(),
    ];
    if two_parts {
        args.push(
            Source::COARSE
                .write(work, &format!("grob-{year}"))
                .display()
                .to_string(),
        );
    }
    args.extend(["--year".to_owned(), year.to_string()]);
    if replace {
        args.push("--replace".to_owned());
    }
    let out = tokio::process::Command::new(stadtkarte_tests::stadtkarte_bin())
        .args(["import", "imagery"])
        .args(&args)
        .env("STADTKARTE_DATABASE__URL", url)
        .env("STADTKARTE_IMAGERY__DIR", imagery_dir)
        .env("STADTKARTE_LOG__LEVEL", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("luftbild-{year}")
}

/// Counts the dataset cards on an `/opendata` list page.
fn cards(html: &str) -> Vec<String> {
    html.split("<section class=\"card\"><h2><a href=\"/opendata/")
        .skip(1)
        .map(|s| s[..s.find(['"', '?']).unwrap()].to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imagery_epoch_is_published_as_cloud_optimized_geotiff() {
    let work = tempfile::tempdir().unwrap();
    let url = fresh_database().await;
    let imagery_dir = work.path().join("imagery");
    let epoch_id = import_epoch(&url, &imagery_dir, work.path(), 2020, true, false).await;
    let client = connect(&url).await;
    // A small vector dataset next to it, for the format filter.
    client
        .batch_execute(
            "CREATE TABLE data.baeume (id int PRIMARY KEY, art text, geom geometry(Point, 25832));
             INSERT INTO data.baeume VALUES
               (1, 'Linde', ST_SetSRID(ST_MakePoint(398100, 5580900), 25832)),
               (2, 'Buche', ST_SetSRID(ST_MakePoint(398200, 5580950), 25832))",
        )
        .await
        .unwrap();
    catalog::register(
        &client,
        &NewCollection {
            id: "baeume",
            title: "Bäume",
            description: "Straßenbäume",
            keywords: &["Baum"],
            table_schema: "data",
            table_name: "baeume",
            geometry_type: "Point",
            storage_srid: 25832,
            temporal_column: None,
            license: "Datenlizenz Deutschland – Namensnennung – Version 2.0",
            license_url: None,
            attribution: "Stadt Koblenz",
            min_zoom: 12,
            max_zoom: 22,
        },
    )
    .await
    .unwrap();
    let mut config = config_for(&url);
    config.imagery.dir = imagery_dir.display().to_string();
    config.opendata.cache_dir = work.path().join("cache").display().to_string();
    let defaults = stadtkarte::dataset_defaults(&config);
    let input = |title: &str| DatasetInput {
        title: Some(title.to_owned()),
        description: Some(format!("{title} der Stadt.")),
        themes: Some(vec!["REGI".into()]),
        ..DatasetInput::default()
    };
    registry::add(
        &client,
        "baeume",
        &DatasetInput {
            collections: Some(vec!["baeume".into()]),
            ..input("Bäume")
        },
        &defaults,
        "test",
    )
    .await
    .unwrap();
    let d = registry::add(
        &client,
        "luftbild",
        &DatasetInput {
            imagery: Some(vec![epoch_id.clone()]),
            ..input("Luftbild 2020")
        },
        &defaults,
        "test",
    )
    .await
    .unwrap();
    assert_eq!(d.imagery, std::slice::from_ref(&epoch_id));
    let (app, _) = app_with(config).await;

    // Two parts: the finest as `{epoch}.tif`, the coarse one as `{epoch}-teil1.tif`, each the
    // deepest level file of its part, byte for byte.
    let epoch = stadtkarte_core::imagery::get(&client, &epoch_id)
        .await
        .unwrap()
        .unwrap();
    let deepest = |part: u32| {
        epoch
            .levels
            .iter()
            .filter(|l| l.part == part)
            .max_by_key(|l| l.zoom)
            .unwrap()
            .clone()
    };
    assert_eq!(epoch.levels.iter().map(|l| l.part).max(), Some(1));
    for (file, level) in [
        (format!("{epoch_id}.tif"), deepest(1)),
        (format!("{epoch_id}-teil1.tif"), deepest(0)),
    ] {
        let stored = std::fs::read(imagery_dir.join(&level.file)).unwrap();
        let r = same_size_everywhere(
            &app,
            "luftbild",
            &file,
            &formats::GEOTIFF,
            stored.len() as u64,
        )
        .await;
        assert_eq!(r.body, stored, "{file}: exactly as stored");
        assert_eq!(
            r.header("content-type"),
            "image/tiff; application=geotiff; profile=cloud-optimized"
        );
        assert_eq!(
            r.header("content-disposition"),
            format!("attachment; filename=\"luftbild-{file}\"")
        );
        let etag = r.header("etag").to_owned();
        assert_eq!(
            get(
                &app,
                &format!("/opendata/luftbild/{file}"),
                &[("if-none-match", &etag)]
            )
            .await
            .status,
            304
        );
        let path = work.path().join(&file);
        std::fs::write(&path, &r.body).unwrap();
        let out = tokio::process::Command::new("gdalinfo")
            .args(["-json", "-mdd", "all"])
            .arg(&path)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let wkt = info["coordinateSystem"]["wkt"].as_str().unwrap();
        assert!(wkt.contains("ID[\"EPSG\",3857]"), "{file}: {wkt}");
        assert_eq!(info["bands"].as_array().unwrap().len(), 4, "{file}: RGBA");
        let structure = &info["metadata"]["IMAGE_STRUCTURE"];
        assert_eq!(structure["COMPRESSION"], "WEBP", "{file}: {structure}");
        assert_eq!(structure["LAYOUT"], "COG", "{file}: {structure}");
    }
    for missing in [
        format!("/opendata/luftbild/{epoch_id}-teil2.tif"),
        "/opendata/luftbild/luftbild-1999.tif".to_owned(),
        format!("/opendata/baeume/{epoch_id}.tif"),
    ] {
        let r = get(&app, &missing, &[]).await;
        assert_eq!(r.status, 404, "{missing}");
        assert!(
            r.header("content-type")
                .starts_with("application/problem+json")
        );
    }

    let png = get(&app, &format!("/opendata/luftbild/{epoch_id}.png"), &[]).await;
    assert_eq!(png.status, 406);
    assert!(
        png.json()["detail"]
            .as_str()
            .unwrap()
            .contains("available: tif")
    );

    // The page says what the files are and links the tile APIs.
    let page = get(&app, "/opendata/luftbild", &[]).await.text();
    for expected in [
        "Cloud-Optimized GeoTIFF (EPSG:3857)",
        "WebP-komprimiert",
        "genau so, wie die Stadtkarte sie speichert",
        "Zoomstufe",
        "Teil 1 von 2",
        &format!("href=\"/imagery/{epoch_id}\""),
        &format!("/imagery/{epoch_id}/{{z}}/{{x}}/{{y}}"),
        "/wmts/1.0.0/WMTSCapabilities.xml",
        &format!("/collections/{epoch_id}/map/tiles/WebMercatorQuad/{{z}}/{{row}}/{{col}}"),
        "<th scope=\"col\">Größe</th>",
        "Luftbild-Jahrgänge",
    ] {
        assert!(
            page.contains(expected),
            "the page lacks {expected:?}: {page}"
        );
    }
    let english = get(&app, "/opendata/luftbild?lang=en", &[]).await.text();
    assert!(english.contains("zoom level") && english.contains("<th scope=\"col\">Size</th>"));

    // DCAT: GeoTIFF distributions; the catalog passes both DCAT-AP.de profiles.
    let turtle = get(&app, "/opendata/catalog.ttl", &[]).await.text();
    let dist = format!("/opendata/luftbild/distribution/{epoch_id}-tif>");
    for expected in [
        "<http://purl.org/dc/terms/format> <http://publications.europa.eu/resource/authority/file-type/TIFF>",
        "<http://www.w3.org/ns/dcat#mediaType> <https://www.iana.org/assignments/media-types/image/tiff>",
    ] {
        assert!(
            turtle
                .lines()
                .any(|l| l.contains(&dist) && l.contains(expected)),
            "{expected}: {turtle}"
        );
    }
    for (profile, query) in [("2.0", ""), ("3.0", "?profile=3.0")] {
        let r = get(&app, &format!("/opendata/catalog.ttl{query}"), &[]).await;
        let result = validate_dcat(&r.body, profile).await;
        assert_eq!(result["violations"], 0, "DCAT-AP.de {profile}: {result}");
    }

    // CKAN: the files and the tile APIs as resources; res_format finds the imagery.
    let package = get(&app, "/api/3/action/package_show?id=luftbild", &[])
        .await
        .json();
    let mut resource_formats: Vec<&str> = package["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["format"].as_str().unwrap())
        .collect();
    resource_formats.sort_unstable();
    assert_eq!(
        resource_formats,
        [
            "GeoTIFF",
            "GeoTIFF",
            "OGC API Tiles",
            "TileJSON",
            "WMTS",
            "XYZ"
        ]
    );
    let found = get(
        &app,
        "/api/3/action/package_search?fq=res_format:GeoTIFF",
        &[],
    )
    .await
    .json();
    let names: Vec<&str> = found["result"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["luftbild"]);

    // The format filter of the list page.
    for (query, expected) in [
        ("format=tif", vec!["luftbild"]),
        ("format=gpkg", vec!["baeume"]),
        ("format=tif&lang=en", vec!["luftbild"]),
        ("format=", vec!["baeume", "luftbild"]),
        ("format=xlsx", vec![]),
    ] {
        let html = get(&app, &format!("/opendata?{query}"), &[]).await.text();
        assert_eq!(cards(&html), expected, "{query}");
    }
    let html = get(&app, "/opendata?format=tif", &[]).await.text();
    assert!(html.contains("<option value=\"tif\" selected>"), "{html}");
    assert!(
        html.contains("<label>Format <select name=\"format\">"),
        "{html}"
    );
    let english = get(&app, "/opendata?lang=en", &[]).await.text();
    assert!(english.contains("all formats"));
}
