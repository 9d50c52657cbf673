//! The caller's own account: profile, password and active sessions.

use crate::domain::ErrorCode;
use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiError, ApiJson, ApiPath, ApiResult, CurrentUser, ErrorBody};
use crate::{
    domain::{Bio, DisplayName, Password},
    state::AppState,
    store::{self, sessions::Session, users::User},
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
    Ok(Json(store::users::get(&state.db, user.id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct ProfileUpdate {
    pub display_name: Option<String>,
    pub bio: Option<String>,
}

/// Edit the caller's display name or bio.
#[utoipa::path(patch, path = "/me", tag = "me", request_body = ProfileUpdate, responses(
    (status = 200, body = User), (status = 422, body = ErrorBody)))]
async fn update_me(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<ProfileUpdate>,
) -> ApiResult<Json<User>> {
    let display_name = req
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let bio = req.bio.as_deref().map(Bio::parse).transpose()?;
    let updated = store::users::update_profile(
        &state.db,
        user.id,
        display_name.as_ref().map(DisplayName::as_str),
        bio.as_ref().map(Bio::as_str),
    )
    .await?;
    Ok(Json(updated))
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    /// The session this request was made with.
    pub current: Uuid,
    pub sessions: Vec<Session>,
}

/// The caller's active sessions.
#[utoipa::path(get, path = "/me/sessions", tag = "me", responses((status = 200, body = SessionList)))]
async fn list_sessions(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<SessionList>> {
    let sessions = store::sessions::list_for_user(&state.db, user.id).await?;
    Ok(Json(SessionList {
        current: user.session_id,
        sessions,
    }))
}

/// Revoke one of the caller's sessions (it stops working at once).
#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "me", params(("id" = Uuid, Path)), responses(
    (status = 204), (status = 404, body = ErrorBody, description = "session_not_found")))]
async fn revoke_session(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let hash = store::sessions::delete_one(&state.db, user.id, id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::SessionNotFound, "no such session"))?;
    crate::app::auth::forget_sessions(&state, &[hash]).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    /// At least 10 characters.
    pub new_password: String,
}

/// Change the password. Every other session of the caller ends.
#[utoipa::path(post, path = "/me/password", tag = "me", request_body = PasswordChange, responses(
    (status = 204), (status = 403, body = ErrorBody, description = "wrong_password"), (status = 422, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let new_password = Password::parse(&req.new_password)?;
    let config = &state.config.auth;
    crate::app::limits::rate_limit(
        &state,
        &format!("pw:{}", user.id),
        config.login_failures_per_account,
        config.login_window_secs,
        "password changes",
    )
    .await?;
    let stored = store::users::password_hash(&state.db, user.id).await?;
    if req.current_password.len() > 1024
        || !crate::app::auth::verify_password(config, Some(stored), req.current_password).await?
    {
        return Err(ApiError::new(
            ErrorCode::WrongPassword,
            "the current password is wrong",
        ));
    }
    let hash = crate::app::auth::hash_password(config, new_password.into_inner()).await?;
    let mut tx = crate::store::begin(&state.db).await?;
    store::users::set_password(&mut *tx, user.id, &hash).await?;
    let ended = store::sessions::delete_all(&mut *tx, user.id, Some(user.session_id)).await?;
    tx.commit().await?;
    crate::app::auth::forget_sessions(&state, &ended).await?;
    Ok(StatusCode::NO_CONTENT)
}
