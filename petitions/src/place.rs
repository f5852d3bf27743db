//! Where a petition is about, and where a signer lives: the districts (Stadtteile) of the
//! Mängelmelder's districts collection are the city; a petition's place is a point or an area
//! inside it, or one or more districts; a signer's district follows from a choice, or from a
//! postcode that only one district has.

use serde_json::Value;
use stadtkarte_core::catalog::{self, quote_ident};
use stadtkarte_core::config::Config;
use stadtkarte_core::db::Conn;
use stadtkarte_core::db::DbError;

/// A place as given by the citizen.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// A `GeoJSON` geometry (WGS84) drawn on the map: a `Point` or a `Polygon` (or `MultiPolygon`).
    Drawn(Value),
    /// Districts by name.
    Districts(Vec<String>),
}

/// Why a place was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceError {
    /// Nothing given.
    Missing,
    /// Not a Point or Polygon in GeoJSON.
    Malformed,
    /// A polygon that crosses itself, has too few corners, ….
    Invalid(String),
    /// (Partly) outside the city.
    Outside,
    /// A district that does not exist.
    UnknownDistrict(String),
    /// The city has no districts loaded: places cannot be checked.
    NoDistricts,
}

impl PlaceError {
    /// The key of the message (`petitions.place.*`).
    #[must_use]
    pub fn key(&self) -> &'static str {
        match self {
            Self::Missing => "petitions.place.missing",
            Self::Malformed => "petitions.place.malformed",
            Self::Invalid(_) => "petitions.place.invalid",
            Self::Outside => "petitions.place.outside",
            Self::UnknownDistrict(_) => "petitions.place.unknown_district",
            Self::NoDistricts => "petitions.place.no_districts",
        }
    }
}

/// A checked place, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// `point`, `area` or `districts`.
    pub kind: &'static str,
    /// The drawn geometry as `GeoJSON` text (WGS84); `None` for districts (the SQL that stores
    /// the place then takes their union).
    pub geojson: Option<String>,
    /// The districts the place lies in (or that were chosen).
    pub districts: Vec<String>,
}

/// What was last read of the districts, and when: every form and signature needs the table and
/// the names, which change only with an import. Reused for [`FRESH`].
#[derive(Debug, Default)]
struct Cache {
    table: Option<(std::time::Instant, String, Option<Districts>)>,
    names: Option<(std::time::Instant, String, Vec<String>)>,
    postcodes: std::collections::HashMap<(String, String), (std::time::Instant, Option<String>)>,
}

static CACHE: std::sync::LazyLock<std::sync::RwLock<Cache>> =
    std::sync::LazyLock::new(|| std::sync::RwLock::new(Cache::default()));
const FRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// The districts table of the configuration.
#[derive(Debug, Clone)]
pub struct Districts {
    table: String,
    srid: i32,
    name: String,
    postcode: String,
}

impl Districts {
    /// Looks the table up (the Mängelmelder's districts collection); `None` when the city has
    /// no districts loaded.
    pub async fn of(client: &impl Conn, config: &Config) -> Result<Option<Self>, DbError> {
        let key = format!(
            "{}|{}|{}",
            config.maengel.districts_collection,
            config.maengel.district_name_column,
            config.petitions.district_postcode_column
        );
        if let Ok(cache) = CACHE.read()
            && let Some((at, k, d)) = &cache.table
            && *k == key
            && at.elapsed() < FRESH
        {
            return Ok(d.clone());
        }
        let found = catalog::get(client.pg(), &config.maengel.districts_collection)
            .await?
            .map(|c| Self {
                table: c.table_sql(),
                srid: c.storage_srid,
                name: quote_ident(&config.maengel.district_name_column),
                postcode: quote_ident(&config.petitions.district_postcode_column),
            });
        if let Ok(mut cache) = CACHE.write() {
            cache.table = Some((std::time::Instant::now(), key, found.clone()));
        }
        Ok(found)
    }

    /// Every district's name, sorted.
    pub async fn names(&self, client: &impl Conn) -> Result<Vec<String>, DbError> {
        let key = format!("{}|{}", self.table, self.name);
        if let Ok(cache) = CACHE.read()
            && let Some((at, k, names)) = &cache.names
            && *k == key
            && at.elapsed() < FRESH
        {
            return Ok(names.clone());
        }
        let rows = client
            .query(
                &format!(
                    "SELECT DISTINCT {n}::text FROM {t} WHERE {n} IS NOT NULL ORDER BY 1",
                    n = self.name,
                    t = self.table
                ),
                &[],
            )
            .await
            .map_err(DbError::query("listing the districts"))?;
        let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if let Ok(mut cache) = CACHE.write() {
            cache.names = Some((std::time::Instant::now(), key, names.clone()));
        }
        Ok(names)
    }

    /// The district of a postcode, when exactly one district has it.
    pub async fn of_postcode(
        &self,
        client: &impl Conn,
        postcode: &str,
    ) -> Result<Option<String>, DbError> {
        let key = (
            format!("{}|{}|{}", self.table, self.name, self.postcode),
            postcode.to_owned(),
        );
        if let Ok(cache) = CACHE.read()
            && let Some((at, district)) = cache.postcodes.get(&key)
            && at.elapsed() < FRESH
        {
            return Ok(district.clone());
        }
        let rows = client
            .query(
                &format!(
                    "SELECT DISTINCT {n}::text FROM {t} WHERE {p}::text = $1 LIMIT 2",
                    n = self.name,
                    p = self.postcode,
                    t = self.table
                ),
                &[&postcode],
            )
            .await;
        // A districts table without a postcode column: the district must be chosen.
        let Ok(rows) = rows else {
            return Ok(None);
        };
        let district = if rows.len() == 1 {
            Some(rows[0].get(0))
        } else {
            None
        };
        if let Ok(mut cache) = CACHE.write() {
            if cache.postcodes.len() > 10_000 {
                cache.postcodes.clear();
            }
            cache
                .postcodes
                .insert(key, (std::time::Instant::now(), district.clone()));
        }
        Ok(district)
    }

    /// Checks a place: a point or polygon inside the city (the union of the districts, with a
    /// metre of tolerance), valid, with the districts it touches; or known districts.
    pub async fn check(
        &self,
        client: &impl Conn,
        place: &Place,
    ) -> Result<Result<Checked, PlaceError>, DbError> {
        match place {
            Place::Districts(names) => {
                if names.is_empty() {
                    return Ok(Err(PlaceError::Missing));
                }
                let known = self.names(client).await?;
                if known.is_empty() {
                    return Ok(Err(PlaceError::NoDistricts));
                }
                let mut chosen = Vec::new();
                for n in names {
                    let Some(k) = known.iter().find(|k| k.as_str() == n.trim()) else {
                        return Ok(Err(PlaceError::UnknownDistrict(n.clone())));
                    };
                    if !chosen.contains(k) {
                        chosen.push(k.clone());
                    }
                }
                chosen.sort();
                Ok(Ok(Checked {
                    kind: "districts",
                    geojson: None,
                    districts: chosen,
                }))
            }
            Place::Drawn(geometry) => {
                let kind = match geometry.get("type").and_then(Value::as_str) {
                    Some("Point") => "point",
                    Some("Polygon" | "MultiPolygon") => "area",
                    _ => return Ok(Err(PlaceError::Malformed)),
                };
                if !coordinates_are_numbers(geometry.get("coordinates")) {
                    return Ok(Err(PlaceError::Malformed));
                }
                let text = geometry.to_string();
                // Parsing and validity first (ST_GeomFromGeoJSON fails on malformed input: that
                // is the citizen's error, not the database's).
                let parsed = client
                    .query_one(
                        "SELECT g IS NOT NULL, coalesce(ST_IsValid(g), false),
                                coalesce(ST_IsValidReason(g), ''), coalesce(ST_IsEmpty(g), true)
                         FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON($1), 4326) AS g) x",
                        &[&text],
                    )
                    .await;
                let row = match parsed {
                    Ok(row) => row,
                    Err(e) if e.as_db_error().is_some() => return Ok(Err(PlaceError::Malformed)),
                    Err(e) => return Err(DbError::query("checking a drawn place")(e)),
                };
                if !row.get::<_, bool>(0) || row.get::<_, bool>(3) {
                    return Ok(Err(PlaceError::Malformed));
                }
                if !row.get::<_, bool>(1) {
                    return Ok(Err(PlaceError::Invalid(row.get(2))));
                }
                let rows = client
                    .query(
                        &format!(
                            "WITH g AS (SELECT ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON($1), 4326), {srid}) AS g),
                                  d AS (SELECT {n}::text AS name, geom FROM {t}, g WHERE ST_Intersects(geom, g.g))
                             SELECT name,
                                    (SELECT ST_CoveredBy(g.g, ST_Buffer(u.u, 1)) FROM g, (SELECT ST_Union(geom) AS u FROM d) u) AS inside
                             FROM d ORDER BY name",
                            srid = self.srid,
                            n = self.name,
                            t = self.table
                        ),
                        &[&text],
                    )
                    .await
                    .map_err(DbError::query("placing a petition in the city"))?;
                if rows.is_empty() || !rows[0].get::<_, Option<bool>>(1).unwrap_or(false) {
                    return Ok(Err(PlaceError::Outside));
                }
                let mut districts: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
                districts.dedup();
                Ok(Ok(Checked {
                    kind,
                    geojson: Some(text),
                    districts,
                }))
            }
        }
    }

    /// The SQL expression of the stored geometry (storage CRS 25832): the drawn `GeoJSON` text in
    /// the parameter `geojson` (WGS84), or, when it is empty, the union of the districts named
    /// in the parameter `names`.
    #[must_use]
    pub fn geometry_sql(&self, geojson: &str, names: &str) -> String {
        format!(
            "CASE WHEN {geojson}::text <> '' THEN ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON({geojson}::text), 4326), 25832)
                  ELSE (SELECT ST_Multi(ST_Transform(ST_Union(geom), 25832)) FROM {t} WHERE {n}::text = ANY({names}::text[])) END",
            t = self.table,
            n = self.name
        )
    }
}

/// Every coordinate is a number (`serde_json` has no `NaN`, but a string is possible).
fn coordinates_are_numbers(value: Option<&Value>) -> bool {
    fn walk(v: &Value, depth: usize) -> bool {
        match v {
            Value::Number(_) => true,
            Value::Array(items) if depth < 6 && !items.is_empty() => {
                items.iter().all(|i| walk(i, depth + 1))
            }
            _ => false,
        }
    }
    value.is_some_and(|v| walk(v, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coordinates_must_be_numbers() {
        assert!(coordinates_are_numbers(Some(&json!([7.6, 50.3]))));
        assert!(coordinates_are_numbers(Some(&json!([[
            [7.6, 50.3],
            [7.7, 50.3],
            [7.7, 50.4],
            [7.6, 50.3]
        ]]))));
        assert!(!coordinates_are_numbers(Some(&json!(["7.6", 50.3]))));
        assert!(!coordinates_are_numbers(Some(&json!([]))));
        assert!(!coordinates_are_numbers(None));
    }
}
