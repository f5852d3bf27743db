//! The citizens' map: a MapLibre GL JS application built from npm packages into static assets
//! that are embedded into the `stadtkarte` binary and served at `/map`.
//!
//! Not filled yet: the foundation only reserves this crate.
