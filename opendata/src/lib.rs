//! Open data: the dataset registry ([`registry`]): what the open-data portal lists, with the
//! metadata DCAT-AP.de needs, each dataset publishing one or more collections; and streamed
//! downloads ([`downloads`], GeoJSON and CSV so far).
//!
//! To come, each in a module of its own: dataset pages, the other download formats (GeoPackage,
//! Shapefile, FlatGeobuf, KML), the DCAT-AP.de catalog (Turtle, RDF/XML, JSON-LD) and the CKAN API
//! subset the state portal's harvester reads.

pub mod downloads;
pub mod export;
pub mod registry;

use axum::Router;
use stadtkarte_core::AppState;

/// The routes of this crate.
pub fn router(state: AppState) -> Router {
    downloads::router(state)
}
