//! Sessions: logging in (with its rate limits and failure counting), starting a session, logging
//! out, and the caller's list of sessions. The api turns a new session into cookies.
//!
//! A revoked session is dropped from the Redis cache too, and its sockets on every node are
//! closed ([`forget_sessions`]), so it stops working everywhere at once.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    AppState, Coded, Infra,
    auth::{forget_sessions, verify_password},
    limits::{LimitError, rate_count, rate_limit, rate_reset},
};
use crate::{
    domain::{
        Actor, ErrorCode, Invalid, Username,
        auth::{csrf_token, new_token, token_hash},
    },
    store::{self, sessions::Session, users::User},
};

/// What can go wrong logging in and out and with the caller's sessions.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Too many failed logins for the account; it opens again in `retry_after` seconds.
    #[error("too many failed logins for this account; try again later")]
    AccountLocked { retry_after: u64 },
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("this account has been disabled by an administrator")]
    AccountDisabled,
    #[error("no such session")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Infra(#[from] Infra),
}

crate::infra_errors!(SessionError);

impl Coded for SessionError {
    fn code(&self) -> ErrorCode {
        match self {
            SessionError::AccountLocked { .. } => ErrorCode::RateLimited,
            SessionError::InvalidCredentials => ErrorCode::InvalidCredentials,
            SessionError::AccountDisabled => ErrorCode::AccountDisabled,
            SessionError::NotFound => ErrorCode::SessionNotFound,
            SessionError::Invalid(e) => e.code(),
            SessionError::Limit(e) => e.code(),
            SessionError::Infra(e) => e.code(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            SessionError::AccountLocked { retry_after } => Some(*retry_after),
            SessionError::Limit(e) => e.retry_after(),
            _ => None,
        }
    }

    fn is_validation(&self) -> bool {
        matches!(self, SessionError::Invalid(_))
    }
}

/// A username and password to log in with.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// A new session. The token also arrives as the HttpOnly `flowly_session` cookie; tools send it
/// as `Authorization: Bearer`. Cookie-authenticated writes send `csrf_token` as `X-CSRF-Token`.
#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    pub user: User,
    pub session_id: Uuid,
    pub token: String,
    pub csrf_token: String,
}

/// The caller's live sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionList {
    /// The session this request was made with.
    pub current: Uuid,
    pub sessions: Vec<Session>,
}

/// Where a session is started from, stored with it and shown in the list of sessions.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    /// The client's address.
    pub ip: &'a str,
    /// The `User-Agent` header as sent (the first 256 characters are kept).
    pub user_agent: &'a str,
}

/// Logs in with username and password. Attempts are limited per client address, failures per
/// account; a success forgets the account's failures.
#[tracing::instrument(skip_all)]
pub async fn login(
    state: &AppState,
    req: LoginRequest,
    client: Client<'_>,
) -> Result<SessionResponse, SessionError> {
    let config = &state.config.auth;
    rate_limit(
        state,
        &format!("login-ip:{}", client.ip),
        config.login_attempts_per_ip,
        config.login_window_secs,
        "login attempts",
    )
    .await?;
    let username = req.username.trim().to_lowercase();
    let account_key = format!("login-fail:{username}");
    let (failures, ttl) = rate_count(state, &account_key).await?;
    if failures >= u64::from(config.login_failures_per_account) {
        return Err(SessionError::AccountLocked {
            retry_after: ttl.max(1) as u64,
        });
    }
    if req.password.len() > 1024 {
        return Err(Invalid::new(
            ErrorCode::InvalidPassword,
            "password must be at most 1024 bytes",
        )
        .into());
    }
    // A name that cannot be a username belongs to nobody; it still costs a hash check below.
    let creds = match Username::parse(&username) {
        Ok(name) => store::users::credentials(&state.db, name.as_str()).await?,
        Err(_) => None,
    };
    let ok = verify_password(config, creds.as_ref().map(|c| c.1.clone()), req.password).await?;
    let Some((user_id, _, disabled)) = creds.filter(|_| ok) else {
        rate_limit(
            state,
            &account_key,
            u32::MAX,
            config.login_window_secs,
            "failed logins",
        )
        .await?;
        return Err(SessionError::InvalidCredentials);
    };
    if disabled {
        return Err(SessionError::AccountDisabled);
    }
    rate_reset(state, &account_key).await?;
    let user = store::users::get(&state.db, user_id).await?;
    Ok(start_session(state, user, client).await?)
}

/// Starts a session for `user`: a fresh token, of which PostgreSQL keeps only the hash, and
/// the CSRF token that goes with it.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn start_session(
    state: &AppState,
    user: User,
    client: Client<'_>,
) -> Result<SessionResponse, Infra> {
    let token = new_token();
    let agent: String = client.user_agent.chars().take(256).collect();
    let session_id = store::sessions::insert(
        &state.db,
        user.id,
        &token_hash(&token),
        &agent,
        client.ip,
        state.config.auth.session_ttl_days,
    )
    .await?;
    tracing::info!(user_id = %user.id, %session_id, "session started");
    Ok(SessionResponse {
        user,
        session_id,
        csrf_token: csrf_token(&token),
        token,
    })
}

/// Ends the actor's current session.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn logout(state: &AppState, actor: &Actor) -> Result<(), SessionError> {
    if let Some(ended) = store::sessions::delete_one(&state.db, actor.id, actor.session_id).await? {
        forget_sessions(state, actor.id, &[ended]).await?;
    }
    Ok(())
}

/// Ends every session of the actor, on every device.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn logout_all(state: &AppState, actor: &Actor) -> Result<(), SessionError> {
    let ended = store::sessions::delete_all(&state.db, actor.id, None).await?;
    forget_sessions(state, actor.id, &ended).await?;
    Ok(())
}

/// The actor's live sessions, and which of them is the current one.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn list_sessions(state: &AppState, actor: &Actor) -> Result<SessionList, SessionError> {
    let sessions = store::sessions::list_for_user(&state.db, actor.id).await?;
    Ok(SessionList {
        current: actor.session_id,
        sessions,
    })
}

/// Revokes one of the actor's sessions; it stops working at once.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, session_id = %session))]
pub async fn revoke_session(
    state: &AppState,
    actor: &Actor,
    session: Uuid,
) -> Result<(), SessionError> {
    let ended = store::sessions::delete_one(&state.db, actor.id, session)
        .await?
        .ok_or(SessionError::NotFound)?;
    forget_sessions(state, actor.id, &[ended]).await?;
    Ok(())
}
