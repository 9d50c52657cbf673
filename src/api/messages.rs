//! Messages over HTTP: history, sending (idempotent by client id), editing, deleting, replies,
//! reactions, mentions and search; the rules are in [`crate::app::messages`].

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiQuery, ApiResult, CurrentUser, ErrorBody, page_size};
use crate::{
    app::messages::{self, MessagePage, NewMessageRequest, Page},
    state::AppState,
    store::messages::{Message, SearchHit},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages, send_message))
        .routes(routes!(get_message, edit_message, delete_message))
        .routes(routes!(list_replies))
        .routes(routes!(add_reaction, remove_reaction))
        .routes(routes!(search))
        .routes(routes!(list_mentions))
}

#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Messages with a smaller sequence number (older), newest of them first in the page.
    pub before: Option<i64>,
    /// Messages with a greater sequence number (newer).
    pub after: Option<i64>,
    /// Page size (default 50).
    pub limit: Option<i64>,
}

impl PageQuery {
    /// The page asked for (checked by the use case).
    pub fn page(&self) -> Page {
        Page {
            before: self.before,
            after: self.after,
            limit: self.limit,
        }
    }
}

/// A room's timeline, paged by sequence number in either direction.
#[utoipa::path(get, path = "/rooms/{id}/messages", tag = "messages", params(("id" = Uuid, Path), PageQuery), responses(
    (status = 200, body = MessagePage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_messages(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(room): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<MessagePage>> {
    let page = q.page();
    Ok(Json(
        messages::list_messages(&state, &user, room, page).await?,
    ))
}

/// Send a message. Retrying with the same `client_id` never makes a duplicate.
#[utoipa::path(post, path = "/rooms/{id}/messages", tag = "messages", params(("id" = Uuid, Path)), request_body = NewMessageRequest, responses(
    (status = 201, body = Message), (status = 200, body = Message, description = "a retry: the message sent earlier with this client_id"),
    (status = 403, body = ErrorBody, description = "blocked"), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
    (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(room): ApiPath<Uuid>,
    ApiJson(req): ApiJson<NewMessageRequest>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let sent = messages::send_message(&state, &user, room, None, &req).await?;
    Ok(created_or_retried(sent))
}

/// 201 with a new message, 200 with the one an earlier send with the same client id made.
pub fn created_or_retried((message, created): (Message, bool)) -> (StatusCode, Json<Message>) {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(message))
}

/// One message.
#[utoipa::path(get, path = "/messages/{id}", tag = "messages", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Message), (status = 404, body = ErrorBody)))]
async fn get_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Message>> {
    Ok(Json(messages::get_message(&state, &user, id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct EditMessage {
    pub body: String,
}

/// Edit one's own message.
#[utoipa::path(patch, path = "/messages/{id}", tag = "messages", params(("id" = Uuid, Path)), request_body = EditMessage, responses(
    (status = 200, body = Message), (status = 403, body = ErrorBody, description = "not_author"), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "message_deleted"), (status = 422, body = ErrorBody)))]
async fn edit_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<EditMessage>,
) -> ApiResult<Json<Message>> {
    Ok(Json(
        messages::edit_message(&state, &user, id, &req.body).await?,
    ))
}

/// Delete a message: one's own, or any user message as the room's owner. A tombstone stays.
#[utoipa::path(delete, path = "/messages/{id}", tag = "messages", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Message), (status = 403, body = ErrorBody, description = "not_author"), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "message_deleted")))]
async fn delete_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Message>> {
    Ok(Json(messages::delete_message(&state, &user, id).await?))
}

/// Replies to a message (its thread), paged like the timeline.
#[utoipa::path(get, path = "/messages/{id}/replies", tag = "messages", params(("id" = Uuid, Path), PageQuery), responses(
    (status = 200, body = MessagePage), (status = 404, body = ErrorBody)))]
async fn list_replies(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<MessagePage>> {
    let page = q.page();
    Ok(Json(messages::list_replies(&state, &user, id, page).await?))
}

/// React to a message. Reacting twice with the same emoji changes nothing.
#[utoipa::path(put, path = "/messages/{id}/reactions/{emoji}", tag = "messages", params(("id" = Uuid, Path), ("emoji" = String, Path)), responses(
    (status = 200, body = Message), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_reaction(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, emoji)): ApiPath<(Uuid, String)>,
) -> ApiResult<Json<Message>> {
    Ok(Json(
        messages::add_reaction(&state, &user, id, &emoji).await?,
    ))
}

/// Take back a reaction.
#[utoipa::path(delete, path = "/messages/{id}/reactions/{emoji}", tag = "messages", params(("id" = Uuid, Path), ("emoji" = String, Path)), responses(
    (status = 200, body = Message), (status = 404, body = ErrorBody, description = "message_not_found, reaction_not_found"),
    (status = 422, body = ErrorBody, description = "invalid_emoji")))]
async fn remove_reaction(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, emoji)): ApiPath<(Uuid, String)>,
) -> ApiResult<Json<Message>> {
    Ok(Json(
        messages::remove_reaction(&state, &user, id, &emoji).await?,
    ))
}

#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to find; supports "quoted phrases", `or` and `-exclusions`.
    pub q: String,
    /// Only this room.
    pub room: Option<Uuid>,
    pub limit: Option<i64>,
}

/// Full-text search over every message the caller can read.
#[utoipa::path(get, path = "/search", tag = "messages", params(SearchParams), responses(
    (status = 200, body = Vec<SearchHit>), (status = 422, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> ApiResult<Json<Vec<SearchHit>>> {
    Ok(Json(
        messages::search(&state, &user, &q.q, q.room, q.limit).await?,
    ))
}

#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct MentionsQuery {
    /// Continue with mentions older than this message id.
    pub before: Option<Uuid>,
    pub limit: Option<i64>,
}

/// Messages that mention the caller, newest first.
#[utoipa::path(get, path = "/mentions", tag = "messages", params(MentionsQuery), responses((status = 200, body = Vec<Message>)))]
async fn list_mentions(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<MentionsQuery>,
) -> ApiResult<Json<Vec<Message>>> {
    let limit = page_size(&state, q.limit, 50)?;
    Ok(Json(
        messages::list_mentions(&state, &user, q.before, limit).await?,
    ))
}
