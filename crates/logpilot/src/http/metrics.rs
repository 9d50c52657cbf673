//! LogPilot's Prometheus metrics. Labels are bounded: channels (at most
//! `limits.max_channels`), consumer groups (at most `limits.max_groups_per_channel` each),
//! rejection codes and route templates (fixed sets).

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use super::{AppState, error::Rejected};
use crate::Broker;

pub struct Metrics {
    pub registry: Registry,
    pub ingest_events: IntCounterVec,
    pub ingest_bytes: IntCounterVec,
    pub duplicate_batches: IntCounterVec,
    pub rejected: IntCounterVec,
    pub consumer_lag: IntGaugeVec,
    pub disk_bytes: IntGaugeVec,
    pub segments: IntGaugeVec,
    pub query_duration: HistogramVec,
    pub http_requests: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("logpilot".into()), None)?;
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(g.clone()))?;
            Ok::<_, prometheus::Error>(g)
        };
        let ingest_events = counter(
            "ingest_events_total",
            "Events stored, by channel",
            &["channel"],
        )?;
        let ingest_bytes = counter(
            "ingest_bytes_total",
            "Bytes of records stored, by channel",
            &["channel"],
        )?;
        let duplicate_batches = counter(
            "duplicate_batches_total",
            "Batches refused as a producer's retry of a stored batch, by channel",
            &["channel"],
        )?;
        let rejected = counter(
            "rejected_requests_total",
            "Requests refused, by error code",
            &["reason"],
        )?;
        let consumer_lag = gauge(
            "consumer_lag",
            "Records between a consumer group's committed offset and the channel's end",
            &["channel", "group"],
        )?;
        let disk_bytes = gauge(
            "disk_bytes",
            "Bytes of segment files, by channel",
            &["channel"],
        )?;
        let segments = gauge("segments", "Segment files, by channel", &["channel"])?;
        let query_duration = HistogramVec::new(
            HistogramOpts::new("query_duration_seconds", "Query latency, by endpoint").buckets(
                vec![
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ],
            ),
            &["endpoint"],
        )?;
        registry.register(Box::new(query_duration.clone()))?;
        let http_requests = counter(
            "http_requests_total",
            "HTTP requests by route template and status",
            &["route", "status"],
        )?;
        Ok(Metrics {
            registry,
            ingest_events,
            ingest_bytes,
            duplicate_batches,
            rejected,
            consumer_lag,
            disk_bytes,
            segments,
            query_duration,
            http_requests,
        })
    }

    /// The text exposition, refreshing the gauges from the channels first.
    pub fn render(&self, broker: &Broker) -> String {
        self.consumer_lag.reset();
        self.disk_bytes.reset();
        self.segments.reset();
        for channel in broker.channels() {
            let stats = channel.stats();
            self.disk_bytes
                .with_label_values(&[&channel.name])
                .set(stats.bytes as i64);
            self.segments
                .with_label_values(&[&channel.name])
                .set(stats.segments as i64);
            for (group, offset) in channel.groups() {
                let lag = stats.latest.saturating_sub(offset.max(stats.earliest));
                self.consumer_lag
                    .with_label_values(&[&channel.name, &group])
                    .set(lag as i64);
            }
        }
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Counts requests by route template and status, and rejections by code.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let response = next.run(req).await;
    if let Some(Rejected(code)) = response.extensions().get::<Rejected>() {
        state.metrics.rejected.with_label_values(&[code]).inc();
    }
    state
        .metrics
        .http_requests
        .with_label_values(&[&route, response.status().as_str()])
        .inc();
    if route.starts_with("/loki/api/v1/query") {
        state
            .metrics
            .query_duration
            .with_label_values(&[&route])
            .observe(started.elapsed().as_secs_f64());
    }
    response
}
