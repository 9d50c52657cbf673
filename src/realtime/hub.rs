//! The per-node hub: which local sockets follow which rooms, and fan-out across nodes.
//!
//! Redis pub/sub carries only hints ("room R has new events", "user U joined room R at seq S")
//! and ephemeral frames (typing, presence, read markers). The durable events themselves are read
//! from PostgreSQL's `room_events`, once per node per batch, so a lost hint delays an event until
//! the next one but never loses it, and every socket fills any gap it sees from the same table.
//!
//! The same channel says "these sessions ended": every node closes their sockets at once. A node
//! that may have missed such a message (its subscription dropped) checks all its sockets'
//! sessions against PostgreSQL when it resubscribes, and every `realtime.session_check_secs`
//! anyway.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
};

use std::time::Duration;

use futures::StreamExt;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use super::frames::EventFrame;
use crate::store;

/// What the hub hands a socket, in order. Kept to two words: every socket's queue holds a block
/// of these from the start.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A durable room event.
    Event(Arc<EventFrame>),
    /// An ephemeral frame, shared by every socket it goes to.
    Ephemeral(Arc<Ephemeral>),
    /// The user joined a room whose stream starts at the given sequence number.
    Joined(Box<(Uuid, i64)>),
}

/// An ephemeral frame (typing, presence, read marker, friend request), already serialised.
#[derive(Debug)]
pub struct Ephemeral {
    /// The room it belongs to: only sockets following the room get it.
    pub room: Option<Uuid>,
    /// Its sender, whose own sockets skip it.
    pub from: Option<Uuid>,
    pub text: String,
}

/// Why the hub wants a socket closed (its task reads [`Conn::closing`] when woken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Closing {
    /// Not closing.
    No = 0,
    /// Its queue overflowed: the client is too slow.
    TooSlow = 1,
    /// Its session ended (logout, revocation, password change, account disabled).
    SessionEnded = 2,
}

/// A local socket as the hub knows it.
#[derive(Clone)]
pub struct Conn {
    pub id: u64,
    pub user: Uuid,
    /// The session the socket was opened with.
    pub session: Uuid,
    pub tx: mpsc::Sender<Outbound>,
    /// A [`Closing`], set by the hub; the socket's task closes it.
    pub closing: Arc<AtomicU8>,
    pub wake: Arc<Notify>,
}

impl Conn {
    /// A socket's entry for the hub.
    pub fn new(id: u64, user: Uuid, session: Uuid, tx: mpsc::Sender<Outbound>) -> Conn {
        Conn {
            id,
            user,
            session,
            tx,
            closing: Arc::new(AtomicU8::new(Closing::No as u8)),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Why the socket should close, if it should.
    pub fn closing(&self) -> Closing {
        match self.closing.load(Ordering::Relaxed) {
            1 => Closing::TooSlow,
            2 => Closing::SessionEnded,
            _ => Closing::No,
        }
    }

    /// Asks the socket's task to close it (the first reason stays).
    fn close(&self, why: Closing) {
        if self
            .closing
            .compare_exchange(
                Closing::No as u8,
                why as u8,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            self.wake.notify_one();
        }
    }

    /// Queues `item`, or marks the socket as too slow when its queue is full.
    fn offer(&self, item: Outbound) {
        if self.closing() != Closing::No {
            return;
        }
        if self.tx.try_send(item).is_err() {
            self.close(Closing::TooSlow);
        }
    }
}

#[derive(Default)]
struct RoomSubs {
    /// The last sequence number this node fetched and dispatched for the room.
    cursor: i64,
    conns: HashMap<u64, Conn>,
}

#[derive(Default)]
struct Inner {
    rooms: HashMap<Uuid, RoomSubs>,
    users: HashMap<Uuid, HashMap<u64, Conn>>,
    /// The rooms each socket is subscribed to, so that forgetting a socket touches its rooms
    /// only (not every room of the node, under the lock, once per socket of a storm).
    conn_rooms: HashMap<u64, HashSet<Uuid>>,
}

impl Inner {
    /// Sends `room`'s events to `conn` from now on; a room new to the node starts at `cursor`.
    fn subscribe(&mut self, conn: &Conn, room: Uuid, cursor: i64) {
        self.conn_rooms.entry(conn.id).or_default().insert(room);
        self.rooms
            .entry(room)
            .or_insert_with(|| RoomSubs {
                cursor,
                conns: HashMap::new(),
            })
            .conns
            .insert(conn.id, conn.clone());
    }

    fn unsubscribe(&mut self, conn: u64, room: Uuid) {
        if let Some(rooms) = self.conn_rooms.get_mut(&conn) {
            rooms.remove(&room);
        }
        self.drop_sub(conn, room);
    }

    /// Removes the socket from its user and from its rooms; a room left without sockets is
    /// forgotten by the node.
    fn forget(&mut self, conn: &Conn) {
        if let Some(conns) = self.users.get_mut(&conn.user) {
            conns.remove(&conn.id);
            if conns.is_empty() {
                self.users.remove(&conn.user);
            }
        }
        for room in self.conn_rooms.remove(&conn.id).unwrap_or_default() {
            self.drop_sub(conn.id, room);
        }
    }

    fn drop_sub(&mut self, conn: u64, room: Uuid) {
        if let Some(subs) = self.rooms.get_mut(&room) {
            subs.conns.remove(&conn);
            if subs.conns.is_empty() {
                self.rooms.remove(&room);
            }
        }
    }
}

/// Messages between nodes on the Redis channel.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
enum Wire {
    /// Room `r` has new durable events (announced by node `n`, which dispatched them itself).
    Room { r: Uuid, n: Uuid },
    /// User `u` joined room `r`; its stream for them starts at `s`.
    Joined { u: Uuid, r: Uuid, s: i64 },
    /// An ephemeral frame for the members of room `r` (except `from`'s own sockets where set).
    RoomEphemeral {
        r: Uuid,
        from: Option<Uuid>,
        f: String,
    },
    /// An ephemeral frame for some users.
    UserEphemeral { us: Vec<Uuid>, f: String },
    /// User `u`'s sessions `ss` ended: their sockets close.
    SessionsEnded { u: Uuid, ss: Vec<Uuid> },
}

/// Reads of `room_events` one node's fan-out makes at once (each holds a pooled connection).
const DISPATCH_CONCURRENCY: usize = 8;

pub struct Hub {
    node: Uuid,
    db: PgPool,
    redis: redis::aio::ConnectionManager,
    channel: String,
    inner: Mutex<Inner>,
    next_conn: AtomicU64,
    hints: mpsc::UnboundedSender<Uuid>,
}

impl Hub {
    /// Starts the hub: a Redis subscriber and a dispatcher task, both ending with `shutdown`.
    pub async fn start(
        db: PgPool,
        redis: redis::aio::ConnectionManager,
        client: redis::Client,
        node: Uuid,
        prefix: &str,
        session_check_secs: u64,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Arc<Hub>, redis::RedisError> {
        let channel = format!("{prefix}events");
        let (hints, mut hint_rx) = mpsc::unbounded_channel::<Uuid>();
        let hub = Arc::new(Hub {
            node,
            db,
            redis,
            channel: channel.clone(),
            inner: Mutex::default(),
            next_conn: AtomicU64::new(1),
            hints,
        });

        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&channel).await?;
        let listener = Arc::clone(&hub);
        let stop = shutdown.clone();
        tokio::spawn(listener.listen(client, pubsub, stop));
        if session_check_secs > 0 {
            let checker = Arc::clone(&hub);
            let mut stop = shutdown.clone();
            tokio::spawn(async move {
                let period = Duration::from_secs(session_check_secs);
                let mut tick =
                    tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                loop {
                    tokio::select! {
                        _ = super::stopped(&mut stop) => break,
                        _ = tick.tick() => checker.check_sessions().await,
                    }
                }
            });
        }

        let dispatcher = Arc::clone(&hub);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = super::stopped(&mut shutdown) => break,
                    room = hint_rx.recv() => match room {
                        Some(room) => dispatcher.dispatch_pending(room, &mut hint_rx).await,
                        None => break,
                    }
                }
            }
        });
        Ok(hub)
    }

    /// Relays hub messages from Redis. When the subscription drops (Redis restarted), it
    /// resubscribes and re-reads every followed room from PostgreSQL, so nothing durable is lost.
    async fn listen(
        self: Arc<Self>,
        client: redis::Client,
        first: redis::aio::PubSub,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut pubsub = Some(first);
        let mut backoff = Duration::from_millis(100);
        loop {
            let Some(mut current) = pubsub.take() else {
                tokio::select! {
                    _ = super::stopped(&mut stop) => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                match client.get_async_pubsub().await {
                    Ok(mut p) => match p.subscribe(&self.channel).await {
                        Ok(()) => {
                            tracing::info!(
                                "redis pub/sub resubscribed; catching up followed rooms"
                            );
                            backoff = Duration::from_millis(100);
                            let rooms: Vec<Uuid> = self.lock().rooms.keys().copied().collect();
                            for room in rooms {
                                let _ = self.hints.send(room);
                            }
                            // A "session ended" message may have been missed meanwhile.
                            let checker = Arc::clone(&self);
                            tokio::spawn(async move { checker.check_sessions().await });
                            pubsub = Some(p);
                        }
                        Err(e) => tracing::warn!(error = %e, "redis pub/sub: cannot subscribe"),
                    },
                    Err(e) => tracing::warn!(error = %e, "redis pub/sub: cannot reconnect"),
                }
                continue;
            };
            let mut messages = current.on_message();
            loop {
                tokio::select! {
                    _ = super::stopped(&mut stop) => return,
                    msg = messages.next() => match msg {
                        Some(msg) => {
                            let payload: String = msg.get_payload().unwrap_or_default();
                            match serde_json::from_str::<Wire>(&payload) {
                                Ok(wire) => self.receive(wire),
                                Err(e) => tracing::warn!(error = %e, "unreadable hub message"),
                            }
                        }
                        None => {
                            tracing::error!("redis pub/sub connection lost; reconnecting");
                            break;
                        }
                    }
                }
            }
        }
    }

    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a socket for its user and rooms (`rooms`: id and the room's current `last_seq`).
    pub fn register(&self, conn: &Conn, rooms: &[(Uuid, i64)]) {
        let mut inner = self.lock();
        inner
            .users
            .entry(conn.user)
            .or_default()
            .insert(conn.id, conn.clone());
        for &(room, last_seq) in rooms {
            inner.subscribe(conn, room, last_seq);
        }
    }

    /// Stops sending a room's events to a socket.
    pub fn leave_room(&self, conn: u64, room: Uuid) {
        self.lock().unsubscribe(conn, room);
    }

    /// Forgets a socket entirely.
    pub fn unregister(&self, conn: &Conn) {
        self.lock().forget(conn);
    }

    /// Local sockets of the node.
    pub fn socket_count(&self) -> usize {
        self.lock().users.values().map(HashMap::len).sum()
    }

    /// Closes this node's sockets of `user`'s `sessions`; returns how many.
    fn end_sessions(&self, user: Uuid, sessions: &[Uuid]) -> usize {
        let inner = self.lock();
        let mut closed = 0;
        for conn in inner
            .users
            .get(&user)
            .into_iter()
            .flat_map(HashMap::values)
            .filter(|c| sessions.contains(&c.session))
        {
            conn.close(Closing::SessionEnded);
            closed += 1;
        }
        closed
    }

    /// Checks every local socket's session against PostgreSQL (one query per 1,000 sessions) and
    /// closes those whose session ended: the safety net under [`Hub::sessions_ended`] messages.
    pub async fn check_sessions(&self) {
        let conns: Vec<Conn> = self
            .lock()
            .users
            .values()
            .flat_map(HashMap::values)
            .cloned()
            .collect();
        let mut sessions: Vec<Uuid> = conns.iter().map(|c| c.session).collect();
        sessions.sort_unstable();
        sessions.dedup();
        let mut live = std::collections::HashSet::with_capacity(sessions.len());
        for chunk in sessions.chunks(1000) {
            match store::sessions::live_among(&self.db, chunk).await {
                Ok(ids) => live.extend(ids),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot check the sockets' sessions; next time");
                    return;
                }
            }
        }
        let mut closed = 0;
        for conn in conns.iter().filter(|c| !live.contains(&c.session)) {
            conn.close(Closing::SessionEnded);
            closed += 1;
        }
        if closed > 0 {
            tracing::info!(closed, "closed sockets whose session had ended");
        }
    }

    /// Tells every node (this one first, whatever Redis does) that `user`'s `sessions` ended, so
    /// their sockets close now.
    pub async fn sessions_ended(&self, user: Uuid, sessions: Vec<Uuid>) {
        if sessions.is_empty() {
            return;
        }
        self.end_sessions(user, &sessions);
        self.publish(&Wire::SessionsEnded {
            u: user,
            ss: sessions,
        })
        .await;
    }

    async fn publish(&self, wire: &Wire) {
        let Ok(payload) = serde_json::to_string(wire) else {
            return;
        };
        let mut redis = self.redis.clone();
        if let Err(e) = redis.publish::<_, _, ()>(&self.channel, payload).await {
            tracing::warn!(error = %e, "cannot publish to other nodes; they catch up on the next event");
        }
    }

    /// Tells every node (this one included) that `room` has new durable events, and the
    /// assistant's indexer that the room changed.
    pub async fn room_changed(&self, room: Uuid) {
        let _ = self.hints.send(room);
        self.publish(&Wire::Room {
            r: room,
            n: self.node,
        })
        .await;
    }

    /// Tells every node that `user` joined `room`, whose stream starts for them at `from_seq`.
    pub async fn user_joined(&self, user: Uuid, room: Uuid, from_seq: i64) {
        self.publish(&Wire::Joined {
            u: user,
            r: room,
            s: from_seq,
        })
        .await;
    }

    /// Sends an ephemeral frame to every member of `room` on every node (not to `from`).
    pub async fn room_ephemeral(&self, room: Uuid, from: Option<Uuid>, frame: String) {
        self.publish(&Wire::RoomEphemeral {
            r: room,
            from,
            f: frame,
        })
        .await;
    }

    /// Sends an ephemeral frame to some users on every node.
    pub async fn users_ephemeral(&self, users: Vec<Uuid>, frame: String) {
        if !users.is_empty() {
            self.publish(&Wire::UserEphemeral {
                us: users,
                f: frame,
            })
            .await;
        }
    }

    fn receive(&self, wire: Wire) {
        match wire {
            Wire::Room { r, n } => {
                if n != self.node {
                    let _ = self.hints.send(r);
                }
            }
            Wire::Joined { u, r, s } => {
                let mut inner = self.lock();
                let Some(conns) = inner
                    .users
                    .get(&u)
                    .map(|c| c.values().cloned().collect::<Vec<_>>())
                else {
                    return;
                };
                for conn in conns {
                    inner.subscribe(&conn, r, s - 1);
                    conn.offer(Outbound::Joined(Box::new((r, s))));
                }
            }
            Wire::RoomEphemeral { r, from, f } => {
                let frame = Arc::new(Ephemeral {
                    room: Some(r),
                    from,
                    text: f,
                });
                let inner = self.lock();
                for conn in inner
                    .rooms
                    .get(&r)
                    .into_iter()
                    .flat_map(|s| s.conns.values())
                {
                    conn.offer(Outbound::Ephemeral(Arc::clone(&frame)));
                }
            }
            Wire::SessionsEnded { u, ss } => {
                let closed = self.end_sessions(u, &ss);
                if closed > 0 {
                    tracing::info!(user_id = %u, closed, "closing sockets of ended sessions");
                }
            }
            Wire::UserEphemeral { us, f } => {
                let frame = Arc::new(Ephemeral {
                    room: None,
                    from: None,
                    text: f,
                });
                let inner = self.lock();
                for conn in us
                    .iter()
                    .filter_map(|u| inner.users.get(u))
                    .flat_map(HashMap::values)
                {
                    conn.offer(Outbound::Ephemeral(Arc::clone(&frame)));
                }
            }
        }
    }

    /// Dispatches `first` and every room hinted since, each once: one read of `room_events` per
    /// [`store::messages::ROOMS_PER_READ`] rooms, up to [`DISPATCH_CONCURRENCY`] reads at once. One room
    /// at a time, each hint read apart, the fan-out fell behind by a second a second at scale 1
    /// (docs/capacity.md): every read waited its turn for a pooled connection, and a busy room's
    /// repeated hints each cost a read that found nothing new. A room is never dispatched twice
    /// at once: a batch holds distinct rooms, and the next batch starts when this one is done.
    async fn dispatch_pending(&self, first: Uuid, hints: &mut mpsc::UnboundedReceiver<Uuid>) {
        let mut rooms = vec![first];
        let mut seen = HashSet::from([first]);
        while let Ok(room) = hints.try_recv() {
            if seen.insert(room) {
                rooms.push(room);
            }
        }
        futures::stream::iter(rooms.chunks(store::messages::ROOMS_PER_READ))
            .for_each_concurrent(DISPATCH_CONCURRENCY, |rooms| self.dispatch_rooms(rooms))
            .await;
    }

    /// Reads the rooms' new events from PostgreSQL, each after the node's cursor for it, and
    /// hands them to the rooms' local sockets; again for the rooms that had more than a batch.
    async fn dispatch_rooms(&self, rooms: &[Uuid]) {
        const BATCH: i64 = 500;
        let mut rooms = rooms.to_vec();
        while !rooms.is_empty() {
            let cursors: Vec<(Uuid, i64)> = {
                let inner = self.lock();
                rooms
                    .iter()
                    .filter_map(|r| inner.rooms.get(r).map(|subs| (*r, subs.cursor)))
                    .collect()
            };
            if cursors.is_empty() {
                return;
            }
            let events = match store::messages::events_since_many(&self.db, &cursors, BATCH).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, rooms = cursors.len(), "cannot read room events; sockets catch up on the next event");
                    return;
                }
            };
            let more = store::messages::rooms_with_more(&events, BATCH);
            let frames: Vec<Arc<EventFrame>> = events
                .into_iter()
                .map(|e| Arc::new(EventFrame::from(e)))
                .collect();
            {
                let mut inner = self.lock();
                for frame in &frames {
                    let Some(subs) = inner.rooms.get_mut(&frame.room) else {
                        continue;
                    };
                    if frame.seq <= subs.cursor {
                        continue;
                    }
                    subs.cursor = frame.seq;
                    for conn in subs.conns.values() {
                        conn.offer(Outbound::Event(Arc::clone(frame)));
                    }
                }
            }
            rooms = more;
        }
    }
}

/// The hub hears every change: room events go to the members' sockets on every node.
#[async_trait::async_trait]
impl crate::app::Notifier for Hub {
    async fn room_changed(&self, room: Uuid) {
        Hub::room_changed(self, room).await;
    }

    async fn user_joined(&self, user: Uuid, room: Uuid, from_seq: i64) {
        Hub::user_joined(self, user, room, from_seq).await;
    }

    async fn users_ephemeral(
        &self,
        users: Vec<Uuid>,
        room: Option<Uuid>,
        kind: &'static str,
        data: serde_json::Value,
    ) {
        let frame = super::frames::ephemeral(kind, room, data);
        Hub::users_ephemeral(self, users, frame).await;
    }

    async fn room_ephemeral(
        &self,
        room: Uuid,
        from: Option<Uuid>,
        kind: &'static str,
        data: serde_json::Value,
    ) {
        let frame = super::frames::ephemeral(kind, Some(room), data);
        Hub::room_ephemeral(self, room, from, frame).await;
    }

    async fn sessions_ended(&self, user: Uuid, sessions: Vec<Uuid>) {
        Hub::sessions_ended(self, user, sessions).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(id: u64, user: Uuid) -> Conn {
        Conn::new(id, user, Uuid::now_v7(), mpsc::channel(1).0)
    }

    #[test]
    fn a_forgotten_socket_leaves_exactly_its_rooms_and_an_empty_room_is_dropped() {
        let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let [r1, r2, r3] = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
        let (a, b) = (conn(1, ann), conn(2, bob));
        let mut inner = Inner::default();
        inner.users.entry(ann).or_default().insert(1, a.clone());
        inner.users.entry(bob).or_default().insert(2, b.clone());
        inner.subscribe(&a, r1, 10);
        inner.subscribe(&a, r2, 20);
        inner.subscribe(&b, r2, 99);
        inner.subscribe(&a, r3, 30);
        inner.unsubscribe(1, r3);
        assert_eq!(
            inner.rooms[&r2].cursor, 20,
            "the first subscriber set the cursor"
        );
        assert!(
            !inner.rooms.contains_key(&r3),
            "left, and nobody else was in it"
        );

        inner.forget(&a);
        assert_eq!(inner.rooms.keys().collect::<Vec<_>>(), [&r2]);
        assert_eq!(inner.rooms[&r2].conns.keys().collect::<Vec<_>>(), [&2]);
        assert!(!inner.users.contains_key(&ann) && !inner.conn_rooms.contains_key(&1));
        inner.forget(&b);
        assert!(inner.rooms.is_empty() && inner.users.is_empty() && inner.conn_rooms.is_empty());
    }
}
