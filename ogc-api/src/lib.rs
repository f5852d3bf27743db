//! OGC API Common and OGC API Features (Parts 1, 2 and 3) for the collections listed in the
//! catalog: landing page, conformance, the OpenAPI document, collections, items (GeoJSON, HTML,
//! CSV) with keyset paging, CRS negotiation, queryables and CQL2 filtering; and the documents of
//! development plans. A browser at `/` gets the platform's start page for people (`start`);
//! the landing page as HTML is the developers' page `/entwickler`.
//!
//! This crate never serves a table that is not registered in `catalog.collections`, takes
//! identifiers only from the catalog and the table's own columns, and does not know about tiles
//! or imports.

mod api;
mod features;
mod html;
mod openapi;
mod paging;
mod params;
mod plan;
pub mod plans;
mod start;

use axum::Router;
use axum::routing::get;
use stadtkarte_core::AppState;

pub use api::CONFORMANCE;

/// The routes of this crate. `more_conformance` adds the classes of the other OGC API crates
/// (tiles) to `/conformance`; `more_paths` their paths to the OpenAPI document at `/api`.
pub fn router(
    state: AppState,
    more_conformance: &'static [&'static str],
    more_paths: serde_json::Map<String, serde_json::Value>,
) -> Router {
    Router::new()
        .route("/", get(api::landing))
        .route("/entwickler", get(api::developers))
        .route("/conformance", get(api::conformance))
        .route("/api", get(api::openapi))
        .route("/collections", get(api::collections))
        .route("/collections/{id}", get(api::collection_page))
        .route("/collections/{id}/queryables", get(api::queryables))
        .route(
            "/collections/{id}/items",
            get(features::items).post(features::items_post),
        )
        .route("/collections/{id}/items/{feature}", get(features::item))
        .layer(axum::Extension(api::MoreConformance(more_conformance)))
        .layer(axum::Extension(start::Preview::new()))
        .layer(axum::Extension(api::MorePaths(std::sync::Arc::new(
            more_paths,
        ))))
        .with_state(state.clone())
        .merge(plans::router(state))
}
