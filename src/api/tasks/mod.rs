//! Tasks over HTTP: the board here, tasks made from messages in [`from_message`], each task's
//! conversation in [`discussion`]; the rules are in [`crate::app::tasks`].

mod discussion;
mod from_message;

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiQuery, ApiResult, CurrentUser, ErrorBody, page_size};
use crate::{
    app::tasks::{self, MoveTask, NewTask, TaskListing, TaskUpdate},
    state::AppState,
    store::tasks::{Task, TaskEvent},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(get_task, update_task, delete_task))
        .routes(routes!(move_task))
        .routes(routes!(complete_task))
        .routes(routes!(reopen_task))
        .routes(routes!(task_events))
        .routes(routes!(
            discussion::list_task_messages,
            discussion::send_task_message
        ))
        .routes(routes!(from_message::task_from_message))
}

/// Create a task in a room, or a personal task without `room_id`.
#[utoipa::path(post, path = "/tasks", tag = "tasks", request_body = NewTask, responses(
    (status = 201, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<NewTask>,
) -> ApiResult<(StatusCode, Json<Task>)> {
    let task = tasks::create_task(&state, &user, &req).await?;
    Ok((StatusCode::CREATED, Json(task)))
}

#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
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
    let listing = TaskListing {
        room: q.room,
        assignee: q.assignee.as_deref(),
        status: q.status.as_deref(),
        due_before: q.due_before.as_deref(),
        label: q.label,
        limit: page_size(&state, q.limit, 100)?,
        offset: q.offset,
    };
    Ok(Json(tasks::list_tasks(&state, &user, listing).await?))
}

/// One task.
#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Task), (status = 404, body = ErrorBody)))]
async fn get_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Task>> {
    Ok(Json(tasks::get_task(&state, &user, id).await?))
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
    Ok(Json(tasks::update_task(&state, &user, id, &req).await?))
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
    Ok(Json(tasks::move_task(&state, &user, id, &req).await?))
}

/// Mark a task done.
#[utoipa::path(post, path = "/tasks/{id}/complete", tag = "tasks", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Task), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "already_done")))]
async fn complete_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Task>> {
    Ok(Json(tasks::complete_task(&state, &user, id).await?))
}

/// Reopen a done task (back to `todo`).
#[utoipa::path(post, path = "/tasks/{id}/reopen", tag = "tasks", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Task), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "not_done")))]
async fn reopen_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Task>> {
    Ok(Json(tasks::reopen_task(&state, &user, id).await?))
}

/// Delete a task (its creator, or the room's owner). Its history stays in the timeline.
#[utoipa::path(delete, path = "/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody, description = "not_task_owner"), (status = 404, body = ErrorBody)))]
async fn delete_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    tasks::delete_task(&state, &user, id).await?;
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
    Ok(Json(tasks::task_events(&state, &user, id).await?))
}
