//! Attachments: files and images uploaded to a room (then sent with a message) or to a task.
//!
//! An upload is checked before its bytes are kept: the media type against
//! `attachments.allowed_types`, the size against `attachments.max_file_bytes` while it streams,
//! an image by decoding it within limits (and a thumbnail made), and the installation's total
//! against `attachments.quota_bytes` under a lock. Only then is the file renamed into place and
//! its row written. The text of text files and PDFs is kept with the row for the assistant's
//! index. A download is allowed to members of the attachment's room; anyone else is told it does
//! not exist.

mod images;
mod storage;
mod text;

use std::path::PathBuf;

use futures::Stream;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AppState, Coded, Infra, limits::LimitError, rooms::RoomError, tasks::TaskError};
use crate::{
    domain::{Actor, ErrorCode, permissions::require_admin},
    store::{
        self,
        attachments::{Attachment, NewAttachment},
    },
};
pub use storage::Storage;

/// What can go wrong with attachments.
#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    #[error("no such attachment, or you cannot see it")]
    NotFound,
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedType(String),
    #[error("the installation's attachments would pass their quota of {0} bytes")]
    QuotaExceeded(u64),
    #[error("a file name must be 1-255 characters, without control characters or slashes")]
    InvalidFilename,
    #[error("the upload was cut off; send it again")]
    Interrupted,
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Denied(#[from] crate::domain::Denied),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Infra(#[from] Infra),
}

crate::infra_errors!(AttachmentError);

impl From<std::io::Error> for AttachmentError {
    fn from(e: std::io::Error) -> Self {
        AttachmentError::Infra(Infra::internal(format!("attachments storage: {e}")))
    }
}

impl Coded for AttachmentError {
    fn code(&self) -> ErrorCode {
        match self {
            AttachmentError::NotFound => ErrorCode::AttachmentNotFound,
            AttachmentError::TooLarge(_) => ErrorCode::TooLarge,
            AttachmentError::UnsupportedType(_) => ErrorCode::UnsupportedType,
            AttachmentError::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
            AttachmentError::InvalidFilename => ErrorCode::InvalidFilename,
            AttachmentError::Interrupted => ErrorCode::UploadInterrupted,
            AttachmentError::Room(e) => e.code(),
            AttachmentError::Task(e) => e.code(),
            AttachmentError::Denied(e) => e.code,
            AttachmentError::Limit(e) => e.code(),
            AttachmentError::Infra(e) => e.code(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            AttachmentError::Limit(e) => e.retry_after(),
            _ => None,
        }
    }

    fn is_validation(&self) -> bool {
        matches!(self, AttachmentError::InvalidFilename)
    }
}

/// What a client says about a file it uploads.
pub struct UploadInfo<'a> {
    pub filename: &'a str,
    /// The `Content-Type` it was sent with.
    pub content_type: &'a str,
    /// The `Content-Length` it was sent with, if any (refused early when too large).
    pub length: Option<u64>,
}

/// Where an upload goes: a room's pending uploads (sent later with a message) or a task.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    Room(Uuid),
    Task(Uuid),
}

/// Stores an upload to a room (for a message the actor sends next) or to a task.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, target = ?target))]
pub async fn upload<S, B, E>(
    state: &AppState,
    actor: &Actor,
    target: Target,
    info: UploadInfo<'_>,
    body: S,
) -> Result<Attachment, AttachmentError>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let config = &state.config.attachments;
    let filename = parse_filename(info.filename)?;
    let content_type = allowed_type(&config.allowed_types, info.content_type)?;
    let (room, task) = match target {
        Target::Room(room) => (
            super::rooms::member_of(&state.db, actor, room)
                .await?
                .room_id,
            None,
        ),
        Target::Task(task) => {
            let task = super::tasks::visible(state, actor, task).await?;
            (task.room_id, Some(task.id))
        }
    };
    super::limits::limit_writes(state, actor).await?;
    if info.length.is_some_and(|n| n > config.max_file_bytes) {
        return Err(too_large(config.max_file_bytes));
    }
    let (used, _) = store::attachments::usage(&state.db).await?;
    let quota = config.quota_bytes;
    if quota > 0 && used as u64 + info.length.unwrap_or(0) > quota {
        return Err(AttachmentError::QuotaExceeded(quota));
    }
    let storage = Storage::new(&config.dir);
    let id = store::new_id();
    let received = storage
        .receive(id, body, config.max_file_bytes)
        .await
        .map_err(|e| match e {
            storage::ReceiveError::TooLarge(max) => too_large(max),
            storage::ReceiveError::Interrupted(_) => AttachmentError::Interrupted,
            storage::ReceiveError::Io(e) => e.into(),
        })?;
    let image = match images::format_of(&content_type) {
        Some(format) => Some(check_image(state, &received.temp, format).await?),
        None => None,
    };
    let text = match text::has_text(&content_type) {
        true => extract_text(state, &received.temp, &content_type).await?,
        false => None,
    };
    let thumbnail = match &image {
        Some(checked) => {
            let temp = storage.temp(id, ".thumb").await?;
            tokio::fs::write(temp.path(), &checked.thumbnail).await?;
            Some(temp)
        }
        None => None,
    };
    let new = NewAttachment {
        id,
        room_id: room,
        uploader_id: actor.id,
        task_id: task,
        filename: &filename,
        content_type: &content_type,
        size_bytes: received.size as i64,
        sha256: &received.sha256,
        dimensions: image.as_ref().map(|c| (c.width, c.height)),
        has_thumbnail: thumbnail.is_some(),
        text: text.as_deref(),
    };
    let mut tx = store::begin(&state.db).await?;
    store::attachments::lock_quota(&mut tx).await?;
    let (used, _) = store::attachments::usage(&mut *tx).await?;
    if quota > 0 && used as u64 + received.size > quota {
        return Err(AttachmentError::QuotaExceeded(quota));
    }
    let attachment = store::attachments::insert(&mut tx, &new).await?;
    // The files go into place before the row is visible; if the commit fails they are orphans
    // no row points at, never a row without its file.
    if let Some(thumb) = thumbnail {
        storage.publish(thumb, &storage.thumbnail(id)).await?;
    }
    storage.publish(received.temp, &storage.file(id)).await?;
    if let Err(e) = tx.commit().await {
        let _ = tokio::fs::remove_file(storage.file(id)).await;
        let _ = tokio::fs::remove_file(storage.thumbnail(id)).await;
        return Err(e.into());
    }
    tracing::info!(attachment_id = %id, size = received.size, "attachment stored");
    if task.is_some() && text.is_some() {
        // A file on a task appends nothing to the room's log; its text still goes to the index.
        let prefix = &state.config.redis.key_prefix;
        crate::assistant::queue::hint_room(&mut state.redis.clone(), prefix, room).await;
    }
    Ok(attachment)
}

/// The text of an uploaded file, read off the async threads (see [`text::extract`]).
async fn extract_text(
    state: &AppState,
    file: &storage::TempFile,
    content_type: &str,
) -> Result<Option<String>, AttachmentError> {
    let path: PathBuf = file.path().to_owned();
    let content_type = content_type.to_owned();
    let max = usize::try_from(state.config.attachments.max_text_chars).unwrap_or(usize::MAX);
    let text = tokio::task::spawn_blocking(move || text::extract(&path, &content_type, max))
        .await
        .map_err(Infra::internal)??;
    Ok(text)
}

/// Whether files of `content_type` are images that browsers show inline (and get thumbnails).
pub fn is_image(content_type: &str) -> bool {
    images::format_of(content_type).is_some()
}

fn too_large(max: u64) -> AttachmentError {
    AttachmentError::TooLarge(format!("a file may have at most {max} bytes"))
}

/// Decodes an uploaded image off the async threads.
async fn check_image(
    state: &AppState,
    file: &storage::TempFile,
    format: image::ImageFormat,
) -> Result<images::Checked, AttachmentError> {
    let path: PathBuf = file.path().to_owned();
    let max_pixels = state.config.attachments.max_image_pixels;
    let px = state.config.attachments.thumbnail_px;
    let checked = tokio::task::spawn_blocking(move || images::check(&path, format, max_pixels, px))
        .await
        .map_err(Infra::internal)?;
    checked.map_err(|e| match e {
        images::ImageRefusal::TooManyPixels(..) => {
            AttachmentError::TooLarge(format!("{e}: at most {max_pixels} pixels"))
        }
        images::ImageRefusal::Undecodable(_) => AttachmentError::UnsupportedType(e.to_string()),
        images::ImageRefusal::Io(e) => e.into(),
    })
}

/// A file name as given, trimmed: 1-255 characters, no control characters, no path.
fn parse_filename(raw: &str) -> Result<String, AttachmentError> {
    let name = raw.trim();
    let ok = (1..=255).contains(&name.chars().count())
        && !name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
        && name != "."
        && name != "..";
    if ok {
        Ok(name.to_owned())
    } else {
        Err(AttachmentError::InvalidFilename)
    }
}

/// The media type of `content_type` (lower-cased, parameters dropped) if it is allowed.
fn allowed_type(allowed: &[String], content_type: &str) -> Result<String, AttachmentError> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(&essence)) {
        Ok(essence)
    } else {
        Err(AttachmentError::UnsupportedType(format!(
            "files of type {essence:?} are not accepted"
        )))
    }
}

/// An attachment to download, and where its bytes are.
pub struct Download {
    pub attachment: Attachment,
    pub path: PathBuf,
}

/// The file (or with `thumbnail`, the thumbnail) of an attachment the actor may see.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, attachment_id = %id))]
pub async fn download(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    thumbnail: bool,
) -> Result<Download, AttachmentError> {
    let attachment = store::attachments::visible(&state.db, actor.id, id)
        .await?
        .ok_or(AttachmentError::NotFound)?;
    let storage = Storage::new(&state.config.attachments.dir);
    let path = match thumbnail {
        false => storage.file(id),
        true if attachment.has_thumbnail => storage.thumbnail(id),
        true => return Err(AttachmentError::NotFound),
    };
    Ok(Download { attachment, path })
}

/// Removes the files of attachments whose rows are gone (their message was deleted). A file that
/// cannot be removed is logged and left: no row points at it, so it is never served.
pub async fn remove_files(state: &AppState, ids: &[Uuid]) {
    let storage = Storage::new(&state.config.attachments.dir);
    for &id in ids {
        for path in [storage.file(id), storage.thumbnail(id)] {
            match tokio::fs::remove_file(&path).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    tracing::warn!(attachment_id = %id, error = %e, "could not remove an attachment's file");
                }
                _ => {}
            }
        }
    }
}

/// Deletes the uploads that waited longer than `older_than` for a message to carry them, and
/// their files; returns how many went. Every node may run it: each deletes distinct rows.
pub async fn sweep_unsent(
    state: &AppState,
    older_than: std::time::Duration,
) -> Result<usize, AttachmentError> {
    let ids = store::attachments::delete_unsent(&state.db, older_than.as_secs_f64()).await?;
    remove_files(state, &ids).await;
    if !ids.is_empty() {
        tracing::info!(count = ids.len(), "unsent uploads deleted");
    }
    Ok(ids.len())
}

/// A task's attachments.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, task_id = %task))]
pub async fn task_attachments(
    state: &AppState,
    actor: &Actor,
    task: Uuid,
) -> Result<Vec<Attachment>, AttachmentError> {
    super::tasks::visible(state, actor, task).await?;
    Ok(store::attachments::for_task(&state.db, actor.id, task).await?)
}

/// How much of the quota the installation's attachments take.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentUsage {
    pub used_bytes: i64,
    pub files: i64,
    /// `attachments.quota_bytes` (0: no quota).
    pub quota_bytes: u64,
    /// `attachments.max_file_bytes`.
    pub max_file_bytes: u64,
}

/// The attachments' use of the quota (administrators).
pub async fn usage(state: &AppState, actor: &Actor) -> Result<AttachmentUsage, AttachmentError> {
    require_admin(actor)?;
    let (used_bytes, files) = store::attachments::usage(&state.db).await?;
    let config = &state.config.attachments;
    Ok(AttachmentUsage {
        used_bytes,
        files,
        quota_bytes: config.quota_bytes,
        max_file_bytes: config.max_file_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_their_words_but_never_a_path() {
        assert_eq!(
            parse_filename(" report 2026.pdf ").ok(),
            Some("report 2026.pdf".into())
        );
        assert_eq!(
            parse_filename("Übersicht.txt").ok(),
            Some("Übersicht.txt".into())
        );
        for bad in [
            "",
            "  ",
            "../etc/passwd",
            "a\\b",
            "line\nbreak",
            "..",
            &"x".repeat(256),
        ] {
            assert!(parse_filename(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn media_types_are_matched_without_their_parameters() {
        let allowed = vec!["text/plain".to_owned(), "image/png".to_owned()];
        assert_eq!(
            allowed_type(&allowed, "Text/Plain; charset=utf-8").ok(),
            Some("text/plain".into())
        );
        assert!(allowed_type(&allowed, "image/svg+xml").is_err());
        assert!(allowed_type(&allowed, "").is_err());
    }
}
