//! Accounts: registering, the caller's profile and password, finding people, and the
//! administrators' list of accounts and their disabling.
//!
//! [`create_user`] and [`users_page`] need only PostgreSQL (and the password settings), so
//! `flowly users` runs them without starting a node.

use serde::Deserialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    AppState, Coded, Infra,
    auth::{forget_sessions, hash_password, verify_password},
    limits::{LimitError, page_size, rate_limit},
    sessions::{Client, SessionResponse, start_session},
};
use crate::{
    config::AuthConfig,
    domain::{
        Actor, Bio, Denied, DisplayName, ErrorCode, Invalid, Password, Username,
        permissions::{may_disable_user, require_admin},
    },
    store::{self, StoreError, users::User},
};

/// What can go wrong with accounts and profiles.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("that username is taken")]
    UsernameTaken,
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("no such user")]
    UserNotFound,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Infra(#[from] Infra),
}

crate::infra_errors!(AccountError);

impl Coded for AccountError {
    fn code(&self) -> ErrorCode {
        match self {
            AccountError::UsernameTaken => ErrorCode::UsernameTaken,
            AccountError::WrongPassword => ErrorCode::WrongPassword,
            AccountError::UserNotFound => ErrorCode::UserNotFound,
            AccountError::Denied(e) => e.code,
            AccountError::Invalid(e) => e.code(),
            AccountError::Limit(e) => e.code(),
            AccountError::Infra(e) => e.code(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            AccountError::Limit(e) => e.retry_after(),
            _ => None,
        }
    }

    fn is_validation(&self) -> bool {
        matches!(self, AccountError::Invalid(_))
    }
}

/// An account to register.
#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3–32 characters of `a-z 0-9 _ . -`.
    pub username: String,
    pub display_name: String,
    /// At least 10 characters.
    pub password: String,
}

/// Changes to the caller's profile; a missing field stays as it is.
#[derive(Deserialize, ToSchema)]
pub struct ProfileUpdate {
    pub display_name: Option<String>,
    pub bio: Option<String>,
}

/// A new password, with the current one.
#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    /// At least 10 characters.
    pub new_password: String,
}

/// Creates an account and starts its first session. Registrations are limited per client
/// address; the first account ever made becomes an administrator.
#[tracing::instrument(skip_all)]
pub async fn register(
    state: &AppState,
    req: &RegisterRequest,
    client: Client<'_>,
) -> Result<SessionResponse, AccountError> {
    let username = Username::parse(&req.username)?;
    let display_name = DisplayName::parse(&req.display_name)?;
    let password = Password::parse(&req.password, &[username.as_str(), display_name.as_str()])?;
    rate_limit(
        state,
        &format!("reg:{}", client.ip),
        state.config.auth.registrations_per_ip_per_hour,
        3600,
        "registrations",
    )
    .await?;
    let user = create_user(
        &state.db,
        &state.config.auth,
        &username,
        &display_name,
        password,
        false,
    )
    .await?;
    Ok(start_session(state, user, client).await?)
}

/// Creates an account (registration, and `flowly users create`). The first account ever made is
/// an administrator whatever `admin` says.
#[tracing::instrument(skip_all, fields(username = %username.as_str()))]
pub async fn create_user(
    db: &PgPool,
    config: &AuthConfig,
    username: &Username,
    display_name: &DisplayName,
    password: Password,
    admin: bool,
) -> Result<User, AccountError> {
    let hash = hash_password(config, password.into_inner()).await?;
    let mut tx = store::begin(db).await?;
    let user = match store::users::insert(
        &mut tx,
        username.as_str(),
        display_name.as_str(),
        &hash,
        admin,
    )
    .await
    {
        Err(StoreError::Conflict(_)) => return Err(AccountError::UsernameTaken),
        other => other?,
    };
    tx.commit().await?;
    tracing::info!(user_id = %user.id, admin = user.admin(), "account created");
    Ok(user)
}

/// The actor's own profile.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn get_profile(state: &AppState, actor: &Actor) -> Result<User, AccountError> {
    Ok(store::users::get(&state.db, actor.id).await?)
}

/// Changes the actor's display name or bio.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn update_profile(
    state: &AppState,
    actor: &Actor,
    update: &ProfileUpdate,
) -> Result<User, AccountError> {
    let display_name = update
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let bio = update.bio.as_deref().map(Bio::parse).transpose()?;
    Ok(store::users::update_profile(
        &state.db,
        actor.id,
        display_name.as_ref().map(DisplayName::as_str),
        bio.as_ref().map(Bio::as_str),
    )
    .await?)
}

/// Changes the actor's password, given the current one; every other session of theirs ends.
/// Attempts are limited like failed logins.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn change_password(
    state: &AppState,
    actor: &Actor,
    change: PasswordChange,
) -> Result<(), AccountError> {
    let me = store::users::get(&state.db, actor.id).await?;
    let new_password = Password::parse(
        &change.new_password,
        &[me.username.as_str(), me.display_name.as_str()],
    )?;
    let config = &state.config.auth;
    rate_limit(
        state,
        &format!("pw:{}", actor.id),
        config.login_failures_per_account,
        config.login_window_secs,
        "password changes",
    )
    .await?;
    let stored = store::users::password_hash(&state.db, actor.id).await?;
    if change.current_password.len() > 1024
        || !verify_password(config, Some(stored), change.current_password).await?
    {
        return Err(AccountError::WrongPassword);
    }
    let hash = hash_password(config, new_password.into_inner()).await?;
    let mut tx = store::begin(&state.db).await?;
    store::users::set_password(&mut *tx, actor.id, &hash).await?;
    let ended = store::sessions::delete_all(&mut *tx, actor.id, Some(actor.session_id)).await?;
    tx.commit().await?;
    forget_sessions(state, actor.id, &ended).await?;
    Ok(())
}

/// Active people whose username or display name starts with `prefix`, leaving out the actor and
/// anyone either side blocks.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn search_users(
    state: &AppState,
    actor: &Actor,
    prefix: &str,
    limit: Option<i64>,
) -> Result<Vec<User>, AccountError> {
    let prefix = prefix.trim();
    if prefix.is_empty() || prefix.chars().count() > 64 || prefix.chars().any(char::is_control) {
        return Err(Invalid::new(
            ErrorCode::InvalidQuery,
            "q must be 1–64 characters without control characters",
        )
        .into());
    }
    let limit = page_size(state, limit, 20)?;
    let found = store::users::search(&state.db, actor.id, prefix, limit).await?;
    Ok(found.into_iter().map(|u| u.seen_by(actor)).collect())
}

/// One person's profile (with whether they are an administrator or disabled only for
/// themself and administrators).
#[tracing::instrument(skip_all, fields(user_id = %actor.id, other_id = %id))]
pub async fn get_user(state: &AppState, actor: &Actor, id: Uuid) -> Result<User, AccountError> {
    match store::users::get(&state.db, id).await {
        Err(StoreError::NotFound) => Err(AccountError::UserNotFound),
        other => Ok(other?.seen_by(actor)),
    }
}

/// Every account in username order, a page after the username `after` (administrators only).
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn list_users(
    state: &AppState,
    actor: &Actor,
    after: Option<&str>,
    limit: Option<i64>,
) -> Result<Vec<User>, AccountError> {
    require_admin(actor)?;
    let limit = page_size(state, limit, 100)?;
    if after.is_some_and(|a| a.len() > 64 || a.chars().any(char::is_control)) {
        return Err(Invalid::new(ErrorCode::InvalidQuery, "after must be a username").into());
    }
    users_page(&state.db, after, limit).await
}

/// Up to `limit` accounts in username order after the username `after` (for [`list_users`],
/// and `flowly users list`).
#[tracing::instrument(skip_all)]
pub async fn users_page(
    db: &PgPool,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<User>, AccountError> {
    Ok(store::users::list(db, after, limit).await?)
}

/// Disables an account (administrators only, not their own): its sessions end at once and it
/// can no longer log in. Recorded in the audit log.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, target_id = %id))]
pub async fn disable_user(state: &AppState, actor: &Actor, id: Uuid) -> Result<User, AccountError> {
    may_disable_user(actor, id)?;
    let user = disable(state, Some(actor.id), id).await?;
    tracing::info!(admin_id = %actor.id, user_id = %id, "user disabled");
    Ok(user)
}

/// Disables an account from the server's console (`flowly users disable`, which `flowlyctl`
/// runs): the operator on the host is trusted as an administrator. Audited with no actor.
#[tracing::instrument(skip_all, fields(username = %username))]
pub async fn disable_by_operator(state: &AppState, username: &str) -> Result<User, AccountError> {
    let user = store::users::by_username(&state.db, username)
        .await?
        .ok_or(AccountError::UserNotFound)?;
    let user = disable(state, None, user.id).await?;
    tracing::info!(user_id = %user.id, "user disabled by the operator");
    Ok(user)
}

async fn disable(state: &AppState, actor: Option<Uuid>, id: Uuid) -> Result<User, AccountError> {
    let mut tx = store::begin(&state.db).await?;
    let user = match store::users::set_disabled(&mut *tx, id, true).await {
        Err(StoreError::NotFound) => return Err(AccountError::UserNotFound),
        other => other?,
    };
    let ended = store::sessions::delete_all(&mut *tx, id, None).await?;
    store::users::audit(
        &mut *tx,
        actor,
        "user.disable",
        id,
        serde_json::json!({ "sessions_ended": ended.len() }),
    )
    .await?;
    tx.commit().await?;
    forget_sessions(state, id, &ended).await?;
    Ok(user)
}

/// Enables a disabled account again (administrators only). Recorded in the audit log.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, target_id = %id))]
pub async fn enable_user(state: &AppState, actor: &Actor, id: Uuid) -> Result<User, AccountError> {
    require_admin(actor)?;
    let mut tx = store::begin(&state.db).await?;
    let user = match store::users::set_disabled(&mut *tx, id, false).await {
        Err(StoreError::NotFound) => return Err(AccountError::UserNotFound),
        other => other?,
    };
    store::users::audit(
        &mut *tx,
        Some(actor.id),
        "user.enable",
        id,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}
