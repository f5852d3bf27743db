//! The deterministic generator of the demo city: blocks, streets, buildings and points of
//! interest, district by district, written as rows of PostgreSQL's text COPY format.
//!
//! Each district gets a street grid of its own orientation around its centre; a grid cell
//! belongs to the district whose centre is nearest (so districts are the Voronoi cells that the
//! loader also draws), lies inside the city boundary and off the rivers. Built cells get
//! buildings along their edges, addressed by the street of that edge. Density, height and age
//! follow the district's character. `scale` multiplies the number of buildings by shrinking the
//! whole pattern by `1/sqrt(scale)`.

// Grid arithmetic converts freely between cell indexes and metres; the values are small and
// bounded by the city's size.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::similar_names
)]

use std::f64::consts::{FRAC_PI_2, PI};
use std::fmt::Write as _;

use super::geometry::{Rng, Xy, contains, distance_to_line, offset, utm32};
use super::places::{
    CENTRAL_STREETS, DISTRICTS, NAME_ENDINGS_MAIN, NAME_ENDINGS_MINOR, NAME_STEMS, RIVERS,
};

/// The fixed frame of the generated city: boundary, district centres and rivers, in metres.
#[derive(Debug, Clone)]
pub struct CityFrame {
    /// City boundary ring, EPSG:25832.
    pub boundary: Vec<Xy>,
    /// District centres, EPSG:25832, in the order of [`DISTRICTS`].
    pub centres: Vec<Xy>,
    /// River centre lines with their half widths.
    pub rivers: Vec<(Vec<Xy>, f64)>,
}

impl CityFrame {
    /// Projects the boundary (longitude/latitude ring) and the built-in places.
    #[must_use]
    pub fn new(boundary_lonlat: &[(f64, f64)]) -> Self {
        Self {
            boundary: boundary_lonlat.iter().map(|&(x, y)| utm32(x, y)).collect(),
            centres: DISTRICTS.iter().map(|d| utm32(d.lon, d.lat)).collect(),
            rivers: RIVERS
                .iter()
                .map(|r| {
                    let line = r.line.iter().map(|&(x, y)| utm32(x, y)).collect();
                    (line, r.width / 2.0)
                })
                .collect(),
        }
    }

    /// Index of the district whose centre is nearest to `p`.
    #[must_use]
    pub fn district_of(&self, p: Xy) -> usize {
        let mut best = (f64::INFINITY, 0);
        for (i, c) in self.centres.iter().enumerate() {
            let d = (c.0 - p.0).powi(2) + (c.1 - p.1).powi(2);
            if d < best.0 {
                best = (d, i);
            }
        }
        best.1
    }

    /// True when `p` is inside the city and at least `margin` metres from any river bank.
    #[must_use]
    pub fn is_land(&self, p: Xy, margin: f64) -> bool {
        contains(&self.boundary, p)
            && self
                .rivers
                .iter()
                .all(|(line, half)| distance_to_line(line, p) > half + margin)
    }
}

/// Text-COPY rows, one buffer per table.
#[derive(Debug, Default)]
pub struct Rows {
    /// `data.gebaeude`
    pub buildings: String,
    /// `data.strassen`
    pub streets: String,
    /// `data.poi`
    pub pois: String,
    /// Number of building rows.
    pub building_count: u64,
    /// Number of street rows.
    pub street_count: u64,
    /// Number of POI rows.
    pub poi_count: u64,
}

/// Running ids, unique across districts.
#[derive(Debug, Default)]
pub struct Ids {
    building: u64,
    street: u64,
    poi: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StreetClass {
    Main,
    Collector,
    Local,
}

impl StreetClass {
    fn of_line(index: i64) -> Self {
        if index.rem_euclid(4) == 0 {
            Self::Main
        } else if index.rem_euclid(2) == 0 {
            Self::Collector
        } else {
            Self::Local
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Main => "Hauptverkehrsstraße",
            Self::Collector => "Sammelstraße",
            Self::Local => "Anliegerstraße",
        }
    }
}

/// The street grid of district `index` at scale 1: its orientation (radians) and spacing
/// (metres), as [`district`] draws it. The demo's development plans lay their streets on it.
#[must_use]
pub fn street_grid(index: usize, seed: u64) -> (f64, f64) {
    let mut rng = Rng::new(seed, index as u64 + 1);
    let angle = rng.range(0.0, FRAC_PI_2);
    (angle, 125.0 - 50.0 * DISTRICTS[index].urbanity)
}

/// Generates district `index` into `rows`.
#[allow(
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss
)]
pub fn district(
    frame: &CityFrame,
    index: usize,
    scale: u32,
    seed: u64,
    ids: &mut Ids,
    rows: &mut Rows,
) {
    let info = &DISTRICTS[index];
    let centre = frame.centres[index];
    let u = info.urbanity;
    let shrink = f64::from(scale.max(1)).sqrt();
    let mut rng = Rng::new(seed, index as u64 + 1);
    let angle = rng.range(0.0, FRAC_PI_2);
    let spacing = (125.0 - 50.0 * u) / shrink;
    let reach = (3_500.0 / spacing).ceil() as i64;
    // Streets are named per grid line: family 0 runs along `angle`, family 1 across it.
    let mut names = StreetNames::new(index, seed);
    let cell_centre = |a: i64, b: i64| {
        offset(
            centre,
            angle,
            (a as f64 + 0.5) * spacing,
            (b as f64 + 0.5) * spacing,
        )
    };
    let corner = |a: i64, b: i64| offset(centre, angle, a as f64 * spacing, b as f64 * spacing);
    let width = (2 * reach + 1) as usize;
    let mut built = vec![false; width * width];
    let idx = |a: i64, b: i64| ((a + reach) as usize) * width + (b + reach) as usize;
    for a in -reach..reach {
        for b in -reach..reach {
            let p = cell_centre(a, b);
            let corners_inside = [(a, b), (a + 1, b), (a, b + 1), (a + 1, b + 1)]
                .iter()
                .all(|&(ca, cb)| contains(&frame.boundary, corner(ca, cb)));
            if frame.district_of(p) != index || !corners_inside || !frame.is_land(p, spacing * 0.75)
            {
                continue;
            }
            let dist = ((p.0 - centre.0).powi(2) + (p.1 - centre.1).powi(2)).sqrt();
            let falloff = (-(dist / (1_100.0 + 1_400.0 * u)).powi(2)).exp();
            // Smooth noise makes neighbourhoods, fields and woods instead of speckle: a cell is
            // built where the noise stays below a level that rises with urbanity and nearness
            // to the district's centre; a little per-cell chance leaves gaps between houses.
            let level = 0.22 + 0.5 * u * falloff + 0.35 * falloff;
            let land =
                value_noise(seed, p, 450.0) * 0.7 + value_noise(seed ^ 0x5eed, p, 1_600.0) * 0.3;
            built[idx(a, b)] = land < level && rng.chance(0.93);
        }
    }
    let is_built =
        |a: i64, b: i64| a >= -reach && b >= -reach && a < reach && b < reach && built[idx(a, b)];

    // Streets: runs of grid edges that border at least one built cell.
    for family in 0..2 {
        for line in -reach..=reach {
            let class = StreetClass::of_line(line);
            let mut run: Vec<Xy> = Vec::new();
            let mut flush = |run: &mut Vec<Xy>,
                             rows: &mut Rows,
                             rng: &mut Rng,
                             names: &mut StreetNames| {
                if run.len() >= 2 {
                    ids.street += 1;
                    let name = names.name(family, line, class);
                    let _ = write!(
                        rows.streets,
                        "{}\t{}\t{}\t{}\t",
                        ids.street,
                        name,
                        class.label(),
                        info.name
                    );
                    write_linestring(&mut rows.streets, run);
                    rows.street_count += 1;
                    // Bus stops along the bigger streets, about every 400 m.
                    if class != StreetClass::Local {
                        let stops = ((run.len() - 1) as f64 * spacing / 400.0).floor() as usize;
                        for s in 0..stops {
                            let i = (s * 400.0f64.div_euclid(spacing).max(1.0) as usize)
                                .min(run.len() - 2);
                            if rng.chance(0.7) {
                                let (p, q) = (run[i], run[i + 1]);
                                let mid =
                                    (f64::midpoint(p.0, q.0) + 6.0, f64::midpoint(p.1, q.1) + 6.0);
                                poi(
                                    rows,
                                    ids,
                                    &format!("Haltestelle {name}"),
                                    "Bushaltestelle",
                                    info.name,
                                    mid,
                                );
                            }
                        }
                    }
                }
                run.clear();
            };
            for step in -reach..reach {
                let (a0, b0, a1, b1) = if family == 0 {
                    (step, line - 1, step, line)
                } else {
                    (line - 1, step, line, step)
                };
                if is_built(a0, b0) || is_built(a1, b1) {
                    let (p, q) = if family == 0 {
                        (corner(step, line), corner(step + 1, line))
                    } else {
                        (corner(line, step), corner(line, step + 1))
                    };
                    if run.is_empty() {
                        run.push(p);
                    }
                    run.push(q);
                } else {
                    flush(&mut run, rows, &mut rng, &mut names);
                }
            }
            flush(&mut run, rows, &mut rng, &mut names);
        }
    }

    // Buildings along the four edges of every built cell; playgrounds in some empty cells.
    let lot = (14.0 - 4.0 * u) / shrink;
    for a in -reach..reach {
        for b in -reach..reach {
            if !is_built(a, b) {
                let p = cell_centre(a, b);
                let next_to_houses = is_built(a - 1, b)
                    || is_built(a + 1, b)
                    || is_built(a, b - 1)
                    || is_built(a, b + 1);
                if next_to_houses
                    && frame.district_of(p) == index
                    && frame.is_land(p, 0.0)
                    && rng.chance(0.06)
                {
                    let street = names.name(0, b, StreetClass::of_line(b));
                    poi(
                        rows,
                        ids,
                        &format!("Spielplatz {street}"),
                        "Spielplatz",
                        info.name,
                        p,
                    );
                }
                continue;
            }
            if u > 0.6 && rng.chance(0.004) {
                let p = cell_centre(a, b);
                poi(
                    rows,
                    ids,
                    &format!("Öffentliche Toilette {}", info.name),
                    "Öffentliche Toilette",
                    info.name,
                    p,
                );
            }
            // Edge k: 0 south (street line b, family 0), 1 east (line a+1, family 1),
            // 2 north (line b+1, family 0), 3 west (line a, family 1).
            for k in 0..4u8 {
                let (start, dir, family, line) = match k {
                    0 => (corner(a, b), angle, 0, b),
                    1 => (corner(a + 1, b), angle + FRAC_PI_2, 1, a + 1),
                    2 => (corner(a + 1, b + 1), angle + PI, 0, b + 1),
                    _ => (corner(a, b + 1), angle + 3.0 * FRAC_PI_2, 1, a),
                };
                let class = StreetClass::of_line(line);
                let street = names.name(family, line, class);
                let along_origin = match k {
                    0 => a as f64,
                    1 => b as f64,
                    2 => -(a as f64) - 1.0,
                    _ => -(b as f64) - 1.0,
                } * spacing;
                let setback = (6.0 - 5.0 * u) / shrink;
                let depth_max = spacing / 2.0 - setback - 1.0 / shrink;
                let n = ((spacing - 2.0 * depth_max.min(spacing * 0.3)) / lot)
                    .floor()
                    .max(1.0) as i64;
                let gap_start = (spacing - n as f64 * lot) / 2.0;
                for i in 0..n {
                    if !rng.chance(0.88) {
                        continue;
                    }
                    let w = lot * rng.range(0.7, if u > 0.8 { 1.0 } else { 0.9 });
                    let depth = (rng.range(9.0, 14.0) / shrink).min(depth_max);
                    let x0 = gap_start + i as f64 * lot + (lot - w) / 2.0;
                    let ring = [
                        offset(start, dir, x0, setback),
                        offset(start, dir, x0 + w, setback),
                        offset(start, dir, x0 + w, setback + depth),
                        offset(start, dir, x0, setback + depth),
                    ];
                    if !ring.iter().all(|&c| contains(&frame.boundary, c)) {
                        continue;
                    }
                    let position = along_origin + x0;
                    let number =
                        (position / (lot * 1.0)).abs().floor() as i64 * 2 + i64::from(k >= 2) + 1;
                    ids.building += 1;
                    let (funktion, storeys) = building_use(&mut rng, u, w * shrink, depth * shrink);
                    let height = f64::from(storeys) * 3.1 + rng.range(0.5, 3.5);
                    let year = if rng.chance(0.8) {
                        rng.range(f64::from(info.built.0), f64::from(info.built.1) + 1.0) as i32
                    } else {
                        rng.range(f64::from(info.built.0.max(1950)), 2025.0) as i32
                    };
                    let suffix = if rng.chance(0.05) { "a" } else { "" };
                    let _ = write!(
                        rows.buildings,
                        "{}\t{funktion}\t{storeys}\t{height:.1}\t{street}\t{number}{suffix}\t{}\t{}\t{year:04}-{:02}-{:02}\t",
                        ids.building,
                        info.plz,
                        info.name,
                        1 + rng.below(12),
                        1 + rng.below(28),
                    );
                    write_polygon(&mut rows.buildings, &ring);
                    rows.building_count += 1;
                    if funktion == "Schule" {
                        let c = offset(start, dir, x0 + w / 2.0, setback + depth / 2.0);
                        poi(
                            rows,
                            ids,
                            &format!("Schule {street}"),
                            "Schule",
                            info.name,
                            c,
                        );
                    }
                }
            }
        }
    }
}

/// Smooth value noise in [0, 1) with features about `size` metres across.
fn value_noise(seed: u64, p: Xy, size: f64) -> f64 {
    let (gx, gy) = (p.0 / size, p.1 / size);
    let (x0, y0) = (gx.floor(), gy.floor());
    let (fx, fy) = (gx - x0, gy - y0);
    let corner = |dx: f64, dy: f64| {
        let key =
            ((x0 + dx) as i64 as u64).wrapping_mul(0x9E37_79B9) ^ ((y0 + dy) as i64 as u64) << 32;
        Rng::new(seed, key).unit()
    };
    let smooth = |t: f64| t * t * (3.0 - 2.0 * t);
    let (sx, sy) = (smooth(fx), smooth(fy));
    let top = corner(0.0, 0.0) * (1.0 - sx) + corner(1.0, 0.0) * sx;
    let bottom = corner(0.0, 1.0) * (1.0 - sx) + corner(1.0, 1.0) * sx;
    top * (1.0 - sy) + bottom * sy
}

fn building_use(rng: &mut Rng, u: f64, width: f64, depth: f64) -> (&'static str, i32) {
    let roll = rng.unit();
    #[allow(clippy::cast_possible_truncation)]
    let storeys = (1.0 + u * 3.5 + rng.range(0.0, 2.0)).floor() as i32;
    if width * depth < 70.0 && roll < 0.5 {
        return ("Garage", 1);
    }
    match roll {
        r if r < 0.002 => ("Schule", 3),
        r if r < 0.004 => ("Kirche", 2),
        r if r < 0.012 => ("Öffentliches Gebäude", storeys.max(2)),
        r if r < 0.05 + 0.25 * u => ("Wohn- und Geschäftsgebäude", storeys),
        r if r < 0.10 + 0.25 * u => ("Gewerbe", storeys.min(3)),
        r if r < 0.16 + 0.25 * u => ("Garage", 1),
        _ => ("Wohnhaus", storeys),
    }
}

fn poi(rows: &mut Rows, ids: &mut Ids, name: &str, kind: &str, district: &str, p: Xy) {
    ids.poi += 1;
    let _ = writeln!(
        rows.pois,
        "{}\t{name}\t{kind}\t{district}\tSRID=25832;POINT({:.2} {:.2})",
        ids.poi, p.0, p.1
    );
    rows.poi_count += 1;
}

fn write_linestring(out: &mut String, points: &[Xy]) {
    out.push_str("SRID=25832;LINESTRING(");
    for (i, p) in points.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(out, "{sep}{:.2} {:.2}", p.0, p.1);
    }
    out.push_str(")\n");
}

fn write_polygon(out: &mut String, ring: &[Xy; 4]) {
    out.push_str("SRID=25832;POLYGON((");
    for p in ring.iter().chain(std::iter::once(&ring[0])) {
        let _ = write!(out, "{:.2} {:.2},", p.0, p.1);
    }
    out.pop();
    out.push_str("))\n");
}

/// Street names of one district: the inner city gets real names on its main streets, every
/// other line a generated name that stays the same for the whole line.
struct StreetNames {
    district: usize,
    seed: u64,
}

impl StreetNames {
    fn new(district: usize, seed: u64) -> Self {
        Self { district, seed }
    }

    fn name(&self, family: u8, line: i64, class: StreetClass) -> String {
        #[allow(clippy::cast_sign_loss)]
        let key = (self.district as u64) << 32 ^ u64::from(family) << 24 ^ (line + 10_000) as u64;
        let mut rng = Rng::new(self.seed, key);
        if self.district <= 2 && class == StreetClass::Main {
            return (*rng.pick(CENTRAL_STREETS)).to_owned();
        }
        let stem = rng.pick(NAME_STEMS);
        let ending = if class == StreetClass::Main {
            rng.pick(NAME_ENDINGS_MAIN)
        } else {
            rng.pick(NAME_ENDINGS_MINOR)
        };
        format!("{stem}{ending}")
    }
}
