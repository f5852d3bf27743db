//! Aerial imagery: `stadtkarte import imagery` into aligned pyramids, tiles copied byte for byte
//! (XYZ, OGC API Tiles, WMTS REST and KVP), transparent edges, the time dimension, bad input,
//! and real clients: GDAL's WMTS driver and MapLibre in Chromium.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use stadtkarte_core::crs::{inverse_mercator, utm32};
use stadtkarte_tests::{app_with, config_for, connect, fresh_database, get, serve, stadtkarte_bin};

/// Fixture images are made here: raw pixels with a VRT that georeferences them.
struct Source {
    /// Top-left corner (EPSG:25832).
    origin: (f64, f64),
    /// Pixel size in metres.
    pixel: f64,
    width: usize,
    height: usize,
}

impl Source {
    const FINE: Self = Self {
        origin: (398_000.0, 5_581_000.0),
        pixel: 0.2,
        width: 1200,
        height: 1000,
    };
    const COARSE: Self = Self {
        origin: (397_600.0, 5_581_400.0),
        pixel: 2.0,
        width: 600,
        height: 600,
    };

    /// The colour of source pixel (x, y): smooth gradients and a checkerboard, so that a
    /// misplaced or mis-scaled tile shows.
    fn rgb(&self, x: usize, y: usize) -> [u8; 3] {
        let e = self.origin.0 + (x as f64 + 0.5) * self.pixel;
        let n = self.origin.1 - (y as f64 + 0.5) * self.pixel;
        let checker = ((e / 20.0).floor() + (n / 20.0).floor()).rem_euclid(2.0);
        [
            ((e - 397_600.0) / 1200.0 * 200.0 + 30.0).clamp(0.0, 255.0) as u8,
            ((5_581_400.0 - n) / 1200.0 * 200.0 + 30.0).clamp(0.0, 255.0) as u8,
            (60.0 + checker * 140.0) as u8,
        ]
    }

    fn contains(&self, e: f64, n: f64, margin: f64) -> bool {
        e > self.origin.0 + margin
            && e < self.origin.0 + self.width as f64 * self.pixel - margin
            && n < self.origin.1 - margin
            && n > self.origin.1 - self.height as f64 * self.pixel + margin
    }

    /// Writes the image as raw pixels plus a VRT; `kind` chooses the layout.
    fn write(&self, dir: &Path, name: &str, kind: Kind) -> PathBuf {
        let (bands, bytes_per): (usize, usize) = match kind {
            Kind::Rgb | Kind::NoCrs => (3, 1),
            Kind::Gray => (1, 1),
            Kind::Rgb16 => (3, 2),
            Kind::Cmyk => (4, 1),
        };
        let mut raw = Vec::with_capacity(self.width * self.height * bands * bytes_per);
        for y in 0..self.height {
            for x in 0..self.width {
                let c = self.rgb(x, y);
                let px: Vec<u8> = match kind {
                    Kind::Gray => {
                        vec![((u16::from(c[0]) + u16::from(c[1]) + u16::from(c[2])) / 3) as u8]
                    }
                    Kind::Cmyk => vec![255 - c[0], 255 - c[1], 255 - c[2], 0],
                    _ => c.to_vec(),
                };
                for v in px {
                    if bytes_per == 2 {
                        raw.extend_from_slice(&(u16::from(v) * 257).to_le_bytes());
                    } else {
                        raw.push(v);
                    }
                }
            }
        }
        let raw_path = dir.join(format!("{name}.raw"));
        std::fs::write(&raw_path, raw).unwrap();
        let roles: &[&str] = match kind {
            Kind::Gray => &["Gray"],
            Kind::Cmyk => &["Cyan", "Magenta", "Yellow", "Black"],
            _ => &["Red", "Green", "Blue"],
        };
        let ty = if bytes_per == 2 { "UInt16" } else { "Byte" };
        let mut vrt = format!(
            r#"<VRTDataset rasterXSize="{}" rasterYSize="{}">"#,
            self.width, self.height
        );
        if kind != Kind::NoCrs {
            vrt.push_str("<SRS>EPSG:25832</SRS>");
        }
        vrt.push_str(&format!(
            "<GeoTransform>{}, {}, 0, {}, 0, -{}</GeoTransform>",
            self.origin.0, self.pixel, self.origin.1, self.pixel
        ));
        for (i, role) in roles.iter().enumerate() {
            vrt.push_str(&format!(
                r#"<VRTRasterBand dataType="{ty}" band="{}" subClass="VRTRawRasterBand"><ColorInterp>{role}</ColorInterp><SourceFilename relativeToVRT="1">{name}.raw</SourceFilename><ImageOffset>{}</ImageOffset><PixelOffset>{}</PixelOffset><LineOffset>{}</LineOffset><ByteOrder>LSB</ByteOrder></VRTRasterBand>"#,
                i + 1,
                i * bytes_per,
                bands * bytes_per,
                bands * bytes_per * self.width
            ));
        }
        vrt.push_str("</VRTDataset>");
        let path = dir.join(format!("{name}.vrt"));
        std::fs::write(&path, vrt).unwrap();
        path
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rgb,
    Gray,
    Rgb16,
    Cmyk,
    NoCrs,
}

/// A small aerial image (600 × 600 px at 2 m, EPSG:25832) in `dir`, for tests elsewhere.
pub(crate) fn small_image(dir: &Path) -> PathBuf {
    Source::COARSE.write(dir, "klein", Kind::Rgb)
}

/// Runs `stadtkarte import imagery ARGS` against `url` with the imagery folder `dir`.
async fn import(url: &str, dir: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(stadtkarte_bin())
        .args(["import", "imagery"])
        .args(args)
        .env("STADTKARTE_DATABASE__URL", url)
        .env("STADTKARTE_IMAGERY__DIR", dir)
        .env("STADTKARTE_LOG__LEVEL", "warn")
        .output()
        .await
        .unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A database with epoch `luftbild-2020` (coarse + fine part) and the gray `luftbild-1958`.
async fn two_epochs(work: &Path) -> (String, PathBuf) {
    let url = fresh_database().await;
    let dir = work.join("imagery");
    let coarse = Source::COARSE.write(work, "grob", Kind::Rgb);
    let fine = Source::FINE.write(work, "fein", Kind::Rgb);
    let out = import(
        &url,
        &dir,
        &[
            fine.to_str().unwrap(),
            coarse.to_str().unwrap(),
            "--year",
            "2020",
            "--title",
            "Luftbild 2020",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Zoomstufen"), "{}", stderr(&out));
    let gray = Source::FINE.write(work, "grau", Kind::Gray);
    let out = import(&url, &dir, &[gray.to_str().unwrap(), "--year", "1958"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Graustufen"), "{}", stderr(&out));
    (url, dir)
}

/// EPSG:25832 → longitude/latitude, by PostGIS.
async fn lonlat(url: &str, e: f64, n: f64) -> (f64, f64) {
    let row = connect(url)
        .await
        .query_one(
            "SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 25832), 4326) p",
            &[&e, &n],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut decoder =
        image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)).expect("a WebP tile");
    let (w, h) = decoder.dimensions();
    let mut buf = vec![0; decoder.output_buffer_size().unwrap()];
    decoder.read_image(&mut buf).unwrap();
    let rgba = if decoder.has_alpha() {
        buf
    } else {
        buf.chunks(3)
            .flat_map(|c| [c[0], c[1], c[2], 255])
            .collect()
    };
    (w, h, rgba)
}

/// Centre of pixel (px, py) of tile (z, x, y) in EPSG:25832.
fn pixel_utm(z: u8, x: u32, y: u32, px: u32, py: u32) -> (f64, f64) {
    let half = stadtkarte_core::cog::WORLD_HALF;
    let tile = 2.0 * half / f64::from(1u32 << z);
    let mx = -half + (f64::from(x) + (f64::from(px) + 0.5) / 256.0) * tile;
    let my = half - (f64::from(y) + (f64::from(py) + 0.5) / 256.0) * tile;
    let (lon, lat) = inverse_mercator(mx, my);
    utm32(lon, lat)
}

fn tile_range(bbox: &Value, z: u8) -> (u32, u32, u32, u32) {
    let b: Vec<f64> = bbox
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let tms = stadtkarte_tiles::tms::WEB_MERCATOR_QUAD;
    tms.cover(z, tms.from_crs84([b[0], b[1], b[2], b[3]]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_imagery_is_served_as_aligned_tiles_with_transparent_edges() {
    let work = tempfile::tempdir().unwrap();
    let (url, dir) = two_epochs(work.path()).await;
    let mut config = config_for(&url);
    config.imagery.dir = dir.display().to_string();
    let (app, _) = app_with(config).await;

    // The catalog and the list.
    let client = connect(&url).await;
    let row = client
        .query_one("SELECT min_zoom, max_zoom, grayscale, storage_bytes, levels::text FROM catalog.imagery WHERE id = 'luftbild-2020'", &[])
        .await
        .unwrap();
    let (min_zoom, max_zoom): (i16, i16) = (row.get(0), row.get(1));
    assert_eq!(max_zoom, 19, "0.2 m at Koblenz is zoom 19");
    assert!(
        min_zoom <= 14,
        "the coarse part reaches down to the whole area: {min_zoom}"
    );
    assert!(!row.get::<_, bool>(2));
    assert!(row.get::<_, i64>(3) > 10_000);
    let list = get(&app, "/imagery", &[]).await.json();
    let ids: Vec<&str> = list["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["luftbild-1958", "luftbild-2020"], "oldest first");

    // TileJSON.
    let tj = get(&app, "/imagery/luftbild-2020", &[]).await.json();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(tj["maxzoom"], 19);
    assert!(
        tj["tiles"][0]
            .as_str()
            .unwrap()
            .ends_with("/imagery/luftbild-2020/{z}/{x}/{y}")
    );

    // Every z19 tile over the fine part: 256×256 WebP; transparent exactly outside the image.
    let fine_bbox = {
        let (lon0, lat0) = lonlat(&url, 398_000.0, 5_580_800.0).await;
        let (lon1, lat1) = lonlat(&url, 398_240.0, 5_581_000.0).await;
        serde_json::json!([lon0, lat0, lon1, lat1])
    };
    let (c0, r0, c1, r1) = tile_range(&fine_bbox, 19);
    let (mut inside, mut outside, mut edge_tiles, mut tiles) = (0u64, 0u64, 0, 0);
    for x in c0..=c1 {
        for y in r0..=r1 {
            let r = get(&app, &format!("/imagery/luftbild-2020/19/{x}/{y}"), &[]).await;
            if r.status == 204 {
                continue;
            }
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-type"), "image/webp");
            tiles += 1;
            let (w, h, rgba) = decode(&r.body);
            assert_eq!((w, h), (256, 256));
            let mut transparent_here = 0;
            for py in 0..256 {
                for px in 0..256 {
                    let (e, n) = pixel_utm(19, x, y, px, py);
                    let alpha = rgba[((py * 256 + px) * 4 + 3) as usize];
                    if Source::FINE.contains(e, n, 0.8) {
                        assert_eq!(
                            alpha, 255,
                            "pixel {px},{py} of 19/{x}/{y} lies inside the image"
                        );
                        inside += 1;
                    } else if !Source::FINE.contains(e, n, -0.8) {
                        assert_eq!(
                            alpha, 0,
                            "pixel {px},{py} of 19/{x}/{y} lies outside the image"
                        );
                        outside += 1;
                        transparent_here += 1;
                    }
                }
            }
            if transparent_here > 0 {
                edge_tiles += 1;
            }
        }
    }
    assert!(
        tiles >= 20 && edge_tiles >= 10,
        "{tiles} tiles, {edge_tiles} at the edge"
    );
    assert!(
        inside > 500_000 && outside > 50_000,
        "{inside} inside, {outside} outside"
    );

    // The colours are the source's (WebP tolerance): the centre of the fine image.
    let (lon, lat) = lonlat(&url, 398_120.0, 5_580_900.0).await;
    let (mx, my) = stadtkarte_core::crs::mercator(lon, lat);
    let half = stadtkarte_core::cog::WORLD_HALF;
    let tile = 2.0 * half / f64::from(1u32 << 19);
    let (fx, fy) = ((mx + half) / tile, (half - my) / tile);
    let (x, y) = (fx.floor() as u32, fy.floor() as u32);
    let (px, py) = (
        ((fx - fx.floor()) * 256.0) as u32,
        ((fy - fy.floor()) * 256.0) as u32,
    );
    let r = get(&app, &format!("/imagery/luftbild-2020/19/{x}/{y}"), &[]).await;
    let (_, _, rgba) = decode(&r.body);
    let got = &rgba[((py * 256 + px) * 4) as usize..][..3];
    let (e, n) = pixel_utm(19, x, y, px, py);
    let sx = ((e - 398_000.0) / 0.2) as usize;
    let sy = ((5_581_000.0 - n) / 0.2) as usize;
    let want = Source::FINE.rgb(sx, sy);
    for b in 0..2 {
        assert!(
            (i32::from(got[b]) - i32::from(want[b])).abs() <= 12,
            "band {b}: {got:?} vs {want:?}"
        );
    }

    // Outside the fine part at z19, inside the coarse part: 204; beyond the pyramid: 404.
    let r = get(
        &app,
        &format!("/imagery/luftbild-2020/19/{}/{}", c0 - 4, r0),
        &[],
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(r.header("etag").len() > 4);
    let r = get(
        &app,
        &format!("/imagery/luftbild-2020/20/{}/{}", c0 * 2, r0 * 2),
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), "application/problem+json");
    let r = get(&app, "/imagery/luftbild-2020/3/4/2", &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        get(&app, "/imagery/luftbild-2020/19/x/1", &[]).await.status,
        400
    );
    assert_eq!(
        get(&app, "/imagery/luftbild-2020/2/9/1", &[]).await.status,
        400
    );
    assert_eq!(
        get(&app, "/imagery/gibtsnicht/19/1/1", &[]).await.status,
        404
    );

    // The coarse part serves the shallower zooms around the fine part.
    let (cc0, cr0, _, _) = tile_range(&fine_bbox, 16);
    let r = get(&app, &format!("/imagery/luftbild-2020/16/{cc0}/{cr0}"), &[]).await;
    assert_eq!(r.status, 200);

    // One tile, five addresses, the same bytes; ETag and 304.
    let xyz = get(&app, &format!("/imagery/luftbild-2020/19/{x}/{y}"), &[]).await;
    let etag = xyz.header("etag").to_owned();
    assert!(xyz.header("cache-control").starts_with("public, max-age="));
    for path in [
        format!("/collections/luftbild-2020/map/tiles/WebMercatorQuad/19/{y}/{x}"),
        format!("/wmts/1.0.0/luftbild-2020/default/WebMercatorQuad/19/{y}/{x}.webp"),
        format!(
            "/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=luftbild-2020&STYLE=default&FORMAT=image/webp&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=19&TILEROW={y}&TILECOL={x}"
        ),
        format!("/imagery/2020/19/{x}/{y}"),
        format!("/imagery/luftbilder/19/{x}/{y}?datetime=2020-05-01"),
        format!("/wmts/1.0.0/luftbilder/default/2020/WebMercatorQuad/19/{y}/{x}.webp"),
        format!("/collections/luftbilder/map/tiles/WebMercatorQuad/19/{y}/{x}"),
    ] {
        let r = get(&app, &path, &[]).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.body, xyz.body, "{path}");
    }
    // WMTS refusals are OWS ExceptionReports (what GDAL and QGIS show), with the status kept.
    for (path, status, code) in [
        (
            "/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=luftbild-2020".to_owned(),
            400,
            "MissingParameterValue",
        ),
        (
            "/wmts?SERVICE=WMTS&REQUEST=GetFeatureInfo".to_owned(),
            400,
            "OperationNotSupported",
        ),
        (
            format!("/wmts/1.0.0/luftbild-2020/default/WebMercatorQuad/19/{y}.5/{x}.webp"),
            400,
            "InvalidParameterValue",
        ),
        (
            format!("/wmts/1.0.0/luftbild-2020/default/NichtDa/19/{y}/{x}.webp"),
            404,
            "InvalidParameterValue",
        ),
        (
            "/wmts/1.0.0/luftbild-2020/default/WebMercatorQuad/3/9/9.webp".to_owned(),
            400,
            "TileOutOfRange",
        ),
    ] {
        let r = get(&app, &path, &[]).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(
            r.header("content-type").starts_with("application/xml"),
            "{path}"
        );
        let text = r.text();
        roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
        assert!(
            text.contains("<ExceptionReport xmlns=\"http://www.opengis.net/ows/1.1\"")
                && text.contains(&format!("exceptionCode=\"{code}\""))
                && text.contains("<ExceptionText>")
                && text.trim_end().ends_with("</ExceptionReport>"),
            "{path}: {text}"
        );
    }
    // Parts as separate sources: the coarse part ends where the fine part begins.
    let parts = tj["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{tj}");
    let coarse_max = parts[0]["maxzoom"].as_u64().unwrap();
    assert_eq!(parts[1]["minzoom"].as_u64().unwrap(), coarse_max + 1);
    assert!(parts[1]["tiles"][0].as_str().unwrap().ends_with("?teil=1"));
    let fine_only = get(
        &app,
        &format!("/imagery/luftbild-2020/19/{x}/{y}?teil=1"),
        &[],
    )
    .await;
    assert_eq!(fine_only.body, xyz.body);
    let r = get(
        &app,
        &format!("/imagery/luftbild-2020/19/{x}/{y}?teil=0"),
        &[],
    )
    .await;
    assert_eq!(r.status, 404, "part 0 ends at zoom {coarse_max}");
    let r = get(
        &app,
        &format!("/imagery/luftbild-2020/19/{x}/{y}?teil=7"),
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
    let r = get(
        &app,
        &format!(
            "/imagery/luftbild-2020/{coarse_max}/{}/{}?teil=0",
            x >> (19 - coarse_max),
            y >> (19 - coarse_max)
        ),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);

    let r = get(
        &app,
        &format!("/imagery/luftbild-2020/19/{x}/{y}"),
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());

    // The series by year gives the gray epoch; its tiles are gray.
    let old = get(
        &app,
        &format!("/imagery/luftbilder/19/{x}/{y}?datetime=1958"),
        &[],
    )
    .await;
    assert_eq!(old.status, 200);
    assert_ne!(old.body, xyz.body);
    let (_, _, rgba) = decode(&old.body);
    let max_spread = rgba
        .chunks(4)
        .filter(|p| p[3] == 255)
        .map(|p| p[0].max(p[1]).max(p[2]) - p[0].min(p[1]).min(p[2]))
        .max()
        .unwrap();
    assert!(max_spread <= 6, "gray tiles stay gray: spread {max_spread}");
    assert_eq!(
        get(
            &app,
            &format!("/imagery/luftbilder/19/{x}/{y}?datetime=1700"),
            &[]
        )
        .await
        .status,
        404
    );
    assert_eq!(
        get(
            &app,
            &format!("/imagery/luftbilder/19/{x}/{y}?datetime=gestern"),
            &[]
        )
        .await
        .status,
        400
    );

    // Two epochs imported in the same instant share nothing: a fresh server over the same
    // version string still serves each epoch its own tiles.
    connect(&url)
        .await
        .execute("UPDATE catalog.imagery SET version = 'v-gleich'", &[])
        .await
        .unwrap();
    let mut config = config_for(&url);
    config.imagery.dir = dir.display().to_string();
    let (fresh, _) = app_with(config).await;
    let a = get(&fresh, &format!("/imagery/luftbild-2020/19/{x}/{y}"), &[]).await;
    let b = get(&fresh, &format!("/imagery/luftbild-1958/19/{x}/{y}"), &[]).await;
    assert_eq!(a.body, xyz.body);
    assert_eq!(b.body, old.body);
    assert_ne!(a.header("etag"), b.header("etag"));

    // OGC API Tiles metadata and the series collection.
    let ts = get(
        &app,
        "/collections/luftbild-2020/map/tiles/WebMercatorQuad",
        &[],
    )
    .await
    .json();
    assert_eq!(ts["dataType"], "map");
    assert_eq!(
        ts["tileMatrixSetLimits"].as_array().unwrap().len(),
        usize::try_from(max_zoom - min_zoom + 1).unwrap()
    );
    assert_eq!(
        get(
            &app,
            "/collections/luftbild-2020/map/tiles/WorldCRS84Quad",
            &[]
        )
        .await
        .status,
        404
    );
    let series = get(
        &app,
        "/collections/luftbilder",
        &[("accept", "application/json")],
    )
    .await
    .json();
    let years: Vec<i64> = series["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["year"].as_i64().unwrap())
        .collect();
    assert_eq!(years, [1958, 2020]);
    let all = get(&app, "/collections", &[("accept", "application/json")])
        .await
        .json();
    let listed: Vec<&str> = all["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&"luftbilder") && listed.contains(&"luftbild-1958"),
        "{listed:?}"
    );

    // WMTS capabilities: a layer per epoch and the series with its time dimension.
    let caps = get(&app, "/wmts/1.0.0/WMTSCapabilities.xml", &[]).await;
    assert_eq!(caps.status, 200);
    let text = caps.text();
    assert!(text.contains("<ows:Identifier>luftbild-1958</ows:Identifier>"));
    assert!(text.contains("<Dimension><ows:Identifier>Time</ows:Identifier><Default>2020</Default><Value>1958</Value><Value>2020</Value></Dimension>"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdal_reads_our_wmts_and_maplibre_shows_the_imagery() {
    let work = tempfile::tempdir().unwrap();
    let (url, dir) = two_epochs(work.path()).await;
    let mut config = config_for(&url);
    config.imagery.dir = dir.display().to_string();
    let (app, _) = app_with(config).await;
    let port = serve(app).await;

    let wmts =
        format!("WMTS:http://127.0.0.1:{port}/wmts/1.0.0/WMTSCapabilities.xml,layer=luftbild-2020");
    let info = tokio::process::Command::new("gdalinfo")
        .arg(&wmts)
        .env("GDAL_ENABLE_WMS_CACHE", "NO")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&info.stderr)
    );
    assert!(
        text.contains("Pseudo-Mercator") && text.contains("Band 4"),
        "{text}"
    );

    // A window of the centre of the fine image read through WMTS against the source warped by
    // GDAL itself to the same grid.
    let (lon0, lat0) = lonlat(&url, 398_060.0, 5_580_840.0).await;
    let (lon1, lat1) = lonlat(&url, 398_180.0, 5_580_960.0).await;
    let (x0, y0) = stadtkarte_core::crs::mercator(lon0, lat0);
    let (x1, y1) = stadtkarte_core::crs::mercator(lon1, lat1);
    let ours = work.path().join("wmts.bin");
    let reference = work.path().join("ref.bin");
    let source = work.path().join("fein.vrt");
    let run = |program: &str, args: Vec<String>| {
        let out = std::process::Command::new(program)
            .args(&args)
            .env("GDAL_ENABLE_WMS_CACHE", "NO")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let window = [
        x0.to_string(),
        y1.to_string(),
        x1.to_string(),
        y0.to_string(),
    ];
    run(
        "gdal_translate",
        [
            vec![
                "-q".into(),
                "-of".into(),
                "ENVI".into(),
                "-co".into(),
                "INTERLEAVE=BSQ".into(),
                "-b".into(),
                "1".into(),
                "-b".into(),
                "2".into(),
                "-b".into(),
                "3".into(),
                "-outsize".into(),
                "300".into(),
                "300".into(),
                "-projwin".into(),
            ],
            window.to_vec(),
            vec![wmts.clone(), ours.display().to_string()],
        ]
        .concat(),
    );
    run(
        "gdalwarp",
        [
            vec![
                "-q".into(),
                "-of".into(),
                "ENVI".into(),
                "-co".into(),
                "INTERLEAVE=BSQ".into(),
                "-t_srs".into(),
                "EPSG:3857".into(),
                "-ts".into(),
                "300".into(),
                "300".into(),
                "-r".into(),
                "bilinear".into(),
                "-te".into(),
            ],
            vec![
                x0.to_string(),
                y0.to_string(),
                x1.to_string(),
                y1.to_string(),
            ],
            vec![
                source.display().to_string(),
                reference.display().to_string(),
            ],
        ]
        .concat(),
    );
    let a = std::fs::read(&ours).unwrap();
    let b = std::fs::read(&reference).unwrap();
    assert_eq!(a.len(), b.len());
    let diff: u64 = a
        .iter()
        .zip(&b)
        .map(|(p, q)| u64::from(p.abs_diff(*q)))
        .sum();
    let mean = diff as f64 / a.len() as f64;
    assert!(mean < 4.0, "mean difference {mean:.2} per sample");
    let big = a
        .iter()
        .zip(&b)
        .filter(|(p, q)| p.abs_diff(**q) > 40)
        .count();
    assert!(big * 100 < a.len(), "{big} samples differ by more than 40");

    // MapLibre GL JS in Chromium shows the raster layer.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/maplibre.mjs");
    let centre = lonlat(&url, 398_120.0, 5_580_900.0).await;
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .args([
            &format!("http://127.0.0.1:{port}/imagery/luftbild-2020"),
            "@raster",
            &centre.0.to_string(),
            &centre.1.to_string(),
            "18",
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(result["errors"], serde_json::json!([]), "{result}");
    assert!(
        result["coloured"].as_u64().unwrap() > 200_000,
        "the canvas shows the image: {result}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_imagery_input_gets_a_clear_message_and_changes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let url = fresh_database().await;
    let dir = work.path().join("imagery");
    let good = Source::FINE.write(work.path(), "gut", Kind::Rgb);
    let out = import(
        &url,
        &dir,
        &[good.to_str().unwrap(), "--year", "2020", "--id", "bild"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let client = connect(&url).await;
    let state = || async {
        let row = client
            .query_one(
                "SELECT count(*), string_agg(version, ',') FROM catalog.imagery",
                &[],
            )
            .await
            .unwrap();
        let files = walk(&dir);
        (row.get::<_, i64>(0), row.get::<_, Option<String>>(1), files)
    };
    let before = state().await;

    let text = work.path().join("notiz.tif");
    std::fs::write(&text, "Das ist kein Bild.").unwrap();
    let no_crs = Source::FINE.write(work.path(), "ohne-crs", Kind::NoCrs);
    let cmyk = Source::FINE.write(work.path(), "cmyk", Kind::Cmyk);
    let cases: [(&Path, &[&str], &str); 5] = [
        (&text, &["--id", "neu"], "keine Rasterdatei"),
        (&no_crs, &["--id", "neu"], "--source-srs"),
        (&cmyk, &["--id", "neu"], "CMYK"),
        (&good, &["--id", "bild"], "--replace"),
        (&good, &["--id", "Bild 1"], "Ungültige Kennung"),
    ];
    for (file, extra, message) in cases {
        let mut args = vec![file.to_str().unwrap(), "--year", "2021"];
        args.extend_from_slice(extra);
        let out = import(&url, &dir, &args).await;
        assert!(!out.status.success(), "{file:?} was accepted");
        assert!(stderr(&out).contains(message), "{file:?}: {}", stderr(&out));
        assert_eq!(state().await, before, "{file:?} changed something");
    }

    // Converted with a note: 16-bit, and no CRS with --source-srs.
    let wide = Source::FINE.write(work.path(), "16bit", Kind::Rgb16);
    let out = import(
        &url,
        &dir,
        &[wide.to_str().unwrap(), "--year", "2021", "--id", "breit"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("16-Bit"), "{}", stderr(&out));
    let out = import(
        &url,
        &dir,
        &[
            no_crs.to_str().unwrap(),
            "--year",
            "2022",
            "--source-srs",
            "EPSG:25832",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));

    // --replace swaps the version and removes the old files.
    let old_version = before.1.clone().unwrap();
    let out = import(
        &url,
        &dir,
        &[
            good.to_str().unwrap(),
            "--year",
            "2020",
            "--id",
            "bild",
            "--replace",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let version: String = client
        .query_one("SELECT version FROM catalog.imagery WHERE id = 'bild'", &[])
        .await
        .unwrap()
        .get(0);
    assert_ne!(version, old_version);
    assert!(!dir.join("bild").join(&old_version).exists());
    assert!(dir.join("bild").join(&version).join("z19-t0.tif").exists());
    let audit: i64 = client
        .query_one("SELECT count(*) FROM catalog.audit_log WHERE subject = 'bild' AND action LIKE 'imagery.%'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(audit, 2);

    // An epoch whose files went missing is left out of the lists; the others stay served.
    std::fs::remove_dir_all(dir.join("breit")).unwrap();
    let mut config = config_for(&url);
    config.imagery.dir = dir.display().to_string();
    let (app, _) = app_with(config).await;
    let list = get(&app, "/imagery", &[]).await;
    assert_eq!(list.status, 200);
    let ids: Vec<String> = list.json()["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        ids.contains(&"bild".to_owned()) && !ids.contains(&"breit".to_owned()),
        "{ids:?}"
    );
    assert_eq!(
        get(&app, "/wmts/1.0.0/WMTSCapabilities.xml", &[])
            .await
            .status,
        200
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// A JPEG-compressed aligned COG (as surveying offices deliver them, and as GDAL writes them
/// with the quantisation tables shared in `JPEGTables`): the copied tile, with the tables spliced
/// in, is a JPEG that GDAL decodes on its own, with the colours of the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jpeg_tiles_get_their_tables() {
    let work = tempfile::tempdir().unwrap();
    let source = Source::FINE.write(work.path(), "jpeg-quelle", Kind::Rgb);
    let cog = work.path().join("jpeg.tif");
    let out = std::process::Command::new("gdal_translate")
        .args([
            "-q",
            "-of",
            "COG",
            "-co",
            "TILING_SCHEME=GoogleMapsCompatible",
            "-co",
            "COMPRESS=JPEG",
        ])
        .args(["-co", "OVERVIEWS=NONE", "-co", "ADD_ALPHA=NO"])
        .arg(&source)
        .arg(&cog)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let level = stadtkarte_core::cog::CogLevel::open(&cog).unwrap();
    assert_eq!(level.codec, stadtkarte_core::cog::TileCodec::Jpeg);
    let (col, row) = (level.col0 + level.cols / 2, level.row0 + level.rows / 2);
    let bytes = level.tile(col, row).unwrap().expect("a tile in the middle");
    assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
    let tile = work.path().join("kachel.jpg");
    std::fs::write(&tile, &bytes).unwrap();
    let info = std::process::Command::new("gdalinfo")
        .args(["-stats", "-json"])
        .arg(&tile)
        .output()
        .unwrap();
    assert!(
        info.status.success(),
        "GDAL cannot decode the tile: {}",
        String::from_utf8_lossy(&info.stderr)
    );
    let json: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(json["size"], serde_json::json!([256, 256]));
    let mean = json["bands"][2]["mean"].as_f64().unwrap();
    assert!(
        mean > 60.0 && mean < 200.0,
        "blue (checkerboard 60/200) mean {mean}"
    );
    // The quantisation tables (DQT) come from the file's JPEGTables, not from the tile.
    assert!(
        bytes.windows(2).any(|w| w == [0xFF, 0xDB]),
        "no DQT in the served tile"
    );
}
