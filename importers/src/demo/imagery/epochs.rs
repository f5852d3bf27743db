//! The three epochs, 1958, 1996 and 2023: what the city looked like in each year (the buildings
//! and streets that stand, their shadows under that day's sun, the crops, the size of the field
//! parcels) and how the film or camera of the time renders it.

use super::buildings::convex_hull;
use super::ground::Crop;
use super::landscape::{Density, Landscape};
use super::noise::{hash, ifloor, mix, seed_u32, stream, unit, unit_low};
use super::scene::Scene;
use super::streets::Surface;
use super::{Rgb, Xy};

/// The epoch that shows the city as the vectors describe it today.
const LATEST: i32 = 2023;

pub(super) struct EpochSpec {
    pub(super) id: &'static str,
    pub(super) year: i32,
    pub(super) title: &'static str,
    pub(super) gray: bool,
    /// Pixel size of the centre part, metres.
    pub(super) fine_pixel: f64,
    /// Sun azimuth (degrees clockwise from north) and elevation (degrees) at the time of flight.
    sun: (f32, f32),
}

pub(super) const EPOCHS: [EpochSpec; 3] = [
    EpochSpec {
        id: "luftbild-1958",
        year: 1958,
        title: "Luftbild 1958",
        gray: true,
        fine_pixel: 0.4,
        sun: (218.0, 50.0),
    },
    EpochSpec {
        id: "luftbild-1996",
        year: 1996,
        title: "Luftbild 1996",
        gray: false,
        fine_pixel: 0.4,
        sun: (200.0, 52.0),
    },
    EpochSpec {
        id: "luftbild-2023",
        year: 2023,
        title: "Digitales Orthophoto 2023",
        gray: false,
        fine_pixel: 0.2,
        sun: (165.0, 60.0),
    },
];

/// How an epoch was photographed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Era {
    /// Black and white film: grain, vignetting, exposure differing between photographs.
    BlackAndWhite,
    /// Colour film: warm, faded, a little grain and vignetting.
    ColourFilm,
    /// Digital camera: crisp and balanced.
    Digital,
}

/// One epoch, ready to paint. Its painters live with what they paint: in `ground`, `buildings`,
/// `streets`, `water` and `vehicles`, and `paint` puts a whole part together.
pub(super) struct Epoch<'a> {
    pub(super) scene: &'a Scene,
    pub(super) land: &'a Landscape,
    pub(super) year: i32,
    pub(super) era: Era,
    pub(super) gray: bool,
    pub(super) seed: u32,
    /// Horizontal unit vector towards the sun (east, north).
    pub(super) sun: (f32, f32),
    pub(super) density: Density,
    /// Shadow outline per standing building (empty otherwise).
    pub(super) shadows: Vec<Vec<Xy>>,
    pub(super) surfaces: Vec<Option<Surface>>,
    pub(super) crops: [(Crop, f32); 6],
    /// Width and length ranges of field parcels, metres.
    pub(super) strips: (f32, f32),
    pub(super) lengths: (f32, f32),
}

impl<'a> Epoch<'a> {
    pub(super) fn new(scene: &'a Scene, spec: &EpochSpec, seed: u64, land: &'a Landscape) -> Self {
        let year = spec.year;
        let era = if spec.gray {
            Era::BlackAndWhite
        } else if year < 2010 {
            Era::ColourFilm
        } else {
            Era::Digital
        };
        let (azimuth, elevation) = (spec.sun.0.to_radians(), spec.sun.1.to_radians());
        let sun = (azimuth.sin(), azimuth.cos());
        let reach = 1.0 / f64::from(elevation.tan());
        let shadows = scene
            .buildings
            .iter()
            .map(|b| {
                if b.year > year {
                    return Vec::new();
                }
                let (dx, dy) = (
                    -f64::from(sun.0) * b.height * reach,
                    -f64::from(sun.1) * b.height * reach,
                );
                let mut points = b.ring.clone();
                points.extend(b.ring.iter().map(|p| (p.0 + dx, p.1 + dy)));
                convex_hull(points)
            })
            .collect();
        let surfaces = scene
            .streets
            .iter()
            .map(|s| {
                if year >= LATEST || s.year <= year {
                    Some(Surface::Paved)
                } else if s.year <= year + 12 {
                    Some(Surface::Track)
                } else {
                    None
                }
            })
            .collect();
        // Weights of the crops: July 1958 ripe grain, June 1996 and May 2023 green and rape.
        let crops = match era {
            Era::BlackAndWhite => [
                (Crop::Ripe, 0.3),
                (Crop::Stubble, 0.1),
                (Crop::Grass, 0.26),
                (Crop::Soil, 0.12),
                (Crop::Green, 0.22),
                (Crop::Rape, 0.0),
            ],
            Era::ColourFilm => [
                (Crop::Green, 0.4),
                (Crop::Grass, 0.24),
                (Crop::Soil, 0.14),
                (Crop::Ripe, 0.12),
                (Crop::Rape, 0.05),
                (Crop::Stubble, 0.05),
            ],
            Era::Digital => [
                (Crop::Green, 0.45),
                (Crop::Grass, 0.23),
                (Crop::Soil, 0.2),
                (Crop::Rape, 0.07),
                (Crop::Ripe, 0.03),
                (Crop::Stubble, 0.02),
            ],
        };
        Self {
            scene,
            land,
            year,
            era,
            gray: spec.gray,
            seed: seed_u32(seed),
            sun,
            density: Density::new(scene, year),
            shadows,
            surfaces,
            crops,
            // Before the land consolidation of the 1960s: narrow, short strips.
            strips: if year < 1965 {
                (12.0, 32.0)
            } else {
                (45.0, 120.0)
            },
            lengths: if year < 1965 {
                (70.0, 220.0)
            } else {
                (150.0, 450.0)
            },
        }
    }

    /// The film or sensor: colour balance, grain, vignetting of the single photographs.
    pub(super) fn develop(&self, c: Rgb, x: f32, y: f32, grain: u32) -> [f32; 3] {
        match self.era {
            Era::BlackAndWhite => {
                let l = 0.30 * c[0] + 0.52 * c[1] + 0.18 * c[2];
                let v = vignette(stream(self.seed, 101), x, y, 1_600.0, 0.24, 0.12);
                let g = (unit(grain) + unit_low(grain) - 1.0) * 16.0;
                let speck = if grain & 0x000F_FFFF == 7 { 90.0 } else { 0.0 };
                let l = (l - 110.0) * 1.08 + 124.0;
                let l = l * v + g + speck;
                [l, l, l]
            }
            Era::ColourFilm => {
                let v = vignette(stream(self.seed, 102), x, y, 2_400.0, 0.1, 0.05);
                let l = 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2];
                let c = mix([l, l, l], c, 0.78);
                let g = (unit(grain) - 0.5) * 8.0;
                [
                    (c[0] * 1.06 + 10.0) * 0.92 * v + g,
                    (c[1] * 1.0 + 8.0) * 0.92 * v + g,
                    (c[2] * 0.86 + 12.0) * 0.92 * v + g,
                ]
            }
            Era::Digital => {
                let g = (unit(grain) - 0.5) * 3.0;
                [
                    (c[0] - 118.0) * 1.08 + 120.0 + g,
                    (c[1] - 118.0) * 1.08 + 120.0 + g,
                    (c[2] - 118.0) * 1.08 + 121.0 + g,
                ]
            }
        }
    }
}

/// Brightness of a photograph of `frame` metres, darker towards its corners by `strength`,
/// with an exposure that differs by up to `spread` between photographs.
fn vignette(seed: u32, x: f32, y: f32, frame: f32, strength: f32, spread: f32) -> f32 {
    let (gx, gy) = (x / frame, y / frame);
    let (fx, fy) = (ifloor(gx), ifloor(gy));
    let (dx, dy) = (gx - fx as f32 - 0.5, gy - fy as f32 - 0.5);
    let exposure = 1.0 + spread * (unit(hash(seed, fx, fy)) - 0.5);
    (1.0 - strength * 2.0 * (dx * dx + dy * dy)) * exposure
}
