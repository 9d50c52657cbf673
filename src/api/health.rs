//! `/healthz` (the process answers) and `/readyz` (PostgreSQL and Redis answer too).

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    pub postgres: &'static str,
    pub redis: &'static str,
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()), responses((status = 200, description = "alive")))]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: PostgreSQL and Redis answer.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()), responses(
    (status = 200, body = Health), (status = 503, body = Health)))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let timeout = std::time::Duration::from_secs(2);
    let pg = tokio::time::timeout(timeout, crate::store::ping(&state.db)).await;
    let mut redis = state.redis.clone();
    let rd = tokio::time::timeout(
        timeout,
        redis::cmd("PING").query_async::<String>(&mut redis),
    )
    .await;
    let postgres = if matches!(pg, Ok(Ok(_))) {
        "ok"
    } else {
        "unavailable"
    };
    let redis = if matches!(rd, Ok(Ok(_))) {
        "ok"
    } else {
        "unavailable"
    };
    let ready = postgres == "ok" && redis == "ok";
    let status = if ready { "ok" } else { "unavailable" };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(Health {
            status,
            postgres,
            redis,
        }),
    )
}
