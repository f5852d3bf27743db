//! The start page for people: `GET /` for a browser or with `f=html` (programs get the landing
//! page of the OGC API as JSON at the same address, [`crate::api::landing`]). A preview of the
//! map — the city's districts drawn on the server, no script — and one entry each, with a line
//! saying what is behind it, for the map, reporting a problem, the petitions, the open data and
//! the developers' page `/entwickler` (the landing page of the OGC API as HTML).
//!
//! Only the preview needs the database: the districts are read at most once a minute; while the
//! database is away the last drawing is shown, or none, and the page answers all the same.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use stadtkarte_core::districts::{self, Districts};
use stadtkarte_core::page::{self, PageContext};
use stadtkarte_core::stale::StaleCache;
use stadtkarte_core::{AppState, Problem};

use crate::html;

/// How far the preview's outlines may be simplified, in metres: less than one of its pixels
/// for a city of some kilometres.
const TOLERANCE_METRES: f64 = 25.0;

/// The districts of the preview, read at most once a minute.
#[derive(Debug, Clone)]
pub struct Preview(StaleCache<Arc<Districts>>);

impl Preview {
    /// An empty cache.
    pub fn new() -> Self {
        Self(StaleCache::new(1, Duration::from_mins(1)))
    }

    /// The districts to draw; none when there are none or they cannot be read.
    async fn districts(&self, state: &AppState) -> Option<Arc<Districts>> {
        let load = async {
            let client = state.read_db().await?;
            let drawn = districts::draw(&**client, &state.config.maengel, TOLERANCE_METRES).await?;
            Ok::<_, Problem>(Arc::new(drawn))
        };
        match self.0.get("districts", load).await {
            Ok(cached) => (!cached.value.is_empty()).then_some(cached.value),
            Err(problem) => {
                tracing::warn!(status = %problem.status, "start page without the map's preview");
                None
            }
        }
    }
}

/// The start page.
pub async fn page(
    state: &AppState,
    cx: &PageContext,
    preview: &Preview,
) -> Result<Response, Problem> {
    page::html(&html::Start {
        page: cx.page(&state.config, page::site_name(&state.config)),
        city: state.config.city.name.clone(),
        preview: preview.districts(state).await,
    })
}
