//! The citizens' map: a MapLibre GL JS application (`web/`, npm packages from the lockfile)
//! bundled by esbuild at build time (`build.rs`) and embedded into the `stadtkarte` binary.
//! Served at `/map` with its script and stylesheet under `/map/`; no other server and no files
//! from elsewhere at run time. The app reads everything from the platform's own APIs: what it
//! shows at start in one document, `/map/katalog.json` ([`katalog`]: the tiled collections and
//! the imagery epochs with their tile addresses, so MapLibre fetches no TileJSON), vector tiles
//! (`/tiles/{id}`), imagery tiles, the OGC API items (search, feature information) and the plan
//! documents. The scripts of the Mängelmelder's and the petitions' pages (`/map/melden.js`,
//! `/map/petitionen.js`, each with its stylesheet) and the small map of a plan's page
//! (`/map/plan.js`) are built and served the same way; those pages name them with
//! `*_script_url()`. The plan layers of the map and of that page share one table of the
//! Planzeichenverordnung's colours and lines (`web/src/planzv.js`).

use std::io::Write as _;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use stadtkarte_core::AppState;

pub mod katalog;

static APP_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/app.js"));
static APP_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/app.css"));
static MELDEN_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/melden.js"));
static MELDEN_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/melden.css"));
static PETITIONEN_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/petitionen.js"));
static PETITIONEN_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/petitionen.css"));
static PLAN_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/plan.js"));
static PLAN_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/plan.css"));
static DRUCK_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/druck.js"));
static LICENCES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lizenzen.txt"));
const INDEX: &str = include_str!("../web/src/index.html");

/// One embedded file, gzipped once on first use.
struct Asset {
    bytes: &'static [u8],
    media: &'static str,
    gzip: OnceLock<Vec<u8>>,
}

static JS: Asset = Asset {
    bytes: APP_JS,
    media: "text/javascript; charset=utf-8",
    gzip: OnceLock::new(),
};
static CSS: Asset = Asset {
    bytes: APP_CSS,
    media: "text/css; charset=utf-8",
    gzip: OnceLock::new(),
};
static MELDEN_SCRIPT: Asset = Asset {
    bytes: MELDEN_JS,
    media: "text/javascript; charset=utf-8",
    gzip: OnceLock::new(),
};
static MELDEN_STYLE: Asset = Asset {
    bytes: MELDEN_CSS,
    media: "text/css; charset=utf-8",
    gzip: OnceLock::new(),
};
static PETITIONEN_SCRIPT: Asset = Asset {
    bytes: PETITIONEN_JS,
    media: "text/javascript; charset=utf-8",
    gzip: OnceLock::new(),
};
static PETITIONEN_STYLE: Asset = Asset {
    bytes: PETITIONEN_CSS,
    media: "text/css; charset=utf-8",
    gzip: OnceLock::new(),
};
static PLAN_SCRIPT: Asset = Asset {
    bytes: PLAN_JS,
    media: "text/javascript; charset=utf-8",
    gzip: OnceLock::new(),
};
static PLAN_STYLE: Asset = Asset {
    bytes: PLAN_CSS,
    media: "text/css; charset=utf-8",
    gzip: OnceLock::new(),
};
/// The print dialog with jsPDF: the map app imports it at the first click on "Drucken", at the
/// address of its own script with `druck.js` for `app.js` (same version).
static DRUCK_SCRIPT: Asset = Asset {
    bytes: DRUCK_JS,
    media: "text/javascript; charset=utf-8",
    gzip: OnceLock::new(),
};
static TXT: Asset = Asset {
    bytes: LICENCES,
    media: "text/plain; charset=utf-8",
    gzip: OnceLock::new(),
};
static HTML: OnceLock<Asset> = OnceLock::new();

/// A short hash of the bundle: part of the asset URLs, so browsers may cache them for ever.
#[must_use]
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in APP_JS
            .iter()
            .chain(APP_CSS)
            .chain(MELDEN_JS)
            .chain(MELDEN_CSS)
            .chain(PETITIONEN_JS)
            .chain(PETITIONEN_CSS)
            .chain(PLAN_JS)
            .chain(PLAN_CSS)
            .chain(DRUCK_JS)
            .chain(INDEX.as_bytes())
        {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")[..12].to_owned()
    })
}

/// The versioned address of the Mängelmelder's map script (its pages load it).
#[must_use]
pub fn melden_script_url() -> String {
    format!("/map/melden.js?v={}", version())
}

/// The versioned address of its stylesheet.
#[must_use]
pub fn melden_stylesheet_url() -> String {
    format!("/map/melden.css?v={}", version())
}

/// The versioned address of the petitions' map script (their pages load it).
#[must_use]
pub fn petitionen_script_url() -> String {
    format!("/map/petitionen.js?v={}", version())
}

/// The versioned address of its stylesheet.
#[must_use]
pub fn petitionen_stylesheet_url() -> String {
    format!("/map/petitionen.css?v={}", version())
}

/// The versioned address of the script of a plan's page (`/plans/{id}`: its small map).
#[must_use]
pub fn plan_script_url() -> String {
    format!("/map/plan.js?v={}", version())
}

/// The versioned address of its stylesheet.
#[must_use]
pub fn plan_stylesheet_url() -> String {
    format!("/map/plan.css?v={}", version())
}

fn html() -> &'static Asset {
    HTML.get_or_init(|| Asset {
        bytes: INDEX.replace("{{VERSION}}", version()).leak().as_bytes(),
        media: "text/html; charset=utf-8",
        gzip: OnceLock::new(),
    })
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().split(';').next() == Some("gzip") && !v.contains("q=0"))
}

fn serve(asset: &'static Asset, headers: &HeaderMap, immutable: bool) -> Response {
    let etag = format!("\"{}-{}\"", version(), asset.bytes.len());
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if stadtkarte_core::http::not_modified(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if accepts_gzip(headers) {
        let gz = asset.gzip.get_or_init(|| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            let _ = encoder.write_all(asset.bytes);
            encoder.finish().unwrap_or_default()
        });
        let mut r = Response::new(Body::from(gz.as_slice()));
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        Response::new(Body::from(asset.bytes))
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.media));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// The routes of the map.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/map/katalog.json", get(katalog::katalog))
        .with_state(katalog::KatalogState::new(state))
        .route(
            "/map",
            get(|h: HeaderMap| async move { serve(html(), &h, false) }),
        )
        .route("/map/", get(|| async { Redirect::permanent("/map") }))
        .route(
            "/map/app.js",
            get(|h: HeaderMap| async move { serve(&JS, &h, true) }),
        )
        .route(
            "/map/app.css",
            get(|h: HeaderMap| async move { serve(&CSS, &h, true) }),
        )
        .route(
            "/map/melden.js",
            get(|h: HeaderMap| async move { serve(&MELDEN_SCRIPT, &h, true) }),
        )
        .route(
            "/map/melden.css",
            get(|h: HeaderMap| async move { serve(&MELDEN_STYLE, &h, true) }),
        )
        .route(
            "/map/petitionen.js",
            get(|h: HeaderMap| async move { serve(&PETITIONEN_SCRIPT, &h, true) }),
        )
        .route(
            "/map/petitionen.css",
            get(|h: HeaderMap| async move { serve(&PETITIONEN_STYLE, &h, true) }),
        )
        .route(
            "/map/plan.js",
            get(|h: HeaderMap| async move { serve(&PLAN_SCRIPT, &h, true) }),
        )
        .route(
            "/map/plan.css",
            get(|h: HeaderMap| async move { serve(&PLAN_STYLE, &h, true) }),
        )
        .route(
            "/map/druck.js",
            get(|h: HeaderMap| async move { serve(&DRUCK_SCRIPT, &h, true) }),
        )
        .route(
            "/map/lizenzen.txt",
            get(|h: HeaderMap| async move { serve(&TXT, &h, false) }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_versioned_assets() {
        let page = std::str::from_utf8(html().bytes).expect("utf-8");
        assert!(page.contains(&format!("/map/app.js?v={}", version())));
        assert!(!page.contains("{{VERSION}}"));
        assert!(APP_JS.len() > 100_000, "the bundle contains MapLibre");
    }

    #[test]
    fn the_page_scripts_are_embedded_and_versioned() {
        assert!(petitionen_script_url().ends_with(&format!("petitionen.js?v={}", version())));
        assert!(petitionen_stylesheet_url().starts_with("/map/petitionen.css?v="));
        assert!(
            PETITIONEN_JS.len() > 100_000,
            "the script contains MapLibre"
        );
        assert!(!PETITIONEN_CSS.is_empty());
    }

    #[test]
    fn gzip_is_offered_only_when_accepted() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip"),
        );
        assert!(accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0"),
        );
        assert!(!accepts_gzip(&h));
    }
}
