//! Read replicas (`database.replicas`): streaming standbys that answer the reads which need not
//! see their own writes — items, tiles, queryables, open-data pages and downloads, catalogs.
//! Every write, and every read that must see the writer's change (a citizen's report right
//! after sending it, the back office), stays on the primary (`AppState::pool`).
//!
//! A health checker asks every replica once a second whether it is a standby and how far it
//! lags; a replica that is away, not a standby or lags more than `database.max_replica_lag_secs`
//! is skipped and admitted again once healthy. With none left, reads go to the primary.
//!
//! The lag is measured against the primary's WAL position, not against the time of the last
//! replayed transaction: on an idle primary that time ages although nothing is missing. The
//! checker samples the primary's position every tick; a replica whose replay position has
//! reached the newest sample lags 0, otherwise its lag is the age of the oldest sample it has
//! not reached yet.
//!
//! A read that fails on a replica because the replica went away is answered again from the
//! primary ([`retry_reads_on_primary`]), so stopping a standby fails no request.

use std::collections::VecDeque;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use deadpool_postgres::Pool;
use serde_json::{Value, json};

use crate::config::DatabaseConfig;
use crate::db::{self, DbError, PooledClient};
use crate::state::AppState;

/// How often the health checker looks at the replicas.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Longest wait for a replica's connection before a read goes to the primary instead.
const REPLICA_WAIT: Duration = Duration::from_secs(1);

/// One standby.
#[derive(Debug)]
pub struct Replica {
    /// Host, port and database, for logs and `/ready` (never the password).
    pub target: String,
    pool: Pool,
    healthy: AtomicBool,
    lag_ms: AtomicU64,
    /// Replayed WAL position at the last look (bytes since 0/0).
    replay_lsn: AtomicU64,
    /// Why it is skipped (empty while healthy).
    reason: Mutex<String>,
}

impl Replica {
    /// Whether reads may go to it.
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// Its lag at the last look, in milliseconds.
    #[must_use]
    pub fn lag_ms(&self) -> u64 {
        self.lag_ms.load(Ordering::Relaxed)
    }

    fn set(&self, healthy: bool, reason: String) {
        let was = self.healthy.swap(healthy, Ordering::AcqRel);
        let mut last = self
            .reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if was && !healthy {
            tracing::warn!(replica = %self.target, reason, "read replica skipped; its reads go elsewhere");
        } else if !was && healthy {
            tracing::info!(replica = %self.target, lag_ms = self.lag_ms(), "read replica admitted");
        } else if !healthy && *last != reason {
            tracing::debug!(replica = %self.target, reason, "read replica still skipped");
        }
        *last = reason;
    }

    /// Why it is skipped, or "".
    #[must_use]
    pub fn reason(&self) -> String {
        self.reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Its pool's state and health as JSON (for `/ready`).
    #[must_use]
    pub fn describe(&self) -> Value {
        let status = self.pool.status();
        json!({
            "target": self.target,
            "healthy": self.is_healthy(),
            "lag_ms": self.lag_ms(),
            "reason": self.reason(),
            "connections": status.size,
            "idle": status.available,
        })
    }
}

/// The replicas of one process; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Replicas {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    list: Vec<Arc<Replica>>,
    next: AtomicUsize,
    max_lag: Duration,
    /// The primary's WAL positions of the last ticks, oldest first.
    samples: Mutex<VecDeque<(Instant, u64)>>,
}

tokio::task_local! {
    /// The read routing of the request being answered (set by [`retry_reads_on_primary`]).
    static ROUTE: Route;
}

#[derive(Debug, Default)]
struct Route {
    primary_only: bool,
    used_replica: AtomicBool,
}

impl Replicas {
    /// The replicas of `config.replicas`; a connection string that cannot be read is named in
    /// the log and left out (the node serves from the primary). Opens no connection yet.
    #[must_use]
    pub fn from_config(config: &DatabaseConfig) -> Self {
        let mut list = Vec::new();
        for (index, url) in config.replicas.iter().enumerate() {
            let target = db::describe_target(url);
            if tokio_postgres::Config::from_str(url).is_err() {
                tracing::error!(
                    replica = index + 1,
                    "database.replicas[{index}] is not a PostgreSQL connection string; it is left out and its reads go to the primary"
                );
                continue;
            }
            let replica_config = DatabaseConfig {
                url: url.clone(),
                ..config.clone()
            };
            match db::pool(&replica_config) {
                Ok(pool) => list.push(Arc::new(Replica {
                    target,
                    pool,
                    healthy: AtomicBool::new(false),
                    lag_ms: AtomicU64::new(0),
                    replay_lsn: AtomicU64::new(0),
                    reason: Mutex::new("not checked yet".to_owned()),
                })),
                Err(e) => tracing::error!(replica = %target, error = %e, "read replica left out"),
            }
        }
        Self {
            inner: Arc::new(Inner {
                list,
                next: AtomicUsize::new(0),
                max_lag: Duration::from_secs(config.max_replica_lag_secs.max(1)),
                samples: Mutex::new(VecDeque::new()),
            }),
        }
    }

    /// The configured replicas (those that could be read).
    #[must_use]
    pub fn list(&self) -> &[Arc<Replica>] {
        &self.inner.list
    }

    /// A connection for a read that need not see its own writes: from a healthy replica in
    /// turn, else from the primary. A replica that cannot give a connection is skipped at once.
    pub async fn read(&self, primary: &Pool) -> Result<PooledClient, DbError> {
        self.read_after(primary, 0).await
    }

    /// Like [`Replicas::read`] for a read that must see the primary's state up to WAL position
    /// `lsn` (e.g. the change that evicted a cached tile): a replica that has not replayed it
    /// yet is passed over.
    pub async fn read_after(&self, primary: &Pool, lsn: u64) -> Result<PooledClient, DbError> {
        let list = &self.inner.list;
        let primary_only = ROUTE.try_with(|r| r.primary_only).unwrap_or(false);
        if !list.is_empty() && !primary_only {
            let start = self.inner.next.fetch_add(1, Ordering::Relaxed);
            for i in 0..list.len() {
                let replica = &list[(start + i) % list.len()];
                if !replica.is_healthy() {
                    continue;
                }
                if let Some(client) = take(replica, lsn).await {
                    let _ = ROUTE.try_with(|r| r.used_replica.store(true, Ordering::Release));
                    metrics::counter!("db_reads_total", "pool" => "replica").increment(1);
                    return Ok(client);
                }
            }
        }
        metrics::counter!("db_reads_total", "pool" => "primary").increment(1);
        Ok(primary.get().await?)
    }

    /// Starts the health checker (once per process, by `serve`) after a first look whose
    /// result is logged, one line per replica.
    pub async fn start_checking(&self, primary: Pool) {
        if self.inner.list.is_empty() {
            return;
        }
        self.check(&primary).await;
        for replica in &self.inner.list {
            if replica.is_healthy() {
                tracing::info!(replica = %replica.target, reachable = true, lag_ms = replica.lag_ms(), "read replica in use");
            } else {
                tracing::warn!(replica = %replica.target, reachable = false, reason = %replica.reason(), "read replica not usable now; reads go to the primary until it is");
            }
        }
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(CHECK_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                this.check(&primary).await;
            }
        });
    }

    /// One look at the primary's position and at every replica.
    async fn check(&self, primary: &Pool) {
        if let Some(lsn) = primary_lsn(primary).await {
            let mut samples = self.samples();
            samples.push_back((Instant::now(), lsn));
            let keep = self.inner.max_lag * 2 + Duration::from_secs(10);
            while samples.front().is_some_and(|(t, _)| t.elapsed() > keep) {
                samples.pop_front();
            }
        }
        let looks = self.inner.list.iter().map(|r| self.check_one(r));
        futures_util::future::join_all(looks).await;
        self.export_metrics();
    }

    fn samples(&self) -> std::sync::MutexGuard<'_, VecDeque<(Instant, u64)>> {
        self.inner
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn check_one(&self, replica: &Replica) {
        let look = async {
            let client = replica.pool.get().await.map_err(|e| e.to_string())?;
            let row = client
                .query_one(
                    "SELECT pg_is_in_recovery(),
                            COALESCE((pg_last_wal_replay_lsn() - '0/0')::bigint, 0)",
                    &[],
                )
                .await
                .map_err(|e| e.to_string())?;
            Ok::<(bool, i64), String>((row.get(0), row.get(1)))
        };
        let (in_recovery, replay) = match tokio::time::timeout(REPLICA_WAIT, look).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                replica.set(false, format!("not reachable: {e}"));
                return;
            }
            Err(_) => {
                replica.set(false, "did not answer within 1 s".to_owned());
                return;
            }
        };
        if !in_recovery {
            replica.set(false, "not a standby (not in recovery)".to_owned());
            return;
        }
        let replay = u64::try_from(replay).unwrap_or(0);
        replica.replay_lsn.store(replay, Ordering::Release);
        let lag = {
            let samples = self.samples();
            samples
                .iter()
                .find(|(_, lsn)| *lsn > replay)
                .map_or(Duration::ZERO, |(t, _)| t.elapsed())
        };
        replica.lag_ms.store(
            u64::try_from(lag.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if lag > self.inner.max_lag {
            replica.set(
                false,
                format!(
                    "lags {} ms (more than database.max_replica_lag_secs)",
                    lag.as_millis()
                ),
            );
        } else {
            replica.set(true, String::new());
        }
    }

    /// Sets the gauges of every replica (health, lag, connections); also at each scrape of
    /// `/metrics`, so they are there from the first one on.
    pub fn export_metrics(&self) {
        #[allow(clippy::cast_precision_loss)]
        for replica in &self.inner.list {
            let name = replica.target.clone();
            let status = replica.pool.status();
            metrics::gauge!("db_replica_healthy", "replica" => name.clone())
                .set(if replica.is_healthy() { 1.0 } else { 0.0 });
            metrics::gauge!("db_replica_lag_seconds", "replica" => name.clone())
                .set(replica.lag_ms() as f64 / 1000.0);
            metrics::gauge!("db_replica_pool_connections", "replica" => name.clone())
                .set(status.size as f64);
            metrics::gauge!("db_replica_pool_idle_connections", "replica" => name)
                .set(status.available as f64);
        }
    }

    /// Every replica as JSON (for `/ready`).
    #[must_use]
    pub fn describe(&self) -> Vec<Value> {
        self.inner.list.iter().map(|r| r.describe()).collect()
    }
}

/// A connection of `replica` that has replayed `lsn`, or `None` (the replica is then marked
/// away when it could not give one).
async fn take(replica: &Replica, lsn: u64) -> Option<PooledClient> {
    let client = match tokio::time::timeout(REPLICA_WAIT, replica.pool.get()).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => {
            replica.set(false, format!("not reachable: {e}"));
            return None;
        }
        Err(_) => return None,
    };
    if lsn == 0 || replica.replay_lsn.load(Ordering::Acquire) >= lsn {
        return Some(client);
    }
    // Fenced: ask the replica itself how far it is (the checker's value may be a second old).
    let replayed = client
        .query_one(
            "SELECT COALESCE((pg_last_wal_replay_lsn() - '0/0')::bigint, 0)",
            &[],
        )
        .await
        .ok()
        .and_then(|row| u64::try_from(row.get::<_, i64>(0)).ok())?;
    replica.replay_lsn.fetch_max(replayed, Ordering::AcqRel);
    (replayed >= lsn).then_some(client)
}

/// The primary's current WAL position (bytes since 0/0), if it answers.
pub async fn primary_lsn(primary: &Pool) -> Option<u64> {
    let look = async {
        let client = primary.get().await.ok()?;
        let row = client
            .query_one("SELECT (pg_current_wal_lsn() - '0/0')::bigint", &[])
            .await
            .ok()?;
        u64::try_from(row.get::<_, i64>(0)).ok()
    };
    tokio::time::timeout(REPLICA_WAIT, look)
        .await
        .ok()
        .flatten()
}

/// Middleware for the routes that read: a `GET`/`HEAD` answered with 503 after it used a
/// replica is answered once more from the primary alone, so a standby that goes away in the
/// middle of a request fails no request.
pub async fn retry_reads_on_primary(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let retryable = matches!(*request.method(), Method::GET | Method::HEAD);
    if state.replicas.list().is_empty() || !retryable {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let mut again = Request::new(axum::body::Body::empty());
    *again.method_mut() = parts.method.clone();
    *again.uri_mut() = parts.uri.clone();
    *again.version_mut() = parts.version;
    *again.headers_mut() = parts.headers.clone();
    *again.extensions_mut() = parts.extensions.clone();
    let first = ROUTE.scope(Route::default(), async {
        let response = next.clone().run(Request::from_parts(parts, body)).await;
        let used = ROUTE.with(|r| r.used_replica.load(Ordering::Acquire));
        (response, used)
    });
    let (response, used_replica) = first.await;
    if response.status() != StatusCode::SERVICE_UNAVAILABLE || !used_replica {
        return response;
    }
    tracing::info!(path = %again.uri().path(), "a read failed on a replica; answered from the primary");
    metrics::counter!("db_replica_retries_total").increment(1);
    let route = Route {
        primary_only: true,
        used_replica: AtomicBool::new(false),
    };
    ROUTE.scope(route, next.run(again)).await
}
