//! Requests to the assistant: questions (asked in the API or with `@flowly` in a message),
//! validated, counted against the asker's budget, stored and queued for `flowly worker`.

use uuid::Uuid;

use super::{AppState, Coded, Infra, limits::LimitError, rooms::RoomError};
use crate::{
    assistant::queue::{self, Job},
    domain::{Actor, ErrorCode},
    store::{
        self,
        assistant::{AssistantRequest, NewRequest},
    },
};

/// What can go wrong with assistant requests.
#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    #[error("the question is empty")]
    EmptyQuestion,
    #[error("a question may have at most {0} characters")]
    QuestionTooLong(usize),
    #[error("posting an answer needs a room")]
    RoomRequired,
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Infra(#[from] Infra),
}

crate::infra_errors!(AssistantError);

impl Coded for AssistantError {
    fn code(&self) -> ErrorCode {
        match self {
            AssistantError::EmptyQuestion => ErrorCode::EmptyQuestion,
            AssistantError::QuestionTooLong(_) => ErrorCode::QuestionTooLong,
            AssistantError::RoomRequired => ErrorCode::RoomRequired,
            AssistantError::Room(e) => e.code(),
            AssistantError::Limit(e) => e.code(),
            AssistantError::Infra(e) => e.code(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            AssistantError::Limit(e) => e.retry_after(),
            _ => None,
        }
    }
}

/// Checks a question against the configured limits; returns it trimmed.
fn parse_question<'a>(state: &AppState, raw: &'a str) -> Result<&'a str, AssistantError> {
    let question = raw.trim();
    if question.is_empty() {
        return Err(AssistantError::EmptyQuestion);
    }
    let max = state.config.assistant.max_question_chars;
    if question.chars().count() > max {
        return Err(AssistantError::QuestionTooLong(max));
    }
    Ok(question)
}

/// Counts a request against the actor's per-minute assistant budget.
pub async fn limit_asks(state: &AppState, actor: &Actor) -> Result<(), LimitError> {
    super::limits::rate_limit(
        state,
        &format!("ask:{}", actor.id),
        state.config.assistant.asks_per_user_per_minute,
        60,
        "assistant requests",
    )
    .await
}

/// Stores a request and queues it for the workers. If the queue is away the request is marked
/// failed before the error is returned, so nothing half-done stays behind.
pub async fn enqueue(
    state: &AppState,
    new: NewRequest<'_>,
) -> Result<AssistantRequest, AssistantError> {
    let row = store::assistant::insert(&state.db, &new).await?;
    let mut redis = state.redis.clone();
    let prefix = &state.config.redis.key_prefix;
    if let Err(e) = queue::enqueue(&mut redis, prefix, &Job::Request { id: row.id }).await {
        let _ = store::assistant::fail(
            &state.db,
            row.id,
            ErrorCode::QueueUnavailable.as_str(),
            "the job queue is unavailable",
        )
        .await;
        return Err(Infra::Redis(e).into());
    }
    Ok(row.into())
}

/// Queues a question. Validates it first; with `room`, the actor must be a member.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = ?room, post))]
pub async fn queue_question(
    state: &AppState,
    actor: &Actor,
    question: &str,
    room: Option<Uuid>,
    post: bool,
) -> Result<AssistantRequest, AssistantError> {
    let question = parse_question(state, question)?;
    if post && room.is_none() {
        return Err(AssistantError::RoomRequired);
    }
    if let Some(room) = room {
        super::rooms::member_of(&state.db, actor, room).await?;
    }
    limit_asks(state, actor).await?;
    enqueue(
        state,
        NewRequest {
            id: store::new_id(),
            user_id: actor.id,
            kind: "ask",
            question,
            room_id: room,
            post,
            message_ids: &[],
        },
    )
    .await
}

/// A message starting with `@flowly ` asks the rest as a question in its room, answered in the
/// room. The message itself is sent either way; a question that cannot be queued is logged.
pub async fn ask_from_message(state: &AppState, actor: &Actor, room: Uuid, body: &str) {
    let Some(question) = body.strip_prefix("@flowly ") else {
        return;
    };
    if let Err(e) = queue_question(state, actor, question, Some(room), true).await {
        tracing::info!(code = %e.code(), "@flowly question not queued");
    }
}
