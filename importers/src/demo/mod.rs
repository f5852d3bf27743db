//! `stadtkarte demo`: a deterministic, realistic synthetic city of Koblenz in EPSG:25832.
//!
//! At scale 1 it has the 30 real districts (as polygons inside the city boundary), a street
//! network with names and classes, more than 50,000 buildings with use, storeys, height, address
//! and completion date, points of interest (schools, playgrounds, bus stops, public toilets) and
//! the Rhine and the Moselle, and five development plans (`plans`: XPlanGML with Planurkunde
//! and plan scan, loaded by the XPlanGML importer). `--scale N` multiplies the buildings by N for benchmarks. The same
//! seed always gives the same city.
//!
//! Everything is loaded with COPY in one transaction and registered in the catalog, so a
//! reader sees either the previous demo city or the new one, never a half-loaded state.

mod generate;
mod geometry;
pub mod imagery;
mod places;
pub mod plans;

use std::fmt::Write as _;
use std::pin::pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::SinkExt;
use stadtkarte_core::catalog::{self, NewCollection};
use stadtkarte_core::tokio_postgres::{Client, Transaction};

pub use generate::CityFrame;
use generate::{Ids, Rows};
pub use geometry::utm32;
pub use places::{DISTRICTS, RIVERS};

/// The city boundary shipped with the project (longitude/latitude).
pub const BOUNDARY_GEOJSON: &str = include_str!("koblenz-boundary.geojson");

/// Licence of the demo data.
pub const LICENSE: &str = "Datenlizenz Deutschland – Namensnennung – Version 2.0";
/// Where the licence text is.
pub const LICENSE_URL: &str = "https://www.govdata.de/dl-de/by-2-0";
/// Attribution to show with the demo data.
pub const ATTRIBUTION: &str =
    "Stadt Koblenz (synthetische Demodaten), Datenlizenz Deutschland – Namensnennung – Version 2.0";

/// The collections the demo city registers, in loading order.
pub const COLLECTION_IDS: [&str; 5] = ["stadtteile", "gewaesser", "strassen", "gebaeude", "poi"];

/// How to build the demo city.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    /// Multiplies the number of buildings.
    pub scale: u32,
    /// Seed of the random choices.
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { scale: 1, seed: 1 }
    }
}

/// What was loaded.
#[derive(Debug, Clone, Default)]
pub struct DemoSummary {
    /// Districts.
    pub districts: u64,
    /// Street segments.
    pub streets: u64,
    /// Buildings.
    pub buildings: u64,
    /// Points of interest.
    pub pois: u64,
    /// Development plans.
    pub plans: u64,
    /// Time taken.
    pub elapsed: Duration,
}

/// Why the demo city could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The shipped boundary file is unusable (a build defect).
    #[error("the shipped city boundary is invalid: {0}")]
    Boundary(String),
    /// The scale is outside 1..=1000.
    #[error("--scale must be between 1 and 1000, not {0}")]
    Scale(u32),
    /// The database refused a step; nothing was changed.
    #[error("loading the demo city failed while {what}: {source}")]
    Database {
        /// The step.
        what: &'static str,
        /// The database error.
        #[source]
        source: stadtkarte_core::tokio_postgres::Error,
    },
    /// The catalog refused an entry.
    #[error(transparent)]
    Catalog(#[from] stadtkarte_core::db::DbError),
    /// A development plan's files could not be written.
    #[error("writing the demo's development plans failed: {0}")]
    Plans(String),
    /// The importer refused a development plan (a defect of the generator).
    #[error("importing the demo's development plans failed: {0}")]
    Xplan(#[from] crate::xplan::XplanError),
}

fn step(what: &'static str) -> impl FnOnce(stadtkarte_core::tokio_postgres::Error) -> DemoError {
    move |source| DemoError::Database { what, source }
}

/// The boundary ring in longitude/latitude.
pub fn boundary_lonlat() -> Result<Vec<(f64, f64)>, DemoError> {
    let doc: serde_json::Value =
        serde_json::from_str(BOUNDARY_GEOJSON).map_err(|e| DemoError::Boundary(e.to_string()))?;
    let ring = doc
        .pointer("/geometry/coordinates/0")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| DemoError::Boundary("no polygon ring".to_owned()))?;
    ring.iter()
        .map(|p| {
            match (
                p.get(0).and_then(serde_json::Value::as_f64),
                p.get(1).and_then(serde_json::Value::as_f64),
            ) {
                (Some(x), Some(y)) => Ok((x, y)),
                _ => Err(DemoError::Boundary(format!("bad position {p}"))),
            }
        })
        .collect()
}

/// Generates and loads the demo city, replacing a previous one atomically. `progress` is
/// told about each step.
pub async fn load(
    client: &mut Client,
    options: DemoOptions,
    mut progress: impl FnMut(&str),
) -> Result<DemoSummary, DemoError> {
    if !(1..=1000).contains(&options.scale) {
        return Err(DemoError::Scale(options.scale));
    }
    let started = Instant::now();
    let frame = CityFrame::new(&boundary_lonlat()?);
    let tx = client
        .transaction()
        .await
        .map_err(step("starting the transaction"))?;
    tx.batch_execute(include_str!("tables.sql"))
        .await
        .map_err(step("creating the tables"))?;

    progress("Gebäude, Straßen und Orte werden erzeugt / generating buildings, streets and places");
    let mut ids = Ids::default();
    let mut rows = Rows::default();
    let mut buildings = 0;
    {
        let sink = tx
            .copy_in("COPY data.gebaeude (id, funktion, geschosse, hoehe, strasse, hausnummer, plz, stadtteil, fertigstellung, geom) FROM STDIN")
            .await
            .map_err(step("starting to copy buildings"))?;
        let mut sink = pin!(sink);
        for (i, district) in DISTRICTS.iter().enumerate() {
            generate::district(&frame, i, options.scale, options.seed, &mut ids, &mut rows);
            buildings += rows.building_count;
            rows.building_count = 0;
            let chunk = std::mem::take(&mut rows.buildings);
            sink.send(Bytes::from(chunk))
                .await
                .map_err(step("copying buildings"))?;
            progress(&format!(
                "  {:>2}/30 {} – {buildings} Gebäude",
                i + 1,
                district.name
            ));
        }
        sink.finish().await.map_err(step("copying buildings"))?;
    }
    copy(
        &tx,
        "COPY data.strassen (id, name, klasse, stadtteil, geom) FROM STDIN",
        rows.streets,
        "copying streets",
    )
    .await?;
    copy(
        &tx,
        "COPY data.poi (id, name, funktion, stadtteil, geom) FROM STDIN",
        rows.pois,
        "copying points of interest",
    )
    .await?;

    progress("Stadtteile und Gewässer werden berechnet / computing districts and rivers");
    load_districts_and_rivers(&tx, &frame).await?;
    progress("Indizes werden angelegt / building indexes");
    tx.batch_execute(include_str!("indexes.sql"))
        .await
        .map_err(step("building indexes"))?;
    register(&tx).await?;
    progress(
        "Bebauungspläne werden erzeugt und importiert / generating and importing development plans",
    );
    let plans = plans::load(&tx, &frame, options.seed).await?;
    let summary = DemoSummary {
        districts: count(&tx, "data.stadtteile").await?,
        streets: rows.street_count,
        buildings,
        pois: rows.poi_count,
        plans,
        elapsed: Duration::ZERO,
    };
    catalog::audit(
        &tx,
        "stadtkarte demo",
        "demo.load",
        "demo-city",
        &serde_json::json!({
            "scale": options.scale, "seed": options.seed, "buildings": summary.buildings,
            "streets": summary.streets, "pois": summary.pois, "districts": summary.districts,
            "plans": summary.plans,
        }),
    )
    .await?;
    tx.commit().await.map_err(step("committing"))?;
    Ok(DemoSummary {
        elapsed: started.elapsed(),
        ..summary
    })
}

async fn copy(
    tx: &Transaction<'_>,
    sql: &str,
    rows: String,
    what: &'static str,
) -> Result<(), DemoError> {
    let sink = tx.copy_in(sql).await.map_err(step(what))?;
    let mut sink = pin!(sink);
    sink.send(Bytes::from(rows)).await.map_err(step(what))?;
    sink.finish().await.map_err(step(what))?;
    Ok(())
}

async fn count(tx: &Transaction<'_>, table: &str) -> Result<u64, DemoError> {
    let n: i64 = tx
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .map_err(step("counting"))?
        .get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

fn ewkt_linestring(points: &[(f64, f64)]) -> String {
    let mut s = String::from("SRID=25832;LINESTRING(");
    for (i, p) in points.iter().enumerate() {
        let _ = write!(s, "{}{:.2} {:.2}", if i == 0 { "" } else { "," }, p.0, p.1);
    }
    s.push(')');
    s
}

/// Districts are the Voronoi cells of their centres, clipped to the boundary, exactly the rule
/// the generator uses to assign buildings. Rivers are their centre lines buffered to width.
async fn load_districts_and_rivers(
    tx: &Transaction<'_>,
    frame: &CityFrame,
) -> Result<(), DemoError> {
    let mut boundary = frame.boundary.clone();
    if let Some(&first) = boundary.first()
        && boundary.last() != Some(&first)
    {
        boundary.push(first);
    }
    let boundary_wkt = ewkt_linestring(&boundary);
    let names: Vec<&str> = DISTRICTS.iter().map(|d| d.name).collect();
    let plz: Vec<&str> = DISTRICTS.iter().map(|d| d.plz).collect();
    let xs: Vec<f64> = frame.centres.iter().map(|c| c.0).collect();
    let ys: Vec<f64> = frame.centres.iter().map(|c| c.1).collect();
    tx.execute(
        "WITH boundary AS (SELECT ST_MakePolygon(ST_GeomFromEWKT($1)) AS geom),
              centres AS (
                  SELECT n AS id, name, plz, ST_SetSRID(ST_MakePoint(x, y), 25832) AS geom
                  FROM unnest($2::text[], $3::text[], $4::float8[], $5::float8[])
                       WITH ORDINALITY AS c(name, plz, x, y, n)),
              cells AS (
                  SELECT (ST_Dump(ST_VoronoiPolygons(ST_Collect(c.geom), 0,
                          ST_Expand(b.geom, 1000)))).geom AS geom
                  FROM centres c, boundary b GROUP BY b.geom)
         INSERT INTO data.stadtteile (id, name, schluessel, plz, geom)
         SELECT c.id, c.name, lpad(c.id::text, 3, '0'), c.plz,
                ST_Multi(ST_CollectionExtract(ST_Intersection(v.geom, b.geom), 3))
         FROM cells v JOIN centres c ON ST_Contains(v.geom, c.geom), boundary b
         WHERE ST_Intersects(v.geom, b.geom)",
        &[&boundary_wkt, &names, &plz, &xs, &ys],
    )
    .await
    .map_err(step("computing the districts"))?;
    for (i, ((line, half), river)) in frame.rivers.iter().zip(RIVERS.iter()).enumerate() {
        let id = i32::try_from(i + 1).unwrap_or(0);
        tx.execute(
            "INSERT INTO data.gewaesser (id, name, art, geom)
             SELECT $1, $2, 'Fluss', ST_Multi(ST_CollectionExtract(ST_Intersection(
                 ST_Buffer(ST_GeomFromEWKT($3), $4, 'endcap=flat join=round'),
                 ST_MakePolygon(ST_GeomFromEWKT($5))), 3))",
            &[
                &id,
                &river.name,
                &ewkt_linestring(line),
                half,
                &boundary_wkt,
            ],
        )
        .await
        .map_err(step("drawing the rivers"))?;
    }
    Ok(())
}

async fn register(tx: &Transaction<'_>) -> Result<(), DemoError> {
    let entries = [
        (
            "stadtteile",
            "Stadtteile",
            "Die 30 Stadtteile von Koblenz mit Name, Schlüssel und Postleitzahl.",
            &["Stadtteil", "Verwaltungsgrenze"][..],
            "MultiPolygon",
            None,
            8,
            22,
        ),
        (
            "gewaesser",
            "Gewässer",
            "Rhein und Mosel im Stadtgebiet.",
            &["Gewässer", "Fluss"][..],
            "MultiPolygon",
            None,
            8,
            22,
        ),
        (
            "strassen",
            "Straßen",
            "Straßennetz mit Straßennamen und Straßenklasse.",
            &["Straße", "Verkehr"][..],
            "LineString",
            None,
            11,
            22,
        ),
        (
            "gebaeude",
            "Gebäude",
            "Gebäude mit Nutzung (Funktion), Geschosszahl, Höhe, Adresse und Fertigstellungsdatum.",
            &["Gebäude", "Adresse", "Liegenschaften"][..],
            "Polygon",
            Some("fertigstellung"),
            // From zoom 14: a zoom-13 tile of the centre held 527 KB of buildings, over the
            // tiles' byte budget (tiles.max_tile_bytes) and a lot for a phone; at 14 it is 220 KB.
            14,
            22,
        ),
        (
            "poi",
            "Orte von Interesse",
            "Schulen, Spielplätze, Bushaltestellen und öffentliche Toiletten.",
            &["Schule", "Spielplatz", "Bushaltestelle", "Toilette"][..],
            "Point",
            None,
            12,
            22,
        ),
    ];
    for (id, title, description, keywords, geometry_type, temporal, min_zoom, max_zoom) in entries {
        let full_description =
            format!("{description} Synthetische Demodaten, erzeugt von `stadtkarte demo`.");
        catalog::register(
            tx,
            &NewCollection {
                id,
                title,
                description: &full_description,
                keywords,
                table_schema: "data",
                table_name: id,
                geometry_type,
                storage_srid: 25832,
                temporal_column: temporal,
                license: LICENSE,
                license_url: Some(LICENSE_URL),
                attribution: ATTRIBUTION,
                min_zoom,
                max_zoom,
            },
        )
        .await?;
    }
    Ok(())
}
