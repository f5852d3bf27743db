//! The syntax tree both encodings parse into.

/// A boolean expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All must hold.
    And(Vec<Expr>),
    /// One must hold.
    Or(Vec<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// `a = b`, `a < b`, …
    Comparison(Cmp, Scalar, Scalar),
    /// `a LIKE 'pattern'`
    Like(Scalar, Scalar),
    /// `a BETWEEN low AND high`
    Between(Scalar, Scalar, Scalar),
    /// `a IN (x, y, …)`
    In(Scalar, Vec<Scalar>),
    /// `a IS NULL`
    IsNull(Scalar),
    /// `S_INTERSECTS(a, b)` and the other spatial functions.
    Spatial(SpatialOp, SpatialArg, SpatialArg),
    /// `T_AFTER(a, b)` and the other temporal functions.
    Temporal(TemporalOp, TemporalArg, TemporalArg),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    pub(super) fn from_symbol(s: &str) -> Option<Self> {
        Some(match s {
            "=" => Self::Eq,
            "<>" => Self::Ne,
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            _ => return None,
        })
    }

    pub(super) fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "<>",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// A scalar value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A queryable.
    Property(String),
    /// A character string.
    Text(String),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// `DATE('2024-01-31')`
    Date(String),
    /// `TIMESTAMP('2024-01-31T12:00:00Z')`
    Timestamp(String),
    /// `CASEI(x)`
    Casei(Box<Scalar>),
    /// `ACCENTI(x)`
    Accenti(Box<Scalar>),
}

/// Spatial functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpatialOp {
    /// `S_INTERSECTS`
    Intersects,
    /// `S_EQUALS`
    Equals,
    /// `S_DISJOINT`
    Disjoint,
    /// `S_TOUCHES`
    Touches,
    /// `S_WITHIN`
    Within,
    /// `S_OVERLAPS`
    Overlaps,
    /// `S_CROSSES`
    Crosses,
    /// `S_CONTAINS`
    Contains,
}

impl SpatialOp {
    pub(super) fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "s_intersects" => Self::Intersects,
            "s_equals" => Self::Equals,
            "s_disjoint" => Self::Disjoint,
            "s_touches" => Self::Touches,
            "s_within" => Self::Within,
            "s_overlaps" => Self::Overlaps,
            "s_crosses" => Self::Crosses,
            "s_contains" => Self::Contains,
            _ => return None,
        })
    }

    pub(super) fn postgis(self) -> &'static str {
        match self {
            Self::Intersects => "ST_Intersects",
            Self::Equals => "ST_Equals",
            Self::Disjoint => "ST_Disjoint",
            Self::Touches => "ST_Touches",
            Self::Within => "ST_Within",
            Self::Overlaps => "ST_Overlaps",
            Self::Crosses => "ST_Crosses",
            Self::Contains => "ST_Contains",
        }
    }
}

/// An argument of a spatial function.
#[derive(Debug, Clone, PartialEq)]
pub enum SpatialArg {
    /// The geometry queryable.
    Property(String),
    /// A geometry literal (parsed and checked).
    Geometry(super::wkt::Geometry),
}

/// Temporal functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum TemporalOp {
    After,
    Before,
    Contains,
    Disjoint,
    During,
    Equals,
    FinishedBy,
    Finishes,
    Intersects,
    Meets,
    MetBy,
    OverlappedBy,
    Overlaps,
    StartedBy,
    Starts,
}

impl TemporalOp {
    pub(super) fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "t_after" => Self::After,
            "t_before" => Self::Before,
            "t_contains" => Self::Contains,
            "t_disjoint" => Self::Disjoint,
            "t_during" => Self::During,
            "t_equals" => Self::Equals,
            "t_finishedby" => Self::FinishedBy,
            "t_finishes" => Self::Finishes,
            "t_intersects" => Self::Intersects,
            "t_meets" => Self::Meets,
            "t_metby" => Self::MetBy,
            "t_overlappedby" => Self::OverlappedBy,
            "t_overlaps" => Self::Overlaps,
            "t_startedby" => Self::StartedBy,
            "t_starts" => Self::Starts,
            _ => return None,
        })
    }
}

/// One end of an interval, or an instant.
#[derive(Debug, Clone, PartialEq)]
pub enum Instant {
    /// A queryable with a date or time.
    Property(String),
    /// A calendar day.
    Date(String),
    /// A moment.
    Timestamp(String),
    /// `..`: unbounded.
    Open,
}

/// An argument of a temporal function.
#[derive(Debug, Clone, PartialEq)]
pub enum TemporalArg {
    /// An instant.
    Instant(Instant),
    /// `INTERVAL(start, end)`
    Interval(Instant, Instant),
}
