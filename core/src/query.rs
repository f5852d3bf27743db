//! Building SQL with bind parameters: text and values grow together, so a value never becomes
//! part of the SQL text.

use std::error::Error;

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// A bind parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `text`
    Text(String),
    /// `float8`
    Float(f64),
    /// `int8`
    Int(i64),
    /// `bool`
    Bool(bool),
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Self::Text(v) => v.to_sql(ty, out),
            Self::Float(v) => v.to_sql(ty, out),
            Self::Int(v) => v.to_sql(ty, out),
            Self::Bool(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::TEXT | Type::VARCHAR | Type::FLOAT8 | Type::INT8 | Type::BOOL
        )
    }

    to_sql_checked!();
}

/// SQL text with its parameters.
#[derive(Debug, Default, Clone)]
pub struct Sql {
    /// The text, with `$n` placeholders.
    pub text: String,
    /// The values of the placeholders.
    pub params: Vec<Value>,
}

impl Sql {
    /// Appends text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Adds a parameter and returns its placeholder with the SQL type cast, e.g. `$3::text`.
    /// Placeholders are numbered, so they may be placed anywhere in the text.
    pub fn param(&mut self, value: Value) -> String {
        let cast = match value {
            Value::Text(_) => "text",
            Value::Float(_) => "float8",
            Value::Int(_) => "int8",
            Value::Bool(_) => "bool",
        };
        self.params.push(value);
        format!("${}::{cast}", self.params.len())
    }

    /// The parameters as the driver wants them.
    #[must_use]
    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p as &(dyn ToSql + Sync))
            .collect()
    }
}
