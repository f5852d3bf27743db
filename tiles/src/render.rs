//! One SQL statement per tile: for every layer `ST_AsMVT` over `ST_AsMVTGeom`, the layers'
//! results concatenated (a valid MVT with one layer per collection). The tile envelope is
//! buffered, clipped to the data's extent and densified before it is transformed into the storage
//! CRS, so the GiST index is used and nothing near the tile edge is lost; features smaller than
//! a pixel are dropped and lines and polygons simplified to the pixel size below zoom 15.

use stadtkarte_core::catalog::quote_ident;
use stadtkarte_core::cql2::Expr;
use stadtkarte_core::crs::CRS84;
use stadtkarte_core::query::{Sql, Value};
use stadtkarte_core::schema::{CollectionSchema, PropType};

use crate::tms::TileMatrixSet;

/// MVT extent and buffer (in tile units).
const EXTENT: u32 = 4096;
const BUFFER: u32 = 64;

/// One layer of a tile.
#[derive(Debug)]
pub struct Layer<'a> {
    /// The collection.
    pub schema: &'a CollectionSchema,
    /// A parsed CQL2 filter.
    pub filter: Option<&'a Expr>,
}

/// The statement for a tile, or `None` when no layer has data near it (no query needed).
pub fn tile_sql(
    tms: TileMatrixSet,
    z: u8,
    x: u32,
    y: u32,
    layers: &[Layer<'_>],
) -> Result<Option<Sql>, String> {
    let bounds = tms.bounds(z, x, y);
    let width = bounds[2] - bounds[0];
    let margin = width * f64::from(BUFFER) / f64::from(EXTENT);
    let buffered = [
        bounds[0] - margin,
        bounds[1] - margin,
        bounds[2] + margin,
        bounds[3] + margin,
    ];
    let mut sql = Sql::default();
    let mut parts = Vec::new();
    for layer in layers {
        let c = &layer.schema.collection;
        let Some(extent) = c.extent_crs84 else {
            continue;
        };
        // The data's extent in the tile CRS, with room for the buffer; outside it nothing.
        let data = tms.from_crs84(extent);
        let clip = [
            buffered[0].max(data[0] - margin),
            buffered[1].max(data[1] - margin),
            buffered[2].min(data[2] + margin),
            buffered[3].min(data[3] + margin),
        ];
        if clip[0] >= clip[2] || clip[1] >= clip[3] {
            continue;
        }
        let storage = c.storage_srid;
        let geom = layer.schema.geom();
        let env_params: Vec<String> = bounds.iter().map(|v| sql.param(Value::Float(*v))).collect();
        let clip_params: Vec<String> = clip.iter().map(|v| sql.param(Value::Float(*v))).collect();
        let tile_env = format!(
            "ST_MakeEnvelope({}, {}, {}, {}, {})",
            env_params[0], env_params[1], env_params[2], env_params[3], tms.srid
        );
        let clip_env = format!(
            "ST_MakeEnvelope({}, {}, {}, {}, {})",
            clip_params[0], clip_params[1], clip_params[2], clip_params[3], tms.srid
        );
        let search = if tms.srid == storage {
            clip_env
        } else {
            let seg = sql.param(Value::Float(width / 16.0));
            format!("ST_Transform(ST_Segmentize({clip_env}, {seg}), {storage})")
        };
        // A pixel (1/256 of the tile) in storage units, roughly: metres in both CRSs here.
        let pixel = width / 256.0
            * if tms.srid == 3857 {
                mercator_scale(extent)
            } else {
                1.0
            };
        let points = c.geometry_type.contains("Point");
        let px = if points {
            String::new()
        } else {
            sql.param(Value::Float(pixel))
        };
        let shape = if z < 15 && !points {
            format!("ST_Simplify({geom}, {px} / 2, true)")
        } else {
            geom.clone()
        };
        let shape = if tms.srid == storage {
            shape
        } else {
            format!("ST_Transform({shape}, {})", tms.srid)
        };
        let mut conditions = vec![format!("{geom} && {search}")];
        if !points {
            // Features smaller than a pixel are dropped; points (in mixed collections) never.
            conditions.push(format!(
                "(ST_XMax({geom}) - ST_XMin({geom}) >= {px} OR ST_YMax({geom}) - ST_YMin({geom}) >= {px} OR ST_Dimension({geom}) = 0)"
            ));
        }
        if let Some(expr) = layer.filter {
            let t = stadtkarte_core::cql2::translate(expr, layer.schema, CRS84, &mut sql)?;
            conditions.push(t.condition);
        }
        let mut columns = Vec::new();
        let id_is_int = layer.schema.id_kind == PropType::Integer;
        if id_is_int {
            columns.push(format!("{}::bigint AS mvt_id", layer.schema.id()));
        } else {
            // MVT feature ids are integers; a text id travels as a property of its own name.
            columns.push(format!(
                "{}::text AS {}",
                layer.schema.id(),
                quote_ident(&c.id_column)
            ));
        }
        for p in &layer.schema.properties {
            if p.kind != PropType::Other {
                columns.push(quote_ident(&p.name));
            }
        }
        columns.push(format!(
            "ST_AsMVTGeom({shape}, {tile_env}, {EXTENT}, {BUFFER}, true) AS mvt_geom"
        ));
        let id_arg = if id_is_int { ", 'mvt_id'" } else { "" };
        parts.push(format!(
            "(SELECT ST_AsMVT(t, {name}, {EXTENT}, 'mvt_geom'{id_arg}) FROM (SELECT {cols} FROM {table} WHERE {cond} ORDER BY {id}) t WHERE mvt_geom IS NOT NULL)",
            name = sql_literal(&c.id),
            cols = columns.join(", "),
            table = c.table_sql(),
            cond = conditions.join(" AND "),
            id = layer.schema.id(),
        ));
    }
    if parts.is_empty() {
        return Ok(None);
    }
    sql.push(&format!(
        "SELECT {}",
        parts
            .iter()
            .map(|p| format!("COALESCE({p}, ''::bytea)"))
            .collect::<Vec<_>>()
            .join(" || ")
    ));
    Ok(Some(sql))
}

/// Web Mercator metres are longer than ground metres by 1/cos(latitude).
fn mercator_scale(extent: [f64; 4]) -> f64 {
    f64::midpoint(extent[1], extent[3]).to_radians().cos()
}

fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
