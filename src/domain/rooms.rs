//! Rooms and messages as types: what kind a room is, what a member is in it, what kind a message
//! is. Stored as text (the columns' check constraints list the same values).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a room is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum RoomKind {
    /// Two friends; one room per pair.
    Dm,
    /// A named room with an owner and members.
    Group,
    /// A person's own room, home of their personal tasks.
    #[serde(rename = "self")]
    #[sqlx(rename = "self")]
    Personal,
}

/// A member's standing in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    Owner,
    Member,
}

/// Who wrote a message.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum MessageKind {
    /// A person.
    #[default]
    User,
    /// Flowly itself: a room or task event in the timeline.
    System,
    /// The assistant's answer.
    Assistant,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: impl Serialize) -> String {
        serde_json::to_string(&value).unwrap_or_default()
    }

    #[test]
    fn kinds_keep_the_names_clients_and_the_database_know() {
        assert_eq!(json(RoomKind::Personal), "\"self\"");
        assert_eq!(json(RoomKind::Dm), "\"dm\"");
        assert_eq!(json(Role::Owner), "\"owner\"");
        assert_eq!(json(MessageKind::Assistant), "\"assistant\"");
        assert_eq!(
            serde_json::from_str::<RoomKind>("\"self\"").ok(),
            Some(RoomKind::Personal)
        );
    }
}
