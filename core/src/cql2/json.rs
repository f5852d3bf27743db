//! The CQL2 JSON encoding.

use serde_json::Value;

use super::MAX_DEPTH;
use super::ast::{Cmp, Expr, Instant, Scalar, SpatialArg, SpatialOp, TemporalArg, TemporalOp};
use super::wkt::{self, Geometry};

fn args(value: &Value) -> Result<&Vec<Value>, String> {
    value
        .get("args")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{value} has no args array"))
}

fn two(value: &Value) -> Result<(&Value, &Value), String> {
    match args(value)?.as_slice() {
        [a, b] => Ok((a, b)),
        _ => Err(format!("{} needs two arguments", value["op"])),
    }
}

/// Parses a boolean expression.
pub fn parse(value: &Value, depth: usize) -> Result<Expr, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "the filter is nested deeper than {MAX_DEPTH} levels"
        ));
    }
    if let Some(b) = value.as_bool() {
        return Ok(Expr::Bool(b));
    }
    let Some(op) = value.get("op").and_then(Value::as_str) else {
        return Err(format!("{value} is not a boolean expression (no \"op\")"));
    };
    let lower = op.to_ascii_lowercase();
    if let Some(cmp) = Cmp::from_symbol(op) {
        let (a, b) = two(value)?;
        return Ok(Expr::Comparison(cmp, scalar(a, depth)?, scalar(b, depth)?));
    }
    if let Some(s) = SpatialOp::from_name(&lower) {
        let (a, b) = two(value)?;
        return Ok(Expr::Spatial(s, spatial(a)?, spatial(b)?));
    }
    if let Some(t) = TemporalOp::from_name(&lower) {
        let (a, b) = two(value)?;
        return Ok(Expr::Temporal(t, temporal(a)?, temporal(b)?));
    }
    match lower.as_str() {
        "and" | "or" => {
            let items = args(value)?
                .iter()
                .map(|a| parse(a, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            if items.len() < 2 {
                return Err(format!("{op} needs at least two arguments"));
            }
            Ok(if lower == "and" {
                Expr::And(items)
            } else {
                Expr::Or(items)
            })
        }
        "not" => match args(value)?.as_slice() {
            [a] => Ok(Expr::Not(Box::new(parse(a, depth + 1)?))),
            _ => Err("not needs one argument".to_owned()),
        },
        "like" => {
            let (a, b) = two(value)?;
            Ok(Expr::Like(scalar(a, depth)?, scalar(b, depth)?))
        }
        "between" => match args(value)?.as_slice() {
            [v, lo, hi] => Ok(Expr::Between(
                scalar(v, depth)?,
                scalar(lo, depth)?,
                scalar(hi, depth)?,
            )),
            [v, Value::Array(range)] if range.len() == 2 => Ok(Expr::Between(
                scalar(v, depth)?,
                scalar(&range[0], depth)?,
                scalar(&range[1], depth)?,
            )),
            _ => Err("between needs a value, a lower and an upper bound".to_owned()),
        },
        "in" => {
            let (v, list) = two(value)?;
            let list = list
                .as_array()
                .ok_or("in needs a list as second argument")?;
            Ok(Expr::In(
                scalar(v, depth)?,
                list.iter()
                    .map(|x| scalar(x, depth))
                    .collect::<Result<_, _>>()?,
            ))
        }
        "isnull" => match args(value)?.as_slice() {
            [a] => Ok(Expr::IsNull(scalar(a, depth)?)),
            _ => Err("isNull needs one argument".to_owned()),
        },
        _ => Err(format!("unknown operator or function {op:?}")),
    }
}

fn scalar(value: &Value, depth: usize) -> Result<Scalar, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "the filter is nested deeper than {MAX_DEPTH} levels"
        ));
    }
    Ok(match value {
        Value::String(s) => Scalar::Text(s.clone()),
        Value::Number(n) => Scalar::Number(n.as_f64().ok_or("a number is out of range")?),
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Object(o) => {
            if let Some(p) = o.get("property").and_then(Value::as_str) {
                Scalar::Property(p.to_owned())
            } else if let Some(d) = o.get("date").and_then(Value::as_str) {
                Scalar::Date(d.to_owned())
            } else if let Some(t) = o.get("timestamp").and_then(Value::as_str) {
                Scalar::Timestamp(t.to_owned())
            } else if let Some(op) = o.get("op").and_then(Value::as_str) {
                let inner = match args(value)?.as_slice() {
                    [a] => Box::new(scalar(a, depth + 1)?),
                    _ => return Err(format!("{op} needs one argument")),
                };
                match op.to_ascii_lowercase().as_str() {
                    "casei" => Scalar::Casei(inner),
                    "accenti" => Scalar::Accenti(inner),
                    _ => return Err(format!("unknown function {op:?}")),
                }
            } else {
                return Err(format!("{value} is not a value"));
            }
        }
        other => return Err(format!("{other} is not a value")),
    })
}

fn spatial(value: &Value) -> Result<SpatialArg, String> {
    if let Some(p) = value.get("property").and_then(Value::as_str) {
        return Ok(SpatialArg::Property(p.to_owned()));
    }
    if let Some(b) = value.get("bbox").and_then(Value::as_array) {
        let numbers: Vec<f64> = b
            .iter()
            .map(|n| {
                n.as_f64()
                    .ok_or("bbox holds something that is not a number")
            })
            .collect::<Result<_, _>>()?;
        return Ok(SpatialArg::Geometry(Geometry::from_bbox(&numbers)?));
    }
    Ok(SpatialArg::Geometry(wkt::parse_geojson(value)?))
}

fn instant(value: &Value) -> Result<Instant, String> {
    match value {
        Value::String(s) if s == ".." => Ok(Instant::Open),
        Value::String(s) if s.len() == 10 => Ok(Instant::Date(s.clone())),
        Value::String(s) => Ok(Instant::Timestamp(s.clone())),
        Value::Object(o) => {
            if let Some(p) = o.get("property").and_then(Value::as_str) {
                Ok(Instant::Property(p.to_owned()))
            } else if let Some(d) = o.get("date").and_then(Value::as_str) {
                Ok(Instant::Date(d.to_owned()))
            } else if let Some(t) = o.get("timestamp").and_then(Value::as_str) {
                Ok(Instant::Timestamp(t.to_owned()))
            } else {
                Err(format!("{value} is not a date, timestamp or property"))
            }
        }
        other => Err(format!("{other} is not a date, timestamp or property")),
    }
}

fn temporal(value: &Value) -> Result<TemporalArg, String> {
    if let Some(i) = value.get("interval").and_then(Value::as_array) {
        return match i.as_slice() {
            [a, b] => Ok(TemporalArg::Interval(instant(a)?, instant(b)?)),
            _ => Err("an interval needs a start and an end".to_owned()),
        };
    }
    match instant(value)? {
        Instant::Open => Err("'..' is only allowed inside an interval".to_owned()),
        i => Ok(TemporalArg::Instant(i)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_json_encoding() {
        let v: Value = serde_json::from_str(
            r#"{"op":"and","args":[{"op":"=","args":[{"property":"funktion"},"Schule"]},
               {"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[7,50,8,51]}]},
               {"op":"t_after","args":[{"property":"t"},{"date":"2000-01-01"}]},
               {"op":"in","args":[{"property":"x"},[1,2]]},
               {"op":"like","args":[{"op":"casei","args":[{"property":"name"}]},"k%"]}]}"#,
        )
        .unwrap();
        let Expr::And(items) = parse(&v, 0).unwrap() else {
            panic!()
        };
        assert_eq!(items.len(), 5);
        let bad: Value = serde_json::from_str(r#"{"op":"frobnicate","args":[]}"#).unwrap();
        assert!(parse(&bad, 0).unwrap_err().contains("unknown"));
    }
}
