//! Just enough WKB to read the demo tables: 2D line strings, polygons and multipolygons, in
//! either byte order, with or without PostGIS's SRID.

use super::Xy;

/// The geometries the demo tables hold.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Geometry {
    LineString(Vec<Xy>),
    Polygon(Vec<Vec<Xy>>),
    MultiPolygon(Vec<Vec<Vec<Xy>>>),
}

impl Geometry {
    pub(super) fn polygons(self) -> Vec<Vec<Vec<Xy>>> {
        match self {
            Self::LineString(_) => Vec::new(),
            Self::Polygon(p) => vec![p],
            Self::MultiPolygon(m) => m,
        }
    }

    pub(super) fn outer_rings(self) -> Vec<Vec<Xy>> {
        self.polygons()
            .into_iter()
            .filter_map(|p| p.into_iter().next())
            .collect()
    }
}

struct WkbReader<'a> {
    data: &'a [u8],
    pos: usize,
    little: bool,
}

impl WkbReader<'_> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let chunk = self
            .data
            .get(self.pos..self.pos + N)
            .ok_or_else(|| format!("WKB ends early at byte {}", self.pos))?;
        self.pos += N;
        let mut out = [0; N];
        out.copy_from_slice(chunk);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.bytes::<4>()?;
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self) -> Result<f64, String> {
        let b = self.bytes::<8>()?;
        Ok(if self.little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    /// A count, checked against the bytes left so that garbage cannot allocate gigabytes.
    fn count(&mut self, item_size: usize) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n.saturating_mul(item_size) > self.data.len() - self.pos {
            return Err(format!("WKB count {n} exceeds the data"));
        }
        Ok(n)
    }

    fn points(&mut self) -> Result<Vec<Xy>, String> {
        let n = self.count(16)?;
        (0..n).map(|_| Ok((self.f64()?, self.f64()?))).collect()
    }

    fn rings(&mut self) -> Result<Vec<Vec<Xy>>, String> {
        let n = self.count(4)?;
        (0..n).map(|_| self.points()).collect()
    }

    fn geometry(&mut self) -> Result<Geometry, String> {
        self.little = match self.bytes::<1>()? {
            [0] => false,
            [1] => true,
            [b] => return Err(format!("WKB byte order {b}")),
        };
        let mut kind = self.u32()?;
        // PostGIS's extended WKB carries an SRID after the type.
        if kind & 0x2000_0000 != 0 {
            self.u32()?;
            kind &= !0x2000_0000;
        }
        match kind {
            2 => Ok(Geometry::LineString(self.points()?)),
            3 => Ok(Geometry::Polygon(self.rings()?)),
            6 => {
                let n = self.count(9)?;
                let mut polygons = Vec::with_capacity(n);
                for _ in 0..n {
                    match self.geometry()? {
                        Geometry::Polygon(p) => polygons.push(p),
                        _ => return Err("a multipolygon holds a non-polygon".to_owned()),
                    }
                }
                Ok(Geometry::MultiPolygon(polygons))
            }
            other => Err(format!(
                "WKB type {other}: only 2D LineString, Polygon and MultiPolygon are read"
            )),
        }
    }
}

pub(super) fn parse_wkb(data: &[u8]) -> Result<Geometry, String> {
    let mut reader = WkbReader {
        data,
        pos: 0,
        little: true,
    };
    let geometry = reader.geometry()?;
    if reader.pos != data.len() {
        return Err(format!(
            "{} bytes after the WKB geometry",
            data.len() - reader.pos
        ));
    }
    Ok(geometry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wkb_header(out: &mut Vec<u8>, little: bool, kind: u32) {
        out.push(u8::from(little));
        out.extend(if little {
            kind.to_le_bytes()
        } else {
            kind.to_be_bytes()
        });
    }

    fn wkb_u32(out: &mut Vec<u8>, little: bool, v: u32) {
        out.extend(if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        });
    }

    fn wkb_points(out: &mut Vec<u8>, little: bool, points: &[Xy]) {
        wkb_u32(out, little, points.len() as u32);
        for p in points {
            for v in [p.0, p.1] {
                out.extend(if little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                });
            }
        }
    }

    fn wkb_polygon(out: &mut Vec<u8>, little: bool, rings: &[&[Xy]]) {
        wkb_header(out, little, 3);
        wkb_u32(out, little, rings.len() as u32);
        for ring in rings {
            wkb_points(out, little, ring);
        }
    }

    const SQUARE: [Xy; 5] = [(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)];
    const HOLE: [Xy; 4] = [(1.0, 1.0), (2.0, 1.0), (2.0, 2.0), (1.0, 1.0)];

    #[test]
    fn wkb_reads_linestrings_polygons_and_multipolygons_in_both_byte_orders() {
        for little in [true, false] {
            let mut line = Vec::new();
            wkb_header(&mut line, little, 2);
            wkb_points(&mut line, little, &[(1.5, 2.5), (400_000.25, 5_580_000.5)]);
            assert_eq!(
                parse_wkb(&line),
                Ok(Geometry::LineString(vec![
                    (1.5, 2.5),
                    (400_000.25, 5_580_000.5)
                ]))
            );

            let mut polygon = Vec::new();
            wkb_polygon(&mut polygon, little, &[&SQUARE, &HOLE]);
            assert_eq!(
                parse_wkb(&polygon),
                Ok(Geometry::Polygon(vec![SQUARE.to_vec(), HOLE.to_vec()]))
            );

            // Parts may use the other byte order than the collection.
            let mut multi = Vec::new();
            wkb_header(&mut multi, little, 6);
            wkb_u32(&mut multi, little, 2);
            wkb_polygon(&mut multi, !little, &[&SQUARE]);
            wkb_polygon(&mut multi, little, &[&HOLE]);
            let geometry = parse_wkb(&multi).expect("multipolygon");
            assert_eq!(
                geometry.clone(),
                Geometry::MultiPolygon(vec![vec![SQUARE.to_vec()], vec![HOLE.to_vec()]])
            );
            assert_eq!(geometry.outer_rings(), vec![SQUARE.to_vec(), HOLE.to_vec()]);
        }
    }

    #[test]
    fn wkb_reads_an_srid_and_rejects_garbage() {
        let mut ewkb = Vec::new();
        wkb_header(&mut ewkb, true, 0x2000_0002);
        wkb_u32(&mut ewkb, true, 25_832);
        wkb_points(&mut ewkb, true, &[(1.0, 2.0), (3.0, 4.0)]);
        assert_eq!(
            parse_wkb(&ewkb),
            Ok(Geometry::LineString(vec![(1.0, 2.0), (3.0, 4.0)]))
        );

        let mut polygon = Vec::new();
        wkb_polygon(&mut polygon, true, &[&SQUARE]);
        assert!(
            parse_wkb(&polygon[..polygon.len() - 3]).is_err(),
            "truncated"
        );
        let mut trailing = polygon.clone();
        trailing.push(0);
        assert!(parse_wkb(&trailing).is_err(), "trailing bytes");
        let mut point = Vec::new();
        wkb_header(&mut point, true, 1);
        point.extend([0; 16]);
        assert!(parse_wkb(&point).is_err(), "points are not read");
        let mut huge = Vec::new();
        wkb_header(&mut huge, true, 2);
        wkb_u32(&mut huge, true, u32::MAX);
        assert!(parse_wkb(&huge).is_err(), "a count beyond the data");
        assert!(parse_wkb(&[7, 2, 0, 0, 0]).is_err(), "byte order");
    }
}
