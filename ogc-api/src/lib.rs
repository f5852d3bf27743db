//! OGC API Common and OGC API Features (Parts 1, 2 and 3) for the collections listed in the
//! catalog: landing page, conformance, the OpenAPI document, collections, items (GeoJSON, HTML,
//! CSV), CRS negotiation, queryables and CQL2 filtering, keyset paging.
//!
//! Filled so far: the documents that came with development plans ([`plans`]). The Features
//! endpoints follow. This crate never serves a table that is not registered in
//! `catalog.collections`, and it does not know about tiles or imports.

pub mod plans;

use axum::Router;
use stadtkarte_core::AppState;

/// The routes of this crate.
pub fn router(state: AppState) -> Router {
    plans::router(state)
}
