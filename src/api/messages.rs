//! Messages: history, sending (idempotent by client id), editing, deleting, replies, reactions,
//! mentions and search.

use crate::domain::ErrorCode;
use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, CurrentUser, ErrorBody, page_size,
    rooms::member_of,
};
use crate::{
    domain::{ClientId, Emoji, MessageBody, SearchQuery, mentioned_usernames},
    state::AppState,
    store::{
        self, StoreError,
        messages::{Message, NewMessage, SearchHit, Stream},
    },
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

pub fn message_not_found() -> ApiError {
    ApiError::new(
        ErrorCode::MessageNotFound,
        "no such message, or you cannot see it",
    )
}

/// Appends a system message (a room or task event) to a room's timeline.
pub async fn post_system(
    tx: &mut sqlx::PgConnection,
    room: Uuid,
    actor: Uuid,
    body: &str,
    data: serde_json::Value,
    ref_task: Option<Uuid>,
) -> ApiResult<(Uuid, i64)> {
    let new = NewMessage {
        room_id: room,
        author_id: Some(actor),
        kind: "system",
        body,
        data: Some(data),
        ref_task_id: ref_task,
        ..Default::default()
    };
    Ok(store::messages::append(tx, &new).await?)
}

#[derive(Deserialize, IntoParams, ToSchema)]
pub struct PageQuery {
    /// Messages with a smaller sequence number (older), newest of them first in the page.
    pub before: Option<i64>,
    /// Messages with a greater sequence number (newer).
    pub after: Option<i64>,
    /// Page size (default 50).
    pub limit: Option<i64>,
}

/// A page of messages in ascending sequence order.
#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// More messages exist beyond this page in the direction paged.
    pub has_more: bool,
}

/// Pages a stream of a room the caller belongs to.
pub async fn page_stream(
    state: &AppState,
    user: &CurrentUser,
    room: Uuid,
    stream: Stream,
    q: &PageQuery,
) -> ApiResult<MessagePage> {
    let limit = page_size(state, q.limit, 50)?;
    if q.before.is_some_and(|s| s < 0) || q.after.is_some_and(|s| s < 0) {
        return Err(ApiError::new(
            ErrorCode::InvalidCursor,
            "before and after must not be negative",
        ));
    }
    let (messages, has_more) =
        store::messages::page(&state.db, user.id, room, stream, q.before, q.after, limit).await?;
    Ok(MessagePage { messages, has_more })
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
    member_of(&state.db, &user, room).await?;
    Ok(Json(
        page_stream(&state, &user, room, Stream::Timeline, &q).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct NewMessageRequest {
    pub body: String,
    /// Chosen by the client; sending again with the same id returns the first message (200).
    pub client_id: Option<String>,
    /// The message this one replies to (same room).
    pub reply_to: Option<Uuid>,
}

/// Sends a message to a room's timeline or, with `task`, to a task's discussion. Returns the
/// message and whether it was new (false: a retry of an earlier send with the same client id).
pub async fn send(
    state: &AppState,
    user: &CurrentUser,
    room: Uuid,
    task: Option<Uuid>,
    req: &NewMessageRequest,
) -> ApiResult<(Message, bool)> {
    let body = MessageBody::parse(&req.body, state.config.limits.max_message_chars)?;
    let client_id = req.client_id.as_deref().map(ClientId::parse).transpose()?;
    let membership = member_of(&state.db, user, room).await?;
    if let Some(cid) = &client_id
        && let Some(existing) =
            store::messages::by_client_id(&state.db, room, user.id, cid.as_str()).await?
    {
        return Ok((
            store::messages::get(&state.db, user.id, existing)
                .await?
                .ok_or_else(message_not_found)?,
            false,
        ));
    }
    super::limit_writes(state, user).await?;
    if membership.kind == "dm" && dm_blocked(state, user, room).await? {
        return Err(ApiError::new(
            ErrorCode::Blocked,
            "you cannot message this person",
        ));
    }
    if let Some(parent) = req.reply_to {
        let parent = store::messages::get(&state.db, user.id, parent).await?;
        if parent.is_none_or(|p| p.room_id != room || p.task_id != task) {
            return Err(ApiError::new(
                ErrorCode::InvalidReplyTo,
                "reply_to must be a message in the same conversation",
            ));
        }
    }
    let mut tx = store::begin(&state.db).await?;
    let new = NewMessage {
        room_id: room,
        author_id: Some(user.id),
        kind: "user",
        body: body.as_str(),
        reply_to: req.reply_to,
        task_id: task,
        client_id: client_id.as_ref().map(ClientId::as_str),
        ..Default::default()
    };
    let (id, _seq) = match store::messages::append(&mut tx, &new).await {
        // A concurrent retry with the same client id won the race: answer with its message.
        Err(StoreError::Conflict(c)) if c == "messages_client_id_key" => {
            drop(tx);
            let cid = client_id.as_ref().map(ClientId::as_str).unwrap_or_default();
            let existing = store::messages::by_client_id(&state.db, room, user.id, cid)
                .await?
                .ok_or_else(message_not_found)?;
            return Ok((
                store::messages::get(&state.db, user.id, existing)
                    .await?
                    .ok_or_else(message_not_found)?,
                false,
            ));
        }
        other => other?,
    };
    store::messages::set_mentions(&mut tx, id, room, &mentioned_usernames(body.as_str())).await?;
    tx.commit().await?;
    state.notify.room_changed(room).await;
    if task.is_none() {
        crate::app::assistant::ask_from_message(state, user, room, body.as_str()).await;
    }
    let message = store::messages::get(&state.db, user.id, id)
        .await?
        .ok_or_else(message_not_found)?;
    Ok((message, true))
}

/// Whether the two people of a DM block each other.
async fn dm_blocked(state: &AppState, user: &CurrentUser, room: Uuid) -> ApiResult<bool> {
    let members = store::rooms::members(&state.db, room, user.id).await?;
    for other in members.iter().filter(|m| m.user_id != user.id) {
        if store::friends::blocked_between(&state.db, user.id, other.user_id).await? {
            return Ok(true);
        }
    }
    Ok(false)
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
    let (message, created) = send(&state, &user, room, None, &req).await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(message),
    ))
}

async fn visible(state: &AppState, user: &CurrentUser, id: Uuid) -> ApiResult<Message> {
    store::messages::get(&state.db, user.id, id)
        .await?
        .ok_or_else(message_not_found)
}

/// One message.
#[utoipa::path(get, path = "/messages/{id}", tag = "messages", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Message), (status = 404, body = ErrorBody)))]
async fn get_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Message>> {
    Ok(Json(visible(&state, &user, id).await?))
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
    let body = MessageBody::parse(&req.body, state.config.limits.max_message_chars)?;
    let message = visible(&state, &user, id).await?;
    if message.kind != "user" || message.author_id != Some(user.id) {
        return Err(ApiError::new(
            ErrorCode::NotAuthor,
            "you can only edit your own messages",
        ));
    }
    if message.deleted_at.is_some() {
        return Err(ApiError::new(
            ErrorCode::MessageDeleted,
            "that message has been deleted",
        ));
    }
    super::limit_writes(&state, &user).await?;
    let mut tx = store::begin(&state.db).await?;
    store::messages::edit(&mut *tx, id, body.as_str()).await?;
    store::messages::set_mentions(
        &mut tx,
        id,
        message.room_id,
        &mentioned_usernames(body.as_str()),
    )
    .await?;
    record_change(&mut tx, message.room_id, "message.edited", id).await?;
    tx.commit().await?;
    state.notify.room_changed(message.room_id).await;
    Ok(Json(visible(&state, &user, id).await?))
}

/// Appends an event carrying the message as it now is to its room's stream.
async fn record_change(
    tx: &mut sqlx::PgConnection,
    room: Uuid,
    kind: &str,
    id: Uuid,
) -> ApiResult<()> {
    let snapshot = store::messages::snapshot(&mut *tx, id).await?;
    store::messages::append_event(tx, room, kind, serde_json::json!({ "message": snapshot }))
        .await?;
    Ok(())
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
    let message = visible(&state, &user, id).await?;
    let membership = member_of(&state.db, &user, message.room_id).await?;
    let own = message.author_id == Some(user.id);
    if message.kind == "system" || !(own || (membership.is_owner() && membership.is_group())) {
        return Err(ApiError::new(
            ErrorCode::NotAuthor,
            "you can only delete your own messages (owners: any in their room)",
        ));
    }
    if message.deleted_at.is_some() {
        return Err(ApiError::new(
            ErrorCode::MessageDeleted,
            "that message has already been deleted",
        ));
    }
    let mut tx = store::begin(&state.db).await?;
    store::messages::tombstone(&mut tx, id).await?;
    record_change(&mut tx, message.room_id, "message.deleted", id).await?;
    tx.commit().await?;
    state.notify.room_changed(message.room_id).await;
    Ok(Json(visible(&state, &user, id).await?))
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
    let root = visible(&state, &user, id).await?;
    Ok(Json(
        page_stream(&state, &user, root.room_id, Stream::Replies(id), &q).await?,
    ))
}

/// React to a message. Reacting twice with the same emoji changes nothing.
#[utoipa::path(put, path = "/messages/{id}/reactions/{emoji}", tag = "messages", params(("id" = Uuid, Path), ("emoji" = String, Path)), responses(
    (status = 200, body = Message), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_reaction(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, emoji)): ApiPath<(Uuid, String)>,
) -> ApiResult<Json<Message>> {
    let emoji = Emoji::parse(&emoji)?;
    let message = visible(&state, &user, id).await?;
    if message.deleted_at.is_some() {
        return Err(ApiError::new(
            ErrorCode::MessageDeleted,
            "that message has been deleted",
        ));
    }
    super::limit_writes(&state, &user).await?;
    let mut tx = store::begin(&state.db).await?;
    if store::messages::add_reaction(&mut *tx, id, user.id, emoji.as_str()).await? {
        let data =
            serde_json::json!({ "message_id": id, "emoji": emoji.as_str(), "user_id": user.id });
        store::messages::append_event(&mut tx, message.room_id, "reaction.added", data).await?;
    }
    tx.commit().await?;
    state.notify.room_changed(message.room_id).await;
    Ok(Json(visible(&state, &user, id).await?))
}

/// Take back a reaction.
#[utoipa::path(delete, path = "/messages/{id}/reactions/{emoji}", tag = "messages", params(("id" = Uuid, Path), ("emoji" = String, Path)), responses(
    (status = 200, body = Message), (status = 404, body = ErrorBody, description = "message_not_found, reaction_not_found")))]
async fn remove_reaction(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, emoji)): ApiPath<(Uuid, String)>,
) -> ApiResult<Json<Message>> {
    let emoji = Emoji::parse(&emoji)?;
    let message = visible(&state, &user, id).await?;
    let mut tx = store::begin(&state.db).await?;
    if !store::messages::remove_reaction(&mut *tx, id, user.id, emoji.as_str()).await? {
        return Err(ApiError::new(
            ErrorCode::ReactionNotFound,
            "you had not reacted with that",
        ));
    }
    let data = serde_json::json!({ "message_id": id, "emoji": emoji.as_str(), "user_id": user.id });
    store::messages::append_event(&mut tx, message.room_id, "reaction.removed", data).await?;
    tx.commit().await?;
    state.notify.room_changed(message.room_id).await;
    Ok(Json(visible(&state, &user, id).await?))
}

#[derive(Deserialize, IntoParams, ToSchema)]
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
    let query = SearchQuery::parse(&q.q)?;
    let limit = page_size(&state, q.limit, 20)?;
    Ok(Json(
        store::messages::search(&state.db, user.id, query.as_str(), q.room, limit).await?,
    ))
}

#[derive(Deserialize, IntoParams, ToSchema)]
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
        store::messages::mentions(&state.db, user.id, q.before, limit).await?,
    ))
}
