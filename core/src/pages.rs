//! The pages every installation has, whatever it serves: the stylesheet of all pages
//! (`/static/stadtkarte.css`) and the placeholders of the imprint (`/impressum`) and the
//! privacy notice (`/datenschutz`). A city points `city.imprint_url` and `city.privacy_url` at
//! its own pages; the footer of every page links there.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::page::{self, Page, PageContext};
use crate::{AppState, Problem};

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/static/stadtkarte.css", get(page::stylesheet))
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
