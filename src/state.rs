//! The state every request handler and background task shares.

use std::sync::Arc;

use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::{
    app::Notifier, config::Config, realtime::hub::Hub, server::admission::Admission,
    telemetry::Metrics,
};

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub redis: ConnectionManager,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// This node's real-time hub (its sockets).
    pub hub: Arc<Hub>,
    /// Who hears about changes: the hub, then the assistant's index hints.
    pub notify: Arc<dyn Notifier>,
    /// Sends Web Push notifications (the VAPID key, the push services' client).
    pub push: Arc<crate::app::push::Pusher>,
    /// Identifies this process among the nodes.
    pub node_id: uuid::Uuid,
    /// The node's load-shedding limits (requests in flight, sockets connecting).
    pub admission: Arc<Admission>,
    /// Set to true when the node shuts down; long-lived tasks (sockets) watch it.
    pub shutdown: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    /// A Redis key under this deployment's prefix.
    pub fn key(&self, suffix: impl std::fmt::Display) -> String {
        format!("{}{}", self.config.redis.key_prefix, suffix)
    }
}
