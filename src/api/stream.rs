//! The WebSocket upgrade at `/api/v1/ws`: checks it is one, authenticates it (bearer header,
//! `?token=`, or the session cookie from our own origin), and hands the socket to
//! [`crate::realtime::socket`], which runs the stream (frames in docs/protocol.md).

use axum::{
    extract::{State, WebSocketUpgrade, ws::rejection::WebSocketUpgradeRejection},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{ApiError, ApiQuery, CurrentUser, ErrorBody};
use crate::{
    config::ServerConfig,
    domain::{ErrorCode, origin::Origin},
    realtime::socket::{self, close},
    state::AppState,
};

#[derive(Deserialize)]
pub struct WsQuery {
    /// A session token, for clients that cannot set headers.
    token: Option<String>,
}

/// The real-time stream: upgrades to a WebSocket, then authenticates (session cookie, bearer
/// token or `?token=`); a refused client gets a close frame whose code and reason say why.
/// Frames are documented in docs/protocol.md.
#[utoipa::path(get, path = "/ws", tag = "realtime",
    params(("token" = Option<String>, Query, description = "session token, for clients that cannot set headers")),
    responses((status = 101, description = "switching to the WebSocket protocol"),
        (status = 400, body = ErrorBody, description = "websocket_required, invalid_query")))]
pub async fn ws_handler(
    State(state): State<AppState>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<WsQuery>,
) -> Response {
    let Ok(ws) = ws else {
        let message =
            "this endpoint speaks WebSocket: open it with a WebSocket client (Upgrade: websocket)";
        return ApiError::new(ErrorCode::WebsocketRequired, message).into_response();
    };
    let rt = &state.config.realtime;
    let ws = ws
        .read_buffer_size(rt.read_buffer_bytes)
        .write_buffer_size(rt.write_buffer_bytes)
        .max_write_buffer_size(rt.max_write_buffer_bytes)
        .max_message_size(rt.max_frame_bytes)
        .max_frame_size(rt.max_frame_bytes);
    // Over `realtime.max_connecting` the socket waits in line (`realtime.connect_queue_ms`), then
    // is refused before any work, after the upgrade like every refusal: a browser sees only a
    // close frame's code and reason.
    let (auth, admitted) = match state.admission.connect().await {
        Ok(place) => (authenticate(&state, &headers, q.token).await, place),
        Err(_) => {
            state.metrics.shed("socket");
            (Err((close::TRY_AGAIN_LATER, close::OVERLOADED)), None)
        }
    };
    ws.on_upgrade(move |socket| socket::serve(state, socket, auth, admitted))
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query_token: Option<String>,
) -> Result<(CurrentUser, String), (u16, &'static str)> {
    // A bearer header wins, then `?token=`, then the cookie.
    let presented = super::extract::presented_token(headers);
    let (token, via_cookie) = match (presented, query_token) {
        (Some((token, false)), _) => (token, false),
        (_, Some(token)) => (token, false),
        (Some((cookie, true)), None) => (cookie, true),
        (None, None) => return Err((close::UNAUTHENTICATED, "unauthenticated: log in first")),
    };
    // A cookie rides along with any page's request: only our own origin may use it.
    if via_cookie && !same_origin(headers, &state.config.server) {
        return Err((close::FORBIDDEN_ORIGIN, "forbidden origin"));
    }
    match crate::app::auth::authenticate(state, &token).await {
        Ok(Some(actor)) => Ok((actor, token)),
        Ok(None) => Err((
            close::UNAUTHENTICATED,
            "session expired or revoked: log in again",
        )),
        Err(e) => {
            tracing::warn!(error = %e, "cannot check a socket's session");
            Err((close::GOING_AWAY, "temporarily unavailable: retry"))
        }
    }
}

/// Whether a browser's request comes from Flowly's own origin: `server.public_url` when set,
/// else the request's scheme and host. The forwarded headers count only from a trusted proxy
/// (`trust_forwarded_for`); anyone else could send them. A missing `Origin` is not a browser.
fn same_origin(headers: &HeaderMap, server: &ServerConfig) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(origin) = origin.to_str().ok().and_then(|o| Origin::parse(o).ok()) else {
        return false;
    };
    own_origin(headers, server).is_some_and(|own| own == origin)
}

/// The origin this request was made to, as the browser saw it.
fn own_origin(headers: &HeaderMap, server: &ServerConfig) -> Option<Origin> {
    if !server.public_url.is_empty() {
        return Origin::parse_url(&server.public_url).ok();
    }
    // A proxy that appends rather than replaces leaves its own value last.
    let forwarded = |name: &str| {
        server
            .trust_forwarded_for
            .then(|| headers.get(name)?.to_str().ok()?.rsplit(',').next())
            .flatten()
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let host =
        forwarded("x-forwarded-host").or_else(|| headers.get(header::HOST)?.to_str().ok())?;
    let scheme = forwarded("x-forwarded-proto").unwrap_or("http");
    Origin::from_parts(scheme, host).ok()
}
