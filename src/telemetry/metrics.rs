//! The Prometheus metrics of a Flowly process (`flowly serve` and `flowly worker` alike), served
//! at `/metrics` on a listener of their own. Every label is bounded: route templates, never raw
//! paths or ids; frame types and close codes from fixed lists. Counters whose label values are
//! known up front start at zero, so a rate reads 0 (not "no data") until the first event.

use std::time::{Duration, Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder, core::Collector,
};
use sqlx::PgPool;

/// Types of the frames a server writes to a socket (the `type` label of outgoing frames).
pub const WS_OUT_FRAME_TYPES: &[&str] = &[
    "hello",
    "resumed",
    "event",
    "replay",
    "ephemeral",
    "ack",
    "error",
    "pong",
    "ping",
];

/// Why a socket got events from the log rather than live (the `reason` label of replays).
pub const WS_REPLAY_REASONS: &[&str] = &["resume", "gap", "join"];

/// Outcomes of an assistant job.
pub const JOB_OUTCOMES: &[&str] = &["done", "failed", "retried", "dead"];

/// The assistant's streams.
pub const JOB_STREAMS: &[&str] = &["requests", "index"];

/// Argon2 work done by this process, by `op` (`hash`: a password hashed; `verify`: a password
/// checked against a hash). Process-wide rather than a field of [`Metrics`]: passwords are also
/// hashed where no node's state is at hand (`flowly users create`). Every registry made by
/// [`Metrics::new`] reports it.
static PASSWORD_HASHING: std::sync::OnceLock<IntCounterVec> = std::sync::OnceLock::new();

/// Counts one argon2 operation of this process (`op`: `hash` or `verify`).
pub fn count_password_hashing(op: &'static str) {
    if let Some(counter) = PASSWORD_HASHING.get() {
        counter.with_label_values(&[op]).inc();
    }
}

/// The process's Prometheus registry and the metrics Flowly records.
pub struct Metrics {
    pub registry: Registry,
    /// HTTP requests by method, route template and status code.
    pub http_requests: IntCounterVec,
    /// HTTP latency by method and route template.
    pub http_duration: HistogramVec,
    /// HTTP requests being handled right now.
    pub http_in_flight: IntGauge,
    /// TCP connections open, WebSockets included, by `listener` (`api`, `metrics`).
    pub http_connections: IntGaugeVec,
    /// Connections refused at accept (their address was at its cap), by `listener`.
    pub http_connections_refused: IntCounterVec,
    /// Work refused by load shedding (503 `overloaded`), by `kind` (`request`, `socket`).
    pub shed: IntCounterVec,
    /// Connections closed by a timer, by `listener` and `reason` (`header`, `idle`).
    pub http_connections_timed_out: IntCounterVec,
    /// WebSockets open on this node.
    pub ws_open: IntGauge,
    /// WebSockets accepted (authenticated and registered) since start.
    pub ws_opened: IntCounter,
    /// Frames by `direction` (`in`, `out`) and `type`.
    pub ws_frames: IntCounterVec,
    /// From a live room event's commit (`room_events.created_at`) to its write to a socket.
    pub ws_delivery_lag: Histogram,
    /// Resumes that had to replay at least one room from the log.
    pub ws_resume_replays: IntCounter,
    /// Events written from the log instead of live, by reason (`resume`, `gap`, `join`).
    pub ws_replayed_events: IntCounterVec,
    /// Sockets closed, by the close code the server sent (`client`: the client left first).
    pub ws_closes: IntCounterVec,
    /// Assistant jobs not yet done, by stream (`requests`, `index`).
    pub assistant_queue_depth: IntGaugeVec,
    /// Jobs in each stream's dead-letter stream.
    pub assistant_dead_letters: IntGaugeVec,
    /// Assistant jobs handled, by stream and outcome (`done`, `failed`, `retried`, `dead`).
    pub assistant_jobs: IntCounterVec,
    /// Time from a job's delivery to its outcome, by stream.
    pub assistant_job_duration: HistogramVec,
    /// Room events the indexer has not read yet.
    pub assistant_index_lag_events: IntGauge,
    /// Age of the oldest room event the indexer has not read (0 when caught up).
    pub assistant_index_lag_seconds: Gauge,
    /// PostgreSQL pool connections by state (`idle`, `in_use`, `max`).
    pub db_pool: IntGaugeVec,
    /// 1 when the dependency answered the last scrape's check within 2 s, else 0.
    pub dependency_up: IntGaugeVec,
    /// How long the last check of each dependency took.
    pub dependency_latency: GaugeVec,
}

/// Registers `collector` and hands it back.
fn registered<C: Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> Result<C, prometheus::Error> {
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("flowly".into()), None)?;
        let r = &registry;
        let build_info = registered(
            r,
            IntGaugeVec::new(
                Opts::new("build_info", "Always 1; the version of this process"),
                &["version"],
            )?,
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let hashing = match PASSWORD_HASHING.get() {
            Some(counter) => counter.clone(),
            None => {
                let counter = IntCounterVec::new(
                    Opts::new(
                        "password_hashing_total",
                        "Argon2 operations of this process, by op (hash, verify)",
                    ),
                    &["op"],
                )?;
                PASSWORD_HASHING.get_or_init(|| counter).clone()
            }
        };
        let hashing = registered(r, hashing)?;
        for op in ["hash", "verify"] {
            hashing.with_label_values(&[op]);
        }
        let metrics = Metrics {
            http_requests: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "http_requests_total",
                        "HTTP requests by method, route template and status",
                    ),
                    &["method", "route", "status"],
                )?,
            )?,
            http_duration: registered(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "http_request_duration_seconds",
                        "HTTP request latency by method and route template",
                    )
                    .buckets(vec![
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    ]),
                    &["method", "route"],
                )?,
            )?,
            http_in_flight: registered(
                r,
                IntGauge::new(
                    "http_requests_in_flight",
                    "HTTP requests being handled right now",
                )?,
            )?,
            http_connections: registered(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "http_connections",
                        "TCP connections open, WebSockets included, by listener",
                    ),
                    &["listener"],
                )?,
            )?,
            http_connections_refused: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "http_connections_refused_total",
                        "Connections refused at accept: their address was at its cap",
                    ),
                    &["listener"],
                )?,
            )?,
            shed: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "load_shed_total",
                        "Requests and WebSocket upgrades refused with 503 overloaded, by kind",
                    ),
                    &["kind"],
                )?,
            )?,
            http_connections_timed_out: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "http_connections_timed_out_total",
                        "Connections closed by the header read (header) or keep-alive (idle) timeout",
                    ),
                    &["listener", "reason"],
                )?,
            )?,
            ws_open: registered(
                r,
                IntGauge::new("ws_connections", "WebSockets open on this node")?,
            )?,
            ws_opened: registered(
                r,
                IntCounter::new(
                    "ws_connections_opened_total",
                    "WebSockets accepted (authenticated and registered)",
                )?,
            )?,
            ws_frames: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "ws_frames_total",
                        "WebSocket frames by direction (in, out) and type",
                    ),
                    &["direction", "type"],
                )?,
            )?,
            ws_delivery_lag: registered(
                r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "ws_delivery_lag_seconds",
                        "Time from a room event's commit to its write to a socket (live events)",
                    )
                    .buckets(vec![
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0,
                    ]),
                )?,
            )?,
            ws_resume_replays: registered(
                r,
                IntCounter::new(
                    "ws_resume_replays_total",
                    "Socket resumes that replayed at least one room from the event log",
                )?,
            )?,
            ws_replayed_events: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "ws_replayed_events_total",
                        "Room events written from the event log instead of live, by reason",
                    ),
                    &["reason"],
                )?,
            )?,
            ws_closes: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "ws_closes_total",
                        "WebSockets closed, by the close code the server sent (client: the client left)",
                    ),
                    &["code"],
                )?,
            )?,
            assistant_queue_depth: registered(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "assistant_queue_depth",
                        "Assistant jobs waiting or in progress, by stream",
                    ),
                    &["stream"],
                )?,
            )?,
            assistant_dead_letters: registered(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "assistant_dead_letters",
                        "Assistant jobs in the dead-letter stream, by stream",
                    ),
                    &["stream"],
                )?,
            )?,
            assistant_jobs: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "assistant_jobs_total",
                        "Assistant jobs handled, by stream and outcome",
                    ),
                    &["stream", "outcome"],
                )?,
            )?,
            assistant_job_duration: registered(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "assistant_job_duration_seconds",
                        "Assistant job latency from delivery to outcome, by stream",
                    )
                    .buckets(vec![
                        0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
                    ]),
                    &["stream"],
                )?,
            )?,
            assistant_index_lag_events: registered(
                r,
                IntGauge::new(
                    "assistant_index_lag_events",
                    "Room events the assistant's indexer has not read yet",
                )?,
            )?,
            assistant_index_lag_seconds: registered(
                r,
                Gauge::new(
                    "assistant_index_lag_seconds",
                    "Age of the oldest room event the indexer has not read (0 when caught up)",
                )?,
            )?,
            db_pool: registered(
                r,
                IntGaugeVec::new(
                    Opts::new("db_pool_connections", "Database pool connections by state"),
                    &["state"],
                )?,
            )?,
            dependency_up: registered(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "dependency_up",
                        "1 when the dependency answered the scrape's check within 2 s",
                    ),
                    &["dependency"],
                )?,
            )?,
            dependency_latency: registered(
                r,
                GaugeVec::new(
                    Opts::new(
                        "dependency_check_seconds",
                        "How long the scrape's check of the dependency took",
                    ),
                    &["dependency"],
                )?,
            )?,
            registry,
        };
        metrics.start_at_zero();
        Ok(metrics)
    }

    /// Creates the series whose label values are known, so they read 0 before the first event.
    fn start_at_zero(&self) {
        for listener in ["api", "metrics"] {
            self.http_connections.with_label_values(&[listener]);
            self.http_connections_refused.with_label_values(&[listener]);
            for reason in ["header", "idle"] {
                self.http_connections_timed_out
                    .with_label_values(&[listener, reason]);
            }
        }
        for kind in ["request", "socket"] {
            self.shed.with_label_values(&[kind]);
        }
        for kind in crate::realtime::frames::CLIENT_TYPES
            .iter()
            .chain(&["invalid", "binary"])
        {
            self.ws_frames.with_label_values(&["in", kind]);
        }
        for kind in WS_OUT_FRAME_TYPES {
            self.ws_frames.with_label_values(&["out", kind]);
        }
        for reason in WS_REPLAY_REASONS {
            self.ws_replayed_events.with_label_values(&[reason]);
        }
        for code in crate::realtime::socket::close::ALL {
            self.ws_closes.with_label_values(&[&code.to_string()]);
        }
        self.ws_closes.with_label_values(&["client"]);
        for stream in JOB_STREAMS {
            for outcome in JOB_OUTCOMES {
                self.assistant_jobs.with_label_values(&[stream, outcome]);
            }
        }
    }

    /// Counts a frame written to a socket (`kind`: one of [`WS_OUT_FRAME_TYPES`]).
    pub fn ws_frame_out(&self, kind: &'static str) {
        self.ws_frames.with_label_values(&["out", kind]).inc();
    }

    /// Counts a request or a socket refused by load shedding.
    pub fn shed(&self, kind: &'static str) {
        self.shed.with_label_values(&[kind]).inc();
    }

    /// Counts a socket's end: the close code the server sent, or none (the client left).
    pub fn ws_closed(&self, code: Option<u16>) {
        match code {
            Some(code) => self.ws_closes.with_label_values(&[&code.to_string()]).inc(),
            None => self.ws_closes.with_label_values(&["client"]).inc(),
        }
    }

    /// Checks PostgreSQL and Redis (2 s each) and records whether and how fast they answered.
    pub async fn check_dependencies(&self, db: &PgPool, redis: &redis::aio::ConnectionManager) {
        let limit = Duration::from_secs(2);
        let started = Instant::now();
        let pg = tokio::time::timeout(limit, crate::store::ping(db)).await;
        self.record_check("postgres", matches!(pg, Ok(Ok(_))), started);
        let started = Instant::now();
        let mut redis = redis.clone();
        let pong =
            tokio::time::timeout(limit, redis::cmd("PING").query_async::<String>(&mut redis)).await;
        self.record_check("redis", matches!(pong, Ok(Ok(_))), started);
    }

    fn record_check(&self, dependency: &str, up: bool, started: Instant) {
        self.dependency_up
            .with_label_values(&[dependency])
            .set(i64::from(up));
        self.dependency_latency
            .with_label_values(&[dependency])
            .set(started.elapsed().as_secs_f64());
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

/// Decrements the in-flight gauge when the request ends, also when its future is dropped.
struct InFlight<'a>(&'a IntGauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware recording request count, latency and requests in flight by route template (never
/// the raw path).
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
    // Only routed requests get here (`route_layer`): the method is one a route takes.
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    metrics.http_in_flight.inc();
    let in_flight = InFlight(&metrics.http_in_flight);
    let response = next.run(req).await;
    drop(in_flight);
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

/// The `/metrics` handler of the metrics listener (of `flowly serve` and `flowly worker`).
pub async fn metrics_handler(State(state): State<crate::state::AppState>) -> impl IntoResponse {
    state
        .metrics
        .check_dependencies(&state.db, &state.redis)
        .await;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(&state.db),
    )
}
