//! Importers: everything that brings data into the platform.
//!
//! Today: the demo-city generator ([`demo`]). To come, each in a module of its own: GDAL vector
//! import, XPlanGML development plans and imagery preparation. Importers write through staging
//! tables and swap in one transaction, and register what they load in the catalog. GDAL and PROJ
//! stay inside this crate; the server's request path never needs them.

pub mod demo;
