//! Keyset paging: `next`/`prev` links carry a cursor with the sort-key values of the last (or
//! first) feature of the page, so page 1,000 costs what page 1 does, and a page never repeats
//! or skips a feature. Cursors are opaque (base64url JSON) and checked: a cursor that does not
//! decode, does not fit the sort keys, or belongs to another query is a 400.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use stadtkarte_core::Problem;

use crate::params::SortKey;
use stadtkarte_core::query::{Sql, Value as Param};
use stadtkarte_core::schema::PropType;

/// Which side of the key the page lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Rows after the key (a `next` page).
    After,
    /// Rows before the key (a `prev` page).
    Before,
}

/// A decoded cursor.
#[derive(Debug, Clone)]
pub struct Cursor {
    /// Sort-key values then the id.
    pub keys: Vec<Value>,
    /// Side.
    pub direction: Direction,
}

/// A fingerprint of the parameters that define the result set.
#[must_use]
pub fn fingerprint(collection: &str, canonical: &[(String, String)]) -> String {
    // FNV-1a: stable across builds and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in collection.bytes().chain(
        canonical
            .iter()
            .flat_map(|(k, v)| k.bytes().chain([0]).chain(v.bytes()).chain([1])),
    ) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Encodes a cursor.
#[must_use]
pub fn encode(keys: &Value, direction: Direction, fingerprint: &str) -> String {
    let d = if direction == Direction::After {
        "n"
    } else {
        "p"
    };
    URL_SAFE_NO_PAD.encode(json!({"k": keys, "d": d, "q": fingerprint}).to_string())
}

fn forged() -> Problem {
    Problem::bad_request(
        "cursor: not a cursor of this query; follow the next/prev links as they are",
    )
}

/// Decodes and checks a cursor against the sort keys and the query.
pub fn decode(
    text: &str,
    sort: &[SortKey],
    id_kind: PropType,
    fingerprint: &str,
) -> Result<Cursor, Problem> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| forged())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| forged())?;
    if value.get("q").and_then(Value::as_str) != Some(fingerprint) {
        return Err(forged());
    }
    let direction = match value.get("d").and_then(Value::as_str) {
        Some("n") => Direction::After,
        Some("p") => Direction::Before,
        _ => return Err(forged()),
    };
    let keys = value
        .get("k")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(forged)?;
    if keys.len() != sort.len() + 1 {
        return Err(forged());
    }
    let kinds = sort.iter().map(|s| s.kind).chain(std::iter::once(id_kind));
    for (key, kind) in keys.iter().zip(kinds) {
        let fits = match kind {
            PropType::Integer => key.is_i64() || key.is_u64(),
            PropType::Number => key.is_number(),
            PropType::Boolean => key.is_boolean(),
            PropType::String | PropType::Date | PropType::DateTime => key.is_string(),
            PropType::Geometry | PropType::Other => false,
        };
        if !(fits || key.is_null()) {
            return Err(forged());
        }
    }
    if keys.last().is_some_and(Value::is_null) {
        return Err(forged());
    }
    Ok(Cursor { keys, direction })
}

fn bind(sql: &mut Sql, value: &Value, kind: PropType) -> String {
    match kind {
        PropType::Integer => sql.param(Param::Int(value.as_i64().unwrap_or_default())),
        PropType::Number => sql.param(Param::Float(value.as_f64().unwrap_or_default())),
        PropType::Boolean => sql.param(Param::Bool(value.as_bool().unwrap_or_default())),
        PropType::Date => format!(
            "({})::date",
            sql.param(Param::Text(value.as_str().unwrap_or_default().to_owned()))
        ),
        PropType::DateTime => format!(
            "({})::timestamptz",
            sql.param(Param::Text(value.as_str().unwrap_or_default().to_owned()))
        ),
        _ => sql.param(Param::Text(value.as_str().unwrap_or_default().to_owned())),
    }
}

/// The keyset condition for a cursor; sort keys are ordered NULLS LAST, the id breaks ties.
pub fn condition(
    cursor: &Cursor,
    sort: &[SortKey],
    id_column: &str,
    id_kind: PropType,
    sql: &mut Sql,
) -> String {
    fn build(
        i: usize,
        cursor: &Cursor,
        sort: &[SortKey],
        id_column: &str,
        id_kind: PropType,
        sql: &mut Sql,
    ) -> String {
        let after = cursor.direction == Direction::After;
        if i == sort.len() {
            let v = bind(sql, &cursor.keys[i], id_kind);
            return format!("{id_column} {} {v}", if after { ">" } else { "<" });
        }
        let key = &sort[i];
        let col = stadtkarte_core::catalog::quote_ident(&key.name);
        let value = &cursor.keys[i];
        if value.is_null() {
            let rest = build(i + 1, cursor, sort, id_column, id_kind, sql);
            return if after {
                format!("({col} IS NULL AND {rest})")
            } else {
                format!("({col} IS NOT NULL OR ({col} IS NULL AND {rest}))")
            };
        }
        let v = bind(sql, value, key.kind);
        let rest = build(i + 1, cursor, sort, id_column, id_kind, sql);
        let op = match (after, key.descending) {
            (true, false) | (false, true) => ">",
            _ => "<",
        };
        if after {
            format!("({col} {op} {v} OR {col} IS NULL OR ({col} = {v} AND {rest}))")
        } else {
            format!("({col} {op} {v} OR ({col} = {v} AND {rest}))")
        }
    }
    build(0, cursor, sort, id_column, id_kind, sql)
}

/// `ORDER BY` for a direction (reversed for `Before`).
#[must_use]
pub fn order_by(sort: &[SortKey], id_column: &str, direction: Direction) -> String {
    let forward = direction == Direction::After;
    let mut parts: Vec<String> = sort
        .iter()
        .map(|k| {
            let col = stadtkarte_core::catalog::quote_ident(&k.name);
            match (forward, k.descending) {
                (true, false) => format!("{col} ASC NULLS LAST"),
                (true, true) => format!("{col} DESC NULLS LAST"),
                (false, false) => format!("{col} DESC NULLS FIRST"),
                (false, true) => format!("{col} ASC NULLS FIRST"),
            }
        })
        .collect();
    parts.push(format!(
        "{id_column} {}",
        if forward { "ASC" } else { "DESC" }
    ));
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_forgeries_fail() {
        let sort = vec![SortKey {
            name: "name".into(),
            kind: PropType::String,
            descending: false,
        }];
        let fp = fingerprint("c", &[("sortby".into(), "name".into())]);
        let text = encode(&json!(["Koblenz", 7]), Direction::After, &fp);
        let c = decode(&text, &sort, PropType::Integer, &fp).unwrap();
        assert_eq!(c.keys, vec![json!("Koblenz"), json!(7)]);
        assert_eq!(
            decode(&text, &sort, PropType::Integer, "other")
                .unwrap_err()
                .status,
            400
        );
        assert!(decode("not-a-cursor!", &sort, PropType::Integer, &fp).is_err());
        let wrong_type = encode(&json!([1, 7]), Direction::After, &fp);
        assert!(decode(&wrong_type, &sort, PropType::Integer, &fp).is_err());
        let wrong_len = encode(&json!([7]), Direction::After, &fp);
        assert!(decode(&wrong_len, &sort, PropType::Integer, &fp).is_err());
    }
}
