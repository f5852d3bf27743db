//! Buildings: the roof of each (flat, gable or hip; slate or tiles by use and age; green roofs
//! and solar panels in the later epochs), its garden plot with yard and hedges, the construction
//! site before it is finished, and its shadow.

use super::epochs::Epoch;
use super::ground::Memo;
use super::noise::{detail, fbm, fract, hash, mix, noise, scale, stream, unit, unit_low};
use super::{Rgb, Xy, bbox_of};

pub(super) struct Building {
    pub(super) ring: Vec<Xy>,
    pub(super) bbox: [f64; 4],
    pub(super) centroid: Xy,
    pub(super) year: i32,
    pub(super) height: f64,
    pub(super) roof: Roof,
    pub(super) plot: Option<Plot>,
}

/// What surrounds a house: its garden lot (a tint over the ground), the paved yard and hedges.
pub(super) struct Plot {
    pub(super) lot: [Xy; 4],
    pub(super) yards: [[Xy; 4]; 2],
    pub(super) hedges: Vec<[Xy; 4]>,
}

impl Plot {
    /// The generator writes a house as a rectangle whose first edge faces the street and whose
    /// fourth corner lies towards the back garden; other shapes get no plot.
    fn around(ring: &[Xy], h: u32) -> Option<Self> {
        let [p0, p1, _, p3] = ring else {
            return None;
        };
        let width = (p1.0 - p0.0).hypot(p1.1 - p0.1);
        let depth = (p3.0 - p0.0).hypot(p3.1 - p0.1);
        if width < 1.0 || depth < 1.0 {
            return None;
        }
        let a = ((p1.0 - p0.0) / width, (p1.1 - p0.1) / width);
        let r = ((p3.0 - p0.0) / depth, (p3.1 - p0.1) / depth);
        let rect = |a0: f64, a1: f64, r0: f64, r1: f64| {
            let at = |al: f64, ac: f64| (p0.0 + a.0 * al + r.0 * ac, p0.1 + a.1 * al + r.1 * ac);
            [at(a0, r0), at(a1, r0), at(a1, r1), at(a0, r1)]
        };
        let roll = |k: i32| f64::from(unit(hash(h, k, 0)));
        let side = 0.6 + 0.9 * roll(11);
        let front = 1.2 + 2.0 * roll(12);
        let back = 1.5 + 3.0 * roll(13);
        let end = depth + 12.0 + 10.0 * roll(14);
        let mut hedges = Vec::new();
        for (k, along) in [(15, -1.2), (16, width + 1.2)] {
            if roll(k) < 0.55 {
                hedges.push(rect(along - 0.9, along + 0.9, depth + back, end));
            }
        }
        // A drive or front garden path, and a terrace behind the house.
        let (t0, t1) = (width * 0.5 * roll(18), width * (0.55 + 0.45 * roll(19)));
        Some(Self {
            lot: rect(-1.2, width + 1.2, -front, end),
            yards: [
                rect(-side, width + side, -front, 0.0),
                rect(t0, t1, depth, depth + back),
            ],
            hedges,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RoofKind {
    Gable,
    Hip,
    Flat,
    /// A flat roof that is planted from 2010 on.
    Green,
}

/// The roof in its own frame: `u` along the ridge from `origin`, `v` across it.
pub(super) struct Roof {
    kind: RoofKind,
    colour: Rgb,
    origin: (f32, f32),
    along: (f32, f32),
    across: (f32, f32),
    length: f32,
    width: f32,
    pub(super) hash: u32,
}

impl Building {
    pub(super) fn new(
        mut ring: Vec<Xy>,
        year: i32,
        funktion: &str,
        height: f64,
        h: u32,
        origin: Xy,
    ) -> Self {
        let closed =
            |a: &Xy, b: &Xy| a.0.to_bits() == b.0.to_bits() && a.1.to_bits() == b.1.to_bits();
        if ring.len() > 3
            && ring
                .first()
                .zip(ring.last())
                .is_some_and(|(a, b)| closed(a, b))
        {
            ring.pop();
        }
        let bbox = bbox_of(&ring);
        let n = ring.len() as f64;
        let centroid = (
            ring.iter().map(|p| p.0).sum::<f64>() / n,
            ring.iter().map(|p| p.1).sum::<f64>() / n,
        );
        // The ridge runs along the longest edge.
        let mut along = (1.0, 0.0);
        let mut longest = 0.0;
        for (i, a) in ring.iter().enumerate() {
            let b = ring[(i + 1) % ring.len()];
            let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            if len > longest {
                longest = len;
                along = ((b.0 - a.0) / len, (b.1 - a.1) / len);
            }
        }
        let across = (-along.1, along.0);
        let (mut umin, mut umax, mut vmin, mut vmax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in &ring {
            let (dx, dy) = (p.0 - centroid.0, p.1 - centroid.1);
            let (u, v) = (dx * along.0 + dy * along.1, dx * across.0 + dy * across.1);
            (umin, umax, vmin, vmax) = (umin.min(u), umax.max(u), vmin.min(v), vmax.max(v));
        }
        let corner = (
            centroid.0 + umin * along.0 + vmin * across.0 - origin.0,
            centroid.1 + umin * along.1 + vmin * across.1 - origin.1,
        );
        let roof = Roof {
            kind: roof_kind(funktion, year, h),
            colour: roof_colour(funktion, year, h),
            origin: (corner.0 as f32, corner.1 as f32),
            along: (along.0 as f32, along.1 as f32),
            across: (across.0 as f32, across.1 as f32),
            length: (umax - umin) as f32,
            width: (vmax - vmin) as f32,
            hash: h,
        };
        let plot = if funktion == "Garage" {
            None
        } else {
            Plot::around(&ring, h)
        };
        Self {
            ring,
            bbox,
            centroid,
            year,
            height,
            roof,
            plot,
        }
    }
}

fn roof_kind(funktion: &str, year: i32, h: u32) -> RoofKind {
    let roll = unit(hash(h, 1, 0));
    let flat = match funktion {
        "Gewerbe" | "Schule" => 0.9,
        "Öffentliches Gebäude" => 0.5,
        "Garage" => 0.75,
        "Wohn- und Geschäftsgebäude" if year >= 1955 => 0.45,
        "Wohnhaus" if (1960..1985).contains(&year) => 0.2,
        "Kirche" => 0.0,
        _ => 0.04,
    };
    if roll < flat {
        if year >= 1995 && unit(hash(h, 2, 0)) < 0.2 {
            RoofKind::Green
        } else {
            RoofKind::Flat
        }
    } else if unit(hash(h, 3, 0)) < 0.35 {
        RoofKind::Hip
    } else {
        RoofKind::Gable
    }
}

fn roof_colour(funktion: &str, year: i32, h: u32) -> Rgb {
    const RED: [Rgb; 4] = [
        [152.0, 80.0, 62.0],
        [164.0, 94.0, 72.0],
        [134.0, 72.0, 58.0],
        [148.0, 102.0, 80.0],
    ];
    const BROWN: [Rgb; 3] = [[112.0, 80.0, 64.0], [98.0, 72.0, 62.0], [126.0, 92.0, 70.0]];
    const SLATE: [Rgb; 3] = [[70.0, 72.0, 80.0], [84.0, 86.0, 92.0], [58.0, 61.0, 68.0]];
    const FLAT: [Rgb; 4] = [
        [176.0, 175.0, 168.0],
        [152.0, 154.0, 152.0],
        [194.0, 190.0, 180.0],
        [128.0, 131.0, 132.0],
    ];
    let pick = |list: &[Rgb]| list[(hash(h, 4, 0) as usize) % list.len()];
    let roll = unit(hash(h, 5, 0));
    let base = if matches!(
        roof_kind(funktion, year, h),
        RoofKind::Flat | RoofKind::Green
    ) {
        pick(&FLAT)
    } else {
        // Slate is the old roof of the Rhine and Moselle towns, red tiles the common one.
        let (slate, red) = if year < 1900 {
            (0.6, 0.3)
        } else if year < 1960 {
            (0.3, 0.5)
        } else {
            (0.35, 0.4)
        };
        if funktion == "Kirche" || roll < slate {
            pick(&SLATE)
        } else if roll < slate + red {
            pick(&RED)
        } else {
            pick(&BROWN)
        }
    };
    scale(base, 0.9 + 0.2 * unit(hash(h, 6, 0)))
}

pub(super) fn convex_hull(mut points: Vec<Xy>) -> Vec<Xy> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    points.dedup();
    if points.len() < 3 {
        return points;
    }
    let cross = |o: Xy, a: Xy, b: Xy| (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0);
    let mut hull: Vec<Xy> = Vec::with_capacity(points.len() + 1);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &Xy>> = if pass == 0 {
            Box::new(points.iter())
        } else {
            Box::new(points.iter().rev())
        };
        for &p in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

impl Epoch<'_> {
    /// Terrace, drive and paths around a house.
    pub(super) fn yard(&self, b: &Building, x: f32, y: f32, px: f32) -> Rgb {
        const PAVING: [Rgb; 4] = [
            [156.0, 150.0, 138.0],
            [140.0, 138.0, 134.0],
            [164.0, 156.0, 140.0],
            [128.0, 120.0, 112.0],
        ];
        let h = b.roof.hash;
        let base = PAVING[(hash(h, 20, 0) >> 4) as usize % PAVING.len()];
        let n = fbm(stream(self.seed, 29), x, y, 2.0, 2, px);
        scale(base, 0.86 + 0.26 * n)
    }

    /// A hedge, a row of shrubs: its colour and how much of the pixel the shrubs cover.
    pub(super) fn hedge(&self, x: f32, y: f32, px: f32, memo: &mut Memo) -> (Rgb, f32) {
        let (alpha, light, id) =
            memo.shrubs
                .at(stream(self.seed, 30), (x, y), (1.6, 1.0), self.sun, px);
        let leaf = mix([48.0, 74.0, 40.0], [70.0, 92.0, 48.0], unit_low(id));
        (scale(leaf, light), alpha.max(0.35))
    }

    pub(super) fn construction(&self, b: &Building, x: f32, y: f32, px: f32) -> Rgb {
        let r = &b.roof;
        let (qx, qy) = (x - r.origin.0, y - r.origin.1);
        let u = qx * r.along.0 + qy * r.along.1;
        let v = qx * r.across.0 + qy * r.across.1;
        let grain = fbm(stream(self.seed, 81), x, y, 1.5, 2, px);
        let inside = u > 0.0 && u < r.length && v > 0.0 && v < r.width;
        let base = if inside {
            [126.0, 112.0, 94.0]
        } else {
            [178.0, 164.0, 138.0]
        };
        scale(base, 0.82 + 0.36 * grain)
    }

    pub(super) fn roof(&self, r: &Roof, x: f32, y: f32, px: f32) -> Rgb {
        let s = self.seed;
        let (qx, qy) = (x - r.origin.0, y - r.origin.1);
        let u = qx * r.along.0 + qy * r.along.1;
        let v = qx * r.across.0 + qy * r.across.1;
        let (l, w) = (r.length, r.width);
        let weather = 0.93 + 0.14 * fbm(stream(s, 91) ^ r.hash, x, y, 2.5, 2, px);
        let grain = 0.95 + 0.1 * unit(hash(stream(s, 92), (x * 8.0) as i32, (y * 8.0) as i32));
        let to_edge = u.min(l - u).min(v).min(w - v).max(0.0);
        if matches!(r.kind, RoofKind::Flat | RoofKind::Green) {
            let base = if r.kind == RoofKind::Green && self.year >= 2010 {
                mix(
                    [104.0, 122.0, 74.0],
                    [132.0, 130.0, 92.0],
                    noise(stream(s, 93), x * (1.0 / 1.5), y * (1.0 / 1.5)),
                )
            } else {
                r.colour
            };
            let rim = if to_edge < (0.35f32).max(px * 0.5) {
                1.0 + 0.14 * (0.35 / px).min(1.0)
            } else {
                1.0
            };
            return scale(base, weather * grain * rim);
        }
        // Pitched roof: the plane of the nearest eave (gable: only the long sides).
        let (mut dist, mut normal) = if v < w - v {
            (v, (-r.across.0, -r.across.1))
        } else {
            (w - v, r.across)
        };
        if r.kind == RoofKind::Hip {
            if u < dist {
                (dist, normal) = (u, (-r.along.0, -r.along.1));
            }
            if l - u < dist {
                (dist, normal) = (l - u, r.along);
            }
        }
        let facing = normal.0 * self.sun.0 + normal.1 * self.sun.1;
        let mut f = 0.84 + 0.24 * facing;
        // Rows of tiles, eaves and ridge.
        let rows = detail(0.33, px);
        if rows > 0.0 && fract(dist / 0.33) < 0.22 {
            f *= 1.0 - 0.1 * rows;
        }
        if dist < (0.25f32).max(px * 0.5) {
            f *= 1.0 - 0.22 * (0.25 / px).min(1.0);
        }
        if (dist - w * 0.5).abs() < (0.15f32).max(px * 0.5) {
            f *= 1.0 + 0.12 * (0.3 / px).min(1.0);
        }
        let mut c = scale(r.colour, f * weather * grain);
        // Solar panels on the southern plane, from the 2000s on.
        let south = -normal.1 > 0.3;
        if self.year >= 2005 && south && unit(hash(r.hash, 9, 0)) < 0.26 {
            let on_plane = dist > 0.6 && dist < w * 0.5 - 0.5 && u > 0.8 && u < l - 0.8;
            if on_plane && w > 6.0 {
                let seams = (fract(u / 1.05) < 0.06 || fract(dist / 1.7) < 0.04) && px < 0.3;
                c = if seams {
                    [96.0, 100.0, 110.0]
                } else {
                    scale(
                        [36.0, 44.0, 62.0],
                        0.9 + 0.2 * facing.max(0.0) + 0.1 * grain,
                    )
                };
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shadows_are_the_convex_hull_of_the_building_and_its_offset() {
        let ring = vec![(0.0, 0.0), (10.0, 0.0), (10.0, 5.0), (0.0, 5.0)];
        let mut points = ring.clone();
        points.extend(ring.iter().map(|p| (p.0 + 3.0, p.1 + 4.0)));
        let hull = convex_hull(points);
        assert_eq!(hull.len(), 6);
        let area = hull
            .iter()
            .zip(hull.iter().cycle().skip(1))
            .map(|(a, b)| a.0 * b.1 - b.0 * a.1)
            .sum::<f64>()
            / 2.0;
        // Rectangle 50 plus the swept parallelograms 10 * 4 + 5 * 3.
        assert!((area - 105.0).abs() < 1e-9, "{area}");
    }
}
