//! DMs, group rooms and their members. Room changes are posted into the room's timeline as
//! system messages, so they take a sequence number like everything else in the stream.

use crate::domain::ErrorCode;
use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ApiError, ApiJson, ApiPath, ApiResult, CurrentUser, ErrorBody, messages::post_system,
    users::user_not_found,
};
use crate::{
    domain::{RoomName, Topic},
    state::AppState,
    store::{
        self, StoreError,
        rooms::{Member, Membership, Room},
    },
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

pub fn room_not_found() -> ApiError {
    ApiError::new(
        ErrorCode::RoomNotFound,
        "no such room, or you are not a member of it",
    )
}

/// The caller's membership of a room, or 404 (a non-member learns nothing about the room).
pub async fn member_of(
    db: impl sqlx::PgExecutor<'_>,
    user: &CurrentUser,
    room: Uuid,
) -> ApiResult<Membership> {
    store::rooms::membership(db, room, user.id)
        .await?
        .ok_or_else(room_not_found)
}

async fn room_view(state: &AppState, user: &CurrentUser, room: Uuid) -> ApiResult<Room> {
    store::rooms::get(&state.db, room, user.id)
        .await?
        .ok_or_else(room_not_found)
}

fn require_group(m: &Membership, what: &str) -> ApiResult<()> {
    if m.is_group() {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::NotAGroup,
            format!("{what} only works in group rooms"),
        ))
    }
}

fn require_owner(m: &Membership, what: &str) -> ApiResult<()> {
    if m.is_owner() {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::NotOwner,
            format!("only the room's owner can {what}"),
        ))
    }
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
    if req.user_id == user.id {
        return Err(ApiError::new(
            ErrorCode::InvalidUser,
            "use your personal room to write notes to yourself",
        ));
    }
    let mut tx = store::begin(&state.db).await?;
    if store::friends::blocked_between(&mut *tx, user.id, req.user_id).await? {
        return Err(ApiError::new(
            ErrorCode::Blocked,
            "you cannot message this person",
        ));
    }
    if !store::friends::are_friends(&mut *tx, user.id, req.user_id).await? {
        if let Err(StoreError::NotFound) = store::users::get(&mut *tx, req.user_id).await {
            return Err(user_not_found());
        }
        return Err(ApiError::new(
            ErrorCode::NotFriends,
            "you can only open a DM with a friend",
        ));
    }
    let (room, created) = store::rooms::dm(&mut tx, user.id, req.user_id).await?;
    tx.commit().await?;
    if created {
        state.notify.user_joined(user.id, room, 1).await;
        state.notify.user_joined(req.user_id, room, 1).await;
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(room_view(&state, &user, room).await?)))
}

/// The caller's rooms with unread counts and last messages, most recently active first.
#[utoipa::path(get, path = "/rooms", tag = "rooms", responses((status = 200, body = Vec<Room>)))]
async fn list_rooms(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<Room>>> {
    Ok(Json(store::rooms::list_for_user(&state.db, user.id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct NewRoom {
    pub name: String,
    #[serde(default)]
    pub topic: String,
    /// Friends to add at once.
    #[serde(default)]
    pub members: Vec<Uuid>,
}

/// Create a group room; the caller owns it.
#[utoipa::path(post, path = "/rooms", tag = "rooms", request_body = NewRoom, responses(
    (status = 201, body = Room), (status = 403, body = ErrorBody, description = "not_friends"), (status = 422, body = ErrorBody)))]
async fn create_room(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<NewRoom>,
) -> ApiResult<(StatusCode, Json<Room>)> {
    let name = RoomName::parse(&req.name)?;
    let topic = Topic::parse(&req.topic)?;
    if req.members.len() > 100 {
        return Err(ApiError::new(
            ErrorCode::TooManyMembers,
            "add at most 100 members at once",
        ));
    }
    super::limit_writes(&state, &user).await?;
    let mut tx = store::begin(&state.db).await?;
    let room = store::rooms::insert_group(&mut tx, user.id, name.as_str(), topic.as_str()).await?;
    let mut joined = vec![(user.id, 1)];
    post_system(
        &mut tx,
        room,
        user.id,
        "created the room",
        json!({ "event": "room_created", "name": name.as_str() }),
        None,
    )
    .await?;
    for member in req.members.iter().filter(|m| **m != user.id) {
        check_invitable(&mut tx, &user, *member).await?;
        if store::rooms::add_member(&mut *tx, room, *member, "member").await? {
            let (_, seq) = post_system(
                &mut tx,
                room,
                user.id,
                "added a member",
                json!({ "event": "member_added", "user_id": member }),
                None,
            )
            .await?;
            joined.push((*member, seq));
        }
    }
    tx.commit().await?;
    for (member, from_seq) in joined {
        state.notify.user_joined(member, room, from_seq).await;
    }
    Ok((
        StatusCode::CREATED,
        Json(room_view(&state, &user, room).await?),
    ))
}

/// Only friends who have not blocked the inviter (nor been blocked) can be added.
async fn check_invitable(
    tx: &mut sqlx::PgConnection,
    user: &CurrentUser,
    invitee: Uuid,
) -> ApiResult<()> {
    if !store::friends::are_friends(&mut *tx, user.id, invitee).await?
        || store::friends::blocked_between(&mut *tx, user.id, invitee).await?
    {
        return Err(ApiError::new(
            ErrorCode::NotFriends,
            format!("you can only add friends to a room ({invitee} is not one)"),
        ));
    }
    Ok(())
}

/// One room.
#[utoipa::path(get, path = "/rooms/{id}", tag = "rooms", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Room), (status = 404, body = ErrorBody, description = "room_not_found")))]
async fn get_room(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Room>> {
    Ok(Json(room_view(&state, &user, id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct RoomUpdate {
    pub name: Option<String>,
    pub topic: Option<String>,
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
    let name = req.name.as_deref().map(RoomName::parse).transpose()?;
    let topic = req.topic.as_deref().map(Topic::parse).transpose()?;
    let mut tx = store::begin(&state.db).await?;
    let membership = store::rooms::membership_for_update(&mut tx, id, user.id)
        .await?
        .ok_or_else(room_not_found)?;
    require_group(&membership, "renaming")?;
    store::rooms::update_details(
        &mut *tx,
        id,
        name.as_ref().map(RoomName::as_str),
        topic.as_ref().map(Topic::as_str),
    )
    .await?;
    if let Some(name) = &name {
        post_system(
            &mut tx,
            id,
            user.id,
            &format!("renamed the room to {}", name.as_str()),
            json!({ "event": "room_renamed", "name": name.as_str() }),
            None,
        )
        .await?;
    }
    if let Some(topic) = &topic {
        post_system(
            &mut tx,
            id,
            user.id,
            "changed the topic",
            json!({ "event": "topic_changed", "topic": topic.as_str() }),
            None,
        )
        .await?;
    }
    tx.commit().await?;
    state.notify.room_changed(id).await;
    Ok(Json(room_view(&state, &user, id).await?))
}

/// The room's members.
#[utoipa::path(get, path = "/rooms/{id}/members", tag = "rooms", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Vec<Member>), (status = 404, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<Member>>> {
    let members = store::rooms::members(&state.db, id, user.id).await?;
    if members.is_empty() {
        return Err(room_not_found());
    }
    Ok(Json(members))
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
    let mut tx = store::begin(&state.db).await?;
    let membership = store::rooms::membership_for_update(&mut tx, id, user.id)
        .await?
        .ok_or_else(room_not_found)?;
    require_group(&membership, "inviting")?;
    check_invitable(&mut tx, &user, req.user_id).await?;
    if !store::rooms::add_member(&mut *tx, id, req.user_id, "member").await? {
        return Err(ApiError::new(
            ErrorCode::AlreadyMember,
            "that person is already in the room",
        ));
    }
    let (_, seq) = post_system(
        &mut tx,
        id,
        user.id,
        "added a member",
        json!({ "event": "member_added", "user_id": req.user_id }),
        None,
    )
    .await?;
    tx.commit().await?;
    state.notify.room_changed(id).await;
    state.notify.user_joined(req.user_id, id, seq).await;
    Ok((
        StatusCode::CREATED,
        Json(store::rooms::members(&state.db, id, user.id).await?),
    ))
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
    let mut tx = store::begin(&state.db).await?;
    let membership = store::rooms::membership_for_update(&mut tx, id, user.id)
        .await?
        .ok_or_else(room_not_found)?;
    require_group(&membership, "removing members")?;
    require_owner(&membership, "remove members")?;
    if member == user.id {
        return Err(ApiError::new(
            ErrorCode::UseLeave,
            "to leave the room yourself, use /rooms/{id}/leave",
        ));
    }
    if !store::rooms::remove_member(&mut *tx, id, member).await? {
        return Err(ApiError::new(
            ErrorCode::MemberNotFound,
            "that person is not in the room",
        ));
    }
    post_system(
        &mut tx,
        id,
        user.id,
        "removed a member",
        json!({ "event": "member_removed", "user_id": member }),
        None,
    )
    .await?;
    tx.commit().await?;
    state.notify.room_changed(id).await;
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
    let mut tx = store::begin(&state.db).await?;
    let membership = store::rooms::membership_for_update(&mut tx, id, user.id)
        .await?
        .ok_or_else(room_not_found)?;
    require_group(&membership, "leaving")?;
    post_system(
        &mut tx,
        id,
        user.id,
        "left the room",
        json!({ "event": "member_left", "user_id": user.id }),
        None,
    )
    .await?;
    store::rooms::remove_member(&mut *tx, id, user.id).await?;
    if membership.is_owner()
        && let Some(heir) = store::rooms::oldest_member(&mut *tx, id).await?
    {
        store::rooms::set_role(&mut *tx, id, heir, "owner").await?;
        post_system(
            &mut tx,
            id,
            user.id,
            "handed over ownership",
            json!({ "event": "owner_changed", "user_id": heir }),
            None,
        )
        .await?;
    }
    tx.commit().await?;
    state.notify.room_changed(id).await;
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
    let mut tx = store::begin(&state.db).await?;
    let membership = store::rooms::membership_for_update(&mut tx, id, user.id)
        .await?
        .ok_or_else(room_not_found)?;
    require_group(&membership, "ownership")?;
    require_owner(&membership, "hand over ownership")?;
    if req.user_id == user.id {
        return Err(ApiError::new(
            ErrorCode::AlreadyOwner,
            "you already own this room",
        ));
    }
    if !store::rooms::set_role(&mut *tx, id, req.user_id, "owner").await? {
        return Err(ApiError::new(
            ErrorCode::NotMember,
            "the new owner must be a member of the room",
        ));
    }
    store::rooms::set_role(&mut *tx, id, user.id, "member").await?;
    post_system(
        &mut tx,
        id,
        user.id,
        "handed over ownership",
        json!({ "event": "owner_changed", "user_id": req.user_id }),
        None,
    )
    .await?;
    tx.commit().await?;
    state.notify.room_changed(id).await;
    Ok(Json(store::rooms::members(&state.db, id, user.id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct ReadMarker {
    /// Everything up to this sequence number has been read.
    pub seq: i64,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ReadState {
    pub last_read_seq: i64,
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
    let last_read_seq = move_read_marker(&state, &user, id, req.seq).await?;
    Ok(Json(ReadState { last_read_seq }))
}

/// Moves the caller's read marker and tells the room's members (`read.updated`).
pub async fn move_read_marker(
    state: &AppState,
    user: &CurrentUser,
    room: Uuid,
    seq: i64,
) -> ApiResult<i64> {
    if seq < 0 {
        return Err(ApiError::new(
            ErrorCode::InvalidSeq,
            "seq must not be negative",
        ));
    }
    let last_read_seq = store::rooms::mark_read(&state.db, room, user.id, seq)
        .await?
        .ok_or_else(room_not_found)?;
    let data = json!({ "user_id": user.id, "last_read_seq": last_read_seq });
    let frame = crate::realtime::frames::ephemeral("read.updated", Some(room), data);
    state.hub.room_ephemeral(room, None, frame).await;
    Ok(last_read_seq)
}
