//! The frames of the WebSocket protocol (documented with examples in `docs/protocol.md`): the
//! server's here, the client's in [`super::client_frames`].

use std::sync::Arc;

use serde_json::{Value, json};
use uuid::Uuid;

pub use super::client_frames::{CLIENT_TYPES, ClientFrame};
use crate::store::messages::RoomEvent;

/// A durable room event, serialised once per node and shared by every socket that gets it.
#[derive(Debug)]
pub struct EventFrame {
    pub room: Uuid,
    pub seq: i64,
    pub kind: String,
    /// For `member.left` and `member.removed`: who left (their stream of the room ends here).
    pub leaver: Option<Uuid>,
    pub text: Arc<str>,
    /// When the event was committed (for the delivery-lag metric).
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<RoomEvent> for EventFrame {
    fn from(e: RoomEvent) -> Self {
        let leaver = match e.kind.as_str() {
            "member.left" | "member.removed" => e.data["message"]["data"]["user_id"]
                .as_str()
                .and_then(|s| s.parse().ok()),
            _ => None,
        };
        let text =
            json!({ "type": e.kind, "room": e.room_id, "seq": e.seq, "data": e.data }).to_string();
        EventFrame {
            room: e.room_id,
            seq: e.seq,
            kind: e.kind,
            leaver,
            text: text.into(),
            created_at: e.created_at,
        }
    }
}

/// An error frame.
pub fn error(code: &str, message: &str, client_id: Option<&str>) -> String {
    json!({ "type": "error", "data": { "code": code, "message": message, "client_id": client_id } })
        .to_string()
}

/// A frame of the given type for a room, without a sequence number (ephemeral).
pub fn ephemeral(kind: &str, room: Option<Uuid>, data: Value) -> String {
    match room {
        Some(room) => json!({ "type": kind, "room": room, "data": data }).to_string(),
        None => json!({ "type": kind, "data": data }).to_string(),
    }
}
