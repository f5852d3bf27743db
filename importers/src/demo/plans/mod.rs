//! The demo city's development plans (Bebauungspläne): five synthetic plans, each a block of a
//! real district's street grid, written as XPlanGML 6.0 with its Planurkunde (PDF) and a
//! georeferenced plan scan (PNG with world file), packed as an XPlanArchiv and loaded through
//! the real importer (`xplan::import_in`), in the demo's transaction.
//!
//! `layout` draws a plan, `gml` writes it, `pdf` prints the Planurkunde, `scan` paints the
//! scan. Everything follows from the seed and the shipped city boundary, so the same demo has
//! the same plans (and a new demo replaces them: their `gml:id`s stay the same).

// Grid arithmetic: cell indexes are small.
#![allow(clippy::cast_precision_loss)]

mod gml;
mod layout;
mod pdf;
mod scan;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use stadtkarte_core::tokio_postgres::Transaction;

use super::generate::{CityFrame, street_grid};
use super::geometry::{Xy, offset};
use super::places::DISTRICTS;
use super::{ATTRIBUTION, DemoError, LICENSE, LICENSE_URL};
use crate::xplan::{self, XplanImport};
pub use layout::{Drawing, Use};

/// What a plan is: its district, names, legal state, dates and blocks.
#[derive(Debug, Clone, Copy)]
pub struct PlanSpec {
    /// Short name, used for the files and ids.
    pub key: &'static str,
    /// District (a name of [`DISTRICTS`]).
    pub district: &'static str,
    /// Name of the plan.
    pub name: &'static str,
    /// Number of the plan.
    pub nummer: &'static str,
    /// `BP_Rechtsstand` code.
    pub rechtsstand: &'static str,
    /// Dates of the procedure: (XPlanGML property, ISO date).
    pub dates: &'static [(&'static str, &'static str)],
    /// What the plan is for.
    pub beschreibung: &'static str,
    /// The blocks, row by row (across the district's grid): space-separated cells, each one
    /// or two uses joined by `/` (see [`Use::from_token`]).
    pub blocks: &'static [&'static str],
    /// Grid cell (along, across) near which the plan should lie.
    pub near: (i64, i64),
}

impl PlanSpec {
    /// The blocks as uses.
    #[must_use]
    pub fn rows(&self) -> Vec<Vec<Vec<Use>>> {
        self.blocks
            .iter()
            .map(|row| {
                row.split_whitespace()
                    .map(|cell| cell.split('/').filter_map(Use::from_token).collect())
                    .collect()
            })
            .collect()
    }

    /// `gml:id` of the plan (and the prefix of its objects' ids).
    #[must_use]
    pub fn id(&self) -> String {
        format!(
            "DEMO_BPLAN_{}",
            self.key.to_ascii_uppercase().replace('-', "_")
        )
    }
}

/// The demo's plans.
pub const PLANS: [PlanSpec; 5] = [
    PlanSpec {
        key: "altstadt-am-plan",
        district: "Altstadt",
        name: "Altstadt – Am Plan",
        nummer: "A 12",
        rechtsstand: "4000",
        dates: &[
            ("aufstellungsbeschlussDatum", "2014-05-22"),
            ("satzungsbeschlussDatum", "2016-02-18"),
            ("ausfertigungsDatum", "2016-03-01"),
            ("inkrafttretensDatum", "2016-03-12"),
        ],
        beschreibung: "Sicherung der Kerngebietsnutzung und des Fußgängerbereichs in der Altstadt.",
        blocks: &["MK FG MK", "MI/KI MK MI"],
        near: (0, 0),
    },
    PlanSpec {
        key: "flugfeld-sued",
        district: "Karthause Flugfeld",
        name: "Wohnquartier Flugfeld Süd",
        nummer: "KF 7",
        rechtsstand: "4000",
        dates: &[
            ("aufstellungsbeschlussDatum", "2017-09-14"),
            ("satzungsbeschlussDatum", "2019-06-27"),
            ("ausfertigungsDatum", "2019-07-05"),
            ("inkrafttretensDatum", "2019-07-20"),
        ],
        beschreibung: "Neues Wohnquartier mit Kindertagesstätte, Spielplatz und Quartierspark.",
        blocks: &["WA WA/SP WA", "KT PA WA", "WA VB WA"],
        near: (-2, -1),
    },
    PlanSpec {
        key: "gewerbegebiet-ruebenach-nord",
        district: "Rübenach",
        name: "Gewerbegebiet Rübenach Nord",
        nummer: "RÜ 3",
        rechtsstand: "2400",
        dates: &[("aufstellungsbeschlussDatum", "2023-03-09")],
        beschreibung: "Entwurf: Erweiterung der Gewerbeflächen mit Parkierungsfläche und Eingrünung.",
        blocks: &["GE GE PP", "GE GE PA"],
        near: (3, 2),
    },
    PlanSpec {
        key: "metternich-ortsmitte",
        district: "Metternich",
        name: "Metternich Ortsmitte",
        nummer: "ME 21",
        rechtsstand: "3000",
        dates: &[
            ("aufstellungsbeschlussDatum", "2020-11-05"),
            ("satzungsbeschlussDatum", "2022-09-29"),
        ],
        beschreibung: "Mischgebiet an der Ortsmitte mit Grundschule und Parkanlage.",
        blocks: &["MI MI SC", "MI/PA WA SC"],
        near: (1, -1),
    },
    PlanSpec {
        key: "guels-im-weinberg",
        district: "Güls",
        name: "Güls – Im Weinberg",
        nummer: "GÜ 14",
        rechtsstand: "1000",
        dates: &[("aufstellungsbeschlussDatum", "2025-04-10")],
        beschreibung: "Aufstellungsbeschluss für ein kleines Wohngebiet mit Spielplatz.",
        blocks: &["WA WA", "SP/WA WA"],
        near: (-1, 2),
    },
];

/// Where a plan lies: the district's grid and the first cell.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// District centre.
    pub centre: Xy,
    /// Grid orientation.
    pub angle: f64,
    /// Grid spacing.
    pub spacing: f64,
    /// First cell along the grid.
    pub a0: i64,
    /// First cell across the grid.
    pub b0: i64,
}

/// The grid cell nearest the spec's wish where the whole plan lies on land in its district,
/// searched ring by ring; `None` when there is none within ten cells.
fn place(frame: &CityFrame, spec: &PlanSpec, seed: u64) -> Option<Placement> {
    let index = DISTRICTS.iter().position(|d| d.name == spec.district)?;
    let (angle, spacing) = street_grid(index, seed);
    let centre = frame.centres[index];
    let rows = spec.rows();
    let (na, nb) = (rows.first().map_or(0, Vec::len) as f64, rows.len() as f64);
    let fits = |a0: i64, b0: i64| {
        let margin = layout::STREET_HALF;
        let (u0, v0) = (a0 as f64 * spacing - margin, b0 as f64 * spacing - margin);
        let (u1, v1) = (
            u0 + na * spacing + 2.0 * margin,
            v0 + nb * spacing + 2.0 * margin,
        );
        let mid = (f64::midpoint(u0, u1), f64::midpoint(v0, v1));
        [(u0, v0), (u1, v0), (u1, v1), (u0, v1), mid]
            .iter()
            .map(|&(u, v)| offset(centre, angle, u, v))
            .all(|p| frame.is_land(p, 20.0) && frame.district_of(p) == index)
    };
    for ring in 0..=10_i64 {
        for da in -ring..=ring {
            for db in -ring..=ring {
                if da.abs().max(db.abs()) != ring {
                    continue;
                }
                let (a0, b0) = (spec.near.0 + da, spec.near.1 + db);
                if fits(a0, b0) {
                    return Some(Placement {
                        centre,
                        angle,
                        spacing,
                        a0,
                        b0,
                    });
                }
            }
        }
    }
    None
}

/// Writes each plan's XPlanArchiv (`{key}.zip`: `xplan.gml`, the Planurkunde PDF, the scan
/// and its world file) into `dir`; returns the archives.
pub fn write_archives(frame: &CityFrame, seed: u64, dir: &Path) -> Result<Vec<PathBuf>, DemoError> {
    let mut archives = Vec::new();
    for spec in &PLANS {
        let Some(at) = place(frame, spec, seed) else {
            continue;
        };
        let drawing = Drawing::new(spec, &at);
        let files = Files::of(spec);
        let scan = scan::paint(&drawing);
        let entries: [(&str, Vec<u8>); 4] = [
            ("xplan.gml", gml::write(spec, &drawing, &files)?),
            (&files.pdf, pdf::planurkunde(spec, &drawing)),
            (
                &files.png,
                scan.png.map_err(|e| DemoError::Plans(e.to_string()))?,
            ),
            (&files.pgw, scan.world_file.into_bytes()),
        ];
        let path = dir.join(format!("{}.zip", spec.key));
        write_zip(&path, &entries).map_err(|e| DemoError::Plans(e.to_string()))?;
        archives.push(path);
    }
    Ok(archives)
}

/// The names of a plan's files inside its archive.
#[derive(Debug, Clone)]
pub struct Files {
    /// The Planurkunde.
    pub pdf: String,
    /// The scan.
    pub png: String,
    /// The scan's world file.
    pub pgw: String,
}

impl Files {
    fn of(spec: &PlanSpec) -> Self {
        Self {
            pdf: format!("{}_planurkunde.pdf", spec.key),
            png: format!("{}_scan.png", spec.key),
            pgw: format!("{}_scan.pgw", spec.key),
        }
    }
}

fn write_zip(path: &Path, entries: &[(&str, Vec<u8>)]) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options)
            .map_err(std::io::Error::other)?;
        zip.write_all(bytes)?;
    }
    zip.finish().map_err(std::io::Error::other)?;
    Ok(())
}

/// Writes the archives and imports them in the demo's transaction; returns the number of plans.
pub(super) async fn load(
    tx: &Transaction<'_>,
    frame: &CityFrame,
    seed: u64,
) -> Result<u64, DemoError> {
    let dir = tempfile::tempdir().map_err(|e| DemoError::Plans(e.to_string()))?;
    let archives = {
        let frame = frame.clone();
        let path = dir.path().to_owned();
        tokio::task::spawn_blocking(move || write_archives(&frame, seed, &path))
            .await
            .map_err(|e| DemoError::Plans(e.to_string()))??
    };
    let mut plans = 0;
    for file in archives {
        let job = XplanImport {
            file,
            license: LICENSE.to_owned(),
            license_url: Some(LICENSE_URL.to_owned()),
            attribution: ATTRIBUTION.to_owned(),
            actor: "stadtkarte demo".to_owned(),
            storage_srid: 25832,
        };
        plans += xplan::import_in(tx, &job).await?.plans.len() as u64;
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::{PLANS, write_archives};
    use crate::demo::{CityFrame, boundary_lonlat};

    #[test]
    fn the_same_seed_writes_the_same_archives() {
        let frame = CityFrame::new(&boundary_lonlat().unwrap_or_default());
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = write_archives(&frame, 1, a.path()).unwrap();
        let second = write_archives(&frame, 1, b.path()).unwrap();
        assert_eq!(first.len(), PLANS.len());
        for (x, y) in first.iter().zip(&second) {
            assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap());
        }
    }
}
