//! Friends: friend requests (send, accept, decline, cancel), friendships and blocks. The other
//! person of a request hears what happened to it live, as an ephemeral event on their sockets.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AppState, Coded, Infra};
use crate::{
    domain::{Actor, ErrorCode, Invalid, Username},
    store::{
        self, StoreError,
        friends::{FriendRequest, PendingRequest},
        users::User,
    },
};

/// What can go wrong with friend requests, friendships and blocks.
#[derive(Debug, thiserror::Error)]
pub enum FriendError {
    #[error("no such user")]
    UserNotFound,
    #[error("you are not friends with that user")]
    NotFriends,
    #[error("you cannot send a friend request to yourself")]
    RequestToSelf,
    /// One of the two blocks the other, found when asking.
    #[error("you cannot send a friend request to this person")]
    BlockedRequest,
    /// One of the two blocks the other, found when accepting.
    #[error("you cannot become friends with this person")]
    BlockedAccept,
    #[error("you are already friends")]
    AlreadyFriends,
    #[error("a friend request is already pending")]
    RequestPending,
    #[error("that friend request has already been answered or cancelled")]
    RequestNotPending,
    #[error("no such friend request")]
    RequestNotFound,
    /// Only `who` ("the person it was sent to") may do this with the request.
    #[error("only {who} can do that")]
    NotYourRequest { who: &'static str },
    #[error("you cannot block yourself")]
    BlockSelf,
    #[error("you have not blocked that user")]
    NotBlocked,
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Infra(#[from] Infra),
}

crate::infra_errors!(FriendError);

impl Coded for FriendError {
    fn code(&self) -> ErrorCode {
        match self {
            FriendError::UserNotFound => ErrorCode::UserNotFound,
            FriendError::NotFriends => ErrorCode::NotFriends,
            FriendError::RequestToSelf => ErrorCode::CannotBefriendSelf,
            FriendError::BlockedRequest | FriendError::BlockedAccept => ErrorCode::CannotBefriend,
            FriendError::AlreadyFriends => ErrorCode::AlreadyFriends,
            FriendError::RequestPending => ErrorCode::RequestPending,
            FriendError::RequestNotPending => ErrorCode::RequestNotPending,
            FriendError::RequestNotFound => ErrorCode::RequestNotFound,
            FriendError::NotYourRequest { .. } => ErrorCode::NotYourRequest,
            FriendError::BlockSelf => ErrorCode::CannotBlockSelf,
            FriendError::NotBlocked => ErrorCode::NotBlocked,
            FriendError::Invalid(e) => e.code(),
            FriendError::Infra(e) => e.code(),
        }
    }

    fn is_validation(&self) -> bool {
        matches!(self, FriendError::Invalid(_))
    }
}

/// Whom to send a friend request to: a user id or a username.
#[derive(Deserialize, ToSchema)]
pub struct NewFriendRequest {
    pub user_id: Option<Uuid>,
    pub username: Option<String>,
}

/// A friend request sent, or the other person's request accepted.
#[derive(Serialize, ToSchema)]
pub struct FriendRequestResult {
    pub request: FriendRequest,
    /// True when the other person had already asked: the two are now friends.
    pub friends: bool,
}

/// The actor's friends.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn list_friends(state: &AppState, actor: &Actor) -> Result<Vec<User>, FriendError> {
    let friends = store::friends::list_friends(&state.db, actor.id).await?;
    Ok(friends.into_iter().map(|u| u.seen_by(actor)).collect())
}

/// Ends a friendship with `other`. Existing DMs stay readable.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, other_id = %other))]
pub async fn unfriend(state: &AppState, actor: &Actor, other: Uuid) -> Result<(), FriendError> {
    if store::friends::unfriend(&state.db, actor.id, other).await? {
        Ok(())
    } else {
        Err(FriendError::NotFriends)
    }
}

/// Pending friend requests, incoming and outgoing.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn list_requests(
    state: &AppState,
    actor: &Actor,
) -> Result<Vec<PendingRequest>, FriendError> {
    let mut requests = store::friends::pending_requests(&state.db, actor.id).await?;
    for r in &mut requests {
        r.user = r.user.clone().seen_by(actor);
    }
    Ok(requests)
}

/// The active account a request names, by id or by username.
async fn request_target(state: &AppState, req: &NewFriendRequest) -> Result<User, FriendError> {
    let target = match (req.user_id, req.username.as_deref()) {
        (Some(id), None) => match store::users::get(&state.db, id).await {
            Err(StoreError::NotFound) => return Err(FriendError::UserNotFound),
            other => other?,
        },
        (None, Some(name)) => {
            let name = Username::parse(&name.trim().to_lowercase())
                .map_err(|_| FriendError::UserNotFound)?;
            store::users::by_username(&state.db, name.as_str())
                .await?
                .ok_or(FriendError::UserNotFound)?
        }
        _ => {
            return Err(Invalid::new(
                ErrorCode::InvalidBody,
                "give exactly one of user_id and username",
            )
            .into());
        }
    };
    Ok(target)
}

/// Asks someone to be friends. If they had already asked the actor, their request is accepted
/// and the two are friends at once (`friends` in the result).
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn send_request(
    state: &AppState,
    actor: &Actor,
    req: &NewFriendRequest,
) -> Result<FriendRequestResult, FriendError> {
    let target = request_target(state, req).await?;
    if target.id == actor.id {
        return Err(FriendError::RequestToSelf);
    }
    if target.is_disabled() {
        return Err(FriendError::UserNotFound);
    }
    let mut tx = store::begin(&state.db).await?;
    if store::friends::blocked_between(&mut *tx, actor.id, target.id).await? {
        return Err(FriendError::BlockedRequest);
    }
    if store::friends::are_friends(&mut *tx, actor.id, target.id).await? {
        return Err(FriendError::AlreadyFriends);
    }
    if let Some(theirs) = store::friends::pending_between(&mut *tx, target.id, actor.id).await? {
        let request = answer(&mut *tx, theirs.id, "accepted").await?;
        store::friends::befriend(&mut tx, actor.id, target.id).await?;
        tx.commit().await?;
        tell(state, request.from_user, "friend.answered", &request).await;
        return Ok(FriendRequestResult {
            request,
            friends: true,
        });
    }
    let request = match store::friends::insert_request(&mut *tx, actor.id, target.id).await {
        Err(StoreError::Conflict(_)) => return Err(FriendError::RequestPending),
        other => other?,
    };
    tx.commit().await?;
    tell(state, target.id, "friend.request", &request).await;
    Ok(FriendRequestResult {
        request,
        friends: false,
    })
}

/// A pending request the actor is on the given side of (`recipient` or sender).
async fn pending_request(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    recipient: bool,
) -> Result<FriendRequest, FriendError> {
    let request = store::friends::request_for(&state.db, id, actor.id)
        .await?
        .ok_or(FriendError::RequestNotFound)?;
    let is_recipient = request.to_user == actor.id;
    if is_recipient != recipient {
        let who = if recipient {
            "the person it was sent to"
        } else {
            "the person who sent it"
        };
        return Err(FriendError::NotYourRequest { who });
    }
    if request.status != "pending" {
        return Err(FriendError::RequestNotPending);
    }
    Ok(request)
}

/// Moves a pending request to `status`; fails if it was answered or withdrawn meanwhile.
async fn answer(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    status: &str,
) -> Result<FriendRequest, FriendError> {
    store::friends::answer_request(db, id, status)
        .await?
        .ok_or(FriendError::RequestNotPending)
}

/// Accepts a request sent to the actor: the two become friends.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, request_id = %id))]
pub async fn accept_request(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
) -> Result<FriendRequest, FriendError> {
    let request = pending_request(state, actor, id, true).await?;
    let mut tx = store::begin(&state.db).await?;
    if store::friends::blocked_between(&mut *tx, request.from_user, request.to_user).await? {
        return Err(FriendError::BlockedAccept);
    }
    let request = answer(&mut *tx, id, "accepted").await?;
    store::friends::befriend(&mut tx, request.from_user, request.to_user).await?;
    tx.commit().await?;
    tell(state, request.from_user, "friend.answered", &request).await;
    Ok(request)
}

/// Declines a request sent to the actor.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, request_id = %id))]
pub async fn decline_request(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
) -> Result<FriendRequest, FriendError> {
    pending_request(state, actor, id, true).await?;
    let request = answer(&state.db, id, "declined").await?;
    tell(state, request.from_user, "friend.answered", &request).await;
    Ok(request)
}

/// Withdraws a request the actor sent.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, request_id = %id))]
pub async fn cancel_request(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
) -> Result<FriendRequest, FriendError> {
    pending_request(state, actor, id, false).await?;
    let request = answer(&state.db, id, "cancelled").await?;
    tell(state, request.to_user, "friend.cancelled", &request).await;
    Ok(request)
}

/// Tells the other person of a request what happened to it, live (`friend.request`,
/// `friend.answered`, `friend.cancelled`).
async fn tell(state: &AppState, whom: Uuid, kind: &'static str, request: &FriendRequest) {
    let data = serde_json::json!({ "request": request });
    state
        .notify
        .users_ephemeral(vec![whom], None, kind, data)
        .await;
}

/// People the actor has blocked.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn list_blocks(state: &AppState, actor: &Actor) -> Result<Vec<User>, FriendError> {
    let blocked = store::friends::list_blocked(&state.db, actor.id).await?;
    Ok(blocked.into_iter().map(|u| u.seen_by(actor)).collect())
}

/// Blocks `other`: the friendship and pending requests between them end, and they can neither
/// ask nor message the actor.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, other_id = %other))]
pub async fn block_user(state: &AppState, actor: &Actor, other: Uuid) -> Result<(), FriendError> {
    if other == actor.id {
        return Err(FriendError::BlockSelf);
    }
    if let Err(StoreError::NotFound) = store::users::get(&state.db, other).await {
        return Err(FriendError::UserNotFound);
    }
    let mut tx = store::begin(&state.db).await?;
    store::friends::block(&mut tx, actor.id, other).await?;
    tx.commit().await?;
    Ok(())
}

/// Unblocks `other`.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, other_id = %other))]
pub async fn unblock_user(state: &AppState, actor: &Actor, other: Uuid) -> Result<(), FriendError> {
    if store::friends::unblock(&state.db, actor.id, other).await? {
        Ok(())
    } else {
        Err(FriendError::NotBlocked)
    }
}
