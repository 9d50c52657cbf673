//! Tasks: where conversation becomes work. Every change is recorded as a task event and posted as
//! a system message into the task's room timeline, in the same transaction as the change.
//!
//! The board (creating, listing, changing, moving, completing and deleting tasks) is here;
//! [`from_message`] makes a task from a message, [`discussion`] is a task's own conversation.

pub mod discussion;
pub mod from_message;

use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AppState, Coded, Infra, limits::LimitError, messages::MessageError, rooms::RoomError};
use crate::{
    domain::{
        Actor, Denied, ErrorCode, Invalid, Labels, TaskDescription, TaskTitle,
        permissions::may_delete_task,
        tasks::{POSITION_STEP, Priority, TaskEventKind, TaskStatus, parse_due, position_between},
    },
    store::{
        self,
        tasks::{Task, TaskEvent, TaskFilter, TaskRow},
    },
};

pub use from_message::{Source, snapshot_entry};

/// What can go wrong with tasks.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("no such task, or you cannot see it")]
    NotFound,
    #[error("the assignee must be a member of the task's room")]
    AssigneeNotMember,
    #[error("assignee must be `me` or a user id")]
    InvalidAssigneeFilter,
    #[error("status must be todo, doing, blocked or done")]
    InvalidStatusFilter,
    #[error("offset must be between 0 and 100000")]
    InvalidOffset,
    #[error("`after` must be another task in the target column")]
    NoSuchNeighbour,
    #[error("a task cannot be placed after itself")]
    AfterItself,
    #[error("the task is already done")]
    AlreadyDone,
    #[error("the task is not done")]
    NotDone,
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Infra(#[from] Infra),
}

crate::infra_errors!(TaskError);

impl Coded for TaskError {
    fn code(&self) -> ErrorCode {
        match self {
            TaskError::NotFound => ErrorCode::TaskNotFound,
            TaskError::AssigneeNotMember | TaskError::InvalidAssigneeFilter => {
                ErrorCode::InvalidAssignee
            }
            TaskError::InvalidStatusFilter => ErrorCode::InvalidStatus,
            TaskError::InvalidOffset => ErrorCode::InvalidOffset,
            TaskError::NoSuchNeighbour | TaskError::AfterItself => ErrorCode::InvalidPosition,
            TaskError::AlreadyDone => ErrorCode::AlreadyDone,
            TaskError::NotDone => ErrorCode::NotDone,
            TaskError::Room(e) => e.code(),
            TaskError::Message(e) => e.code(),
            TaskError::Denied(e) => e.code,
            TaskError::Invalid(e) => e.code(),
            TaskError::Limit(e) => e.code(),
            TaskError::Infra(e) => e.code(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            TaskError::Limit(e) => e.retry_after(),
            TaskError::Message(e) => e.retry_after(),
            _ => None,
        }
    }

    fn is_validation(&self) -> bool {
        match self {
            TaskError::Invalid(_) => true,
            TaskError::Room(e) => e.is_validation(),
            TaskError::Message(e) => e.is_validation(),
            _ => false,
        }
    }
}

/// A task to create.
#[derive(Deserialize, ToSchema)]
pub struct NewTask {
    /// The room; leave out for a personal task.
    pub room_id: Option<Uuid>,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub status: Option<TaskStatus>,
    pub priority: Option<Priority>,
    /// A member of the room.
    pub assignee_id: Option<Uuid>,
    /// `YYYY-MM-DD`.
    pub due_on: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
}

/// Fields of a task to change; leave out what stays. `assignee_id` and `due_on` may be null.
#[derive(Deserialize, ToSchema, Default)]
pub struct TaskUpdate {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub priority: Option<Priority>,
    #[serde(default, deserialize_with = "crate::app::nullable")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub assignee_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "crate::app::nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub due_on: Option<Option<String>>,
    pub labels: Option<Vec<String>>,
}

/// Where to move a task on the board.
#[derive(Deserialize, ToSchema)]
pub struct MoveTask {
    /// The column to move to; defaults to the current one.
    pub status: Option<TaskStatus>,
    /// Place the task just below this one; null or absent puts it at the top of the column.
    pub after: Option<Uuid>,
}

/// A task the actor can see.
pub(crate) async fn visible(state: &AppState, actor: &Actor, id: Uuid) -> Result<Task, TaskError> {
    store::tasks::get(&state.db, actor.id, id)
        .await?
        .ok_or(TaskError::NotFound)
}

/// The room a task goes in: the given one (if a member) or the actor's personal room.
async fn task_room(state: &AppState, actor: &Actor, room: Option<Uuid>) -> Result<Uuid, TaskError> {
    match room {
        Some(room) => Ok(super::rooms::member_of(&state.db, actor, room)
            .await?
            .room_id),
        None => {
            let mut tx = store::begin(&state.db).await?;
            let room = store::rooms::self_room(&mut tx, actor.id).await?;
            tx.commit().await?;
            // A new personal room joins the user's open sockets (a no-op for one they follow).
            state.notify.user_joined(actor.id, room, 1).await;
            Ok(room)
        }
    }
}

async fn check_assignee(
    tx: &mut sqlx::PgConnection,
    room: Uuid,
    assignee: Option<Uuid>,
) -> Result<(), TaskError> {
    if let Some(assignee) = assignee
        && !store::rooms::is_member(&mut *tx, room, assignee).await?
    {
        return Err(TaskError::AssigneeNotMember);
    }
    Ok(())
}

/// Where a task goes at the end of a board column.
async fn end_of_column(
    tx: &mut sqlx::PgConnection,
    room: Uuid,
    status: TaskStatus,
    moving: Uuid,
) -> Result<f64, TaskError> {
    let (_, max) = store::tasks::column_bounds(tx, room, status, moving).await?;
    Ok(position_between(max, None).unwrap_or(max.unwrap_or(0.0) + POSITION_STEP))
}

/// Inserts a task and records its creation; returns the task as the actor sees it.
pub async fn insert_task(
    state: &AppState,
    actor: &Actor,
    mut row: TaskRow,
    source: Option<Source>,
) -> Result<Task, TaskError> {
    super::limits::limit_writes(state, actor).await?;
    let mut tx = store::begin(&state.db).await?;
    store::rooms::lock(&mut tx, row.room_id).await?;
    check_assignee(&mut tx, row.room_id, row.assignee_id).await?;
    row.position = end_of_column(&mut tx, row.room_id, row.status, row.id).await?;
    let (source_id, snapshot) = match source {
        Some(s) => (Some(s.message_id), Some(s.snapshot)),
        None => (None, None),
    };
    store::tasks::insert(&mut tx, &row, source_id, snapshot).await?;
    let changes = json!({ "title": row.title, "status": row.status, "assignee_id": row.assignee_id, "source_message_id": source_id });
    record(&mut tx, actor, &row, TaskEventKind::Created, changes).await?;
    tx.commit().await?;
    state.notify.room_changed(row.room_id).await;
    if let Some(assignee) = row.assignee_id {
        super::push::task_assigned(state, actor, assignee, row.room_id, row.id, &row.title);
    }
    visible(state, actor, row.id).await
}

/// Records a task event and posts it into the room's timeline.
async fn record(
    tx: &mut sqlx::PgConnection,
    actor: &Actor,
    task: &TaskRow,
    kind: TaskEventKind,
    changes: Value,
) -> Result<(), TaskError> {
    let body = kind.sentence(&task.title, task.status);
    let data = json!({ "event": format!("task_{}", kind.as_str()), "task_id": task.id, "title": task.title, "changes": changes });
    let (message_id, _) =
        super::messages::post_system(tx, task.room_id, actor.id, &body, data, Some(task.id))
            .await?;
    store::tasks::insert_event(tx, task.id, actor.id, kind, &changes, message_id).await?;
    Ok(())
}

/// A new task's row from a request, validated; `room` and `creator` as given.
pub fn parse_new(req: &NewTask, room: Uuid, creator: Uuid) -> Result<TaskRow, TaskError> {
    Ok(TaskRow {
        id: store::new_id(),
        room_id: room,
        creator_id: Some(creator),
        title: TaskTitle::parse(&req.title)?.into_inner(),
        description: TaskDescription::parse(&req.description)?.into_inner(),
        status: req.status.unwrap_or(TaskStatus::Todo),
        priority: req.priority.unwrap_or(Priority::Normal),
        assignee_id: req.assignee_id,
        due_on: req.due_on.as_deref().map(parse_due).transpose()?,
        labels: Labels::parse(&req.labels)?.into_inner(),
        position: 0.0,
    })
}

/// Creates a task in a room, or a personal task without `room_id`.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = ?new.room_id))]
pub async fn create_task(
    state: &AppState,
    actor: &Actor,
    new: &NewTask,
) -> Result<Task, TaskError> {
    let mut row = parse_new(new, Uuid::nil(), actor.id)?;
    row.room_id = task_room(state, actor, new.room_id).await?;
    insert_task(state, actor, row, None).await
}

/// Filters of the task list, as the client sent them.
#[derive(Debug, Default)]
pub struct TaskListing<'a> {
    pub room: Option<Uuid>,
    /// `me` or a user id.
    pub assignee: Option<&'a str>,
    /// One or more of `todo,doing,blocked,done`, comma-separated.
    pub status: Option<&'a str>,
    /// `YYYY-MM-DD`.
    pub due_before: Option<&'a str>,
    pub label: Option<String>,
    /// Page size, already checked.
    pub limit: i64,
    pub offset: Option<i64>,
}

/// Tasks in the actor's rooms, filtered. With `room`, in board order; otherwise soonest due first.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn list_tasks(
    state: &AppState,
    actor: &Actor,
    q: TaskListing<'_>,
) -> Result<Vec<Task>, TaskError> {
    let offset = q.offset.unwrap_or(0);
    if !(0..=100_000).contains(&offset) {
        return Err(TaskError::InvalidOffset);
    }
    let assignee = match q.assignee {
        None => None,
        Some("me") => Some(actor.id),
        Some(raw) => Some(raw.parse().map_err(|_| TaskError::InvalidAssigneeFilter)?),
    };
    let statuses = match q.status {
        None => Vec::new(),
        Some(raw) => raw
            .split(',')
            .map(|s| serde_json::from_value::<TaskStatus>(Value::String(s.trim().to_owned())))
            .collect::<Result<_, _>>()
            .map_err(|_| TaskError::InvalidStatusFilter)?,
    };
    let filter = TaskFilter {
        room: q.room,
        assignee,
        statuses,
        due_before: q.due_before.map(parse_due).transpose()?,
        label: q
            .label
            .map(|l| Labels::parse(&[l]).map(|l| l.into_inner().remove(0)))
            .transpose()?,
    };
    Ok(store::tasks::list(&state.db, actor.id, &filter, q.limit, offset).await?)
}

/// One task.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, task_id = %id))]
pub async fn get_task(state: &AppState, actor: &Actor, id: Uuid) -> Result<Task, TaskError> {
    visible(state, actor, id).await
}

/// Applies `change` to a locked task, saves it and records what changed in one transaction.
async fn change_task(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    change: impl FnOnce(&TaskRow) -> Result<(TaskRow, Option<Option<Uuid>>), TaskError>,
) -> Result<Task, TaskError> {
    super::limits::limit_writes(state, actor).await?;
    let mut tx = store::begin(&state.db).await?;
    let before = store::tasks::lock(&mut tx, actor.id, id)
        .await?
        .ok_or(TaskError::NotFound)?;
    let (mut after, place_after) = change(&before)?;
    check_assignee(&mut tx, after.room_id, after.assignee_id).await?;
    if let Some(place_after) = place_after {
        after.position = place_in_column(&mut tx, &after, place_after).await?;
    } else if after.status != before.status {
        after.position = end_of_column(&mut tx, after.room_id, after.status, after.id).await?;
    }
    let changes = diff(&before, &after);
    if changes.as_object().is_some_and(|c| c.is_empty()) {
        drop(tx);
        return visible(state, actor, id).await;
    }
    let moved = before.position != after.position;
    let kind = TaskEventKind::of_change(before.status, after.status, moved);
    store::tasks::save(&mut tx, &after).await?;
    record(&mut tx, actor, &after, kind, changes).await?;
    tx.commit().await?;
    state.notify.room_changed(after.room_id).await;
    if let Some(assignee) = after.assignee_id.filter(|a| before.assignee_id != Some(*a)) {
        super::push::task_assigned(state, actor, assignee, after.room_id, id, &after.title);
    }
    visible(state, actor, id).await
}

/// The position for `task` placed just below `above` (or at the top of the column with `None`),
/// renumbering the column when the gap has run out.
async fn place_in_column(
    tx: &mut sqlx::PgConnection,
    task: &TaskRow,
    above: Option<Uuid>,
) -> Result<f64, TaskError> {
    for _ in 0..2 {
        let slot = match above {
            Some(above) => {
                let (pos, below) =
                    store::tasks::neighbours(tx, task.room_id, task.status, above, task.id)
                        .await?
                        .ok_or(TaskError::NoSuchNeighbour)?;
                position_between(Some(pos), below)
            }
            None => {
                let (min, _) =
                    store::tasks::column_bounds(tx, task.room_id, task.status, task.id).await?;
                position_between(None, min)
            }
        };
        if let Some(position) = slot {
            return Ok(position);
        }
        store::tasks::renumber(tx, task.room_id, task.status).await?;
    }
    Err(Infra::internal("board column could not be renumbered").into())
}

/// The changed fields as `{"field": {"from": .., "to": ..}}`.
fn diff(before: &TaskRow, after: &TaskRow) -> Value {
    let mut changes = serde_json::Map::new();
    let mut field = |name: &str, from: Value, to: Value| {
        if from != to {
            changes.insert(name.to_owned(), json!({ "from": from, "to": to }));
        }
    };
    field("title", json!(before.title), json!(after.title));
    field(
        "description",
        json!(before.description),
        json!(after.description),
    );
    field("status", json!(before.status), json!(after.status));
    field("priority", json!(before.priority), json!(after.priority));
    field(
        "assignee_id",
        json!(before.assignee_id),
        json!(after.assignee_id),
    );
    field("due_on", json!(before.due_on), json!(after.due_on));
    field("labels", json!(before.labels), json!(after.labels));
    field("position", json!(before.position), json!(after.position));
    Value::Object(changes)
}

/// Changes any fields of a task (any member of its room).
#[tracing::instrument(skip_all, fields(user_id = %actor.id, task_id = %id))]
pub async fn update_task(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    update: &TaskUpdate,
) -> Result<Task, TaskError> {
    let title = update.title.as_deref().map(TaskTitle::parse).transpose()?;
    let description = update
        .description
        .as_deref()
        .map(TaskDescription::parse)
        .transpose()?;
    let labels = update.labels.as_deref().map(Labels::parse).transpose()?;
    let due_on = match &update.due_on {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => Some(Some(parse_due(raw)?)),
    };
    change_task(state, actor, id, |before| {
        let mut after = before.clone();
        if let Some(t) = title {
            after.title = t.into_inner();
        }
        if let Some(d) = description {
            after.description = d.into_inner();
        }
        if let Some(l) = labels {
            after.labels = l.into_inner();
        }
        after.status = update.status.unwrap_or(after.status);
        after.priority = update.priority.unwrap_or(after.priority);
        after.assignee_id = update.assignee_id.unwrap_or(after.assignee_id);
        after.due_on = due_on.unwrap_or(after.due_on);
        Ok((after, None))
    })
    .await
}

/// Moves a task on the board: to a column and a place in it. Everyone sees the same order.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, task_id = %id))]
pub async fn move_task(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    to: &MoveTask,
) -> Result<Task, TaskError> {
    if to.after == Some(id) {
        return Err(TaskError::AfterItself);
    }
    change_task(state, actor, id, |before| {
        let mut after = before.clone();
        after.status = to.status.unwrap_or(before.status);
        Ok((after, Some(to.after)))
    })
    .await
}

/// Marks a task done.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, task_id = %id))]
pub async fn complete_task(state: &AppState, actor: &Actor, id: Uuid) -> Result<Task, TaskError> {
    set_done(state, actor, id, true).await
}

/// Reopens a done task (back to `todo`).
#[tracing::instrument(skip_all, fields(user_id = %actor.id, task_id = %id))]
pub async fn reopen_task(state: &AppState, actor: &Actor, id: Uuid) -> Result<Task, TaskError> {
    set_done(state, actor, id, false).await
}

async fn set_done(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    done: bool,
) -> Result<Task, TaskError> {
    change_task(state, actor, id, |before| {
        match (before.status == TaskStatus::Done, done) {
            (true, true) => return Err(TaskError::AlreadyDone),
            (false, false) => return Err(TaskError::NotDone),
            _ => {}
        }
        let status = if done {
            TaskStatus::Done
        } else {
            TaskStatus::Todo
        };
        Ok((
            TaskRow {
                status,
                ..before.clone()
            },
            None,
        ))
    })
    .await
}

/// Deletes a task (its creator, or the room's owner). Its history stays in the timeline.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, task_id = %id))]
pub async fn delete_task(state: &AppState, actor: &Actor, id: Uuid) -> Result<(), TaskError> {
    let mut tx = store::begin(&state.db).await?;
    let task = store::tasks::lock(&mut tx, actor.id, id)
        .await?
        .ok_or(TaskError::NotFound)?;
    let membership = super::rooms::member_of(&mut *tx, actor, task.room_id).await?;
    may_delete_task(actor.id, task.creator_id, membership.role)?;
    store::tasks::soft_delete(&mut *tx, id).await?;
    record(&mut tx, actor, &task, TaskEventKind::Deleted, json!({})).await?;
    tx.commit().await?;
    state.notify.room_changed(task.room_id).await;
    Ok(())
}

/// A task's history of changes, oldest first.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, task_id = %id))]
pub async fn task_events(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
) -> Result<Vec<TaskEvent>, TaskError> {
    visible(state, actor, id).await?;
    Ok(store::tasks::events(&state.db, actor.id, id).await?)
}
