//! DSGVO for petitions: a test person starts a petition (name not public) and signs it and a
//! demo petition (district shown, a postcode outside the city); another signer chooses to show
//! the name. Then every public output of a real `stadtkarte serve` process — the petitions'
//! pages, JSON, CSV and GeoJSON, the OGC API, vector tiles, every download format, the DCAT
//! catalog, CKAN — and the server's debug log are searched for the person's data, and none is
//! found; the other signer's name is shown, as chosen.

use crate::maengel::stamp_of;
use crate::privacy_maengel::{fetch, request, tile_of, unzip};
use stadtkarte_tests::{ServerProcess, config_for, connect, demo_copy};

const EMAIL: &str = "paula.privat@example.org";
const FIRST: &str = "Paulinchen";
const LAST: &str = "Unsichtbar-Geheim";
/// A postcode outside the city: it is the person's alone in every output.
const POSTCODE: &str = "79098";
/// The signer who chose to be shown by name.
const SHOWN: &str = "Offen Sichtbarmann";
const SECRETS: &[&str] = &[
    EMAIL,
    "paula.privat",
    FIRST,
    LAST,
    POSTCODE,
    "paula.privat%40example.org",
    "Unsichtbar%2DGeheim",
];
const TITLE: &str = "Datenschutzprobe: neue Bänke am Spielplatz";

fn find_secret(bytes: &[u8]) -> Option<&'static str> {
    let text = String::from_utf8_lossy(bytes).to_lowercase();
    SECRETS
        .iter()
        .find(|s| text.contains(&s.to_lowercase()))
        .copied()
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            let enc = |t: &str| {
                t.bytes()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                            (b as char).to_string()
                        } else {
                            format!("%{b:02X}")
                        }
                    })
                    .collect::<String>()
            };
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The path of the latest link to `to` starting with `prefix` in the outbox.
async fn link(client: &tokio_postgres::Client, to: &str, prefix: &str) -> String {
    let body: String = client
        .query_one(
            "SELECT body FROM petitions.outbox WHERE recipient = $1 AND body LIKE '%' || $2 || '%'
             ORDER BY id DESC LIMIT 1",
            &[&to, &prefix],
        )
        .await
        .unwrap_or_else(|e| panic!("no mail to {to} with {prefix}: {e}"))
        .get(0);
    let at = body.find(prefix).unwrap();
    body[at..].split_whitespace().next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)]
async fn no_public_output_and_no_log_line_holds_a_signers_data() {
    let url = demo_copy().await;
    let config = config_for(&url);
    let client = connect(&url).await;
    stadtkarte_opendata::registry::link_petitions(
        &client,
        &stadtkarte::dataset_defaults(&config),
        "test",
    )
    .await
    .unwrap();
    let server = ServerProcess::start(&[
        ("STADTKARTE_DATABASE__URL", url.as_str()),
        ("STADTKARTE_PETITIONS__MIN_FILL_SECS", "0"),
        ("RUST_LOG", "debug,tokio_postgres=info,hyper=info,h2=info"),
    ]);
    let port = server.port;
    let send_form = |path: &str, fields: &[(&str, &str)]| {
        request(
            port,
            "POST",
            path,
            "application/x-www-form-urlencoded",
            form(fields).as_bytes(),
        )
    };

    // 1. The person starts a petition about a district, name not public, and confirms it.
    let stamp = stamp_of(&fetch(port, "/petitionen/neu").text());
    let name = format!("{FIRST} {LAST}");
    let r = send_form(
        "/petitionen/neu",
        &[
            ("titel", TITLE),
            (
                "text",
                "Die Bänke am Spielplatz sind morsch; wir bitten um neue Bänke mit Lehne.",
            ),
            ("thema", "umwelt"),
            ("ort", "stadtteile"),
            ("stadtteile", "Altstadt"),
            ("name", &name),
            ("email", EMAIL),
            ("datenschutz", "ja"),
            ("stamp", &stamp),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let confirm = link(&client, EMAIL, "/petitionen/bestaetigen/").await;
    let r = send_form(&confirm, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let id: i64 = client
        .query_one(
            "UPDATE petitions.petitions SET status = 'open', published_at = now(),
                 deadline = now() + interval '30 days'
             WHERE title = $1 AND status = 'moderation' RETURNING id",
            &[&TITLE],
        )
        .await
        .unwrap()
        .get(0);
    // A second open petition, by someone else.
    let demo: i64 = client
        .query_one(
            "INSERT INTO petitions.petitions (status, title, body, topic, place_kind, districts, geom,
                 sponsor_key, threshold, residents_only, confirmed_at, published_at, deadline)
             SELECT 'open', 'Ampel an der Schule bitte', repeat('Begründung der Petition. ', 3),
                    'verkehr', 'point', ARRAY['Mitte'], ST_PointOnSurface(geom), md5(random()::text),
                    100, true, now(), now(), now() + interval '30 days'
             FROM data.stadtteile WHERE name = 'Mitte' RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);

    // 2. The person signs both (district shown), another signer shows the name; all confirmed.
    for (petition, signer, email, visibility, plz) in [
        (id, name.as_str(), EMAIL, "stadtteil", POSTCODE),
        (demo, name.as_str(), EMAIL, "stadtteil", POSTCODE),
        (id, SHOWN, "offen@example.net", "oeffentlich", "56068"),
    ] {
        let page = fetch(port, &format!("/petitionen/{petition}")).text();
        let stamp = stamp_of(&page);
        let r = send_form(
            &format!("/petitionen/{petition}/unterschreiben"),
            &[
                ("name", signer),
                ("email", email),
                ("plz", plz),
                ("stadtteil", "Altstadt"),
                ("sichtbarkeit", visibility),
                ("datenschutz", "ja"),
                ("stamp", &stamp),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let confirm = link(&client, email, "/petitionen/unterschrift/").await;
        let r = send_form(&confirm, &[]);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // The data did arrive (so that finding nothing below means something).
    let stored: i64 = client
        .query_one(
            "SELECT count(*) FROM petitions.signatures
             WHERE email = $1 AND postcode = $2 AND name LIKE '%' || $3 AND confirmed_at IS NOT NULL",
            &[&EMAIL, &POSTCODE, &LAST],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 2);

    let point = client
        .query_one(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p
             FROM petitions.petitions WHERE id = $1) x",
            &[&id],
        )
        .await
        .unwrap();
    let (tx, ty) = tile_of(point.get(0), point.get(1), 14);
    let mut paths: Vec<String> = [
        "/petitionen",
        "/petitionen?lang=en",
        "/petitionen?status=alle",
        "/petitionen.json",
        "/petitionen.csv",
        "/petitionen/karte.geojson",
        "/petitionen/datenschutz",
        "/collections/petitionen",
        "/collections/petitionen/items?f=json",
        "/collections/petitionen/items?f=html",
        "/collections/petitionen/items?f=csv",
        "/collections/petitionen/queryables",
        "/opendata",
        "/opendata/petitionen",
        "/opendata/catalog.ttl",
        "/opendata/catalog.jsonld",
        "/opendata/catalog.rdf",
        "/api/3/action/package_show?id=petitionen",
        "/api/3/action/package_list",
    ]
    .iter()
    .map(|p| (*p).to_owned())
    .collect();
    for p in [id, demo] {
        paths.extend([
            format!("/petitionen/{p}"),
            format!("/petitionen/{p}?lang=en"),
            format!("/petitionen/{p}.json"),
            format!("/petitionen/{p}.csv"),
            format!("/collections/petitionen/items/{p}?f=json"),
            format!("/collections/petitionen/items/{p}?f=html"),
        ]);
    }
    paths.push(format!(
        "/collections/petitionen/tiles/WebMercatorQuad/14/{ty}/{tx}"
    ));
    for ext in ["geojson", "csv", "gpkg", "fgb", "kml", "shp.zip"] {
        paths.push(format!("/opendata/petitionen/petitionen.{ext}"));
    }
    let mut seen_title = 0;
    let mut tile_bytes = 0;
    for path in &paths {
        let r = fetch(port, path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let parts = if std::path::Path::new(path)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        {
            let parts = unzip(&r.body);
            // Points and areas cannot share a Shapefile: one of each kind.
            let names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
            for layer in ["petitionen_punkte.shp", "petitionen_flaechen.shp"] {
                assert!(names.contains(&layer), "{layer} in {names:?}");
            }
            assert!(!names.contains(&"petitionen_linien.shp"), "no empty layer");
            parts
        } else {
            vec![(path.clone(), r.body.clone())]
        };
        for (name, bytes) in parts {
            assert_eq!(
                find_secret(&bytes),
                None,
                "{path} ({name}) leaks personal data"
            );
            if String::from_utf8_lossy(&bytes).contains("Datenschutzprobe") {
                seen_title += 1;
            }
        }
        if path.contains("/tiles/") {
            tile_bytes = r.body.len();
        }
    }
    assert!(tile_bytes > 0, "the tile holds the petition");
    assert!(
        seen_title >= 10,
        "the petition is public in most outputs: {seen_title}"
    );
    // Names are shown as chosen: the other signer's is on the page.
    assert!(
        fetch(port, &format!("/petitionen/{id}"))
            .text()
            .contains(SHOWN),
        "a signer who chose to be shown is shown"
    );
    let log = std::fs::read(server.log.path()).unwrap();
    assert!(log.len() > 1000, "the log is being written");
    assert_eq!(find_secret(&log), None, "the log leaks personal data");
}
