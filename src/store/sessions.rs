//! Login sessions. Only the SHA-256 of a token is stored.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{StoreResult, new_id};
use crate::domain::Actor;

/// A session as its owner sees it in "active sessions".
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Session {
    pub id: Uuid,
    pub user_agent: String,
    pub ip: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    token_hash: &[u8],
    user_agent: &str,
    ip: &str,
    ttl_days: i64,
) -> StoreResult<Uuid> {
    let id = new_id();
    sqlx::query(
        "insert into sessions (id, user_id, token_hash, user_agent, ip, expires_at)
         values ($1, $2, $3, $4, $5, now() + make_interval(days => $6))",
    )
    .bind(id)
    .bind(user_id)
    .bind(token_hash)
    .bind(user_agent)
    .bind(ip)
    .bind(ttl_days as i32)
    .execute(db)
    .await?;
    Ok(id)
}

/// The live session of a token hash: not expired, its user not disabled. Touches `last_seen_at`
/// when it is more than [`TOUCH_AFTER_SECS`] old.
///
/// Most lookups write nothing (the session was seen a moment ago), and a touch is committed
/// without waiting for the WAL flush ([`super::commit_without_flush`], hence a pool): "last seen"
/// is a hint shown in the session list, and waiting for the disk on every session-cache miss was
/// a durable commit per request under load.
pub async fn find_live(db: &PgPool, token_hash: &[u8]) -> StoreResult<Option<Actor>> {
    const SQL: &str = concat!(
        "with live as (
           select s.id, u.id as user_id, u.username, u.is_admin, s.last_seen_at
           from sessions s join users u on u.id = s.user_id
           where s.token_hash = $1 and s.expires_at > now() and u.disabled_at is null
         ), touched as (
           update sessions s set last_seen_at = now() from live
           where s.id = live.id and live.last_seen_at < now() - make_interval(secs => $2)
             and ",
        super::commit_without_flush!(),
        "
         )
         select id, user_id, username, is_admin from live",
    );
    let row: Option<(Uuid, Uuid, String, bool)> = sqlx::query_as(SQL)
        .bind(token_hash)
        .bind(TOUCH_AFTER_SECS)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|(session_id, id, username, is_admin)| Actor {
        session_id,
        id,
        username,
        is_admin,
    }))
}

/// How stale `last_seen_at` may get before a lookup refreshes it.
pub const TOUCH_AFTER_SECS: f64 = 600.0;

pub async fn list_for_user(db: impl PgExecutor<'_>, user_id: Uuid) -> StoreResult<Vec<Session>> {
    Ok(sqlx::query_as(
        "select id, user_agent, ip, created_at, last_seen_at, expires_at from sessions
         where user_id = $1 and expires_at > now() order by last_seen_at desc",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

/// A session just deleted: what is needed to forget it everywhere (its cache entry, its sockets).
#[derive(Debug, Clone, FromRow)]
pub struct Ended {
    pub id: Uuid,
    pub token_hash: Vec<u8>,
}

/// Deletes one session of a user; returns it when it existed.
pub async fn delete_one(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    session_id: Uuid,
) -> StoreResult<Option<Ended>> {
    Ok(sqlx::query_as(
        "delete from sessions where id = $1 and user_id = $2 returning id, token_hash",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(db)
    .await?)
}

/// Deletes every session of a user except `keep`; returns the deleted sessions.
pub async fn delete_all(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> StoreResult<Vec<Ended>> {
    Ok(sqlx::query_as(
        "delete from sessions where user_id = $1 and id is distinct from $2 returning id, token_hash",
    )
    .bind(user_id)
    .bind(keep)
    .fetch_all(db)
    .await?)
}

/// Which of `ids` are live sessions (not expired, their user not disabled). The hub's periodic
/// check of its sockets, one query for many.
pub async fn live_among(db: impl PgExecutor<'_>, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "select s.id from sessions s join users u on u.id = s.user_id
         where s.id = any($1) and s.expires_at > now() and u.disabled_at is null",
    )
    .bind(ids)
    .fetch_all(db)
    .await?)
}
