//! Open data: the dataset registry ([`registry`]): what the open-data portal lists, with the
//! metadata DCAT-AP.de needs, each dataset publishing collections and aerial-imagery epochs; the
//! downloads ([`downloads`]) in the formats of [`formats`] — GeoJSON and CSV written row by row
//! ([`streamed`]), the file formats ([`export`]: by `ogr2ogr`, FlatGeobuf in-process
//! with its spatial index by [`fgb`]), imagery files as stored
//! ([`imagery`]); the download cache ([`cache`]) that a background task fills ([`prepare`]), so
//! that every size is known before download ([`offers`]); the CKAN API subset ([`ckan`]); the
//! DCAT-AP.de catalog in Turtle, RDF/XML and JSON-LD ([`dcat`] over [`rdf`]); the pages
//! ([`pages`]): the dataset list with search and filters, and a page per dataset; the dataset
//! registry in the back office for editors ([`admin`]); the city map's vector tiles as one
//! PMTiles archive ([`archive`], rendered by the tiles crate through [`archive::TileArchiver`]).
//!
//! Not here: the imagery tiles and their APIs (the tiles crate serves them; the pages link
//! them), and the imagery import (importers).

pub mod admin;
pub mod archive;
pub mod cache;
pub mod ckan;
pub mod dcat;
pub mod downloads;
pub mod export;
pub mod fgb;
pub mod formats;
pub mod imagery;
pub mod offers;
pub mod openapi;
pub mod pages;
pub mod prepare;
pub mod rdf;
pub mod registry;
pub mod streamed;

use axum::Router;
use stadtkarte_core::AppState;

/// The routes of this crate; starts the download preparer when it is configured (it makes the
/// tile archive with `archiver`).
pub fn router(state: AppState, archiver: archive::TileArchiver) -> Router {
    use axum::routing::{get, post};
    prepare::spawn(state.clone(), archiver);
    state.backoffice.add(admin::section());
    let editor = Router::new()
        .route("/admin/datensaetze", get(admin::list).post(admin::add))
        .route(
            "/admin/datensaetze/{id}",
            get(admin::edit).post(admin::update),
        )
        .route("/admin/datensaetze/{id}/entfernen", post(admin::remove))
        .with_state(state.clone());
    downloads::router(state.clone())
        .merge(ckan::router(state.clone()))
        .merge(pages::router(state))
        .merge(editor)
}
