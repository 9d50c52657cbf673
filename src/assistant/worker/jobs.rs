//! Running a job and settling its delivery: acknowledged when done, left for a retry when the
//! failure may pass, dead-lettered when it will not; a request's final failure is recorded on it
//! and sent to the asker.

use std::time::Instant;

use serde_json::json;
use uuid::Uuid;

use super::Worker;
use crate::{
    assistant::{
        ModelError,
        index::IndexError,
        queue::{Consumer, Delivery, Job, Stream},
    },
    domain::assistant::{RequestKind, RequestStatus},
    store::{
        self, StoreError,
        assistant::{AssistantRequest, Finished, RequestRow},
        messages::NewMessage,
    },
};

/// Why a job did not succeed, and whether trying again may help.
#[derive(Debug)]
pub(super) struct JobError {
    pub(super) code: &'static str,
    pub(super) message: String,
    pub(super) transient: bool,
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

    pub(super) async fn handle_request(self, mut consumer: Consumer, delivery: Delivery) {
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
        if row.status != RequestStatus::Done || row.posted_message_id.is_some() {
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
            kind: "assistant",
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
}
