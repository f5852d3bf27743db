//! Tiles: Mapbox vector tiles built by PostGIS from catalog collections (XYZ for MapLibre and
//! OGC API Tiles in `WebMercatorQuad` and the AdV EPSG:25832 grid), TileJSON 3.0, a byte-weighted
//! single-flight cache of compressed tiles, and live eviction of changed tiles through
//! `LISTEN/NOTIFY`. The same tiles of zoom 10–16 as one PMTiles archive to take away ([`archive`]).
//!
//! Aerial imagery: tiles copied byte for byte from aligned pyramids ([`imagery`], over `core::cog`) as
//! XYZ with TileJSON, OGC API Tiles map tiles and WMTS 1.0.0. This crate never decodes or
//! re-encodes an imagery tile on the request path, and it does not need GDAL.

pub mod archive;
mod cache;
mod handlers;
pub mod imagery;
mod live;
pub mod openapi;
mod render;
pub mod tms;

use axum::Router;
use axum::routing::get;
use stadtkarte_core::AppState;

pub use cache::TileCache;
use handlers::TileState;

/// The OGC API Tiles and TMS conformance classes this crate implements.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
];

/// The routes; starts the listener that evicts changed tiles.
pub fn router(state: AppState) -> Router {
    let cache = TileCache::new(state.config.tiles.cache_bytes);
    let schemas = handlers::SchemaCache::new(1_000, std::time::Duration::from_secs(10));
    tokio::spawn(live::listen(
        state.config.database.url.clone(),
        cache.clone(),
        schemas.clone(),
        !state.replicas.list().is_empty(),
    ));
    let imagery_state = imagery::ImageryState {
        imagery: imagery::Imagery::new(state.clone()),
        app: state.clone(),
    };
    let tile_state = TileState {
        app: state,
        cache,
        schemas,
    };
    let imagery_routes = Router::new()
        .route("/imagery", get(imagery::list))
        .route("/imagery/{id}", get(imagery::tilejson_route))
        .route("/imagery/{id}/{z}/{x}/{y}", get(imagery::xyz_tile))
        .route("/collections/{id}/map/tiles", get(imagery::map_tilesets))
        .route(
            "/collections/{id}/map/tiles/{tms}",
            get(imagery::map_tileset),
        )
        .route(
            "/collections/{id}/map/tiles/{tms}/{z}/{row}/{col}",
            get(imagery::map_tile),
        )
        .route("/wmts", get(imagery::wmts_kvp))
        .route(
            "/wmts/1.0.0/WMTSCapabilities.xml",
            get(imagery::wmts_capabilities),
        )
        .route(
            "/wmts/1.0.0/{layer}/{style}/{tms}/{z}/{row}/{col}",
            get(imagery::wmts_tile),
        )
        .route(
            "/wmts/1.0.0/{layer}/{style}/{time}/{tms}/{z}/{row}/{col}",
            get(imagery::wmts_time_tile),
        )
        .with_state(imagery_state);
    Router::new()
        .route("/tileMatrixSets", get(handlers::tile_matrix_sets))
        .route("/tileMatrixSets/{id}", get(handlers::tile_matrix_set))
        .route("/tiles", get(handlers::dataset_tilesets))
        .route("/tiles/{a}", get(handlers::tiles_meta))
        .route("/tiles/{a}/{b}/{c}/{d}", get(handlers::tiles))
        .route(
            "/collections/{id}/tiles",
            get(handlers::collection_tilesets),
        )
        .route(
            "/collections/{id}/tiles/{tms}",
            get(handlers::collection_tileset),
        )
        .route(
            "/collections/{id}/tiles/{tms}/{z}/{row}/{col}",
            get(handlers::collection_tile),
        )
        .with_state(tile_state)
        .merge(imagery_routes)
}
