//! Sessions, passwords, CSRF and rate limits.
//!
//! A session is an opaque random token. PostgreSQL stores only its SHA-256; Redis caches the
//! validated session under that hash for a few minutes, and revoking deletes both, so a revoked
//! token stops working on every node at once. Cookie-authenticated writes must send a CSRF token
//! derived from the session token: a page on another origin can neither read the HttpOnly cookie
//! nor compute it.

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};
use base64::Engine;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{api::ApiError, config::AuthConfig, state::AppState, store};

pub const SESSION_COOKIE: &str = "flowly_session";
pub const CSRF_COOKIE: &str = "flowly_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What a validated session says about its user; cached in Redis.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionInfo {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub is_admin: bool,
}

/// A fresh session token: 32 random bytes, base64url.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The CSRF token that goes with a session token.
pub fn csrf_token(session_token: &str) -> String {
    hex::encode(Sha256::digest(
        format!("flowly-csrf:{session_token}").as_bytes(),
    ))
}

pub fn csrf_matches(session_token: &str, sent: &str) -> bool {
    let expected = csrf_token(session_token);
    expected.len() == sent.len()
        && expected
            .bytes()
            .zip(sent.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn argon2(config: &AuthConfig) -> Result<Argon2<'static>, ApiError> {
    let params = Params::new(config.argon2_memory_kib, config.argon2_iterations, 1, None)
        .map_err(ApiError::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Password hashes running at once. Each holds `argon2_memory_kib` (19 MiB by default) and a core
/// for tens of milliseconds, so more than one per core only adds memory: without this bound, a
/// burst of 400 logins held 8 GiB on one node (found by the traffic generator).
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// Hashes a password with argon2id on the blocking pool.
pub async fn hash_password(config: &AuthConfig, password: String) -> Result<String, ApiError> {
    let hasher = argon2(config)?;
    let _permit = HASHING.acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}

/// Checks a password against a stored hash. With no hash (unknown user) it still does the work,
/// so response times do not tell which usernames exist.
pub async fn verify_password(
    config: &AuthConfig,
    stored: Option<String>,
    password: String,
) -> Result<bool, ApiError> {
    let hasher = argon2(config)?;
    let stored = match stored {
        Some(h) => h,
        None => hash_password(config, "timing-equaliser".into()).await?,
    };
    let _permit = HASHING.acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .is_ok_and(|parsed| hasher.verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(ApiError::internal)
}

fn cache_key(state: &AppState, hash: &[u8]) -> String {
    state.key(format!("sess:{}", hex::encode(hash)))
}

/// The live session a token belongs to, from Redis or else PostgreSQL.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Option<SessionInfo>, ApiError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let hash = token_hash(token);
    let key = cache_key(state, &hash);
    let mut redis = state.redis.clone();
    let cached: Option<String> = redis.get(&key).await?;
    if let Some(info) = cached.and_then(|c| serde_json::from_str::<SessionInfo>(&c).ok()) {
        return Ok(Some(info));
    }
    let Some(info) = store::sessions::find_live(&state.db, &hash).await? else {
        return Ok(None);
    };
    let json = serde_json::to_string(&info).map_err(ApiError::internal)?;
    let _: () = redis
        .set_ex(&key, json, state.config.auth.session_cache_secs)
        .await?;
    Ok(Some(info))
}

/// Drops cached sessions after their rows were deleted.
pub async fn forget_sessions(state: &AppState, hashes: &[Vec<u8>]) -> Result<(), ApiError> {
    if hashes.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = hashes.iter().map(|h| cache_key(state, h)).collect();
    let mut redis = state.redis.clone();
    let _: () = redis.del(keys).await?;
    Ok(())
}

/// Counts one hit against `key`; past `limit` hits within `window_secs` it answers 429 with the
/// seconds until the window ends.
pub async fn rate_limit(
    state: &AppState,
    key: &str,
    limit: u32,
    window_secs: u64,
    what: &str,
) -> Result<(), ApiError> {
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
        return Err(ApiError::too_many(
            ttl.max(1) as u64,
            format!("too many {what}; try again later"),
        ));
    }
    Ok(())
}

/// How many hits `key` has in its current window, and the seconds left in it.
pub async fn rate_count(state: &AppState, key: &str) -> Result<(u64, i64), ApiError> {
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
pub async fn rate_reset(state: &AppState, key: &str) -> Result<(), ApiError> {
    let mut redis = state.redis.clone();
    let _: () = redis.del(state.key(format!("rl:{key}"))).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn csrf_token_belongs_to_its_session() {
        let token = new_token();
        assert!(csrf_matches(&token, &csrf_token(&token)));
        assert!(!csrf_matches(&token, &csrf_token(&new_token())));
        assert!(!csrf_matches(&token, ""));
    }
}
