//! Notifications outside the open page: per-room mute, browsers' Web Push subscriptions, and the
//! pushes themselves.
//!
//! Who is notified, and how:
//! - a message that @mentions someone notifies them; a message in a DM notifies the other person;
//!   a task assigned to someone (made with them as assignee, or reassigned to them) notifies them.
//!   Nobody is notified of their own doing.
//! - A member who muted a room gets no notification for its messages, mentions included. Task
//!   assignments still notify: an assignment is work handed to one person, not conversation.
//! - A person with a socket open (any tab, any node) is told by that page, which raises a desktop
//!   notification itself from the live stream. Only people with no socket get a Web Push, so one
//!   event never notifies twice.
//!
//! Pushes are encrypted for the browser (RFC 8291, `aes128gcm`), signed with the server's VAPID key
//! (RFC 8292), and sent on a task of their own after the change has committed: a slow or dead push
//! service never delays the request. Each request to a push service is bounded by
//! `push.timeout_secs`, `push.concurrency` of them at most run at once per node, and a
//! subscription the push service says is gone (404 or 410) is deleted.

use std::{net::IpAddr, sync::Arc, time::Duration};

use axum::http::Uri;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use utoipa::ToSchema;
use uuid::Uuid;
use web_push_native::{
    Auth, WebPushBuilder,
    jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair},
    p256::PublicKey,
};

use super::{AppState, Coded, Infra, limits::LimitError, rooms::RoomError};
use crate::{
    config::PushConfig,
    domain::{Actor, ErrorCode, Invalid, RoomKind},
    realtime::presence,
    store::{self, push::Subscription, rooms::Room},
};

/// Longest push endpoint accepted, in bytes.
const MAX_ENDPOINT_BYTES: usize = 2048;
/// Longest message text in a push, in characters (a push payload holds about 4 KB).
const MAX_PUSH_TEXT_CHARS: usize = 200;
/// How long a VAPID token is valid; push services refuse more than 24 hours.
const VAPID_VALIDITY: Duration = Duration::from_secs(12 * 3600);

/// What can go wrong with notification settings.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("no such push subscription of yours")]
    NotFound,
    #[error("you have too many push subscriptions; remove one first")]
    TooMany,
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Infra(#[from] Infra),
}

crate::infra_errors!(PushError);

impl Coded for PushError {
    fn code(&self) -> ErrorCode {
        match self {
            PushError::NotFound => ErrorCode::SubscriptionNotFound,
            PushError::TooMany => ErrorCode::TooManySubscriptions,
            PushError::Room(e) => e.code(),
            PushError::Invalid(e) => e.code(),
            PushError::Limit(e) => e.code(),
            PushError::Infra(e) => e.code(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            PushError::Limit(e) => e.retry_after(),
            _ => None,
        }
    }

    fn is_validation(&self) -> bool {
        matches!(self, PushError::Invalid(_))
    }
}

/// Sends pushes: the VAPID key, an HTTP client and the bound on requests in flight.
pub struct Pusher {
    key: ES256KeyPair,
    public_key: String,
    client: reqwest::Client,
    permits: Semaphore,
    config: PushConfig,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

impl Pusher {
    /// Loads the VAPID key from the config, or from the database (making and storing one on the
    /// first start), and builds the HTTP client.
    pub async fn start(db: &sqlx::PgPool, config: &PushConfig) -> anyhow::Result<Pusher> {
        let configured = config.vapid_private_key.expose();
        let encoded = if configured.is_empty() {
            let candidate = URL_SAFE_NO_PAD.encode(ES256KeyPair::generate().to_bytes());
            store::push::vapid_key(db, &candidate).await?
        } else {
            configured.to_owned()
        };
        let key = URL_SAFE_NO_PAD
            .decode(encoded.trim_end_matches('='))
            .ok()
            .and_then(|raw| ES256KeyPair::from_bytes(&raw).ok())
            .ok_or_else(|| {
                anyhow::anyhow!("push.vapid_private_key is not a base64url P-256 private key")
            })?;
        let public_key =
            URL_SAFE_NO_PAD.encode(key.public_key().public_key().to_bytes_uncompressed());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Pusher {
            key,
            public_key,
            client,
            permits: Semaphore::new(config.concurrency),
            config: config.clone(),
        })
    }

    /// The VAPID public key (uncompressed P-256 point, base64url): the browser's
    /// `applicationServerKey`.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }
}

/// The server's push settings, for a browser about to subscribe.
#[derive(Serialize, ToSchema)]
pub struct PushKey {
    /// The VAPID public key, base64url: pass it as `applicationServerKey` to
    /// `pushManager.subscribe`.
    pub public_key: String,
    /// Whether this server sends pushes (`push.enabled`).
    pub enabled: bool,
}

/// The server's VAPID public key.
pub fn push_key(state: &AppState) -> PushKey {
    PushKey {
        public_key: state.push.public_key().to_owned(),
        enabled: state.config.push.enabled,
    }
}

/// A browser's push subscription, as `PushSubscription.toJSON()` gives it.
#[derive(Deserialize, ToSchema)]
pub struct SubscriptionRequest {
    /// The push service's URL for this browser (https).
    pub endpoint: String,
    pub keys: SubscriptionKeys,
}

/// The browser's keys for payload encryption (RFC 8291).
#[derive(Deserialize, ToSchema)]
pub struct SubscriptionKeys {
    /// The browser's P-256 public key (65 bytes uncompressed), base64url.
    pub p256dh: String,
    /// The browser's authentication secret (16 bytes), base64url.
    pub auth: String,
}

/// Which subscription to remove.
#[derive(Deserialize, ToSchema)]
pub struct EndpointRequest {
    pub endpoint: String,
}

fn invalid(message: &str) -> Invalid {
    Invalid::new(ErrorCode::InvalidSubscription, message)
}

/// Decodes base64url with or without padding.
fn base64url(value: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(value.trim_end_matches('=')).ok()
}

/// Checks a push endpoint: https (or, when allowed for tests, http on a loopback address), and
/// never an IP address that is private, loopback or link-local otherwise, so a subscription
/// cannot point the server at its own network.
fn parse_endpoint(endpoint: &str, config: &PushConfig) -> Result<Uri, Invalid> {
    if endpoint.len() > MAX_ENDPOINT_BYTES {
        return Err(invalid("the endpoint is too long"));
    }
    let uri: Uri = endpoint
        .parse()
        .map_err(|_| invalid("the endpoint is not a URL"))?;
    let host = uri
        .host()
        .ok_or_else(|| invalid("the endpoint has no host"))?;
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    let loopback = ip.is_some_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") if ip.is_none_or(is_public) => Ok(uri),
        Some("http" | "https") if loopback && config.allow_loopback_http => Ok(uri),
        Some("https") => Err(invalid("the endpoint must not be a private address")),
        _ => Err(invalid("the endpoint must be an https URL")),
    }
}

/// An address on the public internet (where push services are).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            let local =
                (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80;
            !(v6.is_loopback() || v6.is_unspecified() || local)
        }
    }
}

/// Registers (or renews) one of the caller's browsers for pushes.
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn subscribe(
    state: &AppState,
    actor: &Actor,
    req: &SubscriptionRequest,
) -> Result<(), PushError> {
    parse_endpoint(&req.endpoint, &state.config.push)?;
    let p256dh = base64url(&req.keys.p256dh)
        .filter(|raw| PublicKey::from_sec1_bytes(raw).is_ok())
        .ok_or_else(|| invalid("keys.p256dh is not a base64url P-256 public key"))?;
    let auth = base64url(&req.keys.auth)
        .filter(|raw| raw.len() == 16)
        .ok_or_else(|| invalid("keys.auth is not 16 bytes of base64url"))?;
    super::limits::limit_writes(state, actor).await?;
    let mine = store::push::for_user(&state.db, actor.id).await?;
    let renewal = mine.iter().any(|s| s.endpoint == req.endpoint);
    if !renewal
        && store::push::count_for_user(&state.db, actor.id).await?
            >= state.config.push.max_subscriptions_per_user
    {
        return Err(PushError::TooMany);
    }
    store::push::upsert(
        &state.db,
        actor.id,
        &req.endpoint,
        &URL_SAFE_NO_PAD.encode(p256dh),
        &URL_SAFE_NO_PAD.encode(auth),
    )
    .await?;
    Ok(())
}

/// Removes one of the caller's browsers (on logout, or when notifications are turned off).
#[tracing::instrument(skip_all, fields(user_id = %actor.id))]
pub async fn unsubscribe(state: &AppState, actor: &Actor, endpoint: &str) -> Result<(), PushError> {
    if store::push::remove(&state.db, actor.id, endpoint).await? {
        Ok(())
    } else {
        Err(PushError::NotFound)
    }
}

/// Mutes or unmutes a room for the caller; returns the room as the caller now sees it.
#[tracing::instrument(skip_all, fields(user_id = %actor.id, room_id = %room))]
pub async fn set_muted(
    state: &AppState,
    actor: &Actor,
    room: Uuid,
    muted: bool,
) -> Result<Room, RoomError> {
    if !store::push::set_muted(&state.db, room, actor.id, muted).await? {
        return Err(RoomError::NotFound);
    }
    store::rooms::get(&state.db, room, actor.id)
        .await?
        .ok_or(RoomError::NotFound)
}

/// Why someone is notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Mention,
    Dm,
    TaskAssigned,
}

/// What a push carries (JSON, encrypted): the service worker shows it as a notification, and a
/// click opens `url`.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub reason: Reason,
    pub room: Uuid,
    /// The message or task it is about.
    pub id: Uuid,
    pub title: String,
    pub body: String,
    /// Where a click leads, relative to the web client (`/#/r/<room>`, `/#/t/<task>`).
    pub url: String,
}

fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(MAX_PUSH_TEXT_CHARS).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// A message was sent: notifies whom it mentions, or in a DM the other person. `mentioned` are
/// the members it mentions. The work runs on a task of its own.
pub fn message_sent(
    state: &AppState,
    actor: &Actor,
    message: store::messages::Message,
    kind: RoomKind,
    mentioned: Vec<Uuid>,
) {
    // Most messages mention no one: they cost nothing here.
    if !state.config.push.enabled || (kind != RoomKind::Dm && mentioned.is_empty()) {
        return;
    }
    let (state, actor) = (state.clone(), actor.clone());
    tokio::spawn(async move {
        match message_notice(&state, &actor, &message, kind, mentioned).await {
            Ok(Some((users, notice))) => deliver(&state, users, notice).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot work out whom to push a message to"),
        }
    });
}

/// Whom a message notifies (unmuted, not its author) and what they are told.
async fn message_notice(
    state: &AppState,
    actor: &Actor,
    message: &store::messages::Message,
    kind: RoomKind,
    mentioned: Vec<Uuid>,
) -> Result<Option<(Vec<Uuid>, Notice)>, store::StoreError> {
    let room = message.room_id;
    let (reason, users) = if kind == RoomKind::Dm {
        let members = store::rooms::members(&state.db, room, actor.id).await?;
        (Reason::Dm, members.into_iter().map(|m| m.user_id).collect())
    } else {
        (Reason::Mention, mentioned)
    };
    let users: Vec<Uuid> = users.into_iter().filter(|u| *u != actor.id).collect();
    if users.is_empty() {
        return Ok(None);
    }
    let users = store::push::unmuted_members(&state.db, room, &users).await?;
    let author = message
        .author_display_name
        .clone()
        .unwrap_or_else(|| actor.username.clone());
    let title = match (reason, store::rooms::get(&state.db, room, actor.id).await?) {
        (Reason::Mention, Some(r)) => format!("{author} in {}", r.name),
        _ => author,
    };
    let url = match message.task_id {
        Some(task) => format!("/#/t/{task}"),
        None => format!("/#/r/{room}"),
    };
    let notice = Notice {
        reason,
        room,
        id: message.id,
        title,
        body: shorten(&message.body),
        url,
    };
    Ok(Some((users, notice)))
}

/// A task was assigned to `assignee` by `actor` (made with them, or reassigned to them).
pub fn task_assigned(
    state: &AppState,
    actor: &Actor,
    assignee: Uuid,
    room: Uuid,
    task: Uuid,
    title: &str,
) {
    if !state.config.push.enabled || assignee == actor.id {
        return;
    }
    let notice = Notice {
        reason: Reason::TaskAssigned,
        room,
        id: task,
        title: format!("{} assigned you a task", actor.username),
        body: shorten(title),
        url: format!("/#/t/{task}"),
    };
    let state = state.clone();
    tokio::spawn(async move { deliver(&state, vec![assignee], notice).await });
}

/// Pushes `notice` to every browser of each of `users` who has no socket open.
async fn deliver(state: &AppState, users: Vec<Uuid>, notice: Notice) {
    let payload = match serde_json::to_vec(&notice) {
        Ok(payload) => Arc::new(payload),
        Err(e) => return tracing::error!(error = %e, "cannot encode a push"),
    };
    for user in users {
        match presence::live_sockets(state, user).await {
            Ok(0) => {}
            Ok(_) => continue,
            Err(e) => tracing::warn!(error = %e, "presence unknown; pushing anyway"),
        }
        let subscriptions = match store::push::for_user(&state.db, user).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read push subscriptions");
                continue;
            }
        };
        let sends = subscriptions
            .into_iter()
            .map(|s| send(state, s, Arc::clone(&payload)));
        futures::future::join_all(sends).await;
    }
}

/// Sends one push, within the node's bound on requests in flight; drops a subscription the push
/// service says is gone. Logs the push service's host only: an endpoint is a capability.
async fn send(state: &AppState, sub: Subscription, payload: Arc<Vec<u8>>) {
    let pusher = &state.push;
    let Ok(_permit) = pusher.permits.acquire().await else {
        return;
    };
    let (request, host) = match build_request(pusher, &sub, &payload) {
        Ok(built) => built,
        Err(e) => return tracing::warn!(error = %e, "cannot build a push"),
    };
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            tracing::debug!(push_host = %host, "push sent");
        }
        Ok(response) if matches!(response.status().as_u16(), 404 | 410) => {
            tracing::info!(push_host = %host, "push subscription gone; removed");
            if let Err(e) = store::push::remove_by_id(&state.db, sub.id).await {
                tracing::warn!(error = %e, "cannot remove a gone push subscription");
            }
        }
        Ok(response) => {
            tracing::warn!(push_host = %host, status = response.status().as_u16(), "push refused");
        }
        Err(e) => tracing::warn!(push_host = %host, error = %e.without_url(), "push failed"),
    }
}

/// The encrypted, VAPID-signed request for one subscription, and the push service's host.
fn build_request(
    pusher: &Pusher,
    sub: &Subscription,
    payload: &[u8],
) -> anyhow::Result<(reqwest::RequestBuilder, String)> {
    let endpoint = parse_endpoint(&sub.endpoint, &pusher.config)?;
    let host = endpoint.host().unwrap_or_default().to_owned();
    let public = base64url(&sub.p256dh)
        .and_then(|raw| PublicKey::from_sec1_bytes(&raw).ok())
        .ok_or_else(|| anyhow::anyhow!("stored p256dh is not a key"))?;
    let auth = base64url(&sub.auth)
        .filter(|raw| raw.len() == 16)
        .ok_or_else(|| anyhow::anyhow!("stored auth is not 16 bytes"))?;
    let built = WebPushBuilder::new(endpoint, public, Auth::clone_from_slice(&auth))
        .with_valid_duration(VAPID_VALIDITY)
        .with_vapid(&pusher.key, &pusher.config.subject)
        .build(payload.to_vec())
        .map_err(|e| anyhow::anyhow!("cannot encrypt the push: {e}"))?;
    let (parts, body) = built.into_parts();
    let mut headers = parts.headers;
    // The builder sets TTL to the VAPID token's validity; the push's own lifetime is configured.
    headers.insert("TTL", pusher.config.ttl_secs.into());
    let request = pusher
        .client
        .post(parts.uri.to_string())
        .headers(headers)
        .body(body);
    Ok((request, host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(allow_loopback_http: bool) -> PushConfig {
        let mut config = Config::default().push;
        config.allow_loopback_http = allow_loopback_http;
        config
    }

    #[test]
    fn push_services_are_reached_over_https_on_public_addresses_only() {
        let production = config(false);
        for ok in [
            "https://fcm.googleapis.com/fcm/send/abc",
            "https://updates.push.services.mozilla.com/wpush/v2/x",
            "https://8.8.8.8/push",
        ] {
            assert!(parse_endpoint(ok, &production).is_ok(), "{ok}");
        }
        for bad in [
            "http://push.example.com/x",
            "ftp://push.example.com/x",
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://192.168.1.1/x",
            "https://169.254.169.254/latest",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "http://127.0.0.1:9000/x",
            "not a url",
            "",
        ] {
            let refused = parse_endpoint(bad, &production).expect_err(bad);
            assert_eq!(refused.code, ErrorCode::InvalidSubscription, "{bad}");
        }
        let long = format!(
            "https://push.example.com/{}",
            "a".repeat(MAX_ENDPOINT_BYTES)
        );
        assert!(parse_endpoint(&long, &production).is_err());
    }

    #[test]
    fn tests_may_push_over_plain_http_to_loopback_only_when_allowed() {
        let tests = config(true);
        assert!(parse_endpoint("http://127.0.0.1:9000/x", &tests).is_ok());
        assert!(parse_endpoint("http://[::1]:9000/x", &tests).is_ok());
        assert!(parse_endpoint("http://10.0.0.1/x", &tests).is_err());
        assert!(parse_endpoint("http://push.example.com/x", &tests).is_err());
    }

    #[test]
    fn long_texts_are_shortened_for_the_payload() {
        assert_eq!(shorten("hi"), "hi");
        let long = "é".repeat(MAX_PUSH_TEXT_CHARS + 5);
        assert_eq!(shorten(&long).chars().count(), MAX_PUSH_TEXT_CHARS + 1);
    }
}
