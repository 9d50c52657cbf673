//! `POST /messages/{id}/task`: a message becomes a task that keeps the conversation around it.

use axum::{Json, extract::State, http::StatusCode};
use uuid::Uuid;

use crate::{
    api::{ApiJson, ApiPath, ApiResult, CurrentUser, ErrorBody},
    app::tasks::from_message::{self, TaskFromMessage},
    state::AppState,
    store::tasks::Task,
};

/// Make a task from a message: it links to the message, keeps a snapshot of the conversation
/// around it, and the room's timeline gets a system message linking to the task.
#[utoipa::path(post, path = "/messages/{id}/task", tag = "tasks", params(("id" = Uuid, Path)), request_body = TaskFromMessage, responses(
    (status = 201, body = Task), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "message_deleted"),
    (status = 422, body = ErrorBody)))]
pub(super) async fn task_from_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<TaskFromMessage>,
) -> ApiResult<(StatusCode, Json<Task>)> {
    let task = from_message::task_from_message(&state, &user, id, &req).await?;
    Ok((StatusCode::CREATED, Json(task)))
}
