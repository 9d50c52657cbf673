//! Notification settings: per-room mute, browsers' Web Push subscriptions, and the server's VAPID
//! key.

use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::{StoreResult, new_id};

/// A browser's push subscription, as the push service gave it to the browser.
#[derive(Debug, Clone, FromRow)]
pub struct Subscription {
    pub id: Uuid,
    pub endpoint: String,
    /// The browser's P-256 public key, base64url.
    pub p256dh: String,
    /// The browser's 16-byte authentication secret, base64url.
    pub auth: String,
}

/// Mutes or unmutes a room for a member; false when they are not a member.
pub async fn set_muted(
    db: impl PgExecutor<'_>,
    room: Uuid,
    user: Uuid,
    muted: bool,
) -> StoreResult<bool> {
    let done =
        sqlx::query("update room_members set muted = $3 where room_id = $1 and user_id = $2")
            .bind(room)
            .bind(user)
            .bind(muted)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Of `users`, those who are members of `room` and have not muted it, in id order.
pub async fn unmuted_members(
    db: impl PgExecutor<'_>,
    room: Uuid,
    users: &[Uuid],
) -> StoreResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "select user_id from room_members where room_id = $1 and user_id = any($2) and not muted
         order by user_id",
    )
    .bind(room)
    .bind(users)
    .fetch_all(db)
    .await?)
}

/// Saves a subscription for `user`. The same endpoint registered again (a renewed key, or another
/// user on the same browser) replaces the earlier row.
pub async fn upsert(
    db: impl PgExecutor<'_>,
    user: Uuid,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
) -> StoreResult<()> {
    sqlx::query(
        "insert into push_subscriptions (id, user_id, endpoint, p256dh, auth) values ($1, $2, $3, $4, $5)
         on conflict (endpoint) do update
           set user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth, created_at = now()",
    )
    .bind(new_id())
    .bind(user)
    .bind(endpoint)
    .bind(p256dh)
    .bind(auth)
    .execute(db)
    .await?;
    Ok(())
}

/// Removes one of `user`'s subscriptions by endpoint; false when they had none there.
pub async fn remove(db: impl PgExecutor<'_>, user: Uuid, endpoint: &str) -> StoreResult<bool> {
    let done = sqlx::query("delete from push_subscriptions where user_id = $1 and endpoint = $2")
        .bind(user)
        .bind(endpoint)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a subscription the push service said is gone (404/410).
pub async fn remove_by_id(db: impl PgExecutor<'_>, id: Uuid) -> StoreResult<()> {
    sqlx::query("delete from push_subscriptions where id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// How many subscriptions `user` has.
pub async fn count_for_user(db: impl PgExecutor<'_>, user: Uuid) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("select count(*) from push_subscriptions where user_id = $1")
            .bind(user)
            .fetch_one(db)
            .await?,
    )
}

/// The subscriptions of `user`, oldest first.
pub async fn for_user(db: impl PgExecutor<'_>, user: Uuid) -> StoreResult<Vec<Subscription>> {
    Ok(sqlx::query_as(
        "select id, endpoint, p256dh, auth from push_subscriptions where user_id = $1 order by created_at",
    )
    .bind(user)
    .fetch_all(db)
    .await?)
}

/// The stored VAPID private key, storing `candidate` first when there is none yet. Nodes that
/// start together all end up with the first one stored.
pub async fn vapid_key(db: &sqlx::PgPool, candidate: &str) -> StoreResult<String> {
    sqlx::query(
        "insert into push_vapid (id, private_key) values (1, $1) on conflict (id) do nothing",
    )
    .bind(candidate)
    .execute(db)
    .await?;
    Ok(
        sqlx::query_scalar("select private_key from push_vapid where id = 1")
            .fetch_one(db)
            .await?,
    )
}
