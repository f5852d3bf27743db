//! Vehicles: cars parked along the paved streets (only where the pixels show them) and barges on
//! the rivers.

use super::epochs::{Epoch, Era};
use super::noise::{fract, hash, scale, unit, unit_low};
use super::part::Grid;
use super::streets::Surface;
use super::{Rgb, Xy, bbox_of};

/// Things that move: parked cars and river barges, rectangles centred on `centre`.
pub(super) struct Vehicle {
    centre: (f32, f32),
    dir: (f32, f32),
    length: f32,
    width: f32,
    colour: Rgb,
    barge: bool,
    pub(super) bbox: [f64; 4],
}

impl Epoch<'_> {
    pub(super) fn vehicle(v: &Vehicle, x: f32, y: f32, px: f32) -> Rgb {
        let (qx, qy) = (x - v.centre.0, y - v.centre.1);
        let u = (qx * v.dir.0 + qy * v.dir.1) / (v.length * 0.5);
        let w = (qy * v.dir.0 - qx * v.dir.1).abs() / (v.width * 0.5);
        if v.barge {
            let tail = 1.0 - 14.0 / (v.length * 0.5);
            if w > 1.0 - 1.2 / (v.width * 0.5) {
                return [46.0, 44.0, 46.0];
            }
            if u > tail {
                return [206.0, 204.0, 198.0];
            }
            if u < -0.92 {
                return [70.0, 70.0, 72.0];
            }
            let hatch = px < 1.0 && fract((u + 1.0) * v.length / 10.0) < 0.05;
            return if hatch {
                scale(v.colour, 0.7)
            } else {
                v.colour
            };
        }
        if px > 0.5 {
            return v.colour;
        }
        if (0.22..0.48).contains(&u) || (-0.72..-0.58).contains(&u) {
            return scale(v.colour, 0.3);
        }
        scale(v.colour, if w > 0.8 { 0.8 } else { 1.05 })
    }
}

pub(super) fn vehicle_outline(v: &Vehicle, origin: Xy) -> [Xy; 4] {
    let c = (
        f64::from(v.centre.0) + origin.0,
        f64::from(v.centre.1) + origin.1,
    );
    let d = (f64::from(v.dir.0), f64::from(v.dir.1));
    let (hl, hw) = (f64::from(v.length) * 0.5, f64::from(v.width) * 0.5);
    let corner = |a: f64, b: f64| (c.0 + d.0 * a - d.1 * b, c.1 + d.1 * a + d.0 * b);
    [
        corner(-hl, -hw),
        corner(hl, -hw),
        corner(hl, hw),
        corner(-hl, hw),
    ]
}

/// Parked cars (only where they show, at 0.5 m and finer) and barges on the rivers.
pub(super) fn vehicles(epoch: &Epoch<'_>, grid: &Grid) -> Vec<Vehicle> {
    const CARS: [Rgb; 8] = [
        [222.0, 222.0, 218.0],
        [30.0, 31.0, 34.0],
        [150.0, 152.0, 156.0],
        [96.0, 98.0, 104.0],
        [40.0, 56.0, 98.0],
        [150.0, 36.0, 32.0],
        [196.0, 198.0, 200.0],
        [62.0, 80.0, 70.0],
    ];
    const CARGO: [Rgb; 4] = [
        [42.0, 40.0, 40.0],
        [176.0, 150.0, 110.0],
        [122.0, 64.0, 44.0],
        [58.0, 76.0, 96.0],
    ];
    let scene = epoch.scene;
    let o = scene.origin;
    let seed = epoch.seed ^ epoch.year as u32;
    let mut out = Vec::new();
    let mut push = |centre: Xy, dir: Xy, length: f64, width: f64, colour: Rgb, barge: bool| {
        let mut v = Vehicle {
            centre: ((centre.0 - o.0) as f32, (centre.1 - o.1) as f32),
            dir: (dir.0 as f32, dir.1 as f32),
            length: length as f32,
            width: width as f32,
            colour,
            barge,
            bbox: [0.0; 4],
        };
        v.bbox = bbox_of(&vehicle_outline(&v, o));
        if grid.bands(v.bbox).is_some() {
            out.push(v);
        }
    };
    let chance = match epoch.era {
        Era::BlackAndWhite => 0.05,
        Era::ColourFilm => 0.3,
        Era::Digital => 0.42,
    };
    if grid.pixel <= 0.5 {
        for (i, st) in scene.streets.iter().enumerate() {
            if epoch.surfaces[i] != Some(Surface::Paved) || st.half < 2.7 {
                continue;
            }
            let len = (st.b.0 - st.a.0).hypot(st.b.1 - st.a.1);
            let d = ((st.b.0 - st.a.0) / len, (st.b.1 - st.a.1) / len);
            for side in [-1.0, 1.0] {
                let slots = ((len - 16.0) / 6.0).floor().max(0.0) as i32;
                for k in 0..slots {
                    let h = hash(seed, i as i32, k * 2 + i32::from(side > 0.0));
                    if unit(h) >= chance {
                        continue;
                    }
                    let t = 11.0 + f64::from(k) * 6.0 + f64::from(unit_low(h)) * 0.8;
                    let off = side * (st.half - 1.25);
                    let centre = (st.a.0 + d.0 * t - d.1 * off, st.a.1 + d.1 * t + d.0 * off);
                    let colour = CARS[(h >> 3) as usize % CARS.len()];
                    push(
                        centre,
                        d,
                        4.2 + 0.6 * f64::from(unit(hash(h, 1, 0))),
                        1.8,
                        colour,
                        false,
                    );
                }
            }
        }
    }
    for (r, (line, half)) in scene.rivers.iter().enumerate() {
        for (i, w) in line.windows(2).enumerate() {
            let (a, b) = (w[0], w[1]);
            let len = (b.0 - a.0).hypot(b.1 - a.1);
            let d = ((b.0 - a.0) / len, (b.1 - a.1) / len);
            let slots = (len / 600.0).floor() as i32;
            for k in 0..slots {
                let h = hash(seed ^ 0xB4A6, (r * 100 + i) as i32, k);
                if unit(h) > 0.45 {
                    continue;
                }
                let t = f64::from(k) * 600.0 + 200.0 + f64::from(unit_low(h)) * 200.0;
                let off = if h & 1 == 0 { 0.35 } else { -0.35 } * half;
                let centre = (a.0 + d.0 * t - d.1 * off, a.1 + d.1 * t + d.0 * off);
                let dir = if h & 2 == 0 { d } else { (-d.0, -d.1) };
                let length = 80.0 + 30.0 * f64::from(unit(hash(h, 1, 0)));
                let colour = CARGO[(h >> 5) as usize % CARGO.len()];
                push(centre, dir, length, 10.5, colour, true);
            }
        }
    }
    out
}
