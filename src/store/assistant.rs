//! Assistant requests: questions, summaries and task extractions, with their answers. A request
//! is only ever read back by the person who made it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection, PgExecutor, types::Json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::StoreResult;
use crate::domain::assistant::{RequestKind, RequestStatus};

/// A numbered source of an answer, linking into the conversation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Citation {
    /// The number the answer cites it by (`[n]`).
    pub n: usize,
    /// `message`, `task` or `attachment` (a part of a file's text).
    pub kind: String,
    /// The message's, task's or attachment's id.
    pub id: Uuid,
    pub room: Uuid,
    pub room_name: String,
    /// The message's sequence number in its room (for a file: of the message that carries it;
    /// null for a task and a file on a task).
    pub seq: Option<i64>,
    pub excerpt: String,
    /// The message's author, the task's creator or the file's uploader (username).
    pub author: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The file's name (`attachment` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// The task the file is attached to (`attachment` only, when on a task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Uuid>,
}

/// A field of a proposed task and the message it came from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Cited<T> {
    pub value: T,
    pub cite: Option<Uuid>,
}

/// A user as a proposal names them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct UserRef {
    pub id: Uuid,
    pub username: String,
}

/// A task proposed from selected messages.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Proposal {
    pub n: usize,
    #[schema(value_type = Object)]
    pub title: Cited<String>,
    #[schema(value_type = Object)]
    pub assignee: Cited<Option<UserRef>>,
    /// `YYYY-MM-DD` or null.
    #[schema(value_type = Object)]
    pub due: Cited<Option<String>>,
    /// The task made when this proposal was accepted.
    pub accepted_task: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestError {
    pub code: String,
    pub message: String,
}

/// A question, summary or task extraction and, once done, its result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssistantRequest {
    pub id: Uuid,
    pub kind: RequestKind,
    pub status: RequestStatus,
    pub question: String,
    pub room: Option<Uuid>,
    pub post: bool,
    pub answer: Option<String>,
    pub citations: Vec<Citation>,
    pub proposals: Option<Vec<Proposal>>,
    pub error: Option<RequestError>,
    pub model: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A request as stored.
#[derive(Debug, Clone, FromRow)]
pub struct RequestRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: RequestKind,
    pub status: RequestStatus,
    pub question: String,
    pub room_id: Option<Uuid>,
    pub post: bool,
    pub message_ids: Vec<Uuid>,
    pub answer: Option<String>,
    pub citations: Json<Vec<Citation>>,
    pub proposals: Option<Json<Vec<Proposal>>>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub model: Option<String>,
    pub posted_message_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<RequestRow> for AssistantRequest {
    fn from(r: RequestRow) -> Self {
        AssistantRequest {
            id: r.id,
            kind: r.kind,
            status: r.status,
            question: r.question,
            room: r.room_id,
            post: r.post,
            answer: r.answer,
            citations: r.citations.0,
            proposals: r.proposals.map(|p| p.0),
            error: r.error_code.map(|code| RequestError {
                code,
                message: r.error_message.unwrap_or_default(),
            }),
            model: r.model,
            created_at: r.created_at,
            finished_at: r.finished_at,
        }
    }
}

const SELECT: &str = "select id, user_id, kind, status, question, room_id, post, message_ids, answer,
    citations, proposals, error_code, error_message, model, posted_message_id, created_at, finished_at
    from assistant_requests";

/// A new request.
pub struct NewRequest<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: RequestKind,
    pub question: &'a str,
    pub room_id: Option<Uuid>,
    pub post: bool,
    pub message_ids: &'a [Uuid],
}

pub async fn insert(db: impl PgExecutor<'_>, new: &NewRequest<'_>) -> StoreResult<RequestRow> {
    let sql = format!(
        "with i as (insert into assistant_requests (id, user_id, kind, question, room_id, post, message_ids)
                    values ($1, $2, $3, $4, $5, $6, $7) returning *)
         {}",
        SELECT.replace("from assistant_requests", "from i")
    );
    Ok(sqlx::query_as(&sql)
        .bind(new.id)
        .bind(new.user_id)
        .bind(new.kind)
        .bind(new.question)
        .bind(new.room_id)
        .bind(new.post)
        .bind(new.message_ids)
        .fetch_one(db)
        .await?)
}

/// A request, for its owner only.
pub async fn get_for(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    id: Uuid,
) -> StoreResult<Option<RequestRow>> {
    Ok(
        sqlx::query_as(&format!("{SELECT} where id = $1 and user_id = $2"))
            .bind(id)
            .bind(owner)
            .fetch_optional(db)
            .await?,
    )
}

/// A request by id (the worker).
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> StoreResult<Option<RequestRow>> {
    Ok(sqlx::query_as(&format!("{SELECT} where id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// A request locked for the rest of the transaction.
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> StoreResult<Option<RequestRow>> {
    Ok(
        sqlx::query_as(&format!("{SELECT} where id = $1 for update"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?,
    )
}

/// The owner's newest requests.
pub async fn recent(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    limit: i64,
) -> StoreResult<Vec<RequestRow>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} where user_id = $1 order by created_at desc, id desc limit $2"
    ))
    .bind(owner)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Marks a queued (or re-delivered running) request as running. Returns false when it already
/// finished (a duplicate delivery).
pub async fn start(db: impl PgExecutor<'_>, id: Uuid) -> StoreResult<bool> {
    Ok(sqlx::query(
        "update assistant_requests set status = $2, started_at = now()
         where id = $1 and status in ($3, $2)",
    )
    .bind(id)
    .bind(RequestStatus::Running)
    .bind(RequestStatus::Queued)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// What a finished request holds.
pub struct Finished<'a> {
    pub answer: Option<&'a str>,
    pub citations: &'a [Citation],
    pub proposals: Option<&'a [Proposal]>,
    pub model: Option<&'a str>,
}

/// Stores a request's result, unless it already finished.
pub async fn finish(db: impl PgExecutor<'_>, id: Uuid, done: &Finished<'_>) -> StoreResult<bool> {
    Ok(sqlx::query(
        "update assistant_requests set status = $6, answer = $2, citations = $3, proposals = $4,
                model = $5, finished_at = now()
         where id = $1 and status in ($7, $8)",
    )
    .bind(id)
    .bind(done.answer)
    .bind(Json(done.citations))
    .bind(done.proposals.map(Json))
    .bind(done.model)
    .bind(RequestStatus::Done)
    .bind(RequestStatus::Queued)
    .bind(RequestStatus::Running)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Marks a request failed, unless it already finished.
pub async fn fail(
    db: impl PgExecutor<'_>,
    id: Uuid,
    code: &str,
    message: &str,
) -> StoreResult<bool> {
    Ok(sqlx::query(
        "update assistant_requests set status = $4, error_code = $2, error_message = $3, finished_at = now()
         where id = $1 and status in ($5, $6)",
    )
    .bind(id)
    .bind(code)
    .bind(message)
    .bind(RequestStatus::Failed)
    .bind(RequestStatus::Queued)
    .bind(RequestStatus::Running)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Records the assistant message an answer was posted as.
pub async fn set_posted(tx: &mut PgConnection, id: Uuid, message: Uuid) -> StoreResult<()> {
    sqlx::query("update assistant_requests set posted_message_id = $2 where id = $1")
        .bind(id)
        .bind(message)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Claims proposal `index` (0-based) of a request for a task about to be made; false when it
/// was already accepted.
pub async fn claim_proposal(
    tx: &mut PgConnection,
    id: Uuid,
    index: i32,
    task: Uuid,
) -> StoreResult<bool> {
    Ok(sqlx::query(
        "update assistant_requests
         set proposals = jsonb_set(proposals, array[$2::text, 'accepted_task'], to_jsonb($3::text))
         where id = $1 and jsonb_typeof(proposals->$2::int) = 'object'
           and (proposals->$2::int->>'accepted_task') is null",
    )
    .bind(id)
    .bind(index)
    .bind(task)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1)
}

/// Releases a claim whose task could not be made.
pub async fn unclaim_proposal(
    tx: &mut PgConnection,
    id: Uuid,
    index: i32,
    task: Uuid,
) -> StoreResult<()> {
    sqlx::query(
        "update assistant_requests
         set proposals = jsonb_set(proposals, array[$2::text, 'accepted_task'], 'null'::jsonb)
         where id = $1 and proposals->$2::int->>'accepted_task' = $3::text",
    )
    .bind(id)
    .bind(index)
    .bind(task)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Messages of a room visible to `viewer` by id (tombstones and system messages left out), in
/// stream order: the input of task extraction and summaries.
#[derive(Debug, Clone, FromRow)]
pub struct SourceMessage {
    pub id: Uuid,
    pub room_id: Uuid,
    pub room_name: String,
    pub seq: i64,
    pub author_id: Option<Uuid>,
    pub author: Option<String>,
    pub body: String,
    pub reply_to: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

const SOURCE_SELECT: &str = "select m.id, m.room_id, r.name as room_name, m.seq, m.author_id,
    u.username as author, m.body, m.reply_to, m.created_at
    from messages m
    join room_members v on v.room_id = m.room_id and v.user_id = $1
    join rooms r on r.id = m.room_id
    left join users u on u.id = m.author_id";

pub async fn source_messages(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    room: Uuid,
    ids: &[Uuid],
) -> StoreResult<Vec<SourceMessage>> {
    Ok(sqlx::query_as(&format!(
        "{SOURCE_SELECT} where m.room_id = $2 and m.id = any($3) and m.kind = 'user'
         and m.deleted_at is null order by m.seq"
    ))
    .bind(viewer)
    .bind(room)
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// The messages to summarise for `viewer`: those after their read marker (at most `max`, the
/// oldest unread first), or the last `fallback` when nothing is unread. User and assistant
/// messages of the timeline only.
pub async fn to_summarise(
    db: &sqlx::PgPool,
    viewer: Uuid,
    room: Uuid,
    max: i64,
    fallback: i64,
) -> StoreResult<Vec<SourceMessage>> {
    let unread: Vec<SourceMessage> = sqlx::query_as(&format!(
        "{SOURCE_SELECT} where m.room_id = $2 and m.seq > v.last_read_seq and m.task_id is null
         and m.kind = 'user' and m.deleted_at is null and m.author_id is distinct from $1
         order by m.seq limit $3"
    ))
    .bind(viewer)
    .bind(room)
    .bind(max)
    .fetch_all(db)
    .await?;
    if !unread.is_empty() {
        return Ok(unread);
    }
    let mut last: Vec<SourceMessage> = sqlx::query_as(&format!(
        "{SOURCE_SELECT} where m.room_id = $2 and m.task_id is null and m.kind = 'user'
         and m.deleted_at is null order by m.seq desc limit $3"
    ))
    .bind(viewer)
    .bind(room)
    .bind(fallback)
    .fetch_all(db)
    .await?;
    last.reverse();
    Ok(last)
}

/// Members of a room by username (for `@user` in extracted tasks), for a viewer in the room.
pub async fn member_by_username(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    room: Uuid,
    username: &str,
) -> StoreResult<Option<UserRef>> {
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "select u.id, u.username from room_members rm
         join room_members v on v.room_id = rm.room_id and v.user_id = $1
         join users u on u.id = rm.user_id
         where rm.room_id = $2 and lower(u.username) = lower($3)",
    )
    .bind(viewer)
    .bind(room)
    .bind(username)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(id, username)| UserRef { id, username }))
}
