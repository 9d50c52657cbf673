//! The assistant's API: ask (across rooms or in one, kept private or posted), summarise a room,
//! propose tasks from messages and accept them. Requests are queued for `flowly worker`; their
//! progress and answer reach the asker's sockets as `assistant.*` frames.

use crate::domain::ErrorCode;
use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, CurrentUser, ErrorBody, page_size};
use crate::{
    app::{
        assistant::{enqueue, limit_asks, queue_question},
        rooms::member_of,
        tasks::{NewTask, Source, insert_task, parse_new, snapshot_entry},
    },
    domain::TaskTitle,
    state::AppState,
    store::{
        self,
        assistant::{AssistantRequest, NewRequest},
        tasks::Task,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ask))
        .routes(routes!(list_requests))
        .routes(routes!(get_request))
        .routes(routes!(summarise_room))
        .routes(routes!(extract_tasks))
        .routes(routes!(accept_proposal))
}

/// Most messages one task extraction reads.
pub const MAX_EXTRACT_MESSAGES: usize = 50;

pub fn request_not_found() -> ApiError {
    ApiError::new(ErrorCode::RequestNotFound, "no such assistant request")
}

#[derive(Deserialize, ToSchema)]
pub struct AskRequest {
    pub question: String,
    /// Only this room (the caller must be a member); null or left out: every room they are in.
    pub room: Option<Uuid>,
    /// Post the answer into `room` as an assistant message.
    #[serde(default)]
    pub post: bool,
}

/// A queued request.
#[derive(Serialize, ToSchema)]
pub struct Queued {
    pub request: AssistantRequest,
}

/// Ask the assistant. The answer arrives as `assistant.*` WebSocket frames and at
/// `GET /assistant/requests/{id}`.
#[utoipa::path(post, path = "/assistant/ask", tag = "assistant", request_body = AskRequest, responses(
    (status = 202, body = Queued), (status = 404, body = ErrorBody, description = "room_not_found"),
    (status = 422, body = ErrorBody, description = "empty_question, question_too_long, room_required"),
    (status = 429, body = ErrorBody)))]
async fn ask(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<AskRequest>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    let request = queue_question(&state, &user, &req.question, req.room, req.post).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { request })))
}

#[derive(Deserialize, IntoParams, ToSchema)]
pub struct RequestsQuery {
    /// How many (default 20).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct RequestList {
    pub requests: Vec<AssistantRequest>,
}

/// The caller's recent assistant requests, newest first.
#[utoipa::path(get, path = "/assistant/requests", tag = "assistant", params(RequestsQuery), responses(
    (status = 200, body = RequestList), (status = 422, body = ErrorBody)))]
async fn list_requests(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<RequestsQuery>,
) -> ApiResult<Json<RequestList>> {
    let limit = page_size(&state, q.limit, 20)?;
    let rows = store::assistant::recent(&state.db, user.id, limit).await?;
    Ok(Json(RequestList {
        requests: rows.into_iter().map(Into::into).collect(),
    }))
}

/// One of the caller's requests.
#[utoipa::path(get, path = "/assistant/requests/{id}", tag = "assistant", params(("id" = Uuid, Path)), responses(
    (status = 200, body = AssistantRequest), (status = 404, body = ErrorBody)))]
async fn get_request(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<AssistantRequest>> {
    let row = store::assistant::get_for(&state.db, user.id, id)
        .await?
        .ok_or_else(request_not_found)?;
    Ok(Json(row.into()))
}

/// Summarise a room since the caller's last read (or its latest messages when nothing is
/// unread), with citations.
#[utoipa::path(post, path = "/rooms/{id}/summary", tag = "assistant", params(("id" = Uuid, Path)), request_body = Object, responses(
    (status = 202, body = Queued), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn summarise_room(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(room): ApiPath<Uuid>,
    ApiJson(_body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    member_of(&state.db, &user, room).await?;
    limit_asks(&state, &user).await?;
    let name = store::rooms::get(&state.db, room, user.id)
        .await?
        .map(|r| r.name)
        .unwrap_or_default();
    let question = format!("Summarise #{name} since my last read");
    let request = enqueue(
        &state,
        NewRequest {
            id: store::new_id(),
            user_id: user.id,
            kind: "summary",
            question: &question,
            room_id: Some(room),
            post: false,
            message_ids: &[],
        },
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { request })))
}

#[derive(Deserialize, ToSchema)]
pub struct ExtractRequest {
    pub room: Uuid,
    /// 1 to 50 messages of that room.
    pub message_ids: Vec<Uuid>,
}

/// Propose tasks from selected messages; each field of a proposal cites its message.
#[utoipa::path(post, path = "/assistant/extract-tasks", tag = "assistant", request_body = ExtractRequest, responses(
    (status = 202, body = Queued), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "invalid_message_ids"), (status = 429, body = ErrorBody)))]
async fn extract_tasks(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<ExtractRequest>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    let mut ids = req.message_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || ids.len() > MAX_EXTRACT_MESSAGES {
        return Err(ApiError::new(
            ErrorCode::InvalidMessageIds,
            format!("select 1 to {MAX_EXTRACT_MESSAGES} messages"),
        ));
    }
    member_of(&state.db, &user, req.room).await?;
    let found = store::assistant::source_messages(&state.db, user.id, req.room, &ids).await?;
    if found.len() != ids.len() {
        return Err(ApiError::new(
            ErrorCode::InvalidMessageIds,
            "every message must be a live user message of that room",
        ));
    }
    limit_asks(&state, &user).await?;
    let question = format!("Propose tasks from {} messages", ids.len());
    let request = enqueue(
        &state,
        NewRequest {
            id: store::new_id(),
            user_id: user.id,
            kind: "extract",
            question: &question,
            room_id: Some(req.room),
            post: false,
            message_ids: &ids,
        },
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { request })))
}

/// Changes to a proposal before it becomes a task; leave out what stays.
#[derive(Deserialize, ToSchema, Default)]
pub struct AcceptProposal {
    pub title: Option<String>,
    /// A member of the room, or null for nobody.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub assignee: Option<Option<Uuid>>,
    /// `YYYY-MM-DD`, or null for none.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub due: Option<Option<String>>,
}

fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub task: Task,
}

/// Accept proposal `n` of a finished extraction: a real task in the room, linked to its source
/// messages (made through the same path as any task: events and a system message).
#[utoipa::path(post, path = "/assistant/requests/{id}/proposals/{n}/accept", tag = "assistant",
    params(("id" = Uuid, Path), ("n" = usize, Path)), request_body = AcceptProposal, responses(
    (status = 201, body = Accepted), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "already_accepted, not_ready"), (status = 422, body = ErrorBody)))]
async fn accept_proposal(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, n)): ApiPath<(Uuid, usize)>,
    ApiJson(req): ApiJson<AcceptProposal>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let row = store::assistant::get_for(&state.db, user.id, id)
        .await?
        .ok_or_else(request_not_found)?;
    let proposal_not_found = || ApiError::new(ErrorCode::ProposalNotFound, "no such proposal");
    if row.kind != "extract" {
        return Err(proposal_not_found());
    }
    if row.status != "done" {
        return Err(ApiError::new(
            ErrorCode::NotReady,
            "the extraction has not finished",
        ));
    }
    let room = row.room_id.ok_or_else(proposal_not_found)?;
    let proposals = row.proposals.map(|p| p.0).unwrap_or_default();
    let index = n.checked_sub(1).ok_or_else(proposal_not_found)?;
    let proposal = proposals.get(index).ok_or_else(proposal_not_found)?;
    if proposal.accepted_task.is_some() {
        return Err(already_accepted());
    }
    member_of(&state.db, &user, room).await?;
    let title = match &req.title {
        Some(t) => TaskTitle::parse(t)?.into_inner(),
        None => proposal.title.value.clone(),
    };
    let assignee = match req.assignee {
        Some(a) => a,
        None => proposal.assignee.value.as_ref().map(|u| u.id),
    };
    let due = match req.due {
        Some(d) => d,
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
    let task_row = parse_new(&new, room, user.id)?;
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
        if let Some(m) = store::messages::get(&state.db, user.id, *source).await?
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
    let index = i32::try_from(index).map_err(|_| proposal_not_found())?;
    // Claim first, so two accepts race to one task; undo the claim if the task cannot be made.
    let mut tx = store::begin(&state.db).await?;
    if !store::assistant::claim_proposal(&mut tx, id, index, task_id).await? {
        return Err(already_accepted());
    }
    tx.commit().await?;
    match insert_task(&state, &user, task_row, source).await {
        Ok(task) => Ok((StatusCode::CREATED, Json(Accepted { task }))),
        Err(e) => {
            let mut tx = store::begin(&state.db).await?;
            store::assistant::unclaim_proposal(&mut tx, id, index, task_id).await?;
            tx.commit().await?;
            Err(e.into())
        }
    }
}

fn already_accepted() -> ApiError {
    ApiError::new(
        ErrorCode::AlreadyAccepted,
        "this proposal is already a task",
    )
}
