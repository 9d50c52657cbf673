//! Friend requests, friendships (stored both ways) and blocks.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{StoreResult, new_id, users::User};

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct FriendRequest {
    pub id: Uuid,
    pub from_user: Uuid,
    pub to_user: Uuid,
    /// `pending`, `accepted`, `declined` or `cancelled`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub responded_at: Option<DateTime<Utc>>,
}

/// A pending request with the other person's profile.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct PendingRequest {
    #[sqlx(rename = "request_id")]
    pub id: Uuid,
    /// `incoming` or `outgoing`.
    pub direction: String,
    pub requested_at: DateTime<Utc>,
    #[sqlx(flatten)]
    pub user: User,
}

const REQUEST_COLUMNS: &str = "id, from_user, to_user, status, created_at, responded_at";

pub async fn are_friends(db: impl PgExecutor<'_>, a: Uuid, b: Uuid) -> StoreResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from friendships where user_id = $1 and friend_id = $2)",
    )
    .bind(a)
    .bind(b)
    .fetch_one(db)
    .await?)
}

/// Whether either of the two blocks the other.
pub async fn blocked_between(db: impl PgExecutor<'_>, a: Uuid, b: Uuid) -> StoreResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from blocks where (blocker_id = $1 and blocked_id = $2) or (blocker_id = $2 and blocked_id = $1))",
    )
    .bind(a)
    .bind(b)
    .fetch_one(db)
    .await?)
}

/// Whether `user` and another member of `room` block each other (either way): a DM's two
/// people, in one statement.
pub async fn blocked_in_room(db: impl PgExecutor<'_>, room: Uuid, user: Uuid) -> StoreResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from room_members m join blocks b
                          on (b.blocker_id = $2 and b.blocked_id = m.user_id)
                          or (b.blocker_id = m.user_id and b.blocked_id = $2)
                        where m.room_id = $1 and m.user_id <> $2)",
    )
    .bind(room)
    .bind(user)
    .fetch_one(db)
    .await?)
}

pub async fn list_friends(db: impl PgExecutor<'_>, user: Uuid) -> StoreResult<Vec<User>> {
    Ok(sqlx::query_as(
        "select u.id, u.username, u.display_name, u.bio, u.is_admin, u.disabled_at is not null as disabled, u.created_at
         from friendships f join users u on u.id = f.friend_id
         where f.user_id = $1 order by u.username",
    )
    .bind(user)
    .fetch_all(db)
    .await?)
}

pub async fn pending_requests(
    db: impl PgExecutor<'_>,
    user: Uuid,
) -> StoreResult<Vec<PendingRequest>> {
    Ok(sqlx::query_as(
        "select r.id as request_id, case when r.to_user = $1 then 'incoming' else 'outgoing' end as direction, r.created_at as requested_at,
                u.id, u.username, u.display_name, u.bio, u.is_admin, u.disabled_at is not null as disabled, u.created_at
         from friend_requests r
         join users u on u.id = case when r.to_user = $1 then r.from_user else r.to_user end
         where r.status = 'pending' and (r.to_user = $1 or r.from_user = $1)
         order by r.created_at desc",
    )
    .bind(user)
    .fetch_all(db)
    .await?)
}

/// The pending request from `from` to `to`, if any.
pub async fn pending_between(
    db: impl PgExecutor<'_>,
    from: Uuid,
    to: Uuid,
) -> StoreResult<Option<FriendRequest>> {
    let sql = format!(
        "select {REQUEST_COLUMNS} from friend_requests where from_user = $1 and to_user = $2 and status = 'pending'"
    );
    Ok(sqlx::query_as(&sql)
        .bind(from)
        .bind(to)
        .fetch_optional(db)
        .await?)
}

pub async fn insert_request(
    db: impl PgExecutor<'_>,
    from: Uuid,
    to: Uuid,
) -> StoreResult<FriendRequest> {
    let sql = format!(
        "insert into friend_requests (id, from_user, to_user) values ($1, $2, $3) returning {REQUEST_COLUMNS}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(new_id())
        .bind(from)
        .bind(to)
        .fetch_one(db)
        .await?)
}

/// A request that `user` sent or received, whatever its state.
pub async fn request_for(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user: Uuid,
) -> StoreResult<Option<FriendRequest>> {
    let sql = format!(
        "select {REQUEST_COLUMNS} from friend_requests where id = $1 and (from_user = $2 or to_user = $2)"
    );
    Ok(sqlx::query_as(&sql)
        .bind(id)
        .bind(user)
        .fetch_optional(db)
        .await?)
}

/// Moves a pending request to `status`; returns it, or `None` when it was no longer pending.
pub async fn answer_request(
    db: impl PgExecutor<'_>,
    id: Uuid,
    status: &str,
) -> StoreResult<Option<FriendRequest>> {
    let sql = format!(
        "update friend_requests set status = $2, responded_at = now() where id = $1 and status = 'pending'
         returning {REQUEST_COLUMNS}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(id)
        .bind(status)
        .fetch_optional(db)
        .await?)
}

pub async fn befriend(tx: &mut PgConnection, a: Uuid, b: Uuid) -> StoreResult<()> {
    sqlx::query("insert into friendships (user_id, friend_id) values ($1, $2), ($2, $1) on conflict do nothing")
        .bind(a)
        .bind(b)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Ends a friendship; returns whether there was one.
pub async fn unfriend(db: impl PgExecutor<'_>, a: Uuid, b: Uuid) -> StoreResult<bool> {
    let done = sqlx::query("delete from friendships where (user_id = $1 and friend_id = $2) or (user_id = $2 and friend_id = $1)")
        .bind(a)
        .bind(b)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// `blocker` blocks `blocked`: the friendship ends and open requests between them are cancelled.
pub async fn block(tx: &mut PgConnection, blocker: Uuid, blocked: Uuid) -> StoreResult<()> {
    sqlx::query(
        "insert into blocks (blocker_id, blocked_id) values ($1, $2) on conflict do nothing",
    )
    .bind(blocker)
    .bind(blocked)
    .execute(&mut *tx)
    .await?;
    unfriend(&mut *tx, blocker, blocked).await?;
    sqlx::query(
        "update friend_requests set status = 'cancelled', responded_at = now()
         where status = 'pending' and ((from_user = $1 and to_user = $2) or (from_user = $2 and to_user = $1))",
    )
    .bind(blocker)
    .bind(blocked)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn unblock(db: impl PgExecutor<'_>, blocker: Uuid, blocked: Uuid) -> StoreResult<bool> {
    let done = sqlx::query("delete from blocks where blocker_id = $1 and blocked_id = $2")
        .bind(blocker)
        .bind(blocked)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn list_blocked(db: impl PgExecutor<'_>, blocker: Uuid) -> StoreResult<Vec<User>> {
    Ok(sqlx::query_as(
        "select u.id, u.username, u.display_name, u.bio, u.is_admin, u.disabled_at is not null as disabled, u.created_at
         from blocks b join users u on u.id = b.blocked_id where b.blocker_id = $1 order by u.username",
    )
    .bind(blocker)
    .fetch_all(db)
    .await?)
}
