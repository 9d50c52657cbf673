//! Rooms: DMs, group rooms and their members, and read markers. Room changes are posted into the
//! room's timeline as system messages, so they take a sequence number like everything else in the
//! stream.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AppState, Coded, Infra, limits::LimitError, messages::post_system};
use crate::{
    domain::{
        Actor, Denied, ErrorCode, Invalid, Role, RoomName, Topic,
        permissions::{require_group, require_owner},
    },
    store::{
        self, StoreError,
        rooms::{Member, Membership, Room},
    },
};

/// What can go wrong with rooms and their members.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("no such room, or you are not a member of it")]
    NotFound,
    #[error("no such user")]
    UserNotFound,
    #[error("use your personal room to write notes to yourself")]
    DmWithSelf,
    #[error("you cannot message this person")]
    Blocked,
    #[error("you can only open a DM with a friend")]
    DmWithStranger,
    #[error("you can only add friends to a room ({0} is not one)")]
    NotInvitable(Uuid),
    #[error("add at most 100 members at once")]
    TooManyMembers,
    #[error("that person is already in the room")]
    AlreadyMember,
    #[error("to leave the room yourself, use /rooms/{{id}}/leave")]
    UseLeave,
    #[error("that person is not in the room")]
    MemberNotFound,
    #[error("you already own this room")]
    AlreadyOwner,
    #[error("the new owner must be a member of the room")]
    NotMember,
    #[error("seq must not be negative")]
    NegativeSeq,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Infra(#[from] Infra),
}

crate::infra_errors!(RoomError);

impl Coded for RoomError {
    fn code(&self) -> ErrorCode {
        match self {
            RoomError::NotFound => ErrorCode::RoomNotFound,
            RoomError::UserNotFound => ErrorCode::UserNotFound,
            RoomError::DmWithSelf => ErrorCode::InvalidUser,
            RoomError::Blocked => ErrorCode::Blocked,
            RoomError::DmWithStranger | RoomError::NotInvitable(_) => ErrorCode::NotFriends,
            RoomError::TooManyMembers => ErrorCode::TooManyMembers,
            RoomError::AlreadyMember => ErrorCode::AlreadyMember,
            RoomError::UseLeave => ErrorCode::UseLeave,
            RoomError::MemberNotFound => ErrorCode::MemberNotFound,
            RoomError::AlreadyOwner => ErrorCode::AlreadyOwner,
            RoomError::NotMember => ErrorCode::NotMember,
            RoomError::NegativeSeq => ErrorCode::InvalidSeq,
            RoomError::Denied(e) => e.code,
            RoomError::Invalid(e) => e.code(),
            RoomError::Limit(e) => e.code(),
            RoomError::Infra(e) => e.code(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            RoomError::Limit(e) => e.retry_after(),
            _ => None,
        }
    }

    fn is_validation(&self) -> bool {
        matches!(self, RoomError::Invalid(_))
    }
}

/// The actor's membership of a room; a non-member learns nothing about the room.
pub async fn member_of(
    db: impl sqlx::PgExecutor<'_>,
    actor: &Actor,
    room: Uuid,
) -> Result<Membership, RoomError> {
    store::rooms::membership(db, room, actor.id)
        .await?
        .ok_or(RoomError::NotFound)
}

/// [`member_of`], and the message the actor already sent to the room with `client_id`, if any
/// (a retried send).
pub async fn member_sending(
    db: impl sqlx::PgExecutor<'_>,
    actor: &Actor,
    room: Uuid,
    client_id: Option<&str>,
) -> Result<(Membership, Option<Uuid>), RoomError> {
    store::rooms::membership_sent(db, room, actor.id, client_id)
        .await?
        .ok_or(RoomError::NotFound)
}

/// Same as [`member_of`], locking the room until the transaction ends.
async fn member_of_locked(
    tx: &mut sqlx::PgConnection,
    actor: &Actor,
    room: Uuid,
) -> Result<Membership, RoomError> {
    store::rooms::membership_for_update(tx, room, actor.id)
        .await?
        .ok_or(RoomError::NotFound)
}

/// One room as the actor sees it.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room))]
pub async fn get_room(state: &AppState, actor: &Actor, room: Uuid) -> Result<Room, RoomError> {
    store::rooms::get(&state.db, room, actor.id)
        .await?
        .ok_or(RoomError::NotFound)
}

/// The actor's rooms with unread counts and last messages, most recently active first.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn list_rooms(state: &AppState, actor: &Actor) -> Result<Vec<Room>, RoomError> {
    Ok(store::rooms::list_for_user(&state.db, actor.id).await?)
}

/// Opens (or gets) the DM with a friend; the same pair always gets the same room. Returns the
/// room and whether it is new.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, other_id = %other))]
pub async fn open_dm(
    state: &AppState,
    actor: &Actor,
    other: Uuid,
) -> Result<(Room, bool), RoomError> {
    if other == actor.id {
        return Err(RoomError::DmWithSelf);
    }
    let mut tx = store::begin(&state.db).await?;
    if store::friends::blocked_between(&mut *tx, actor.id, other).await? {
        return Err(RoomError::Blocked);
    }
    if !store::friends::are_friends(&mut *tx, actor.id, other).await? {
        if let Err(StoreError::NotFound) = store::users::get(&mut *tx, other).await {
            return Err(RoomError::UserNotFound);
        }
        return Err(RoomError::DmWithStranger);
    }
    let (room, created) = store::rooms::dm(&mut tx, actor.id, other).await?;
    tx.commit().await?;
    if created {
        state.notify.user_joined(actor.id, room, 1).await;
        state.notify.user_joined(other, room, 1).await;
    }
    Ok((get_room(state, actor, room).await?, created))
}

/// A group room to create.
#[derive(Deserialize, ToSchema)]
pub struct NewRoom {
    pub name: String,
    #[serde(default)]
    pub topic: String,
    /// Friends to add at once.
    #[serde(default)]
    pub members: Vec<Uuid>,
}

/// Creates a group room the actor owns, with the friends it names.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn create_room(
    state: &AppState,
    actor: &Actor,
    new: &NewRoom,
) -> Result<Room, RoomError> {
    let name = RoomName::parse(&new.name)?;
    let topic = Topic::parse(&new.topic)?;
    if new.members.len() > 100 {
        return Err(RoomError::TooManyMembers);
    }
    super::limits::limit_writes(state, actor).await?;
    let mut tx = store::begin(&state.db).await?;
    let room = store::rooms::insert_group(&mut tx, actor.id, name.as_str(), topic.as_str()).await?;
    let mut joined = vec![(actor.id, 1)];
    let created = json!({ "event": "room_created", "name": name.as_str() });
    post_system(&mut tx, room, actor.id, "created the room", created, None).await?;
    for member in new.members.iter().filter(|m| **m != actor.id) {
        check_invitable(&mut tx, actor, *member).await?;
        if store::rooms::add_member(&mut *tx, room, *member, Role::Member).await? {
            let added = json!({ "event": "member_added", "user_id": member });
            let (_, seq) =
                post_system(&mut tx, room, actor.id, "added a member", added, None).await?;
            joined.push((*member, seq));
        }
    }
    tx.commit().await?;
    for (member, from_seq) in joined {
        state.notify.user_joined(member, room, from_seq).await;
    }
    get_room(state, actor, room).await
}

/// Only friends who have not blocked the inviter (nor been blocked) can be added.
async fn check_invitable(
    tx: &mut sqlx::PgConnection,
    actor: &Actor,
    invitee: Uuid,
) -> Result<(), RoomError> {
    if !store::friends::are_friends(&mut *tx, actor.id, invitee).await?
        || store::friends::blocked_between(&mut *tx, actor.id, invitee).await?
    {
        return Err(RoomError::NotInvitable(invitee));
    }
    Ok(())
}

/// New details of a group room; leave out what stays.
#[derive(Deserialize, ToSchema)]
pub struct RoomUpdate {
    pub name: Option<String>,
    pub topic: Option<String>,
}

/// Renames a group room or sets its topic (any member).
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room))]
pub async fn update_room(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
    update: &RoomUpdate,
) -> Result<Room, RoomError> {
    let name = update.name.as_deref().map(RoomName::parse).transpose()?;
    let topic = update.topic.as_deref().map(Topic::parse).transpose()?;
    let mut tx = store::begin(&state.db).await?;
    let membership = member_of_locked(&mut tx, actor, room).await?;
    require_group(membership.kind, "renaming")?;
    store::rooms::update_details(
        &mut *tx,
        room,
        name.as_ref().map(RoomName::as_str),
        topic.as_ref().map(Topic::as_str),
    )
    .await?;
    if let Some(name) = &name {
        let body = format!("renamed the room to {}", name.as_str());
        let data = json!({ "event": "room_renamed", "name": name.as_str() });
        post_system(&mut tx, room, actor.id, &body, data, None).await?;
    }
    if let Some(topic) = &topic {
        let data = json!({ "event": "topic_changed", "topic": topic.as_str() });
        post_system(&mut tx, room, actor.id, "changed the topic", data, None).await?;
    }
    tx.commit().await?;
    state.notify.room_changed(room).await;
    get_room(state, actor, room).await
}

/// The room's members.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room))]
pub async fn list_members(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
) -> Result<Vec<Member>, RoomError> {
    let members = members_now(state, room, actor).await?;
    if members.is_empty() {
        return Err(RoomError::NotFound);
    }
    Ok(members)
}

/// The room's members as `actor` sees them, each with their presence now (`null` when Redis
/// cannot say: the list is worth more than the dots).
async fn members_now(
    state: &AppState,
    room: Uuid,
    actor: &Actor,
) -> Result<Vec<Member>, RoomError> {
    let mut members = store::rooms::members(&state.db, room, actor.id).await?;
    let ids: Vec<Uuid> = members.iter().map(|m| m.user_id).collect();
    match crate::realtime::presence::statuses(state, &ids).await {
        Ok(statuses) => {
            for (member, status) in members.iter_mut().zip(statuses) {
                member.presence = Some(status);
            }
        }
        Err(e) => tracing::warn!(error = %e, "presence unavailable"),
    }
    Ok(members)
}

/// Invites a friend into a group room (any member); returns the members.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room, invitee = %invitee))]
pub async fn invite_member(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
    invitee: Uuid,
) -> Result<Vec<Member>, RoomError> {
    let mut tx = store::begin(&state.db).await?;
    let membership = member_of_locked(&mut tx, actor, room).await?;
    require_group(membership.kind, "inviting")?;
    check_invitable(&mut tx, actor, invitee).await?;
    if !store::rooms::add_member(&mut *tx, room, invitee, Role::Member).await? {
        return Err(RoomError::AlreadyMember);
    }
    let data = json!({ "event": "member_added", "user_id": invitee });
    let (_, seq) = post_system(&mut tx, room, actor.id, "added a member", data, None).await?;
    tx.commit().await?;
    state.notify.room_changed(room).await;
    state.notify.user_joined(invitee, room, seq).await;
    members_now(state, room, actor).await
}

/// Removes a member from a group room (owner only).
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room, member = %member))]
pub async fn remove_member(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
    member: Uuid,
) -> Result<(), RoomError> {
    let mut tx = store::begin(&state.db).await?;
    let membership = member_of_locked(&mut tx, actor, room).await?;
    require_group(membership.kind, "removing members")?;
    require_owner(membership.role, "remove members")?;
    if member == actor.id {
        return Err(RoomError::UseLeave);
    }
    if !store::rooms::remove_member(&mut *tx, room, member).await? {
        return Err(RoomError::MemberNotFound);
    }
    let data = json!({ "event": "member_removed", "user_id": member });
    post_system(&mut tx, room, actor.id, "removed a member", data, None).await?;
    tx.commit().await?;
    state.notify.room_changed(room).await;
    Ok(())
}

/// Leaves a group room. An owner's ownership passes to the longest-standing member.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room))]
pub async fn leave_room(state: &AppState, actor: &Actor, room: Uuid) -> Result<(), RoomError> {
    let mut tx = store::begin(&state.db).await?;
    let membership = member_of_locked(&mut tx, actor, room).await?;
    require_group(membership.kind, "leaving")?;
    let left = json!({ "event": "member_left", "user_id": actor.id });
    post_system(&mut tx, room, actor.id, "left the room", left, None).await?;
    store::rooms::remove_member(&mut *tx, room, actor.id).await?;
    if membership.is_owner()
        && let Some(heir) = store::rooms::oldest_member(&mut *tx, room).await?
    {
        store::rooms::set_role(&mut *tx, room, heir, Role::Owner).await?;
        let data = json!({ "event": "owner_changed", "user_id": heir });
        post_system(&mut tx, room, actor.id, "handed over ownership", data, None).await?;
    }
    tx.commit().await?;
    state.notify.room_changed(room).await;
    Ok(())
}

/// Hands the room over to another member (owner only); the actor stays as a member. Returns the
/// members.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room, heir = %heir))]
pub async fn transfer_ownership(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
    heir: Uuid,
) -> Result<Vec<Member>, RoomError> {
    let mut tx = store::begin(&state.db).await?;
    let membership = member_of_locked(&mut tx, actor, room).await?;
    require_group(membership.kind, "ownership")?;
    require_owner(membership.role, "hand over ownership")?;
    if heir == actor.id {
        return Err(RoomError::AlreadyOwner);
    }
    if !store::rooms::set_role(&mut *tx, room, heir, Role::Owner).await? {
        return Err(RoomError::NotMember);
    }
    store::rooms::set_role(&mut *tx, room, actor.id, Role::Member).await?;
    let data = json!({ "event": "owner_changed", "user_id": heir });
    post_system(&mut tx, room, actor.id, "handed over ownership", data, None).await?;
    tx.commit().await?;
    state.notify.room_changed(room).await;
    members_now(state, room, actor).await
}

/// Where the actor's read marker now stands.
#[derive(Serialize, ToSchema)]
pub struct ReadState {
    pub last_read_seq: i64,
}

/// Moves the actor's read marker forward to `seq` (never back) and says so (`read.updated`) to
/// the room's members, or in a room of more than `realtime.read_receipts_max_members` to the
/// actor's own sockets only.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room, seq))]
pub async fn mark_read(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
    seq: i64,
) -> Result<ReadState, RoomError> {
    if seq < 0 {
        return Err(RoomError::NegativeSeq);
    }
    let marker = store::rooms::mark_read(&state.db, room, actor.id, seq)
        .await?
        .ok_or(RoomError::NotFound)?;
    let last_read_seq = marker.last_read_seq;
    let data = json!({ "user_id": actor.id, "last_read_seq": last_read_seq });
    let everyone = i64::from(state.config.realtime.read_receipts_max_members);
    if marker.members <= everyone {
        state
            .notify
            .room_ephemeral(room, None, "read.updated", data)
            .await;
    } else {
        state
            .notify
            .users_ephemeral(vec![actor.id], Some(room), "read.updated", data)
            .await;
    }
    Ok(ReadState { last_read_seq })
}
