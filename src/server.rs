//! Starting and stopping a Flowly node: connect to PostgreSQL and Redis, serve the API and the
//! metrics endpoint, and drain connections on shutdown. How connections are accepted, capped per
//! address and timed out is [`connections`].

pub mod admission;
pub mod connections;

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{Router, routing::get};
use tokio::net::TcpListener;

use crate::{
    api,
    app::Notifiers,
    assistant::queue::IndexHints,
    config::Config,
    realtime::{hub::Hub, presence},
    state::AppState,
    store, telemetry,
};

/// Connects to the services a node needs and applies pending migrations.
pub async fn connect(config: Config) -> anyhow::Result<AppState> {
    let db = store::connect(&config.database)
        .await
        .context("cannot connect to PostgreSQL (database.url)")?;
    store::migrate(&db)
        .await
        .context("cannot apply database migrations")?;
    let client = redis::Client::open(config.redis.url.expose()).context("invalid redis.url")?;
    // Bounded: a node whose Redis is away fails to start within seconds, with a clear error,
    // and a Redis that stops answering fails requests instead of hanging them.
    let redis_config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(3))
        .set_response_timeout(Duration::from_secs(5))
        .set_number_of_retries(3)
        // redis 0.27 grows the reconnect delay by `factor` (100 by default) from 1 s: a Redis
        // away for two seconds made every command wait 100 s for the next attempt (found by
        // scripts/faults-test.sh). Attempts at most a second apart; after the last one fails,
        // the next command starts over.
        .set_factor(2)
        .set_max_delay(1000);
    let connecting = redis::aio::ConnectionManager::new_with_config(client.clone(), redis_config);
    let redis = tokio::time::timeout(Duration::from_secs(10), connecting)
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))
        .and_then(|r| r.map_err(anyhow::Error::from))
        .context("cannot connect to Redis (redis.url)")?;
    let metrics = telemetry::Metrics::new().context("cannot register metrics")?;
    let (shutdown, stopping) = tokio::sync::watch::channel(false);
    let node_id = uuid::Uuid::now_v7();
    let hub = Hub::start(
        db.clone(),
        redis.clone(),
        client,
        node_id,
        &config.redis.key_prefix,
        config.realtime.session_check_secs,
        stopping.clone(),
    )
    .await
    .context("cannot subscribe to Redis for real-time fan-out")?;
    let notify = Arc::new(Notifiers(vec![
        hub.clone(),
        Arc::new(IndexHints {
            redis: redis.clone(),
            prefix: config.redis.key_prefix.clone(),
        }),
    ]));
    let admission = Arc::new(admission::Admission::new(
        (
            config.server.max_requests_in_flight,
            Duration::from_millis(config.server.request_queue_ms),
        ),
        (
            config.realtime.max_connecting,
            Duration::from_millis(config.realtime.connect_queue_ms),
        ),
    ));
    let push = crate::app::push::Pusher::start(&db, &config.push)
        .await
        .context("cannot load the VAPID key (push.vapid_private_key)")?;
    let state = AppState {
        push: Arc::new(push),
        db,
        redis,
        config: Arc::new(config),
        metrics: Arc::new(metrics),
        hub,
        notify,
        node_id,
        admission,
        shutdown: Arc::new(shutdown),
    };
    tokio::spawn(sweep_presence(state.clone(), stopping.clone()));
    tokio::spawn(sweep_unsent_uploads(state.clone(), stopping));
    Ok(state)
}

/// Deletes uploads never sent with a message, `attachments.unsent_ttl_secs` after the upload.
async fn sweep_unsent_uploads(state: AppState, mut stopping: tokio::sync::watch::Receiver<bool>) {
    let ttl = state.config.attachments.unsent_ttl_secs;
    if ttl == 0 {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(ttl.min(3600)));
    loop {
        tokio::select! {
            _ = crate::realtime::stopped(&mut stopping) => return,
            _ = tick.tick() => {
                let older_than = Duration::from_secs(ttl);
                if let Err(e) = crate::app::attachments::sweep_unsent(&state, older_than).await {
                    tracing::warn!(error = %e, "sweep of unsent uploads failed");
                }
            }
        }
    }
}

/// Announces users offline whose sockets died with another node.
async fn sweep_presence(state: AppState, mut stopping: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(
        state.config.realtime.heartbeat_secs.max(1),
    ));
    loop {
        tokio::select! {
            _ = crate::realtime::stopped(&mut stopping) => return,
            _ = tick.tick() => {
                if let Err(e) = presence::sweep(&state).await {
                    tracing::warn!(error = %e, "presence sweep failed");
                }
            }
        }
    }
}

/// Serves the API on `listener` and metrics on `metrics_listener` until `shutdown` resolves,
/// then gives in-flight requests `server.shutdown_grace_secs` to finish. Both listeners get the
/// connection limits of `[server]` (header and keep-alive timeouts, the per-address cap).
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    metrics_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = Duration::from_secs(state.config.server.shutdown_grace_secs);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let metrics_app = Router::new()
        .route("/metrics", get(telemetry::metrics_handler))
        .with_state(state.clone());
    let node_shutdown = state.shutdown.clone();
    let limits = connections::Limits::from_config(&state.config.server);
    if state.config.server.trust_forwarded_for && state.config.server.max_connections_per_ip > 0 {
        tracing::info!(
            "trust_forwarded_for: every peer is the trusted proxy; no per-address connection cap"
        );
    }
    let registry = state.metrics.clone();
    let app = api::app(state);
    tracing::info!(api = %listener.local_addr()?, metrics = %metrics_listener.local_addr()?, "flowly serving");

    let api = {
        let (limits, registry, stop) = (limits.clone(), registry.clone(), stop_rx.clone());
        async move { connections::serve(listener, app, limits, &registry, "api", stop).await }
    };
    let metrics = async move {
        connections::serve(
            metrics_listener,
            metrics_app,
            limits,
            &registry,
            "metrics",
            stop_rx,
        )
        .await
    };
    let api = tokio::spawn(api);
    let metrics = tokio::spawn(metrics);

    shutdown.await;
    // Sockets close first (1001, "reconnect and resume"), so clients move to another node.
    let _ = node_shutdown.send(true);
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: draining connections"
    );
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(grace, async {
        let _ = api.await;
        let _ = metrics.await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!("shutdown grace period over; closing remaining connections");
    }
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
