//! Types and rules of Flowly, free of IO: validated input ([`fields`]), permissions and task rules.

pub mod fields;
pub mod tasks;

pub use fields::*;

/// Why raw input was refused. `code` is stable (clients branch on it), `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Invalid {
            code,
            message: message.into(),
        }
    }
}
