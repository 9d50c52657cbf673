//! Invite links: a group room's owner (or an administrator among its members) makes a link that
//! lets people who are not their friends join the room, expiring, for one or many uses, and
//! revocable. Opening the link shows the room's name; a new person registers straight into the
//! room, a logged-in one joins it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    AppState, Coded, Infra,
    accounts::{self, AccountError, RegisterRequest},
    limits::LimitError,
    messages::post_system,
    rooms::RoomError,
    sessions::{Client, SessionResponse},
};
use crate::{
    domain::{
        Actor, Denied, ErrorCode, Invalid, Role,
        auth::{new_token, token_hash},
        permissions::{require_group, require_owner},
    },
    store::{
        self,
        invites::{FoundInvite, InviteLink, NewInvite},
    },
};

/// Hours a link lasts when its maker does not say.
const DEFAULT_HOURS: i64 = 7 * 24;
/// Longest a link may last: 30 days.
const MAX_HOURS: i64 = 30 * 24;
/// Most uses one link may allow.
const MAX_USES: i32 = 1000;

/// What can go wrong with invite links.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("no such invite link")]
    NotFound,
    #[error("this invite link has expired; ask for a new one")]
    Expired,
    #[error("this invite link has been used as often as it allows; ask for a new one")]
    UsedUp,
    #[error("this invite link was revoked; ask for a new one")]
    Revoked,
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Infra(#[from] Infra),
}

crate::infra_errors!(InviteError);

impl Coded for InviteError {
    fn code(&self) -> ErrorCode {
        match self {
            InviteError::NotFound => ErrorCode::InviteNotFound,
            InviteError::Expired => ErrorCode::InviteExpired,
            InviteError::UsedUp => ErrorCode::InviteUsedUp,
            InviteError::Revoked => ErrorCode::InviteRevoked,
            InviteError::Room(e) => e.code(),
            InviteError::Account(e) => e.code(),
            InviteError::Denied(e) => e.code,
            InviteError::Invalid(e) => e.code(),
            InviteError::Limit(e) => e.code(),
            InviteError::Infra(e) => e.code(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            InviteError::Limit(e) => e.retry_after(),
            InviteError::Account(e) => e.retry_after(),
            _ => None,
        }
    }

    fn is_validation(&self) -> bool {
        match self {
            InviteError::Invalid(_) => true,
            InviteError::Account(e) => e.is_validation(),
            _ => false,
        }
    }
}

/// A link to make.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewInviteRequest {
    /// How many people may join with it, 1-1000 (absent: any number until it expires).
    pub max_uses: Option<i32>,
    /// Hours until it expires, 1-720 (default 168, a week).
    pub expires_in_hours: Option<i64>,
}

/// A new link: its token is shown only here. The web client opens `/#/invite/{token}`.
// No `Debug`: it holds the token.
#[derive(Serialize, ToSchema)]
pub struct CreatedInvite {
    pub invite: InviteLink,
    pub token: String,
}

/// What someone who opens a link is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitePreview {
    pub room_id: Uuid,
    pub room_name: String,
    pub inviter_display_name: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// Whom a joining through a link let in, and where.
#[derive(Debug, Serialize, ToSchema)]
pub struct Joined {
    pub room_id: Uuid,
    /// False when the person was a member already (the link was not used up by it).
    pub joined: bool,
}

/// A new account made through a link, now a member of the link's room.
// No `Debug`: it holds the session token.
#[derive(Serialize, ToSchema)]
pub struct RegisteredWithInvite {
    #[serde(flatten)]
    pub session: SessionResponse,
    pub room_id: Uuid,
}

/// The actor's role in a group room, if they may manage its invite links.
async fn require_manager(state: &AppState, actor: &Actor, room: Uuid) -> Result<(), InviteError> {
    let membership = super::rooms::member_of(&state.db, actor, room).await?;
    require_group(membership.kind, "invite links")?;
    if !actor.is_admin {
        require_owner(membership.role, "manage invite links")?;
    }
    Ok(())
}

/// Makes an invite link to a group room (its owner, or an administrator who is a member).
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room))]
pub async fn create_invite(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
    req: &NewInviteRequest,
) -> Result<CreatedInvite, InviteError> {
    let hours = req.expires_in_hours.unwrap_or(DEFAULT_HOURS);
    if !(1..=MAX_HOURS).contains(&hours)
        || req.max_uses.is_some_and(|n| !(1..=MAX_USES).contains(&n))
    {
        return Err(Invalid::new(
            ErrorCode::InvalidInvite,
            format!("max_uses must be 1-{MAX_USES} and expires_in_hours 1-{MAX_HOURS}"),
        )
        .into());
    }
    require_manager(state, actor, room).await?;
    super::limits::limit_writes(state, actor).await?;
    let token = new_token();
    let new = NewInvite {
        id: store::new_id(),
        room_id: room,
        created_by: actor.id,
        token_hash: &token_hash(&token),
        max_uses: req.max_uses,
        expires_at: Utc::now() + Duration::hours(hours),
    };
    let invite = store::invites::insert(&state.db, &new).await?;
    Ok(CreatedInvite { invite, token })
}

/// A room's invite links, newest first (its owner, or an administrator who is a member).
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room))]
pub async fn list_invites(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
) -> Result<Vec<InviteLink>, InviteError> {
    require_manager(state, actor, room).await?;
    Ok(store::invites::for_room(&state.db, room).await?)
}

/// Revokes an invite link; people who joined with it stay.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room, invite_id = %id))]
pub async fn revoke_invite(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
    id: Uuid,
) -> Result<InviteLink, InviteError> {
    require_manager(state, actor, room).await?;
    store::invites::revoke(&state.db, room, id)
        .await?
        .ok_or(InviteError::NotFound)
}

/// The invite a token names, if it can still be used.
async fn usable(state: &AppState, token: &str) -> Result<FoundInvite, InviteError> {
    let found = store::invites::by_token_hash(&state.db, &token_hash(token))
        .await?
        .ok_or(InviteError::NotFound)?;
    refusal(&found.invite, Utc::now()).map_or(Ok(found), Err)
}

/// Why a link cannot be used at `now`, if it cannot.
fn refusal(invite: &InviteLink, now: DateTime<Utc>) -> Option<InviteError> {
    if invite.revoked_at.is_some() {
        Some(InviteError::Revoked)
    } else if invite.expires_at <= now {
        Some(InviteError::Expired)
    } else if invite.max_uses.is_some_and(|max| invite.uses >= max) {
        Some(InviteError::UsedUp)
    } else {
        None
    }
}

/// What the link's page shows before anyone joins.
#[tracing::instrument(skip_all)]
pub async fn preview(state: &AppState, token: &str) -> Result<InvitePreview, InviteError> {
    let found = usable(state, token).await?;
    Ok(InvitePreview {
        room_id: found.invite.room_id,
        room_name: found.room_name,
        inviter_display_name: found.inviter_display_name,
        expires_at: found.invite.expires_at,
    })
}

/// Joins the link's room. A member already is told so and the link is not used.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn accept(state: &AppState, actor: &Actor, token: &str) -> Result<Joined, InviteError> {
    let found = usable(state, token).await?;
    let room = found.invite.room_id;
    let mut tx = store::begin(&state.db).await?;
    store::rooms::lock(&mut tx, room).await?;
    if !store::rooms::add_member(&mut *tx, room, actor.id, Role::Member).await? {
        return Ok(Joined {
            room_id: room,
            joined: false,
        });
    }
    if !store::invites::use_once(&mut tx, found.invite.id).await? {
        // Used up, revoked or expired since it was read: say which.
        drop(tx);
        return Err(usable(state, token)
            .await
            .err()
            .unwrap_or(InviteError::UsedUp));
    }
    let data =
        json!({ "event": "member_added", "user_id": actor.id, "invite_id": found.invite.id });
    let (_, seq) = post_system(
        &mut tx,
        room,
        actor.id,
        "joined through an invite link",
        data,
        None,
    )
    .await?;
    tx.commit().await?;
    state.notify.room_changed(room).await;
    state.notify.user_joined(actor.id, room, seq).await;
    Ok(Joined {
        room_id: room,
        joined: true,
    })
}

/// Registers an account through a link and joins its room. The link is checked first, so a dead
/// link makes no account.
#[tracing::instrument(skip_all)]
pub async fn register(
    state: &AppState,
    token: &str,
    req: &RegisterRequest,
    client: Client<'_>,
) -> Result<RegisteredWithInvite, InviteError> {
    usable(state, token).await?;
    let session = accounts::register(state, req, client).await?;
    let actor = Actor {
        session_id: session.session_id,
        id: session.user.id,
        username: session.user.username.clone(),
        is_admin: session.user.is_admin.unwrap_or(false),
    };
    let joined = accept(state, &actor, token).await?;
    Ok(RegisteredWithInvite {
        session,
        room_id: joined.room_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(max_uses: Option<i32>, uses: i32, revoked: bool) -> InviteLink {
        let now = Utc::now();
        InviteLink {
            id: Uuid::nil(),
            room_id: Uuid::nil(),
            created_by: None,
            max_uses,
            uses,
            expires_at: now + Duration::hours(1),
            revoked_at: revoked.then_some(now),
            created_at: now,
        }
    }

    #[test]
    fn a_link_is_refused_when_revoked_expired_or_used_up() {
        let now = Utc::now();
        let code = |i: &InviteLink, at| refusal(i, at).map(|e| e.code());
        assert_eq!(code(&invite(Some(1), 0, false), now), None);
        assert_eq!(code(&invite(None, 500, false), now), None);
        assert_eq!(
            code(&invite(Some(1), 1, false), now),
            Some(ErrorCode::InviteUsedUp)
        );
        assert_eq!(
            code(&invite(Some(5), 0, true), now),
            Some(ErrorCode::InviteRevoked)
        );
        let later = now + Duration::hours(2);
        assert_eq!(
            code(&invite(Some(5), 0, false), later),
            Some(ErrorCode::InviteExpired)
        );
    }
}
