//! Maps drawn on the server as SVG: the city's districts and a set of reports as dots coloured
//! by status. They need no script, and the same reports always stand in a list or table next to
//! them (the map is a picture of that list: `role="img"` with a title).

use stadtkarte_core::catalog::{self, quote_ident};
use stadtkarte_core::config::MaengelConfig;
use stadtkarte_core::db::DbError;
use stadtkarte_core::tokio_postgres::GenericClient;

/// A dot.
#[derive(Debug, Clone)]
pub struct Dot {
    /// x (EPSG:25832).
    pub x: f64,
    /// -y (SVG's y grows downwards).
    pub y: f64,
    /// Status (stored name): the colour.
    pub status: String,
    /// Tooltip.
    pub title: String,
}

/// A map, ready for `svgmap.html`.
#[derive(Debug, Clone, Default)]
pub struct SvgMap {
    /// `viewBox`.
    pub view_box: String,
    /// Districts: name and path data.
    pub districts: Vec<(String, String)>,
    /// Dots.
    pub dots: Vec<Dot>,
    /// Dot radius in map units.
    pub radius: f64,
    /// Accessible title.
    pub title: String,
}

/// The districts of the city as a map with `dots`.
pub async fn draw(
    client: &impl GenericClient,
    config: &MaengelConfig,
    dots: Vec<Dot>,
    title: String,
) -> Result<SvgMap, DbError> {
    let Some(districts) = catalog::get(client, &config.districts_collection).await? else {
        return Ok(SvgMap::default());
    };
    let rows = client
        .query(
            &format!(
                "SELECT {name}::text, ST_AsSVG(ST_Transform(ST_SimplifyPreserveTopology(geom, 10), 25832), 0, 0)
                 FROM {table} ORDER BY 1",
                name = quote_ident(&config.district_name_column),
                table = districts.table_sql()
            ),
            &[],
        )
        .await
        .map_err(DbError::query("drawing the districts"))?;
    let extent = client
        .query_one(
            &format!(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
                 FROM (SELECT ST_Extent(ST_Transform(geom, 25832)) AS e FROM {}) x",
                districts.table_sql()
            ),
            &[],
        )
        .await
        .map_err(DbError::query("measuring the districts"))?;
    let (x0, y0, x1, y1): (Option<f64>, Option<f64>, Option<f64>, Option<f64>) =
        (extent.get(0), extent.get(1), extent.get(2), extent.get(3));
    let (Some(x0), Some(y0), Some(x1), Some(y1)) = (x0, y0, x1, y1) else {
        return Ok(SvgMap::default());
    };
    let pad = (x1 - x0).max(y1 - y0) * 0.02;
    Ok(SvgMap {
        view_box: format!(
            "{:.0} {:.0} {:.0} {:.0}",
            x0 - pad,
            -y1 - pad,
            x1 - x0 + 2.0 * pad,
            y1 - y0 + 2.0 * pad
        ),
        districts: rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
        radius: ((x1 - x0).max(y1 - y0) / 160.0).max(5.0),
        dots,
        title,
    })
}
