//! Ordered SQL migrations from `migrations/`, embedded into the binary.
//!
//! `stadtkarte migrate` and `stadtkarte serve` run them. Each migration runs in its own
//! transaction together with the row that records it, under an advisory lock so that several
//! servers starting at once apply each migration exactly once. A migration that was changed after
//! it was applied is refused (its checksum no longer matches), because the databases would
//! silently differ.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Position in the order; the file name starts with it.
    pub version: i32,
    /// The file name.
    pub name: &'static str,
    /// The SQL.
    pub sql: &'static str,
}

macro_rules! migrations {
    ($($version:literal => $file:literal),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $file,
            sql: include_str!(concat!("../../migrations/", $file)),
        }),*]
    };
}

/// Every migration, in order.
pub static MIGRATIONS: &[Migration] = migrations![
    1 => "0001_foundation.sql",
    2 => "0002_plans.sql",
    3 => "0003_unaccent.sql",
    4 => "0004_temporal_extent.sql",
    5 => "0005_tile_notifications.sql",
    6 => "0006_datasets.sql",
    7 => "0007_imagery.sql",
    8 => "0008_dataset_imagery.sql",
    9 => "0009_auth.sql",
    10 => "0010_audit_chain.sql",
    11 => "0011_server_role.sql",
    12 => "0012_maengel.sql",
    13 => "0013_petitions.sql",
    14 => "0014_plan_features.sql",
];

/// Arbitrary but fixed key of the advisory lock that serialises migration runs.
const LOCK_KEY: i64 = 0x5354_414b_4152_5445; // "STAKARTE"

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// The database refused a statement.
    #[error("migration {name}: {source}")]
    Statement {
        /// The migration being applied, or `bookkeeping`.
        name: &'static str,
        /// The database error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// An applied migration differs from the embedded one.
    #[error(
        "migration {name} was changed after it was applied to this database; write a new migration instead"
    )]
    Changed {
        /// The file name.
        name: String,
    },
    /// The database has migrations this binary does not know: it is older than the schema.
    #[error(
        "the database has migration version {0}, which this stadtkarte binary does not know; use a newer binary"
    )]
    Unknown(i32),
}

fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

fn bookkeeping(source: tokio_postgres::Error) -> MigrateError {
    MigrateError::Statement {
        name: "bookkeeping",
        source,
    }
}

/// Applies every migration the database lacks; returns the names of those applied now.
pub async fn run(client: &mut Client) -> Result<Vec<&'static str>, MigrateError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(bookkeeping)?;
    let result = apply_missing(client).await;
    // Unlock even when a migration failed; the session ends soon in either case.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    result
}

async fn apply_missing(client: &mut Client) -> Result<Vec<&'static str>, MigrateError> {
    client
        .batch_execute(
            "SET client_min_messages TO warning;
             CREATE TABLE IF NOT EXISTS public.stadtkarte_migrations (
                 version    integer PRIMARY KEY,
                 name       text NOT NULL,
                 checksum   text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .map_err(bookkeeping)?;
    let applied = client
        .query(
            "SELECT version, name, checksum FROM public.stadtkarte_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(bookkeeping)?;
    for row in &applied {
        let version: i32 = row.get(0);
        let Some(known) = MIGRATIONS.iter().find(|m| m.version == version) else {
            return Err(MigrateError::Unknown(version));
        };
        if row.get::<_, String>(2) != checksum(known.sql) {
            return Err(MigrateError::Changed { name: row.get(1) });
        }
    }
    let mut done = Vec::new();
    for migration in MIGRATIONS {
        if applied
            .iter()
            .any(|r| r.get::<_, i32>(0) == migration.version)
        {
            continue;
        }
        let failed = |source| MigrateError::Statement {
            name: migration.name,
            source,
        };
        let tx = client.transaction().await.map_err(failed)?;
        tx.batch_execute(migration.sql).await.map_err(failed)?;
        tx.execute(
            "INSERT INTO public.stadtkarte_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&migration.version, &migration.name, &checksum(migration.sql)],
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        tracing::info!(migration = migration.name, "applied migration");
        done.push(migration.name);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_contiguous_and_match_file_names() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i32::try_from(i + 1).unwrap());
            assert!(
                m.name.starts_with(&format!("{:04}_", m.version)),
                "{}",
                m.name
            );
        }
    }

    #[test]
    fn every_file_in_the_folder_is_listed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| {
                std::path::Path::new(n)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("sql"))
            })
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(files, listed);
    }
}
