//! Tasks: where conversation becomes work. Every change is recorded as a task event and posted as
//! a system message into the task's room timeline, in the same transaction as the change.

use crate::domain::ErrorCode;
use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, CurrentUser, ErrorBody,
    messages::{
        MessagePage, NewMessageRequest, PageQuery, message_not_found, page_stream, post_system,
    },
    page_size,
    rooms::member_of,
};
use crate::{
    domain::{
        Labels, TaskDescription, TaskTitle,
        tasks::{Priority, TaskStatus, parse_due, position_between},
    },
    state::AppState,
    store::{
        self,
        messages::{Message, Stream},
        tasks::{Task, TaskEvent, TaskFilter, TaskRow},
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(get_task, update_task, delete_task))
        .routes(routes!(move_task))
        .routes(routes!(complete_task))
        .routes(routes!(reopen_task))
        .routes(routes!(task_events))
        .routes(routes!(list_task_messages, send_task_message))
        .routes(routes!(task_from_message))
}

pub fn task_not_found() -> ApiError {
    ApiError::new(
        ErrorCode::TaskNotFound,
        "no such task, or you cannot see it",
    )
}

/// Distinguishes a field left out (`None`) from one set to null (`Some(None)`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

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
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub assignee_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub due_on: Option<Option<String>>,
    pub labels: Option<Vec<String>>,
}

/// The room a task goes in: the given one (if a member) or the caller's personal room.
async fn task_room(state: &AppState, user: &CurrentUser, room: Option<Uuid>) -> ApiResult<Uuid> {
    match room {
        Some(room) => Ok(member_of(&state.db, user, room).await?.room_id),
        None => {
            let mut tx = store::begin(&state.db).await?;
            let room = store::rooms::self_room(&mut tx, user.id).await?;
            tx.commit().await?;
            // A new personal room joins the user's open sockets (a no-op for one they follow).
            state.notify.user_joined(user.id, room, 1).await;
            Ok(room)
        }
    }
}

async fn check_assignee(
    tx: &mut sqlx::PgConnection,
    room: Uuid,
    assignee: Option<Uuid>,
) -> ApiResult<()> {
    if let Some(assignee) = assignee
        && !store::rooms::is_member(&mut *tx, room, assignee).await?
    {
        return Err(ApiError::new(
            ErrorCode::InvalidAssignee,
            "the assignee must be a member of the task's room",
        ));
    }
    Ok(())
}

/// Where a task goes at the end of a board column.
async fn end_of_column(
    tx: &mut sqlx::PgConnection,
    room: Uuid,
    status: TaskStatus,
    moving: Uuid,
) -> ApiResult<f64> {
    let (_, max) = store::tasks::column_bounds(tx, room, status, moving).await?;
    Ok(position_between(max, None)
        .unwrap_or(max.unwrap_or(0.0) + crate::domain::tasks::POSITION_STEP))
}

/// The source of a task made from a message.
pub(crate) struct Source {
    pub(crate) message_id: Uuid,
    pub(crate) snapshot: Value,
}

/// Inserts a task and records its creation; returns the task as the caller sees it.
pub(crate) async fn insert_task(
    state: &AppState,
    user: &CurrentUser,
    mut row: TaskRow,
    source: Option<Source>,
) -> ApiResult<Task> {
    super::limit_writes(state, user).await?;
    let mut tx = store::begin(&state.db).await?;
    sqlx::query("select 1 from rooms where id = $1 for update")
        .bind(row.room_id)
        .execute(&mut *tx)
        .await?;
    check_assignee(&mut tx, row.room_id, row.assignee_id).await?;
    row.position = end_of_column(&mut tx, row.room_id, row.status, row.id).await?;
    let (source_id, snapshot) = match source {
        Some(s) => (Some(s.message_id), Some(s.snapshot)),
        None => (None, None),
    };
    store::tasks::insert(&mut tx, &row, source_id, snapshot).await?;
    let changes = json!({ "title": row.title, "status": row.status, "assignee_id": row.assignee_id, "source_message_id": source_id });
    record(&mut tx, user, &row, "created", changes).await?;
    tx.commit().await?;
    state.notify.room_changed(row.room_id).await;
    store::tasks::get(&state.db, user.id, row.id)
        .await?
        .ok_or_else(task_not_found)
}

/// Records a task event and posts it into the room's timeline.
async fn record(
    tx: &mut sqlx::PgConnection,
    user: &CurrentUser,
    task: &TaskRow,
    kind: &str,
    changes: Value,
) -> ApiResult<()> {
    let body = match kind {
        "created" => format!("created task “{}”", task.title),
        "moved" => format!("moved task “{}” to {}", task.title, task.status.as_str()),
        "completed" => format!("completed task “{}”", task.title),
        "reopened" => format!("reopened task “{}”", task.title),
        "deleted" => format!("deleted task “{}”", task.title),
        _ => format!("updated task “{}”", task.title),
    };
    let data = json!({ "event": format!("task_{kind}"), "task_id": task.id, "title": task.title, "changes": changes });
    let (message_id, _) =
        post_system(tx, task.room_id, user.id, &body, data, Some(task.id)).await?;
    store::tasks::insert_event(tx, task.id, user.id, kind, &changes, message_id).await?;
    Ok(())
}

pub(crate) fn parse_new(req: &NewTask, room: Uuid, creator: Uuid) -> ApiResult<TaskRow> {
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

/// Create a task in a room, or a personal task without `room_id`.
#[utoipa::path(post, path = "/tasks", tag = "tasks", request_body = NewTask, responses(
    (status = 201, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<NewTask>,
) -> ApiResult<(StatusCode, Json<Task>)> {
    let mut row = parse_new(&req, Uuid::nil(), user.id)?;
    row.room_id = task_room(&state, &user, req.room_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(insert_task(&state, &user, row, None).await?),
    ))
}

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

/// Messages kept either side of the source message in a task's snapshot.
const SNAPSHOT_EACH_SIDE: i64 = 5;

/// Make a task from a message: it links to the message, keeps a snapshot of the conversation
/// around it, and the room's timeline gets a system message linking to the task.
#[utoipa::path(post, path = "/messages/{id}/task", tag = "tasks", params(("id" = Uuid, Path)), request_body = TaskFromMessage, responses(
    (status = 201, body = Task), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "message_deleted"),
    (status = 422, body = ErrorBody)))]
async fn task_from_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<TaskFromMessage>,
) -> ApiResult<(StatusCode, Json<Task>)> {
    let message = store::messages::get(&state.db, user.id, id)
        .await?
        .ok_or_else(message_not_found)?;
    if message.deleted_at.is_some() {
        return Err(ApiError::new(
            ErrorCode::MessageDeleted,
            "that message has been deleted",
        ));
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
    let row = parse_new(&new, message.room_id, user.id)?;
    let around = match message.task_id {
        None => {
            store::messages::around(
                &state.db,
                user.id,
                message.room_id,
                message.seq,
                SNAPSHOT_EACH_SIDE,
            )
            .await?
        }
        Some(_) => vec![message.clone()],
    };
    let snapshot = Value::Array(around.iter().map(snapshot_entry).collect());
    let task = insert_task(
        &state,
        &user,
        row,
        Some(Source {
            message_id: id,
            snapshot,
        }),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(task)))
}

pub(crate) fn snapshot_entry(m: &Message) -> Value {
    json!({
        "id": m.id, "seq": m.seq, "author_id": m.author_id, "author_username": m.author_username,
        "author_display_name": m.author_display_name, "body": m.body, "created_at": m.created_at,
    })
}

#[derive(Deserialize, IntoParams, ToSchema)]
pub struct TaskQuery {
    pub room: Option<Uuid>,
    /// `me` or a user id.
    pub assignee: Option<String>,
    /// One or more of `todo,doing,blocked,done`, comma-separated.
    pub status: Option<String>,
    /// Due strictly before this date (`YYYY-MM-DD`).
    pub due_before: Option<String>,
    pub label: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Tasks in the caller's rooms, filtered. With `room`, in board order; otherwise soonest due first.
#[utoipa::path(get, path = "/tasks", tag = "tasks", params(TaskQuery), responses(
    (status = 200, body = Vec<Task>), (status = 422, body = ErrorBody)))]
async fn list_tasks(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<TaskQuery>,
) -> ApiResult<Json<Vec<Task>>> {
    let limit = page_size(&state, q.limit, 100)?;
    let offset = q.offset.unwrap_or(0);
    if !(0..=100_000).contains(&offset) {
        return Err(ApiError::new(
            ErrorCode::InvalidOffset,
            "offset must be between 0 and 100000",
        ));
    }
    let assignee = match q.assignee.as_deref() {
        None => None,
        Some("me") => Some(user.id),
        Some(raw) => Some(raw.parse().map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidAssignee,
                "assignee must be `me` or a user id",
            )
        })?),
    };
    let statuses = match q.status.as_deref() {
        None => Vec::new(),
        Some(raw) => raw
            .split(',')
            .map(|s| serde_json::from_value::<TaskStatus>(Value::String(s.trim().to_owned())))
            .collect::<Result<_, _>>()
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidStatus,
                    "status must be todo, doing, blocked or done",
                )
            })?,
    };
    let filter = TaskFilter {
        room: q.room,
        assignee,
        statuses,
        due_before: q.due_before.as_deref().map(parse_due).transpose()?,
        label: q
            .label
            .map(|l| Labels::parse(&[l]).map(|l| l.into_inner().remove(0)))
            .transpose()?,
    };
    Ok(Json(
        store::tasks::list(&state.db, user.id, &filter, limit, offset).await?,
    ))
}

/// One task.
#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Task), (status = 404, body = ErrorBody)))]
async fn get_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Task>> {
    Ok(Json(
        store::tasks::get(&state.db, user.id, id)
            .await?
            .ok_or_else(task_not_found)?,
    ))
}

/// Applies `change` to a locked task, saves it and records what changed in one transaction.
async fn change_task(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    change: impl FnOnce(&TaskRow) -> ApiResult<(TaskRow, Option<Option<Uuid>>)>,
) -> ApiResult<Task> {
    super::limit_writes(state, user).await?;
    let mut tx = store::begin(&state.db).await?;
    let before = store::tasks::lock(&mut tx, user.id, id)
        .await?
        .ok_or_else(task_not_found)?;
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
        return store::tasks::get(&state.db, user.id, id)
            .await?
            .ok_or_else(task_not_found);
    }
    let kind = match (before.status, after.status) {
        (b, TaskStatus::Done) if b != TaskStatus::Done => "completed",
        (TaskStatus::Done, a) if a != TaskStatus::Done => "reopened",
        (b, a) if b != a || before.position != after.position => "moved",
        _ => "updated",
    };
    store::tasks::save(&mut tx, &after).await?;
    record(&mut tx, user, &after, kind, changes).await?;
    tx.commit().await?;
    state.notify.room_changed(after.room_id).await;
    store::tasks::get(&state.db, user.id, id)
        .await?
        .ok_or_else(task_not_found)
}

/// The position for `task` placed just below `above` (or at the top of the column with `None`),
/// renumbering the column when the gap has run out.
async fn place_in_column(
    tx: &mut sqlx::PgConnection,
    task: &TaskRow,
    above: Option<Uuid>,
) -> ApiResult<f64> {
    for _ in 0..2 {
        let slot = match above {
            Some(above) => {
                let (pos, below) =
                    store::tasks::neighbours(tx, task.room_id, task.status, above, task.id)
                        .await?
                        .ok_or_else(|| {
                            ApiError::new(
                                ErrorCode::InvalidPosition,
                                "`after` must be another task in the target column",
                            )
                        })?;
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
    Err(ApiError::internal("board column could not be renumbered"))
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

/// Change any fields of a task (any member of its room).
#[utoipa::path(patch, path = "/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)), request_body = TaskUpdate, responses(
    (status = 200, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<TaskUpdate>,
) -> ApiResult<Json<Task>> {
    let title = req.title.as_deref().map(TaskTitle::parse).transpose()?;
    let description = req
        .description
        .as_deref()
        .map(TaskDescription::parse)
        .transpose()?;
    let labels = req.labels.as_deref().map(Labels::parse).transpose()?;
    let due_on = match &req.due_on {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => Some(Some(parse_due(raw)?)),
    };
    let task = change_task(&state, &user, id, |before| {
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
        after.status = req.status.unwrap_or(after.status);
        after.priority = req.priority.unwrap_or(after.priority);
        after.assignee_id = req.assignee_id.unwrap_or(after.assignee_id);
        after.due_on = due_on.unwrap_or(after.due_on);
        Ok((after, None))
    })
    .await?;
    Ok(Json(task))
}

#[derive(Deserialize, ToSchema)]
pub struct MoveTask {
    /// The column to move to; defaults to the current one.
    pub status: Option<TaskStatus>,
    /// Place the task just below this one; null or absent puts it at the top of the column.
    pub after: Option<Uuid>,
}

/// Move a task on the board: to a column and a place in it. Everyone sees the same order.
#[utoipa::path(post, path = "/tasks/{id}/move", tag = "tasks", params(("id" = Uuid, Path)), request_body = MoveTask, responses(
    (status = 200, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "invalid_position")))]
async fn move_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<MoveTask>,
) -> ApiResult<Json<Task>> {
    if req.after == Some(id) {
        return Err(ApiError::new(
            ErrorCode::InvalidPosition,
            "a task cannot be placed after itself",
        ));
    }
    let task = change_task(&state, &user, id, |before| {
        let mut after = before.clone();
        after.status = req.status.unwrap_or(before.status);
        Ok((after, Some(req.after)))
    })
    .await?;
    Ok(Json(task))
}

async fn set_status(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    status: TaskStatus,
    conflict: ErrorCode,
) -> ApiResult<Task> {
    change_task(state, user, id, |before| {
        let done = before.status == TaskStatus::Done;
        if (status == TaskStatus::Done) == done {
            let message = if done {
                "the task is already done"
            } else {
                "the task is not done"
            };
            return Err(ApiError::new(conflict, message));
        }
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

/// Mark a task done.
#[utoipa::path(post, path = "/tasks/{id}/complete", tag = "tasks", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Task), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "already_done")))]
async fn complete_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Task>> {
    Ok(Json(
        set_status(&state, &user, id, TaskStatus::Done, ErrorCode::AlreadyDone).await?,
    ))
}

/// Reopen a done task (back to `todo`).
#[utoipa::path(post, path = "/tasks/{id}/reopen", tag = "tasks", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Task), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "not_done")))]
async fn reopen_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Task>> {
    Ok(Json(
        set_status(&state, &user, id, TaskStatus::Todo, ErrorCode::NotDone).await?,
    ))
}

/// Delete a task (its creator, or the room's owner). Its history stays in the timeline.
#[utoipa::path(delete, path = "/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody, description = "not_task_owner"), (status = 404, body = ErrorBody)))]
async fn delete_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let mut tx = store::begin(&state.db).await?;
    let task = store::tasks::lock(&mut tx, user.id, id)
        .await?
        .ok_or_else(task_not_found)?;
    let membership = member_of(&mut *tx, &user, task.room_id).await?;
    if task.creator_id != Some(user.id) && !membership.is_owner() {
        return Err(ApiError::new(
            ErrorCode::NotTaskOwner,
            "only the task's creator or the room's owner can delete it",
        ));
    }
    store::tasks::soft_delete(&mut *tx, id).await?;
    record(&mut tx, &user, &task, "deleted", json!({})).await?;
    tx.commit().await?;
    state.notify.room_changed(task.room_id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A task's history of changes, oldest first.
#[utoipa::path(get, path = "/tasks/{id}/events", tag = "tasks", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Vec<TaskEvent>), (status = 404, body = ErrorBody)))]
async fn task_events(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<TaskEvent>>> {
    store::tasks::get(&state.db, user.id, id)
        .await?
        .ok_or_else(task_not_found)?;
    Ok(Json(store::tasks::events(&state.db, user.id, id).await?))
}

/// A task's own discussion, paged like a room timeline.
#[utoipa::path(get, path = "/tasks/{id}/messages", tag = "tasks", params(("id" = Uuid, Path), PageQuery), responses(
    (status = 200, body = MessagePage), (status = 404, body = ErrorBody)))]
async fn list_task_messages(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<MessagePage>> {
    let task = store::tasks::get(&state.db, user.id, id)
        .await?
        .ok_or_else(task_not_found)?;
    Ok(Json(
        page_stream(&state, &user, task.room_id, Stream::Task(id), &q).await?,
    ))
}

/// Post to a task's discussion (idempotent by `client_id`, like room messages).
#[utoipa::path(post, path = "/tasks/{id}/messages", tag = "tasks", params(("id" = Uuid, Path)), request_body = NewMessageRequest, responses(
    (status = 201, body = Message), (status = 200, body = Message), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn send_task_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<NewMessageRequest>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let (message, created) = send_to_task(&state, &user, id, &req).await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(message),
    ))
}

/// Sends a message into a task's discussion (REST and WebSocket).
pub async fn send_to_task(
    state: &AppState,
    user: &CurrentUser,
    task: Uuid,
    req: &NewMessageRequest,
) -> ApiResult<(Message, bool)> {
    let found = store::tasks::get(&state.db, user.id, task)
        .await?
        .ok_or_else(task_not_found)?;
    super::messages::send(state, user, found.room_id, Some(task), req).await
}
