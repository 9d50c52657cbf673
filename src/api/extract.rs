//! Extractors that turn every kind of bad input into an [`ApiError`] with a stable code, and
//! [`CurrentUser`], which authenticates a request by session cookie or bearer token.

use crate::domain::ErrorCode;
use axum::body::Bytes;
use axum::{
    extract::{
        FromRequest, FromRequestParts, Request,
        rejection::{PathRejection, QueryRejection},
    },
    http::{Method, StatusCode, request::Parts},
};
use axum_extra::extract::CookieJar;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};

/// A JSON body whose every rejection is a JSON error: 415 wrong content type, 413 too large,
/// 400 not JSON at all, 422 JSON of the wrong shape.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                payload_too_large()
            } else {
                ApiError::new(ErrorCode::InvalidBody, e.body_text())
            }
        })?;
        serde_json::from_slice::<T>(&bytes)
            .map(ApiJson)
            .map_err(|e| {
                // Well-formed JSON that does not fit the request type is a 422, whatever serde calls it.
                if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() {
                    ApiError::invalid(
                        ErrorCode::InvalidBody,
                        format!("the request body does not fit: {e}"),
                    )
                } else {
                    ApiError::new(
                        ErrorCode::MalformedJson,
                        format!("the request body is not valid JSON: {e}"),
                    )
                }
            })
    }
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

pub fn payload_too_large() -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
}

/// `axum::extract::Path` with JSON errors.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|e: PathRejection| ApiError::new(ErrorCode::InvalidPath, e.body_text()))
    }
}

/// `axum::extract::Query` with JSON errors.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::new(ErrorCode::InvalidQuery, e.body_text()))
    }
}

/// The authenticated caller, as the use cases know it. Writes authenticated by cookie must
/// carry the CSRF header.
pub use crate::domain::Actor as CurrentUser;

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let Some((token, via_cookie)) = presented_token(&parts.headers) else {
            return Err(ApiError::unauthorized(
                "log in first: no session cookie or bearer token",
            ));
        };
        let session = crate::app::auth::authenticate(state, &token)
            .await?
            .ok_or_else(|| {
                ApiError::unauthorized("the session has expired or was revoked; log in again")
            })?;
        if via_cookie && !is_safe(&parts.method) {
            let sent = parts
                .headers
                .get(crate::domain::auth::CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !crate::domain::auth::csrf_matches(&token, sent) {
                return Err(ApiError::new(
                    ErrorCode::CsrfFailed,
                    format!(
                        "cookie-authenticated writes need the {} header from login",
                        crate::domain::auth::CSRF_HEADER
                    ),
                ));
            }
        }
        let user = session;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// An admin; everyone else gets 403.
pub struct AdminUser(pub CurrentUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        crate::domain::permissions::require_admin(&user)?;
        Ok(AdminUser(user))
    }
}

/// The session token a request presents, and whether it came as the cookie (which needs CSRF
/// or origin checks) rather than as `Authorization: Bearer`.
pub fn presented_token(headers: &axum::http::HeaderMap) -> Option<(String, bool)> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned());
    match bearer {
        Some(token) => Some((token, false)),
        None => CookieJar::from_headers(headers)
            .get(crate::domain::auth::SESSION_COOKIE)
            .map(|c| (c.value().to_owned(), true)),
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The client's address: the socket peer, or behind a trusted proxy the last `X-Forwarded-For` hop.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.server.trust_forwarded_for
            && let Some(ip) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(str::trim)
                .filter(|ip| !ip.is_empty())
        {
            return Ok(ClientIp(ip.to_owned()));
        }
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|ci| ci.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        Ok(ClientIp(peer))
    }
}
