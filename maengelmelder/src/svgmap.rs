//! Maps drawn on the server as SVG: the city's districts (`core::districts`) and a set of
//! reports as dots coloured by status. They need no script, and the same reports always stand
//! in a list or table next to them (the map is a picture of that list: `role="img"` with a
//! title).

use stadtkarte_core::config::MaengelConfig;
use stadtkarte_core::db::DbError;
use stadtkarte_core::districts;
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
    let districts = districts::draw(client, config, 10.0).await?;
    if districts.is_empty() {
        return Ok(SvgMap::default());
    }
    Ok(SvgMap {
        view_box: districts.view_box,
        districts: districts.outlines,
        radius: (districts.span / 160.0).max(5.0),
        dots,
        title,
    })
}
