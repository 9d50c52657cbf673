//! Friend requests, friendships and blocks.

use crate::domain::ErrorCode;
use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiError, ApiJson, ApiPath, ApiResult, CurrentUser, ErrorBody, users::user_not_found};
use crate::{
    domain::Username,
    state::AppState,
    store::{
        self, StoreError,
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
    Ok(Json(
        store::friends::list_friends(&state.db, user.id).await?,
    ))
}

/// End a friendship. Existing DMs stay readable.
#[utoipa::path(delete, path = "/friends/{user_id}", tag = "friends", params(("user_id" = Uuid, Path)), responses(
    (status = 204), (status = 404, body = ErrorBody, description = "not_friends")))]
async fn unfriend(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(other): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    if store::friends::unfriend(&state.db, user.id, other).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(
            ApiError::new(ErrorCode::NotFriends, "you are not friends with that user")
                .with_status(StatusCode::NOT_FOUND),
        )
    }
}

/// Pending friend requests, incoming and outgoing.
#[utoipa::path(get, path = "/friends/requests", tag = "friends", responses((status = 200, body = Vec<PendingRequest>)))]
async fn list_requests(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<PendingRequest>>> {
    Ok(Json(
        store::friends::pending_requests(&state.db, user.id).await?,
    ))
}

/// Whom to send a friend request to: a user id or a username.
#[derive(Deserialize, ToSchema)]
pub struct NewFriendRequest {
    pub user_id: Option<Uuid>,
    pub username: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FriendRequestResult {
    pub request: FriendRequest,
    /// True when the other person had already asked: the two are now friends.
    pub friends: bool,
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
    let target = match (req.user_id, req.username.as_deref()) {
        (Some(id), None) => store::users::get(&state.db, id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => user_not_found(),
                e => e.into(),
            })?,
        (None, Some(name)) => {
            let name =
                Username::parse(&name.trim().to_lowercase()).map_err(|_| user_not_found())?;
            store::users::by_username(&state.db, name.as_str())
                .await?
                .ok_or_else(user_not_found)?
        }
        _ => {
            return Err(ApiError::invalid(
                ErrorCode::InvalidBody,
                "give exactly one of user_id and username",
            ));
        }
    };
    if target.id == user.id {
        return Err(ApiError::new(
            ErrorCode::CannotBefriendSelf,
            "you cannot send a friend request to yourself",
        ));
    }
    if target.disabled {
        return Err(user_not_found());
    }
    let mut tx = store::begin(&state.db).await?;
    if store::friends::blocked_between(&mut *tx, user.id, target.id).await? {
        return Err(ApiError::new(
            ErrorCode::CannotBefriend,
            "you cannot send a friend request to this person",
        ));
    }
    if store::friends::are_friends(&mut *tx, user.id, target.id).await? {
        return Err(ApiError::new(
            ErrorCode::AlreadyFriends,
            "you are already friends",
        ));
    }
    if let Some(theirs) = store::friends::pending_between(&mut *tx, target.id, user.id).await? {
        let request = store::friends::answer_request(&mut *tx, theirs.id, "accepted")
            .await?
            .ok_or_else(request_gone)?;
        store::friends::befriend(&mut tx, user.id, target.id).await?;
        tx.commit().await?;
        tell(&state, request.from_user, "friend.answered", &request).await;
        return Ok((
            StatusCode::OK,
            Json(FriendRequestResult {
                request,
                friends: true,
            }),
        ));
    }
    let request = match store::friends::insert_request(&mut *tx, user.id, target.id).await {
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                ErrorCode::RequestPending,
                "a friend request is already pending",
            ));
        }
        other => other?,
    };
    tx.commit().await?;
    tell(&state, target.id, "friend.request", &request).await;
    Ok((
        StatusCode::CREATED,
        Json(FriendRequestResult {
            request,
            friends: false,
        }),
    ))
}

fn request_gone() -> ApiError {
    ApiError::new(
        ErrorCode::RequestNotPending,
        "that friend request has already been answered or cancelled",
    )
}

fn request_not_found() -> ApiError {
    ApiError::new(ErrorCode::RequestNotFound, "no such friend request")
}

/// A pending request the caller is on the given side of.
async fn pending_request(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    recipient: bool,
) -> ApiResult<FriendRequest> {
    let request = store::friends::request_for(&state.db, id, user.id)
        .await?
        .ok_or_else(request_not_found)?;
    let is_recipient = request.to_user == user.id;
    if is_recipient != recipient {
        let who = if recipient {
            "the person it was sent to"
        } else {
            "the person who sent it"
        };
        return Err(ApiError::new(
            ErrorCode::NotYourRequest,
            format!("only {who} can do that"),
        ));
    }
    if request.status != "pending" {
        return Err(request_gone());
    }
    Ok(request)
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
    let request = pending_request(&state, &user, id, true).await?;
    let mut tx = store::begin(&state.db).await?;
    if store::friends::blocked_between(&mut *tx, request.from_user, request.to_user).await? {
        return Err(ApiError::new(
            ErrorCode::CannotBefriend,
            "you cannot become friends with this person",
        ));
    }
    let request = store::friends::answer_request(&mut *tx, id, "accepted")
        .await?
        .ok_or_else(request_gone)?;
    store::friends::befriend(&mut tx, request.from_user, request.to_user).await?;
    tx.commit().await?;
    tell(&state, request.from_user, "friend.answered", &request).await;
    Ok(Json(request))
}

/// Tells the other person of a request what happened to it, live (`friend.request`,
/// `friend.answered`, `friend.cancelled`).
async fn tell(state: &AppState, whom: Uuid, kind: &'static str, request: &FriendRequest) {
    let data = serde_json::json!({ "request": request });
    state.notify.users_ephemeral(vec![whom], kind, data).await;
}

/// Decline a request sent to the caller.
#[utoipa::path(post, path = "/friends/requests/{id}/decline", tag = "friends", params(("id" = Uuid, Path)), responses(
    (status = 200, body = FriendRequest), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn decline_request(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<FriendRequest>> {
    pending_request(&state, &user, id, true).await?;
    let request = store::friends::answer_request(&state.db, id, "declined")
        .await?
        .ok_or_else(request_gone)?;
    tell(&state, request.from_user, "friend.answered", &request).await;
    Ok(Json(request))
}

/// Cancel a request the caller sent.
#[utoipa::path(delete, path = "/friends/requests/{id}", tag = "friends", params(("id" = Uuid, Path)), responses(
    (status = 200, body = FriendRequest), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cancel_request(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<FriendRequest>> {
    pending_request(&state, &user, id, false).await?;
    let request = store::friends::answer_request(&state.db, id, "cancelled")
        .await?
        .ok_or_else(request_gone)?;
    tell(&state, request.to_user, "friend.cancelled", &request).await;
    Ok(Json(request))
}

/// People the caller has blocked.
#[utoipa::path(get, path = "/blocks", tag = "friends", responses((status = 200, body = Vec<User>)))]
async fn list_blocks(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(
        store::friends::list_blocked(&state.db, user.id).await?,
    ))
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
    if other == user.id {
        return Err(ApiError::new(
            ErrorCode::CannotBlockSelf,
            "you cannot block yourself",
        ));
    }
    if let Err(StoreError::NotFound) = store::users::get(&state.db, other).await {
        return Err(user_not_found());
    }
    let mut tx = store::begin(&state.db).await?;
    store::friends::block(&mut tx, user.id, other).await?;
    tx.commit().await?;
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
    if store::friends::unblock(&state.db, user.id, other).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            ErrorCode::NotBlocked,
            "you have not blocked that user",
        ))
    }
}
