//! Streaming query results into an HTTP body: rows are turned into bytes as they arrive and
//! handed to the client in 64 KiB chunks, so memory stays flat whatever the size; when the
//! client goes away, the query is cancelled.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use futures_util::StreamExt as _;
use tokio_postgres::{NoTls, Row, RowStream};

use crate::db::PooledClient;

/// Bytes handed to the body at once.
pub const CHUNK: usize = 64 * 1024;

/// A body of `head`, every row through `row` (told whether it is the first), and `tail`.
pub fn rows_body<F>(client: PooledClient, rows: RowStream, head: Bytes, tail: Bytes, row: F) -> Body
where
    F: Fn(&Row, bool) -> Vec<u8> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(16);
    let cancel = client.cancel_token();
    tokio::spawn(async move {
        let mut rows = std::pin::pin!(rows);
        let mut buffer = Vec::with_capacity(CHUNK);
        buffer.extend_from_slice(&head);
        let mut first = true;
        let mut complete = true;
        while let Some(next) = rows.next().await {
            let Ok(r) = next else {
                tracing::error!("reading rows failed mid-stream");
                complete = false;
                break;
            };
            buffer.extend_from_slice(&row(&r, first));
            first = false;
            if buffer.len() >= CHUNK
                && sender
                    .send(Bytes::from(std::mem::take(&mut buffer)))
                    .await
                    .is_err()
            {
                let _ = cancel.cancel_query(NoTls).await;
                return;
            }
        }
        if complete {
            buffer.extend_from_slice(&tail);
        }
        let _ = sender.send(Bytes::from(buffer)).await;
        drop(client);
    });
    Body::from_stream(futures_util::stream::unfold(receiver, |mut rx| async {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    }))
}
