//! The query parameters of `/items`, parsed and checked against the collection before any SQL
//! is built. Anything malformed or unknown is a 400 that says what and why.

use stadtkarte_core::Problem;
use stadtkarte_core::config::FeaturesConfig;
use stadtkarte_core::values;

use stadtkarte_core::cql2::{self, Expr};
use stadtkarte_core::crs::{CRS84, Crs};
use stadtkarte_core::schema::{CollectionSchema, GEOMETRY, PropType};

/// Parameters that are not queryables (`lang` chooses the language of the HTML page).
pub const STANDARD: &[&str] = &[
    "f",
    "limit",
    "bbox",
    "bbox-crs",
    "crs",
    "datetime",
    "properties",
    "sortby",
    "filter",
    "filter-lang",
    "filter-crs",
    "cursor",
    "lang",
];

/// A bounding box in a CRS's own axis order, already split at the antimeridian.
#[derive(Debug, Clone)]
pub struct BBox {
    /// Boxes as (min x, min y, max x, max y) in the CRS's x/y (east/north) order.
    pub boxes: Vec<[f64; 4]>,
    /// Its CRS.
    pub crs: Crs,
}

/// One end of a `datetime` interval, as SQL-ready text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeBound {
    /// Unbounded.
    Open,
    /// A calendar day.
    Date(String),
    /// A moment.
    Timestamp(String),
}

/// `datetime`: an instant or an interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateTime {
    /// One day or moment.
    Instant(TimeBound),
    /// Start and end (inclusive).
    Interval(TimeBound, TimeBound),
}

/// A sort key.
#[derive(Debug, Clone)]
pub struct SortKey {
    /// Column.
    pub name: String,
    /// Its type.
    pub kind: PropType,
    /// Descending.
    pub descending: bool,
}

/// Everything an items request asks for.
#[derive(Debug, Clone)]
pub struct ItemsRequest {
    /// `f`
    pub format: Option<String>,
    /// `limit`, clamped to the maximum.
    pub limit: u32,
    /// `bbox` with `bbox-crs`.
    pub bbox: Option<BBox>,
    /// `crs`
    pub crs: Crs,
    /// `datetime`
    pub datetime: Option<DateTime>,
    /// `properties`: the chosen properties, in the collection's order.
    pub properties: Option<Vec<String>>,
    /// `sortby`
    pub sort: Vec<SortKey>,
    /// `filter` (parsed), with `filter-crs`.
    pub filter: Option<(Expr, Crs)>,
    /// Queryable = value filters.
    pub equals: Vec<(String, PropType, String)>,
    /// `cursor`
    pub cursor: Option<String>,
    /// The parameters that define the result set (for links and cursor checks), in order.
    pub canonical: Vec<(String, String)>,
}

fn bad(detail: impl Into<String>) -> Problem {
    Problem::bad_request(detail)
}

/// Parses the query of an items request.
pub fn parse(
    query: &[(String, String)],
    schema: &CollectionSchema,
    limits: &FeaturesConfig,
) -> Result<ItemsRequest, Problem> {
    let (default_limit, max_limit) = (limits.default_limit, limits.max_limit);
    let mut seen = std::collections::HashSet::new();
    for (k, _) in query {
        if !seen.insert(k.as_str()) {
            return Err(bad(format!("the parameter {k} is given more than once")));
        }
        if !STANDARD.contains(&k.as_str())
            && schema
                .queryable(k)
                .is_none_or(|(_, t)| t == PropType::Geometry)
        {
            return Err(bad(format!(
                "unknown query parameter {k:?}; allowed are {} and the queryables of the collection",
                STANDARD.join(", ")
            )));
        }
    }
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let limit = match get("limit") {
        None => default_limit,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n >= 1 => u32::try_from(n.min(i64::from(max_limit))).unwrap_or(max_limit),
            Ok(_) => return Err(bad(format!("limit={v} must be at least 1"))),
            Err(_) => return Err(bad(format!("limit={v} is not a whole number"))),
        },
    };
    let crs = get("crs")
        .map(|v| Crs::parse(v, "crs"))
        .transpose()?
        .unwrap_or(CRS84);
    let bbox_crs = get("bbox-crs")
        .map(|v| Crs::parse(v, "bbox-crs"))
        .transpose()?
        .unwrap_or(CRS84);
    let bbox = get("bbox").map(|v| parse_bbox(v, bbox_crs)).transpose()?;
    let datetime = get("datetime").map(parse_datetime).transpose()?;
    let properties = get("properties")
        .map(|v| {
            let wanted: Vec<&str> = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            for w in &wanted {
                if !schema.properties.iter().any(|p| p.name == *w) {
                    return Err(bad(format!(
                        "properties: {w:?} is not a property of this collection"
                    )));
                }
            }
            Ok(schema
                .properties
                .iter()
                .filter(|p| wanted.contains(&p.name.as_str()))
                .map(|p| p.name.clone())
                .collect())
        })
        .transpose()?;
    let sort = get("sortby")
        .map(|v| parse_sortby(v, schema, limits.max_sort_keys))
        .transpose()?
        .unwrap_or_default();
    let filter_crs = get("filter-crs")
        .map(|v| Crs::parse(v, "filter-crs"))
        .transpose()?
        .unwrap_or(CRS84);
    let filter = match (get("filter"), get("filter-lang")) {
        (None, None) => None,
        (None, Some(_)) => return Err(bad("filter-lang is given without a filter")),
        (Some(f), lang) => {
            let expr = match lang.unwrap_or("cql2-text") {
                "cql2-text" => cql2::parse_text(f),
                "cql2-json" => cql2::parse_json(f),
                other => {
                    return Err(bad(format!(
                        "filter-lang={other} is not supported; use cql2-text or cql2-json"
                    )));
                }
            }
            .map_err(|e| bad(format!("filter: {e}")))?;
            Some((expr, filter_crs))
        }
    };
    let mut equals = Vec::new();
    for (k, v) in query {
        if STANDARD.contains(&k.as_str()) {
            continue;
        }
        let Some((_, kind)) = schema.queryable(k) else {
            continue;
        };
        check_value(k, kind, v)?;
        equals.push((k.clone(), kind, v.clone()));
    }
    let canonical = query
        .iter()
        .filter(|(k, _)| k != "cursor" && k != "f" && k != "lang")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(ItemsRequest {
        format: get("f").map(str::to_owned),
        limit,
        bbox,
        crs,
        datetime,
        properties,
        sort,
        filter,
        equals,
        cursor: get("cursor").map(str::to_owned),
        canonical,
    })
}

fn check_value(name: &str, kind: PropType, value: &str) -> Result<(), Problem> {
    let ok = match kind {
        PropType::Integer => value.parse::<i64>().is_ok(),
        PropType::Number => value.parse::<f64>().is_ok_and(f64::is_finite),
        PropType::Boolean => matches!(value, "true" | "false"),
        PropType::Date => values::date(value).is_some(),
        PropType::DateTime => values::timestamp(value).is_some(),
        PropType::String => values::text_ok(value),
        PropType::Geometry | PropType::Other => false,
    };
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "{name}={value} is not a valid {}",
            kind.label()
        )))
    }
}

fn parse_bbox(value: &str, crs: Crs) -> Result<BBox, Problem> {
    let numbers: Vec<f64> = value
        .split(',')
        .map(|n| n.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            bad(format!(
                "bbox={value} must be 4 or 6 comma-separated numbers"
            ))
        })?;
    let (a, b, c, d) = match numbers.as_slice() {
        [a, b, c, d] => (*a, *b, *c, *d),
        [a, b, _, d, e, _] => (*a, *b, *d, *e),
        _ => {
            return Err(bad(format!(
                "bbox={value} has {} numbers; it needs 4 or 6",
                numbers.len()
            )));
        }
    };
    // Into x/y (east/north) order.
    let (x1, y1, x2, y2) = if crs.lat_first {
        (b, a, d, c)
    } else {
        (a, b, c, d)
    };
    if crs.geographic {
        if !(-90.0..=90.0).contains(&y1) || !(-90.0..=90.0).contains(&y2) {
            return Err(bad(format!(
                "bbox={value}: latitudes must lie between -90 and 90"
            )));
        }
        if !(-180.0..=180.0).contains(&x1) || !(-180.0..=180.0).contains(&x2) {
            return Err(bad(format!(
                "bbox={value}: longitudes must lie between -180 and 180"
            )));
        }
    }
    if y1 > y2 {
        return Err(bad(format!(
            "bbox={value}: the minimum {} is above the maximum",
            if crs.geographic { "latitude" } else { "y" }
        )));
    }
    let boxes = if x1 > x2 {
        if !crs.geographic {
            return Err(bad(format!(
                "bbox={value}: the minimum x is above the maximum"
            )));
        }
        // Across the antimeridian: two boxes.
        vec![[x1, y1, 180.0, y2], [-180.0, y1, x2, y2]]
    } else {
        vec![[x1, y1, x2, y2]]
    };
    Ok(BBox { boxes, crs })
}

fn parse_bound(text: &str, whole: &str) -> Result<TimeBound, Problem> {
    let t = text.trim();
    if t.is_empty() || t == ".." {
        return Ok(TimeBound::Open);
    }
    if values::date(t).is_some() {
        return Ok(TimeBound::Date(t.to_owned()));
    }
    if values::timestamp(t).is_some() {
        return Ok(TimeBound::Timestamp(t.to_owned()));
    }
    Err(bad(format!(
        "datetime={whole}: {t:?} is neither a date (2024-05-01) nor an RFC 3339 timestamp (2024-05-01T12:00:00Z) of the years 1–9999"
    )))
}

/// Parses `datetime`.
pub fn parse_datetime(value: &str) -> Result<DateTime, Problem> {
    match value.split_once('/') {
        None => match parse_bound(value, value)? {
            TimeBound::Open => Err(bad("datetime=.. needs a date or an interval")),
            b => Ok(DateTime::Instant(b)),
        },
        Some((a, b)) => {
            let (start, end) = (parse_bound(a, value)?, parse_bound(b, value)?);
            if start == TimeBound::Open && end == TimeBound::Open {
                return Err(bad("datetime=../.. is not an interval"));
            }
            Ok(DateTime::Interval(start, end))
        }
    }
}

fn parse_sortby(
    value: &str,
    schema: &CollectionSchema,
    max_keys: usize,
) -> Result<Vec<SortKey>, Problem> {
    let items: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.len() > max_keys {
        return Err(bad(format!(
            "sortby names {} keys; at most {max_keys} are allowed",
            items.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for item in &items {
        let name = item.trim_start_matches(['-', '+']).trim();
        if !seen.insert(name) {
            return Err(bad(format!("sortby names {name:?} more than once")));
        }
    }
    items
        .into_iter()
        .map(|item| {
            let (descending, name) = match item.as_bytes()[0] {
                b'-' => (true, &item[1..]),
                b'+' => (false, &item[1..]),
                _ => (false, item),
            };
            let name = name.trim();
            match schema.queryable(name) {
                Some((_, kind)) if kind != PropType::Geometry && name != GEOMETRY => Ok(SortKey {
                    name: name.to_owned(),
                    kind,
                    descending,
                }),
                _ => Err(bad(format!(
                    "sortby: {name:?} is not a sortable property of this collection"
                ))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bboxes() {
        let b = parse_bbox("7,50,8,51", CRS84).unwrap();
        assert_eq!(b.boxes, vec![[7.0, 50.0, 8.0, 51.0]]);
        let anti = parse_bbox("177,65,-177,70", CRS84).unwrap();
        assert_eq!(anti.boxes.len(), 2);
        let lat_first = Crs::parse("EPSG:4326", "bbox-crs").unwrap();
        assert_eq!(
            parse_bbox("50,7,51,8", lat_first).unwrap().boxes,
            vec![[7.0, 50.0, 8.0, 51.0]]
        );
        assert_eq!(
            parse_bbox("7,50,0,8,51,100", CRS84).unwrap().boxes,
            vec![[7.0, 50.0, 8.0, 51.0]]
        );
        for bad in [
            "1,2,3",
            "1,2,3,4,5",
            "1,2,3,4,5,6,7",
            "7,91,8,92",
            "7,51,8,50",
            "a,b,c,d",
            "",
        ] {
            assert_eq!(parse_bbox(bad, CRS84).unwrap_err().status, 400, "{bad}");
        }
        let utm = Crs::parse("EPSG:25832", "bbox-crs").unwrap();
        assert!(parse_bbox("400000,5580000,399000,5581000", utm).is_err());
    }

    #[test]
    fn datetimes() {
        assert!(matches!(
            parse_datetime("2024-05-01").unwrap(),
            DateTime::Instant(TimeBound::Date(_))
        ));
        assert!(matches!(
            parse_datetime("2024-05-01T10:00:00Z").unwrap(),
            DateTime::Instant(TimeBound::Timestamp(_))
        ));
        assert!(matches!(
            parse_datetime("../2024-05-01").unwrap(),
            DateTime::Interval(TimeBound::Open, _)
        ));
        assert!(matches!(
            parse_datetime("2024-05-01/").unwrap(),
            DateTime::Interval(_, TimeBound::Open)
        ));
        for bad in [
            "yesterday",
            "2024-13-01",
            "2024-05-01/soon",
            "../..",
            "..",
            "2024-05-01T25:00:00Z",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad}");
        }
    }
}
