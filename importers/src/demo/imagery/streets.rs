//! Streets: each straight piece of a street line, as wide as its class and the houses along it
//! allow, paved once houses stand along it (a dirt track up to 12 years before), with dashed
//! centre lines and kerb lines on the wider main and collector roads from 1970 on.

use super::buildings::Building;
use super::epochs::{Epoch, Era};
use super::noise::{fbm, fract, hash, mix, scale, stream, unit};
use super::{Rgb, Xy, bbox_of, grow};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum StreetClass {
    Main,
    Collector,
    Local,
}

impl StreetClass {
    pub(super) fn parse(klasse: &str) -> Self {
        match klasse {
            "Hauptverkehrsstraße" => Self::Main,
            "Sammelstraße" => Self::Collector,
            _ => Self::Local,
        }
    }

    /// Half width of the carriageway and of the whole street space, metres.
    fn widths(self) -> (f64, f64) {
        match self {
            Self::Main => (5.0, 7.5),
            Self::Collector => (3.5, 5.5),
            Self::Local => (2.75, 4.25),
        }
    }
}

/// One straight piece of a street.
pub(super) struct Street {
    pub(super) a: Xy,
    pub(super) b: Xy,
    class: StreetClass,
    /// Completion year of the oldest building along it (`i32::MIN` when none).
    pub(super) year: i32,
    /// Half width of the carriageway.
    pub(super) half: f64,
    /// Half width including the pavements.
    pub(super) outer: f64,
}

/// The pieces of `lines`, with the width the buildings along them leave free and the year of
/// the oldest of those buildings.
pub(super) fn streets_along(
    buildings: &[Building],
    lines: &[(Vec<Xy>, StreetClass)],
    extent: [f64; 4],
) -> Vec<Street> {
    const CELL: f64 = 40.0;
    const REACH: f64 = 30.0;
    let nx = ((extent[2] - extent[0]) / CELL).ceil().max(1.0) as usize + 1;
    let ny = ((extent[3] - extent[1]) / CELL).ceil().max(1.0) as usize + 1;
    let cell_of = |p: Xy| {
        (
            ((p.0 - extent[0]) / CELL)
                .floor()
                .clamp(0.0, (nx - 1) as f64) as usize,
            ((p.1 - extent[1]) / CELL)
                .floor()
                .clamp(0.0, (ny - 1) as f64) as usize,
        )
    };
    let mut cells: Vec<Vec<u32>> = vec![Vec::new(); nx * ny];
    for (i, b) in buildings.iter().enumerate() {
        let (cx, cy) = cell_of(b.centroid);
        cells[cy * nx + cx].push(i as u32);
    }
    let mut streets = Vec::new();
    for (line, class) in lines {
        let (class_half, class_outer) = class.widths();
        for w in line.windows(2) {
            let (a, b) = (w[0], w[1]);
            let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            if len < 0.01 {
                continue;
            }
            let d = ((b.0 - a.0) / len, (b.1 - a.1) / len);
            let reach = grow(bbox_of(&[a, b]), REACH + CELL);
            let (c0, c1) = (cell_of((reach[0], reach[1])), cell_of((reach[2], reach[3])));
            let mut year = i32::MAX;
            let mut setback = f64::MAX;
            for cy in c0.1..=c1.1 {
                for cx in c0.0..=c1.0 {
                    for &i in &cells[cy * nx + cx] {
                        let building = &buildings[i as usize];
                        let local = |p: Xy| {
                            let (dx, dy) = (p.0 - a.0, p.1 - a.1);
                            (dx * d.0 + dy * d.1, (dx * d.1 - dy * d.0).abs())
                        };
                        let (t, dist) = local(building.centroid);
                        if dist > REACH || t < -0.1 * len || t > 1.1 * len {
                            continue;
                        }
                        year = year.min(building.year);
                        for &p in &building.ring {
                            let (t, dist) = local(p);
                            if t > 0.05 * len && t < 0.95 * len {
                                setback = setback.min(dist);
                            }
                        }
                    }
                }
            }
            let outer = class_outer.min(setback - 0.2).max(1.2);
            let half = if outer < 3.0 {
                outer
            } else {
                class_half.min(outer * 0.75)
            };
            streets.push(Street {
                a,
                b,
                class: *class,
                year: if year == i32::MAX { i32::MIN } else { year },
                half,
                outer,
            });
        }
    }
    streets
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Surface {
    Paved,
    Track,
}

impl Epoch<'_> {
    pub(super) fn street(
        &self,
        st: &Street,
        surface: Surface,
        x: f32,
        y: f32,
        px: f32,
        inner: bool,
    ) -> Rgb {
        let s = self.seed;
        let grain = 0.94 + 0.12 * unit(hash(stream(s, 71), (x * 5.0) as i32, (y * 5.0) as i32));
        let patches = fbm(stream(s, 72), x, y, 6.0, 2, px);
        if surface == Surface::Track {
            let c = scale([172.0, 154.0, 124.0], grain * (0.9 + 0.2 * patches));
            return if inner {
                scale(c, 0.94)
            } else {
                mix(c, [112.0, 128.0, 74.0], 0.4)
            };
        }
        if !inner {
            return scale([154.0, 150.0, 142.0], grain * (0.92 + 0.16 * patches));
        }
        let asphalt = match self.era {
            Era::BlackAndWhite => [128.0, 125.0, 118.0],
            Era::ColourFilm => [108.0, 106.0, 102.0],
            Era::Digital => [98.0, 97.0, 95.0],
        };
        let mut c = scale(asphalt, grain * (0.9 + 0.2 * patches));
        if self.year >= 1970 && st.class != StreetClass::Local && st.half >= 3.0 {
            let o = self.scene.origin;
            let (ax, ay) = ((st.a.0 - o.0) as f32, (st.a.1 - o.1) as f32);
            let len = ((st.b.0 - st.a.0).hypot(st.b.1 - st.a.1)) as f32;
            let d = (
                (st.b.0 - st.a.0) as f32 / len,
                (st.b.1 - st.a.1) as f32 / len,
            );
            let (qx, qy) = (x - ax, y - ay);
            let u = qx * d.0 + qy * d.1;
            let v = (qx * d.1 - qy * d.0).abs();
            let width = 0.12f32;
            if v < width.max(px * 0.5) && fract(u / 9.0) < 0.4 {
                c = mix(c, [222.0, 222.0, 214.0], (width / px).min(1.0));
            }
            let kerb = st.half as f32 - 0.35;
            if (v - kerb).abs() < width.max(px * 0.5) {
                c = mix(c, [214.0, 214.0, 206.0], (width / px).min(1.0) * 0.8);
            }
        }
        c
    }
}

/// A segment widened by `half` on both sides and at both ends.
pub(super) fn thick_segment(a: Xy, b: Xy, half: f64) -> [Xy; 4] {
    let len = (b.0 - a.0).hypot(b.1 - a.1).max(1e-9);
    let d = ((b.0 - a.0) / len * half, (b.1 - a.1) / len * half);
    let n = (-d.1, d.0);
    [
        (a.0 - d.0 + n.0, a.1 - d.1 + n.1),
        (b.0 + d.0 + n.0, b.1 + d.1 + n.1),
        (b.0 + d.0 - n.0, b.1 + d.1 - n.1),
        (a.0 - d.0 - n.0, a.1 - d.1 - n.1),
    ]
}
