//! Passwords and sessions: hashing, and the live session behind a token (Redis, else PostgreSQL).
//!
//! Redis caches a validated session under its token's hash for a few minutes, and revoking
//! deletes both, so a revoked token stops working on every node at once.

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};
use redis::AsyncCommands;

use super::{AppState, Infra};
use crate::{
    config::AuthConfig,
    domain::auth::{Actor, token_hash},
    store,
};

fn argon2(config: &AuthConfig) -> Result<Argon2<'static>, Infra> {
    let params = Params::new(config.argon2_memory_kib, config.argon2_iterations, 1, None)
        .map_err(Infra::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Password hashes running at once. Each holds `argon2_memory_kib` (19 MiB by default) and a core
/// for tens of milliseconds, so more than one per core only adds memory: without this bound, a
/// burst of 400 logins held 8 GiB on one node (found by the traffic generator).
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// Hashes a password with argon2id on the blocking pool.
pub async fn hash_password(config: &AuthConfig, password: String) -> Result<String, Infra> {
    let hasher = argon2(config)?;
    let _permit = HASHING.acquire().await.map_err(Infra::internal)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(Infra::internal)?
    .map_err(Infra::internal)
}

/// Checks a password against a stored hash. With no hash (unknown user) it still does the work,
/// so response times do not tell which usernames exist.
pub async fn verify_password(
    config: &AuthConfig,
    stored: Option<String>,
    password: String,
) -> Result<bool, Infra> {
    let hasher = argon2(config)?;
    let stored = match stored {
        Some(h) => h,
        None => hash_password(config, "timing-equaliser".into()).await?,
    };
    let _permit = HASHING.acquire().await.map_err(Infra::internal)?;
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .is_ok_and(|parsed| hasher.verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(Infra::internal)
}

fn cache_key(state: &AppState, hash: &[u8]) -> String {
    state.key(format!("sess:{}", hex::encode(hash)))
}

/// The live session a token belongs to, from Redis or else PostgreSQL.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Option<Actor>, Infra> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let hash = token_hash(token);
    let key = cache_key(state, &hash);
    let mut redis = state.redis.clone();
    let cached: Option<String> = redis.get(&key).await?;
    if let Some(actor) = cached.and_then(|c| serde_json::from_str::<Actor>(&c).ok()) {
        return Ok(Some(actor));
    }
    let Some(actor) = store::sessions::find_live(&state.db, &hash).await? else {
        return Ok(None);
    };
    let json = serde_json::to_string(&actor).map_err(Infra::internal)?;
    let _: () = redis
        .set_ex(&key, json, state.config.auth.session_cache_secs)
        .await?;
    Ok(Some(actor))
}

/// Drops cached sessions after their rows were deleted.
pub async fn forget_sessions(state: &AppState, hashes: &[Vec<u8>]) -> Result<(), Infra> {
    if hashes.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = hashes.iter().map(|h| cache_key(state, h)).collect();
    let mut redis = state.redis.clone();
    let _: () = redis.del(keys).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> AuthConfig {
        AuthConfig {
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            ..crate::config::Config::default().auth
        }
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() -> Result<(), Infra> {
        let config = cheap();
        let hash = hash_password(&config, "a long passphrase".into()).await?;
        assert!(verify_password(&config, Some(hash.clone()), "a long passphrase".into()).await?);
        assert!(!verify_password(&config, Some(hash), "a wrong passphrase".into()).await?);
        assert!(!verify_password(&config, None, "a long passphrase".into()).await?);
        Ok(())
    }
}
