//! One WebSocket connection, once `api` has upgraded and authenticated it: register with the
//! hub, resume, then relay frames both ways until the client leaves, stops reading, stops
//! answering, or the node shuts down. The session's life is here; [`outbound`] writes frames to
//! the client (delivery, catch-up, the hub's messages), [`inbound`] handles the client's frames.

mod inbound;
mod outbound;

use crate::domain::ErrorCode;
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt, stream::SplitSink};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    frames::{self, ClientFrame, EventFrame},
    hub::{Closing, Conn, Outbound},
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
    server::admission::Admitted,
    state::AppState,
    store,
};

/// Close codes (4000–4999 are the application's).
pub mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
    /// RFC 6455's "try again later": the node is taking too many new sockets at once.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    pub const UNAUTHENTICATED: u16 = 4401;
    pub const FORBIDDEN_ORIGIN: u16 = 4403;
    pub const SLOW_CONSUMER: u16 = 4408;
    pub const TOO_MANY: u16 = 4429;
    pub const TIMEOUT: u16 = 4000;
    /// The reason sent with [`UNAUTHENTICATED`] when a session ends while its socket is open.
    pub const SESSION_ENDED: &str = "session ended: log in again";
    /// The reason sent with [`TRY_AGAIN_LATER`].
    pub const OVERLOADED: &str = "overloaded: retry later";
    /// Every code the server sends (the metrics count closes by these).
    pub const ALL: &[u16] = &[
        GOING_AWAY,
        TOO_BIG,
        TRY_AGAIN_LATER,
        UNAUTHENTICATED,
        FORBIDDEN_ORIGIN,
        SLOW_CONSUMER,
        TOO_MANY,
        TIMEOUT,
    ];
}

type Sink = SplitSink<WebSocket, Message>;

/// Runs an accepted socket, or refuses it with a close frame saying why. `admitted` is its place
/// among the sockets connecting to this node (`realtime.max_connecting`), given back once the
/// socket is registered and its rooms are known: those are the costly steps of a reconnect storm.
pub async fn serve(
    state: AppState,
    socket: WebSocket,
    auth: Result<(Actor, String), (u16, &'static str)>,
    admitted: Admitted,
) {
    match auth {
        Ok((user, token)) => Session::run(state, socket, user, token, admitted).await,
        Err((code, reason)) => {
            state.metrics.ws_closed(Some(code));
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

/// A connection's state.
struct Session {
    state: AppState,
    user: Actor,
    conn: Conn,
    conn_key: String,
    sink: Sink,
    /// Rooms followed, with the last sequence number delivered.
    delivered: HashMap<Uuid, i64>,
    typing: HashMap<Uuid, Instant>,
    tokens: f64,
    refilled: Instant,
    strikes: u32,
    /// When the socket's presence entry was last refreshed.
    presence_at: Instant,
}

/// Why a session ended: a close frame to send, if any.
type Ended = Option<(u16, &'static str)>;

impl Session {
    #[tracing::instrument(name = "socket", skip_all, fields(user_id = %user.id, session_id = %user.session_id))]
    async fn run(
        state: AppState,
        socket: WebSocket,
        user: Actor,
        token: String,
        admitted: Admitted,
    ) {
        let rt = state.config.realtime.clone();
        let hub = state.hub.clone();
        let (mut sink, mut stream) = socket.split();
        match presence::live_sockets(&state, user.id).await {
            Ok(n) if n >= u64::from(rt.max_sockets_per_user) => {
                state.metrics.ws_closed(Some(close::TOO_MANY));
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
                state.metrics.ws_closed(Some(close::GOING_AWAY));
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
        let conn = Conn::new(hub.next_conn_id(), user.id, user.session_id, tx);
        hub.register(&conn, &rooms);
        // Read the rooms again now that the socket is registered: an event or a new membership
        // committed in between would otherwise wait for the room's next event.
        let rooms = match store::rooms::ids_for_user(&state.db, user.id).await {
            Ok(rooms) => rooms,
            Err(_) => rooms,
        };
        hub.register(&conn, &rooms);
        // The session may have ended between its check at the upgrade and the registration,
        // when no "session ended" message could find the socket yet: check it once more.
        if matches!(
            crate::app::auth::authenticate(&state, &token).await,
            Ok(None)
        ) {
            hub.unregister(&conn);
            state.metrics.ws_closed(Some(close::UNAUTHENTICATED));
            let _ = sink
                .send(close_frame(close::UNAUTHENTICATED, close::SESSION_ENDED))
                .await;
            return;
        }
        drop(token);
        state.metrics.ws_open.inc();
        state.metrics.ws_opened.inc();
        let conn_key = format!("{}:{}", state.node_id, conn.id);
        let mut session = Session {
            state: state.clone(),
            user,
            conn: conn.clone(),
            conn_key,
            sink,
            delivered: HashMap::new(),
            typing: HashMap::new(),
            tokens: f64::from(rt.frame_burst),
            refilled: Instant::now(),
            strikes: 0,
            presence_at: Instant::now(),
        };
        if let Err(e) = presence::touch(&state, session.user.id, &session.conn_key, true).await {
            tracing::warn!(error = %e, "presence unavailable");
        }
        drop(admitted);
        let ended = session
            .serve(&mut stream, &mut rx, rooms)
            .await
            .err()
            .flatten();
        hub.unregister(&conn);
        // Counted closed first: whoever sees the socket gone also sees why.
        state.metrics.ws_closed(ended.map(|(code, _)| code));
        state.metrics.ws_open.dec();
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
        self.send_text("hello", hello).await?;

        // The client says where it is; live events wait in the queue meanwhile.
        let mut first = None;
        let resume =
            tokio::time::timeout(Duration::from_secs(rt.resume_wait_secs), stream.next()).await;
        let positions = match resume {
            Ok(Some(Ok(Message::Text(text)))) => match super::client_frames::read(&text).frame {
                Ok(ClientFrame::Resume { rooms }) => {
                    self.state
                        .metrics
                        .ws_frames
                        .with_label_values(&["in", "resume"])
                        .inc();
                    rooms
                }
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
        if !behind.is_empty() {
            self.state.metrics.ws_resume_replays.inc();
        }
        self.catch_up(&behind, None, "resume").await?;
        self.send_text(
            "resumed",
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
                self.send_text(
                    "ephemeral",
                    frames::ephemeral("presence.snapshot", None, json!({ "users": users })),
                )
                .await?;
            }
            Err(e) => tracing::warn!(error = %e, "presence unavailable"),
        }
        if let Some(text) = first {
            Box::pin(self.handle_text(&text)).await?;
        }

        let heartbeat_every = Duration::from_secs(rt.heartbeat_secs);
        let presence_ttl = Duration::from_secs(rt.presence_ttl_secs);
        let mut heartbeat = tokio::time::interval(heartbeat_every);
        heartbeat.tick().await;
        let mut last_heard = Instant::now();
        // The presence entry (touched on connect) is refreshed at a heartbeat only when it would
        // otherwise have less than one heartbeat left at the next: with the defaults (30 s,
        // 90 s) at every other heartbeat, which halves the Redis round trips of idle sockets.
        let mut shutdown = self.state.shutdown.subscribe();
        let mut typing_tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                incoming = stream.next() => {
                    last_heard = Instant::now();
                    match incoming {
                        Some(Ok(Message::Text(text))) => Box::pin(self.handle_text(&text)).await?,
                        Some(Ok(Message::Binary(_))) => {
                            self.state.metrics.ws_frames.with_label_values(&["in", "binary"]).inc();
                            self.send_text("error", frames::error("unsupported", "frames are JSON text", None)).await?;
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
                _ = self.conn.wake.notified() => match self.conn.closing() {
                    Closing::TooSlow => {
                        tracing::info!(user_id = %self.user.id, "closing a socket that stopped reading");
                        return Err(Some((close::SLOW_CONSUMER, "too slow: reconnect and resume")));
                    }
                    Closing::SessionEnded => {
                        tracing::info!(user_id = %self.user.id, "closing a socket whose session ended");
                        return Err(Some((close::UNAUTHENTICATED, close::SESSION_ENDED)));
                    }
                    Closing::No => {}
                },
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > Duration::from_secs(rt.idle_timeout_secs) {
                        return Err(Some((close::TIMEOUT, "no heartbeat")));
                    }
                    self.send_message("ping", Message::Ping(Default::default())).await?;
                    if self.presence_at.elapsed() + 2 * heartbeat_every > presence_ttl {
                        self.presence_at = Instant::now();
                        if let Err(e) = presence::touch(&self.state, self.user.id, &self.conn_key, false).await {
                            tracing::warn!(error = %e, "presence unavailable");
                        }
                    }
                }
                _ = typing_tick.tick(), if !self.typing.is_empty() => self.expire_typing().await,
                _ = super::stopped(&mut shutdown) => return Err(Some((close::GOING_AWAY, "server restarting: reconnect and resume"))),
            }
        }
    }
}
