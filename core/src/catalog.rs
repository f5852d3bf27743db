//! The collection catalog (`catalog.collections`): the one source of truth for what is served.
//!
//! Servers list and look up collections here and take table and column names only from these
//! rows, quoted with [`quote_ident`]; a request never supplies an identifier. Importers register
//! collections with [`register`] and refresh their statistics with [`refresh_statistics`].

use std::fmt::Write as _;

use tokio_postgres::GenericClient;
use tokio_postgres::Row;

use crate::db::DbError;

/// One served collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    /// URL-safe id, e.g. `gebaeude`.
    pub id: String,
    /// Human title (German).
    pub title: String,
    /// Description (German).
    pub description: String,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Schema of the table.
    pub table_schema: String,
    /// Table holding the features.
    pub table_name: String,
    /// Column holding the feature id.
    pub id_column: String,
    /// Column holding the geometry.
    pub geometry_column: String,
    /// OGC simple-features geometry type (`Polygon`, `MultiLineString`, …).
    pub geometry_type: String,
    /// EPSG code of the stored geometries.
    pub storage_srid: i32,
    /// Column with the feature's time (date or timestamp), when there is one.
    pub temporal_column: Option<String>,
    /// Licence name, e.g. "Datenlizenz Deutschland – Namensnennung – Version 2.0".
    pub license: String,
    /// Licence URL.
    pub license_url: Option<String>,
    /// Attribution text to show with the data.
    pub attribution: String,
    /// Smallest zoom level at which tiles carry this collection.
    pub min_zoom: i16,
    /// Largest zoom level with own tiles.
    pub max_zoom: i16,
    /// Served through OGC API Features.
    pub publish_features: bool,
    /// Served as vector tiles.
    pub publish_tiles: bool,
    /// Number of features at the last import or refresh.
    pub feature_count: Option<i64>,
    /// Bounding box in CRS84 (min lon, min lat, max lon, max lat).
    pub extent_crs84: Option<[f64; 4]>,
    /// Last change of the data, RFC 3339.
    pub updated_at: String,
    /// Earliest and latest value of the temporal column, RFC 3339.
    pub temporal_extent: Option<[String; 2]>,
}

const COLUMNS: &str = "id, title, description, keywords, table_schema, table_name, id_column, \
    geometry_column, geometry_type, storage_srid, temporal_column, license, license_url, \
    attribution, min_zoom, max_zoom, publish_features, publish_tiles, feature_count, extent_crs84, \
    to_json(updated_at) #>> '{}', \
    CASE WHEN temporal_extent IS NULL THEN NULL ELSE ARRAY[to_json(temporal_extent[1]) #>> '{}', to_json(temporal_extent[2]) #>> '{}'] END";

impl Collection {
    fn from_row(row: &Row) -> Self {
        let extent: Option<Vec<f64>> = row.get(19);
        Self {
            id: row.get(0),
            title: row.get(1),
            description: row.get(2),
            keywords: row.get(3),
            table_schema: row.get(4),
            table_name: row.get(5),
            id_column: row.get(6),
            geometry_column: row.get(7),
            geometry_type: row.get(8),
            storage_srid: row.get(9),
            temporal_column: row.get(10),
            license: row.get(11),
            license_url: row.get(12),
            attribution: row.get(13),
            min_zoom: row.get(14),
            max_zoom: row.get(15),
            publish_features: row.get(16),
            publish_tiles: row.get(17),
            feature_count: row.get(18),
            extent_crs84: extent.and_then(|e| <[f64; 4]>::try_from(e).ok()),
            updated_at: row.get(20),
            temporal_extent: row
                .get::<_, Option<Vec<String>>>(21)
                .and_then(|v| <[String; 2]>::try_from(v).ok()),
        }
    }

    /// The table as a quoted, schema-qualified SQL identifier.
    #[must_use]
    pub fn table_sql(&self) -> String {
        format!(
            "{}.{}",
            quote_ident(&self.table_schema),
            quote_ident(&self.table_name)
        )
    }
}

/// Every collection, ordered by id.
pub async fn list(client: &impl GenericClient) -> Result<Vec<Collection>, DbError> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM catalog.collections ORDER BY id"),
            &[],
        )
        .await
        .map_err(DbError::query("listing the collections"))?;
    Ok(rows.iter().map(Collection::from_row).collect())
}

/// One collection by id.
pub async fn get(client: &impl GenericClient, id: &str) -> Result<Option<Collection>, DbError> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM catalog.collections WHERE id = $1"),
            &[&id],
        )
        .await
        .map_err(DbError::query("reading a collection"))?;
    Ok(row.as_ref().map(Collection::from_row))
}

/// What an importer states about a collection it loaded.
#[derive(Debug, Clone)]
pub struct NewCollection<'a> {
    /// Id.
    pub id: &'a str,
    /// Title.
    pub title: &'a str,
    /// Description.
    pub description: &'a str,
    /// Keywords.
    pub keywords: &'a [&'a str],
    /// Schema.
    pub table_schema: &'a str,
    /// Table.
    pub table_name: &'a str,
    /// Geometry type.
    pub geometry_type: &'a str,
    /// Storage EPSG code.
    pub storage_srid: i32,
    /// Temporal column.
    pub temporal_column: Option<&'a str>,
    /// Licence name.
    pub license: &'a str,
    /// Licence URL.
    pub license_url: Option<&'a str>,
    /// Attribution.
    pub attribution: &'a str,
    /// Smallest zoom.
    pub min_zoom: i16,
    /// Largest zoom.
    pub max_zoom: i16,
}

/// Creates or replaces the catalog entry, installs the triggers that report changes to the tile
/// server, announces that the whole collection changed (delivered on commit), and refreshes its
/// statistics.
pub async fn register(client: &impl GenericClient, c: &NewCollection<'_>) -> Result<(), DbError> {
    let keywords: Vec<&str> = c.keywords.to_vec();
    client
        .execute(
            "INSERT INTO catalog.collections (id, title, description, keywords, table_schema,
                 table_name, geometry_type, storage_srid, temporal_column, license, license_url,
                 attribution, min_zoom, max_zoom)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title,
                 description = EXCLUDED.description, keywords = EXCLUDED.keywords,
                 table_schema = EXCLUDED.table_schema, table_name = EXCLUDED.table_name,
                 geometry_type = EXCLUDED.geometry_type, storage_srid = EXCLUDED.storage_srid,
                 temporal_column = EXCLUDED.temporal_column, license = EXCLUDED.license,
                 license_url = EXCLUDED.license_url, attribution = EXCLUDED.attribution,
                 min_zoom = EXCLUDED.min_zoom, max_zoom = EXCLUDED.max_zoom",
            &[
                &c.id,
                &c.title,
                &c.description,
                &keywords,
                &c.table_schema,
                &c.table_name,
                &c.geometry_type,
                &c.storage_srid,
                &c.temporal_column,
                &c.license,
                &c.license_url,
                &c.attribution,
                &c.min_zoom,
                &c.max_zoom,
            ],
        )
        .await
        .map_err(DbError::query("registering a collection"))?;
    install_change_triggers(client, c.id).await?;
    client
        .execute(
            "SELECT pg_notify('stadtkarte_tiles', json_build_object('collection', $1::text)::text)",
            &[&c.id],
        )
        .await
        .map_err(DbError::query("announcing a changed collection"))?;
    refresh_statistics(client, c.id).await
}

/// Installs (again) the statement-level triggers that NOTIFY the tile server of changes.
pub async fn install_change_triggers(client: &impl GenericClient, id: &str) -> Result<(), DbError> {
    let Some(collection) = get(client, id).await? else {
        return Ok(());
    };
    let table = collection.table_sql();
    let geom = collection.geometry_column.replace('\'', "''");
    let id_literal = id.replace('\'', "''");
    let mut sql = String::new();
    for (event, referencing) in [
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ] {
        let name = quote_ident(&format!("stadtkarte_tiles_{}", event.to_lowercase()));
        let _ = write!(
            sql,
            "DROP TRIGGER IF EXISTS {name} ON {table};
             CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {referencing}
             FOR EACH STATEMENT EXECUTE FUNCTION catalog.notify_tiles('{geom}', '{id_literal}');"
        );
    }
    client
        .batch_execute(&sql)
        .await
        .map_err(DbError::query("installing the change triggers"))
}

/// Recomputes feature count and CRS84 extent from the table and sets `updated_at` to now.
pub async fn refresh_statistics(client: &impl GenericClient, id: &str) -> Result<(), DbError> {
    let Some(collection) = get(client, id).await? else {
        return Ok(());
    };
    let geom = quote_ident(&collection.geometry_column);
    let sql = format!(
        "WITH s AS (
             SELECT count(*) AS n,
                    ST_Transform(ST_SetSRID(ST_Extent({geom})::geometry, $2), 4326) AS e
             FROM {table})
         UPDATE catalog.collections SET feature_count = s.n, updated_at = now(),
             extent_crs84 = CASE WHEN s.e IS NULL THEN NULL
                 ELSE ARRAY[ST_XMin(s.e), ST_YMin(s.e), ST_XMax(s.e), ST_YMax(s.e)] END
         FROM s WHERE id = $1",
        table = collection.table_sql(),
    );
    client
        .execute(&sql, &[&id, &collection.storage_srid])
        .await
        .map_err(DbError::query("refreshing collection statistics"))?;
    if let Some(column) = &collection.temporal_column {
        let col = quote_ident(column);
        let sql = format!(
            "UPDATE catalog.collections SET temporal_extent = (
                 SELECT CASE WHEN min({col}) IS NULL THEN NULL
                        ELSE ARRAY[min({col})::timestamptz, max({col})::timestamptz] END
                 FROM {table})
             WHERE id = $1",
            table = collection.table_sql(),
        );
        client
            .execute(&sql, &[&id])
            .await
            .map_err(DbError::query("refreshing the temporal extent"))?;
    }
    Ok(())
}

/// Writes one audit-log entry (see [`crate::audit`] for entries with before and after).
pub async fn audit(
    client: &impl GenericClient,
    actor: &str,
    action: &str,
    subject: &str,
    details: &serde_json::Value,
) -> Result<(), DbError> {
    crate::audit::append(
        client,
        &crate::audit::Entry {
            actor,
            action,
            subject,
            details: details.clone(),
            ..crate::audit::Entry::default()
        },
    )
    .await
}

/// Quotes an SQL identifier (doubling embedded quotes), for names taken from the catalog.
#[must_use]
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::quote_ident;

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("gebaeude"), "\"gebaeude\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
