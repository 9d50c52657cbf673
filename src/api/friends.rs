//! Friend requests, friendships and blocks.

use axum::{Json, extract::State, http::StatusCode};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiError, ApiJson, ApiPath, ApiResult, CurrentUser, ErrorBody};
use crate::{
    app::friends::{self, FriendError, FriendRequestResult, NewFriendRequest},
    state::AppState,
    store::{
        friends::{FriendRequest, PendingRequest},
        users::User,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_friends))
        .routes(routes!(unfriend))
        .routes(routes!(list_requests, send_request))
        .routes(routes!(accept_request))
        .routes(routes!(decline_request))
        .routes(routes!(cancel_request))
        .routes(routes!(list_blocks))
        .routes(routes!(block_user, unblock_user))
}

/// The caller's friends.
#[utoipa::path(get, path = "/friends", tag = "friends", responses((status = 200, body = Vec<User>)))]
async fn list_friends(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(friends::list_friends(&state, &user).await?))
}

/// End a friendship. Existing DMs stay readable.
#[utoipa::path(delete, path = "/friends/{user_id}", tag = "friends", params(("user_id" = Uuid, Path)), responses(
    (status = 204), (status = 404, body = ErrorBody, description = "not_friends")))]
async fn unfriend(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(other): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    match friends::unfriend(&state, &user, other).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        // Here not_friends has always been a 404 (elsewhere it is a 403).
        Err(e @ FriendError::NotFriends) => {
            Err(ApiError::from(e).with_status(StatusCode::NOT_FOUND))
        }
        Err(e) => Err(e.into()),
    }
}

/// Pending friend requests, incoming and outgoing.
#[utoipa::path(get, path = "/friends/requests", tag = "friends", responses((status = 200, body = Vec<PendingRequest>)))]
async fn list_requests(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<PendingRequest>>> {
    Ok(Json(friends::list_requests(&state, &user).await?))
}

/// Ask someone to be friends. If they already asked the caller, the two become friends at once.
#[utoipa::path(post, path = "/friends/requests", tag = "friends", request_body = NewFriendRequest, responses(
    (status = 201, body = FriendRequestResult), (status = 200, body = FriendRequestResult, description = "their request was accepted"),
    (status = 403, body = ErrorBody, description = "cannot_befriend"), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "already_friends, request_pending"), (status = 422, body = ErrorBody)))]
async fn send_request(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<NewFriendRequest>,
) -> ApiResult<(StatusCode, Json<FriendRequestResult>)> {
    let result = friends::send_request(&state, &user, &req).await?;
    let status = if result.friends {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(result)))
}

/// Accept a request sent to the caller.
#[utoipa::path(post, path = "/friends/requests/{id}/accept", tag = "friends", params(("id" = Uuid, Path)), responses(
    (status = 200, body = FriendRequest), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "request_not_pending")))]
async fn accept_request(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<FriendRequest>> {
    Ok(Json(friends::accept_request(&state, &user, id).await?))
}

/// Decline a request sent to the caller.
#[utoipa::path(post, path = "/friends/requests/{id}/decline", tag = "friends", params(("id" = Uuid, Path)), responses(
    (status = 200, body = FriendRequest), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn decline_request(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<FriendRequest>> {
    Ok(Json(friends::decline_request(&state, &user, id).await?))
}

/// Cancel a request the caller sent.
#[utoipa::path(delete, path = "/friends/requests/{id}", tag = "friends", params(("id" = Uuid, Path)), responses(
    (status = 200, body = FriendRequest), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cancel_request(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<FriendRequest>> {
    Ok(Json(friends::cancel_request(&state, &user, id).await?))
}

/// People the caller has blocked.
#[utoipa::path(get, path = "/blocks", tag = "friends", responses((status = 200, body = Vec<User>)))]
async fn list_blocks(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(friends::list_blocks(&state, &user).await?))
}

/// Block someone: the friendship and pending requests end; they can neither request nor message
/// the caller.
#[utoipa::path(put, path = "/blocks/{user_id}", tag = "friends", params(("user_id" = Uuid, Path)), responses(
    (status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn block_user(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(other): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    friends::block_user(&state, &user, other).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unblock someone.
#[utoipa::path(delete, path = "/blocks/{user_id}", tag = "friends", params(("user_id" = Uuid, Path)), responses(
    (status = 204), (status = 404, body = ErrorBody, description = "not_blocked")))]
async fn unblock_user(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(other): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    friends::unblock_user(&state, &user, other).await?;
    Ok(StatusCode::NO_CONTENT)
}
