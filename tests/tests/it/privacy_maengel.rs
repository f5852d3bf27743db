//! DSGVO: a test person reports twice (on the web form and through Open311, with e-mail, name
//! and phone), staff write an internal note, everything is released; then every public output
//! of a real `stadtkarte serve` process — the Mängelmelder's pages and map data, Open311 in
//! JSON and XML, the OGC API, vector tiles, every download format, the DCAT catalog, CKAN — and
//! the server's own log are searched for the person's data and the note, and none is found.

use crate::maengel::{multipart, stamp_of};
use stadtkarte_tests::{RawResponse, ServerProcess, config_for, connect, demo_copy, http_raw};
use std::io::Read as _;
use std::time::Duration;

const EMAIL: &str = "erika.verborgen@example.org";
const FIRST: &str = "Erikaline";
const LAST: &str = "Musterfrau-Geheim";
const PHONE: &str = "0261 98765432";
const NOTE: &str = "INTERN-Anwohner-Streit-4711";
/// Fragments of the secrets that must not appear in any form (the local part, the phone digits).
const SECRETS: &[&str] = &[
    EMAIL,
    "erika.verborgen",
    FIRST,
    LAST,
    "98765432",
    NOTE,
    // The encoded forms a URL or a form body would carry.
    "erika.verborgen%40example.org",
    "Musterfrau%2DGeheim",
];

pub fn request(
    port: u16,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> RawResponse {
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/html\r\nConnection: close\r\n"
    )
    .into_bytes();
    if method == "POST" {
        raw.extend_from_slice(
            format!(
                "Origin: http://127.0.0.1:{port}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            )
            .as_bytes(),
        );
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(body);
    http_raw(port, &raw, Duration::from_secs(120))
        .unwrap_or_else(|| panic!("{method} {path}: no answer"))
}

pub fn fetch(port: u16, path: &str) -> RawResponse {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    http_raw(port, raw.as_bytes(), Duration::from_secs(60))
        .unwrap_or_else(|| panic!("GET {path}: no answer"))
}

fn find_secret(bytes: &[u8]) -> Option<&'static str> {
    let text = String::from_utf8_lossy(bytes).to_lowercase();
    SECRETS
        .iter()
        .find(|s| text.contains(&s.to_lowercase()))
        .copied()
}

/// The entries of a ZIP archive, each unpacked.
pub fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP archive");
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut out = Vec::new();
            entry.read_to_end(&mut out).unwrap();
            (entry.name().to_owned(), out)
        })
        .collect()
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // within 0..2^z
pub fn tile_of(lon: f64, lat: f64, z: i32) -> (u32, u32) {
    let n = 2_f64.powi(z);
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    (x.floor() as u32, y.floor() as u32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)]
async fn no_public_output_and_no_log_line_holds_the_reporters_data() {
    let url = demo_copy().await;
    let config = config_for(&url);
    let client = connect(&url).await;
    stadtkarte_opendata::registry::link_maengel(
        &client,
        &stadtkarte::dataset_defaults(&config),
        "test",
    )
    .await
    .unwrap();
    let key = stadtkarte_maengelmelder::open311::add_key(&client, "datenschutztest")
        .await
        .unwrap();
    let point = client
        .query_one(
            "SELECT ST_Y(p), ST_X(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p
             FROM data.gebaeude ORDER BY id OFFSET 200 LIMIT 1) g",
            &[],
        )
        .await
        .unwrap();
    let (lat, lon): (f64, f64) = (point.get(0), point.get(1));
    let (la, lo) = (format!("{lat:.6}"), format!("{lon:.6}"));
    let server = ServerProcess::start(&[
        ("STADTKARTE_DATABASE__URL", url.as_str()),
        ("STADTKARTE_MAENGEL__MIN_FILL_SECS", "0"),
        // Everything the server would say at the most talkative level.
        ("RUST_LOG", "debug,tokio_postgres=info,hyper=info,h2=info"),
    ]);
    let port = server.port;

    // 1. The web form, with e-mail and name.
    let step2 = fetch(
        port,
        "/maengel/melden?kategorie=beleuchtung&stadtteil=Altstadt",
    );
    assert_eq!(step2.status, 200, "{}", step2.text());
    let stamp = stamp_of(&step2.text());
    let (content_type, body) = multipart(
        &[
            ("kategorie", "beleuchtung"),
            ("lat", &la),
            ("lon", &lo),
            (
                "beschreibung",
                "Laterne vor dem Spielplatz flackert seit Tagen",
            ),
            ("email", EMAIL),
            ("name", &format!("{FIRST} {LAST}")),
            ("updates", "ja"),
            ("datenschutz", "ja"),
            ("stamp", &stamp),
        ],
        &[],
    );
    let r = request(port, "POST", "/maengel/melden", &content_type, &body);
    assert_eq!(r.status, 303, "{}", r.text());
    let confirmation = r.header("location").to_owned();
    let web_id: i64 = confirmation
        .trim_start_matches("/maengel/")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // 2. Open311, with e-mail, first and last name and phone.
    let form = [
        ("api_key", key.as_str()),
        ("service_code", "verkehrszeichen"),
        ("lat", &la),
        ("long", &lo),
        ("description", "Verkehrsschild an der Kreuzung verdreht"),
        ("email", EMAIL),
        ("first_name", FIRST),
        ("last_name", LAST),
        ("phone", PHONE),
    ];
    let encoded: String = form
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.bytes()
                    .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    })
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let r = request(
        port,
        "POST",
        "/open311/v2/requests.json",
        "application/x-www-form-urlencoded",
        encoded.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let posted: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let api_id: i64 = posted[0]["service_request_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // The data did arrive (so that finding nothing below means something).
    let stored = client
        .query_one(
            "SELECT count(*) FILTER (WHERE reporter_email = $1), count(*) FILTER (WHERE reporter_phone = $2),
                    count(*) FILTER (WHERE reporter_name LIKE '%' || $3 || '%')
             FROM maengel.reports WHERE id = ANY($4)",
            &[&EMAIL, &PHONE, &LAST, &vec![web_id, api_id]],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            stored.get::<_, i64>(0),
            stored.get::<_, i64>(1),
            stored.get::<_, i64>(2)
        ),
        (2, 1, 2)
    );
    // Staff note something internal, a public note, and everything is released.
    client
        .batch_execute(&format!(
            "INSERT INTO maengel.events (report_id, kind, public, text) VALUES ({web_id}, 'internal', false, '{NOTE}');
             UPDATE maengel.reports SET released_at = now() - interval '1 minute', status = 'in_bearbeitung',
                    status_note = 'Auftrag an die Stadtwerke erteilt' WHERE id IN ({web_id}, {api_id});
             INSERT INTO maengel.events (report_id, kind, status, public, text)
                    VALUES ({web_id}, 'status', 'in_bearbeitung', true, 'Auftrag an die Stadtwerke erteilt');"
        ))
        .await
        .unwrap();
    let token: String = client
        .query_one(
            "SELECT token FROM maengel.reports WHERE id = $1",
            &[&api_id],
        )
        .await
        .unwrap()
        .get(0);

    // Every public output.
    let (tx, ty) = tile_of(lon, lat, 16);
    let mut paths: Vec<String> = [
        "/maengel",
        "/maengel?lang=en",
        "/maengel/karte.geojson",
        "/maengel/statistik",
        "/maengel/statistik.json",
        "/maengel/datenschutz",
        "/open311/discovery.json",
        "/open311/discovery.xml",
        "/open311/v2/services.json",
        "/open311/v2/services.xml",
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
        "/open311/v2/requests.json?extensions=true",
        "/open311/v2/requests.xml?extensions=true",
        "/open311/v2/servicerequestupdates.json",
        "/open311/v2/servicerequestupdates.xml",
        "/collections/maengel",
        "/collections/maengel/items?f=json",
        "/collections/maengel/items?f=html",
        "/collections/maengel/items?f=csv",
        "/collections/maengel/queryables",
        "/opendata",
        "/opendata/maengelmeldungen",
        "/opendata/catalog.ttl",
        "/opendata/catalog.jsonld",
        "/opendata/catalog.rdf",
        "/api/3/action/package_show?id=maengelmeldungen",
        "/api/3/action/package_search?q=M%C3%A4ngel",
        "/api/3/action/package_list",
    ]
    .iter()
    .map(|p| (*p).to_owned())
    .collect();
    for id in [web_id, api_id] {
        paths.extend([
            format!("/maengel/{id}"),
            format!("/maengel/{id}?lang=en"),
            format!("/maengel/{id}/eingegangen"),
            format!("/open311/v2/requests/{id}.json?extensions=true"),
            format!("/open311/v2/requests/{id}.xml?extensions=true"),
            format!("/collections/maengel/items/{id}?f=json"),
            format!("/collections/maengel/items/{id}?f=html"),
        ]);
    }
    paths.push(format!("/open311/v2/tokens/{token}.json"));
    paths.push(format!("/open311/v2/tokens/{token}.xml"));
    paths.push(format!(
        "/collections/maengel/tiles/WebMercatorQuad/16/{ty}/{tx}"
    ));
    paths.push(format!(
        "/maengel/in-der-naehe?lat={la}&lon={lo}&kategorie=beleuchtung"
    ));
    for ext in ["geojson", "csv", "gpkg", "fgb", "kml", "shp.zip"] {
        paths.push(format!("/opendata/maengelmeldungen/maengel.{ext}"));
    }
    let mut seen_description = 0;
    let mut tile_bytes = 0;
    for path in &paths {
        let r = fetch(port, path);
        assert!(
            r.status == 200 || (path.contains("/eingegangen") && r.status == 404),
            "{path}: {} {}",
            r.status,
            r.text()
        );
        let parts = if std::path::Path::new(path)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        {
            unzip(&r.body)
        } else {
            vec![(path.clone(), r.body.clone())]
        };
        for (name, bytes) in parts {
            assert_eq!(
                find_secret(&bytes),
                None,
                "{path} ({name}) leaks personal data"
            );
            if String::from_utf8_lossy(&bytes).contains("Laterne vor dem Spielplatz") {
                seen_description += 1;
            }
        }
        if path.contains("/tiles/") {
            tile_bytes = r.body.len();
        }
    }
    assert!(tile_bytes > 0, "the tile holds the reports");
    assert!(
        seen_description >= 10,
        "the released description is public in most outputs: {seen_description}"
    );
    // And the server's log, at debug level, names none of it either.
    let log = std::fs::read(server.log.path()).unwrap();
    assert!(log.len() > 1000, "the log is being written");
    assert_eq!(find_secret(&log), None, "the log leaks personal data");
}
