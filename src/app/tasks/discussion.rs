//! A task's own discussion: messages that belong to the task, apart from the room's timeline,
//! paged and sent (idempotent by client id) like room messages.

use uuid::Uuid;

use super::{TaskError, visible};
use crate::{
    app::{
        AppState,
        messages::{MessagePage, NewMessageRequest, Page, page_stream, send_message},
    },
    domain::Actor,
    store::messages::{Message, Stream},
};

/// A task's discussion, paged like a room timeline.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, task_id = %task))]
pub async fn list_task_messages(
    state: &AppState,
    actor: &Actor,
    task: Uuid,
    page: Page,
) -> Result<MessagePage, TaskError> {
    let found = visible(state, actor, task).await?;
    Ok(page_stream(state, actor, found.room_id, Stream::Task(task), page).await?)
}

/// Sends a message into a task's discussion (REST and WebSocket). Returns the message and
/// whether it was new (false: a retry with the same client id).
#[tracing::instrument(skip_all, fields(user_id = %actor.id, task_id = %task))]
pub async fn send_task_message(
    state: &AppState,
    actor: &Actor,
    task: Uuid,
    req: &NewMessageRequest,
) -> Result<(Message, bool), TaskError> {
    let found = visible(state, actor, task).await?;
    Ok(send_message(state, actor, found.room_id, Some(task), req).await?)
}
