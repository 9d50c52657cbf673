//! `flowly worker`: consumes the assistant's job streams. Index hints keep `knowledge_chunks`
//! current; requests (ask, summary, extract) are answered, stored in `assistant_requests`,
//! streamed to the asker's sockets on every node (through Redis, as the hub fans out
//! user-ephemeral frames), and, when asked, posted into the room as an assistant message.
//!
//! [`loops`] read the streams; [`jobs`] runs what they read and settles it (retry, dead letter);
//! [`answer`] writes answers and summaries, [`extract`] proposes tasks.

mod answer;
mod extract;
mod jobs;
mod loops;

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;
use uuid::Uuid;

use super::{
    Embedder, Generator,
    index::Indexer,
    queue::{self, Consumer, Job, Stream},
    retrieve,
};
use crate::{
    state::AppState,
    store::{
        self,
        assistant::{Citation, SourceMessage},
    },
};

/// The configured models, or why each is not available.
#[derive(Clone)]
pub struct Backends {
    pub embedder: Result<Arc<dyn Embedder>, String>,
    pub generator: Result<Arc<dyn Generator>, String>,
}

impl Backends {
    /// Loads the configured backends; a failure is kept (and reported) rather than fatal, so a
    /// worker without models still fails requests clearly instead of leaving them queued.
    pub fn load(config: &crate::config::AssistantConfig) -> Backends {
        Backends {
            embedder: super::models::embedder(&config.models()).map_err(|e| e.to_string()),
            generator: super::models::generator(&config.models()).map_err(|e| e.to_string()),
        }
    }

    /// Problems to report at startup, one line each.
    pub fn problems(&self) -> Vec<String> {
        [self.embedder.as_ref().err(), self.generator.as_ref().err()]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

/// A running worker. [`WorkerHandle::stop`] stops it and waits for its loops to finish; dropping
/// the handle also stops it (the loops see the stop channel close) but does not wait.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl WorkerHandle {
    /// Stops reading jobs and waits (bounded) for the loops to end. Jobs in progress that do
    /// not finish stay unacknowledged and are reclaimed by another worker.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

#[derive(Clone)]
struct Worker {
    state: AppState,
    backends: Backends,
    prefix: String,
    redis: redis::aio::ConnectionManager,
}

/// A Redis connection of its own (consumers block on reads).
async fn connection(state: &AppState) -> anyhow::Result<redis::aio::ConnectionManager> {
    let client = redis::Client::open(state.config.redis.url.expose())?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(3))
        .set_response_timeout(Duration::from_secs(10))
        .set_number_of_retries(3)
        // redis 0.27 grows the reconnect delay by `factor` (100 by default) from 1 s: a Redis
        // away for two seconds made every command wait 100 s for the next attempt (found by
        // scripts/faults-test.sh). Attempts at most a second apart; after the last one fails,
        // the next command starts over.
        .set_factor(2)
        .set_max_delay(1000);
    Ok(redis::aio::ConnectionManager::new_with_config(client, config).await?)
}

/// A consumer named `name` of `stream`, on a Redis connection of its own.
async fn consumer(state: &AppState, stream: Stream, name: &str) -> anyhow::Result<Consumer> {
    let cfg = &state.config.assistant;
    let prefix = &state.config.redis.key_prefix;
    let redis = connection(state).await?;
    let consumer = Consumer::new(
        redis,
        prefix,
        stream,
        name,
        cfg.max_attempts,
        cfg.reclaim_idle_ms,
    );
    Ok(consumer.await?)
}

/// Starts a worker on `state` (its database, Redis and key prefix). `name` identifies it among
/// the consumers (unique per process).
pub async fn spawn(
    state: AppState,
    backends: Backends,
    name: &str,
) -> anyhow::Result<WorkerHandle> {
    let prefix = state.config.redis.key_prefix.clone();
    let (stop, stopping) = watch::channel(false);
    let worker = Worker {
        redis: state.redis.clone(),
        state: state.clone(),
        backends,
        prefix: prefix.clone(),
    };
    for problem in worker.backends.problems() {
        tracing::error!(problem = %problem, "assistant model not available: requests that need it fail with model_unavailable");
    }
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(worker.clone().gauge_loop(stopping.clone())));
    let requests = consumer(&state, Stream::Requests, name).await?;
    tasks.push(tokio::spawn(
        worker.clone().request_loop(requests, stopping.clone()),
    ));
    if let Ok(embedder) = &worker.backends.embedder {
        let index = consumer(&state, Stream::Index, name).await?;
        let indexer = Indexer::new(state.db.clone(), Arc::clone(embedder));
        if store::knowledge::other_model_exists(&state.db, embedder.model()).await? {
            tracing::info!(
                model = embedder.model(),
                "the embedding model changed: reindexing every room"
            );
            let mut redis = state.redis.clone();
            for room in store::knowledge::all_rooms(&state.db).await? {
                queue::enqueue(&mut redis, &prefix, &Job::Index { room, full: true }).await?;
            }
        }
        tasks.push(tokio::spawn(worker.clone().index_loop(
            index,
            indexer,
            stopping.clone(),
        )));
        tasks.push(tokio::spawn(worker.clone().sweep_loop(stopping.clone())));
    }
    tracing::info!(consumer = name, "assistant worker started");
    Ok(WorkerHandle { stop, tasks })
}

impl Worker {
    /// Sends an `assistant.*` event to the asker's sockets, on every node.
    async fn send(&self, user: Uuid, kind: &'static str, data: serde_json::Value) {
        self.state
            .notify
            .users_ephemeral(vec![user], None, kind, data)
            .await;
    }
}

fn message_citation(n: usize, m: &SourceMessage) -> Citation {
    Citation {
        n,
        kind: "message".into(),
        id: m.id,
        room: m.room_id,
        room_name: m.room_name.clone(),
        seq: Some(m.seq),
        excerpt: retrieve::excerpt(&m.body),
        author: m.author.clone(),
        created_at: m.created_at,
        filename: None,
        task: None,
    }
}

struct Outcome {
    answer: String,
    citations: Vec<Citation>,
    proposals: Option<Vec<super::super::store::assistant::Proposal>>,
    model: String,
}

impl Outcome {
    fn answer(answer: String, citations: Vec<Citation>, model: String) -> Outcome {
        Outcome {
            answer,
            citations,
            proposals: None,
            model,
        }
    }
}
