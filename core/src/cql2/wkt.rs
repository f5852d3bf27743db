//! Geometry literals of CQL2 filters (WKT in the text encoding, GeoJSON in the JSON encoding,
//! and BBOX in both), parsed and checked here so that PostGIS never sees a malformed one.

use serde_json::Value;

/// A parsed geometry literal, 2D.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    /// A position.
    Point([f64; 2]),
    /// A line.
    LineString(Vec<[f64; 2]>),
    /// Rings, the first the shell.
    Polygon(Vec<Vec<[f64; 2]>>),
    /// Positions.
    MultiPoint(Vec<[f64; 2]>),
    /// Lines.
    MultiLineString(Vec<Vec<[f64; 2]>>),
    /// Polygons.
    MultiPolygon(Vec<Vec<Vec<[f64; 2]>>>),
    /// Anything.
    Collection(Vec<Geometry>),
}

impl Geometry {
    /// A BBOX literal (4 or 6 numbers) as a polygon.
    pub fn from_bbox(numbers: &[f64]) -> Result<Self, String> {
        let (x1, y1, x2, y2) = match numbers {
            [a, b, c, d] => (*a, *b, *c, *d),
            [a, b, _, d, e, _] => (*a, *b, *d, *e),
            _ => return Err(format!("BBOX needs 4 or 6 numbers, not {}", numbers.len())),
        };
        Ok(Self::Polygon(vec![vec![
            [x1, y1],
            [x2, y1],
            [x2, y2],
            [x1, y2],
            [x1, y1],
        ]]))
    }

    /// Swaps the axes (for CRSs with latitude first).
    #[must_use]
    pub fn swapped(&self) -> Self {
        fn s(p: &[f64; 2]) -> [f64; 2] {
            [p[1], p[0]]
        }
        fn line(l: &[[f64; 2]]) -> Vec<[f64; 2]> {
            l.iter().map(s).collect()
        }
        match self {
            Self::Point(p) => Self::Point(s(p)),
            Self::LineString(l) => Self::LineString(line(l)),
            Self::MultiPoint(l) => Self::MultiPoint(line(l)),
            Self::Polygon(r) => Self::Polygon(r.iter().map(|x| line(x)).collect()),
            Self::MultiLineString(r) => Self::MultiLineString(r.iter().map(|x| line(x)).collect()),
            Self::MultiPolygon(p) => Self::MultiPolygon(
                p.iter()
                    .map(|r| r.iter().map(|x| line(x)).collect())
                    .collect(),
            ),
            Self::Collection(g) => Self::Collection(g.iter().map(Self::swapped).collect()),
        }
    }

    /// Bounding box (min x, min y, max x, max y).
    #[must_use]
    pub fn bbox(&self) -> [f64; 4] {
        let mut b = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        self.each_position(&mut |p| {
            b[0] = b[0].min(p[0]);
            b[1] = b[1].min(p[1]);
            b[2] = b[2].max(p[0]);
            b[3] = b[3].max(p[1]);
        });
        b
    }

    fn each_position(&self, f: &mut impl FnMut(&[f64; 2])) {
        match self {
            Self::Point(p) => f(p),
            Self::LineString(l) | Self::MultiPoint(l) => l.iter().for_each(f),
            Self::Polygon(r) | Self::MultiLineString(r) => r.iter().flatten().for_each(f),
            Self::MultiPolygon(p) => p.iter().flatten().flatten().for_each(f),
            Self::Collection(g) => g.iter().for_each(|x| x.each_position(f)),
        }
    }

    /// WKT, as PostGIS reads it.
    #[must_use]
    pub fn wkt(&self) -> String {
        fn pos(p: &[f64; 2]) -> String {
            format!("{} {}", p[0], p[1])
        }
        fn line(l: &[[f64; 2]]) -> String {
            format!("({})", l.iter().map(pos).collect::<Vec<_>>().join(","))
        }
        fn rings(r: &[Vec<[f64; 2]>]) -> String {
            format!(
                "({})",
                r.iter().map(|x| line(x)).collect::<Vec<_>>().join(",")
            )
        }
        match self {
            Self::Point(p) => format!("POINT({})", pos(p)),
            Self::LineString(l) => format!("LINESTRING{}", line(l)),
            Self::Polygon(r) => format!("POLYGON{}", rings(r)),
            Self::MultiPoint(l) => format!(
                "MULTIPOINT({})",
                l.iter()
                    .map(|p| format!("({})", pos(p)))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Self::MultiLineString(r) => format!("MULTILINESTRING{}", rings(r)),
            Self::MultiPolygon(p) => format!(
                "MULTIPOLYGON({})",
                p.iter().map(|r| rings(r)).collect::<Vec<_>>().join(",")
            ),
            Self::Collection(g) => format!(
                "GEOMETRYCOLLECTION({})",
                g.iter().map(Self::wkt).collect::<Vec<_>>().join(",")
            ),
        }
    }

    fn check(self) -> Result<Self, String> {
        let ring_ok = |r: &Vec<[f64; 2]>| r.len() >= 4 && r.first() == r.last();
        let ok = match &self {
            Self::Point(_) | Self::MultiPoint(_) | Self::Collection(_) => true,
            Self::LineString(l) => l.len() >= 2,
            Self::MultiLineString(r) => r.iter().all(|l| l.len() >= 2),
            Self::Polygon(r) => !r.is_empty() && r.iter().all(ring_ok),
            Self::MultiPolygon(p) => p.iter().all(|r| !r.is_empty() && r.iter().all(ring_ok)),
        };
        let mut finite = true;
        self.each_position(&mut |p| finite &= p[0].is_finite() && p[1].is_finite());
        if ok && finite {
            Ok(self)
        } else {
            Err(
                "a geometry literal is malformed (too few positions, or a ring that is not closed)"
                    .to_owned(),
            )
        }
    }
}

/// Parses WKT (2D, or 3D with the third coordinate dropped).
pub fn parse_wkt(text: &str) -> Result<Geometry, String> {
    let mut p = WktParser {
        s: text.as_bytes(),
        i: 0,
    };
    let g = p.geometry()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!(
            "unexpected text after the geometry: {}",
            &text[p.i..]
        ));
    }
    g.check()
}

struct WktParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl WktParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn word(&mut self) -> String {
        self.ws();
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_alphabetic() {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).to_ascii_uppercase()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!(
                "WKT: expected '{}' at position {}",
                c as char, self.i
            ))
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn number(&mut self) -> Result<f64, String> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && matches!(
                self.s[self.i],
                b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
            )
        {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("WKT: a number was expected at position {start}"))
    }

    fn position(&mut self) -> Result<[f64; 2], String> {
        let x = self.number()?;
        let y = self.number()?;
        // A third (and fourth) ordinate is accepted and dropped.
        while matches!(self.peek(), Some(b'0'..=b'9' | b'-' | b'+' | b'.')) {
            self.number()?;
        }
        Ok([x, y])
    }

    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        self.expect(b'(')?;
        let mut out = vec![item(self)?];
        while self.peek() == Some(b',') {
            self.i += 1;
            out.push(item(self)?);
        }
        self.expect(b')')?;
        Ok(out)
    }

    fn line(&mut self) -> Result<Vec<[f64; 2]>, String> {
        self.list(Self::position)
    }

    fn rings(&mut self) -> Result<Vec<Vec<[f64; 2]>>, String> {
        self.list(Self::line)
    }

    fn geometry(&mut self) -> Result<Geometry, String> {
        let kind = self.word();
        // "POINT Z (…)": dimension markers are accepted.
        let save = self.i;
        if !matches!(self.word().as_str(), "Z" | "M" | "ZM") {
            self.i = save;
        }
        Ok(match kind.as_str() {
            "POINT" => {
                self.expect(b'(')?;
                let p = self.position()?;
                self.expect(b')')?;
                Geometry::Point(p)
            }
            "LINESTRING" => Geometry::LineString(self.line()?),
            "POLYGON" => Geometry::Polygon(self.rings()?),
            "MULTIPOINT" => Geometry::MultiPoint(self.list(|p| {
                if p.peek() == Some(b'(') {
                    p.i += 1;
                    let pos = p.position()?;
                    p.expect(b')')?;
                    Ok(pos)
                } else {
                    p.position()
                }
            })?),
            "MULTILINESTRING" => Geometry::MultiLineString(self.rings()?),
            "MULTIPOLYGON" => Geometry::MultiPolygon(self.list(Self::rings)?),
            "GEOMETRYCOLLECTION" => Geometry::Collection(self.list(Self::geometry)?),
            other => return Err(format!("WKT: unknown geometry type {other:?}")),
        })
    }
}

/// Parses a GeoJSON geometry object.
pub fn parse_geojson(value: &Value) -> Result<Geometry, String> {
    fn pos(v: &Value) -> Result<[f64; 2], String> {
        match v.as_array().map(Vec::as_slice) {
            Some([x, y, ..]) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => Ok([x, y]),
                _ => Err("GeoJSON: a position holds something that is not a number".to_owned()),
            },
            _ => Err("GeoJSON: a position needs two numbers".to_owned()),
        }
    }
    fn arr(v: &Value) -> Result<&Vec<Value>, String> {
        v.as_array()
            .ok_or_else(|| "GeoJSON: coordinates must be arrays".to_owned())
    }
    fn line(v: &Value) -> Result<Vec<[f64; 2]>, String> {
        arr(v)?.iter().map(pos).collect()
    }
    fn rings(v: &Value) -> Result<Vec<Vec<[f64; 2]>>, String> {
        arr(v)?.iter().map(line).collect()
    }
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let c = value.get("coordinates").unwrap_or(&Value::Null);
    let g = match kind {
        "Point" => Geometry::Point(pos(c)?),
        "LineString" => Geometry::LineString(line(c)?),
        "Polygon" => Geometry::Polygon(rings(c)?),
        "MultiPoint" => Geometry::MultiPoint(line(c)?),
        "MultiLineString" => Geometry::MultiLineString(rings(c)?),
        "MultiPolygon" => {
            Geometry::MultiPolygon(arr(c)?.iter().map(rings).collect::<Result<_, _>>()?)
        }
        "GeometryCollection" => Geometry::Collection(
            value
                .get("geometries")
                .and_then(Value::as_array)
                .ok_or("GeoJSON: a GeometryCollection needs geometries")?
                .iter()
                .map(parse_geojson)
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("GeoJSON: unknown geometry type {other:?}")),
    };
    g.check()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::float_cmp)] // exact values from exact input
    fn wkt_round_trip_and_checks() {
        let g = parse_wkt("polygon ((0 0, 1 0, 1 1, 0 0))").unwrap();
        assert_eq!(g.wkt(), "POLYGON((0 0,1 0,1 1,0 0))");
        assert_eq!(
            parse_wkt("MULTIPOINT((1 2),(3 4))").unwrap().wkt(),
            "MULTIPOINT((1 2),(3 4))"
        );
        assert_eq!(
            parse_wkt("MULTIPOINT(1 2, 3 4)").unwrap().bbox(),
            [1.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(
            parse_wkt("POINT Z (7 50 100)").unwrap(),
            Geometry::Point([7.0, 50.0])
        );
        assert!(parse_wkt("POLYGON((0 0, 1 0, 1 1))").is_err(), "unclosed");
        assert!(parse_wkt("POINT(1)").is_err());
        assert!(parse_wkt("CIRCLE(1 2)").is_err());
        assert!(parse_wkt("POINT(1 2) junk").is_err());
        assert_eq!(
            Geometry::Point([7.0, 50.0]).swapped(),
            Geometry::Point([50.0, 7.0])
        );
    }

    #[test]
    fn geojson_literals() {
        let v: Value =
            serde_json::from_str(r#"{"type":"LineString","coordinates":[[7,50],[8,51]]}"#).unwrap();
        assert_eq!(parse_geojson(&v).unwrap().wkt(), "LINESTRING(7 50,8 51)");
        let bad: Value = serde_json::from_str(r#"{"type":"Point","coordinates":["a",1]}"#).unwrap();
        assert!(parse_geojson(&bad).is_err());
    }
}
