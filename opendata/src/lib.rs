//! Open data: the dataset registry, dataset pages, streamed downloads (GeoJSON, CSV,
//! GeoPackage, Shapefile, FlatGeobuf, KML), the DCAT-AP.de catalog (Turtle, RDF/XML, JSON-LD)
//! and the CKAN API subset the state portal's harvester reads.
//!
//! Not filled yet: the foundation only reserves this crate.
