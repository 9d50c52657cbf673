//! The worker's loops: requests (run concurrently, up to `worker_concurrency`), index hints
//! (in order) and the periodic sweep that queues rooms the indexer is behind on. Reads reclaim
//! deliveries left idle by other consumers first.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::sync::{Semaphore, watch};

use super::Worker;
use crate::{
    assistant::{
        index::Indexer,
        queue::{self, Consumer, Delivery, Job, Stream},
    },
    store,
};

impl Worker {
    pub(super) async fn request_loop(
        self,
        mut consumer: Consumer,
        mut stopping: watch::Receiver<bool>,
    ) {
        let slots = Arc::new(Semaphore::new(
            self.state.config.assistant.worker_concurrency,
        ));
        // Deliveries this worker is running: one that comes back through a reclaim (it sat idle
        // past `reclaim_idle_ms` because its run was slowed down) is still ours and alive, so it
        // is not started a second time.
        let running: Arc<Mutex<HashSet<String>>> = Arc::default();
        loop {
            let free = slots.available_permits().max(1);
            let Some(deliveries) =
                next_deliveries(&mut consumer, free, &mut stopping, "assistant requests").await
            else {
                return;
            };
            for delivery in deliveries {
                if !lock(&running).insert(delivery.id.clone()) {
                    continue;
                }
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let worker = self.clone();
                let consumer = consumer.on(self.redis.clone());
                let running = Arc::clone(&running);
                tokio::spawn(async move {
                    let id = delivery.id.clone();
                    worker.handle_request(consumer, delivery).await;
                    lock(&running).remove(&id);
                    drop(permit);
                });
            }
        }
    }

    pub(super) async fn index_loop(
        self,
        mut consumer: Consumer,
        indexer: Indexer,
        mut stopping: watch::Receiver<bool>,
    ) {
        loop {
            let Some(deliveries) =
                next_deliveries(&mut consumer, 8, &mut stopping, "index jobs").await
            else {
                return;
            };
            for delivery in deliveries {
                self.handle_index(&mut consumer, &indexer, delivery).await;
            }
        }
    }

    /// Queues rooms whose events the indexer has not read (hints lost or never sent), and sets the
    /// index-lag gauges from the same scan.
    pub(super) async fn sweep_loop(self, mut stopping: watch::Receiver<bool>) {
        let every = Duration::from_secs(self.state.config.assistant.index_sweep_secs);
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = crate::realtime::stopped(&mut stopping) => return,
                _ = tick.tick() => {}
            }
            match store::knowledge::behind(&self.state.db, 1000).await {
                Ok(behind) => {
                    let metrics = &self.state.metrics;
                    metrics.assistant_index_lag_events.set(behind.events);
                    metrics.assistant_index_lag_seconds.set(behind.oldest_secs);
                    // Straight onto the stream: the room's hint marker may belong to a hint
                    // that was lost, and duplicates are cheap (the cursor makes them no-ops).
                    let mut redis = self.redis.clone();
                    for room in behind.rooms {
                        let job = Job::Index { room, full: false };
                        if let Err(e) = queue::enqueue(&mut redis, &self.prefix, &job).await {
                            tracing::warn!(error = %e, "index sweep cannot queue a room");
                            break;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "index sweep failed"),
            }
        }
    }

    /// Refreshes the queue gauges every few seconds: depths and dead letters, from Redis (the
    /// index lag comes with each sweep). Every worker reports the same values.
    pub(super) async fn gauge_loop(self, mut stopping: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(GAUGE_EVERY);
        let metrics = &self.state.metrics;
        loop {
            tokio::select! {
                _ = crate::realtime::stopped(&mut stopping) => return,
                _ = tick.tick() => {}
            }
            let mut redis = self.redis.clone();
            for stream in [Stream::Requests, Stream::Index] {
                let depth: redis::RedisResult<i64> =
                    redis::AsyncCommands::xlen(&mut redis, stream.key(&self.prefix)).await;
                let dead: redis::RedisResult<i64> =
                    redis::AsyncCommands::xlen(&mut redis, stream.dead_key(&self.prefix)).await;
                match (depth, dead) {
                    (Ok(depth), Ok(dead)) => {
                        metrics
                            .assistant_queue_depth
                            .with_label_values(&[stream.name()])
                            .set(depth);
                        metrics
                            .assistant_dead_letters
                            .with_label_values(&[stream.name()])
                            .set(dead);
                    }
                    (Err(e), _) | (_, Err(e)) => {
                        tracing::warn!(error = %e, "cannot read the assistant's queue depth")
                    }
                }
            }
        }
    }
}

fn lock(running: &Mutex<HashSet<String>>) -> MutexGuard<'_, HashSet<String>> {
    running.lock().unwrap_or_else(|e| e.into_inner())
}

/// How often a worker refreshes its gauges.
const GAUGE_EVERY: Duration = Duration::from_secs(5);

/// Up to `count` deliveries, waiting a second at most; `None` once the worker stops. A failed
/// read is logged and, after a pause, answered with none.
async fn next_deliveries(
    consumer: &mut Consumer,
    count: usize,
    stopping: &mut watch::Receiver<bool>,
    what: &str,
) -> Option<Vec<Delivery>> {
    let read = tokio::select! {
        _ = crate::realtime::stopped(stopping) => return None,
        r = consumer.read(count, Duration::from_millis(1000)) => r,
    };
    match read {
        Ok(deliveries) => Some(deliveries),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read {what}; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some(Vec::new())
        }
    }
}
