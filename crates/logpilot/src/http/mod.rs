//! LogPilot's HTTP API: the native broker API under `/api/v1/channels`, Loki's API under
//! `/loki/api/v1`, `/metrics` and `/ready`.

pub mod auth;
pub mod error;
pub mod loki;
pub mod loki_proto;
pub mod metrics;
pub mod native;
pub mod times;

use std::{future::Future, sync::Arc};

use axum::{
    Router,
    body::Body,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
};
use tokio::{net::TcpListener, sync::watch};

use crate::{Broker, Config};
use error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub broker: Arc<Broker>,
    pub auth: Arc<auth::Auth>,
    pub metrics: Arc<metrics::Metrics>,
    /// Turns true when the server shuts down (tails close).
    pub shutdown: watch::Receiver<bool>,
}

impl AppState {
    /// State over an open broker; `shutdown` ends the tails.
    pub fn new(
        broker: Arc<Broker>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, prometheus::Error> {
        let config = broker.config();
        let auth = auth::Auth::new(config.keys.clone(), config.rate_per_sec, config.rate_burst);
        Ok(AppState {
            auth: Arc::new(auth),
            metrics: Arc::new(metrics::Metrics::new()?),
            broker,
            shutdown,
        })
    }
}

/// Reads a body of at most `limit` bytes (413 `payload_too_large` past it).
pub async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // axum reports the limit as `http_body_util::LengthLimitError`, "length limit exceeded".
        let too_big = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
            .any(|e| e.to_string().contains("length limit"));
        if too_big {
            ApiError::too_large(format!("the body is larger than {limit} bytes"))
        } else {
            ApiError::bad_request("invalid_body", format!("cannot read the body: {e}"))
        }
    })
}

async fn ready() -> &'static str {
    "ready"
}

async fn metrics_handler(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&state.broker),
    )
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

/// Every route of the broker.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/channels", get(native::list))
        .route(
            "/api/v1/channels/{channel}/events",
            post(native::ingest).get(native::fetch),
        )
        .route(
            "/api/v1/channels/{channel}/consumers/{group}",
            get(native::position),
        )
        .route(
            "/api/v1/channels/{channel}/consumers/{group}/commit",
            post(native::commit),
        )
        .route(
            "/api/v1/channels/{channel}/consumers/{group}/seek",
            post(native::seek),
        )
        .route("/loki/api/v1/push", post(loki::push))
        .route("/loki/api/v1/query_range", get(loki::query_range))
        .route("/loki/api/v1/query", get(loki::query))
        .route("/loki/api/v1/labels", get(loki::labels))
        .route("/loki/api/v1/label/{name}/values", get(loki::label_values))
        .route("/loki/api/v1/series", get(loki::series))
        .route("/loki/api/v1/index/stats", get(loki::index_stats))
        .route("/loki/api/v1/tail", get(loki::tail))
        .route("/loki/api/v1/status/buildinfo", get(loki::buildinfo))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics_handler))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}

/// Why the broker could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the log storage: {0}")]
    Open(std::io::Error),
    #[error("cannot set up metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Opens the broker in `config.data_dir` and serves its API on `listener` until `shutdown`
/// completes; then stops accepting, closes tails, lets requests finish and syncs the storage.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    if config.keys.is_empty() {
        tracing::warn!(
            "no LogPilot API keys configured: the API is open to anyone who can reach it"
        );
    }
    let broker = tokio::task::spawn_blocking(move || Broker::open(config))
        .await
        .map_err(|e| ServeError::Open(std::io::Error::other(e)))?
        .map_err(ServeError::Open)?;
    let broker = Arc::new(broker);
    let (stop_tx, stop_rx) = watch::channel(false);
    let state = AppState::new(Arc::clone(&broker), stop_rx.clone())?;
    let maintenance = tokio::spawn(Arc::clone(&broker).run_maintenance(stop_rx));
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "LogPilot listening");
    }
    let stop = stop_tx.clone();
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop.send(true);
        })
        .await;
    let _ = stop_tx.send(true);
    let _ = maintenance.await;
    served.map_err(ServeError::Serve)
}
