//! CQL2 syntax tree → SQL condition with bind parameters, after checking every property
//! against the queryables and every comparison for matching types.

use std::fmt::Write as _;

use super::ast::{Cmp, Expr, Instant, Scalar, SpatialArg, SpatialOp, TemporalArg, TemporalOp};
use super::wkt::Geometry;
use crate::crs::{Crs, mercator};
use crate::query::{Sql, Value};
use crate::schema::{CollectionSchema, PropType};

/// A translated filter: an SQL condition whose parameters were added to the query.
#[derive(Debug)]
pub struct Translation {
    /// The condition.
    pub condition: String,
}

/// Translates `expr` for `schema`, with geometry literals in `filter_crs`.
pub fn translate(
    expr: &Expr,
    schema: &CollectionSchema,
    filter_crs: Crs,
    sql: &mut Sql,
) -> Result<Translation, String> {
    let mut t = Translator {
        schema,
        filter_crs,
        sql,
    };
    Ok(Translation {
        condition: t.expr(expr)?,
    })
}

struct Translator<'a> {
    schema: &'a CollectionSchema,
    filter_crs: Crs,
    sql: &'a mut Sql,
}

fn check_date(d: &str) -> Result<(), String> {
    crate::values::date(d)
        .map(|_| ())
        .ok_or_else(|| format!("{d:?} is not a date (YYYY-MM-DD, years 1–9999)"))
}

fn check_timestamp(t: &str) -> Result<(), String> {
    crate::values::timestamp(t).map(|_| ()).ok_or_else(|| {
        format!(
            "{t:?} is not a timestamp (RFC 3339, e.g. 2024-05-01T12:00:00Z, years 1–9999, offsets up to ±15:59)"
        )
    })
}

impl Translator<'_> {
    fn property(&self, name: &str) -> Result<(String, PropType), String> {
        self.schema.queryable(name).ok_or_else(|| {
            format!("{name:?} is not a queryable of this collection (see its /queryables)")
        })
    }

    fn expr(&mut self, e: &Expr) -> Result<String, String> {
        Ok(match e {
            Expr::And(items) | Expr::Or(items) => {
                let joiner = if matches!(e, Expr::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let parts = items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Result<Vec<_>, _>>()?;
                format!("({})", parts.join(joiner))
            }
            Expr::Not(inner) => format!("(NOT {})", self.expr(inner)?),
            Expr::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
            Expr::Comparison(op, a, b) => {
                let (ta, sa) = self.scalar(a)?;
                let (tb, sb) = self.scalar(b)?;
                Self::compatible(ta, tb, a, b)?;
                if ta == PropType::Boolean && !matches!(op, Cmp::Eq | Cmp::Ne) {
                    return Err("booleans can only be compared with = and <>".to_owned());
                }
                format!("({sa} {} {sb})", op.sql())
            }
            Expr::Like(a, pattern) => {
                let (ta, sa) = self.scalar(a)?;
                let (tp, sp) = self.scalar(pattern)?;
                if ta != PropType::String || tp != PropType::String {
                    return Err("LIKE compares character strings".to_owned());
                }
                format!("({sa} LIKE {sp})")
            }
            Expr::Between(v, lo, hi) => {
                let (tv, sv) = self.scalar(v)?;
                let (tl, sl) = self.scalar(lo)?;
                let (th, sh) = self.scalar(hi)?;
                if !matches!(
                    tv,
                    PropType::Integer
                        | PropType::Number
                        | PropType::Date
                        | PropType::DateTime
                        | PropType::String
                ) {
                    return Err(format!("BETWEEN cannot compare a {}", tv.label()));
                }
                Self::compatible(tv, tl, v, lo)?;
                Self::compatible(tv, th, v, hi)?;
                format!("({sv} BETWEEN {sl} AND {sh})")
            }
            Expr::In(v, list) => {
                let (tv, sv) = self.scalar(v)?;
                let mut items = Vec::new();
                for item in list {
                    let (ti, si) = self.scalar(item)?;
                    Self::compatible(tv, ti, v, item)?;
                    items.push(si);
                }
                format!("({sv} IN ({}))", items.join(", "))
            }
            Expr::IsNull(v) => {
                let (_, sv) = self.scalar_any(v)?;
                format!("({sv} IS NULL)")
            }
            Expr::Spatial(op, a, b) => self.spatial(*op, a, b)?,
            Expr::Temporal(op, a, b) => self.temporal(*op, a, b)?,
        })
    }

    fn compatible(a: PropType, b: PropType, sa: &Scalar, sb: &Scalar) -> Result<(), String> {
        if a.comparable(b) && a != PropType::Geometry && a != PropType::Other {
            Ok(())
        } else {
            Err(format!(
                "type mismatch: {} ({}) cannot be compared with {} ({})",
                describe(sa),
                a.label(),
                describe(sb),
                b.label()
            ))
        }
    }

    /// A scalar that may also be the geometry (for IS NULL).
    fn scalar_any(&mut self, s: &Scalar) -> Result<(PropType, String), String> {
        if let Scalar::Property(name) = s {
            let (col, kind) = self.property(name)?;
            return Ok((kind, col));
        }
        self.scalar(s)
    }

    fn scalar(&mut self, s: &Scalar) -> Result<(PropType, String), String> {
        Ok(match s {
            Scalar::Property(name) => {
                let (col, kind) = self.property(name)?;
                if kind == PropType::Geometry {
                    return Err(format!(
                        "{name:?} is a geometry; use a spatial function such as S_INTERSECTS"
                    ));
                }
                (kind, col)
            }
            Scalar::Text(v) if !crate::values::text_ok(v) => {
                return Err("a text value contains a NUL character".to_owned());
            }
            Scalar::Text(v) => (PropType::String, self.sql.param(Value::Text(v.clone()))),
            Scalar::Number(v) => (PropType::Number, self.sql.param(Value::Float(*v))),
            Scalar::Bool(v) => (PropType::Boolean, self.sql.param(Value::Bool(*v))),
            Scalar::Date(d) => {
                check_date(d)?;
                (
                    PropType::Date,
                    format!("({})::date", self.sql.param(Value::Text(d.clone()))),
                )
            }
            Scalar::Timestamp(t) => {
                check_timestamp(t)?;
                (
                    PropType::DateTime,
                    format!("({})::timestamptz", self.sql.param(Value::Text(t.clone()))),
                )
            }
            Scalar::Casei(inner) | Scalar::Accenti(inner) => {
                let (kind, sql) = self.scalar(inner)?;
                if kind != PropType::String {
                    return Err("CASEI and ACCENTI take character strings".to_owned());
                }
                let f = if matches!(s, Scalar::Casei(_)) {
                    "lower"
                } else {
                    "unaccent"
                };
                (PropType::String, format!("{f}({sql})"))
            }
        })
    }

    fn spatial(&mut self, op: SpatialOp, a: &SpatialArg, b: &SpatialArg) -> Result<String, String> {
        let storage = self.schema.collection.storage_srid;
        let direct = [a, b].iter().all(|arg| match arg {
            SpatialArg::Property(_) => true,
            SpatialArg::Geometry(g) => self.inside_extent(g),
        });
        let mut side = |arg: &SpatialArg| -> Result<String, String> {
            match arg {
                SpatialArg::Property(name) => {
                    let (col, kind) = self.property(name)?;
                    if kind != PropType::Geometry {
                        return Err(format!("{name:?} is not a geometry"));
                    }
                    Ok(if direct || self.filter_crs.srid == storage {
                        col
                    } else {
                        format!("ST_Transform({col}, {})", self.filter_crs.srid)
                    })
                }
                SpatialArg::Geometry(g) => {
                    let g = if self.filter_crs.lat_first {
                        g.swapped()
                    } else {
                        g.clone()
                    };
                    let literal = format!(
                        "ST_GeomFromText({}, {})",
                        self.sql.param(Value::Text(g.wkt())),
                        self.filter_crs.srid
                    );
                    Ok(if direct && self.filter_crs.srid != storage {
                        format!("ST_Transform({literal}, {storage})")
                    } else {
                        literal
                    })
                }
            }
        };
        let sa = side(a)?;
        let sb = side(b)?;
        Ok(format!("{}({sa}, {sb})", op.postgis()))
    }

    /// Whether a literal lies well inside the collection's extent, so it can be transformed
    /// into the storage CRS (and the spatial index used). Otherwise the comparison happens in
    /// the literal's CRS, which is exact for literals anywhere on earth.
    #[allow(clippy::many_single_char_names)] // west, south, east, north
    fn inside_extent(&self, g: &Geometry) -> bool {
        let Some([w, s, e, n]) = self.schema.collection.extent_crs84 else {
            return false;
        };
        let g = if self.filter_crs.lat_first {
            g.swapped()
        } else {
            g.clone()
        };
        let [x1, y1, x2, y2] = g.bbox();
        match self.filter_crs.srid {
            srid if srid == self.schema.collection.storage_srid => true,
            4326 | 4258 => x1 >= w - 1.0 && x2 <= e + 1.0 && y1 >= s - 1.0 && y2 <= n + 1.0,
            3857 => {
                let (mx1, my1) = mercator(w - 1.0, s - 1.0);
                let (mx2, my2) = mercator(e + 1.0, n + 1.0);
                x1 >= mx1 && x2 <= mx2 && y1 >= my1 && y2 <= my2
            }
            _ => false,
        }
    }

    fn instant(&mut self, i: &Instant, end: bool) -> Result<String, String> {
        Ok(match i {
            Instant::Open => if end {
                "'infinity'::timestamptz"
            } else {
                "'-infinity'::timestamptz"
            }
            .to_owned(),
            Instant::Date(d) => {
                check_date(d)?;
                format!(
                    "(({})::date::timestamp AT TIME ZONE 'UTC')",
                    self.sql.param(Value::Text(d.clone()))
                )
            }
            Instant::Timestamp(t) => {
                check_timestamp(t)?;
                format!("({})::timestamptz", self.sql.param(Value::Text(t.clone())))
            }
            Instant::Property(name) => {
                let (col, kind) = self.property(name)?;
                match kind {
                    PropType::Date => format!("({col}::timestamp AT TIME ZONE 'UTC')"),
                    PropType::DateTime => format!("({col})::timestamptz"),
                    other => {
                        return Err(format!(
                            "{name:?} is a {}, not a date or time",
                            other.label()
                        ));
                    }
                }
            }
        })
    }

    fn interval(&mut self, arg: &TemporalArg) -> Result<(String, String), String> {
        match arg {
            TemporalArg::Instant(i) => {
                let s = self.instant(i, false)?;
                Ok((s.clone(), s))
            }
            TemporalArg::Interval(a, b) => Ok((self.instant(a, false)?, self.instant(b, true)?)),
        }
    }

    fn temporal(
        &mut self,
        op: TemporalOp,
        a: &TemporalArg,
        b: &TemporalArg,
    ) -> Result<String, String> {
        let (s1, e1) = self.interval(a)?;
        let (s2, e2) = self.interval(b)?;
        let mut out = String::from("(");
        let _ = match op {
            TemporalOp::After => write!(out, "{s1} > {e2}"),
            TemporalOp::Before => write!(out, "{e1} < {s2}"),
            TemporalOp::Contains => write!(out, "{s1} < {s2} AND {e1} > {e2}"),
            TemporalOp::Disjoint => write!(out, "{e1} < {s2} OR {s1} > {e2}"),
            TemporalOp::During => write!(out, "{s1} > {s2} AND {e1} < {e2}"),
            TemporalOp::Equals => write!(out, "{s1} = {s2} AND {e1} = {e2}"),
            TemporalOp::FinishedBy => write!(out, "{s1} < {s2} AND {e1} = {e2}"),
            TemporalOp::Finishes => write!(out, "{s1} > {s2} AND {e1} = {e2}"),
            TemporalOp::Intersects => write!(out, "{s1} <= {e2} AND {e1} >= {s2}"),
            TemporalOp::Meets => write!(out, "{e1} = {s2}"),
            TemporalOp::MetBy => write!(out, "{s1} = {e2}"),
            TemporalOp::OverlappedBy => write!(out, "{s1} > {s2} AND {s1} < {e2} AND {e1} > {e2}"),
            TemporalOp::Overlaps => write!(out, "{s1} < {s2} AND {e1} > {s2} AND {e1} < {e2}"),
            TemporalOp::StartedBy => write!(out, "{s1} = {s2} AND {e1} > {e2}"),
            TemporalOp::Starts => write!(out, "{s1} = {s2} AND {e1} < {e2}"),
        };
        out.push(')');
        Ok(out)
    }
}

fn describe(s: &Scalar) -> String {
    match s {
        Scalar::Property(p) => p.clone(),
        Scalar::Text(t) => format!("'{t}'"),
        Scalar::Number(n) => n.to_string(),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Date(d) => format!("DATE('{d}')"),
        Scalar::Timestamp(t) => format!("TIMESTAMP('{t}')"),
        Scalar::Casei(i) => format!("CASEI({})", describe(i)),
        Scalar::Accenti(i) => format!("ACCENTI({})", describe(i)),
    }
}
