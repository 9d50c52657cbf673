//! One WebSocket connection: authenticate, register with the hub, resume, then relay frames both
//! ways until the client leaves, stops reading, stops answering, or the node shuts down.

use crate::domain::ErrorCode;
use std::{
    collections::HashMap,
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt, stream::SplitSink};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use super::{
    frames::{self, ClientFrame, EventFrame},
    hub::{Conn, Outbound},
    presence,
};
use crate::{
    app::{
        Coded,
        messages::{self, NewMessageRequest},
        rooms,
        tasks::discussion,
    },
    domain::Actor,
    state::AppState,
    store,
};

/// Close codes (4000–4999 are the application's).
pub mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
    pub const UNAUTHENTICATED: u16 = 4401;
    pub const FORBIDDEN_ORIGIN: u16 = 4403;
    pub const SLOW_CONSUMER: u16 = 4408;
    pub const TOO_MANY: u16 = 4429;
    pub const TIMEOUT: u16 = 4000;
}

type Sink = SplitSink<WebSocket, Message>;

/// Runs an accepted socket, or refuses it with a close frame saying why.
pub async fn serve(
    state: AppState,
    socket: WebSocket,
    auth: Result<(Actor, String), (u16, &'static str)>,
) {
    match auth {
        Ok((user, token)) => Session::run(state, socket, user, token).await,
        Err((code, reason)) => {
            let (mut sink, _) = socket.split();
            let _ = sink.send(close_frame(code, reason)).await;
        }
    }
}

fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    }))
}

/// A use case's error as the socket's `error` frame: its code and a message safe to show (a
/// failure on our side is logged here and shown as a generic sentence).
struct ErrorFrame {
    code: ErrorCode,
    message: String,
}

impl<E: Coded> From<E> for ErrorFrame {
    fn from(e: E) -> Self {
        let code = e.code();
        if crate::app::is_failure(code) {
            tracing::error!(code = %code, error = %e, "socket request failed");
        }
        ErrorFrame {
            code,
            message: crate::app::public_message(&e),
        }
    }
}

impl ErrorFrame {
    fn frame(&self, client_id: Option<&str>) -> String {
        frames::error(self.code.as_str(), &self.message, client_id)
    }
}

/// A connection's state.
struct Session {
    state: AppState,
    user: Actor,
    token: String,
    conn: Conn,
    conn_key: String,
    sink: Sink,
    /// Rooms followed, with the last sequence number delivered.
    delivered: HashMap<Uuid, i64>,
    typing: HashMap<Uuid, Instant>,
    tokens: f64,
    refilled: Instant,
    strikes: u32,
}

/// Why a session ended: a close frame to send, if any.
type Ended = Option<(u16, &'static str)>;

impl Session {
    async fn run(state: AppState, socket: WebSocket, user: Actor, token: String) {
        let rt = state.config.realtime.clone();
        let hub = state.hub.clone();
        let (mut sink, mut stream) = socket.split();
        match presence::live_sockets(&state, user.id).await {
            Ok(n) if n >= u64::from(rt.max_sockets_per_user) => {
                let _ = sink
                    .send(close_frame(
                        close::TOO_MANY,
                        "too many connections for this user",
                    ))
                    .await;
                return;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "presence unavailable"),
        }
        let rooms = match store::rooms::ids_for_user(&state.db, user.id).await {
            Ok(rooms) => rooms,
            Err(e) => {
                tracing::warn!(error = %e, "cannot load rooms for a socket");
                let _ = sink
                    .send(close_frame(
                        close::GOING_AWAY,
                        "temporarily unavailable: retry",
                    ))
                    .await;
                return;
            }
        };
        let (tx, mut rx) = mpsc::channel(rt.queue_frames);
        let conn = Conn {
            id: hub.next_conn_id(),
            user: user.id,
            tx,
            overflowed: Arc::new(AtomicBool::new(false)),
            wake: Arc::new(Notify::new()),
        };
        hub.register(&conn, &rooms);
        // Read the rooms again now that the socket is registered: an event or a new membership
        // committed in between would otherwise wait for the room's next event.
        let rooms = match store::rooms::ids_for_user(&state.db, user.id).await {
            Ok(rooms) => rooms,
            Err(_) => rooms,
        };
        hub.register(&conn, &rooms);
        let conn_key = format!("{}:{}", state.node_id, conn.id);
        let mut session = Session {
            state: state.clone(),
            user,
            token,
            conn: conn.clone(),
            conn_key,
            sink,
            delivered: HashMap::new(),
            typing: HashMap::new(),
            tokens: f64::from(rt.frame_burst),
            refilled: Instant::now(),
            strikes: 0,
        };
        if let Err(e) = presence::touch(&state, session.user.id, &session.conn_key, true).await {
            tracing::warn!(error = %e, "presence unavailable");
        }
        let ended = session
            .serve(&mut stream, &mut rx, rooms)
            .await
            .err()
            .flatten();
        hub.unregister(&conn);
        for room in session.typing.keys().copied().collect::<Vec<_>>() {
            session.stop_typing(room).await;
        }
        // The goodbye is best effort: a client that stopped reading does not get to stall us.
        let goodbye = async {
            if let Some((code, reason)) = ended {
                let _ = session.sink.send(close_frame(code, reason)).await;
            }
            let _ = session.sink.close().await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), goodbye).await;
        if let Err(e) = presence::drop_conn(&state, session.user.id, &session.conn_key).await {
            tracing::warn!(error = %e, "presence unavailable");
        }
    }

    async fn serve(
        &mut self,
        stream: &mut futures::stream::SplitStream<WebSocket>,
        rx: &mut mpsc::Receiver<Outbound>,
        rooms: Vec<(Uuid, i64)>,
    ) -> Result<(), Ended> {
        let rt = self.state.config.realtime.clone();
        // Serialised at once: a `Value` kept in this future would stay allocated (a B-tree node
        // per room) for the socket's whole life.
        let hello = json!({
            "type": "hello",
            "data": {
                "user_id": self.user.id,
                "session_id": self.user.session_id,
                "heartbeat_secs": rt.heartbeat_secs,
                "rooms": rooms.iter().map(|(id, seq)| json!({ "room": id, "last_seq": seq })).collect::<Vec<_>>(),
            }
        })
        .to_string();
        self.send_text(hello).await?;

        // The client says where it is; live events wait in the queue meanwhile.
        let mut first = None;
        let resume =
            tokio::time::timeout(Duration::from_secs(rt.resume_wait_secs), stream.next()).await;
        let positions = match resume {
            Ok(Some(Ok(Message::Text(text)))) => match serde_json::from_str::<ClientFrame>(&text) {
                Ok(ClientFrame::Resume { rooms }) => rooms,
                _ => {
                    first = Some(text);
                    HashMap::new()
                }
            },
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return Err(None),
            Ok(Some(Ok(_))) | Err(_) => HashMap::new(),
        };
        for (room, last_seq) in &rooms {
            let from = positions
                .get(room)
                .map_or(*last_seq, |seen| (*seen).clamp(0, *last_seq));
            self.delivered.insert(*room, from);
        }
        let behind: Vec<Uuid> = rooms
            .iter()
            .filter(|(r, last)| self.delivered.get(r).is_some_and(|d| d < last))
            .map(|(r, _)| *r)
            .collect();
        for room in behind {
            self.catch_up(room, None).await?;
        }
        self.send_text(
            json!({ "type": "resumed", "data": { "rooms": self.delivered } }).to_string(),
        )
        .await?;
        // Who is around right now; changes follow as `presence` frames.
        match presence::snapshot(&self.state, self.user.id).await {
            Ok(users) => {
                let users: Vec<Value> = users
                    .iter()
                    .map(|(id, status)| json!({ "user_id": id, "status": status }))
                    .collect();
                self.send_text(frames::ephemeral(
                    "presence.snapshot",
                    None,
                    json!({ "users": users }),
                ))
                .await?;
            }
            Err(e) => tracing::warn!(error = %e, "presence unavailable"),
        }
        if let Some(text) = first {
            Box::pin(self.handle_text(&text)).await?;
        }

        let mut heartbeat = tokio::time::interval(Duration::from_secs(rt.heartbeat_secs));
        heartbeat.tick().await;
        let mut last_heard = Instant::now();
        let mut beats: u64 = 0;
        let mut shutdown = self.state.shutdown.subscribe();
        let mut typing_tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                incoming = stream.next() => {
                    last_heard = Instant::now();
                    match incoming {
                        Some(Ok(Message::Text(text))) => Box::pin(self.handle_text(&text)).await?,
                        Some(Ok(Message::Binary(_))) => {
                            self.send_text(frames::error("unsupported", "frames are JSON text", None)).await?;
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(Message::Close(_))) | None => return Err(None),
                        Some(Err(e)) => {
                            let too_big = e.to_string().contains("too long") || e.to_string().contains("too big");
                            return Err(too_big.then_some((close::TOO_BIG, "frame too large")));
                        }
                    }
                }
                out = rx.recv() => match out {
                    Some(out) => Box::pin(self.handle_outbound(out)).await?,
                    None => return Err(Some((close::GOING_AWAY, "server closing"))),
                },
                _ = self.conn.wake.notified() => {
                    if self.conn.overflowed.load(std::sync::atomic::Ordering::Relaxed) {
                        tracing::info!(user_id = %self.user.id, "closing a socket that stopped reading");
                        return Err(Some((close::SLOW_CONSUMER, "too slow: reconnect and resume")));
                    }
                }
                _ = heartbeat.tick() => {
                    beats += 1;
                    if last_heard.elapsed() > Duration::from_secs(rt.idle_timeout_secs) {
                        return Err(Some((close::TIMEOUT, "no heartbeat")));
                    }
                    self.send_message(Message::Ping(Default::default())).await?;
                    if let Err(e) = presence::touch(&self.state, self.user.id, &self.conn_key, false).await {
                        tracing::warn!(error = %e, "presence unavailable");
                    }
                    if beats.is_multiple_of(rt.revalidate_every_beats.max(1))
                        && matches!(crate::app::auth::authenticate(&self.state, &self.token).await, Ok(None))
                    {
                        return Err(Some((close::UNAUTHENTICATED, "session ended: log in again")));
                    }
                }
                _ = typing_tick.tick(), if !self.typing.is_empty() => self.expire_typing().await,
                _ = super::stopped(&mut shutdown) => return Err(Some((close::GOING_AWAY, "server restarting: reconnect and resume"))),
            }
        }
    }

    /// Writes a frame. A client that does not take it within `write_timeout_secs` has stopped
    /// reading: it is cut off (it can reconnect and resume), so it never holds up the node.
    async fn send_text(&mut self, text: String) -> Result<(), Ended> {
        self.send_message(Message::Text(text.into())).await
    }

    async fn send_message(&mut self, message: Message) -> Result<(), Ended> {
        let limit = Duration::from_secs(self.state.config.realtime.write_timeout_secs);
        match tokio::time::timeout(limit, self.sink.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(None),
            Err(_) => {
                tracing::info!(user_id = %self.user.id, "cutting off a socket that stopped reading");
                Err(Some((
                    close::SLOW_CONSUMER,
                    "too slow: reconnect and resume",
                )))
            }
        }
    }

    /// Sends a durable event and advances the room's position; a member's own departure ends
    /// their stream of that room.
    async fn deliver(&mut self, frame: &EventFrame) -> Result<(), Ended> {
        self.send_text(frame.text.to_string()).await?;
        self.delivered.insert(frame.room, frame.seq);
        if frame.leaver == Some(self.user.id) {
            self.delivered.remove(&frame.room);
            self.state.hub.leave_room(self.conn.id, frame.room);
        }
        Ok(())
    }

    /// Delivers a room's events from PostgreSQL after the last one delivered, up to `upto`.
    async fn catch_up(&mut self, room: Uuid, upto: Option<i64>) -> Result<(), Ended> {
        const BATCH: i64 = 500;
        loop {
            let Some(&after) = self.delivered.get(&room) else {
                return Ok(());
            };
            let events =
                match store::messages::events_since(&self.state.db, room, after, BATCH).await {
                    Ok(events) => events,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot replay room events");
                        return Err(Some((
                            close::GOING_AWAY,
                            "temporarily unavailable: reconnect and resume",
                        )));
                    }
                };
            let count = events.len() as i64;
            for event in events {
                if upto.is_some_and(|u| event.seq > u) {
                    return Ok(());
                }
                self.deliver(&EventFrame::from(event)).await?;
                if !self.delivered.contains_key(&room) {
                    return Ok(());
                }
            }
            if count < BATCH {
                return Ok(());
            }
        }
    }

    async fn handle_outbound(&mut self, out: Outbound) -> Result<(), Ended> {
        match out {
            Outbound::Event(frame) => {
                let Some(&seen) = self.delivered.get(&frame.room) else {
                    return Ok(());
                };
                if frame.seq <= seen {
                    return Ok(());
                }
                if frame.seq > seen + 1 {
                    self.catch_up(frame.room, Some(frame.seq - 1)).await?;
                }
                if self
                    .delivered
                    .get(&frame.room)
                    .is_some_and(|s| frame.seq > *s)
                {
                    self.deliver(&frame).await?;
                }
            }
            Outbound::Joined(joined) => {
                let (room, from_seq) = *joined;
                if let std::collections::hash_map::Entry::Vacant(entry) = self.delivered.entry(room)
                {
                    entry.insert(from_seq - 1);
                    self.catch_up(room, None).await?;
                }
            }
            Outbound::Ephemeral(frame) => {
                let visible = frame.room.is_none_or(|r| self.delivered.contains_key(&r));
                if visible && frame.from != Some(self.user.id) {
                    self.send_text(frame.text.clone()).await?;
                }
            }
        }
        Ok(())
    }

    /// Token bucket on client frames; persistent flooding closes the socket.
    fn allow_frame(&mut self) -> Result<bool, Ended> {
        let rt = &self.state.config.realtime;
        let now = Instant::now();
        let refill =
            now.duration_since(self.refilled).as_secs_f64() * f64::from(rt.frames_per_second);
        self.tokens = (self.tokens + refill).min(f64::from(rt.frame_burst));
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.strikes = 0;
            return Ok(true);
        }
        self.strikes += 1;
        if self.strikes > rt.frame_burst * 2 {
            return Err(Some((close::TOO_MANY, "too many frames")));
        }
        Ok(false)
    }

    async fn handle_text(&mut self, text: &str) -> Result<(), Ended> {
        let parsed = serde_json::from_str::<Value>(text);
        let client_id = parsed
            .as_ref()
            .ok()
            .and_then(|v| v.get("client_id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if !self.allow_frame()? {
            let message = "too many frames; this one was dropped, slow down";
            return self
                .send_text(frames::error(
                    "frame_rate_limited",
                    message,
                    client_id.as_deref(),
                ))
                .await;
        }
        let value = match parsed {
            Ok(v) => v,
            Err(e) => {
                return self
                    .send_text(frames::error(
                        "malformed_frame",
                        &format!("not JSON: {e}"),
                        None,
                    ))
                    .await;
            }
        };
        let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
        if !frames::CLIENT_TYPES.contains(&kind) {
            return self
                .send_text(frames::error(
                    "unknown_type",
                    &format!("unknown frame type {kind:?}"),
                    None,
                ))
                .await;
        }
        let frame: ClientFrame = match serde_json::from_value(value) {
            Ok(f) => f,
            Err(e) => {
                return self
                    .send_text(frames::error(
                        "invalid_frame",
                        &e.to_string(),
                        client_id.as_deref(),
                    ))
                    .await;
            }
        };
        match frame {
            ClientFrame::Ping => self.send_text(json!({ "type": "pong" }).to_string()).await,
            ClientFrame::Resume { .. } => {
                self.send_text(frames::error(
                    "already_resumed",
                    "resume is only the first frame; reconnect to resume again",
                    None,
                ))
                .await
            }
            ClientFrame::Send {
                room,
                body,
                client_id,
                reply_to,
                task,
            } => {
                self.stop_typing(room).await;
                let req = NewMessageRequest {
                    body,
                    client_id: client_id.clone(),
                    reply_to,
                };
                let sent = match task {
                    None => messages::send_message(&self.state, &self.user, room, None, &req)
                        .await
                        .map_err(ErrorFrame::from),
                    Some(task) => {
                        discussion::send_task_message(&self.state, &self.user, task, &req)
                            .await
                            .map_err(ErrorFrame::from)
                    }
                };
                match sent {
                    Ok((message, _)) => {
                        let ack = json!({ "type": "ack", "room": message.room_id, "data": {
                            "client_id": client_id, "id": message.id, "seq": message.seq } });
                        self.send_text(ack.to_string()).await
                    }
                    Err(e) => self.send_text(e.frame(client_id.as_deref())).await,
                }
            }
            ClientFrame::Typing { room, active } => {
                if !self.delivered.contains_key(&room) {
                    return self
                        .send_text(frames::error(
                            "room_not_found",
                            "no such room, or you are not a member of it",
                            None,
                        ))
                        .await;
                }
                if active {
                    let ttl = self.state.config.realtime.typing_ttl_ms;
                    let fresh = self
                        .typing
                        .insert(room, Instant::now() + Duration::from_millis(ttl))
                        .is_none();
                    if fresh {
                        let data = json!({ "user_id": self.user.id, "username": self.user.username, "expires_in_ms": ttl });
                        self.state
                            .notify
                            .room_ephemeral(room, Some(self.user.id), "typing.started", data)
                            .await;
                    }
                } else {
                    self.stop_typing(room).await;
                }
                Ok(())
            }
            ClientFrame::Read { room, seq } => {
                match rooms::mark_read(&self.state, &self.user, room, seq).await {
                    Ok(_) => Ok(()),
                    Err(e) => self.send_text(ErrorFrame::from(e).frame(None)).await,
                }
            }
            ClientFrame::Presence { status } => {
                if status != "online" && status != "away" {
                    return self
                        .send_text(frames::error(
                            "invalid_frame",
                            "status must be online or away",
                            None,
                        ))
                        .await;
                }
                if let Err(e) = presence::set_status(&self.state, self.user.id, &status).await {
                    tracing::warn!(error = %e, "presence unavailable");
                }
                Ok(())
            }
        }
    }

    async fn stop_typing(&mut self, room: Uuid) {
        if self.typing.remove(&room).is_some() {
            let data = json!({ "user_id": self.user.id });
            self.state
                .notify
                .room_ephemeral(room, Some(self.user.id), "typing.stopped", data)
                .await;
        }
    }

    async fn expire_typing(&mut self) {
        let now = Instant::now();
        let expired: Vec<Uuid> = self
            .typing
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(r, _)| *r)
            .collect();
        for room in expired {
            self.stop_typing(room).await;
        }
    }
}
