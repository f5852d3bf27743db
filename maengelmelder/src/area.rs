//! Where a report lies: inside the city or not (the districts of the configured collection are
//! the city), in which district, at which address; the city's own addresses for the search; and
//! the open reports nearby ("Schon gemeldet?").

use stadtkarte_core::catalog::{self, quote_ident};
use stadtkarte_core::config::MaengelConfig;
use stadtkarte_core::db::Conn;
use stadtkarte_core::db::DbError;

use crate::model::Invalid;

/// Where a citizen says the defect is.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// A point (WGS84 longitude, latitude).
    Point {
        /// Longitude.
        lon: f64,
        /// Latitude.
        lat: f64,
    },
    /// An address ("Schloßstraße 12").
    Address(String),
    /// A district, by name.
    District(String),
    /// Nothing given.
    None,
    /// Coordinates that did not parse.
    Malformed,
}

impl Location {
    /// From the fields of a form or an Open311 request: coordinates win, then the address,
    /// then the district. Empty fields count as not sent.
    #[must_use]
    pub fn from_fields(lat: &str, lon: &str, address: &str, district: &str) -> Self {
        let (lat, lon) = (lat.trim(), lon.trim());
        if !lat.is_empty() || !lon.is_empty() {
            return match (lat.parse::<f64>(), lon.parse::<f64>()) {
                (Ok(lat), Ok(lon))
                    if lat.is_finite()
                        && lon.is_finite()
                        && (-90.0..=90.0).contains(&lat)
                        && (-180.0..=180.0).contains(&lon) =>
                {
                    Self::Point { lon, lat }
                }
                _ => Self::Malformed,
            };
        }
        if !address.trim().is_empty() {
            return Self::Address(address.trim().to_owned());
        }
        if !district.trim().is_empty() {
            return Self::District(district.trim().to_owned());
        }
        Self::None
    }
}

/// A place inside the city.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// Longitude (WGS84).
    pub lon: f64,
    /// Latitude (WGS84).
    pub lat: f64,
    /// District.
    pub district: Option<String>,
    /// The nearest address (within 60 m), or the one given.
    pub address: Option<String>,
}

/// Why a place could not be used.
#[derive(Debug)]
pub enum PlaceError {
    /// The sender's mistake.
    Invalid(Invalid),
    /// The database's.
    Db(DbError),
}

impl From<DbError> for PlaceError {
    fn from(e: DbError) -> Self {
        Self::Db(e)
    }
}

/// The tables behind the configured collections, with quoted column names.
#[derive(Clone)]
struct Tables {
    districts: String,
    district_srid: i32,
    name: String,
    addresses: Option<(String, i32)>,
    street: String,
    number: String,
}

/// The tables as last looked up, for which configuration, and when: every report needs them,
/// and a collection is re-registered rarely (its table name then stays the same).
static TABLES: std::sync::RwLock<Option<(std::time::Instant, String, Tables)>> =
    std::sync::RwLock::new(None);
const TABLES_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

async fn tables(client: &impl Conn, config: &MaengelConfig) -> Result<Tables, DbError> {
    let key = format!(
        "{}|{}|{}|{}|{}",
        config.districts_collection,
        config.addresses_collection,
        config.district_name_column,
        config.street_column,
        config.number_column
    );
    if let Ok(cache) = TABLES.read()
        && let Some((at, k, t)) = cache.as_ref()
        && *k == key
        && at.elapsed() < TABLES_FRESH
    {
        return Ok(t.clone());
    }
    let t = look_up_tables(client, config).await?;
    if let Ok(mut cache) = TABLES.write() {
        *cache = Some((std::time::Instant::now(), key, t.clone()));
    }
    Ok(t)
}

async fn look_up_tables(client: &impl Conn, config: &MaengelConfig) -> Result<Tables, DbError> {
    let districts = catalog::get(client.pg(), &config.districts_collection)
        .await?
        .ok_or_else(|| {
            DbError::Setup(format!(
                "maengel.districts_collection: there is no collection {:?}",
                config.districts_collection
            ))
        })?;
    let addresses = catalog::get(client.pg(), &config.addresses_collection).await?;
    Ok(Tables {
        districts: districts.table_sql(),
        district_srid: districts.storage_srid,
        name: quote_ident(&config.district_name_column),
        addresses: addresses.map(|a| (a.table_sql(), a.storage_srid)),
        street: quote_ident(&config.street_column),
        number: quote_ident(&config.number_column),
    })
}

/// The district at a point (WGS84), or `None` outside the city.
async fn district_at(
    client: &impl Conn,
    t: &Tables,
    lon: f64,
    lat: f64,
) -> Result<Option<String>, DbError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {name}::text FROM {table}
                 WHERE ST_Intersects(geom, ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), {srid}))
                 LIMIT 1",
                name = t.name,
                table = t.districts,
                srid = t.district_srid
            ),
            &[&lon, &lat],
        )
        .await
        .map_err(DbError::query("finding the district of a place"))?;
    Ok(row.map(|r| r.get(0)))
}

/// The district at a point (WGS84), or `None` outside the city, and the nearest address within
/// 60 m: one statement, as every report needs both.
async fn district_and_address(
    client: &impl Conn,
    t: &Tables,
    lon: f64,
    lat: f64,
) -> Result<(Option<String>, Option<String>), DbError> {
    let Some((table, srid)) = &t.addresses else {
        return Ok((district_at(client, t, lon, lat).await?, None));
    };
    let point = |srid: i32| format!("ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), {srid})");
    let row = client
        .query_one(
            &format!(
                "SELECT (SELECT {name}::text FROM {districts} WHERE ST_Intersects(geom, {at_district}) LIMIT 1),
                        (SELECT {street}::text || ' ' || {number}::text FROM {table}
                          WHERE ST_DWithin(geom, {at_address}, 60) ORDER BY geom <-> {at_address} LIMIT 1)",
                name = t.name,
                districts = t.districts,
                at_district = point(t.district_srid),
                street = t.street,
                number = t.number,
                at_address = point(*srid),
            ),
            &[&lon, &lat],
        )
        .await
        .map_err(DbError::query("finding the district and address of a place"))?;
    Ok((row.get(0), row.get(1)))
}

/// Splits "Schloßstraße 12a" into street and number.
#[must_use]
pub fn split_address(typed: &str) -> (String, String) {
    let typed = typed.split(',').next().unwrap_or_default().trim();
    match typed.rsplit_once(' ') {
        Some((street, number)) if number.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
            (street.trim().to_owned(), number.trim().to_owned())
        }
        _ => (typed.to_owned(), String::new()),
    }
}

/// Resolves a location into a place inside the city.
pub async fn place(
    client: &impl Conn,
    config: &MaengelConfig,
    location: &Location,
) -> Result<Placed, PlaceError> {
    let t = tables(client, config).await?;
    match location {
        Location::None => Err(PlaceError::Invalid(Invalid::NoLocation)),
        Location::Malformed => Err(PlaceError::Invalid(Invalid::BadCoordinates)),
        Location::Point { lon, lat } => {
            let (district, address) = district_and_address(client, &t, *lon, *lat).await?;
            if district.is_none() {
                return Err(PlaceError::Invalid(Invalid::OutsideCity));
            }
            Ok(Placed {
                lon: *lon,
                lat: *lat,
                district,
                address,
            })
        }
        Location::Address(typed) => {
            let (street, number) = split_address(typed);
            let found = match &t.addresses {
                Some((table, srid)) if !number.is_empty() => client
                    .query_opt(
                        &format!(
                            "SELECT {street_col}::text || ' ' || {number_col}::text,
                                    ST_X(ST_Transform(ST_PointOnSurface(geom), 4326)),
                                    ST_Y(ST_Transform(ST_PointOnSurface(geom), 4326))
                             FROM {table}
                             WHERE lower({street_col}::text) = lower($1) AND lower({number_col}::text) = lower($2)
                             LIMIT 1",
                            street_col = t.street,
                            number_col = t.number,
                        ),
                        &[&street, &number],
                    )
                    .await
                    .map_err(DbError::query("finding an address"))?
                    .map(|r| (r.get::<_, String>(0), r.get::<_, f64>(1), r.get::<_, f64>(2), *srid)),
                _ => None,
            };
            let Some((address, lon, lat, _)) = found else {
                // Houses of the typed street (and number), else any house of the street.
                let mut found = search(client, config, typed, 5).await?;
                if found.is_empty() {
                    found = search(client, config, &street, 5).await?;
                }
                let suggestions = found.into_iter().map(|a| a.label).collect();
                return Err(PlaceError::Invalid(Invalid::UnknownAddress {
                    typed: typed.clone(),
                    suggestions,
                }));
            };
            let district = district_at(client, &t, lon, lat).await?;
            if district.is_none() {
                return Err(PlaceError::Invalid(Invalid::OutsideCity));
            }
            Ok(Placed {
                lon,
                lat,
                district,
                address: Some(address),
            })
        }
        Location::District(name) => {
            let row = client
                .query_opt(
                    &format!(
                        "SELECT {n}::text, ST_X(ST_Transform(ST_PointOnSurface(geom), 4326)),
                                ST_Y(ST_Transform(ST_PointOnSurface(geom), 4326))
                         FROM {table} WHERE lower({n}::text) = lower($1) LIMIT 1",
                        n = t.name,
                        table = t.districts
                    ),
                    &[name],
                )
                .await
                .map_err(DbError::query("finding a district"))?;
            let Some(row) = row else {
                return Err(PlaceError::Invalid(Invalid::UnknownDistrict(name.clone())));
            };
            Ok(Placed {
                district: Some(row.get(0)),
                lon: row.get(1),
                lat: row.get(2),
                address: None,
            })
        }
    }
}

/// The city's extent in WGS84 as `minLon,minLat,maxLon,maxLat` (empty when unknown), for maps.
pub async fn bbox(client: &impl Conn, config: &MaengelConfig) -> String {
    match catalog::get(client.pg(), &config.districts_collection).await {
        Ok(Some(c)) => c
            .extent_crs84
            .map(|e| {
                e.iter()
                    .map(|v| format!("{v:.5}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The city's districts, by name.
pub async fn districts(client: &impl Conn, config: &MaengelConfig) -> Result<Vec<String>, DbError> {
    let t = match tables(client, config).await {
        Ok(t) => t,
        // No districts (yet): nothing to filter by.
        Err(DbError::Setup(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let rows = client
        .query(
            &format!(
                "SELECT DISTINCT {n}::text FROM {table} ORDER BY 1",
                n = t.name,
                table = t.districts
            ),
            &[],
        )
        .await
        .map_err(DbError::query("listing the districts"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// An address found by the search.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Found {
    /// "Schloßstraße 12".
    pub label: String,
    /// Longitude.
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
}

/// Addresses of the city starting with what was typed (street, optionally a number).
pub async fn search(
    client: &impl Conn,
    config: &MaengelConfig,
    typed: &str,
    limit: i64,
) -> Result<Vec<Found>, DbError> {
    let t = tables(client, config).await?;
    let Some((table, _)) = &t.addresses else {
        return Ok(Vec::new());
    };
    let (street, number) = split_address(typed);
    if street.chars().count() < 3 {
        return Ok(Vec::new());
    }
    let escaped = street
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let rows = client
        .query(
            &format!(
                "SELECT label, ST_X(p), ST_Y(p) FROM (
                     SELECT DISTINCT ON (lower({s}::text), {n}::text)
                            {s}::text || ' ' || {n}::text AS label, {s}::text AS street, {n}::text AS number,
                            ST_Transform(ST_PointOnSurface(geom), 4326) AS p
                     FROM {table}
                     WHERE lower({s}::text) LIKE lower($1) || '%' AND ($2 = '' OR lower({n}::text) LIKE lower($2) || '%')
                     ORDER BY lower({s}::text), {n}::text) a
                 ORDER BY street, length(number), number LIMIT $3",
                s = t.street,
                n = t.number,
            ),
            &[&escaped, &number, &limit],
        )
        .await
        .map_err(DbError::query("searching addresses"))?;
    Ok(rows
        .iter()
        .map(|r| Found {
            label: r.get(0),
            lon: r.get(1),
            lat: r.get(2),
        })
        .collect())
}

/// An open report nearby.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Nearby {
    /// Number.
    pub id: i64,
    /// Status (stored name).
    pub status: String,
    /// Reported (YYYY-MM-DD).
    pub created: String,
    /// Address.
    pub address: Option<String>,
    /// Released description.
    pub description: Option<String>,
    /// Supporters.
    pub supporters: i32,
    /// Distance in metres.
    pub metres: i32,
}

/// Open reports of `category` within `config.nearby_metres` of the point, reported in the last
/// `config.nearby_days` days, nearest first.
pub async fn nearby(
    client: &impl Conn,
    config: &MaengelConfig,
    category: &str,
    lon: f64,
    lat: f64,
) -> Result<Vec<Nearby>, DbError> {
    let days = i32::try_from(config.nearby_days).unwrap_or(30);
    let rows = client
        .query(
            "WITH p AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint($2, $3), 4326), 25832) AS g)
             SELECT id, status, to_char(created_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD'),
                    address, description, supporters, round(ST_Distance(geom, p.g))::int
             FROM maengel.public_reports, p
             WHERE category = $1 AND open311_status = 'open'
               AND created_at > now() - make_interval(days => $5)
               AND ST_DWithin(geom, p.g, $4)
             ORDER BY geom <-> p.g LIMIT 10",
            &[&category, &lon, &lat, &config.nearby_metres, &days],
        )
        .await
        .map_err(DbError::query("looking for reports nearby"))?;
    Ok(rows
        .iter()
        .map(|r| Nearby {
            id: r.get(0),
            status: r.get(1),
            created: r.get(2),
            address: r.get(3),
            description: r.get(4),
            supporters: r.get(5),
            metres: r.get(6),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_a_location() {
        assert_eq!(
            Location::from_fields("50.35", "7.59", "x", ""),
            Location::Point {
                lon: 7.59,
                lat: 50.35
            }
        );
        assert_eq!(
            Location::from_fields("", "", " Schloßstraße 1 ", "Altstadt"),
            Location::Address("Schloßstraße 1".into())
        );
        assert_eq!(
            Location::from_fields("", "", "", "Altstadt"),
            Location::District("Altstadt".into())
        );
        assert_eq!(Location::from_fields("", "", "", ""), Location::None);
        for (lat, lon) in [
            ("abc", "7"),
            ("50", ""),
            ("91", "7"),
            ("50", "NaN"),
            ("1e999", "7"),
        ] {
            assert_eq!(
                Location::from_fields(lat, lon, "", ""),
                Location::Malformed,
                "{lat} {lon}"
            );
        }
    }

    #[test]
    fn addresses_split_into_street_and_number() {
        assert_eq!(
            split_address("Schloßstraße 12a"),
            ("Schloßstraße".into(), "12a".into())
        );
        assert_eq!(
            split_address("Am Alten Hospital 3, Koblenz"),
            ("Am Alten Hospital".into(), "3".into())
        );
        assert_eq!(split_address("Am Zoll"), ("Am Zoll".into(), String::new()));
    }
}
