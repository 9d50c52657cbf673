//! DMs, group rooms and their members over HTTP; the rules are in [`crate::app::rooms`].

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiResult, CurrentUser, ErrorBody};
use crate::{
    app::rooms::{self, NewRoom, ReadState, RoomUpdate},
    state::AppState,
    store::rooms::{Member, Room},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_dm))
        .routes(routes!(list_rooms, create_room))
        .routes(routes!(get_room, update_room))
        .routes(routes!(list_members, invite_member))
        .routes(routes!(remove_member))
        .routes(routes!(leave_room))
        .routes(routes!(transfer_ownership))
        .routes(routes!(mark_read))
}

#[derive(Deserialize, ToSchema)]
pub struct OpenDm {
    /// The friend to talk to.
    pub user_id: Uuid,
}

/// Open (or get) the DM with a friend. The same pair always gets the same room.
#[utoipa::path(post, path = "/dms", tag = "rooms", request_body = OpenDm, responses(
    (status = 200, body = Room), (status = 201, body = Room),
    (status = 403, body = ErrorBody, description = "not_friends, blocked"), (status = 404, body = ErrorBody)))]
async fn open_dm(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<OpenDm>,
) -> ApiResult<(StatusCode, Json<Room>)> {
    let (room, created) = rooms::open_dm(&state, &user, req.user_id).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(room)))
}

/// The caller's rooms with unread counts and last messages, most recently active first.
#[utoipa::path(get, path = "/rooms", tag = "rooms", responses((status = 200, body = Vec<Room>)))]
async fn list_rooms(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<Room>>> {
    Ok(Json(rooms::list_rooms(&state, &user).await?))
}

/// Create a group room; the caller owns it.
#[utoipa::path(post, path = "/rooms", tag = "rooms", request_body = NewRoom, responses(
    (status = 201, body = Room), (status = 403, body = ErrorBody, description = "not_friends"), (status = 422, body = ErrorBody)))]
async fn create_room(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<NewRoom>,
) -> ApiResult<(StatusCode, Json<Room>)> {
    let room = rooms::create_room(&state, &user, &req).await?;
    Ok((StatusCode::CREATED, Json(room)))
}

/// One room.
#[utoipa::path(get, path = "/rooms/{id}", tag = "rooms", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Room), (status = 404, body = ErrorBody, description = "room_not_found")))]
async fn get_room(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Room>> {
    Ok(Json(rooms::get_room(&state, &user, id).await?))
}

/// Rename a group room or set its topic (any member).
#[utoipa::path(patch, path = "/rooms/{id}", tag = "rooms", params(("id" = Uuid, Path)), request_body = RoomUpdate, responses(
    (status = 200, body = Room), (status = 403, body = ErrorBody, description = "not_a_group"), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
async fn update_room(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RoomUpdate>,
) -> ApiResult<Json<Room>> {
    Ok(Json(rooms::update_room(&state, &user, id, &req).await?))
}

/// The room's members.
#[utoipa::path(get, path = "/rooms/{id}/members", tag = "rooms", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Vec<Member>), (status = 404, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<Member>>> {
    Ok(Json(rooms::list_members(&state, &user, id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct Invite {
    pub user_id: Uuid,
}

/// Invite a friend into a group room (any member).
#[utoipa::path(post, path = "/rooms/{id}/members", tag = "rooms", params(("id" = Uuid, Path)), request_body = Invite, responses(
    (status = 201, body = Vec<Member>), (status = 403, body = ErrorBody, description = "not_friends, not_a_group"),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "already_member")))]
async fn invite_member(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<Invite>,
) -> ApiResult<(StatusCode, Json<Vec<Member>>)> {
    let members = rooms::invite_member(&state, &user, id, req.user_id).await?;
    Ok((StatusCode::CREATED, Json(members)))
}

/// Remove a member from a group room (owner only).
#[utoipa::path(delete, path = "/rooms/{id}/members/{user_id}", tag = "rooms", params(("id" = Uuid, Path), ("user_id" = Uuid, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody, description = "not_owner"), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "use_leave")))]
async fn remove_member(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, member)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    rooms::remove_member(&state, &user, id, member).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leave a group room. An owner's ownership passes to the longest-standing member.
#[utoipa::path(post, path = "/rooms/{id}/leave", tag = "rooms", params(("id" = Uuid, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody, description = "not_a_group"), (status = 404, body = ErrorBody)))]
async fn leave_room(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    rooms::leave_room(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct NewOwner {
    pub user_id: Uuid,
}

/// Hand the room over to another member (owner only); the caller stays as a member.
#[utoipa::path(post, path = "/rooms/{id}/owner", tag = "rooms", params(("id" = Uuid, Path)), request_body = NewOwner, responses(
    (status = 200, body = Vec<Member>), (status = 403, body = ErrorBody, description = "not_owner"), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "not_member")))]
async fn transfer_ownership(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<NewOwner>,
) -> ApiResult<Json<Vec<Member>>> {
    Ok(Json(
        rooms::transfer_ownership(&state, &user, id, req.user_id).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct ReadMarker {
    /// Everything up to this sequence number has been read.
    pub seq: i64,
}

/// Mark the room read up to a sequence number. The marker never moves back.
#[utoipa::path(post, path = "/rooms/{id}/read", tag = "rooms", params(("id" = Uuid, Path)), request_body = ReadMarker, responses(
    (status = 200, body = ReadState), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn mark_read(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<ReadMarker>,
) -> ApiResult<Json<ReadState>> {
    Ok(Json(rooms::mark_read(&state, &user, id, req.seq).await?))
}
