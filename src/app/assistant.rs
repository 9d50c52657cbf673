//! Requests to the assistant, as people make them: questions (asked in the API or with `@flowly`
//! in a message), room summaries and task extractions, each checked, counted against the
//! asker's per-minute budget, stored and queued for `flowly worker`; reading them back; and
//! accepting a proposed task, which becomes a real task of the room.

use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    AppState, Coded, Infra,
    limits::LimitError,
    rooms::RoomError,
    tasks::{NewTask, Source, TaskError, insert_task, parse_new, snapshot_entry},
};
use crate::{
    assistant::queue::{self, Job},
    domain::{
        Actor, ErrorCode, Invalid, TaskTitle,
        assistant::{Question, RequestKind, RequestStatus, extract_selection},
    },
    store::{
        self,
        assistant::{AssistantRequest, NewRequest},
        tasks::Task,
    },
};

/// What can go wrong with assistant requests.
#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    #[error("posting an answer needs a room")]
    RoomRequired,
    #[error("every message must be a live user message of that room")]
    MessagesNotInRoom,
    #[error("no such assistant request")]
    RequestNotFound,
    #[error("no such proposal")]
    ProposalNotFound,
    #[error("the extraction has not finished")]
    NotReady,
    #[error("this proposal is already a task")]
    AlreadyAccepted,
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Infra(#[from] Infra),
}

crate::infra_errors!(AssistantError);

impl Coded for AssistantError {
    fn code(&self) -> ErrorCode {
        match self {
            AssistantError::RoomRequired => ErrorCode::RoomRequired,
            AssistantError::MessagesNotInRoom => ErrorCode::InvalidMessageIds,
            AssistantError::RequestNotFound => ErrorCode::RequestNotFound,
            AssistantError::ProposalNotFound => ErrorCode::ProposalNotFound,
            AssistantError::NotReady => ErrorCode::NotReady,
            AssistantError::AlreadyAccepted => ErrorCode::AlreadyAccepted,
            AssistantError::Room(e) => e.code(),
            AssistantError::Task(e) => e.code(),
            AssistantError::Invalid(e) => e.code(),
            AssistantError::Limit(e) => e.code(),
            AssistantError::Infra(e) => e.code(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            AssistantError::Limit(e) => e.retry_after(),
            AssistantError::Room(e) => e.retry_after(),
            AssistantError::Task(e) => e.retry_after(),
            _ => None,
        }
    }

    fn is_validation(&self) -> bool {
        match self {
            AssistantError::Invalid(e) => e.is_validation(),
            AssistantError::Room(e) => e.is_validation(),
            AssistantError::Task(e) => e.is_validation(),
            _ => false,
        }
    }
}

/// A question for the assistant.
#[derive(Deserialize, ToSchema)]
pub struct AskRequest {
    pub question: String,
    /// Only this room (the caller must be a member); null or left out: every room they are in.
    pub room: Option<Uuid>,
    /// Post the answer into `room` as an assistant message.
    #[serde(default)]
    pub post: bool,
}

/// Messages to propose tasks from.
#[derive(Deserialize, ToSchema)]
pub struct ExtractRequest {
    pub room: Uuid,
    /// 1 to 50 messages of that room.
    pub message_ids: Vec<Uuid>,
}

/// Changes to a proposal before it becomes a task; leave out what stays.
#[derive(Deserialize, ToSchema, Default)]
pub struct AcceptProposal {
    pub title: Option<String>,
    /// A member of the room, or null for nobody.
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub assignee: Option<Option<Uuid>>,
    /// `YYYY-MM-DD`, or null for none.
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub due: Option<Option<String>>,
}

/// Counts a request against the actor's per-minute assistant budget.
async fn limit_asks(state: &AppState, actor: &Actor) -> Result<(), LimitError> {
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
async fn enqueue(
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

/// Asks the assistant a question; the answer arrives on the asker's sockets and with the
/// request.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = ?ask.room, post = ask.post))]
pub async fn ask(
    state: &AppState,
    actor: &Actor,
    ask: &AskRequest,
) -> Result<AssistantRequest, AssistantError> {
    queue_question(state, actor, &ask.question, ask.room, ask.post).await
}

/// Queues a question. Validates it first; with `room`, the actor must be a member, and with
/// `post` the answer is posted there.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = ?room, post))]
pub async fn queue_question(
    state: &AppState,
    actor: &Actor,
    question: &str,
    room: Option<Uuid>,
    post: bool,
) -> Result<AssistantRequest, AssistantError> {
    let question = Question::parse(question, state.config.assistant.max_question_chars)?;
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
            kind: RequestKind::Ask,
            question: question.as_str(),
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

/// The actor's most recent requests, newest first (`limit`: a page size, 20 by default).
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn list_requests(
    state: &AppState,
    actor: &Actor,
    limit: Option<i64>,
) -> Result<Vec<AssistantRequest>, AssistantError> {
    let limit = super::limits::page_size(state, limit, 20)?;
    let rows = store::assistant::recent(&state.db, actor.id, limit).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One of the actor's requests (nobody else's).
#[tracing::instrument(skip_all, fields(user_id = %actor.id, request_id = %id))]
pub async fn get_request(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
) -> Result<AssistantRequest, AssistantError> {
    store::assistant::get_for(&state.db, actor.id, id)
        .await?
        .map(Into::into)
        .ok_or(AssistantError::RequestNotFound)
}

/// Queues a summary of `room` since the actor's last read (or of its latest messages when
/// nothing is unread).
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room))]
pub async fn summarise_room(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
) -> Result<AssistantRequest, AssistantError> {
    super::rooms::member_of(&state.db, actor, room).await?;
    limit_asks(state, actor).await?;
    let name = store::rooms::get(&state.db, room, actor.id)
        .await?
        .map(|r| r.name)
        .unwrap_or_default();
    let question = format!("Summarise #{name} since my last read");
    enqueue(
        state,
        NewRequest {
            id: store::new_id(),
            user_id: actor.id,
            kind: RequestKind::Summary,
            question: &question,
            room_id: Some(room),
            post: false,
            message_ids: &[],
        },
    )
    .await
}

/// Queues a task extraction from selected messages of a room; each field of a proposal will
/// cite its message.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %extract.room))]
pub async fn extract_tasks(
    state: &AppState,
    actor: &Actor,
    extract: &ExtractRequest,
) -> Result<AssistantRequest, AssistantError> {
    let ids = extract_selection(&extract.message_ids)?;
    super::rooms::member_of(&state.db, actor, extract.room).await?;
    let found = store::assistant::source_messages(&state.db, actor.id, extract.room, &ids).await?;
    if found.len() != ids.len() {
        return Err(AssistantError::MessagesNotInRoom);
    }
    limit_asks(state, actor).await?;
    let question = format!("Propose tasks from {} messages", ids.len());
    enqueue(
        state,
        NewRequest {
            id: store::new_id(),
            user_id: actor.id,
            kind: RequestKind::Extract,
            question: &question,
            room_id: Some(extract.room),
            post: false,
            message_ids: &ids,
        },
    )
    .await
}

/// Accepts proposal `n` (from 1) of a finished extraction, with the actor's changes: a real task
/// of the room, linked to the messages the proposal cites (made like any task: events and a
/// system message). A proposal becomes one task only, however many accept it at once.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, request_id = %id, n))]
pub async fn accept_proposal(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    n: usize,
    changes: &AcceptProposal,
) -> Result<Task, AssistantError> {
    let row = store::assistant::get_for(&state.db, actor.id, id)
        .await?
        .ok_or(AssistantError::RequestNotFound)?;
    if row.kind != RequestKind::Extract {
        return Err(AssistantError::ProposalNotFound);
    }
    if row.status != RequestStatus::Done {
        return Err(AssistantError::NotReady);
    }
    let room = row.room_id.ok_or(AssistantError::ProposalNotFound)?;
    let proposals = row.proposals.map(|p| p.0).unwrap_or_default();
    let index = n.checked_sub(1).ok_or(AssistantError::ProposalNotFound)?;
    let proposal = proposals
        .get(index)
        .ok_or(AssistantError::ProposalNotFound)?;
    if proposal.accepted_task.is_some() {
        return Err(AssistantError::AlreadyAccepted);
    }
    super::rooms::member_of(&state.db, actor, room).await?;
    let title = match &changes.title {
        Some(t) => TaskTitle::parse(t)?.into_inner(),
        None => proposal.title.value.clone(),
    };
    let assignee = match changes.assignee {
        Some(a) => a,
        None => proposal.assignee.value.as_ref().map(|u| u.id),
    };
    let due = match &changes.due {
        Some(d) => d.clone(),
        None => proposal.due.value.clone(),
    };
    let new = NewTask {
        room_id: Some(room),
        title,
        description: String::new(),
        status: None,
        priority: None,
        assignee_id: assignee,
        due_on: due,
        labels: vec![],
    };
    let task_row = parse_new(&new, room, actor.id)?;
    // The source messages the proposal cites, as the task's snapshot.
    let mut sources: Vec<Uuid> = [
        proposal.title.cite,
        proposal.assignee.cite,
        proposal.due.cite,
    ]
    .into_iter()
    .flatten()
    .collect();
    sources.dedup();
    let mut snapshot = Vec::new();
    for source in &sources {
        if let Some(m) = store::messages::get(&state.db, actor.id, *source).await?
            && m.deleted_at.is_none()
        {
            snapshot.push(snapshot_entry(&m));
        }
    }
    let source = proposal.title.cite.map(|message_id| Source {
        message_id,
        snapshot: json!(snapshot),
    });
    let task_id = task_row.id;
    let index = i32::try_from(index).map_err(|_| AssistantError::ProposalNotFound)?;
    // Claim first, so two accepts race to one task; undo the claim if the task cannot be made.
    let mut tx = store::begin(&state.db).await?;
    if !store::assistant::claim_proposal(&mut tx, id, index, task_id).await? {
        return Err(AssistantError::AlreadyAccepted);
    }
    tx.commit().await?;
    match insert_task(state, actor, task_row, source).await {
        Ok(task) => Ok(task),
        Err(e) => {
            let mut tx = store::begin(&state.db).await?;
            store::assistant::unclaim_proposal(&mut tx, id, index, task_id).await?;
            tx.commit().await?;
            Err(e.into())
        }
    }
}
