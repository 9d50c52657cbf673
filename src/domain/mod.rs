//! Types and rules of Flowly, free of IO: the error vocabulary ([`ErrorCode`]), validated input
//! ([`fields`]), who the caller is ([`auth`]), room and message kinds ([`rooms`]), who may do what
//! ([`permissions`]) and task rules ([`tasks`]).

pub mod assistant;
pub mod auth;
pub mod error_code;
pub mod fields;
pub mod origin;
pub mod permissions;
pub mod rooms;
pub mod tasks;

pub use auth::Actor;
pub use error_code::ErrorCode;
pub use fields::*;
pub use permissions::Denied;
pub use rooms::{MessageKind, Role, RoomKind};

/// Why raw input was refused. `code` is stable (clients branch on it), `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub code: ErrorCode,
    pub message: String,
}

impl Invalid {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Invalid {
            code,
            message: message.into(),
        }
    }
}
