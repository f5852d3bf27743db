//! Operational endpoints: `/health` (the process is alive), `/ready` (the database answers and
//! is migrated) and `/metrics` (Prometheus text).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::db::DbError;
use crate::problem::Problem;
use crate::state::AppState;
use crate::telemetry::metrics_handle;

/// How long `/ready` waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn health() -> Response {
    axum::Json(json!({"status": "alive"})).into_response()
}

async fn ready(State(state): State<AppState>) -> Result<Response, Problem> {
    let check = async {
        let client = state.pool.get().await.map_err(DbError::from)?;
        client
            .query_one("SELECT 1", &[])
            .await
            .map_err(DbError::query("checking readiness"))?;
        Ok::<_, DbError>(())
    };
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(())) if state.is_migrated() => {
            Ok(axum::Json(json!({"status": "ready"})).into_response())
        }
        Ok(Ok(())) => Err(Problem::unavailable(
            "The database answers but its schema is not migrated yet.",
        )),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "not ready");
            Err(Problem::unavailable("The database is not reachable."))
        }
        Err(_) => Err(Problem::unavailable(
            "The database did not answer within 2 seconds.",
        )),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let status = state.pool.status();
    #[allow(clippy::cast_precision_loss)]
    {
        metrics::gauge!("db_pool_max_connections").set(status.max_size as f64);
        metrics::gauge!("db_pool_connections").set(status.size as f64);
        metrics::gauge!("db_pool_idle_connections").set(status.available as f64);
        metrics::gauge!("db_pool_waiting_requests").set(status.waiting as f64);
    }
    let mut response = metrics_handle().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
