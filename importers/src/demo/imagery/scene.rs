//! The scene: the demo vectors read from PostGIS (buildings, streets, rivers) plus the rivers'
//! centre lines of the shipped city frame, in EPSG:25832.

use stadtkarte_core::tokio_postgres::Client;

use super::buildings::Building;
use super::noise::{hash, seed_u32};
use super::streets::{Street, StreetClass, streets_along};
use super::water::{Layer, Water, river_shapes};
use super::wkb::{Geometry, parse_wkb};
use super::{RenderError, Xy, step};
use crate::demo::geometry::contains;
use crate::demo::{CityFrame, boundary_lonlat};

pub(super) struct Scene {
    /// Min x, min y, max x, max y of the districts.
    pub(super) extent: [f64; 4],
    /// Origin of the local coordinates that textures use (f32 stays precise in them).
    pub(super) origin: Xy,
    pub(super) buildings: Vec<Building>,
    pub(super) streets: Vec<Street>,
    pub(super) water: Vec<Water>,
    /// River centre lines with half widths, for the barges.
    pub(super) rivers: Vec<(Vec<Xy>, f64)>,
}

impl Scene {
    pub(super) async fn load(client: &Client, seed: u64) -> Result<Self, RenderError> {
        let row = client
            .query_one(
                "SELECT ST_XMin(b)::float8, ST_YMin(b)::float8, ST_XMax(b)::float8, \
                 ST_YMax(b)::float8 FROM (SELECT ST_Extent(geom) AS b FROM data.stadtteile) s",
                &[],
            )
            .await
            .map_err(step("reading the city extent"))?;
        let extent: [Option<f64>; 4] = [row.get(0), row.get(1), row.get(2), row.get(3)];
        let [Some(x0), Some(y0), Some(x1), Some(y1)] = extent else {
            return Err(RenderError::NoCity);
        };
        let extent = [x0, y0, x1, y1];
        let origin = ((x0 / 10.0).floor() * 10.0, (y0 / 10.0).floor() * 10.0);
        let salt = seed_u32(seed);

        let rows = client
            .query(
                "SELECT id, ST_AsBinary(geom), extract(year FROM fertigstellung)::int, funktion, \
                 hoehe::float8 FROM data.gebaeude",
                &[],
            )
            .await
            .map_err(step("reading the buildings"))?;
        let mut buildings = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.get(0);
            let wkb: &[u8] = row.get(1);
            let geometry = parse_wkb(wkb).map_err(|detail| RenderError::Geometry {
                table: "data.gebaeude",
                detail,
            })?;
            for ring in geometry.outer_rings() {
                if ring.len() >= 3 {
                    buildings.push(Building::new(
                        ring,
                        row.get(2),
                        row.get(3),
                        row.get(4),
                        hash(salt, id as i32, (id >> 32) as i32),
                        origin,
                    ));
                }
            }
        }

        let rows = client
            .query("SELECT ST_AsBinary(geom), klasse FROM data.strassen", &[])
            .await
            .map_err(step("reading the streets"))?;
        let mut lines = Vec::with_capacity(rows.len());
        for row in &rows {
            let geometry = parse_wkb(row.get(0)).map_err(|detail| RenderError::Geometry {
                table: "data.strassen",
                detail,
            })?;
            if let Geometry::LineString(line) = geometry {
                lines.push((line, StreetClass::parse(row.get(1))));
            }
        }
        let streets = streets_along(&buildings, &lines, extent);

        let rows = client
            .query("SELECT name, ST_AsBinary(geom) FROM data.gewaesser", &[])
            .await
            .map_err(step("reading the rivers"))?;
        let mut water = Vec::new();
        for row in &rows {
            let name: &str = row.get(0);
            let geometry = parse_wkb(row.get(1)).map_err(|detail| RenderError::Geometry {
                table: "data.gewaesser",
                detail,
            })?;
            let river = u8::from(name.contains("Mosel"));
            for polygon in geometry.polygons() {
                water.push(Water::new(polygon, river, Layer::Water));
            }
        }
        // The table stops at the city boundary; the centre lines carry the rivers on to the
        // edges of the picture.
        let frame = CityFrame::new(&boundary_lonlat()?);
        for (i, (line, half)) in frame.rivers.iter().enumerate() {
            let outside = |p: &Xy| !contains(&frame.boundary, *p);
            let river = u8::from(i == 1);
            for (layer, margin) in [(Layer::Bank, 16.0), (Layer::Edge, 3.0), (Layer::Water, 0.0)] {
                water.extend(river_shapes(line, half + margin, river, layer, outside));
            }
        }
        Ok(Self {
            extent,
            origin,
            buildings,
            streets,
            water,
            rivers: frame.rivers,
        })
    }
}
