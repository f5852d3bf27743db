//! What a collection's table looks like: its catalog entry and its columns with their JSON
//! types. Queryables, sortables, property filters, CQL2 and the output all work from this, so
//! a name from a request is only ever used after it was found here.

use crate::catalog::{self, Collection, quote_ident};
use crate::db::DbError;
use tokio_postgres::GenericClient;

/// The JSON Schema type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropType {
    /// text, varchar
    String,
    /// smallint, integer, bigint
    Integer,
    /// real, double precision, numeric
    Number,
    /// boolean
    Boolean,
    /// date
    Date,
    /// timestamp, timestamptz
    DateTime,
    /// geometry
    Geometry,
    /// jsonb and everything else: output only
    Other,
}

impl PropType {
    fn of(type_name: &str) -> Self {
        match type_name {
            "text" | "varchar" | "bpchar" | "name" | "uuid" => Self::String,
            "int2" | "int4" | "int8" => Self::Integer,
            "float4" | "float8" | "numeric" => Self::Number,
            "bool" => Self::Boolean,
            "date" => Self::Date,
            "timestamp" | "timestamptz" => Self::DateTime,
            "geometry" => Self::Geometry,
            _ => Self::Other,
        }
    }

    /// Name for error messages.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::DateTime => "timestamp",
            Self::Geometry => "geometry",
            Self::Other => "structured value",
        }
    }

    /// Numbers compare with numbers, everything else with its own kind.
    #[must_use]
    pub fn comparable(self, other: Self) -> bool {
        let numeric = |t| matches!(t, Self::Integer | Self::Number);
        self == other || (numeric(self) && numeric(other))
    }
}

/// One column.
#[derive(Debug, Clone)]
pub struct Property {
    /// Column name (also the property name in the API).
    pub name: String,
    /// Its type.
    pub kind: PropType,
    /// The name people know it by (the source's own column name, kept by the importer as the
    /// column's comment), when it differs from `name`.
    pub title: Option<String>,
}

impl Property {
    /// The title, or the name when there is none.
    #[must_use]
    pub fn label(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.name)
    }
}

/// A collection and its columns.
#[derive(Debug, Clone)]
pub struct CollectionSchema {
    /// The catalog entry.
    pub collection: Collection,
    /// Every column but the id and the geometry, in table order.
    pub properties: Vec<Property>,
    /// Type of the id column.
    pub id_kind: PropType,
}

/// The queryable name of the geometry.
pub const GEOMETRY: &str = "geometry";

impl CollectionSchema {
    /// A queryable by name (`geometry` is the geometry column).
    #[must_use]
    pub fn queryable(&self, name: &str) -> Option<(String, PropType)> {
        if name == GEOMETRY || name == self.collection.geometry_column {
            return Some((
                quote_ident(&self.collection.geometry_column),
                PropType::Geometry,
            ));
        }
        if name == self.collection.id_column {
            return Some((quote_ident(name), self.id_kind));
        }
        self.properties
            .iter()
            .find(|p| p.name == name && p.kind != PropType::Other)
            .map(|p| (quote_ident(&p.name), p.kind))
    }

    /// The title of a property (its name when it has none).
    #[must_use]
    pub fn label_of<'a>(&'a self, name: &'a str) -> &'a str {
        self.properties
            .iter()
            .find(|p| p.name == name)
            .map_or(name, Property::label)
    }

    /// The temporal column, when the collection has one.
    #[must_use]
    pub fn temporal(&self) -> Option<&Property> {
        let name = self.collection.temporal_column.as_deref()?;
        self.properties.iter().find(|p| p.name == name)
    }

    /// Quoted geometry column.
    #[must_use]
    pub fn geom(&self) -> String {
        quote_ident(&self.collection.geometry_column)
    }

    /// Quoted id column.
    #[must_use]
    pub fn id(&self) -> String {
        quote_ident(&self.collection.id_column)
    }
}

/// Loads a published collection and its columns; `None` when there is no such collection.
pub async fn load(
    client: &impl GenericClient,
    id: &str,
) -> Result<Option<CollectionSchema>, DbError> {
    let Some(collection) = catalog::get(client, id).await? else {
        return Ok(None);
    };
    if !collection.publish_features {
        return Ok(None);
    }
    let rows = client
        .query(
            "SELECT a.attname::text, t.typname::text, col_description(a.attrelid, a.attnum)
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&collection.table_sql()],
        )
        .await
        .map_err(DbError::query("reading a collection's columns"))?;
    let mut id_kind = PropType::Integer;
    let mut properties = Vec::new();
    for row in rows {
        let name: String = row.get(0);
        let kind = PropType::of(row.get::<_, &str>(1));
        let title: Option<String> = row.get(2);
        if name == collection.id_column {
            id_kind = kind;
        } else if name != collection.geometry_column {
            let title = title.filter(|t| !t.is_empty() && *t != name);
            properties.push(Property { name, kind, title });
        }
    }
    Ok(Some(CollectionSchema {
        collection,
        properties,
        id_kind,
    }))
}
