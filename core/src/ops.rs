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

/// Ready when the database answers, its schema is migrated and the imagery folder can be
/// read (when the catalog lists imagery); otherwise a 503 problem that names what is missing
/// (`missing`: `database`, `migrations`, `imagery folder`).
async fn ready(State(state): State<AppState>) -> Result<Response, Problem> {
    let mut missing: Vec<(&str, String)> = Vec::new();
    let check = async {
        let client = state.pool.get().await.map_err(DbError::from)?;
        let row = client
            .query_one(
                "SELECT to_regclass('catalog.imagery') IS NOT NULL
                        AND EXISTS (SELECT 1 FROM catalog.imagery)",
                &[],
            )
            .await
            .map_err(DbError::query("checking readiness"))?;
        Ok::<bool, DbError>(row.get(0))
    };
    let has_imagery = match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(has)) => has,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "not ready");
            missing.push(("database", "the database is not reachable".to_owned()));
            false
        }
        Err(_) => {
            missing.push((
                "database",
                "the database did not answer within 2 seconds".to_owned(),
            ));
            false
        }
    };
    if !state.is_migrated() {
        missing.push((
            "migrations",
            "the database schema is not migrated yet".to_owned(),
        ));
    }
    let imagery = std::path::Path::new(&state.config.imagery.dir);
    if has_imagery && std::fs::read_dir(imagery).is_err() {
        missing.push((
            "imagery folder",
            "the imagery folder (imagery.dir) cannot be read".to_owned(),
        ));
    }
    let pools = pools(&state);
    if missing.is_empty() {
        return Ok(axum::Json(json!({"status": "ready", "pools": pools})).into_response());
    }
    let detail: Vec<String> = missing.iter().map(|(_, why)| why.clone()).collect();
    Err(
        Problem::unavailable(format!("Not ready: {}.", detail.join("; ")))
            .with(
                "missing",
                json!(missing.iter().map(|(what, _)| *what).collect::<Vec<_>>()),
            )
            .with("pools", pools),
    )
}

/// The primary's pool and every replica's (health, lag in ms, connections).
fn pools(state: &AppState) -> serde_json::Value {
    let status = state.pool.status();
    json!({
        "primary": {"connections": status.size, "idle": status.available, "waiting": status.waiting},
        "replicas": state.replicas.describe(),
    })
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
    state.replicas.export_metrics();
    let mut response = metrics_handle().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
