//! Integration tests: one binary, so one throwaway PostGIS serves the whole run.

// Helpers of tests are test code too.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::many_single_char_names,
    clippy::format_push_string,
    clippy::type_complexity,
    clippy::duration_suboptimal_units,
    clippy::cast_possible_wrap
)]

mod auth;
mod catalog;
mod cli;
mod datasets;
mod demo;
mod demo_imagery;
mod downloads;
mod hardening;
mod http;
mod imagery;
mod import_integrity;
mod import_process;
mod import_vector;
mod import_xplan;
mod maengel;
mod maengel_browser;
mod maengel_faults;
mod mapviewer;
mod migrations;
mod multinode;
mod ogc_features;
mod open311;
mod opendata_sizes;
mod pages;
mod petitions_browser;
mod petitions_citizen;
mod petitions_lifecycle;
mod petitions_moderation;
mod plans;
mod pmtiles;
mod print;
mod privacy_maengel;
mod privacy_petitions;
mod restore;
mod scale_out;
mod tiles;
