//! CQL2 (OGC 21-065r2), text and JSON encodings, parsed into one syntax tree and translated into
//! parameterised SQL. Property names are checked against the collection's queryables and types
//! are checked before any SQL is built; literals travel as bind parameters. Expressions have a
//! size and a nesting limit, so a hostile filter costs nothing.
//!
//! Supported: basic CQL2, advanced comparison (LIKE, BETWEEN, IN), case- and accent-insensitive
//! comparison (CASEI, ACCENTI), property-property comparisons, the spatial functions
//! (`S_INTERSECTS`, `S_EQUALS`, `S_DISJOINT`, `S_TOUCHES`, `S_WITHIN`, `S_OVERLAPS`, `S_CROSSES`,
//! `S_CONTAINS`)
//! with every WKT/GeoJSON geometry type and BBOX, and the temporal functions (all fourteen,
//! over DATE, TIMESTAMP and INTERVAL). Not supported: arrays and arithmetic.

mod ast;
mod json;
mod sql;
mod text;
pub mod wkt;

pub use ast::Expr;
pub use sql::{Translation, translate};

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 64 * 1024;
/// Deepest nesting of expressions accepted.
pub const MAX_DEPTH: usize = 64;

/// Parses CQL2 text.
pub fn parse_text(input: &str) -> Result<Expr, String> {
    if input.len() > MAX_FILTER_BYTES {
        return Err(format!(
            "the filter is longer than {MAX_FILTER_BYTES} bytes"
        ));
    }
    text::parse(input)
}

/// Parses CQL2 JSON.
pub fn parse_json(input: &str) -> Result<Expr, String> {
    if input.len() > MAX_FILTER_BYTES {
        return Err(format!(
            "the filter is longer than {MAX_FILTER_BYTES} bytes"
        ));
    }
    let value: serde_json::Value =
        serde_json::from_str(input).map_err(|e| format!("not valid JSON: {e}"))?;
    json::parse(&value, 0)
}
