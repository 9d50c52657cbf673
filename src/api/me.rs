//! The caller's own account: profile, password and active sessions.

use axum::{Json, extract::State, http::StatusCode};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiResult, CurrentUser, ErrorBody};
use crate::{
    app::{
        accounts::{self, PasswordChange, ProfileUpdate},
        sessions::{self, SessionList},
    },
    state::AppState,
    store::users::User,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me, update_me))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(change_password))
}

/// The caller's profile.
#[utoipa::path(get, path = "/me", tag = "me", responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
async fn get_me(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<User>> {
    Ok(Json(accounts::get_profile(&state, &user).await?))
}

/// Edit the caller's display name or bio.
#[utoipa::path(patch, path = "/me", tag = "me", request_body = ProfileUpdate, responses(
    (status = 200, body = User), (status = 422, body = ErrorBody)))]
async fn update_me(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<ProfileUpdate>,
) -> ApiResult<Json<User>> {
    Ok(Json(accounts::update_profile(&state, &user, &req).await?))
}

/// The caller's active sessions.
#[utoipa::path(get, path = "/me/sessions", tag = "me", responses((status = 200, body = SessionList)))]
async fn list_sessions(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<SessionList>> {
    Ok(Json(sessions::list_sessions(&state, &user).await?))
}

/// Revoke one of the caller's sessions (it stops working at once).
#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "me", params(("id" = Uuid, Path)), responses(
    (status = 204), (status = 404, body = ErrorBody, description = "session_not_found")))]
async fn revoke_session(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    sessions::revoke_session(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password. Every other session of the caller ends.
#[utoipa::path(post, path = "/me/password", tag = "me", request_body = PasswordChange, responses(
    (status = 204), (status = 403, body = ErrorBody, description = "wrong_password"), (status = 422, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    accounts::change_password(&state, &user, req).await?;
    Ok(StatusCode::NO_CONTENT)
}
