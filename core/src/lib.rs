//! The shared foundation of every Stadtkarte crate: configuration, the database pool and
//! migrations, the collection catalog and the columns of its tables, errors as RFC 9457 problem
//! details, content negotiation, CRS handling, CQL2 filters, SQL with bind parameters, logs and
//! metrics, the operational endpoints, and the frame of every HTML page (the base layout, the
//! texts in German and English, the stylesheet, the imprint and privacy placeholders).
//!
//! `core` depends on no other workspace crate. It knows nothing about OGC APIs, tiles or imports;
//! those crates build on it. It never takes an SQL identifier from a request: names come from the
//! catalog only.

pub mod audit;
pub mod auth;
pub mod backoffice;
pub mod catalog;
pub mod client;
pub mod cog;
pub mod config;
pub mod cql2;
pub mod crs;
pub mod db;
pub mod districts;
pub mod exclusive;
pub mod files;
pub mod formguard;
pub mod guard;
pub mod http;
pub mod i18n;
pub mod imagery;
pub mod load;
pub mod mail;
pub mod migrate;
pub mod negotiate;
pub mod ops;
pub mod page;
pub mod pages;
pub mod problem;
pub mod query;
pub mod ratelimit;
pub mod replicas;
pub mod schema;
pub mod serve;
pub mod stale;
pub mod state;
pub mod stream;
pub mod telemetry;
pub mod values;

pub use config::Config;
pub use deadpool_postgres::Pool;
pub use problem::Problem;
pub use state::AppState;
pub use tokio_postgres;
