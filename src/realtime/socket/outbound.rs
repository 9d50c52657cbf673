//! Frames to the client: writing with a deadline, delivering room events in order, catching up
//! from the `room_events` log, and what the hub sends this socket.

use std::collections::HashSet;

use super::*;

impl Session {
    /// Writes a frame. A client that does not take it within `write_timeout_secs` has stopped
    /// reading: it is cut off (it can reconnect and resume), so it never holds up the node.
    /// `kind` is the frame's type for the metrics, one of `telemetry::WS_OUT_FRAME_TYPES`. A
    /// frame is counted as it is handed to the socket (so it is counted by the time the client
    /// reads it).
    pub(super) async fn send_text(
        &mut self,
        kind: &'static str,
        text: String,
    ) -> Result<(), Ended> {
        self.send_message(kind, Message::Text(text.into())).await
    }

    pub(super) async fn send_message(
        &mut self,
        kind: &'static str,
        message: Message,
    ) -> Result<(), Ended> {
        let limit = Duration::from_secs(self.state.config.realtime.write_timeout_secs);
        self.state.metrics.ws_frame_out(kind);
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
    /// `replay`: why the event comes from the log rather than live (`None`: live, and its
    /// delivery lag, up to the moment it is handed to the socket, is measured).
    pub(super) async fn deliver(
        &mut self,
        frame: &EventFrame,
        replay: Option<&'static str>,
    ) -> Result<(), Ended> {
        let metrics = Arc::clone(&self.state.metrics);
        match replay {
            None => {
                let lag = chrono::Utc::now() - frame.created_at;
                metrics
                    .ws_delivery_lag
                    .observe(lag.to_std().unwrap_or_default().as_secs_f64());
                self.send_text("event", frame.text.to_string()).await?;
            }
            Some(reason) => {
                metrics
                    .ws_replayed_events
                    .with_label_values(&[reason])
                    .inc();
                self.send_text("replay", frame.text.to_string()).await?;
            }
        }
        self.delivered.insert(frame.room, frame.seq);
        if frame.leaver == Some(self.user.id) {
            self.delivered.remove(&frame.room);
            self.state.hub.leave_room(self.conn.id, frame.room);
        }
        Ok(())
    }

    /// Delivers the rooms' events from PostgreSQL, each room's after the last one delivered, up
    /// to `upto` (`reason`, for the metrics: `resume`, `gap` or `join`). A resume reads every room
    /// the client is behind in together, [`store::messages::ROOMS_PER_READ`] rooms a statement, not one
    /// read per room: a reconnect storm is thousands of resumes at once.
    pub(super) async fn catch_up(
        &mut self,
        rooms: &[Uuid],
        upto: Option<i64>,
        reason: &'static str,
    ) -> Result<(), Ended> {
        const BATCH: i64 = 200;
        let mut pending = rooms.to_vec();
        while !pending.is_empty() {
            let chunk: Vec<Uuid> = pending
                .drain(..pending.len().min(store::messages::ROOMS_PER_READ))
                .collect();
            let after: Vec<(Uuid, i64)> = chunk
                .iter()
                .filter_map(|r| self.delivered.get(r).map(|seq| (*r, *seq)))
                .collect();
            if after.is_empty() {
                continue;
            }
            let events =
                match store::messages::events_since_many(&self.state.db, &after, BATCH).await {
                    Ok(events) => events,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot replay room events");
                        return Err(Some((
                            close::GOING_AWAY,
                            "temporarily unavailable: reconnect and resume",
                        )));
                    }
                };
            let more = store::messages::rooms_with_more(&events, BATCH);
            // Rooms done before their batch ran out: past `upto`, or left on the way.
            let mut done = HashSet::new();
            for event in events {
                let room = event.room_id;
                if done.contains(&room) || upto.is_some_and(|u| event.seq > u) {
                    done.insert(room);
                    continue;
                }
                self.deliver(&EventFrame::from(event), Some(reason)).await?;
                if !self.delivered.contains_key(&room) {
                    done.insert(room);
                }
            }
            pending.extend(more.into_iter().filter(|room| !done.contains(room)));
        }
        Ok(())
    }

    pub(super) async fn handle_outbound(&mut self, out: Outbound) -> Result<(), Ended> {
        match out {
            Outbound::Event(frame) => {
                let Some(&seen) = self.delivered.get(&frame.room) else {
                    return Ok(());
                };
                if frame.seq <= seen {
                    return Ok(());
                }
                if frame.seq > seen + 1 {
                    self.catch_up(&[frame.room], Some(frame.seq - 1), "gap")
                        .await?;
                }
                if self
                    .delivered
                    .get(&frame.room)
                    .is_some_and(|s| frame.seq > *s)
                {
                    self.deliver(&frame, None).await?;
                }
            }
            Outbound::Joined(joined) => {
                let (room, from_seq) = *joined;
                if let std::collections::hash_map::Entry::Vacant(entry) = self.delivered.entry(room)
                {
                    entry.insert(from_seq - 1);
                    self.catch_up(&[room], None, "join").await?;
                }
            }
            Outbound::Ephemeral(frame) => {
                let visible = frame.room.is_none_or(|r| self.delivered.contains_key(&r));
                if visible && frame.from != Some(self.user.id) {
                    self.send_text("ephemeral", frame.text.clone()).await?;
                }
            }
        }
        Ok(())
    }
}
