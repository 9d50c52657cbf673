//! A WebSocket text frame from a client, as the socket reads it: never a panic, and every frame
//! is either one of the client's frames or refused with the code its kind of fault has.
#![no_main]

use flowly_fuzz::{
    client_frames::{self, CLIENT_TYPES, ClientFrame},
    domain::ErrorCode,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Text frames are UTF-8 (tungstenite refuses others before we see them).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let inbound = client_frames::read(text);
    let json = serde_json::from_str::<serde_json::Value>(text).ok();
    let raw_type = json
        .as_ref()
        .and_then(|v| v.get("type"))
        .and_then(|t| t.as_str());
    match &inbound.frame {
        Ok(frame) => {
            assert_eq!(
                Some(inbound.kind),
                raw_type,
                "a frame is of the type it names"
            );
            assert_eq!(inbound.kind, type_of(frame));
            // The id echoed in errors about a `send` is the one the frame carries.
            if let ClientFrame::Send { client_id, .. } = frame {
                assert_eq!(&inbound.client_id, client_id);
            }
        }
        Err(refused) => {
            let expected = match (&json, raw_type) {
                (None, _) => ErrorCode::MalformedFrame,
                (Some(_), Some(t)) if CLIENT_TYPES.contains(&t) => ErrorCode::InvalidFrame,
                (Some(_), _) => ErrorCode::UnknownType,
            };
            assert_eq!(refused.code, expected, "{text:?}: {refused:?}");
            assert!(!refused.message.is_empty());
            if refused.code == ErrorCode::InvalidFrame {
                assert!(CLIENT_TYPES.contains(&inbound.kind));
            } else {
                assert_eq!(inbound.kind, "invalid");
            }
        }
    }
});

fn type_of(frame: &ClientFrame) -> &'static str {
    match frame {
        ClientFrame::Resume { .. } => "resume",
        ClientFrame::Send { .. } => "send",
        ClientFrame::Typing { .. } => "typing",
        ClientFrame::Read { .. } => "read",
        ClientFrame::Presence { .. } => "presence",
        ClientFrame::Ping => "ping",
    }
}
