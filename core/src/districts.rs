//! The city's districts (the collection `maengel.districts_collection`) as SVG path data, for
//! the maps the server draws itself and a browser shows without a script: the start page's
//! preview of the map and the Mängelmelder's maps. Coordinates are EPSG:25832 metres with y
//! negated (SVG's y grows downwards).
//!
//! It only draws: which districts a point lies in, and the area reports are accepted in, are
//! the Mängelmelder's.

use tokio_postgres::GenericClient;

use crate::catalog::{self, quote_ident};
use crate::config::MaengelConfig;
use crate::db::DbError;

/// The districts, ready for an `<svg>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Districts {
    /// `viewBox`: the districts' extent and a margin of 2 % (empty when there are none).
    pub view_box: String,
    /// Each district's name and path data, ordered by name.
    pub outlines: Vec<(String, String)>,
    /// The longer side of the extent in metres, to size what is drawn on top.
    pub span: f64,
}

impl Districts {
    /// Whether there is nothing to draw (no districts collection, or an empty one).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.outlines.is_empty()
    }
}

/// The districts, simplified to `tolerance` metres. Empty when the collection is not in the
/// catalog or has no features.
pub async fn draw(
    client: &impl GenericClient,
    config: &MaengelConfig,
    tolerance: f64,
) -> Result<Districts, DbError> {
    let Some(districts) = catalog::get(client, &config.districts_collection).await? else {
        return Ok(Districts::default());
    };
    let rows = client
        .query(
            &format!(
                "SELECT {name}::text,
                        ST_AsSVG(ST_SimplifyPreserveTopology(g, $1), 0, 0),
                        ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g)
                 FROM {table}, LATERAL (SELECT ST_Transform({geom}, 25832) AS g) t
                 WHERE {name} IS NOT NULL AND g IS NOT NULL ORDER BY 1",
                name = quote_ident(&config.district_name_column),
                geom = quote_ident(&districts.geometry_column),
                table = districts.table_sql()
            ),
            &[&tolerance],
        )
        .await
        .map_err(DbError::query("drawing the districts"))?;
    let mut extent: Option<(f64, f64, f64, f64)> = None;
    let mut outlines = Vec::with_capacity(rows.len());
    for row in &rows {
        let (x0, y0, x1, y1): (f64, f64, f64, f64) =
            (row.get(2), row.get(3), row.get(4), row.get(5));
        extent = Some(match extent {
            None => (x0, y0, x1, y1),
            Some(e) => (e.0.min(x0), e.1.min(y0), e.2.max(x1), e.3.max(y1)),
        });
        outlines.push((row.get(0), row.get(1)));
    }
    let Some((x0, y0, x1, y1)) = extent else {
        return Ok(Districts::default());
    };
    let span = (x1 - x0).max(y1 - y0);
    let pad = span * 0.02;
    Ok(Districts {
        view_box: format!(
            "{:.0} {:.0} {:.0} {:.0}",
            x0 - pad,
            -y1 - pad,
            x1 - x0 + 2.0 * pad,
            y1 - y0 + 2.0 * pad
        ),
        outlines,
        span,
    })
}
