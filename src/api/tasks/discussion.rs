//! A task's own discussion: `GET` and `POST /tasks/{id}/messages`.

use axum::{Json, extract::State, http::StatusCode};
use uuid::Uuid;

use crate::{
    api::{
        ApiJson, ApiPath, ApiQuery, ApiResult, CurrentUser, ErrorBody,
        messages::{PageQuery, created_or_retried},
    },
    app::{
        messages::{MessagePage, NewMessageRequest},
        tasks::discussion,
    },
    state::AppState,
    store::messages::Message,
};

/// A task's own discussion, paged like a room timeline.
#[utoipa::path(get, path = "/tasks/{id}/messages", tag = "tasks", params(("id" = Uuid, Path), PageQuery), responses(
    (status = 200, body = MessagePage), (status = 404, body = ErrorBody)))]
pub(super) async fn list_task_messages(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<MessagePage>> {
    Ok(Json(
        discussion::list_task_messages(&state, &user, id, q.page()).await?,
    ))
}

/// Post to a task's discussion (idempotent by `client_id`, like room messages).
#[utoipa::path(post, path = "/tasks/{id}/messages", tag = "tasks", params(("id" = Uuid, Path)), request_body = NewMessageRequest, responses(
    (status = 201, body = Message), (status = 200, body = Message), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn send_task_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<NewMessageRequest>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let sent = discussion::send_task_message(&state, &user, id, &req).await?;
    Ok(created_or_retried(sent))
}
