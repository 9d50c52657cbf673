//! The HTTP API under `/api/v1`: one module per resource, each exposing `router()`, assembled here
//! with the OpenAPI document, health checks and the middleware stack.

pub mod admission;
pub mod assistant;
mod attachments;
mod auth;
mod error;
pub mod extract;
mod friends;
mod headers;
mod health;
mod invites;
mod me;
pub mod messages;
mod openapi;
mod push;
mod rooms;
mod stream;
pub mod tasks;
mod users;

use crate::domain::ErrorCode;
use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, Request, StatusCode},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    classify::ServerErrorsFailureClass,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use error::{ApiError, ApiResult, ErrorBody};
pub use extract::{ApiJson, ApiPath, ApiQuery, CurrentUser};

use crate::{state::AppState, telemetry};

/// The API routes and their OpenAPI document.
pub fn api_router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::new()
        .merge(auth::router())
        .merge(me::router())
        .merge(users::router())
        .merge(friends::router())
        .merge(rooms::router())
        .merge(messages::router())
        .merge(tasks::router())
        .merge(assistant::router())
        .merge(attachments::router())
        .merge(invites::router())
        .merge(push::router())
        .routes(utoipa_axum::routes!(stream::ws_handler));
    let (routes, mut document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/api/v1", api)
        .merge(health::router())
        .split_for_parts();
    openapi::CommonResponses.modify(&mut document);
    (routes, document)
}

/// The whole application: API, health checks, middleware.
pub fn app(state: AppState) -> Router {
    let (routes, openapi) = api_router();
    let openapi = Arc::new(openapi);
    let request_id = HeaderName::from_static("x-request-id");
    routes
        .route("/api/v1/openapi.json", get(move || async move { Json(openapi.as_ref().clone()) }))
        .route_layer(middleware::from_fn_with_state(state.clone(), admission::admit))
        .route_layer(middleware::from_fn_with_state(state.metrics.clone(), telemetry::track_http))
        .fallback_service(web_client(&state.config.server.web_dir))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.limits.max_body_bytes))
        .layer(middleware::from_fn(time_limit))
        .layer(CatchPanicLayer::custom(|_| ApiError::internal("handler panicked").into_response()))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                .on_failure(log_failure),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::from_fn(headers::security_headers))
        .with_state(state)
}

/// Logs a failed response, except a 503: that is load shed (counted in `flowly_load_shed_total`;
/// an overloaded node logging every refusal as an error would spend on its log what it saves by
/// refusing), a dependency away (logged with its cause where it happened) or a request over its
/// time limit (logged by `time_limit`).
fn log_failure(class: ServerErrorsFailureClass, latency: Duration, _span: &tracing::Span) {
    if matches!(
        class,
        ServerErrorsFailureClass::StatusCode(StatusCode::SERVICE_UNAVAILABLE)
    ) {
        return;
    }
    tracing::error!(classification = %class, latency_ms = latency.as_millis() as u64, "response failed");
}

/// Requests get 30 seconds; past that the client gets a JSON 503 instead of waiting on. An upload
/// of an attachment gets 10 minutes: its body streams as fast as the client's line allows.
async fn time_limit(req: axum::extract::Request, next: middleware::Next) -> Response {
    let upload =
        req.method() == axum::http::Method::POST && req.uri().path().ends_with("/attachments");
    let limit = Duration::from_secs(if upload { 600 } else { 30 });
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            // The trace layer does not log 503s (see `log_failure`): say it here.
            tracing::warn!(limit_secs = limit.as_secs(), "request over its time limit");
            ApiError::new(ErrorCode::Timeout, "the request took too long; try again")
                .into_response()
        }
    }
}

/// Everything outside the API: the web client's files, with `index.html` for the client's own
/// routes (`/rooms/...`). Unknown API paths stay JSON 404s.
fn web_client(dir: &str) -> axum::routing::MethodRouter {
    let dir = std::path::PathBuf::from(dir);
    let files = tower_http::services::ServeDir::new(&dir)
        .precompressed_gzip()
        .fallback(tower_http::services::ServeFile::new(dir.join("index.html")));
    axum::routing::any(move |req: axum::extract::Request| {
        let files = files.clone();
        let dir = dir.clone();
        async move {
            let path = req.uri().path();
            if path.starts_with("/api/") || !dir.join("index.html").is_file() {
                return not_found().await;
            }
            match tower::ServiceExt::oneshot(files, req).await {
                Ok(response) => response.into_response(),
                Err(e) => ApiError::internal(e).into_response(),
            }
        }
    })
}

async fn not_found() -> Response {
    ApiError::new(
        ErrorCode::RouteNotFound,
        "no such endpoint; see /api/v1/openapi.json",
    )
    .into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take that method",
    )
    .into_response()
}

/// Page size from a query (`limit`), defaulting to `default` and refusing more than the maximum.
pub fn page_size(state: &AppState, requested: Option<i64>, default: i64) -> ApiResult<i64> {
    Ok(crate::app::limits::page_size(state, requested, default)?)
}
