//! The HTTP server loop: like `axum::serve`, but a single client cannot hold the server's
//! connections or file descriptors.
//!
//! - A request's headers must arrive within `server.header_timeout_secs` (slow senders).
//! - A connection with no request running and no byte moving for `server.idle_timeout_secs`
//!   is closed (idle keep-alive connections, and connections that never send anything).
//! - A request's body must arrive within `server.body_timeout_secs` (a layer in
//!   [`crate::http::finish`]).
//! - At most `server.max_connections` are open; further clients wait in the listen queue.
//! - On shutdown, running requests get `server.shutdown_grace_secs` to finish.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower::ServiceExt as _;

use crate::config::ServerConfig;

/// What a connection is doing: the last time a byte moved, and the requests being answered.
#[derive(Debug)]
struct Activity {
    started: Instant,
    last_ms: AtomicU64,
    running: AtomicUsize,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            running: AtomicUsize::new(0),
        })
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

/// A TCP stream that notes every byte moved.
struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Counts a request as running until its response head is ready (its body then moves bytes).
struct Running(Arc<Activity>);

impl Running {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.running.fetch_add(1, Ordering::AcqRel);
        Self(activity.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

/// Serves `app` on `listener` until `shutdown` completes (see the module documentation).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    config: &ServerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(config.header_timeout_secs.max(1)));
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let idle_limit = Duration::from_secs(config.idle_timeout_secs.max(1));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let open = Arc::new(AtomicUsize::new(0));
    let all_closed = Arc::new(tokio::sync::Notify::new());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment, do not spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Responses are streamed in chunks: without TCP_NODELAY, Nagle's algorithm and delayed
        // ACKs add 40 ms to every response.
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        activity.touch();
        let io = TokioIo::new(Tracked {
            stream,
            activity: activity.clone(),
        });
        let service = {
            let (app, activity) = (app.clone(), activity.clone());
            hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                let running = Running::start(&activity);
                let app = app.clone();
                // Who is asking: only ever used hashed (crate::client).
                request.extensions_mut().insert(crate::client::Peer(peer));
                async move {
                    let response = app.oneshot(request.map(axum::body::Body::new)).await;
                    drop(running);
                    response
                }
            })
        };
        let builder = builder.clone();
        let mut stop = stop_rx.clone();
        let (open, all_closed) = (open.clone(), all_closed.clone());
        open.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            let connection = builder.serve_connection_with_upgrades(io, service);
            let mut connection = std::pin::pin!(connection);
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut closing = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = tick.tick(), if !closing => {
                        let idle = activity.running.load(Ordering::Acquire) == 0
                            && activity.idle_for() >= idle_limit;
                        if idle {
                            closing = true;
                            connection.as_mut().graceful_shutdown();
                        }
                    }
                    _ = stop.changed(), if !closing => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(slot);
            if open.fetch_sub(1, Ordering::AcqRel) == 1 {
                all_closed.notify_waiters();
            }
        });
    }
    drop(listener);
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    tracing::info!(
        "shutting down: finishing running requests (at most {} s)",
        grace.as_secs()
    );
    let _ = stop_tx.send(true);
    let drained = async {
        while open.load(Ordering::Acquire) > 0 {
            let notified = all_closed.notified();
            if open.load(Ordering::Acquire) == 0 {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    };
    if tokio::time::timeout(grace, drained).await.is_err() {
        tracing::warn!("requests still running after the grace period; stopping anyway");
    }
}
