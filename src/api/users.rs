//! Finding people, and the administrators' user list.

use axum::{Json, extract::State};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiPath, ApiQuery, ApiResult, CurrentUser, ErrorBody, extract::AdminUser};
use crate::{app::accounts, state::AppState, store::users::User};

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
    Ok(Json(
        accounts::search_users(&state, &user, &q.q, q.limit).await?,
    ))
}

/// One person's profile. `is_admin` and `disabled` are there only for the user themself and for
/// administrators.
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = Uuid, Path)), responses(
    (status = 200, body = User), (status = 404, body = ErrorBody, description = "user_not_found")))]
async fn get_user(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<User>> {
    Ok(Json(accounts::get_user(&state, &user, id).await?))
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
    AdminUser(admin): AdminUser,
    ApiQuery(q): ApiQuery<UserPage>,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(
        accounts::list_users(&state, &admin, q.after.as_deref(), q.limit).await?,
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
    Ok(Json(accounts::disable_user(&state, &admin, id).await?))
}

/// Enable a disabled account again.
#[utoipa::path(post, path = "/admin/users/{id}/enable", tag = "users", params(("id" = Uuid, Path)), responses(
    (status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn admin_enable_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<User>> {
    Ok(Json(accounts::enable_user(&state, &admin, id).await?))
}
