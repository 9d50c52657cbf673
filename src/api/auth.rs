//! Registration, login and logout.

use crate::domain::ErrorCode;
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use axum_extra::extract::{
    CookieJar,
    cookie::{Cookie, SameSite},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiError, ApiJson, ApiResult, CurrentUser, ErrorBody, extract::ClientIp};
use crate::{
    domain::{DisplayName, Password, Username},
    state::AppState,
    store::{self, StoreError, users::User},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3–32 characters of `a-z 0-9 _ . -`.
    pub username: String,
    pub display_name: String,
    /// At least 10 characters.
    pub password: String,
}

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

/// Create an account and log in. The first account becomes an administrator.
#[utoipa::path(post, path = "/auth/register", tag = "auth", security(()), request_body = RegisterRequest, responses(
    (status = 201, body = SessionResponse), (status = 409, body = ErrorBody, description = "username_taken"),
    (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, CookieJar, Json<SessionResponse>)> {
    let username = Username::parse(&req.username)?;
    let display_name = DisplayName::parse(&req.display_name)?;
    let password = Password::parse(&req.password)?;
    crate::app::limits::rate_limit(
        &state,
        &format!("reg:{ip}"),
        state.config.auth.registrations_per_ip_per_hour,
        3600,
        "registrations",
    )
    .await?;
    let user = create_user(&state, &username, &display_name, password, false).await?;
    let (jar, session) = start_session(&state, jar, &headers, &ip, user).await?;
    Ok((StatusCode::CREATED, jar, Json(session)))
}

/// Creates an account (used by registration and by `flowly users create`).
pub async fn create_user(
    state: &AppState,
    username: &Username,
    display_name: &DisplayName,
    password: Password,
    admin: bool,
) -> ApiResult<User> {
    let hash = crate::app::auth::hash_password(&state.config.auth, password.into_inner()).await?;
    let mut tx = crate::store::begin(&state.db).await?;
    let user = match store::users::insert(
        &mut tx,
        username.as_str(),
        display_name.as_str(),
        &hash,
        admin,
    )
    .await
    {
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                ErrorCode::UsernameTaken,
                "that username is taken",
            ));
        }
        other => other?,
    };
    tx.commit().await?;
    tracing::info!(user_id = %user.id, admin = user.is_admin, "account created");
    Ok(user)
}

/// Log in with username and password. Limited per account and per client address (429).
#[utoipa::path(post, path = "/auth/login", tag = "auth", security(()), request_body = LoginRequest, responses(
    (status = 200, body = SessionResponse), (status = 401, body = ErrorBody, description = "invalid_credentials"),
    (status = 403, body = ErrorBody, description = "account_disabled"), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<(CookieJar, Json<SessionResponse>)> {
    let config = &state.config.auth;
    crate::app::limits::rate_limit(
        &state,
        &format!("login-ip:{ip}"),
        config.login_attempts_per_ip,
        config.login_window_secs,
        "login attempts",
    )
    .await?;
    let username = req.username.trim().to_lowercase();
    let account_key = format!("login-fail:{username}");
    let (failures, ttl) = crate::app::limits::rate_count(&state, &account_key).await?;
    if failures >= u64::from(config.login_failures_per_account) {
        return Err(ApiError::too_many(
            ttl.max(1) as u64,
            "too many failed logins for this account; try again later",
        ));
    }
    if req.password.len() > 1024 {
        return Err(ApiError::new(
            ErrorCode::InvalidPassword,
            "password must be at most 1024 bytes",
        ));
    }
    // A name that cannot be a username belongs to nobody; it still costs a hash check below.
    let creds = match Username::parse(&username) {
        Ok(name) => store::users::credentials(&state.db, name.as_str()).await?,
        Err(_) => None,
    };
    let ok = crate::app::auth::verify_password(
        config,
        creds.as_ref().map(|c| c.1.clone()),
        req.password,
    )
    .await?;
    let Some((user_id, _, disabled)) = creds.filter(|_| ok) else {
        crate::app::limits::rate_limit(
            &state,
            &account_key,
            u32::MAX,
            config.login_window_secs,
            "failed logins",
        )
        .await?;
        return Err(ApiError::unauthorized("wrong username or password")
            .with_code(ErrorCode::InvalidCredentials));
    };
    if disabled {
        return Err(ApiError::new(
            ErrorCode::AccountDisabled,
            "this account has been disabled by an administrator",
        ));
    }
    crate::app::limits::rate_reset(&state, &account_key).await?;
    let user = store::users::get(&state.db, user_id).await?;
    let (jar, session) = start_session(&state, jar, &headers, &ip, user).await?;
    Ok((jar, Json(session)))
}

async fn start_session(
    state: &AppState,
    jar: CookieJar,
    headers: &HeaderMap,
    ip: &str,
    user: User,
) -> ApiResult<(CookieJar, SessionResponse)> {
    let token = crate::domain::auth::new_token();
    let agent: String = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(256)
        .collect();
    let ttl_days = state.config.auth.session_ttl_days;
    let session_id = store::sessions::insert(
        &state.db,
        user.id,
        &crate::domain::auth::token_hash(&token),
        &agent,
        ip,
        ttl_days,
    )
    .await?;
    let csrf_token = crate::domain::auth::csrf_token(&token);
    let secure = state.config.auth.cookie_secure;
    let max_age = time_days(ttl_days);
    let session_cookie = Cookie::build((crate::domain::auth::SESSION_COOKIE, token.clone()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(max_age);
    let csrf_cookie = Cookie::build((crate::domain::auth::CSRF_COOKIE, csrf_token.clone()))
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(max_age);
    tracing::info!(user_id = %user.id, %session_id, "session started");
    Ok((
        jar.add(session_cookie).add(csrf_cookie),
        SessionResponse {
            user,
            session_id,
            token,
            csrf_token,
        },
    ))
}

fn time_days(days: i64) -> time::Duration {
    time::Duration::days(days)
}

fn clear_cookies(jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(crate::domain::auth::SESSION_COOKIE).path("/"))
        .remove(Cookie::build(crate::domain::auth::CSRF_COOKIE).path("/"))
}

/// End this session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    jar: CookieJar,
) -> ApiResult<(StatusCode, CookieJar)> {
    if let Some(hash) = store::sessions::delete_one(&state.db, user.id, user.session_id).await? {
        crate::app::auth::forget_sessions(&state, &[hash]).await?;
    }
    Ok((StatusCode::NO_CONTENT, clear_cookies(jar)))
}

/// End every session of the caller, on every device.
#[utoipa::path(post, path = "/auth/logout-all", tag = "auth", responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout_all(
    State(state): State<AppState>,
    user: CurrentUser,
    jar: CookieJar,
) -> ApiResult<(StatusCode, CookieJar)> {
    let hashes = store::sessions::delete_all(&state.db, user.id, None).await?;
    crate::app::auth::forget_sessions(&state, &hashes).await?;
    Ok((StatusCode::NO_CONTENT, clear_cookies(jar)))
}
