//! A task made from a message: it links to the message, keeps a snapshot of the conversation
//! around it, and the room's timeline gets a system message linking to the task.

use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{NewTask, TaskError, insert_task, parse_new};
use crate::{
    app::{AppState, messages::MessageError},
    domain::tasks::{Priority, TaskStatus},
    domain::{Actor, TaskTitle},
    store::{self, messages::Message, tasks::Task},
};

/// Messages kept either side of the source message in a task's snapshot.
const SNAPSHOT_EACH_SIDE: i64 = 5;

/// The source of a task made from a message.
pub struct Source {
    pub message_id: Uuid,
    /// The conversation around it, as [`snapshot_entry`]s.
    pub snapshot: Value,
}

/// A task to make from a message; everything defaults.
#[derive(Deserialize, ToSchema)]
pub struct TaskFromMessage {
    /// Defaults to the message's first line.
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub priority: Option<Priority>,
    pub assignee_id: Option<Uuid>,
    pub due_on: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
}

/// Makes a task from message `id`.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, message_id = %id))]
pub async fn task_from_message(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: &TaskFromMessage,
) -> Result<Task, TaskError> {
    let message = store::messages::get(&state.db, actor.id, id)
        .await?
        .ok_or(MessageError::NotFound)?;
    if message.deleted_at.is_some() {
        return Err(MessageError::Deleted.into());
    }
    let title = match &req.title {
        Some(t) => TaskTitle::parse(t)?,
        None => TaskTitle::from_text(&message.body)?,
    };
    let new = NewTask {
        room_id: Some(message.room_id),
        title: title.into_inner(),
        description: req.description.clone().unwrap_or_default(),
        status: req.status,
        priority: req.priority,
        assignee_id: req.assignee_id,
        due_on: req.due_on.clone(),
        labels: req.labels.clone(),
    };
    let row = parse_new(&new, message.room_id, actor.id)?;
    let around = match message.task_id {
        None => {
            store::messages::around(
                &state.db,
                actor.id,
                message.room_id,
                message.seq,
                SNAPSHOT_EACH_SIDE,
            )
            .await?
        }
        Some(_) => vec![message.clone()],
    };
    let snapshot = Value::Array(around.iter().map(snapshot_entry).collect());
    let source = Source {
        message_id: id,
        snapshot,
    };
    insert_task(state, actor, row, Some(source)).await
}

/// One message of a task's snapshot.
pub fn snapshot_entry(m: &Message) -> Value {
    json!({
        "id": m.id, "seq": m.seq, "author_id": m.author_id, "author_username": m.author_username,
        "author_display_name": m.author_display_name, "body": m.body, "created_at": m.created_at,
    })
}
