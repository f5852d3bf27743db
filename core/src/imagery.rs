//! The imagery catalog (`catalog.imagery`): one row per aerial-image epoch, read by the tile
//! server (which opens the pyramid files), the OGC API collections and open data.

use serde::Deserialize;
use serde_json::{Value, json};
use tokio_postgres::GenericClient;

use crate::db::DbError;

/// Id of the collection that holds every epoch (the time series of aerial images).
pub const SERIES: &str = "luftbilder";

/// One level file of an epoch.
#[derive(Debug, Clone, Deserialize)]
pub struct LevelRow {
    /// `WebMercatorQuad` zoom level.
    pub zoom: u8,
    /// Part of the epoch (0 = coarsest).
    pub part: u32,
    /// Path relative to the imagery folder.
    pub file: String,
    /// Stored tiles.
    #[serde(default)]
    pub tiles: u64,
    /// File size.
    #[serde(default)]
    pub bytes: u64,
}

/// One epoch as the catalog has it.
#[derive(Debug, Clone)]
pub struct EpochRow {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Year of the flight.
    pub year: i32,
    /// Where the images come from.
    pub source: String,
    /// Licence.
    pub license: String,
    /// Attribution text.
    pub attribution: String,
    /// One band of grey.
    pub grayscale: bool,
    /// Finest ground resolution of the source (m/pixel).
    pub resolution_m: f64,
    /// Footprint bounding box in CRS84.
    pub bbox: [f64; 4],
    /// Shallowest zoom level.
    pub min_zoom: u8,
    /// Deepest zoom level.
    pub max_zoom: u8,
    /// Changes with every import.
    pub version: String,
    /// When it was imported (RFC 3339).
    pub updated: String,
    /// The level files.
    pub levels: Vec<LevelRow>,
    /// Bytes of the prepared files.
    pub storage_bytes: i64,
    /// Bytes of the source files.
    pub source_bytes: i64,
}

const COLUMNS: &str = "id, title, description, year, source, license, attribution, grayscale,
    resolution_m, ARRAY[ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)], min_zoom, max_zoom,
    version, levels::text,
    to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
    storage_bytes, source_bytes
    FROM catalog.imagery, LATERAL (SELECT Box2D(footprint) AS b) x";

fn from_row(row: &tokio_postgres::Row) -> Result<EpochRow, DbError> {
    let bbox: Vec<f64> = row.get(9);
    let levels: Vec<LevelRow> = serde_json::from_str(row.get::<_, &str>(13))
        .map_err(|e| DbError::Setup(format!("catalog.imagery.levels: {e}")))?;
    let zoom = |i: usize| u8::try_from(row.get::<_, i16>(i)).unwrap_or(0);
    Ok(EpochRow {
        id: row.get(0),
        title: row.get(1),
        description: row.get(2),
        year: row.get(3),
        source: row.get(4),
        license: row.get(5),
        attribution: row.get(6),
        grayscale: row.get(7),
        resolution_m: row.get(8),
        bbox: [bbox[0], bbox[1], bbox[2], bbox[3]],
        min_zoom: zoom(10),
        max_zoom: zoom(11),
        version: row.get(12),
        levels,
        updated: row.get(14),
        storage_bytes: row.get(15),
        source_bytes: row.get(16),
    })
}

/// The epoch named `name`: its id, or a year (then the newest epoch of that year).
pub async fn get(client: &impl GenericClient, name: &str) -> Result<Option<EpochRow>, DbError> {
    let by_year = name.len() == 4 && name.bytes().all(|b| b.is_ascii_digit());
    let filter = if by_year {
        "year = $1::text::int"
    } else {
        "id = $1"
    };
    let sql =
        format!("SELECT {COLUMNS} WHERE published AND {filter} ORDER BY updated_at DESC LIMIT 1");
    client
        .query_opt(&sql, &[&name])
        .await
        .map_err(DbError::query("reading an imagery epoch"))?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Every published epoch, oldest first.
pub async fn list(client: &impl GenericClient) -> Result<Vec<EpochRow>, DbError> {
    client
        .query(
            &format!("SELECT {COLUMNS} WHERE published ORDER BY year, id"),
            &[],
        )
        .await
        .map_err(DbError::query("listing imagery epochs"))?
        .iter()
        .map(from_row)
        .collect()
}

/// Every epoch with its publish switch (for the back office), oldest first.
pub async fn list_all(client: &impl GenericClient) -> Result<Vec<(EpochRow, bool)>, DbError> {
    let rows = client
        .query(&format!("SELECT {COLUMNS} ORDER BY year, id"), &[])
        .await
        .map_err(DbError::query("listing imagery epochs"))?;
    let switches = client
        .query("SELECT id, published FROM catalog.imagery", &[])
        .await
        .map_err(DbError::query("listing imagery epochs"))?;
    rows.iter()
        .map(|r| {
            let e = from_row(r)?;
            let published = switches
                .iter()
                .find(|s| s.get::<_, &str>(0) == e.id)
                .is_none_or(|s| s.get(1));
            Ok((e, published))
        })
        .collect()
}

fn describe(e: &EpochRow, id: &str, base: &str) -> Value {
    json!({
        "id": id,
        "title": e.title,
        "description": e.description,
        "itemType": "map",
        "dataType": "map",
        "attribution": e.attribution,
        "extent": {
            "spatial": {"bbox": [e.bbox], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
            "temporal": {"interval": [[format!("{}-01-01T00:00:00Z", e.year), format!("{}-12-31T23:59:59Z", e.year)]]},
        },
        "links": [
            {"rel": "self", "type": "application/json", "href": format!("{base}/collections/{id}")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map", "type": "application/json",
             "href": format!("{base}/collections/{id}/map/tiles")},
            {"rel": "license", "title": e.license, "href": format!("{base}/imagery")},
        ],
    })
}

/// The OGC API collection of one epoch or of the series (`None` when `id` is no imagery),
/// from the epochs `epochs` (oldest first).
#[must_use]
pub fn collection_json(epochs: &[EpochRow], id: &str, base: &str) -> Option<Value> {
    if id == SERIES {
        let newest = epochs.last()?;
        let mut value = describe(newest, SERIES, base);
        value["title"] = json!("Luftbilder (alle Jahrgänge)");
        value["description"] = json!(
            "Luftbilder der Stadt aus mehreren Jahrzehnten; datetime=JAHR wählt den Jahrgang."
        );
        let first = epochs.first().map_or(newest.year, |e| e.year);
        value["extent"]["temporal"]["interval"] = json!([[
            format!("{first}-01-01T00:00:00Z"),
            format!("{}-12-31T23:59:59Z", newest.year)
        ]]);
        value["epochs"] = epochs
            .iter()
            .map(|e| {
                json!({"id": e.id, "year": e.year, "title": e.title, "grayscale": e.grayscale,
                       "href": format!("{base}/collections/{}", e.id)})
            })
            .collect();
        return Some(value);
    }
    epochs
        .iter()
        .find(|e| e.id == id)
        .map(|e| describe(e, id, base))
}

/// The series and every epoch as OGC API collections (empty without imagery).
#[must_use]
pub fn collections(epochs: &[EpochRow], base: &str) -> Vec<Value> {
    if epochs.is_empty() {
        return Vec::new();
    }
    std::iter::once(SERIES)
        .chain(epochs.iter().map(|e| e.id.as_str()))
        .filter_map(|id| collection_json(epochs, id, base))
        .collect()
}
