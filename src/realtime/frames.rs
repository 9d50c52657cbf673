//! The frames of the WebSocket protocol (documented with examples in `docs/protocol.md`).

use std::{collections::HashMap, sync::Arc};

use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

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

/// Frames a client sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// The last sequence number seen per room; the server replays what came after.
    Resume {
        #[serde(default)]
        rooms: HashMap<Uuid, i64>,
    },
    /// Send a message (acknowledged with `ack`).
    Send {
        room: Uuid,
        body: String,
        client_id: Option<String>,
        reply_to: Option<Uuid>,
        /// Post into this task's discussion instead of the room's timeline.
        task: Option<Uuid>,
    },
    /// Typing started (`active` true, the default) or stopped.
    Typing {
        room: Uuid,
        #[serde(default = "yes")]
        active: bool,
    },
    /// Move the read marker.
    Read {
        room: Uuid,
        seq: i64,
    },
    /// `online` or `away`.
    Presence {
        status: String,
    },
    Ping,
}

fn yes() -> bool {
    true
}

/// Frame types a client may send, to tell an unknown type from a malformed frame.
pub const CLIENT_TYPES: &[&str] = &["resume", "send", "typing", "read", "presence", "ping"];

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
