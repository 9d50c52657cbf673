//! Finding people, and the administrators' user list.

use crate::domain::ErrorCode;
use axum::{Json, extract::State};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ApiError, ApiPath, ApiQuery, ApiResult, CurrentUser, ErrorBody, extract::AdminUser, page_size,
};
use crate::{
    state::AppState,
    store::{self, StoreError, users::User},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_users))
        .routes(routes!(get_user))
        .routes(routes!(admin_list_users))
        .routes(routes!(admin_disable_user))
        .routes(routes!(admin_enable_user))
}

#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct UserSearch {
    /// Prefix of a username or display name.
    pub q: String,
    pub limit: Option<i64>,
}

/// Find people by the start of their username or display name.
#[utoipa::path(get, path = "/users", tag = "users", params(UserSearch), responses(
    (status = 200, body = Vec<User>), (status = 422, body = ErrorBody)))]
async fn search_users(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<UserSearch>,
) -> ApiResult<Json<Vec<User>>> {
    let prefix = q.q.trim();
    if prefix.is_empty() || prefix.chars().count() > 64 || prefix.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            ErrorCode::InvalidQuery,
            "q must be 1–64 characters without control characters",
        ));
    }
    let limit = page_size(&state, q.limit, 20)?;
    Ok(Json(
        store::users::search(&state.db, user.id, prefix, limit).await?,
    ))
}

/// One person's public profile.
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = Uuid, Path)), responses(
    (status = 200, body = User), (status = 404, body = ErrorBody, description = "user_not_found")))]
async fn get_user(
    State(state): State<AppState>,
    _user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<User>> {
    match store::users::get(&state.db, id).await {
        Err(StoreError::NotFound) => Err(user_not_found()),
        other => Ok(Json(other?)),
    }
}

pub fn user_not_found() -> ApiError {
    ApiError::new(ErrorCode::UserNotFound, "no such user")
}

#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct UserPage {
    /// Continue after this username.
    pub after: Option<String>,
    pub limit: Option<i64>,
}

/// Every account, in username order (administrators only).
#[utoipa::path(get, path = "/admin/users", tag = "users", params(UserPage), responses(
    (status = 200, body = Vec<User>), (status = 403, body = ErrorBody, description = "admin_only")))]
async fn admin_list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiQuery(q): ApiQuery<UserPage>,
) -> ApiResult<Json<Vec<User>>> {
    let limit = page_size(&state, q.limit, 100)?;
    if q.after
        .as_deref()
        .is_some_and(|a| a.len() > 64 || a.chars().any(char::is_control))
    {
        return Err(ApiError::invalid(
            ErrorCode::InvalidQuery,
            "after must be a username",
        ));
    }
    Ok(Json(
        store::users::list(&state.db, q.after.as_deref(), limit).await?,
    ))
}

/// Disable an account: its sessions end at once and it can no longer log in.
#[utoipa::path(post, path = "/admin/users/{id}/disable", tag = "users", params(("id" = Uuid, Path)), responses(
    (status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "cannot_disable_self")))]
async fn admin_disable_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<User>> {
    if id == admin.id {
        return Err(ApiError::new(
            ErrorCode::CannotDisableSelf,
            "administrators cannot disable their own account",
        ));
    }
    let mut tx = crate::store::begin(&state.db).await?;
    let user = match store::users::set_disabled(&mut *tx, id, true).await {
        Err(StoreError::NotFound) => return Err(user_not_found()),
        other => other?,
    };
    let ended = store::sessions::delete_all(&mut *tx, id, None).await?;
    store::users::audit(
        &mut *tx,
        admin.id,
        "user.disable",
        id,
        serde_json::json!({ "sessions_ended": ended.len() }),
    )
    .await?;
    tx.commit().await?;
    crate::app::auth::forget_sessions(&state, &ended).await?;
    tracing::info!(admin_id = %admin.id, user_id = %id, sessions_ended = ended.len(), "user disabled");
    Ok(Json(user))
}

/// Enable a disabled account again.
#[utoipa::path(post, path = "/admin/users/{id}/enable", tag = "users", params(("id" = Uuid, Path)), responses(
    (status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn admin_enable_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<User>> {
    let mut tx = crate::store::begin(&state.db).await?;
    let user = match store::users::set_disabled(&mut *tx, id, false).await {
        Err(StoreError::NotFound) => return Err(user_not_found()),
        other => other?,
    };
    store::users::audit(&mut *tx, admin.id, "user.enable", id, serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(Json(user))
}
