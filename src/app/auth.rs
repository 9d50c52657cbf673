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
    telemetry::count_password_hashing,
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
    let hash = hash_uncounted(config, password).await?;
    count_password_hashing("hash");
    Ok(hash)
}

async fn hash_uncounted(config: &AuthConfig, password: String) -> Result<String, Infra> {
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

/// Checks a password against a stored hash. With no hash (an unknown username) it verifies
/// against [`dummy_hash`] instead, which has the same parameters: one verification and no hashing
/// either way, so response times do not tell which usernames exist.
pub async fn verify_password(
    config: &AuthConfig,
    stored: Option<String>,
    password: String,
) -> Result<bool, Infra> {
    let hasher = argon2(config)?;
    let (stored, real) = match stored {
        Some(h) => (h, true),
        None => (dummy_hash(config).await?, false),
    };
    let _permit = HASHING.acquire().await.map_err(Infra::internal)?;
    let matched = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .is_ok_and(|parsed| hasher.verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(Infra::internal)?;
    count_password_hashing("verify");
    Ok(matched && real)
}

/// The hash of a random password nobody knows, made with `config`'s argon2 parameters once per
/// process (and per parameters, which tests vary). It is not counted as login work: it is made
/// once, not per login.
async fn dummy_hash(config: &AuthConfig) -> Result<String, Infra> {
    type Dummies = Vec<((u32, u32), String)>;
    static DUMMIES: std::sync::Mutex<Dummies> = std::sync::Mutex::new(Vec::new());
    let lock = || DUMMIES.lock().unwrap_or_else(|p| p.into_inner());
    let params = (config.argon2_memory_kib, config.argon2_iterations);
    if let Some((_, hash)) = lock().iter().find(|(p, _)| *p == params) {
        return Ok(hash.clone());
    }
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let hash = hash_uncounted(config, secret).await?;
    lock().push((params, hash.clone()));
    Ok(hash)
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

/// Forgets `user`'s sessions after their rows were deleted: drops them from the Redis cache, then
/// tells every node to close their sockets ([`crate::app::Notifier::sessions_ended`]). In that
/// order: a socket that checks its session after registering (see `realtime::socket`) either
/// misses the cache or is registered in time to hear the message.
pub async fn forget_sessions(
    state: &AppState,
    user: uuid::Uuid,
    ended: &[store::sessions::Ended],
) -> Result<(), Infra> {
    if ended.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = ended
        .iter()
        .map(|e| cache_key(state, &e.token_hash))
        .collect();
    let mut redis = state.redis.clone();
    let _: () = redis.del(keys).await?;
    state
        .notify
        .sessions_ended(user, ended.iter().map(|e| e.id).collect())
        .await;
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

    #[tokio::test]
    async fn an_unknown_user_is_checked_against_a_hash_with_the_same_parameters()
    -> Result<(), Infra> {
        let config = cheap();
        let real = hash_password(&config, "a long passphrase".into()).await?;
        let dummy = dummy_hash(&config).await?;
        assert_eq!(dummy, dummy_hash(&config).await?, "made once, then reused");
        let params = |hash: &str| -> Result<String, Infra> {
            let parsed = PasswordHash::new(hash).map_err(Infra::internal)?;
            Ok(format!(
                "{} {:?} {}",
                parsed.algorithm, parsed.version, parsed.params
            ))
        };
        assert_eq!(params(&dummy)?, params(&real)?);
        let other = AuthConfig {
            argon2_iterations: 2,
            ..cheap()
        };
        assert_ne!(params(&dummy_hash(&other).await?)?, params(&dummy)?);
        Ok(())
    }
}
