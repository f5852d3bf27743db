//! Open data: the dataset registry ([`registry`]): what the open-data portal lists, with the
//! metadata DCAT-AP.de needs, each dataset publishing one or more collections; and streamed
//! downloads ([`downloads`]); the CKAN API subset ([`ckan`]).
//!
//! To come, each in a module of its own: dataset pages, the bulk ZIP, and the DCAT-AP.de
//! catalog (Turtle, RDF/XML, JSON-LD) the state portal harvests.

pub mod ckan;
pub mod downloads;
pub mod export;
pub mod registry;

use axum::Router;
use stadtkarte_core::AppState;

/// The routes of this crate.
pub fn router(state: AppState) -> Router {
    downloads::router(state.clone()).merge(ckan::router(state))
}
