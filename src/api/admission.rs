//! The answer of load shedding ([`crate::server::admission`]) to a request over
//! `server.max_requests_in_flight`: 503 `overloaded` with a `Retry-After`. (A socket over
//! `realtime.max_connecting` is refused by the upgrade handler with close code 1013.)

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::ApiError;
use crate::{domain::ErrorCode, server::admission::Overloaded, state::AppState};

impl From<Overloaded> for ApiError {
    fn from(refused: Overloaded) -> Self {
        ApiError::new(
            ErrorCode::Overloaded,
            "this node is at capacity; retry after a few seconds",
        )
        .with_retry_after(refused.retry_after)
    }
}

/// Routes outside the request limit: the stream has its own, and the health checks must answer
/// a load balancer even when the node is full.
pub(super) const OUTSIDE_THE_LIMIT: &[&str] = &["/api/v1/ws", "/healthz", "/readyz"];

/// Middleware: admits a request within `server.max_requests_in_flight` (after a wait in line of at
/// most `server.request_queue_ms`), or refuses it.
pub async fn admit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    if route.is_some_and(|route| OUTSIDE_THE_LIMIT.contains(&route)) {
        return next.run(req).await;
    }
    match state.admission.request().await {
        Ok(_place) => next.run(req).await,
        Err(refused) => {
            state.metrics.shed("request");
            ApiError::from(refused).into_response()
        }
    }
}
