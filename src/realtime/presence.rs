//! Presence: a user is online while any of their sockets, on any node, has refreshed its entry
//! within `realtime.presence_ttl_secs`. Entries live in Redis sorted sets scored by expiry, so a
//! node that dies without saying goodbye lets its users fall offline when the entries expire; a
//! sweeper on every node announces that.

use std::time::{SystemTime, UNIX_EPOCH};

use redis::AsyncCommands;
use serde_json::json;
use uuid::Uuid;

use crate::state::AppState;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn conns_key(state: &AppState, user: Uuid) -> String {
    state.key(format!("presence:{user}"))
}

fn status_key(state: &AppState, user: Uuid) -> String {
    state.key(format!("presence-status:{user}"))
}

fn index_key(state: &AppState) -> String {
    state.key("presence-index")
}

/// Live sockets of a user across all nodes.
pub async fn live_sockets(state: &AppState, user: Uuid) -> redis::RedisResult<u64> {
    let key = conns_key(state, user);
    let mut redis = state.redis.clone();
    let (count,): (u64,) = redis::pipe()
        .zrembyscore(&key, "-inf", now_ms())
        .ignore()
        .zcard(&key)
        .query_async(&mut redis)
        .await?;
    Ok(count)
}

/// Records (or refreshes) a socket; announces the user online when it is their first.
pub async fn touch(
    state: &AppState,
    user: Uuid,
    conn: &str,
    announce: bool,
) -> redis::RedisResult<()> {
    let expiry = now_ms() + (state.config.realtime.presence_ttl_secs as i64) * 1000;
    let key = conns_key(state, user);
    let mut redis = state.redis.clone();
    let (before,): (u64,) = redis::pipe()
        .zrembyscore(&key, "-inf", now_ms())
        .ignore()
        .zcard(&key)
        .zadd(&key, conn, expiry)
        .ignore()
        .pexpire(
            &key,
            (state.config.realtime.presence_ttl_secs as i64) * 1000,
        )
        .ignore()
        .zadd(index_key(state), user.to_string(), expiry)
        .ignore()
        .query_async(&mut redis)
        .await?;
    if announce && before == 0 {
        let status: Option<String> = redis.get(status_key(state, user)).await?;
        announce_status(state, user, status.as_deref().unwrap_or("online")).await;
    }
    Ok(())
}

/// Removes a socket; announces the user offline when it was their last.
pub async fn drop_conn(state: &AppState, user: Uuid, conn: &str) -> redis::RedisResult<()> {
    let key = conns_key(state, user);
    let mut redis = state.redis.clone();
    let _: () = redis.zrem(&key, conn).await?;
    if live_sockets(state, user).await? == 0 {
        let removed: u64 = redis.zrem(index_key(state), user.to_string()).await?;
        if removed > 0 {
            announce_status(state, user, "offline").await;
        }
    }
    Ok(())
}

/// Sets `online` or `away` for all of a user's sockets.
pub async fn set_status(state: &AppState, user: Uuid, status: &str) -> redis::RedisResult<()> {
    let mut redis = state.redis.clone();
    let _: () = redis.set(status_key(state, user), status).await?;
    announce_status(state, user, status).await;
    Ok(())
}

/// Each of `users`' presence now, in order: `online`, `away` or `offline` (one Redis round trip).
pub async fn statuses(state: &AppState, users: &[Uuid]) -> redis::RedisResult<Vec<String>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let mut pipe = redis::pipe();
    for user in users {
        pipe.zcount(conns_key(state, *user), now, "+inf")
            .get(status_key(state, *user));
    }
    let mut redis = state.redis.clone();
    let answers: Vec<(u64, Option<String>)> = pipe.query_async(&mut redis).await?;
    Ok(answers
        .into_iter()
        .map(|(live, status)| match (live, status) {
            (0, _) => "offline".to_owned(),
            (_, status) => status.unwrap_or_else(|| "online".to_owned()),
        })
        .collect())
}

/// Whom a user's presence reaches live ([`crate::store::rooms::contacts`]).
async fn contacts(state: &AppState, user: Uuid) -> crate::store::StoreResult<Vec<Uuid>> {
    let small = i64::from(state.config.realtime.presence_room_max_members);
    crate::store::rooms::contacts(&state.db, user, small).await
}

/// Who among a user's contacts is online or away now; the offline are left out.
pub async fn snapshot(state: &AppState, user: Uuid) -> Result<Vec<(Uuid, String)>, String> {
    let contacts = contacts(state, user).await.map_err(|e| e.to_string())?;
    let statuses = statuses(state, &contacts)
        .await
        .map_err(|e| e.to_string())?;
    Ok(contacts
        .into_iter()
        .zip(statuses)
        .filter(|(_, status)| status != "offline")
        .collect())
}

async fn announce_status(state: &AppState, user: Uuid, status: &str) {
    let contacts = match contacts(state, user).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot find whom to tell about presence");
            return;
        }
    };
    let data = json!({ "user_id": user, "status": status });
    state
        .notify
        .users_ephemeral(contacts, None, "presence", data)
        .await;
}

/// Announces users offline whose every socket expired (their node died). Runs on every node;
/// removing the user from the index decides which node announces.
pub async fn sweep(state: &AppState) -> redis::RedisResult<()> {
    let mut redis = state.redis.clone();
    let expired: Vec<String> = redis
        .zrangebyscore_limit(index_key(state), "-inf", now_ms(), 0, 200)
        .await?;
    for user in expired.iter().filter_map(|u| u.parse::<Uuid>().ok()) {
        if live_sockets(state, user).await? == 0 {
            let removed: u64 = redis.zrem(index_key(state), user.to_string()).await?;
            if removed > 0 {
                announce_status(state, user, "offline").await;
            }
        }
    }
    Ok(())
}
