//! `flowly worker`: consumes the assistant's job streams. Index hints keep `knowledge_chunks`
//! current; requests (ask, summary, extract) are answered, stored in `assistant_requests`,
//! streamed to the asker's sockets on every node (through Redis, as the hub fans out
//! user-ephemeral frames), and, when asked, posted into the room as an assistant message.

use std::{collections::HashMap, sync::Arc, time::Duration, time::Instant};

use serde_json::json;
use tokio::sync::{Semaphore, mpsc, watch};
use uuid::Uuid;

use super::{
    Embedder, GenerateKind, GenerateRequest, Generator, ModelError, Passage, extract,
    index::{IndexError, Indexer},
    queue::{self, Consumer, Delivery, Job, Stream},
    retrieve,
};
use crate::{
    realtime::{frames, hub::publish_to_users},
    state::AppState,
    store::{
        self, StoreError,
        assistant::{AssistantRequest, Citation, Finished, RequestRow, SourceMessage},
        messages::NewMessage,
    },
};

const ASK_INSTRUCTION: &str = "Answer the question using only the numbered passages from the \
team's chats and tasks. Cite every claim with the passage number in brackets, like [1]. If the \
passages do not contain the answer, say so.";

const SUMMARY_INSTRUCTION: &str = "Summarise these chat messages for someone catching up: the \
decisions, open questions and who does what. Cite each point with the message number in \
brackets, like [2].";

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

/// Why a job did not succeed, and whether trying again may help.
#[derive(Debug)]
struct JobError {
    code: &'static str,
    message: String,
    transient: bool,
}

impl From<ModelError> for JobError {
    fn from(e: ModelError) -> Self {
        let (code, transient) = match &e {
            ModelError::NotAvailable(_) | ModelError::Load(_) => ("model_unavailable", false),
            ModelError::Unreachable(_) => ("model_unreachable", true),
            ModelError::Timeout => ("model_timeout", true),
            ModelError::Input(_) => ("invalid_input", false),
            ModelError::Inference(_) => ("model_failed", false),
        };
        JobError {
            code,
            message: e.to_string(),
            transient,
        }
    }
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "assistant job: database error");
        JobError {
            code: "internal",
            message: "internal error; the request will be retried".into(),
            transient: true,
        }
    }
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        JobError::from(StoreError::from(e))
    }
}

impl From<IndexError> for JobError {
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::Model(e) => e.into(),
            IndexError::Store(e) => e.into(),
        }
    }
}

/// A running worker; dropping the handle does not stop it, [`WorkerHandle::stop`] does.
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
        .set_number_of_retries(3);
    Ok(redis::aio::ConnectionManager::new_with_config(client, config).await?)
}

/// Starts a worker on `state` (its database, Redis and key prefix). `name` identifies it among
/// the consumers (unique per process).
pub async fn spawn(
    state: AppState,
    backends: Backends,
    name: &str,
) -> anyhow::Result<WorkerHandle> {
    let cfg = state.config.assistant.clone();
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
    let requests = Consumer::new(
        connection(&state).await?,
        &prefix,
        Stream::Requests,
        name,
        cfg.max_attempts,
        cfg.reclaim_idle_ms,
    )
    .await?;
    tasks.push(tokio::spawn(
        worker.clone().request_loop(requests, stopping.clone()),
    ));
    if let Ok(embedder) = &worker.backends.embedder {
        let index = Consumer::new(
            connection(&state).await?,
            &prefix,
            Stream::Index,
            name,
            cfg.max_attempts,
            cfg.reclaim_idle_ms,
        )
        .await?;
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
    fn observe(&self, stream: Stream, outcome: &str, started: Instant) {
        let m = &self.state.metrics;
        m.assistant_jobs
            .with_label_values(&[stream.name(), outcome])
            .inc();
        m.assistant_job_duration
            .with_label_values(&[stream.name()])
            .observe(started.elapsed().as_secs_f64());
    }

    async fn request_loop(self, mut consumer: Consumer, mut stopping: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(
            self.state.config.assistant.worker_concurrency,
        ));
        loop {
            let free = slots.available_permits().max(1);
            let read = tokio::select! {
                _ = crate::realtime::stopped(&mut stopping) => return,
                r = consumer.read(free, Duration::from_millis(1000)) => r,
            };
            let deliveries = match read {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read assistant requests; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            for delivery in deliveries {
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let worker = self.clone();
                let consumer = consumer.on(self.redis.clone());
                tokio::spawn(async move {
                    worker.handle_request(consumer, delivery).await;
                    drop(permit);
                });
            }
        }
    }

    async fn index_loop(
        self,
        mut consumer: Consumer,
        indexer: Indexer,
        mut stopping: watch::Receiver<bool>,
    ) {
        loop {
            let read = tokio::select! {
                _ = crate::realtime::stopped(&mut stopping) => return,
                r = consumer.read(8, Duration::from_millis(1000)) => r,
            };
            let deliveries = match read {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read index jobs; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            for delivery in deliveries {
                let started = Instant::now();
                let outcome = match &delivery.job {
                    _ if consumer.exhausted(&delivery) => Err(JobError {
                        code: "attempts_exhausted",
                        message: "delivered too many times".into(),
                        transient: false,
                    }),
                    Some(Job::Index { room, full }) => {
                        queue::clear_hint(&mut self.redis.clone(), &self.prefix, *room).await;
                        indexer
                            .index_room(*room, *full, &|_| {})
                            .await
                            .map(|done| {
                                tracing::debug!(%room, embedded = done.embedded, removed = done.removed, "room indexed");
                            })
                            .map_err(JobError::from)
                    }
                    _ => Err(JobError {
                        code: "bad_job",
                        message: "not an index job".into(),
                        transient: false,
                    }),
                };
                self.settle(&mut consumer, &delivery, outcome, started)
                    .await;
            }
        }
    }

    /// Acknowledges, leaves for a retry, or dead-letters a delivery after its outcome.
    async fn settle(
        &self,
        consumer: &mut Consumer,
        delivery: &Delivery,
        outcome: Result<(), JobError>,
        started: Instant,
    ) {
        let stream = consumer.stream();
        let result = match outcome {
            Ok(()) => {
                self.observe(stream, "done", started);
                consumer.ack(&delivery.id).await
            }
            Err(e) if e.transient && consumer.may_retry(delivery) => {
                tracing::warn!(code = e.code, error = %e.message, attempt = delivery.attempt, "assistant job failed; it will be retried");
                self.observe(stream, "retried", started);
                Ok(())
            }
            Err(e) if e.transient || e.code == "attempts_exhausted" || e.code == "bad_job" => {
                tracing::error!(code = e.code, error = %e.message, attempt = delivery.attempt, "assistant job dead-lettered");
                self.observe(stream, "dead", started);
                consumer
                    .dead_letter(delivery, &format!("{}: {}", e.code, e.message))
                    .await
            }
            Err(e) => {
                tracing::warn!(code = e.code, error = %e.message, "assistant job failed");
                self.observe(stream, "failed", started);
                consumer.ack(&delivery.id).await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot settle an assistant job; it will be delivered again");
        }
    }

    /// Queues rooms whose events the indexer has not read (hints lost or never sent), and
    /// refreshes the queue-depth gauges.
    async fn sweep_loop(self, mut stopping: watch::Receiver<bool>) {
        let every = Duration::from_secs(self.state.config.assistant.index_sweep_secs);
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = crate::realtime::stopped(&mut stopping) => return,
                _ = tick.tick() => {}
            }
            match store::knowledge::rooms_behind(&self.state.db, 1000).await {
                Ok(rooms) => {
                    // Straight onto the stream: the room's hint marker may belong to a hint
                    // that was lost, and duplicates are cheap (the cursor makes them no-ops).
                    let mut redis = self.redis.clone();
                    for room in rooms {
                        let job = Job::Index { room, full: false };
                        if let Err(e) = queue::enqueue(&mut redis, &self.prefix, &job).await {
                            tracing::warn!(error = %e, "index sweep cannot queue a room");
                            break;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "index sweep failed"),
            }
            let mut redis = self.redis.clone();
            for stream in [Stream::Requests, Stream::Index] {
                let depth: redis::RedisResult<i64> =
                    redis::AsyncCommands::xlen(&mut redis, stream.key(&self.prefix)).await;
                if let Ok(depth) = depth {
                    self.state
                        .metrics
                        .assistant_queue_depth
                        .with_label_values(&[stream.name()])
                        .set(depth);
                }
            }
        }
    }

    async fn send(&self, user: Uuid, kind: &str, data: serde_json::Value) {
        let frame = frames::ephemeral(kind, None, data);
        let mut redis = self.redis.clone();
        if let Err(e) = publish_to_users(&mut redis, &self.prefix, vec![user], frame).await {
            tracing::warn!(error = %e, "cannot send an assistant frame");
        }
    }

    async fn handle_request(self, mut consumer: Consumer, delivery: Delivery) {
        let started = Instant::now();
        let Some(Job::Request { id }) = delivery.job else {
            self.settle(
                &mut consumer,
                &delivery,
                Err(JobError {
                    code: "bad_job",
                    message: "not a request job".into(),
                    transient: false,
                }),
                started,
            )
            .await;
            return;
        };
        let outcome = if consumer.exhausted(&delivery) {
            Err(JobError {
                code: "attempts_exhausted",
                message: "the request could not be processed".into(),
                transient: false,
            })
        } else {
            self.process(id).await
        };
        // A final failure is recorded on the request and sent to the asker.
        if let Err(e) = &outcome
            && !(e.transient && consumer.may_retry(&delivery))
        {
            self.record_failure(id, e).await;
        }
        self.settle(&mut consumer, &delivery, outcome, started)
            .await;
    }

    async fn record_failure(&self, id: Uuid, e: &JobError) {
        let code = if e.code == "attempts_exhausted" {
            "job_failed"
        } else {
            e.code
        };
        match store::assistant::fail(&self.state.db, id, code, &e.message).await {
            Ok(true) => {
                if let Ok(Some(row)) = store::assistant::get(&self.state.db, id).await {
                    self.send(
                        row.user_id,
                        "assistant.error",
                        json!({ "request": id, "code": code, "message": e.message }),
                    )
                    .await;
                }
            }
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "cannot record a failed assistant request"),
        }
    }

    /// Runs a request to completion (idempotent: a finished request is left as it is).
    async fn process(&self, id: Uuid) -> Result<(), JobError> {
        let Some(row) = store::assistant::get(&self.state.db, id).await? else {
            return Ok(()); // deleted with its user or room
        };
        if !store::assistant::start(&self.state.db, id).await? {
            return self.post_if_asked(&row).await; // done earlier; finish posting if a crash cut it
        }
        self.send(
            row.user_id,
            "assistant.status",
            json!({ "request": id, "status": "running" }),
        )
        .await;
        let result = match row.kind.as_str() {
            "ask" => self.ask(&row).await?,
            "summary" => self.summarise(&row).await?,
            _ => self.extract(&row).await?,
        };
        let finished = Finished {
            answer: Some(&result.answer),
            citations: &result.citations,
            proposals: result.proposals.as_deref(),
            model: Some(&result.model),
        };
        store::assistant::finish(&self.state.db, id, &finished).await?;
        let Some(row) = store::assistant::get(&self.state.db, id).await? else {
            return Ok(());
        };
        self.post_if_asked(&row).await?;
        let request = AssistantRequest::from(row.clone());
        self.send(row.user_id, "assistant.done", json!({ "request": request }))
            .await;
        Ok(())
    }

    /// Posts a finished answer into its room as an assistant message, once.
    async fn post_if_asked(&self, row: &RequestRow) -> Result<(), JobError> {
        let (Some(room), true, Some(answer)) = (row.room_id, row.post, row.answer.as_deref())
        else {
            return Ok(());
        };
        if row.status != "done" || row.posted_message_id.is_some() {
            return Ok(());
        }
        let mut tx = store::begin(&self.state.db).await?;
        let Some(locked) = store::assistant::lock(&mut tx, row.id).await? else {
            return Ok(());
        };
        // Still a member? An answer is never posted into a room the asker has left.
        if locked.posted_message_id.is_some()
            || !store::rooms::is_member(&mut *tx, room, row.user_id).await?
        {
            return Ok(());
        }
        let data = json!({ "request": row.id, "citations": row.citations.0 });
        let new = NewMessage {
            room_id: room,
            author_id: None,
            kind: crate::domain::MessageKind::Assistant,
            body: answer,
            data: Some(data),
            ..Default::default()
        };
        let (message, _) = store::messages::append(&mut tx, &new).await?;
        store::assistant::set_posted(&mut tx, row.id, message).await?;
        tx.commit().await?;
        self.state.notify.room_changed(room).await;
        Ok(())
    }

    fn embedder(&self) -> Result<&Arc<dyn Embedder>, JobError> {
        self.backends
            .embedder
            .as_ref()
            .map_err(|e| ModelError::NotAvailable(e.clone()).into())
    }

    fn generator(&self) -> Result<&Arc<dyn Generator>, JobError> {
        self.backends
            .generator
            .as_ref()
            .map_err(|e| ModelError::NotAvailable(e.clone()).into())
    }

    /// Generates text, streaming it to the asker as `assistant.delta` frames, within the
    /// configured timeout.
    async fn generate(
        &self,
        user: Uuid,
        request_id: Uuid,
        request: GenerateRequest,
    ) -> Result<String, JobError> {
        let generator = Arc::clone(self.generator()?);
        let (tx, mut rx) = mpsc::channel::<String>(64);
        let forward = {
            let worker = self.clone();
            tokio::spawn(async move {
                while let Some(text) = rx.recv().await {
                    worker
                        .send(
                            user,
                            "assistant.delta",
                            json!({ "request": request_id, "text": text }),
                        )
                        .await;
                }
            })
        };
        let timeout = Duration::from_secs(self.state.config.assistant.model_timeout_secs.max(1));
        let answer = tokio::time::timeout(timeout, generator.generate(&request, tx)).await;
        let _ = forward.await;
        Ok(answer.map_err(|_| ModelError::Timeout)??)
    }

    async fn ask(&self, row: &RequestRow) -> Result<Outcome, JobError> {
        let embedder = Arc::clone(self.embedder()?);
        let generator_name = self.generator()?.name().to_owned();
        let cfg = &self.state.config.assistant;
        let hits = retrieve::retrieve(
            &self.state.db,
            embedder.as_ref(),
            row.user_id,
            row.room_id,
            &row.question,
            cfg.top_k,
        )
        .await?;
        if hits.is_empty() {
            let answer = "I found nothing about this in the rooms you are in.".to_owned();
            self.send(
                row.user_id,
                "assistant.delta",
                json!({ "request": row.id, "text": answer }),
            )
            .await;
            return Ok(Outcome::answer(answer, vec![], generator_name));
        }
        let passages: Vec<Passage> = hits
            .iter()
            .enumerate()
            .map(|(i, h)| retrieve::passage(i + 1, h))
            .collect();
        self.write(row, GenerateKind::Answer, ASK_INSTRUCTION, passages, |n| {
            retrieve::citation(n, &hits[n - 1])
        })
        .await
    }

    async fn summarise(&self, row: &RequestRow) -> Result<Outcome, JobError> {
        let generator_name = self.generator()?.name().to_owned();
        let Some(room) = row.room_id else {
            return Err(ModelError::Input("a summary needs a room".into()).into());
        };
        let cfg = &self.state.config.assistant;
        let messages = store::assistant::to_summarise(
            &self.state.db,
            row.user_id,
            room,
            cfg.summary_max_messages,
            cfg.summary_max_messages.min(30),
        )
        .await?;
        if messages.is_empty() {
            return Ok(Outcome::answer(
                "There is nothing to summarise in this room yet.".into(),
                vec![],
                generator_name,
            ));
        }
        let passages = messages
            .iter()
            .enumerate()
            .map(|(i, m)| Passage {
                n: i + 1,
                label: format!(
                    "#{} · {} · {}",
                    m.room_name,
                    m.author.as_deref().unwrap_or("someone"),
                    m.created_at.format("%Y-%m-%d %H:%M")
                ),
                text: m.body.clone(),
            })
            .collect();
        self.write(
            row,
            GenerateKind::Summary,
            SUMMARY_INSTRUCTION,
            passages,
            |n| message_citation(n, &messages[n - 1]),
        )
        .await
    }

    /// Writes from numbered passages (streaming to the asker), then keeps the citations of the
    /// passages the text actually cites, in number order.
    async fn write(
        &self,
        row: &RequestRow,
        kind: GenerateKind,
        instruction: &str,
        passages: Vec<Passage>,
        citation: impl Fn(usize) -> Citation,
    ) -> Result<Outcome, JobError> {
        let generator_name = self.generator()?.name().to_owned();
        let count = passages.len();
        let request = GenerateRequest {
            kind,
            instruction: instruction.into(),
            question: row.question.clone(),
            passages,
            max_tokens: self.state.config.assistant.max_answer_tokens,
        };
        let answer = self.generate(row.user_id, row.id, request).await?;
        let mut cited = retrieve::cited_numbers(&answer, count);
        cited.sort_unstable();
        let citations = cited.into_iter().map(citation).collect();
        Ok(Outcome::answer(answer, citations, generator_name))
    }

    async fn extract(&self, row: &RequestRow) -> Result<Outcome, JobError> {
        let Some(room) = row.room_id else {
            return Err(ModelError::Input("task extraction needs a room".into()).into());
        };
        let messages =
            store::assistant::source_messages(&self.state.db, row.user_id, room, &row.message_ids)
                .await?;
        let mut members = HashMap::new();
        for name in extract::mentions(&messages) {
            if let Some(user) =
                store::assistant::member_by_username(&self.state.db, row.user_id, room, &name)
                    .await?
            {
                members.insert(name, user);
            }
        }
        let proposals = extract::extract(&messages, &members);
        let mut cited: Vec<Uuid> = proposals
            .iter()
            .flat_map(|p| [p.title.cite, p.assignee.cite, p.due.cite])
            .flatten()
            .collect();
        cited.dedup();
        let citations: Vec<Citation> = messages
            .iter()
            .filter(|m| cited.contains(&m.id))
            .enumerate()
            .map(|(i, m)| message_citation(i + 1, m))
            .collect();
        let answer = if proposals.is_empty() {
            "No tasks found in these messages.".to_owned()
        } else {
            proposals
                .iter()
                .map(|p| format!("{}. {}", p.n, p.title.value))
                .collect::<Vec<_>>()
                .join("\n")
        };
        Ok(Outcome {
            answer,
            citations,
            proposals: Some(proposals),
            model: "rules".into(),
        })
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
