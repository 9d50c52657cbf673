//! The use cases: one module per aggregate, one function per user action.
//!
//! HTTP handlers (`api`), the WebSocket (`realtime`), the assistant's worker and the CLI all call
//! these functions, never each other. Each module has its own error type that says what can go
//! wrong in its actions; every such error is [`Coded`], which is all `api` needs to answer with
//! the right [`ErrorCode`] and status, and what the socket puts in its `error` frames.
//!
//! A change to a room is announced through the [`Notifier`]s in [`AppState::notify`]: the
//! real-time hub (every member's sockets, on every node) and the assistant's index hint.

pub mod accounts;
pub mod auth;
pub mod friends;
pub mod limits;
pub mod sessions;

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    domain::{ErrorCode, Invalid},
    store::StoreError,
};

pub use crate::state::AppState;

/// An error a client may see: its stable code, and for rate limits the seconds to wait. The
/// `Display` text is the message shown to people (for `Internal` and `Unavailable` it is the cause,
/// logged and never shown).
pub trait Coded: std::error::Error {
    fn code(&self) -> ErrorCode;

    /// Seconds until a retry can succeed (429).
    fn retry_after(&self) -> Option<u64> {
        None
    }

    /// Well-formed input that breaks a rule: answered 422 whatever the code's usual status.
    fn is_validation(&self) -> bool {
        false
    }
}

impl Coded for Invalid {
    fn code(&self) -> ErrorCode {
        self.code
    }

    fn is_validation(&self) -> bool {
        true
    }
}

/// Store errors that reach a client unmapped; a use case normally turns `NotFound` and
/// `Conflict` into a code of its own.
impl Coded for StoreError {
    fn code(&self) -> ErrorCode {
        match self {
            StoreError::NotFound => ErrorCode::NotFound,
            StoreError::Conflict(_) => ErrorCode::Conflict,
            StoreError::InvalidValue(_) => ErrorCode::InvalidValue,
            StoreError::Db(sqlx::Error::PoolTimedOut) => ErrorCode::Unavailable,
            StoreError::Db(_) => ErrorCode::Internal,
        }
    }
}

impl Coded for sqlx::Error {
    fn code(&self) -> ErrorCode {
        ErrorCode::Internal
    }
}

impl Coded for redis::RedisError {
    fn code(&self) -> ErrorCode {
        ErrorCode::Unavailable
    }
}

/// What failed beneath a use case: PostgreSQL, Redis, or the process itself. Every module's
/// error wraps it, so the infrastructure's failures are answered alike everywhere.
#[derive(Debug, thiserror::Error)]
pub enum Infra {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A failure of the process (a hashing task that panicked, a value that cannot be encoded).
    #[error("{0}")]
    Internal(String),
}

impl From<sqlx::Error> for Infra {
    fn from(e: sqlx::Error) -> Self {
        Infra::Store(e.into())
    }
}

impl Infra {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Infra::Internal(cause.to_string())
    }
}

impl Coded for Infra {
    fn code(&self) -> ErrorCode {
        match self {
            Infra::Store(e) => e.code(),
            Infra::Redis(_) => ErrorCode::Unavailable,
            Infra::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// Implements `From` for the infrastructure's errors (PostgreSQL, Redis, [`Infra`]) on a
/// module's error type whose `Infra` variant wraps them.
#[macro_export]
macro_rules! infra_errors {
    ($error:ty) => {
        impl From<$crate::store::StoreError> for $error {
            fn from(e: $crate::store::StoreError) -> Self {
                <$error>::Infra(e.into())
            }
        }
        impl From<sqlx::Error> for $error {
            fn from(e: sqlx::Error) -> Self {
                <$error>::Infra(e.into())
            }
        }
        impl From<redis::RedisError> for $error {
            fn from(e: redis::RedisError) -> Self {
                <$error>::Infra(e.into())
            }
        }
    };
}

/// Who hears that something changed. The real-time hub implements every method; other
/// listeners (the assistant's index hint) only those they care about.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// New events were appended to `room`'s stream.
    async fn room_changed(&self, room: Uuid);

    /// `user` joined `room`; their stream of it starts at `from_seq`.
    async fn user_joined(&self, _user: Uuid, _room: Uuid, _from_seq: i64) {}

    /// An ephemeral frame (not stored) for some users' sockets, on every node.
    async fn users_ephemeral(&self, _users: Vec<Uuid>, _frame: String) {}
}

/// Several listeners heard as one, in order.
pub struct Notifiers(pub Vec<std::sync::Arc<dyn Notifier>>);

#[async_trait]
impl Notifier for Notifiers {
    async fn room_changed(&self, room: Uuid) {
        for n in &self.0 {
            n.room_changed(room).await;
        }
    }

    async fn user_joined(&self, user: Uuid, room: Uuid, from_seq: i64) {
        for n in &self.0 {
            n.user_joined(user, room, from_seq).await;
        }
    }

    async fn users_ephemeral(&self, users: Vec<Uuid>, frame: String) {
        for n in &self.0 {
            n.users_ephemeral(users.clone(), frame.clone()).await;
        }
    }
}
