//! Attachments: the rows that say which room a stored file belongs to, which message or task
//! refers to it, and who may download it. The bytes are on disk (`app::attachments`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{StoreError, StoreResult};

/// A file as members of its room see it (in messages, task lists and upload answers).
/// Download it at `/api/v1/attachments/{id}`, its thumbnail at `/api/v1/attachments/{id}/thumbnail`.
#[derive(Debug, Clone, Serialize, Deserialize, FromRow, ToSchema)]
pub struct Attachment {
    pub id: Uuid,
    pub room_id: Uuid,
    pub uploader_id: Option<Uuid>,
    /// The message that carries it (none until it is sent, and for task attachments).
    pub message_id: Option<Uuid>,
    /// The task it is attached to.
    pub task_id: Option<Uuid>,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Pixel size, for images.
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub has_thumbnail: bool,
    pub created_at: DateTime<Utc>,
}

/// The columns of [`Attachment`], from `attachments a`.
const COLUMNS: &str =
    "a.id, a.room_id, a.uploader_id, a.message_id, a.task_id, a.filename, a.content_type,
    a.size_bytes, a.width, a.height, a.has_thumbnail, a.created_at";

/// A stored file to record.
pub struct NewAttachment<'a> {
    pub id: Uuid,
    pub room_id: Uuid,
    pub uploader_id: Uuid,
    pub task_id: Option<Uuid>,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub dimensions: Option<(u32, u32)>,
    pub has_thumbnail: bool,
    /// The file's text, for the assistant's index (text files and PDFs).
    pub text: Option<&'a str>,
}

/// Serialises uploads that check the quota, until the transaction ends.
pub async fn lock_quota(tx: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("select pg_advisory_xact_lock(hashtext('flowly.attachments.quota'))")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Bytes and files all attachments take.
pub async fn usage(db: impl PgExecutor<'_>) -> StoreResult<(i64, i64)> {
    Ok(
        sqlx::query_as("select coalesce(sum(size_bytes), 0)::bigint, count(*) from attachments")
            .fetch_one(db)
            .await?,
    )
}

pub async fn insert(tx: &mut PgConnection, new: &NewAttachment<'_>) -> StoreResult<Attachment> {
    let (width, height) = new
        .dimensions
        .map(|(w, h)| (i32::try_from(w).ok(), i32::try_from(h).ok()))
        .unwrap_or((None, None));
    let sql = format!(
        "insert into attachments as a (id, room_id, uploader_id, task_id, filename, content_type, size_bytes, sha256, width, height, has_thumbnail, text)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning {COLUMNS}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(new.id)
        .bind(new.room_id)
        .bind(new.uploader_id)
        .bind(new.task_id)
        .bind(new.filename)
        .bind(new.content_type)
        .bind(new.size_bytes)
        .bind(new.sha256)
        .bind(width)
        .bind(height)
        .bind(new.has_thumbnail)
        .bind(new.text)
        .fetch_one(&mut *tx)
        .await?)
}

/// Gives a new message its attachments: each must be an upload of the author's to the room that
/// no message or task has taken yet. Any other id fails the whole send with
/// `Conflict("attachments")`.
pub async fn link_to_message(
    tx: &mut PgConnection,
    message: Uuid,
    room: Uuid,
    author: Uuid,
    ids: &[Uuid],
) -> StoreResult<()> {
    let linked = sqlx::query(
        "update attachments set message_id = $1
         where id = any($4) and room_id = $2 and uploader_id = $3 and message_id is null and task_id is null",
    )
    .bind(message)
    .bind(room)
    .bind(author)
    .bind(ids)
    .execute(&mut *tx)
    .await?;
    if linked.rows_affected() != ids.len() as u64 {
        return Err(StoreError::Conflict("attachments".into()));
    }
    Ok(())
}

/// Deletes a message's attachments (the message is being deleted); returns their ids, so that
/// their files can go too.
pub async fn delete_for_message(tx: &mut PgConnection, message: Uuid) -> StoreResult<Vec<Uuid>> {
    Ok(
        sqlx::query_scalar("delete from attachments where message_id = $1 returning id")
            .bind(message)
            .fetch_all(&mut *tx)
            .await?,
    )
}

/// Deletes uploads to a room that no message took within `secs` seconds (task attachments are
/// never unsent); returns their ids, so that their files can go too.
pub async fn delete_unsent(db: impl PgExecutor<'_>, secs: f64) -> StoreResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "delete from attachments where message_id is null and task_id is null
           and created_at < now() - make_interval(secs => $1) returning id",
    )
    .bind(secs)
    .fetch_all(db)
    .await?)
}

/// An attachment the viewer may download: a member of its room, and the file is on a live
/// message, on a live task, or the viewer's own upload not sent yet.
pub async fn visible(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    id: Uuid,
) -> StoreResult<Option<Attachment>> {
    let sql = format!(
        "select {COLUMNS} from attachments a
         join room_members v on v.room_id = a.room_id and v.user_id = $1
         where a.id = $2 and (
           exists (select 1 from messages m where m.id = a.message_id and m.deleted_at is null)
           or exists (select 1 from tasks t where t.id = a.task_id and t.deleted_at is null)
           or (a.message_id is null and a.task_id is null and a.uploader_id = $1))"
    );
    Ok(sqlx::query_as(&sql)
        .bind(viewer)
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// A task's attachments, oldest first, for a member of its room.
pub async fn for_task(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    task: Uuid,
) -> StoreResult<Vec<Attachment>> {
    let sql = format!(
        "select {COLUMNS} from attachments a
         join room_members v on v.room_id = a.room_id and v.user_id = $1
         where a.task_id = $2 order by a.created_at, a.id"
    );
    Ok(sqlx::query_as(&sql)
        .bind(viewer)
        .bind(task)
        .fetch_all(db)
        .await?)
}
