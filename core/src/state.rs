//! The state every router shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::Pool;

use crate::auth::password::Hasher;
use crate::config::Config;
use crate::load::Load;

/// Shared, cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The configuration the process started with.
    pub config: Arc<Config>,
    /// The database pool of the primary: every write, and every read that must see the
    /// writer's own change.
    pub pool: Pool,
    /// The read replicas (`database.replicas`), for [`AppState::read_db`].
    pub replicas: crate::replicas::Replicas,
    /// Slots for database work (load shedding).
    pub load: Load,
    /// Password hashing on a bounded pool.
    pub hasher: Hasher,
    /// The sections of the back office (filled by the binary at start-up).
    pub backoffice: crate::backoffice::Registry,
    /// Set once the migrations have run against this database.
    migrated: Arc<AtomicBool>,
}

impl AppState {
    /// State over a pool whose database is not yet known to be migrated.
    #[must_use]
    pub fn new(config: Config, pool: Pool) -> Self {
        Self {
            load: Load::new(&config.load),
            hasher: Hasher::new(config.auth.hash_concurrency),
            backoffice: crate::backoffice::Registry::default(),
            replicas: crate::replicas::Replicas::from_config(&config.database),
            config: Arc::new(config),
            pool,
            migrated: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A connection for a read that need not see its own writes (items, tiles, open data,
    /// catalogs): a healthy replica's, else the primary's.
    pub async fn read_db(&self) -> Result<crate::db::PooledClient, crate::db::DbError> {
        self.replicas.read(&self.pool).await
    }

    /// Like [`AppState::read_db`] for a read that must see the primary's state up to WAL
    /// position `lsn` (see [`crate::replicas::primary_lsn`]).
    pub async fn read_db_after(
        &self,
        lsn: u64,
    ) -> Result<crate::db::PooledClient, crate::db::DbError> {
        self.replicas.read_after(&self.pool, lsn).await
    }

    /// Records that the schema is up to date.
    pub fn mark_migrated(&self) {
        self.migrated.store(true, Ordering::Release);
    }

    /// Whether the schema is known to be up to date.
    #[must_use]
    pub fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire)
    }
}
