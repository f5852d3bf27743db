//! A cache of values read from the database that keeps serving what it last read while the
//! database is away (stale-if-error): an entry is fresh for a while, then reloaded (one load per
//! key at a time); when the reload fails because the database is unavailable, the last good
//! value is used and marked stale. Other errors (a 404, say) are passed on.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;

use crate::problem::Problem;

/// Fresh values with a time to live, and the last good value of every key.
#[derive(Debug, Clone)]
pub struct StaleCache<V: Clone + Send + Sync + 'static> {
    fresh: moka::future::Cache<String, V>,
    last: moka::sync::Cache<String, V>,
}

/// A value and whether it is stale (the database could not confirm it).
#[derive(Debug, Clone)]
pub struct Cached<V> {
    /// The value.
    pub value: V,
    /// Served from the last good read because the database is away.
    pub stale: bool,
}

impl<V: Clone + Send + Sync + 'static> StaleCache<V> {
    /// At most `capacity` keys, fresh for `ttl`.
    #[must_use]
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self {
            fresh: moka::future::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            last: moka::sync::Cache::builder().max_capacity(capacity).build(),
        }
    }

    /// The value of `key`: fresh, or loaded by `load`, or — when the database is unavailable —
    /// the last good value.
    pub async fn get<F>(&self, key: &str, load: F) -> Result<Cached<V>, Problem>
    where
        F: Future<Output = Result<V, Problem>>,
    {
        let last = self.last.clone();
        let owned = key.to_owned();
        let result = self
            .fresh
            .try_get_with(owned.clone(), async move {
                let value = load.await?;
                last.insert(owned, value.clone());
                Ok::<_, Problem>(value)
            })
            .await;
        match result {
            Ok(value) => Ok(Cached {
                value,
                stale: false,
            }),
            Err(problem) => {
                let problem: Arc<Problem> = problem;
                if problem.status == StatusCode::SERVICE_UNAVAILABLE
                    && let Some(value) = self.last.get(key)
                {
                    metrics::counter!("stadtkarte_stale_answers_total").increment(1);
                    return Ok(Cached { value, stale: true });
                }
                if problem.status == StatusCode::NOT_FOUND {
                    self.last.invalidate(key);
                }
                Err((*problem).clone())
            }
        }
    }

    /// Forgets the fresh value of `key` (the last good one stays for outages).
    pub async fn invalidate(&self, key: &str) {
        self.fresh.invalidate(key).await;
    }

    /// Forgets every fresh value.
    pub fn invalidate_all(&self) {
        self.fresh.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_last_good_value_serves_while_the_database_is_away() {
        let cache: StaleCache<u32> = StaleCache::new(10, Duration::from_millis(20));
        let v = cache.get("a", async { Ok(1) }).await.unwrap();
        assert_eq!((v.value, v.stale), (1, false));
        // Fresh: the loader is not called.
        let v = cache
            .get("a", async { Err(Problem::internal("not called")) })
            .await
            .unwrap();
        assert_eq!(v.value, 1);
        tokio::time::sleep(Duration::from_millis(40)).await;
        let v = cache
            .get("a", async { Err(Problem::unavailable("away")) })
            .await
            .unwrap();
        assert_eq!((v.value, v.stale), (1, true));
        // Other errors are passed on; a 404 forgets the value.
        assert!(
            cache
                .get("a", async { Err(Problem::not_found("gone")) })
                .await
                .is_err()
        );
        assert!(
            cache
                .get("a", async { Err(Problem::unavailable("away")) })
                .await
                .is_err()
        );
        // Nothing known: the 503 is passed on.
        assert!(
            cache
                .get("b", async { Err(Problem::unavailable("away")) })
                .await
                .is_err()
        );
    }
}
