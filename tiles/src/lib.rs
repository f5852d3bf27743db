//! Tiles: Mapbox vector tiles built by PostGIS from catalog collections, imagery tiles copied
//! byte for byte from aligned pyramids, the byte-weighted single-flight tile cache, TileJSON,
//! OGC API Tiles metadata and WMTS capabilities.
//!
//! Not filled yet: the foundation only reserves this crate. It will never decode or re-encode
//! an imagery tile on the request path, and it does not need GDAL.
