//! Messages: history, sending (idempotent by client id), editing, deleting, replies, reactions,
//! mentions and search, in room timelines and task discussions alike.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AppState, Coded, Infra, limits::LimitError, rooms::RoomError};
use crate::{
    domain::{
        Actor, ClientId, Denied, Emoji, ErrorCode, Invalid, MessageBody, MessageKind, RoomKind,
        SearchQuery, mentioned_usernames,
        permissions::{may_delete_message, may_edit_message},
    },
    store::{
        self, StoreError,
        messages::{Appended, Message, NewMessage, SearchHit, Stream},
    },
};

/// What can go wrong with messages.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("no such message, or you cannot see it")]
    NotFound,
    #[error("you cannot message this person")]
    Blocked,
    #[error("reply_to must be a message in the same conversation")]
    InvalidReplyTo,
    #[error("attachments must be at most 10 of your uploads to this room, not sent yet")]
    InvalidAttachments,
    #[error("that message has been deleted")]
    Deleted,
    #[error("that message has already been deleted")]
    AlreadyDeleted,
    #[error("you had not reacted with that")]
    ReactionNotFound,
    #[error("before and after must not be negative")]
    NegativeCursor,
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Infra(#[from] Infra),
}

crate::infra_errors!(MessageError);

impl Coded for MessageError {
    fn code(&self) -> ErrorCode {
        match self {
            MessageError::NotFound => ErrorCode::MessageNotFound,
            MessageError::Blocked => ErrorCode::Blocked,
            MessageError::InvalidReplyTo => ErrorCode::InvalidReplyTo,
            MessageError::InvalidAttachments => ErrorCode::InvalidAttachments,
            MessageError::Deleted | MessageError::AlreadyDeleted => ErrorCode::MessageDeleted,
            MessageError::ReactionNotFound => ErrorCode::ReactionNotFound,
            MessageError::NegativeCursor => ErrorCode::InvalidCursor,
            MessageError::Room(e) => e.code(),
            MessageError::Denied(e) => e.code,
            MessageError::Invalid(e) => e.code(),
            MessageError::Limit(e) => e.code(),
            MessageError::Infra(e) => e.code(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            MessageError::Limit(e) => e.retry_after(),
            MessageError::Room(e) => e.retry_after(),
            _ => None,
        }
    }

    fn is_validation(&self) -> bool {
        match self {
            MessageError::Invalid(_) => true,
            MessageError::Room(e) => e.is_validation(),
            _ => false,
        }
    }
}

/// Appends a system message (a room or task event) to a room's timeline; returns its id and seq.
pub async fn post_system(
    tx: &mut sqlx::PgConnection,
    room: Uuid,
    actor: Uuid,
    body: &str,
    data: serde_json::Value,
    ref_task: Option<Uuid>,
) -> Result<(Uuid, i64), Infra> {
    let new = NewMessage {
        room_id: room,
        author_id: Some(actor),
        kind: MessageKind::System,
        body,
        data: Some(data),
        ref_task_id: ref_task,
        ..Default::default()
    };
    let appended = store::messages::append(tx, &new).await?;
    Ok((appended.id, appended.seq))
}

/// Where a page of a stream starts and how long it is.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Messages with a smaller sequence number (older), newest of them first in the page.
    pub before: Option<i64>,
    /// Messages with a greater sequence number (newer).
    pub after: Option<i64>,
    /// Page size (default 50, at most `limits.max_page_size`).
    pub limit: Option<i64>,
}

/// A page of messages in ascending sequence order.
#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// More messages exist beyond this page in the direction paged.
    pub has_more: bool,
}

/// Pages a stream (a timeline, a thread, a task's discussion) of a room the actor belongs to.
pub async fn page_stream(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
    stream: Stream,
    page: Page,
) -> Result<MessagePage, MessageError> {
    let limit = super::limits::page_size(state, page.limit, 50)?;
    if page.before.is_some_and(|s| s < 0) || page.after.is_some_and(|s| s < 0) {
        return Err(MessageError::NegativeCursor);
    }
    let (messages, has_more) = store::messages::page(
        &state.db,
        actor.id,
        room,
        stream,
        page.before,
        page.after,
        limit,
    )
    .await?;
    Ok(MessagePage { messages, has_more })
}

/// A room's timeline, paged by sequence number in either direction.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room))]
pub async fn list_messages(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
    page: Page,
) -> Result<MessagePage, MessageError> {
    let page = page_stream(state, actor, room, Stream::Timeline, page).await?;
    // The page's query reads only the actor's rooms, so a page with messages proves the
    // membership; an empty one is an empty room or page, or a room that is not theirs.
    if page.messages.is_empty() {
        super::rooms::member_of(&state.db, actor, room).await?;
    }
    Ok(page)
}

/// A message to send, over REST or the WebSocket.
#[derive(Deserialize, ToSchema)]
pub struct NewMessageRequest {
    pub body: String,
    /// Chosen by the client; sending again with the same id returns the first message (200).
    pub client_id: Option<String>,
    /// The message this one replies to (same room).
    pub reply_to: Option<Uuid>,
    /// Uploads of the sender's to this room (`POST /rooms/{id}/attachments`) the message carries;
    /// with any, `body` may be empty.
    #[serde(default)]
    pub attachments: Vec<Uuid>,
}

/// Most attachments one message carries.
pub const MAX_ATTACHMENTS: usize = 10;

/// Sends a message to a room's timeline or, with `task`, to a task's discussion. Returns the
/// message and whether it was new (false: a retry of an earlier send with the same client id).
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room, task_id = ?task))]
pub async fn send_message(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
    task: Option<Uuid>,
    req: &NewMessageRequest,
) -> Result<(Message, bool), MessageError> {
    let body = match req.attachments.is_empty() {
        false if req.body.trim().is_empty() => MessageBody::empty(),
        _ => MessageBody::parse(&req.body, state.config.limits.max_message_chars)?,
    };
    if req.attachments.len() > MAX_ATTACHMENTS {
        return Err(MessageError::InvalidAttachments);
    }
    let client_id = req.client_id.as_deref().map(ClientId::parse).transpose()?;
    let cid = client_id.as_ref().map(ClientId::as_str);
    let (membership, sent) = super::rooms::member_sending(&state.db, actor, room, cid).await?;
    if let Some(existing) = sent {
        return Ok((visible(state, actor, existing).await?, false));
    }
    super::limits::limit_writes(state, actor).await?;
    if membership.kind == RoomKind::Dm
        && store::friends::blocked_in_room(&state.db, room, actor.id).await?
    {
        return Err(MessageError::Blocked);
    }
    if let Some(parent) = req.reply_to {
        let parent = store::messages::get(&state.db, actor.id, parent).await?;
        if parent.is_none_or(|p| p.room_id != room || p.task_id != task) {
            return Err(MessageError::InvalidReplyTo);
        }
    }
    let mentions = mentioned_usernames(body.as_str());
    let new = NewMessage {
        room_id: room,
        author_id: Some(actor.id),
        kind: MessageKind::User,
        body: body.as_str(),
        reply_to: req.reply_to,
        task_id: task,
        client_id: cid,
        attachments: &req.attachments,
        mentions: &mentions,
        ..Default::default()
    };
    let appended = match append_sent(state, &new).await {
        Err(StoreError::Conflict(c)) if c == "attachments" => {
            return Err(MessageError::InvalidAttachments);
        }
        // A concurrent retry with the same client id won the race: answer with its message.
        Err(StoreError::Conflict(c)) if c == "messages_client_id_key" => {
            let existing =
                store::messages::by_client_id(&state.db, room, actor.id, cid.unwrap_or_default())
                    .await?
                    .ok_or(MessageError::NotFound)?;
            return Ok((visible(state, actor, existing).await?, false));
        }
        other => other?,
    };
    state.notify.room_changed(room).await;
    if task.is_none() {
        super::assistant::ask_from_message(state, actor, room, body.as_str()).await;
    }
    let message = appended.seen_by(actor.id)?;
    super::push::message_sent(
        state,
        actor,
        message.clone(),
        membership.kind,
        appended.mentioned,
    );
    Ok((message, true))
}

/// Appends a sent message as [`store::messages::append`] wants it: one statement on a pooled
/// connection, or, with attachments, in a transaction.
async fn append_sent(state: &AppState, new: &NewMessage<'_>) -> Result<Appended, StoreError> {
    if new.attachments.is_empty() {
        let mut conn = state.db.acquire().await?;
        return store::messages::append(&mut conn, new).await;
    }
    let mut tx = store::begin(&state.db).await?;
    let appended = store::messages::append(&mut tx, new).await?;
    tx.commit().await?;
    Ok(appended)
}

/// A message the actor can see.
async fn visible(state: &AppState, actor: &Actor, id: Uuid) -> Result<Message, MessageError> {
    store::messages::get(&state.db, actor.id, id)
        .await?
        .ok_or(MessageError::NotFound)
}

/// One message.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, message_id = %id))]
pub async fn get_message(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
) -> Result<Message, MessageError> {
    visible(state, actor, id).await
}

/// Edits one's own message.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, message_id = %id))]
pub async fn edit_message(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    body: &str,
) -> Result<Message, MessageError> {
    let body = MessageBody::parse(body, state.config.limits.max_message_chars)?;
    let message = visible(state, actor, id).await?;
    may_edit_message(actor.id, message.author_id, message.kind)?;
    if message.deleted_at.is_some() {
        return Err(MessageError::Deleted);
    }
    super::limits::limit_writes(state, actor).await?;
    let mut tx = store::begin(&state.db).await?;
    store::messages::edit(&mut *tx, id, body.as_str()).await?;
    let mentions = mentioned_usernames(body.as_str());
    store::messages::set_mentions(&mut tx, id, message.room_id, &mentions).await?;
    record_change(&mut tx, message.room_id, "message.edited", id).await?;
    tx.commit().await?;
    state.notify.room_changed(message.room_id).await;
    visible(state, actor, id).await
}

/// Appends an event carrying the message as it now is to its room's stream.
async fn record_change(
    tx: &mut sqlx::PgConnection,
    room: Uuid,
    kind: &str,
    id: Uuid,
) -> Result<(), Infra> {
    let snapshot = store::messages::snapshot(&mut *tx, id).await?;
    let data = serde_json::json!({ "message": snapshot });
    store::messages::append_event(tx, room, kind, data).await?;
    Ok(())
}

/// Deletes a message: one's own, or any person's as the room's owner. A tombstone stays.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, message_id = %id))]
pub async fn delete_message(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
) -> Result<Message, MessageError> {
    let message = visible(state, actor, id).await?;
    let membership = super::rooms::member_of(&state.db, actor, message.room_id).await?;
    may_delete_message(
        actor.id,
        message.author_id,
        message.kind,
        membership.role,
        membership.kind,
    )?;
    if message.deleted_at.is_some() {
        return Err(MessageError::AlreadyDeleted);
    }
    let mut tx = store::begin(&state.db).await?;
    store::messages::tombstone(&mut tx, id).await?;
    let files = store::attachments::delete_for_message(&mut tx, id).await?;
    record_change(&mut tx, message.room_id, "message.deleted", id).await?;
    tx.commit().await?;
    super::attachments::remove_files(state, &files).await;
    state.notify.room_changed(message.room_id).await;
    visible(state, actor, id).await
}

/// Replies to a message (its thread), paged like the timeline.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, message_id = %id))]
pub async fn list_replies(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    page: Page,
) -> Result<MessagePage, MessageError> {
    let root = visible(state, actor, id).await?;
    page_stream(state, actor, root.room_id, Stream::Replies(id), page).await
}

/// Reacts to a message. Reacting twice with the same emoji changes nothing.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, message_id = %id))]
pub async fn add_reaction(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    emoji: &str,
) -> Result<Message, MessageError> {
    let emoji = Emoji::parse(emoji)?;
    let message = visible(state, actor, id).await?;
    if message.deleted_at.is_some() {
        return Err(MessageError::Deleted);
    }
    super::limits::limit_writes(state, actor).await?;
    let mut tx = store::begin(&state.db).await?;
    if store::messages::add_reaction(&mut *tx, id, actor.id, emoji.as_str()).await? {
        let data =
            serde_json::json!({ "message_id": id, "emoji": emoji.as_str(), "user_id": actor.id });
        store::messages::append_event(&mut tx, message.room_id, "reaction.added", data).await?;
    }
    tx.commit().await?;
    state.notify.room_changed(message.room_id).await;
    visible(state, actor, id).await
}

/// Takes back a reaction.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, message_id = %id))]
pub async fn remove_reaction(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    emoji: &str,
) -> Result<Message, MessageError> {
    let emoji = Emoji::parse(emoji)?;
    let message = visible(state, actor, id).await?;
    let mut tx = store::begin(&state.db).await?;
    if !store::messages::remove_reaction(&mut *tx, id, actor.id, emoji.as_str()).await? {
        return Err(MessageError::ReactionNotFound);
    }
    let data =
        serde_json::json!({ "message_id": id, "emoji": emoji.as_str(), "user_id": actor.id });
    store::messages::append_event(&mut tx, message.room_id, "reaction.removed", data).await?;
    tx.commit().await?;
    state.notify.room_changed(message.room_id).await;
    visible(state, actor, id).await
}

/// Full-text search over every message the actor can read (or one room of them).
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn search(
    state: &AppState,
    actor: &Actor,
    query: &str,
    room: Option<Uuid>,
    limit: Option<i64>,
) -> Result<Vec<SearchHit>, MessageError> {
    let query = SearchQuery::parse(query)?;
    let limit = super::limits::page_size(state, limit, 20)?;
    Ok(store::messages::search(&state.db, actor.id, query.as_str(), room, limit).await?)
}

/// Messages that mention the actor, newest first, older than the message `before`.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn list_mentions(
    state: &AppState,
    actor: &Actor,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Message>, MessageError> {
    Ok(store::messages::mentions(&state.db, actor.id, before, limit).await?)
}
