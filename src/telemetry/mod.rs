//! Logs (tracing, JSON by default, shipped to LogPilot when configured) and Prometheus
//! metrics, served on their own port.

pub mod ship;

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use sqlx::PgPool;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogConfig, LogFormat};

/// Installs the global tracing subscriber. Call once, at startup.
pub fn init_logging(config: &LogConfig) {
    let filter =
        EnvFilter::try_new(config.level.as_str()).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(ship::layer(config));
    let result = if config.format == LogFormat::Pretty {
        registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init()
    } else {
        registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init()
    };
    // A second init (tests start many servers in one process) keeps the first subscriber.
    drop(result);
}

/// The process's Prometheus registry and the metrics Flowly records.
pub struct Metrics {
    pub registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub db_pool: IntGaugeVec,
    /// Assistant jobs not yet done, by stream (`requests`, `index`).
    pub assistant_queue_depth: IntGaugeVec,
    /// Assistant jobs handled, by stream and outcome (`done`, `failed`, `retried`, `dead`).
    pub assistant_jobs: IntCounterVec,
    /// Time from a job's delivery to its outcome, by stream.
    pub assistant_job_duration: HistogramVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("flowly".into()), None)?;
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route template and status",
            ),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by method and route template",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let db_pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(db_pool.clone()))?;
        let assistant_queue_depth = IntGaugeVec::new(
            Opts::new(
                "assistant_queue_depth",
                "Assistant jobs waiting or in progress, by stream",
            ),
            &["stream"],
        )?;
        let assistant_jobs = IntCounterVec::new(
            Opts::new(
                "assistant_jobs_total",
                "Assistant jobs handled, by stream and outcome",
            ),
            &["stream", "outcome"],
        )?;
        let assistant_job_duration = HistogramVec::new(
            HistogramOpts::new(
                "assistant_job_duration_seconds",
                "Assistant job latency from delivery to outcome, by stream",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
            ]),
            &["stream"],
        )?;
        registry.register(Box::new(assistant_queue_depth.clone()))?;
        registry.register(Box::new(assistant_jobs.clone()))?;
        registry.register(Box::new(assistant_job_duration.clone()))?;
        Ok(Metrics {
            registry,
            http_requests,
            http_duration,
            db_pool,
            assistant_queue_depth,
            assistant_jobs,
            assistant_job_duration,
        })
    }

    /// The text exposition of every metric, refreshing the pool gauges first.
    pub fn render(&self, pool: &PgPool) -> String {
        let idle = pool.num_idle() as i64;
        let size = i64::from(pool.size());
        self.db_pool.with_label_values(&["idle"]).set(idle);
        self.db_pool.with_label_values(&["in_use"]).set(size - idle);
        self.db_pool
            .with_label_values(&["max"])
            .set(i64::from(pool.options().get_max_connections()));
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Middleware recording request count and latency by route template (never the raw path).
pub async fn track_http(
    State(metrics): State<std::sync::Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    metrics
        .http_duration
        .with_label_values(&[&method, &route])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .http_requests
        .with_label_values(&[&method, &route, response.status().as_str()])
        .inc();
    response
}

/// The `/metrics` handler of the metrics listener.
pub async fn metrics_handler(State(state): State<crate::state::AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(&state.db),
    )
}
