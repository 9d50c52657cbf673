//! Notification settings over HTTP: muting a room, and registering browsers for Web Push. The
//! rules are in [`crate::app::push`].

use axum::{Json, extract::State, http::StatusCode};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiResult, CurrentUser, ErrorBody};
use crate::{
    app::push::{self, EndpointRequest, PushKey, SubscriptionRequest},
    state::AppState,
    store::rooms::Room,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(mute_room, unmute_room))
        .routes(routes!(push_key))
        .routes(routes!(subscribe, unsubscribe))
}

/// Mute a room: its messages, mentions included, no longer notify the caller (tasks assigned to
/// them still do). Muting twice changes nothing.
#[utoipa::path(put, path = "/rooms/{id}/mute", tag = "notifications", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Room), (status = 404, body = ErrorBody, description = "room_not_found")))]
async fn mute_room(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Room>> {
    Ok(Json(push::set_muted(&state, &user, id, true).await?))
}

/// Unmute a room.
#[utoipa::path(delete, path = "/rooms/{id}/mute", tag = "notifications", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Room), (status = 404, body = ErrorBody, description = "room_not_found")))]
async fn unmute_room(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Room>> {
    Ok(Json(push::set_muted(&state, &user, id, false).await?))
}

/// The server's VAPID public key, for `pushManager.subscribe`.
#[utoipa::path(get, path = "/push/key", tag = "notifications", responses((status = 200, body = PushKey)))]
async fn push_key(State(state): State<AppState>, _user: CurrentUser) -> Json<PushKey> {
    Json(push::push_key(&state))
}

/// Register this browser for pushes (the `PushSubscription` as JSON). Registering the same
/// endpoint again renews it.
#[utoipa::path(post, path = "/push/subscriptions", tag = "notifications", request_body = SubscriptionRequest, responses(
    (status = 204),
    (status = 409, body = ErrorBody, description = "too_many_subscriptions"),
    (status = 422, body = ErrorBody, description = "invalid_subscription")))]
async fn subscribe(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<SubscriptionRequest>,
) -> ApiResult<StatusCode> {
    push::subscribe(&state, &user, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop pushes to a browser of the caller's.
#[utoipa::path(delete, path = "/push/subscriptions", tag = "notifications", request_body = EndpointRequest, responses(
    (status = 204), (status = 404, body = ErrorBody, description = "subscription_not_found")))]
async fn unsubscribe(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<EndpointRequest>,
) -> ApiResult<StatusCode> {
    push::unsubscribe(&state, &user, &req.endpoint).await?;
    Ok(StatusCode::NO_CONTENT)
}
