//! The state every request handler and background task shares.

use std::sync::Arc;

use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::{config::Config, telemetry::Metrics};

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub redis: ConnectionManager,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// A Redis key under this deployment's prefix.
    pub fn key(&self, suffix: impl std::fmt::Display) -> String {
        format!("{}{}", self.config.redis.key_prefix, suffix)
    }
}
