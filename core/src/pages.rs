//! The pages every installation has, whatever it serves: the stylesheet of all pages
//! (`/static/stadtkarte.css`), the site's icon (`/favicon.svg`, which every page and the map
//! link, and `/favicon.ico` for browsers and readers that ask for that name) and the
//! placeholders of the imprint (`/impressum`) and the privacy notice (`/datenschutz`). A city points `city.imprint_url` and `city.privacy_url` at
//! its own pages; the footer of every page links there.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::page::{self, Page, PageContext};
use crate::{AppState, Problem};

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/static/stadtkarte.css", get(page::stylesheet))
        .route("/favicon.svg", get(favicon_svg))
        .route("/favicon.ico", get(favicon_ico))
        .route("/impressum", get(imprint))
        .route("/datenschutz", get(privacy))
        .with_state(state)
}

#[derive(Template)]
#[template(path = "imprint.html")]
struct Imprint<'a> {
    page: Page,
    city: &'a str,
    contact_name: &'a str,
    contact_email: &'a str,
    publisher_url: &'a str,
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct Privacy<'a> {
    page: Page,
    city: &'a str,
}

async fn imprint(State(state): State<AppState>, cx: PageContext) -> Result<Response, Problem> {
    let city = &state.config.city;
    let title = cx.lang.tr("legal.imprint.title");
    page::html(&Imprint {
        page: cx.page(&state.config, title),
        city: &city.name,
        contact_name: &city.contact_name,
        contact_email: &city.contact_email,
        publisher_url: &city.publisher_url,
    })
}

async fn privacy(State(state): State<AppState>, cx: PageContext) -> Result<Response, Problem> {
    let title = cx.lang.tr("legal.privacy.title");
    page::html(&Privacy {
        page: cx.page(&state.config, title),
        city: &state.config.city.name,
    })
}

/// The site's icon: a white gable (a roof, or a map pin's tip) on the city's blue, in a
/// 16-unit square with rounded corners.
pub const FAVICON_SVG: &str = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'>\
<rect width='16' height='16' rx='3' fill='#0b5cad'/><path d='M3 12 L8 3 L13 12 Z' fill='white'/></svg>";

const ICON_CACHE: &str = "public, max-age=86400";

async fn favicon_svg() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, ICON_CACHE),
        ],
        FAVICON_SVG,
    )
        .into_response()
}

async fn favicon_ico() -> Response {
    static ICO: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let ico = ICO.get_or_init(|| favicon_pixels(32));
    (
        [
            (header::CONTENT_TYPE, "image/vnd.microsoft.icon"),
            (header::CACHE_CONTROL, ICON_CACHE),
        ],
        ico.as_slice(),
    )
        .into_response()
}

/// The icon of [`FAVICON_SVG`] painted at `size` × `size` pixels (4 × 4 samples per pixel for
/// smooth edges), as an ICO file.
fn favicon_pixels(size: u16) -> Vec<u8> {
    use image::ImageEncoder as _;
    const BLUE: [u32; 3] = [11, 92, 173];
    const SAMPLES: u16 = 4;
    // Which of the drawing's parts a point (in the drawing's 16 units) lies in.
    let in_square = |x: f32, y: f32| {
        let (cx, cy) = (x.clamp(3.0, 13.0), y.clamp(3.0, 13.0));
        (x - cx).hypot(y - cy) <= 3.0
    };
    let in_gable = |x: f32, y: f32| {
        let edge = |(ax, ay): (f32, f32), (bx, by): (f32, f32)| {
            (bx - ax) * (y - ay) - (by - ay) * (x - ax)
        };
        let corners = [(3.0, 12.0), (8.0, 3.0), (13.0, 12.0)];
        let sides = [
            edge(corners[0], corners[1]),
            edge(corners[1], corners[2]),
            edge(corners[2], corners[0]),
        ];
        sides.iter().all(|s| *s >= 0.0) || sides.iter().all(|s| *s <= 0.0)
    };
    // Sample (i, j) of the grid of size × SAMPLES points, in the drawing's units.
    let unit = 16.0 / f32::from(size * SAMPLES);
    let at = |i: u16| (f32::from(i) + 0.5) * unit;
    let image = image::RgbaImage::from_fn(u32::from(size), u32::from(size), |px, py| {
        let (px, py) = (
            u16::try_from(px).unwrap_or(0),
            u16::try_from(py).unwrap_or(0),
        );
        let (mut covered, mut white) = (0u32, 0u32);
        for sy in 0..SAMPLES {
            for sx in 0..SAMPLES {
                let (x, y) = (at(px * SAMPLES + sx), at(py * SAMPLES + sy));
                if in_square(x, y) {
                    covered += 1;
                    white += u32::from(in_gable(x, y));
                }
            }
        }
        if covered == 0 {
            return image::Rgba([0, 0, 0, 0]);
        }
        let byte = |v: u32| u8::try_from(v).unwrap_or(u8::MAX);
        let channel = |blue: u32| byte(blue + (255 - blue) * white / covered);
        let alpha = byte(255 * covered / u32::from(SAMPLES * SAMPLES));
        image::Rgba([channel(BLUE[0]), channel(BLUE[1]), channel(BLUE[2]), alpha])
    });
    let mut out = Vec::new();
    image::codecs::ico::IcoEncoder::new(&mut out)
        .write_image(
            image.as_raw(),
            u32::from(size),
            u32::from(size),
            image::ExtendedColorType::Rgba8,
        )
        .map(|()| out)
        .unwrap_or_default()
}
