//! Rate limits (fixed windows counted in Redis) and page sizes.

use redis::AsyncCommands;

use super::{AppState, Coded, Infra};
use crate::domain::{Actor, ErrorCode, Invalid};

/// Over a limit: retry after `retry_after` seconds.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("too many {what}; try again later")]
    Limited { what: String, retry_after: u64 },
    #[error(transparent)]
    Infra(#[from] Infra),
}

impl From<redis::RedisError> for LimitError {
    fn from(e: redis::RedisError) -> Self {
        LimitError::Infra(e.into())
    }
}

impl Coded for LimitError {
    fn code(&self) -> ErrorCode {
        match self {
            LimitError::Limited { .. } => ErrorCode::RateLimited,
            LimitError::Infra(e) => e.code(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            LimitError::Limited { retry_after, .. } => Some(*retry_after),
            LimitError::Infra(_) => None,
        }
    }
}

/// Counts one hit against `key`; past `limit` hits within `window_secs` it fails with the
/// seconds until the window ends.
pub async fn rate_limit(
    state: &AppState,
    key: &str,
    limit: u32,
    window_secs: u64,
    what: &str,
) -> Result<(), LimitError> {
    let key = state.key(format!("rl:{key}"));
    let mut redis = state.redis.clone();
    let (count, ttl): (u64, i64) = redis::pipe()
        .atomic()
        .incr(&key, 1)
        .cmd("EXPIRE")
        .arg(&key)
        .arg(window_secs)
        .arg("NX")
        .ignore()
        .ttl(&key)
        .query_async(&mut redis)
        .await?;
    if count > u64::from(limit) {
        return Err(LimitError::Limited {
            what: what.to_owned(),
            retry_after: ttl.max(1) as u64,
        });
    }
    Ok(())
}

/// How many hits `key` has in its current window, and the seconds left in it.
pub async fn rate_count(state: &AppState, key: &str) -> Result<(u64, i64), Infra> {
    let key = state.key(format!("rl:{key}"));
    let mut redis = state.redis.clone();
    let (count, ttl): (Option<u64>, i64) = redis::pipe()
        .get(&key)
        .ttl(&key)
        .query_async(&mut redis)
        .await?;
    Ok((count.unwrap_or(0), ttl))
}

/// Forgets the hits counted against `key`.
pub async fn rate_reset(state: &AppState, key: &str) -> Result<(), Infra> {
    let mut redis = state.redis.clone();
    let _: () = redis.del(state.key(format!("rl:{key}"))).await?;
    Ok(())
}

/// Counts a write against the actor's per-minute budget.
pub async fn limit_writes(state: &AppState, actor: &Actor) -> Result<(), LimitError> {
    rate_limit(
        state,
        &format!("w:{}", actor.id),
        state.config.limits.writes_per_user_per_minute,
        60,
        "writes",
    )
    .await
}

/// Page size from a query (`limit`), defaulting to `default` and refusing more than the maximum.
pub fn page_size(state: &AppState, requested: Option<i64>, default: i64) -> Result<i64, Invalid> {
    let max = state.config.limits.max_page_size;
    match requested {
        None => Ok(default.min(max)),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(Invalid::new(
            ErrorCode::InvalidLimit,
            format!("limit must be between 1 and {max}"),
        )),
    }
}
