//! The PostgreSQL connection pool.
//!
//! deadpool-postgres opens connections lazily and replaces broken ones, so the pool survives a
//! database restart: requests fail fast (503) while the database is away and work again as soon
//! as it is back, without restarting the server.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient as _, NoTls, Row};

use crate::config::DatabaseConfig;
use crate::problem::Problem;

/// A connection taken from the pool; dereferences to a `tokio_postgres::Client`.
pub type PooledClient = deadpool_postgres::Object;

/// Something that runs SQL: a connection or a transaction. On the pool's connections (`&*client`
/// of a [`PooledClient`], or `&tx` of its transaction) every statement text is prepared once
/// per connection and kept (deadpool's statement cache): later runs skip the parsing and a
/// round trip, which is most of the work of the short statements of a citizen's request. Plain
/// `tokio_postgres` clients (tests, tools) prepare each time, as `tokio_postgres` does.
pub trait Conn: Sync {
    /// The underlying `tokio_postgres` client or transaction, for code that takes one.
    type Pg: tokio_postgres::GenericClient + Sync;

    /// The underlying `tokio_postgres` client or transaction.
    fn pg(&self) -> &Self::Pg;

    /// The prepared statement for `sql`.
    fn statement(
        &self,
        sql: &str,
    ) -> impl Future<Output = Result<tokio_postgres::Statement, tokio_postgres::Error>> + Send;

    /// Like `tokio_postgres::Client::query`.
    fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + Send {
        async move {
            let statement = self.statement(sql).await?;
            self.pg().query(&statement, params).await
        }
    }

    /// Like `tokio_postgres::Client::query_one`.
    fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Row, tokio_postgres::Error>> + Send {
        async move {
            let statement = self.statement(sql).await?;
            self.pg().query_one(&statement, params).await
        }
    }

    /// Like `tokio_postgres::Client::query_opt`.
    fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Option<Row>, tokio_postgres::Error>> + Send {
        async move {
            let statement = self.statement(sql).await?;
            self.pg().query_opt(&statement, params).await
        }
    }

    /// Like `tokio_postgres::Client::execute`.
    fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<u64, tokio_postgres::Error>> + Send {
        async move {
            let statement = self.statement(sql).await?;
            self.pg().execute(&statement, params).await
        }
    }
}

/// Most statements a connection keeps prepared: texts built with varying parts must not grow
/// the cache without end. When full it starts again (the statements are closed on the server).
const MAX_PREPARED: usize = 256;

fn bound(cache: &deadpool_postgres::StatementCache) {
    if cache.size() >= MAX_PREPARED {
        cache.clear();
    }
}

impl Conn for deadpool_postgres::ClientWrapper {
    type Pg = tokio_postgres::Client;

    fn pg(&self) -> &Self::Pg {
        self
    }

    async fn statement(
        &self,
        sql: &str,
    ) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
        bound(&self.statement_cache);
        self.prepare_cached(sql).await
    }
}

impl<'a> Conn for deadpool_postgres::Transaction<'a> {
    type Pg = tokio_postgres::Transaction<'a>;

    fn pg(&self) -> &Self::Pg {
        self
    }

    async fn statement(
        &self,
        sql: &str,
    ) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
        bound(&self.statement_cache);
        self.prepare_cached(sql).await
    }
}

impl Conn for tokio_postgres::Client {
    type Pg = Self;

    fn pg(&self) -> &Self::Pg {
        self
    }

    async fn statement(
        &self,
        sql: &str,
    ) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
        self.prepare(sql).await
    }
}

impl Conn for tokio_postgres::Transaction<'_> {
    type Pg = Self;

    fn pg(&self) -> &Self::Pg {
        self
    }

    async fn statement(
        &self,
        sql: &str,
    ) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
        self.prepare(sql).await
    }
}

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The pool could not be built from the configuration.
    #[error("cannot set up the database pool: {0}")]
    Setup(String),
    /// No connection could be had (database down, unreachable or pool exhausted).
    #[error("database not available: {0}")]
    Unavailable(#[from] PoolError),
    /// A statement failed.
    #[error("database error while {what}: {source}")]
    Query {
        /// What was being done.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

impl DbError {
    /// Wraps a driver error with what was being done.
    pub fn query(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Self {
        move |source| Self::Query { what, source }
    }
}

impl DbError {
    /// Whether the database is away (not reachable, restarting, the connection lost) rather
    /// than the statement wrong: such a request may succeed when retried.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Query { source, .. } => connection_lost(source),
            Self::Setup(_) => false,
        }
    }
}

/// Whether a driver error means the connection or the server is gone: a closed connection, an
/// I/O error, or SQLSTATE class 08 (connection exception), 57P01–57P03 (shutdown, crash,
/// cannot connect now) or 53 (insufficient resources, e.g. too many connections).
#[must_use]
pub fn connection_lost(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || code.starts_with("57P") || code.starts_with("53")
        }
        // No server answer at all: the socket failed.
        None => std::error::Error::source(error)
            .is_some_and(|cause| cause.downcast_ref::<std::io::Error>().is_some()),
    }
}

impl From<DbError> for Problem {
    fn from(error: DbError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(%error, "database not available");
            return Self::unavailable(
                "The database is not reachable at the moment; please try again shortly.",
            );
        }
        Self::internal(error)
    }
}

/// Builds the pool; no connection is opened until one is needed.
pub fn pool(config: &DatabaseConfig) -> Result<Pool, DbError> {
    let mut pg = tokio_postgres::Config::from_str(&config.url)
        .map_err(|e| DbError::Setup(format!("database.url: {e}")))?;
    let timeout = Duration::from_secs(config.connect_timeout_secs.max(1));
    pg.connect_timeout(timeout);
    if pg.get_application_name().is_none() {
        pg.application_name("stadtkarte");
    }
    // Requests are short: JIT compilation and parallel workers cost more than they save, and
    // times are computed in UTC.
    if pg.get_options().is_none() {
        pg.options("-c jit=off -c max_parallel_workers_per_gather=0 -c TimeZone=UTC");
    }
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(config.pool_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .build()
        .map_err(|e| DbError::Setup(e.to_string()))
}

/// A small pool of the schemas' owner (`database.migration_url`, else `database.url`): for
/// migrations and the command-line tools.
pub fn owner_pool(config: &DatabaseConfig) -> Result<Pool, DbError> {
    let owner = DatabaseConfig {
        url: config.owner_url().to_owned(),
        pool_size: 2,
        ..config.clone()
    };
    pool(&owner)
}

/// Host and port of a connection string, for log lines (never the password).
#[must_use]
pub fn describe_target(url: &str) -> String {
    let Ok(pg) = tokio_postgres::Config::from_str(url) else {
        return "an unparsable address".to_owned();
    };
    let host = match pg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = pg.get_ports().first().copied().unwrap_or(5432);
    let db = pg.get_dbname().unwrap_or("(default)");
    format!("{host}:{port}/{db}")
}
