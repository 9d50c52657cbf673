//! Attachments over HTTP: uploads as a raw body (the file's bytes, its type in `Content-Type`,
//! its name in `?filename=`), downloads with the headers that keep a browser from running what
//! it fetched, task attachment lists and the quota's use. The rules are in
//! [`crate::app::attachments`].

use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiError, ApiPath, ApiQuery, ApiResult, CurrentUser, ErrorBody};
use crate::{
    app::attachments::{self, AttachmentUsage, Target, UploadInfo},
    state::AppState,
    store::attachments::Attachment,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_to_room))
        .routes(routes!(upload_to_task, list_task_attachments))
        .routes(routes!(download))
        .routes(routes!(thumbnail))
        .routes(routes!(attachment_usage))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name, as the uploader's computer calls it.
    pub filename: String,
}

/// Upload a file to a room; send it with a message by listing its id in the message's
/// `attachments`. The body is the file's bytes, `Content-Type` its media type.
#[utoipa::path(post, path = "/rooms/{id}/attachments", tag = "attachments", params(("id" = Uuid, Path), UploadQuery), responses(
    (status = 201, body = Attachment), (status = 400, body = ErrorBody, description = "upload_interrupted"),
    (status = 404, body = ErrorBody, description = "room_not_found"), (status = 413, body = ErrorBody, description = "too_large"),
    (status = 415, body = ErrorBody, description = "unsupported_type"), (status = 422, body = ErrorBody, description = "invalid_filename"),
    (status = 429, body = ErrorBody), (status = 507, body = ErrorBody, description = "quota_exceeded")))]
async fn upload_to_room(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(room): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    upload(&state, &user, Target::Room(room), &q, &headers, body).await
}

/// Attach a file to a task. The body is the file's bytes, `Content-Type` its media type.
#[utoipa::path(post, path = "/tasks/{id}/attachments", tag = "attachments", params(("id" = Uuid, Path), UploadQuery), responses(
    (status = 201, body = Attachment), (status = 400, body = ErrorBody, description = "upload_interrupted"),
    (status = 404, body = ErrorBody, description = "task_not_found"), (status = 413, body = ErrorBody, description = "too_large"),
    (status = 415, body = ErrorBody, description = "unsupported_type"), (status = 422, body = ErrorBody, description = "invalid_filename"),
    (status = 429, body = ErrorBody), (status = 507, body = ErrorBody, description = "quota_exceeded")))]
async fn upload_to_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(task): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    upload(&state, &user, Target::Task(task), &q, &headers, body).await
}

async fn upload(
    state: &AppState,
    user: &CurrentUser,
    target: Target,
    q: &UploadQuery,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
    };
    let info = UploadInfo {
        filename: &q.filename,
        content_type: text(header::CONTENT_TYPE),
        length: text(header::CONTENT_LENGTH).parse().ok(),
    };
    let stream = body.into_data_stream();
    let attachment = attachments::upload(state, user, target, info, stream).await?;
    Ok((StatusCode::CREATED, Json(attachment)))
}

/// A task's attachments, oldest first.
#[utoipa::path(get, path = "/tasks/{id}/attachments", tag = "attachments", params(("id" = Uuid, Path)), responses(
    (status = 200, body = Vec<Attachment>), (status = 404, body = ErrorBody, description = "task_not_found")))]
async fn list_task_attachments(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(task): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<Attachment>>> {
    Ok(Json(
        attachments::task_attachments(&state, &user, task).await?,
    ))
}

/// Download a file. Images are shown inline; every other type is sent as a download. Someone
/// who is not a member of the attachment's room gets 404, as if it did not exist.
#[utoipa::path(get, path = "/attachments/{id}", tag = "attachments", params(("id" = Uuid, Path)), responses(
    (status = 200, description = "The file's bytes, with its media type", content_type = "application/octet-stream"),
    (status = 404, body = ErrorBody, description = "attachment_not_found")))]
async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let found = attachments::download(&state, &user, id, false).await?;
    let a = &found.attachment;
    let inline = crate::app::attachments::is_image(&a.content_type);
    serve(&found.path, &a.content_type, &a.filename, inline).await
}

/// An image's thumbnail (JPEG, at most `attachments.thumbnail_px` on its longer side).
#[utoipa::path(get, path = "/attachments/{id}/thumbnail", tag = "attachments", params(("id" = Uuid, Path)), responses(
    (status = 200, description = "A JPEG", content_type = "image/jpeg"),
    (status = 404, body = ErrorBody, description = "attachment_not_found")))]
async fn thumbnail(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let found = attachments::download(&state, &user, id, true).await?;
    let name = format!("{}.thumb.jpg", found.attachment.filename);
    serve(&found.path, "image/jpeg", &name, true).await
}

/// Streams a stored file with its type, its name, and no sniffing.
async fn serve(
    path: &std::path::Path,
    content_type: &str,
    filename: &str,
    inline: bool,
) -> ApiResult<Response> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| ApiError::internal(format!("attachment file {}: {e}", path.display())))?;
    let length = file.metadata().await.map_err(ApiError::internal)?.len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let disposition = content_disposition(if inline { "inline" } else { "attachment" }, filename);
    let mut response = body.into_response();
    let headers = response.headers_mut();
    let mut set = |name, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, content_type.to_owned());
    set(header::CONTENT_LENGTH, length.to_string());
    set(header::CONTENT_DISPOSITION, disposition);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned());
    // An attachment never changes under its id; only the viewer's browser may keep it.
    set(header::CACHE_CONTROL, "private, max-age=86400".to_owned());
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox".to_owned(),
    );
    Ok(response)
}

/// `inline` or `attachment` with the file's name: an ASCII fallback and the exact name
/// percent-encoded as UTF-8 (RFC 6266).
fn content_disposition(kind: &str, filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = filename
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'!'
            | b'#'
            | b'$'
            | b'&'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// How much of the attachments quota the installation uses (administrators).
#[utoipa::path(get, path = "/admin/attachments", tag = "attachments", responses((status = 200, body = AttachmentUsage)))]
async fn attachment_usage(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<AttachmentUsage>> {
    Ok(Json(attachments::usage(&state, &user).await?))
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn a_file_name_is_quoted_safely_and_kept_exactly() {
        assert_eq!(
            content_disposition("attachment", "Q3 plan.pdf"),
            "attachment; filename=\"Q3 plan.pdf\"; filename*=UTF-8''Q3%20plan.pdf"
        );
        assert_eq!(
            content_disposition("inline", "a\"b;é.png"),
            "inline; filename=\"a_b;_.png\"; filename*=UTF-8''a%22b%3B%C3%A9.png"
        );
    }
}
