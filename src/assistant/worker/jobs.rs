//! Running a job and settling its delivery: acknowledged when done, left for a retry when the
//! failure may pass, dead-lettered when it will not; a request's final failure is recorded on it
//! and sent to the asker. A request job runs its kind's handler ([`super::answer`],
//! [`super::extract`]); an index job runs the indexer on the room.

use std::time::Instant;

use serde_json::json;
use uuid::Uuid;

use super::Worker;
use crate::{
    assistant::{
        ModelError,
        index::{IndexError, Indexer},
        queue::{self, Consumer, Delivery, Job, Stream},
    },
    domain::assistant::{RequestKind, RequestStatus},
    store::{
        self, StoreError,
        assistant::{AssistantRequest, Finished},
    },
};

/// Why a job did not succeed, and whether trying again may help.
#[derive(Debug)]
pub(super) struct JobError {
    pub(super) code: &'static str,
    pub(super) message: String,
    pub(super) transient: bool,
}

// Failures that no retry fixes and that go to the dead-letter stream, not only onto the request.
/// A job delivered too often (it may be what killed its workers).
const ATTEMPTS_EXHAUSTED: &str = "attempts_exhausted";
/// A stream entry that is not a job of its stream.
const BAD_JOB: &str = "bad_job";

impl JobError {
    /// A job delivered more often than `assistant.max_attempts`.
    pub(super) fn exhausted(message: &str) -> JobError {
        JobError {
            code: ATTEMPTS_EXHAUSTED,
            message: message.into(),
            transient: false,
        }
    }

    /// A stream entry that is not a job of that stream.
    pub(super) fn bad_job(message: &str) -> JobError {
        JobError {
            code: BAD_JOB,
            message: message.into(),
            transient: false,
        }
    }

    /// Whether a failure that will not be retried is dead-lettered (rather than acknowledged).
    fn dead_letters(&self) -> bool {
        self.transient || self.code == ATTEMPTS_EXHAUSTED || self.code == BAD_JOB
    }

    /// The code recorded on a failed request and sent to the asker.
    fn request_code(&self) -> &'static str {
        if self.code == ATTEMPTS_EXHAUSTED {
            "job_failed"
        } else {
            self.code
        }
    }
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

    /// Acknowledges, leaves for a retry, or dead-letters a delivery after its outcome.
    pub(super) async fn settle(
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
            Err(e) if e.dead_letters() => {
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

    /// Runs a request job and settles its delivery.
    pub(super) async fn handle_request(self, mut consumer: Consumer, delivery: Delivery) {
        let started = Instant::now();
        let Some(Job::Request { id }) = delivery.job else {
            let outcome = Err(JobError::bad_job("not a request job"));
            self.settle(&mut consumer, &delivery, outcome, started)
                .await;
            return;
        };
        self.request_job(&mut consumer, &delivery, id, started)
            .await;
    }

    /// Runs request `id` (its kind is added to the span once the request is read), records a
    /// final failure on it, and settles the delivery.
    #[tracing::instrument(skip_all, fields(request_id = %id, kind = tracing::field::Empty, attempt = delivery.attempt))]
    async fn request_job(
        &self,
        consumer: &mut Consumer,
        delivery: &Delivery,
        id: Uuid,
        started: Instant,
    ) {
        let outcome = if consumer.exhausted(delivery) {
            Err(JobError::exhausted("the request could not be processed"))
        } else {
            self.process(id).await
        };
        // A final failure is recorded on the request and sent to the asker.
        if let Err(e) = &outcome
            && !(e.transient && consumer.may_retry(delivery))
        {
            self.record_failure(id, e).await;
        }
        self.settle(consumer, delivery, outcome, started).await;
    }

    /// Runs an index job (a hint that a room changed) and settles its delivery.
    pub(super) async fn handle_index(
        &self,
        consumer: &mut Consumer,
        indexer: &Indexer,
        delivery: Delivery,
    ) {
        let started = Instant::now();
        let outcome = match &delivery.job {
            _ if consumer.exhausted(&delivery) => {
                Err(JobError::exhausted("delivered too many times"))
            }
            Some(Job::Index { room, full }) => self.index_job(indexer, *room, *full).await,
            _ => Err(JobError::bad_job("not an index job")),
        };
        self.settle(consumer, &delivery, outcome, started).await;
    }

    /// Indexes a room's events past its cursor (`full`: re-checks every source).
    #[tracing::instrument(skip_all, fields(room_id = %room, full))]
    async fn index_job(&self, indexer: &Indexer, room: Uuid, full: bool) -> Result<(), JobError> {
        queue::clear_hint(&mut self.redis.clone(), &self.prefix, room).await;
        let done = indexer.index_room(room, full, &|_| {}).await?;
        tracing::debug!(
            embedded = done.embedded,
            removed = done.removed,
            "room indexed"
        );
        Ok(())
    }

    async fn record_failure(&self, id: Uuid, e: &JobError) {
        let code = e.request_code();
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
        tracing::Span::current().record("kind", row.kind.as_str());
        if !store::assistant::start(&self.state.db, id).await? {
            return self.post_if_asked(&row).await; // done earlier; finish posting if a crash cut it
        }
        self.send(
            row.user_id,
            "assistant.status",
            json!({ "request": id, "status": RequestStatus::Running }),
        )
        .await;
        let result = match row.kind {
            RequestKind::Ask => self.ask(&row).await?,
            RequestKind::Summary => self.summarise(&row).await?,
            RequestKind::Extract => self.extract(&row).await?,
        };
        let finished = Finished {
            answer: Some(&result.answer),
            citations: &result.citations,
            proposals: result.proposals.as_deref(),
            model: Some(&result.model),
        };
        // Only the run that finishes the request tells the asker: a delivery taken over while
        // its first run was still going (slowed down by a Redis or PostgreSQL outage) runs the
        // job twice, but the request is finished, posted and announced once.
        let first = store::assistant::finish(&self.state.db, id, &finished).await?;
        let Some(row) = store::assistant::get(&self.state.db, id).await? else {
            return Ok(());
        };
        self.post_if_asked(&row).await?;
        if !first {
            return Ok(());
        }
        let request = AssistantRequest::from(row.clone());
        self.send(row.user_id, "assistant.done", json!({ "request": request }))
            .await;
        Ok(())
    }
}
