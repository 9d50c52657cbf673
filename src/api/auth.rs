//! Registration, login and logout: the session cookies around [`crate::app::sessions`].

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use axum_extra::extract::{
    CookieJar,
    cookie::{Cookie, SameSite},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiJson, ApiResult, CurrentUser, ErrorBody, extract::ClientIp};
use crate::{
    app::{
        accounts::{self, RegisterRequest},
        sessions::{self, Client, LoginRequest, SessionResponse},
    },
    domain::auth::{CSRF_COOKIE, SESSION_COOKIE},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
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
    let session = accounts::register(&state, &req, client(&ip, &headers)).await?;
    Ok((
        StatusCode::CREATED,
        session_cookies(&state, jar, &session),
        Json(session),
    ))
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
    let session = sessions::login(&state, req, client(&ip, &headers)).await?;
    Ok((session_cookies(&state, jar, &session), Json(session)))
}

/// The address and user agent a session is started from.
pub(super) fn client<'a>(ip: &'a str, headers: &'a HeaderMap) -> Client<'a> {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Client { ip, user_agent }
}

/// The new session's cookies: the HttpOnly session token, and the CSRF token the web client
/// reads and sends back as a header.
pub(super) fn session_cookies(
    state: &AppState,
    jar: CookieJar,
    session: &SessionResponse,
) -> CookieJar {
    let secure = state.config.auth.cookie_secure;
    let max_age = time::Duration::days(state.config.auth.session_ttl_days);
    let session_cookie = Cookie::build((SESSION_COOKIE, session.token.clone()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(max_age);
    let csrf_cookie = Cookie::build((CSRF_COOKIE, session.csrf_token.clone()))
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(max_age);
    jar.add(session_cookie).add(csrf_cookie)
}

fn clear_cookies(jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(SESSION_COOKIE).path("/"))
        .remove(Cookie::build(CSRF_COOKIE).path("/"))
}

/// End this session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    jar: CookieJar,
) -> ApiResult<(StatusCode, CookieJar)> {
    sessions::logout(&state, &user).await?;
    Ok((StatusCode::NO_CONTENT, clear_cookies(jar)))
}

/// End every session of the caller, on every device.
#[utoipa::path(post, path = "/auth/logout-all", tag = "auth", responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout_all(
    State(state): State<AppState>,
    user: CurrentUser,
    jar: CookieJar,
) -> ApiResult<(StatusCode, CookieJar)> {
    sessions::logout_all(&state, &user).await?;
    Ok((StatusCode::NO_CONTENT, clear_cookies(jar)))
}
