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
pub mod assistant;
pub mod attachments;
pub mod auth;
pub mod friends;
pub mod invites;
pub mod limits;
pub mod messages;
pub mod push;
pub mod rooms;
pub mod sessions;
pub mod tasks;

use async_trait::async_trait;
use serde_json::Value;
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

/// What a client is told when something failed on our side (the cause is logged, not shown).
pub const INTERNAL_MESSAGE: &str = "something went wrong on our side; it has been logged";
/// What a client is told when PostgreSQL or Redis is away.
pub const UNAVAILABLE_MESSAGE: &str =
    "a service Flowly depends on is unavailable; try again shortly";

/// Whether `code` means a failure on our side rather than a fault of the request: its cause is
/// logged and the client sees only a generic message.
pub fn is_failure(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Internal | ErrorCode::Unavailable | ErrorCode::QueueUnavailable
    )
}

/// The message a client may see for `e`: its own for faults of the request, a generic sentence
/// for failures on our side.
pub fn public_message(e: &(impl Coded + ?Sized)) -> String {
    match e.code() {
        ErrorCode::Internal => INTERNAL_MESSAGE.to_owned(),
        code if is_failure(code) => UNAVAILABLE_MESSAGE.to_owned(),
        _ => e.to_string(),
    }
}

impl Coded for crate::domain::Denied {
    fn code(&self) -> ErrorCode {
        self.code
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

    /// An ephemeral event (not stored) of type `kind` for some users' sockets, on every node;
    /// `room` when it is about one room.
    async fn users_ephemeral(
        &self,
        _users: Vec<Uuid>,
        _room: Option<Uuid>,
        _kind: &'static str,
        _data: Value,
    ) {
    }

    /// An ephemeral event (not stored) for every member of `room` but `from`, on every node.
    async fn room_ephemeral(
        &self,
        _room: Uuid,
        _from: Option<Uuid>,
        _kind: &'static str,
        _data: Value,
    ) {
    }

    /// `user`'s `sessions` ended (logout, revocation, password change, account disabled): their
    /// sockets close, on every node.
    async fn sessions_ended(&self, _user: Uuid, _sessions: Vec<Uuid>) {}
}

/// For request fields that may be null: tells a field left out (`None`) from one set to null
/// (`Some(None)`). Use with `#[serde(default, deserialize_with = "crate::app::nullable")]`.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
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

    async fn users_ephemeral(
        &self,
        users: Vec<Uuid>,
        room: Option<Uuid>,
        kind: &'static str,
        data: Value,
    ) {
        for n in &self.0 {
            n.users_ephemeral(users.clone(), room, kind, data.clone())
                .await;
        }
    }

    async fn room_ephemeral(
        &self,
        room: Uuid,
        from: Option<Uuid>,
        kind: &'static str,
        data: Value,
    ) {
        for n in &self.0 {
            n.room_ephemeral(room, from, kind, data.clone()).await;
        }
    }

    async fn sessions_ended(&self, user: Uuid, sessions: Vec<Uuid>) {
        for n in &self.0 {
            n.sessions_ended(user, sessions.clone()).await;
        }
    }
}
