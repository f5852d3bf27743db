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
    /// The database pool.
    pub pool: Pool,
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
            config: Arc::new(config),
            pool,
            migrated: Arc::new(AtomicBool::new(false)),
        }
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
