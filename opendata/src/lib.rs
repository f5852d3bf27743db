//! Open data: the dataset registry ([`registry`]): what the open-data portal lists, with the
//! metadata DCAT-AP.de needs, each dataset publishing one or more collections.
//!
//! To come, each in a module of its own: dataset pages, streamed downloads (GeoJSON, CSV,
//! GeoPackage, Shapefile, FlatGeobuf, KML), the DCAT-AP.de catalog (Turtle, RDF/XML, JSON-LD) and
//! the CKAN API subset the state portal's harvester reads.

pub mod registry;
