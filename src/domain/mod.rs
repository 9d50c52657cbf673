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
pub use error_code::{ErrorCode, Invalid};
pub use fields::*;
pub use permissions::Denied;
pub use rooms::{MessageKind, Role, RoomKind};
