//! Integration tests: one binary, so one throwaway PostGIS serves the whole run.

// Helpers of tests are test code too.
#![allow(clippy::unwrap_used, clippy::panic, clippy::too_many_lines)]

mod catalog;
mod cli;
mod demo;
mod http;
mod migrations;
