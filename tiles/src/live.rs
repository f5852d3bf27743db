//! Live tiles: a dedicated connection LISTENs to `stadtkarte_tiles`, where the triggers of every
//! collection table (and every import) announce what changed; the affected tiles are evicted.
//! After a (re)connect the whole cache is cleared, since notifications may have been missed.
//! It listens on the primary (`database.url`): replicas get no notifications. With read
//! replicas, each change first raises the cache's fence to the primary's WAL position, so the
//! evicted tiles are rendered again only from a replica that has the change (or the primary).

use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::Value;
use stadtkarte_core::tokio_postgres::{self, AsyncMessage, NoTls};

use crate::cache::TileCache;
use crate::handlers::SchemaCache;

/// Runs forever: listens and evicts; `fenced` with read replicas.
pub async fn listen(url: String, cache: TileCache, schemas: SchemaCache, fenced: bool) {
    loop {
        match tokio_postgres::connect(&url, NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    let mut messages =
                        futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                let _ = tx.send(n.payload().to_owned());
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "tile change listener lost its connection");
                                break;
                            }
                        }
                    }
                });
                if client
                    .batch_execute("LISTEN stadtkarte_tiles")
                    .await
                    .is_ok()
                {
                    if fenced {
                        raise_fence(&client, &cache).await;
                    }
                    cache.clear();
                    schemas.invalidate_all();
                    while let Some(payload) = rx.recv().await {
                        if fenced {
                            raise_fence(&client, &cache).await;
                        }
                        apply(&cache, &schemas, &payload).await;
                    }
                }
                driver.abort();
            }
            Err(e) => tracing::debug!(error = %e, "tile change listener cannot connect yet"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Raises the cache's fence to the primary's WAL position now, which is past the commit of
/// the notifying change (notifications are delivered after the commit). When the position
/// cannot be had the connection is gone: the listener connects again and clears the cache.
async fn raise_fence(client: &tokio_postgres::Client, cache: &TileCache) {
    match client
        .query_one("SELECT (pg_current_wal_lsn() - '0/0')::bigint", &[])
        .await
    {
        Ok(row) => cache.raise_fence(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)),
        Err(e) => tracing::warn!(error = %e, "cannot read the primary's WAL position"),
    }
}

async fn apply(cache: &TileCache, schemas: &SchemaCache, payload: &str) {
    let Ok(v) = serde_json::from_str::<Value>(payload) else {
        return;
    };
    let Some(collection) = v.get("collection").and_then(Value::as_str) else {
        return;
    };
    let bbox = v.get("bbox").and_then(Value::as_array).and_then(|b| {
        let n: Vec<f64> = b.iter().filter_map(Value::as_f64).collect();
        <[f64; 4]>::try_from(n).ok()
    });
    tracing::debug!(collection, ?bbox, "evicting changed tiles");
    if bbox.is_none() {
        // The whole collection changed (an import): its columns and extent may have too.
        schemas.invalidate(collection).await;
    }
    cache.invalidate(collection, bbox);
}
