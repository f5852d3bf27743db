//! Polygons to pixels: a scanline fill with anti-aliased coverage, which paints every object.

use std::ops::Range;

use super::Xy;

/// Sub-scanlines per pixel row.
const SUB_ROWS: usize = 4;

/// Fills polygons by scanline: each pixel gets the share of its area that the polygon covers
/// (exact across a row, four samples down a column). Rings follow the even-odd rule.
#[derive(Default)]
pub(super) struct Scan {
    edges: Vec<(Xy, Xy)>,
    xs: Vec<f64>,
    acc: Vec<f32>,
}

impl Scan {
    pub(super) fn clear(&mut self) {
        self.edges.clear();
    }

    /// Adds a ring in pixel coordinates, closed or not.
    pub(super) fn ring(&mut self, ring: impl IntoIterator<Item = Xy>) {
        let start = self.edges.len();
        let mut first = None;
        let mut last: Option<Xy> = None;
        for p in ring {
            if let Some(q) = last {
                self.edges.push((q, p));
            } else {
                first = Some(p);
            }
            last = Some(p);
        }
        if let (Some(f), Some(l)) = (first, last)
            && self.edges.len() > start
        {
            self.edges.push((l, f));
        }
    }

    /// Calls `f(x, y, coverage)` for every pixel of rows `rows` (and columns `0..width`) that
    /// the rings touch.
    pub(super) fn fill(
        &mut self,
        rows: Range<usize>,
        width: usize,
        mut f: impl FnMut(usize, usize, f32),
    ) {
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for (p, q) in &self.edges {
            b = [
                b[0].min(p.0.min(q.0)),
                b[1].min(p.1.min(q.1)),
                b[2].max(p.0.max(q.0)),
                b[3].max(p.1.max(q.1)),
            ];
        }
        if b[0] > b[2] || b[2] <= 0.0 || b[0] >= width as f64 {
            return;
        }
        let y0 = (b[1].floor().max(0.0) as usize).max(rows.start);
        let y1 = (b[3].ceil().max(0.0) as usize).min(rows.end);
        let x0 = b[0].floor().max(0.0) as usize;
        let x1 = (b[2].ceil() as usize).min(width);
        if y0 >= y1 || x0 >= x1 {
            return;
        }
        let weight = 1.0 / SUB_ROWS as f32;
        for y in y0..y1 {
            self.acc.clear();
            self.acc.resize(x1 - x0, 0.0);
            for s in 0..SUB_ROWS {
                let sy = y as f64 + (s as f64 + 0.5) / SUB_ROWS as f64;
                self.xs.clear();
                for &(p, q) in &self.edges {
                    if (p.1 <= sy) != (q.1 <= sy) {
                        self.xs.push(p.0 + (sy - p.1) * (q.0 - p.0) / (q.1 - p.1));
                    }
                }
                self.xs.sort_unstable_by(f64::total_cmp);
                for pair in self.xs.chunks_exact(2) {
                    add_span(&mut self.acc, x0, pair[0], pair[1], weight);
                }
            }
            for (i, &c) in self.acc.iter().enumerate() {
                if c > 0.002 {
                    f(x0 + i, y, c.min(1.0));
                }
            }
        }
    }
}

/// Adds `weight` times the covered share of each pixel between `xa` and `xb` to `acc`, whose
/// first entry is pixel column `x0`.
fn add_span(acc: &mut [f32], x0: usize, xa: f64, xb: f64, weight: f32) {
    let lo = x0 as f64;
    let hi = (x0 + acc.len()) as f64;
    let (xa, xb) = (xa.max(lo), xb.min(hi));
    if xb <= xa {
        return;
    }
    let (ia, ib) = (xa.floor() as usize - x0, (xb.floor() as usize) - x0);
    if ia == ib {
        acc[ia] += (xb - xa) as f32 * weight;
        return;
    }
    acc[ia] += ((ia + x0 + 1) as f64 - xa) as f32 * weight;
    let end = ib.min(acc.len());
    for a in &mut acc[ia + 1..end] {
        *a += weight;
    }
    if ib < acc.len() {
        acc[ib] += (xb - (ib + x0) as f64) as f32 * weight;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage(ring: &[Xy], rows: Range<usize>, width: usize) -> Vec<(usize, usize, f32)> {
        let mut scan = Scan::default();
        scan.ring(ring.iter().copied());
        let mut hits = Vec::new();
        scan.fill(rows, width, |x, y, c| hits.push((x, y, c)));
        hits
    }

    #[test]
    fn a_square_on_the_pixel_grid_covers_exactly_its_pixels() {
        let square = [(2.0, 3.0), (12.0, 3.0), (12.0, 13.0), (2.0, 13.0)];
        let hits = coverage(&square, 0..100, 100);
        assert_eq!(hits.len(), 100);
        assert!(hits.iter().all(|&(x, y, c)| {
            (2..12).contains(&x) && (3..13).contains(&y) && (c - 1.0).abs() < 1e-6
        }));
    }

    #[test]
    fn coverage_is_the_covered_area_and_respects_rows_and_columns() {
        // Shifted by half a pixel: the border pixels are half covered, the area is the same.
        let square = [(2.5, 3.5), (12.5, 3.5), (12.5, 13.5), (2.5, 13.5)];
        let hits = coverage(&square, 0..100, 100);
        let area: f32 = hits.iter().map(|h| h.2).sum();
        assert!((area - 100.0).abs() < 1e-3, "{area}");
        assert_eq!(hits.len(), 121);
        let corner = hits.iter().find(|h| (h.0, h.1) == (2, 3)).map(|h| h.2);
        assert_eq!(corner, Some(0.25));
        // A triangle: half of a 10 x 10 square.
        let triangle = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
        let area: f32 = coverage(&triangle, 0..100, 100).iter().map(|h| h.2).sum();
        assert!((area - 50.0).abs() < 0.2, "{area}");
        // Clipped to rows 5..8 and columns 0..6.
        let hits = coverage(&square, 5..8, 6);
        assert_eq!(hits.len(), 3 * 4);
        // A hole (even-odd) is left out.
        let mut scan = Scan::default();
        scan.ring([(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]);
        scan.ring([(3.0, 3.0), (7.0, 3.0), (7.0, 7.0), (3.0, 7.0)]);
        let mut area = 0.0;
        scan.fill(0..20, 20, |_, _, c| area += c);
        assert!((area - 84.0).abs() < 1e-3, "{area}");
    }
}
