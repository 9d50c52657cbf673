//! Answers and summaries: numbered passages (retrieved for a question, or a room's unread
//! messages) written up by the generator, streamed to the asker, with the citations it uses;
//! an answer asked for in a room is posted there as an assistant message.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{Outcome, Worker, jobs::JobError, message_citation};
use crate::{
    assistant::{
        Embedder, GenerateKind, GenerateRequest, Generator, ModelError, Passage, answer,
        index::{IndexError, Indexer},
        retrieve,
    },
    domain::{MessageKind, assistant::RequestStatus},
    store::{
        self,
        assistant::{Citation, RequestRow},
        messages::NewMessage,
    },
};

/// Most rooms an answer indexes before it searches ([`Worker::catch_up`]).
const CATCH_UP_ROOMS: i64 = 16;
/// Longest an answer waits for the index to catch up.
const CATCH_UP_TIME: Duration = Duration::from_secs(10);

const SUMMARY_INSTRUCTION: &str = "Summarise these chat messages for someone catching up: the \
decisions, open questions and who does what. Cite each point with the message number in \
brackets, like [2].";

impl Worker {
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

    /// Runs `work` (which writes text to the sender it is given), streaming that text to the
    /// asker as `assistant.delta` frames, within the configured timeout.
    async fn streamed<T, Fut>(
        &self,
        user: Uuid,
        request_id: Uuid,
        work: impl FnOnce(mpsc::Sender<String>) -> Fut,
    ) -> Result<T, JobError>
    where
        Fut: std::future::Future<Output = Result<T, JobError>>,
    {
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
        let result = tokio::time::timeout(timeout, work(tx)).await;
        let _ = forward.await;
        result.map_err(|_| ModelError::Timeout)?
    }

    pub(super) async fn ask(&self, row: &RequestRow) -> Result<Outcome, JobError> {
        let embedder = Arc::clone(self.embedder()?);
        let generator = Arc::clone(self.generator()?);
        let cfg = &self.state.config.assistant;
        let ask = answer::Ask {
            viewer: row.user_id,
            room: row.room_id,
            question: &row.question,
            top_k: cfg.top_k,
            max_tokens: cfg.max_answer_tokens,
            min_score: cfg.answer_min_score,
            keep_ratio: cfg.answer_keep_ratio,
        };
        let db = &self.state.db;
        self.catch_up(Arc::clone(&embedder), row.user_id, row.room_id)
            .await;
        let model = generator.name().to_owned();
        let done = self
            .streamed(row.user_id, row.id, |tx| async move {
                Ok(answer::answer(db, embedder.as_ref(), generator.as_ref(), &ask, tx).await?)
            })
            .await?;
        Ok(Outcome::answer(done.text, done.citations, model))
    }

    /// Indexes what the rooms a question searches have gained since the indexer last read them
    /// (at most [`CATCH_UP_ROOMS`] rooms, the most recently changed first, within
    /// [`CATCH_UP_TIME`]), so an answer covers what was said a moment ago even when the index
    /// hints wait behind a busy room's. What is not caught up in time is searched as indexed;
    /// the index loop finishes it (a room being indexed there is waited for, not done twice).
    async fn catch_up(&self, embedder: Arc<dyn Embedder>, viewer: Uuid, room: Option<Uuid>) {
        let db = &self.state.db;
        let indexer = Indexer::new(db.clone(), embedder);
        let work = async {
            for room in store::knowledge::behind_for(db, viewer, room, CATCH_UP_ROOMS).await? {
                indexer.index_room(room, false, &|_| {}).await?;
            }
            Ok::<_, IndexError>(())
        };
        match tokio::time::timeout(CATCH_UP_TIME, work).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot catch up the index before an answer"),
            Err(_) => tracing::info!(
                secs = CATCH_UP_TIME.as_secs(),
                "the index is still catching up; answering from what it holds"
            ),
        }
    }

    pub(super) async fn summarise(&self, row: &RequestRow) -> Result<Outcome, JobError> {
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
        let generator = Arc::clone(self.generator()?);
        let answer = self
            .streamed(row.user_id, row.id, |tx| async move {
                Ok(generator.generate(&request, tx).await?)
            })
            .await?;
        let mut cited = retrieve::cited_numbers(&answer, count);
        cited.sort_unstable();
        let citations = cited.into_iter().map(citation).collect();
        Ok(Outcome::answer(answer, citations, generator_name))
    }

    /// Posts a finished answer into its room as an assistant message, once.
    pub(super) async fn post_if_asked(&self, row: &RequestRow) -> Result<(), JobError> {
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
            kind: MessageKind::Assistant,
            body: answer,
            data: Some(data),
            ..Default::default()
        };
        let message = store::messages::append(&mut tx, &new).await?.id;
        store::assistant::set_posted(&mut tx, row.id, message).await?;
        tx.commit().await?;
        self.state.notify.room_changed(room).await;
        Ok(())
    }
}
