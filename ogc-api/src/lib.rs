//! OGC API Common and OGC API Features (Parts 1, 2 and 3) for the collections listed in the
//! catalog: landing page, conformance, the OpenAPI document, collections, items (GeoJSON, HTML,
//! CSV), CRS negotiation, queryables and CQL2 filtering, keyset paging.
//!
//! Not filled yet: the foundation only reserves this crate. It will never serve a table that is
//! not registered in `catalog.collections`, and it does not know about tiles or imports.
