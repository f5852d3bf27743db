//! Importers: everything that brings data into the platform.
//!
//! Each importer is a module: [`vector`] (anything GDAL reads), [`demo`] (the generated city,
//! with its aerial images), [`xplan`] (XPlanGML development plans) and [`imagery`] (aerial
//! images into tile pyramids). Importers write through staging
//! tables and swap in one transaction, and register what they load in the catalog. GDAL and PROJ
//! stay inside this crate; the server's request path never needs them.

pub mod archive;
pub mod copy;
pub mod demo;
pub mod imagery;
pub mod names;
pub mod progress;
pub mod vector;
pub mod xplan;
