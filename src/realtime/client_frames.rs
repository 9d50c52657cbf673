//! The frames a client sends, and [`read`], which turns a text frame into one of them or into the
//! code and message of the `error` frame that refuses it. Pure (no IO, no state): the socket
//! calls it for every text frame, and `fuzz/` runs it on arbitrary input.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::domain::ErrorCode;

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
        /// Uploads the message carries (see `POST /rooms/{id}/attachments`).
        #[serde(default)]
        attachments: Vec<Uuid>,
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

/// A text frame from a client, read.
#[derive(Debug)]
pub struct Inbound {
    /// The frame's `type` if it is a client type, else `"invalid"` (the metrics' label).
    pub kind: &'static str,
    /// The frame's `client_id`, when it has a string one (echoed in errors about the frame).
    pub client_id: Option<String>,
    /// The frame, or why it is refused.
    pub frame: Result<ClientFrame, Refused>,
}

/// Why a frame is refused: the `error` frame's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// `malformed_frame` (not JSON), `unknown_type` or `invalid_frame` (a field missing,
    /// mistyped or unknown).
    pub code: ErrorCode,
    pub message: String,
}

/// Reads a text frame: JSON, a client `type`, then the fields of that type.
pub fn read(text: &str) -> Inbound {
    let value = match serde_json::from_str::<Value>(text) {
        Ok(value) => value,
        Err(e) => {
            return Inbound {
                kind: "invalid",
                client_id: None,
                frame: Err(Refused {
                    code: ErrorCode::MalformedFrame,
                    message: format!("not JSON: {e}"),
                }),
            };
        }
    };
    let client_id = value
        .get("client_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let raw_kind = value.get("type").and_then(Value::as_str).unwrap_or("");
    let Some(kind) = CLIENT_TYPES.iter().copied().find(|k| *k == raw_kind) else {
        return Inbound {
            kind: "invalid",
            client_id,
            frame: Err(Refused {
                code: ErrorCode::UnknownType,
                message: format!("unknown frame type {raw_kind:?}"),
            }),
        };
    };
    let frame = serde_json::from_value(value).map_err(|e| Refused {
        code: ErrorCode::InvalidFrame,
        message: e.to_string(),
    });
    Inbound {
        kind,
        client_id,
        frame,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_bad_frame_gets_its_code() {
        let code = |text: &str| read(text).frame.map_err(|r| r.code).err();
        assert_eq!(code("{not json"), Some(ErrorCode::MalformedFrame));
        assert_eq!(code(r#"{"type": "shout"}"#), Some(ErrorCode::UnknownType));
        assert_eq!(code(r#"[1, 2]"#), Some(ErrorCode::UnknownType));
        assert_eq!(
            code(r#"{"type": "read", "room": "not-a-uuid", "seq": 1}"#),
            Some(ErrorCode::InvalidFrame)
        );
        let typing = r#"{"type": "typing", "room": "01a21013-43b5-7130-b53a-fbf3e7430d54""#;
        assert_eq!(code(&format!("{typing}}}")), None);
        assert_eq!(
            code(&format!(r#"{typing}, "mood": "grumpy"}}"#)),
            Some(ErrorCode::InvalidFrame)
        );
        assert_eq!(code(r#"{"type": "ping"}"#), None);
    }

    // Found by fuzz/fuzz_targets/ws_frame.rs: the first frame was parsed on its own (repeated
    // keys refused) and the others through `read` (the last one wins), so a `resume` with a
    // repeated key was refused as "already resumed". Both go through `read` now.
    #[test]
    fn a_repeated_key_takes_the_last_value() {
        let room = "01a21013-43b5-7130-b53a-fbf3e7430d54";
        let text = format!(r#"{{"type": "resume", "rooms": {{}}, "rooms": {{"{room}": 3}}}}"#);
        let Ok(ClientFrame::Resume { rooms }) = read(&text).frame else {
            panic!("not read as a resume: {text}");
        };
        let room: Uuid = room.parse().unwrap();
        assert_eq!(rooms, HashMap::from([(room, 3)]));
    }

    #[test]
    fn a_refused_send_keeps_its_client_id() {
        let inbound = read(r#"{"type": "send", "client_id": "c-1", "body": 5}"#);
        assert_eq!(inbound.kind, "send");
        assert_eq!(inbound.client_id.as_deref(), Some("c-1"));
        assert!(inbound.frame.is_err());
    }
}
