//! The assistant's API: ask (across rooms or in one, kept private or posted), summarise a room,
//! propose tasks from messages and accept them. Requests are queued for `flowly worker`; their
//! progress and answer reach the asker's sockets as `assistant.*` frames.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiQuery, ApiResult, CurrentUser, ErrorBody};
use crate::{
    app::assistant::{self, AcceptProposal, AskRequest, ExtractRequest},
    state::AppState,
    store::{assistant::AssistantRequest, tasks::Task},
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
    let request = assistant::ask(&state, &user, &req).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { request })))
}

#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    /// How many (default 20).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct RequestList {
    pub requests: Vec<AssistantRequest>,
}

/// The caller's recent assistant requests, newest first.
#[utoipa::path(get, path = "/assistant/requests", tag = "assistant", operation_id = "list_assistant_requests", params(RequestsQuery), responses(
    (status = 200, body = RequestList), (status = 422, body = ErrorBody)))]
async fn list_requests(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<RequestsQuery>,
) -> ApiResult<Json<RequestList>> {
    let requests = assistant::list_requests(&state, &user, q.limit).await?;
    Ok(Json(RequestList { requests }))
}

/// One of the caller's requests.
#[utoipa::path(get, path = "/assistant/requests/{id}", tag = "assistant", params(("id" = Uuid, Path)), responses(
    (status = 200, body = AssistantRequest), (status = 404, body = ErrorBody)))]
async fn get_request(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<AssistantRequest>> {
    Ok(Json(assistant::get_request(&state, &user, id).await?))
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
    let request = assistant::summarise_room(&state, &user, room).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { request })))
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
    let request = assistant::extract_tasks(&state, &user, &req).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { request })))
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
    let task = assistant::accept_proposal(&state, &user, id, n, &req).await?;
    Ok((StatusCode::CREATED, Json(Accepted { task })))
}
