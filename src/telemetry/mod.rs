//! Logs (tracing, JSON by default, shipped to LogPilot when configured) and Prometheus
//! metrics, served on their own port.

pub mod ship;

mod metrics;

pub use metrics::{Metrics, count_password_hashing, metrics_handler, track_http};

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
