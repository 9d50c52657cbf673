//! Frames from the client: the per-socket rate limit, then each frame type (`resume`, `send`,
//! `typing`, `read`, `presence`...) handled through the use cases; refusals go back as `error`
//! frames with the same codes as the REST API.

use super::*;
use crate::realtime::client_frames;

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

impl Session {
    /// Token bucket on client frames; persistent flooding closes the socket.
    pub(super) fn allow_frame(&mut self) -> Result<bool, Ended> {
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

    pub(super) async fn handle_text(&mut self, text: &str) -> Result<(), Ended> {
        let inbound = client_frames::read(text);
        self.state
            .metrics
            .ws_frames
            .with_label_values(&["in", inbound.kind])
            .inc();
        if !self.allow_frame()? {
            let message = "too many frames; this one was dropped, slow down";
            return self
                .send_text(
                    "error",
                    frames::error("frame_rate_limited", message, inbound.client_id.as_deref()),
                )
                .await;
        }
        let frame = match inbound.frame {
            Ok(frame) => frame,
            Err(refused) => {
                // Only a frame of a known type has a `client_id` the client meant as one.
                let client_id = inbound
                    .client_id
                    .as_deref()
                    .filter(|_| refused.code == ErrorCode::InvalidFrame);
                return self
                    .send_text(
                        "error",
                        frames::error(refused.code.as_str(), &refused.message, client_id),
                    )
                    .await;
            }
        };
        match frame {
            ClientFrame::Ping => {
                self.send_text("pong", json!({ "type": "pong" }).to_string())
                    .await
            }
            ClientFrame::Resume { .. } => {
                self.send_text(
                    "error",
                    frames::error(
                        "already_resumed",
                        "resume is only the first frame; reconnect to resume again",
                        None,
                    ),
                )
                .await
            }
            ClientFrame::Send {
                room,
                body,
                client_id,
                reply_to,
                task,
                attachments,
            } => {
                self.stop_typing(room).await;
                let req = NewMessageRequest {
                    body,
                    client_id: client_id.clone(),
                    reply_to,
                    attachments,
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
                        self.send_text("ack", ack.to_string()).await
                    }
                    Err(e) => self.send_text("error", e.frame(client_id.as_deref())).await,
                }
            }
            ClientFrame::Typing { room, active } => {
                if !self.delivered.contains_key(&room) {
                    return self
                        .send_text(
                            "error",
                            frames::error(
                                "room_not_found",
                                "no such room, or you are not a member of it",
                                None,
                            ),
                        )
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
                    Err(e) => {
                        self.send_text("error", ErrorFrame::from(e).frame(None))
                            .await
                    }
                }
            }
            ClientFrame::Presence { status } => {
                if status != "online" && status != "away" {
                    return self
                        .send_text(
                            "error",
                            frames::error("invalid_frame", "status must be online or away", None),
                        )
                        .await;
                }
                if let Err(e) = presence::set_status(&self.state, self.user.id, &status).await {
                    tracing::warn!(error = %e, "presence unavailable");
                }
                Ok(())
            }
        }
    }

    pub(super) async fn stop_typing(&mut self, room: Uuid) {
        if self.typing.remove(&room).is_some() {
            let data = json!({ "user_id": self.user.id });
            self.state
                .notify
                .room_ephemeral(room, Some(self.user.id), "typing.stopped", data)
                .await;
        }
    }

    pub(super) async fn expire_typing(&mut self) {
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
