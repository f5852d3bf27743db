//! Open data: the dataset registry ([`registry`]): what the open-data portal lists, with the
//! metadata DCAT-AP.de needs, each dataset publishing one or more collections; and streamed
//! downloads ([`downloads`]); the CKAN API subset ([`ckan`]); the DCAT-AP.de catalog in Turtle,
//! RDF/XML and JSON-LD ([`dcat`] over [`rdf`]).
//!
//! The pages ([`pages`]): the dataset list with search and filters, and a page per dataset.
//!
//! To come: the bulk ZIP, sizes before download, imagery downloads.

pub mod ckan;
pub mod dcat;
pub mod downloads;
pub mod export;
pub mod pages;
pub mod rdf;
pub mod registry;

use axum::Router;
use stadtkarte_core::AppState;

/// The routes of this crate.
pub fn router(state: AppState) -> Router {
    downloads::router(state.clone())
        .merge(ckan::router(state.clone()))
        .merge(pages::router(state))
}
