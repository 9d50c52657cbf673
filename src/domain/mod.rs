//! Types and rules of Flowly, free of IO: validated input ([`fields`]), permissions and task rules.

pub mod assistant;
pub mod auth;
pub mod error_code;
pub mod fields;
pub mod tasks;

pub use auth::Actor;
pub use error_code::ErrorCode;
pub use fields::*;

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
