//! Invite links over HTTP: the room owner's list, create and revoke; the link's public preview;
//! joining with it, logged in or by registering. The rules are in [`crate::app::invites`].

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use axum_extra::extract::CookieJar;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ApiJson, ApiPath, ApiResult, CurrentUser, ErrorBody,
    auth::{client, session_cookies},
    extract::ClientIp,
};
use crate::{
    app::{
        accounts::RegisterRequest,
        invites::{
            self, CreatedInvite, InvitePreview, Joined, NewInviteRequest, RegisteredWithInvite,
        },
    },
    state::AppState,
    store::invites::InviteLink,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_invites, create_invite))
        .routes(routes!(revoke_invite))
        .routes(routes!(preview_invite))
        .routes(routes!(accept_invite))
        .routes(routes!(register_with_invite))
}

/// A group room's invite links, newest first (its owner, or an administrator who is a member).
#[utoipa::path(get, path = "/rooms/{id}/invites", tag = "invites", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Vec<InviteLink>), (status = 403, body = ErrorBody, description = "not_owner, not_a_group"),
    (status = 404, body = ErrorBody, description = "room_not_found")))]
async fn list_invites(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(room): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<InviteLink>>> {
    Ok(Json(invites::list_invites(&state, &user, room).await?))
}

/// Make an invite link. The token is in this answer only; the link is `/invite/{token}`.
#[utoipa::path(post, path = "/rooms/{id}/invites", tag = "invites", params(("id" = Uuid, Path)), request_body = NewInviteRequest, responses(
    (status = 201, body = CreatedInvite), (status = 403, body = ErrorBody, description = "not_owner, not_a_group"),
    (status = 404, body = ErrorBody, description = "room_not_found"), (status = 422, body = ErrorBody, description = "invalid_invite"),
    (status = 429, body = ErrorBody)))]
async fn create_invite(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(room): ApiPath<Uuid>,
    ApiJson(req): ApiJson<NewInviteRequest>,
) -> ApiResult<(StatusCode, Json<CreatedInvite>)> {
    let created = invites::create_invite(&state, &user, room, &req).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revoke an invite link. People who joined with it stay members.
#[utoipa::path(delete, path = "/rooms/{id}/invites/{invite_id}", tag = "invites", params(("id" = Uuid, Path), ("invite_id" = Uuid, Path)), responses(
    (status = 200, body = InviteLink), (status = 403, body = ErrorBody, description = "not_owner, not_a_group"),
    (status = 404, body = ErrorBody, description = "room_not_found, invite_not_found")))]
async fn revoke_invite(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((room, id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<InviteLink>> {
    Ok(Json(invites::revoke_invite(&state, &user, room, id).await?))
}

/// What an invite link leads to, for anyone who has it.
#[utoipa::path(get, path = "/invites/{invite}", tag = "invites", security(()), params(("invite" = String, Path, description = "The invite link's token")), responses(
    (status = 200, body = InvitePreview), (status = 404, body = ErrorBody, description = "invite_not_found"),
    (status = 410, body = ErrorBody, description = "invite_expired, invite_used_up, invite_revoked")))]
async fn preview_invite(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> ApiResult<Json<InvitePreview>> {
    Ok(Json(invites::preview(&state, &token).await?))
}

/// Join the link's room as the logged-in user.
#[utoipa::path(post, path = "/invites/{invite}/accept", tag = "invites", params(("invite" = String, Path, description = "The invite link's token")), responses(
    (status = 200, body = Joined), (status = 404, body = ErrorBody, description = "invite_not_found"),
    (status = 410, body = ErrorBody, description = "invite_expired, invite_used_up, invite_revoked")))]
async fn accept_invite(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(token): ApiPath<String>,
) -> ApiResult<Json<Joined>> {
    Ok(Json(invites::accept(&state, &user, &token).await?))
}

/// Create an account through an invite link: logged in and a member of its room at once. A
/// dead link makes no account.
#[utoipa::path(post, path = "/invites/{invite}/register", tag = "invites", security(()), params(("invite" = String, Path, description = "The invite link's token")), request_body = RegisterRequest, responses(
    (status = 201, body = RegisteredWithInvite), (status = 404, body = ErrorBody, description = "invite_not_found"),
    (status = 409, body = ErrorBody, description = "username_taken"),
    (status = 410, body = ErrorBody, description = "invite_expired, invite_used_up, invite_revoked"),
    (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn register_with_invite(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    ApiPath(token): ApiPath<String>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, CookieJar, Json<RegisteredWithInvite>)> {
    let registered = invites::register(&state, &token, &req, client(&ip, &headers)).await?;
    let jar = session_cookies(&state, jar, &registered.session);
    Ok((StatusCode::CREATED, jar, Json(registered)))
}
