//! The Mängelmelder through its pages: the two-step form without JavaScript, photos without
//! metadata, every kind of bad input, "Schon gemeldet?" and "me too", the staff triage with its
//! department scoping and audit log, the reporter's links, mail through a real SMTP server
//! (also while it is down), retention and the privacy commands, the statistics, and the
//! database going away during a submission.

use std::io::Cursor;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use stadtkarte_core::AppState;
use stadtkarte_core::auth::{Role, session, users};
use stadtkarte_tests::{TestResponse, connect, get, maengel_app, send};

/// The multipart body of a form: text fields and files (field, file name, bytes).
pub fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "----stadtkarte-test-boundary-7d9a";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, file, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A JPEG of `w`×`h` with an EXIF block (orientation, and the marker `GPS-50.3569-7.5940`),
/// an XMP block and a comment naming a person: everything the server must remove.
pub fn jpeg_with_metadata(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            u8::try_from(x % 256).unwrap(),
            u8::try_from(y % 256).unwrap(),
            128,
        ])
    });
    let mut plain = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut plain), image::ImageFormat::Jpeg)
        .unwrap();
    // EXIF: a big-endian TIFF with IFD0 holding Orientation = 1, then unreferenced bytes.
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&[
        0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    tiff.extend_from_slice(b"GPS-50.3569-7.5940");
    let mut exif = b"Exif\x00\x00".to_vec();
    exif.extend_from_slice(&tiff);
    let xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><rdf:Description exif:GPSLatitude=\"50,21.4N\"/></x:xmpmeta>".to_vec();
    let comment = b"Aufgenommen von Erika Musterfrau".to_vec();
    let mut out = plain[..2].to_vec();
    for (marker, payload) in [(0xE1_u8, exif), (0xE1, xmp), (0xFE, comment)] {
        out.extend_from_slice(&[0xFF, marker]);
        out.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        out.extend_from_slice(&payload);
    }
    out.extend_from_slice(&plain[2..]);
    out
}

/// A PNG whose header claims `w`×`h` pixels (the rest is a tiny real image): a decompression
/// bomb when the claim is large.
pub fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8))
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    // IHDR data starts at byte 16: width, height; its CRC follows the 13 data bytes.
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The form's stamp in a page.
pub fn stamp_of(page: &str) -> String {
    let at = page
        .find("name=\"stamp\" value=\"")
        .unwrap_or_else(|| panic!("no stamp in the page: {page}"))
        + 20;
    page[at..].split('"').next().unwrap().to_owned()
}

/// A real address of the demo city with its point.
pub async fn an_address(state: &AppState, n: i64) -> (String, f64, f64) {
    let client = connect(&state.config.database.url).await;
    let row = client
        .query_one(
            "SELECT strasse || ' ' || hausnummer, ST_Y(ST_Transform(ST_PointOnSurface(geom), 4326)),
                    ST_X(ST_Transform(ST_PointOnSurface(geom), 4326))
             FROM data.gebaeude ORDER BY id OFFSET $1 LIMIT 1",
            &[&n],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

/// Posts the report form.
pub async fn post_form(
    app: &Router,
    fields: &[(&str, &str)],
    files: &[(&str, &str, Vec<u8>)],
) -> TestResponse {
    let (content_type, body) = multipart(fields, files);
    send(
        app,
        Request::post("/maengel/melden")
            .header("content-type", content_type)
            .header("accept", "text/html")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// A fresh stamp of the form (as a browser gets it with step 2).
pub async fn fresh_stamp(app: &Router) -> String {
    stamp_of(
        &get(
            app,
            "/maengel/melden?kategorie=beleuchtung&stadtteil=Altstadt",
            &[],
        )
        .await
        .text(),
    )
}

/// Submits a complete report at `lat`/`lon`; returns its number.
pub async fn report_at(
    app: &Router,
    category: &str,
    lat: f64,
    lon: f64,
    description: &str,
    email: &str,
    extra: &[(&str, &str)],
) -> i64 {
    let stamp = fresh_stamp(app).await;
    let (lat, lon) = (format!("{lat:.6}"), format!("{lon:.6}"));
    let mut fields = vec![
        ("kategorie", category),
        ("lat", lat.as_str()),
        ("lon", lon.as_str()),
        ("beschreibung", description),
        ("email", email),
        ("updates", "ja"),
        ("datenschutz", "ja"),
        ("stamp", stamp.as_str()),
    ];
    fields.extend_from_slice(extra);
    let r = post_form(app, &fields, &[]).await;
    assert_eq!(r.status, 303, "{}", r.text());
    r.header("location")
        .trim_start_matches("/maengel/")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn count(state: &AppState, sql: &str) -> i64 {
    connect(&state.config.database.url)
        .await
        .query_one(sql, &[])
        .await
        .unwrap()
        .get(0)
}

/// A staff session for a new account with `roles`; returns (cookie, csrf token, user id).
pub async fn staff(
    state: &AppState,
    email: &str,
    roles: &[(Role, Option<&str>)],
) -> (String, String, i64) {
    let client = connect(&state.config.database.url).await;
    let id = users::add(&client, email, "Test Sachbearbeitung", None)
        .await
        .unwrap();
    let roles: Vec<(Role, Option<String>)> = roles
        .iter()
        .map(|(r, d)| (*r, d.map(str::to_owned)))
        .collect();
    users::set_roles(&client, id, &roles).await.unwrap();
    let token = session::create(&client, &state.config, id, false, false)
        .await
        .unwrap();
    let csrf: String = client
        .query_one(
            "SELECT csrf_token FROM auth.sessions WHERE token_hash = $1",
            &[&session::token_hash(&token)],
        )
        .await
        .unwrap()
        .get(0);
    (
        format!("{}={token}", session::cookie_name(&state.config)),
        csrf,
        id,
    )
}

/// A staff form post (same origin).
pub async fn staff_post(app: &Router, cookie: &str, path: &str, body: &str) -> TestResponse {
    send(
        app,
        Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .header("cookie", cookie)
            .header("origin", "http://127.0.0.1:8080")
            .body(Body::from(body.to_owned()))
            .unwrap(),
    )
    .await
}

pub async fn staff_get(app: &Router, cookie: &str, path: &str) -> TestResponse {
    get(app, path, &[("cookie", cookie), ("accept", "text/html")]).await
}

fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn a_report_without_javascript_from_form_to_public_page() {
    let (app, state) = maengel_app(|_| {}).await;
    // Step 1: categories as radio buttons, address and district instead of the map.
    let step1 = get(&app, "/maengel/melden", &[]).await;
    assert_eq!(step1.status, 200);
    let text = step1.text();
    for needle in [
        "type=\"radio\" name=\"kategorie\"",
        "Straßenschaden / Schlagloch",
        "name=\"adresse\"",
        "name=\"stadtteil\"",
        "<option value=\"Altstadt\"",
    ] {
        assert!(text.contains(needle), "step 1 lacks {needle}");
    }
    // An address of the city leads to step 2 with the place resolved and the category's questions.
    let (address, lat, lon) = an_address(&state, 10).await;
    let step2 = get(
        &app,
        &format!(
            "/maengel/melden?kategorie=strassenschaden&adresse={}",
            enc(&address)
        ),
        &[],
    )
    .await;
    assert_eq!(step2.status, 200, "{}", step2.text());
    let text = step2.text();
    assert!(text.contains(&address), "the place is named");
    assert!(
        text.contains("name=\"attribute[art]\""),
        "the required question is asked"
    );
    assert!(text.contains("enctype=\"multipart/form-data\""));
    let lat_field = text
        .split("name=\"lat\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        (lat_field.parse::<f64>().unwrap() - lat).abs() < 1e-5,
        "{lat_field} vs {lat}"
    );
    let lon_field = text
        .split("name=\"lon\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert!((lon_field.parse::<f64>().unwrap() - lon).abs() < 1e-5);
    let stamp = stamp_of(&text);

    // Step 2, sent with a photo full of metadata.
    let photo = jpeg_with_metadata(640, 480);
    assert!(photo.windows(4).any(|w| w == b"Exif"));
    let r = post_form(
        &app,
        &[
            ("kategorie", "strassenschaden"),
            ("lat", &lat_field),
            ("lon", &lon_field),
            ("adresse", &address),
            ("attribute[art]", "schlagloch"),
            ("attribute[flaeche]", "radweg"),
            (
                "beschreibung",
                "Tiefes Schlagloch auf dem Radweg, etwa 30 cm breit.",
            ),
            ("email", "Erika.Musterfrau@example.org"),
            ("name", "Erika Musterfrau"),
            ("updates", "ja"),
            ("datenschutz", "ja"),
            ("stamp", &stamp),
            ("website", ""),
        ],
        &[("fotos", "IMG_0001.JPG", photo)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let location = r.header("location").to_owned();
    let id: i64 = location
        .trim_start_matches("/maengel/")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // Durable before the page says so: the row, its photo and its mail are there.
    let client = connect(&state.config.database.url).await;
    let row = client
        .query_one(
            "SELECT category, reporter_email, reporter_name, attributes, address, district, released_at IS NULL
             FROM maengel.reports WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "strassenschaden");
    assert_eq!(row.get::<_, String>(1), "erika.musterfrau@example.org");
    assert_eq!(row.get::<_, String>(2), "Erika Musterfrau");
    assert_eq!(
        row.get::<_, serde_json::Value>(3),
        serde_json::json!({"art": "schlagloch", "flaeche": "radweg"})
    );
    assert_eq!(row.get::<_, String>(4), address);
    assert!(
        row.get::<_, bool>(6),
        "road damage is released only after review"
    );
    let photo: Vec<u8> = client
        .query_one(
            "SELECT display FROM maengel.photos WHERE report_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(&photo[..2], b"\xFF\xD8", "a JPEG");
    for gone in [&b"Exif"[..], b"GPS-50.3569", b"xap/1.0", b"Musterfrau"] {
        assert!(
            !photo.windows(gone.len()).any(|w| w == gone),
            "{} survived",
            String::from_utf8_lossy(gone)
        );
    }
    let mails = client
        .query(
            "SELECT recipient, subject, body FROM maengel.outbox ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(mails.len(), 2, "confirmation and the department's notice");
    let confirmation = mails
        .iter()
        .find(|m| m.get::<_, String>(0) == "erika.musterfrau@example.org")
        .unwrap();
    assert!(confirmation.get::<_, String>(1).contains(&id.to_string()));
    assert!(
        confirmation
            .get::<_, String>(2)
            .contains(&format!("/maengel/{id}"))
    );
    assert!(
        mails
            .iter()
            .any(|m| m.get::<_, String>(0) == "tiefbauamt@koblenz.example")
    );

    // The confirmation page: number and tracking link.
    let page = get(&app, &location, &[]).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains(&format!("Nr. {id}")) || page.text().contains(&format!("Nummer {id}"))
    );
    assert!(page.text().contains(&format!("/maengel/{id}")));
    // The public page: category and status, not yet the description nor the photo.
    let public = get(&app, &format!("/maengel/{id}"), &[]).await;
    assert_eq!(public.status, 200);
    let text = public.text();
    assert!(text.contains("Eingegangen"));
    assert!(!text.contains("Tiefes Schlagloch"), "not released yet");
    assert!(!text.contains("/fotos/"), "no photo before release");
    assert!(!text.contains("Musterfrau") && !text.contains("erika."));
    // The collection in the OGC API has it, without description.
    let items = get(
        &app,
        &format!("/collections/maengel/items/{id}?f=json"),
        &[],
    )
    .await;
    assert_eq!(items.status, 200, "{}", items.text());
    let feature = items.json();
    assert_eq!(feature["properties"]["status"], "eingegangen");
    assert!(feature["properties"]["description"].is_null());
    // In English, too.
    let en = get(&app, "/maengel/melden?lang=en", &[]).await.text();
    assert!(en.contains("Road damage / pothole") && en.contains("lang=\"en\""));
}

#[tokio::test]
async fn bad_input_is_refused_with_reasons_and_stores_nothing() {
    let (app, state) = maengel_app(|c| {
        c.maengel.photo_max_bytes = 100_000;
        c.maengel.reports_per_client_hour = 1000;
    })
    .await;
    let (_, lat, lon) = an_address(&state, 20).await;
    let (lat, lon) = (format!("{lat:.6}"), format!("{lon:.6}"));
    let before = count(&state, "SELECT count(*) FROM maengel.reports").await;
    let long = "x".repeat(4001);
    let base = |stamp: &str| -> Vec<(String, String)> {
        [
            ("kategorie", "strassenschaden"),
            ("lat", lat.as_str()),
            ("lon", lon.as_str()),
            ("attribute[art]", "riss"),
            ("beschreibung", "Riss in der Fahrbahn"),
            ("datenschutz", "ja"),
            ("stamp", stamp),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    };
    let with = |fields: Vec<(String, String)>, change: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = fields
            .into_iter()
            .filter(|(k, _)| !change.iter().any(|(c, _)| c == k))
            .collect();
        for (k, v) in change {
            if !v.is_empty() || *k == "beschreibung" {
                out.push(((*k).to_owned(), (*v).to_owned()));
            }
        }
        out
    };
    let long_change = [("beschreibung", long.as_str())];
    let cases: Vec<(&str, &[(&str, &str)], &str)> = vec![
        (
            "outside the city",
            &[("lat", "48.137"), ("lon", "11.575")],
            "außerhalb des Stadtgebiets",
        ),
        ("unknown category", &[("kategorie", "ufo")], "gibt es nicht"),
        (
            "missing required attribute",
            &[("attribute[art]", "")],
            "Art des Schadens",
        ),
        (
            "empty description",
            &[("beschreibung", "   ")],
            "beschreiben Sie den Mangel",
        ),
        ("over-long description", &long_change, "4001 Zeichen"),
        (
            "malformed latitude",
            &[("lat", "50,35x")],
            "Koordinaten sind ungültig",
        ),
        (
            "latitude off the earth",
            &[("lat", "123.4")],
            "Koordinaten sind ungültig",
        ),
        (
            "privacy notice not accepted",
            &[("datenschutz", "")],
            "Datenschutzhinweise",
        ),
        (
            "bad e-mail",
            &[("email", "nicht-gültig@")],
            "keine gültige E-Mail",
        ),
    ];
    for (what, change, message) in cases {
        let stamp = fresh_stamp(&app).await;
        let fields = with(base(&stamp), change);
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = post_form(&app, &refs, &[]).await;
        assert_eq!(r.status, 400, "{what}: {}", r.text());
        let text = r.text();
        assert!(text.contains(message), "{what}: the page lacks {message:?}");
        assert!(
            text.contains("role=\"alert\""),
            "{what}: errors are announced"
        );
        // What was typed is still there.
        if what != "over-long description" && what != "empty description" {
            assert!(
                text.contains("Riss in der Fahrbahn") || what == "unknown category",
                "{what}: the description is kept"
            );
        }
    }
    // Photos: a fake image, a HEIC, an oversized one, a decompression bomb, a fourth photo.
    let small = jpeg_with_metadata(64, 48);
    let big = jpeg_with_metadata(1200, 1200);
    assert!(big.len() > 100_000, "{}", big.len());
    let heic = [&[0_u8, 0, 0, 24][..], b"ftypheic", &[0; 40]].concat();
    let photo_cases: Vec<(&str, Vec<(&str, &str, Vec<u8>)>, &str)> = vec![
        (
            "fake image",
            vec![("fotos", "bild.jpg", b"<html>kein Bild</html>".to_vec())],
            "bild.jpg",
        ),
        ("HEIC", vec![("fotos", "IMG_7.HEIC", heic)], "JPEG"),
        ("oversized", vec![("fotos", "gross.jpg", big)], "MB"),
        (
            "decompression bomb",
            vec![("fotos", "bombe.png", png_claiming(60_000, 60_000))],
            "60000",
        ),
        (
            "fourth photo",
            (1..=4)
                .map(|i| {
                    (
                        "fotos",
                        ["a.jpg", "b.jpg", "c.jpg", "d.jpg"][i - 1],
                        small.clone(),
                    )
                })
                .collect(),
            "höchstens 3",
        ),
    ];
    for (what, files, message) in photo_cases {
        let stamp = fresh_stamp(&app).await;
        let fields = base(&stamp);
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let started = std::time::Instant::now();
        let r = post_form(&app, &refs, &files).await;
        assert_eq!(r.status, 400, "{what}: {}", r.text());
        assert!(
            r.text().contains(message),
            "{what}: the page lacks {message:?}: {}",
            r.text()
        );
        if what == "decompression bomb" {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the bomb was not decoded"
            );
        }
    }
    // The honeypot and a form that comes back too fast.
    let stamp = fresh_stamp(&app).await;
    let fields = with(base(&stamp), &[("website", "http://spam.example")]);
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = post_form(&app, &refs, &[]).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("zu schnell oder war veraltet"));
    let fields = with(base("123.forged"), &[]);
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        post_form(&app, &refs, &[]).await.status,
        400,
        "a forged stamp"
    );
    // Nothing of all that was stored.
    assert_eq!(
        count(&state, "SELECT count(*) FROM maengel.reports").await,
        before
    );
    assert_eq!(
        count(&state, "SELECT count(*) FROM maengel.photos").await,
        0
    );
    assert_eq!(
        count(&state, "SELECT count(*) FROM maengel.outbox").await,
        0
    );
    // Step 1 says "outside" before anything is sent.
    let r = get(
        &app,
        "/maengel/melden?kategorie=muell&lat=48.137&lon=11.575",
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("außerhalb des Stadtgebiets"));
    let r = get(&app, "/maengel/in-der-naehe?lat=48.137&lon=11.575", &[])
        .await
        .json();
    assert_eq!(r["inside"], false);
    // An unknown address gets suggestions.
    let (address, _, _) = an_address(&state, 30).await;
    let street = address.rsplit_once(' ').unwrap().0;
    let r = get(
        &app,
        &format!(
            "/maengel/melden?kategorie=muell&adresse={}",
            enc(&format!("{street} 9999"))
        ),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("Meinten Sie") && r.text().contains(street),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn an_over_large_body_is_refused_before_it_is_read() {
    let (app, _) = maengel_app(|c| c.maengel.photo_max_bytes = 100_000).await;
    // Announced as 50 MB, but only a few bytes follow: the answer must not wait for the rest.
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        send(
            &app,
            Request::post("/maengel/melden")
                .header("content-type", "multipart/form-data; boundary=x")
                .header("content-length", "52428800")
                .body(Body::from("--x\r\n"))
                .unwrap(),
        ),
    )
    .await
    .expect("answered without reading 50 MB");
    assert_eq!(r.status, 413, "{}", r.text());
}

#[tokio::test]
async fn already_reported_nearby_and_me_too_without_personal_data() {
    let (app, state) = maengel_app(|_| {}).await;
    let (_, lat, lon) = an_address(&state, 40).await;
    let first = report_at(&app, "beleuchtung", lat, lon, "Laterne dunkel", "", &[]).await;
    // 20 m away, same category: shown before sending; another category: not shown.
    let near = lat + 0.00018;
    let step2 = get(
        &app,
        &format!("/maengel/melden?kategorie=beleuchtung&lat={near:.6}&lon={lon:.6}"),
        &[],
    )
    .await
    .text();
    assert!(step2.contains("Schon gemeldet?"), "{step2}");
    assert!(step2.contains(&format!("/maengel/{first}/unterstuetzen")));
    let other = get(
        &app,
        &format!("/maengel/melden?kategorie=graffiti&lat={near:.6}&lon={lon:.6}"),
        &[],
    )
    .await
    .text();
    assert!(!other.contains("Schon gemeldet?"));
    // 200 m away: not shown.
    let far = get(
        &app,
        &format!(
            "/maengel/melden?kategorie=beleuchtung&lat={:.6}&lon={lon:.6}",
            lat + 0.0018
        ),
        &[],
    )
    .await
    .text();
    assert!(!far.contains(&format!("/maengel/{first}/unterstuetzen")));
    // The map script's JSON says the same.
    let json = get(
        &app,
        &format!("/maengel/in-der-naehe?kategorie=beleuchtung&lat={near:.6}&lon={lon:.6}"),
        &[],
    )
    .await
    .json();
    assert_eq!(json["inside"], true);
    assert_eq!(json["reports"][0]["id"], first);
    // Me too: counted once per client and day, nothing else stored.
    let stamp = stamp_of(&step2);
    let support = |stamp: String| {
        let app = app.clone();
        async move {
            send(
                &app,
                Request::post(format!("/maengel/{first}/unterstuetzen"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(format!("stamp={}", enc(&stamp))))
                    .unwrap(),
            )
            .await
        }
    };
    let r = support(stamp.clone()).await;
    assert_eq!(r.status, 303);
    assert!(r.header("location").contains("unterstuetzt=1"));
    let r = support(stamp).await;
    assert!(r.header("location").contains("schon=1"));
    let supporters = count(
        &state,
        &format!("SELECT supporters::bigint FROM maengel.reports WHERE id = {first}"),
    )
    .await;
    assert_eq!(supporters, 1);
    let page = get(&app, &format!("/maengel/{first}?unterstuetzt=1"), &[])
        .await
        .text();
    assert!(page.contains("Ihre Unterstützung wurde gezählt"));
}

#[tokio::test]
async fn staff_triage_their_departments_reports_and_every_action_is_audited() {
    let (app, state) = maengel_app(|_| {}).await;
    let (address, lat, lon) = an_address(&state, 50).await;
    let id = report_at(
        &app,
        "strassenschaden",
        lat,
        lon,
        "Schlagloch vor Hausnummer",
        "melder@example.org",
        &[("attribute[art]", "schlagloch")],
    )
    .await;
    let (target_address, tlat, tlon) = an_address(&state, 51).await;
    let target = report_at(
        &app,
        "strassenschaden",
        tlat,
        tlon,
        "Noch ein Schlagloch",
        "",
        &[("attribute[art]", "riss")],
    )
    .await;
    let (tiefbau, tiefbau_csrf, tiefbau_id) = staff(
        &state,
        "sb.tiefbau@test.example",
        &[(Role::Triage, Some("tiefbau"))],
    )
    .await;
    let (gruen, gruen_csrf, _) = staff(
        &state,
        "sb.gruen@test.example",
        &[(Role::Triage, Some("gruen"))],
    )
    .await;

    // The queue: tiefbau sees it, gruen does not and may not open it.
    let queue = staff_get(&app, &tiefbau, "/admin/maengel").await;
    assert_eq!(queue.status, 200);
    assert!(queue.text().contains(&format!("/admin/maengel/{id}")));
    assert!(queue.text().contains("<svg"), "a map of the queue");
    assert!(
        !staff_get(&app, &gruen, "/admin/maengel")
            .await
            .text()
            .contains(&format!("/admin/maengel/{id}"))
    );
    assert_eq!(
        staff_get(&app, &gruen, &format!("/admin/maengel/{id}"))
            .await
            .status,
        403
    );
    assert_eq!(
        staff_post(
            &app,
            &gruen,
            &format!("/admin/maengel/{id}/status"),
            &format!("csrf={gruen_csrf}&status=erledigt")
        )
        .await
        .status,
        403
    );
    // Without the CSRF token: refused.
    assert_eq!(
        staff_post(
            &app,
            &tiefbau,
            &format!("/admin/maengel/{id}/status"),
            "status=geprueft"
        )
        .await
        .status,
        403
    );
    let detail = staff_get(&app, &tiefbau, &format!("/admin/maengel/{id}"))
        .await
        .text();
    assert!(detail.contains("Schlagloch vor Hausnummer") && detail.contains("melder@example.org"));

    // Status with a public note from a template; an internal note.
    let template: i64 = count(
        &state,
        "SELECT id FROM maengel.templates WHERE status = 'geprueft'",
    )
    .await;
    let r = staff_post(
        &app,
        &tiefbau,
        &format!("/admin/maengel/{id}/status"),
        &format!("csrf={tiefbau_csrf}&status=geprueft&vorlage={template}&notiz="),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = staff_post(
        &app,
        &tiefbau,
        &format!("/admin/maengel/{id}/notiz"),
        &format!(
            "csrf={tiefbau_csrf}&notiz={}",
            enc("Anwohner Herr Meier sagt: seit Mai")
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    // Release the description.
    let r = staff_post(
        &app,
        &tiefbau,
        &format!("/admin/maengel/{id}/freigabe"),
        &format!("csrf={tiefbau_csrf}&was=beschreibung_freigeben"),
    )
    .await;
    assert_eq!(r.status, 200);
    let public = get(&app, &format!("/maengel/{id}"), &[]).await.text();
    assert!(public.contains("Geprüft"));
    assert!(
        public.contains("geprüft und an die zuständige Stelle weitergegeben"),
        "the template's note is public"
    );
    assert!(public.contains("Schlagloch vor Hausnummer"), "released");
    assert!(
        !public.contains("Herr Meier"),
        "internal notes stay internal"
    );
    // The reporter got mail about the change.
    let client = connect(&state.config.database.url).await;
    let status_mails: i64 = client
        .query_one("SELECT count(*) FROM maengel.outbox WHERE recipient = 'melder@example.org' AND kind = 'status'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status_mails, 1);

    // Assign, move (inside the city, then outside: refused), merge the other report into it.
    let r = staff_post(
        &app,
        &tiefbau,
        &format!("/admin/maengel/{id}/zuweisen"),
        &format!("csrf={tiefbau_csrf}&person={tiefbau_id}"),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = staff_post(
        &app,
        &tiefbau,
        &format!("/admin/maengel/{id}/ort"),
        &format!("csrf={tiefbau_csrf}&lat={:.6}&lon={:.6}", lat + 0.0001, lon),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = staff_post(
        &app,
        &tiefbau,
        &format!("/admin/maengel/{id}/ort"),
        &format!("csrf={tiefbau_csrf}&lat=48.1&lon=11.5"),
    )
    .await;
    assert_eq!(r.status, 400);
    // A supporter on the duplicate first, so that supporters must move.
    client
        .execute(
            "UPDATE maengel.reports SET supporters = 2 WHERE id = $1",
            &[&target],
        )
        .await
        .unwrap();
    let r = staff_post(
        &app,
        &tiefbau,
        &format!("/admin/maengel/{target}/duplikat"),
        &format!("csrf={tiefbau_csrf}&ziel={id}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let row = client
        .query_one(
            "SELECT status, duplicate_of FROM maengel.reports WHERE id = $1",
            &[&target],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "duplikat");
    assert_eq!(row.get::<_, Option<i64>>(1), Some(id));
    let supporters: i32 = client
        .query_one(
            "SELECT supporters FROM maengel.reports WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        supporters, 3,
        "the duplicate's two supporters and its reporter"
    );
    assert!(
        get(&app, &format!("/maengel/{target}"), &[])
            .await
            .text()
            .contains(&format!("/maengel/{id}"))
    );
    let _ = target_address;

    // Re-categorise to a green-space category: re-routed, tiefbau loses it, gruen gets it.
    let r = staff_post(
        &app,
        &tiefbau,
        &format!("/admin/maengel/{id}/kategorie"),
        &format!("csrf={tiefbau_csrf}&kategorie=gruen"),
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        staff_get(&app, &tiefbau, &format!("/admin/maengel/{id}"))
            .await
            .status,
        403
    );
    assert_eq!(
        staff_get(&app, &gruen, &format!("/admin/maengel/{id}"))
            .await
            .status,
        200
    );
    let dept_mail: i64 = client
        .query_one("SELECT count(*) FROM maengel.outbox WHERE recipient = 'gruenflaechenamt@koblenz.example'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(dept_mail, 1, "the new department hears of it");
    // Done: the reporter is asked whether it is fixed.
    let r = staff_post(
        &app,
        &gruen,
        &format!("/admin/maengel/{id}/status"),
        &format!(
            "csrf={gruen_csrf}&status=erledigt&notiz={}",
            enc("Loch verfüllt.")
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    let body: String = client
        .query_one("SELECT body FROM maengel.outbox WHERE recipient = 'melder@example.org' ORDER BY id DESC LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        body.contains("Loch verfüllt.") && body.contains("/rueckmeldung/"),
        "{body}"
    );
    let link = body
        .split_whitespace()
        .find(|w| w.contains("/rueckmeldung/"))
        .unwrap();
    let path = &link[link.find("/maengel/").unwrap()..];
    // The link itself changes nothing (mail scanners); the button reopens.
    let form = get(&app, path, &[]).await;
    assert_eq!(form.status, 200);
    assert_eq!(
        client
            .query_one("SELECT status FROM maengel.reports WHERE id = $1", &[&id])
            .await
            .unwrap()
            .get::<_, String>(0),
        "erledigt"
    );
    let r = send(
        &app,
        Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("behoben=nein"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    let row = client
        .query_one(
            "SELECT status, closed_at IS NULL FROM maengel.reports WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "eingegangen");
    assert!(row.get::<_, bool>(1));
    assert!(
        get(&app, &format!("/maengel/{id}"), &[])
            .await
            .text()
            .contains("Wieder geöffnet")
    );
    // A wrong secret is refused.
    assert_eq!(
        get(&app, &format!("/maengel/{id}/rueckmeldung/falsch"), &[])
            .await
            .status,
        404
    );

    // Hide the whole report (abuse): gone from the public, still there for staff.
    let r = staff_post(
        &app,
        &gruen,
        &format!("/admin/maengel/{id}/freigabe"),
        &format!("csrf={gruen_csrf}&was=meldung_verbergen"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(get(&app, &format!("/maengel/{id}"), &[]).await.status, 404);
    assert_eq!(
        get(
            &app,
            &format!("/collections/maengel/items/{id}?f=json"),
            &[]
        )
        .await
        .status,
        404
    );

    // Every action is one audit entry with before and after and without the reporter's data.
    let entries = client
        .query(
            "SELECT action, before, after FROM catalog.audit_log WHERE subject = $1 ORDER BY chain",
            &[&format!("report:{id}")],
        )
        .await
        .unwrap();
    let actions: Vec<String> = entries.iter().map(|e| e.get(0)).collect();
    for expected in [
        "report.status",
        "report.internal_note",
        "report.release",
        "report.assign",
        "report.move",
        "report.category",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing in {actions:?}"
        );
    }
    for e in &entries {
        let text = format!(
            "{:?}{:?}",
            e.get::<_, Option<serde_json::Value>>(1),
            e.get::<_, Option<serde_json::Value>>(2)
        );
        assert!(
            !text.contains("melder@example.org") && !text.contains("Herr Meier"),
            "{text}"
        );
        assert!(
            e.get::<_, Option<serde_json::Value>>(1).is_some(),
            "before is recorded"
        );
    }
    let status_entry = entries
        .iter()
        .find(|e| e.get::<_, String>(0) == "report.status")
        .unwrap();
    assert_eq!(
        status_entry.get::<_, serde_json::Value>(1)["status"],
        "eingegangen"
    );
    assert_eq!(
        status_entry.get::<_, serde_json::Value>(2)["status"],
        "geprueft"
    );
    let _ = address;
}

#[tokio::test]
async fn photos_are_released_by_category_rule_and_can_be_blacked_out() {
    let (app, state) = maengel_app(|_| {}).await;
    let (_, lat, lon) = an_address(&state, 60).await;
    let stamp = fresh_stamp(&app).await;
    let (la, lo) = (format!("{lat:.6}"), format!("{lon:.6}"));
    // Street lights are released at once (demo rule "immediate").
    let white = {
        let mut v = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            400,
            200,
            image::Rgb([255, 255, 255]),
        ))
        .write_to(&mut Cursor::new(&mut v), image::ImageFormat::Png)
        .unwrap();
        v
    };
    let r = post_form(
        &app,
        &[
            ("kategorie", "beleuchtung"),
            ("lat", &la),
            ("lon", &lo),
            ("beschreibung", "Laterne flackert"),
            ("datenschutz", "ja"),
            ("stamp", &stamp),
        ],
        &[("fotos", "laterne.png", white)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let id: i64 = r
        .header("location")
        .trim_start_matches("/maengel/")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let page = get(&app, &format!("/maengel/{id}"), &[]).await.text();
    assert!(page.contains("Laterne flackert"), "released at once");
    let src = page
        .split("src=\"")
        .find(|s| s.starts_with(&format!("/maengel/{id}/fotos/")))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let thumb = get(&app, &src, &[]).await;
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.header("content-type"), "image/jpeg");
    let display_url = src.replace("vorschau-", "bild-");
    let before = image::load_from_memory(&get(&app, &display_url, &[]).await.body)
        .unwrap()
        .to_rgb8();
    assert!(before.get_pixel(200, 100)[0] > 230, "white before");
    // Black out the middle.
    let (admin, csrf, _) = staff(
        &state,
        "sb.tiefbau2@test.example",
        &[(Role::Triage, Some("tiefbau"))],
    )
    .await;
    let photo: i64 = count(
        &state,
        &format!("SELECT id FROM maengel.photos WHERE report_id = {id}"),
    )
    .await;
    let r = staff_post(
        &app,
        &admin,
        &format!("/admin/maengel/{id}/fotos/{photo}/schwaerzen"),
        &format!("csrf={csrf}&x1=25&y1=25&w1=50&h1=50"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The old version is gone from the public; the new one is black in the middle.
    assert_eq!(get(&app, &display_url, &[]).await.status, 404);
    let new_url = display_url.replace("bild-1", "bild-2");
    let after = image::load_from_memory(&get(&app, &new_url, &[]).await.body)
        .unwrap()
        .to_rgb8();
    assert!(after.get_pixel(200, 100)[0] < 40, "black in the middle");
    assert!(after.get_pixel(10, 10)[0] > 215, "white at the edge");
    // The original is kept internally, for staff only.
    let original = staff_get(
        &app,
        &admin,
        &format!("/admin/maengel/{id}/fotos/{photo}/original"),
    )
    .await;
    assert_eq!(original.status, 200);
    assert!(
        image::load_from_memory(&original.body)
            .unwrap()
            .to_rgb8()
            .get_pixel(200, 100)[0]
            > 230
    );
    assert_eq!(
        get(
            &app,
            &format!("/admin/maengel/{id}/fotos/{photo}/original"),
            &[("accept", "text/html")]
        )
        .await
        .status,
        303,
        "not without a session"
    );
    // Hiding the photo removes it from the public page.
    let r = staff_post(
        &app,
        &admin,
        &format!("/admin/maengel/{id}/freigabe"),
        &format!("csrf={csrf}&was=foto_verbergen:{photo}"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(get(&app, &new_url, &[]).await.status, 404);
    // A road damage report is not released until reviewed; illegal dumping after 60 minutes.
    let delayed = report_at(
        &app,
        "muell",
        lat,
        lon,
        "Sperrmüll am Straßenrand",
        "",
        &[("attribute[menge]", "klein")],
    )
    .await;
    let client = connect(&state.config.database.url).await;
    let minutes: f64 = client
        .query_one("SELECT (extract(epoch FROM released_at - created_at) / 60)::float8 FROM maengel.reports WHERE id = $1", &[&delayed])
        .await
        .unwrap()
        .get(0);
    assert!((minutes - 60.0).abs() < 0.1, "{minutes}");
    assert!(
        !get(&app, &format!("/maengel/{delayed}"), &[])
            .await
            .text()
            .contains("Sperrmüll am Straßenrand")
    );
    client
        .execute(
            "UPDATE maengel.reports SET released_at = now() - interval '1 minute' WHERE id = $1",
            &[&delayed],
        )
        .await
        .unwrap();
    assert!(
        get(&app, &format!("/maengel/{delayed}"), &[])
            .await
            .text()
            .contains("Sperrmüll am Straßenrand")
    );
}

#[tokio::test]
async fn the_reporter_can_stop_mail_and_delete_their_address() {
    let (app, state) = maengel_app(|_| {}).await;
    let (_, lat, lon) = an_address(&state, 70).await;
    let id = report_at(
        &app,
        "graffiti",
        lat,
        lon,
        "Schmiererei an der Brücke",
        "max@example.org",
        &[("name", "Max Muster")],
    )
    .await;
    let client = connect(&state.config.database.url).await;
    let secret: String = client
        .query_one("SELECT secret FROM maengel.reports WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    let body: String = client
        .query_one(
            "SELECT body FROM maengel.outbox WHERE recipient = 'max@example.org'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(body.contains(&format!("/maengel/{id}/abmelden/{secret}")));
    let path = format!("/maengel/{id}/abmelden/{secret}");
    assert_eq!(get(&app, &path, &[]).await.status, 200);
    let r = send(
        &app,
        Request::post(&path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("aktion=loeschen"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    let row = client.query_one("SELECT reporter_email IS NULL AND reporter_name IS NULL AND NOT wants_updates FROM maengel.reports WHERE id = $1", &[&id]).await.unwrap();
    assert!(row.get::<_, bool>(0));
}

#[tokio::test]
async fn retention_deletes_contact_data_after_closing_and_logs_no_data() {
    let (app, state) = maengel_app(|c| c.maengel.retention_days = 90).await;
    let (_, lat, lon) = an_address(&state, 80).await;
    let old = report_at(
        &app,
        "graffiti",
        lat,
        lon,
        "alt",
        "alt@example.org",
        &[("name", "Anna Alt")],
    )
    .await;
    let recent = report_at(&app, "graffiti", lat, lon, "neu", "neu@example.org", &[]).await;
    let open = report_at(
        &app,
        "graffiti",
        lat,
        lon,
        "offen",
        "offen@example.org",
        &[],
    )
    .await;
    let client = connect(&state.config.database.url).await;
    client
        .execute("UPDATE maengel.reports SET status = 'erledigt', closed_at = now() - interval '91 days' WHERE id = $1", &[&old])
        .await
        .unwrap();
    client
        .execute("UPDATE maengel.reports SET status = 'erledigt', closed_at = now() - interval '89 days' WHERE id = $1", &[&recent])
        .await
        .unwrap();
    client.execute("INSERT INTO maengel.photos (report_id, position, original, display, thumb, width, height) VALUES ($1, 1, '\\x01', '\\x02', '\\x03', 1, 1)", &[&old]).await.unwrap();
    // The mails about the old report were written back then; those of the others are recent.
    client
        .execute("UPDATE maengel.outbox SET created_at = now() - interval '91 days' WHERE recipient = 'alt@example.org'", &[])
        .await
        .unwrap();
    let n = stadtkarte_maengelmelder::tasks::retention(&state)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let gone = |id: i64| {
        let client = &client;
        async move {
            client
                .query_one("SELECT reporter_email IS NULL AND reporter_name IS NULL FROM maengel.reports WHERE id = $1", &[&id])
                .await
                .unwrap()
                .get::<_, bool>(0)
        }
    };
    assert!(gone(old).await);
    assert!(!gone(recent).await, "89 days: kept");
    assert!(!gone(open).await, "open: kept");
    let original: Option<Vec<u8>> = client
        .query_one(
            "SELECT original FROM maengel.photos WHERE report_id = $1",
            &[&old],
        )
        .await
        .unwrap()
        .get(0);
    assert!(original.is_none(), "the unredacted original is deleted too");
    let mails = |who: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(
                    "SELECT count(*) FROM maengel.outbox WHERE recipient = $1",
                    &[&who],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    assert_eq!(
        mails("alt@example.org").await,
        0,
        "old mails go with the address"
    );
    assert!(mails("offen@example.org").await > 0, "recent mails stay");
    let entry: serde_json::Value = client
        .query_one(
            "SELECT details FROM catalog.audit_log WHERE action = 'report.retention'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(entry["reports"], 1);
    assert!(!entry.to_string().contains("alt@example.org"));
    // Nothing left to do the second time.
    assert_eq!(
        stadtkarte_maengelmelder::tasks::retention(&state)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn privacy_export_and_delete_by_the_command_line() {
    let (app, state) = maengel_app(|_| {}).await;
    let (_, lat, lon) = an_address(&state, 90).await;
    let a = report_at(
        &app,
        "graffiti",
        lat,
        lon,
        "Tag an der Mauer",
        "Paula.P@example.org",
        &[("name", "Paula P")],
    )
    .await;
    let b = report_at(
        &app,
        "beleuchtung",
        lat,
        lon,
        "Lampe aus",
        "paula.p@example.org",
        &[],
    )
    .await;
    let other = report_at(
        &app,
        "beleuchtung",
        lat,
        lon,
        "Lampe flackert",
        "someone@example.org",
        &[],
    )
    .await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(stadtkarte_tests::stadtkarte_bin())
            .args(args)
            .env("STADTKARTE_DATABASE__URL", &state.config.database.url)
            .env("STADTKARTE_LOG__LEVEL", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let export: serde_json::Value = serde_json::from_str(&run(&[
        "privacy",
        "export",
        "--email",
        "PAULA.P@example.org",
    ]))
    .unwrap();
    let numbers: Vec<i64> = export["maengelmeldungen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["nummer"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [a, b]);
    assert_eq!(export["maengelmeldungen"][0]["name"], "Paula P");
    assert_eq!(
        export["e_mails"].as_array().unwrap().len(),
        2,
        "both confirmations"
    );
    run(&["privacy", "delete", "--email", "paula.p@example.org"]);
    let export: serde_json::Value = serde_json::from_str(&run(&[
        "privacy",
        "export",
        "--email",
        "paula.p@example.org",
    ]))
    .unwrap();
    assert!(export["maengelmeldungen"].as_array().unwrap().is_empty());
    assert!(export["e_mails"].as_array().unwrap().is_empty());
    let client = connect(&state.config.database.url).await;
    assert_eq!(
        client
            .query_one(
                "SELECT count(*) FROM maengel.reports WHERE id = ANY($1)",
                &[&vec![a, b]]
            )
            .await
            .unwrap()
            .get::<_, i64>(0),
        2,
        "the reports stay"
    );
    assert!(
        client
            .query_one(
                "SELECT reporter_email IS NOT NULL FROM maengel.reports WHERE id = $1",
                &[&other]
            )
            .await
            .unwrap()
            .get::<_, bool>(0)
    );
    let log: String = client
        .query_one(
            // One row per area (reports, petitions), none naming the person.
            "SELECT string_agg(details::text, ' ') FROM catalog.audit_log WHERE action = 'privacy.delete'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!log.contains("paula"), "{log}");
}

#[tokio::test]
async fn statistics_count_what_was_reported() {
    let (app, state) = maengel_app(|_| {}).await;
    let client = connect(&state.config.database.url).await;
    // Known reports straight into the table: three in Altstadt (two fixed after 2 and 4 days),
    // one in another district; one hidden report that must not count.
    let districts: Vec<String> = client
        .query(
            "SELECT name FROM data.stadtteile ORDER BY name LIMIT 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let insert = |district: String,
                  category: &'static str,
                  status: &'static str,
                  days: Option<i32>,
                  hidden: bool| {
        let client = &client;
        async move {
            client
                .execute(
                    "INSERT INTO maengel.reports (category, description, status, geom, district, secret, token, hidden, created_at, closed_at)
                     SELECT $1, 'x', $2, ST_PointOnSurface(s.geom), $3, md5(random()::text), md5(random()::text), $5,
                            now() - interval '10 days', now() - interval '10 days' + make_interval(days => $4)
                     FROM data.stadtteile s WHERE s.name = $3",
                    &[&category, &status, &district, &days.unwrap_or(0), &hidden],
                )
                .await
                .unwrap();
        }
    };
    insert(
        districts[0].clone(),
        "beleuchtung",
        "erledigt",
        Some(2),
        false,
    )
    .await;
    insert(
        districts[0].clone(),
        "beleuchtung",
        "erledigt",
        Some(4),
        false,
    )
    .await;
    insert(districts[0].clone(), "graffiti", "eingegangen", None, false).await;
    insert(districts[1].clone(), "graffiti", "eingegangen", None, false).await;
    insert(districts[1].clone(), "graffiti", "eingegangen", None, true).await;
    client
        .execute(
            "UPDATE maengel.reports SET closed_at = NULL WHERE status = 'eingegangen'",
            &[],
        )
        .await
        .unwrap();
    let json = get(&app, "/maengel/statistik.json", &[]).await.json();
    let per_district: Vec<(String, i64, i64)> = json["per_district"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["district"].as_str().unwrap().to_owned(),
                d["count"].as_i64().unwrap(),
                d["open"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        per_district.contains(&(districts[0].clone(), 3, 1)),
        "{per_district:?}"
    );
    assert!(
        per_district.contains(&(districts[1].clone(), 1, 1)),
        "{per_district:?}"
    );
    let median = json["median_days_to_fixed"].as_array().unwrap();
    assert_eq!(median.len(), 1);
    assert_eq!(median[0]["category"], "Straßenbeleuchtung defekt");
    assert_eq!(median[0]["median_days"], 3.0);
    let this_month: i64 = json["per_month"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["count"].as_i64().unwrap())
        .sum();
    assert_eq!(this_month, 4);
    // The page: SVG charts, each with its table.
    let page = get(&app, "/maengel/statistik", &[]).await.text();
    assert_eq!(page.matches("<svg class=\"chart\" role=\"img\"").count(), 3);
    assert!(page.matches("<table>").count() >= 3);
    assert!(page.contains("3,0"), "German decimal comma");
}

#[tokio::test]
async fn the_database_going_away_during_a_submission_keeps_what_was_typed() {
    let (app, state) = maengel_app(|c| {
        c.database.pool_size = 2;
    })
    .await;
    let (_, lat, lon) = an_address(&state, 100).await;
    let stamp = fresh_stamp(&app).await; // also fills the category cache
    let db_name = state
        .config
        .database
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let admin = connect(&stadtkarte_tests::shared_cluster().url("postgres")).await;
    let before = count(&state, "SELECT count(*) FROM maengel.reports").await;
    // The database refuses connections and drops the open ones.
    admin
        .batch_execute(&format!("ALTER DATABASE {db_name} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    admin
        .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", &[&db_name])
        .await
        .unwrap();
    let (la, lo) = (format!("{lat:.6}"), format!("{lon:.6}"));
    let r = post_form(
        &app,
        &[
            ("kategorie", "beleuchtung"),
            ("lat", &la),
            ("lon", &lo),
            ("beschreibung", "Lampe seit Tagen dunkel"),
            ("email", "geduldig@example.org"),
            ("datenschutz", "ja"),
            ("stamp", &stamp),
        ],
        &[],
    )
    .await;
    admin
        .batch_execute(&format!("ALTER DATABASE {db_name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains("Lampe seit Tagen dunkel"),
        "the description is kept"
    );
    assert!(
        text.contains("geduldig@example.org"),
        "the e-mail address is kept"
    );
    assert!(text.contains("nicht gespeichert werden"));
    assert_eq!(
        count(&state, "SELECT count(*) FROM maengel.reports").await,
        before,
        "nothing half-stored"
    );
    // Once it is back, the same form goes through.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stamp = fresh_stamp(&app).await;
    let r = post_form(
        &app,
        &[
            ("kategorie", "beleuchtung"),
            ("lat", &la),
            ("lon", &lo),
            ("beschreibung", "Lampe seit Tagen dunkel"),
            ("datenschutz", "ja"),
            ("stamp", &stamp),
        ],
        &[],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_waits_while_the_smtp_server_is_down_and_arrives_later() {
    let port = stadtkarte_tests::free_port();
    let (app, state) = maengel_app(|c| {
        c.mail.enabled = true;
        c.mail.smtp_port = port;
        c.mail.interval_secs = 1;
        c.mail.retry_base_secs = 1;
        c.server.public_url = "https://karte.koblenz.example".to_owned();
    })
    .await;
    stadtkarte_maengelmelder::tasks::spawn(state.clone());
    let (_, lat, lon) = an_address(&state, 110).await;
    let id = report_at(
        &app,
        "beleuchtung",
        lat,
        lon,
        "Laterne dunkel",
        "wartet@example.org",
        &[],
    )
    .await;
    // No SMTP server yet: the mail stays queued, with the error noted.
    let client = connect(&state.config.database.url).await;
    let started = std::time::Instant::now();
    loop {
        let row = client
            .query_one("SELECT attempts, sent_at IS NULL, last_error FROM maengel.outbox WHERE recipient = 'wartet@example.org'", &[])
            .await
            .unwrap();
        if row.get::<_, i32>(0) > 0 {
            assert!(row.get::<_, bool>(1));
            assert!(row.get::<_, Option<String>>(2).is_some());
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no attempt was made"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Now the SMTP server comes up and the mail arrives.
    let smtp = stadtkarte_tests::SmtpServer::start(port);
    let message = smtp.wait_for("wartet@example.org", Duration::from_secs(30));
    assert!(message.contains(&format!("Nr. {id}")), "{message}");
    assert!(
        message.contains(&format!("https://karte.koblenz.example/maengel/{id}")),
        "{message}"
    );
    // The sender marks it sent once the server has accepted it (a moment after delivery).
    let started = std::time::Instant::now();
    loop {
        let sent: bool = client
            .query_one("SELECT sent_at IS NOT NULL FROM maengel.outbox WHERE recipient = 'wartet@example.org'", &[])
            .await
            .unwrap()
            .get(0);
        if sent {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the delivered mail is not marked sent"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
