//! The drawing of one synthetic plan: a block of the district's street grid (so the plan's
//! streets lie on the demo city's streets), its blocks given uses, the overbuildable areas set
//! back from the streets and bounded by building limits (Baugrenzen) or, on the street side of
//! mixed and core areas, building lines (Baulinien).

// Grid arithmetic: cell indexes are small.
#![allow(clippy::cast_precision_loss)]

use super::super::geometry::{Xy, offset};
use super::{Placement, PlanSpec};

/// Half the width of a planned street (metres).
pub const STREET_HALF: f64 = 6.0;
/// Setback of the overbuildable area from the block's street side and from its other sides.
const FRONT: f64 = 5.0;
const SIDE: f64 = 3.0;

/// The type of use of a building zone (Baugebiet), with the measures the plan fixes.
#[derive(Debug, Clone, Copy)]
pub struct Baugebiet {
    /// Abbreviation after the BauNVO, e.g. `WA`.
    pub abbreviation: &'static str,
    /// `XP_AllgArtDerBaulNutzung`
    pub allgemein: &'static str,
    /// `XP_BesondereArtDerBaulNutzung`
    pub besondere: &'static str,
    /// Site occupancy index.
    pub grz: f64,
    /// Floor area ratio.
    pub gfz: f64,
    /// Highest number of full storeys.
    pub z: u32,
    /// `BP_Bauweise`: 1000 open, 2000 closed, 3000 deviating.
    pub bauweise: &'static str,
    /// Whether the street side is a building line (buildings must stand on it).
    pub baulinie: bool,
}

/// What a zone of the plan is.
#[derive(Debug, Clone, Copy)]
pub enum Use {
    /// A building zone.
    Bau(Baugebiet),
    /// A green area: `XP_ZweckbestimmungGruen` code and `XP_Nutzungsform`.
    Gruen(&'static str, &'static str),
    /// A community facility: `XP_ZweckbestimmungGemeinbedarf` code.
    Gemeinbedarf(&'static str),
    /// A traffic area of special purpose: `BP_ZweckbestimmungStrassenverkehr` code.
    Verkehr(&'static str),
}

impl Use {
    /// The use a spec's token names (`WA`, `MI`, `MK`, `GE`, `PA` park, `SP` playground,
    /// `SC` school, `KT` day-care centre, `KI` church, `FG` pedestrian zone, `PP` car park,
    /// `VB` traffic-calmed area).
    #[must_use]
    pub fn from_token(token: &str) -> Option<Self> {
        let bau = |abbreviation, allgemein, besondere, grz, gfz, z, bauweise, baulinie| {
            Self::Bau(Baugebiet {
                abbreviation,
                allgemein,
                besondere,
                grz,
                gfz,
                z,
                bauweise,
                baulinie,
            })
        };
        Some(match token {
            "WA" => bau("WA", "1000", "1200", 0.4, 0.8, 2, "1000", false),
            "MI" => bau("MI", "2000", "1500", 0.6, 1.2, 3, "1000", true),
            "MK" => bau("MK", "2000", "1600", 0.9, 3.0, 5, "2000", true),
            "GE" => bau("GE", "3000", "1700", 0.8, 1.6, 3, "3000", false),
            "PA" => Self::Gruen("1000", "2000"),
            "SP" => Self::Gruen("1600", "2000"),
            "SC" => Self::Gemeinbedarf("12000"),
            "KT" => Self::Gemeinbedarf("16000"),
            "KI" => Self::Gemeinbedarf("1400"),
            "FG" => Self::Verkehr("1100"),
            "PP" => Self::Verkehr("1000"),
            "VB" => Self::Verkehr("1200"),
            _ => return None,
        })
    }

    /// Whether buildings may stand in the zone (an overbuildable area is drawn).
    #[must_use]
    pub fn buildable(self) -> bool {
        matches!(self, Self::Bau(_) | Self::Gemeinbedarf(_))
    }

    /// Colour of the zone on the plan (after the colours of the `PlanZV`).
    #[must_use]
    pub fn colour(self) -> [u8; 3] {
        match self {
            Self::Bau(b) => match b.abbreviation {
                "WA" => [238, 150, 140],
                "MI" => [214, 162, 110],
                "MK" => [196, 120, 100],
                _ => [185, 185, 185],
            },
            Self::Gruen(..) => [160, 205, 130],
            Self::Gemeinbedarf(_) => [230, 170, 215],
            Self::Verkehr(_) => [245, 220, 140],
        }
    }

    /// The short text the plan writes into the zone.
    #[must_use]
    pub fn label(self) -> String {
        match self {
            Self::Bau(b) => format!(
                "{} {} GRZ {} GFZ {} {}",
                b.abbreviation,
                roman(b.z),
                decimal(b.grz),
                decimal(b.gfz),
                match b.bauweise {
                    "1000" => "o",
                    "2000" => "g",
                    _ => "a",
                }
            ),
            Self::Gruen(code, _) => match code {
                "1600" => "Spielplatz".to_owned(),
                _ => "Parkanlage".to_owned(),
            },
            Self::Gemeinbedarf(code) => match code {
                "12000" => "Schule".to_owned(),
                "16000" => "Kita".to_owned(),
                _ => "Kirche".to_owned(),
            },
            Self::Verkehr(code) => match code {
                "1100" => "Fußgängerbereich".to_owned(),
                "1000" => "P".to_owned(),
                _ => "Verkehrsberuhigt".to_owned(),
            },
        }
    }

    /// The legend's text for the zone's kind.
    #[must_use]
    pub fn legend(self) -> &'static str {
        match self {
            Self::Bau(b) => match b.abbreviation {
                "WA" => "Allgemeines Wohngebiet (WA)",
                "MI" => "Mischgebiet (MI)",
                "MK" => "Kerngebiet (MK)",
                _ => "Gewerbegebiet (GE)",
            },
            Self::Gruen(..) => "Öffentliche Grünfläche",
            Self::Gemeinbedarf(_) => "Fläche für den Gemeinbedarf",
            Self::Verkehr(_) => "Verkehrsfläche besonderer Zweckbestimmung",
        }
    }
}

fn roman(n: u32) -> &'static str {
    ["0", "I", "II", "III", "IV", "V", "VI", "VII"]
        .get(n as usize)
        .copied()
        .unwrap_or("VIII")
}

/// A decimal with a comma, as German plans write it.
fn decimal(v: f64) -> String {
    format!("{v:.1}").replace('.', ",")
}

/// A zone of the plan.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Its use.
    pub kind: Use,
    /// Its outline (open ring).
    pub ring: Vec<Xy>,
}

/// One plan's geometry, in EPSG:25832.
#[derive(Debug, Clone)]
pub struct Drawing {
    /// The Geltungsbereich (open ring).
    pub boundary: Vec<Xy>,
    /// The street area: the boundary with the blocks as holes.
    pub streets: Vec<Vec<Xy>>,
    /// The zones.
    pub zones: Vec<Zone>,
    /// Overbuildable areas (open rings).
    pub overbuildable: Vec<Vec<Xy>>,
    /// Building limits (lines; a closed one repeats its first point).
    pub baugrenzen: Vec<Vec<Xy>>,
    /// Building lines.
    pub baulinien: Vec<Vec<Xy>>,
}

impl Drawing {
    /// Draws the spec's blocks at the placement.
    #[must_use]
    pub fn new(spec: &PlanSpec, at: &Placement) -> Self {
        let world = |u: f64, v: f64| offset(at.centre, at.angle, u, v);
        let rect = |u0: f64, v0: f64, u1: f64, v1: f64| {
            vec![world(u0, v0), world(u1, v0), world(u1, v1), world(u0, v1)]
        };
        let s = at.spacing;
        let rows = spec.rows();
        let (na, nb) = (rows.first().map_or(0, Vec::len), rows.len());
        let (u_min, v_min) = (at.a0 as f64 * s, at.b0 as f64 * s);
        let (u_max, v_max) = (u_min + na as f64 * s, v_min + nb as f64 * s);
        let boundary = rect(
            u_min - STREET_HALF,
            v_min - STREET_HALF,
            u_max + STREET_HALF,
            v_max + STREET_HALF,
        );
        let mut drawing = Self {
            streets: vec![boundary.clone()],
            boundary,
            zones: Vec::new(),
            overbuildable: Vec::new(),
            baugrenzen: Vec::new(),
            baulinien: Vec::new(),
        };
        for (b, row) in rows.iter().enumerate() {
            for (a, parts) in row.iter().enumerate() {
                let u0 = u_min + a as f64 * s + STREET_HALF;
                let v0 = v_min + b as f64 * s + STREET_HALF;
                let (u1, v1) = (u0 + s - 2.0 * STREET_HALF, v0 + s - 2.0 * STREET_HALF);
                drawing.streets.push(rect(u0, v0, u1, v1));
                let width = (u1 - u0) / parts.len() as f64;
                for (k, kind) in parts.iter().enumerate() {
                    let (pu0, pu1) = (u0 + k as f64 * width, u0 + (k + 1) as f64 * width);
                    drawing.zones.push(Zone {
                        kind: *kind,
                        ring: rect(pu0, v0, pu1, v1),
                    });
                    if kind.buildable() {
                        drawing.limits(*kind, [pu0, v0, pu1, v1], &world);
                    }
                }
            }
        }
        drawing
    }

    /// The overbuildable area of a zone and the limits around it: a building line on the
    /// street side (v0) of mixed and core areas, building limits elsewhere.
    fn limits(&mut self, kind: Use, zone: [f64; 4], world: &impl Fn(f64, f64) -> Xy) {
        let [u0, v0, u1, v1] = zone;
        let (a0, b0, a1, b1) = (u0 + SIDE, v0 + FRONT, u1 - SIDE, v1 - SIDE);
        let corners = [world(a0, b0), world(a1, b0), world(a1, b1), world(a0, b1)];
        self.overbuildable.push(corners.to_vec());
        if matches!(kind, Use::Bau(b) if b.baulinie) {
            self.baulinien.push(vec![corners[0], corners[1]]);
            self.baugrenzen
                .push(vec![corners[1], corners[2], corners[3], corners[0]]);
        } else {
            self.baugrenzen.push(vec![
                corners[0], corners[1], corners[2], corners[3], corners[0],
            ]);
        }
    }

    /// The bounding box of the Geltungsbereich: `[xmin, ymin, xmax, ymax]`.
    #[must_use]
    pub fn bbox(&self) -> [f64; 4] {
        bbox(&self.boundary)
    }
}

/// The bounding box of points.
#[must_use]
pub fn bbox(points: &[Xy]) -> [f64; 4] {
    points.iter().fold(
        [f64::MAX, f64::MAX, f64::MIN, f64::MIN],
        |[x0, y0, x1, y1], &(x, y)| [x0.min(x), y0.min(y), x1.max(x), y1.max(y)],
    )
}
