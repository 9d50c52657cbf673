//! Who may do what: pure rules over what the store says about the actor (their membership of a
//! room, whether they administer the server). A refusal is a [`Denied`] with the stable code
//! clients see.

use uuid::Uuid;

use super::{
    Actor, ErrorCode,
    rooms::{MessageKind, Role, RoomKind},
};

/// An action the rules refuse. `code` is stable, `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Denied {
    pub code: ErrorCode,
    pub message: String,
}

impl Denied {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Denied {
            code,
            message: message.into(),
        }
    }
}

/// `what` ("renaming", "inviting") is only for group rooms.
pub fn require_group(kind: RoomKind, what: &str) -> Result<(), Denied> {
    if kind == RoomKind::Group {
        Ok(())
    } else {
        Err(Denied::new(
            ErrorCode::NotAGroup,
            format!("{what} only works in group rooms"),
        ))
    }
}

/// Only the owner may `what` ("rename the room", "remove members").
pub fn require_owner(role: Role, what: &str) -> Result<(), Denied> {
    if role == Role::Owner {
        Ok(())
    } else {
        Err(Denied::new(
            ErrorCode::NotOwner,
            format!("only the room's owner can {what}"),
        ))
    }
}

/// A message may be edited by its author only, and only a person's message.
pub fn may_edit_message(
    actor: Uuid,
    author: Option<Uuid>,
    kind: MessageKind,
) -> Result<(), Denied> {
    if kind == MessageKind::User && author == Some(actor) {
        Ok(())
    } else {
        Err(Denied::new(
            ErrorCode::NotAuthor,
            "you can only edit your own messages",
        ))
    }
}

/// A message may be deleted by its author, or (a person's or the assistant's) by the owner of
/// a group room; system messages never.
pub fn may_delete_message(
    actor: Uuid,
    author: Option<Uuid>,
    kind: MessageKind,
    role: Role,
    room: RoomKind,
) -> Result<(), Denied> {
    let own = author == Some(actor);
    let owner_of_group = role == Role::Owner && room == RoomKind::Group;
    if kind != MessageKind::System && (own || owner_of_group) {
        Ok(())
    } else {
        Err(Denied::new(
            ErrorCode::NotAuthor,
            "you can only delete your own messages (owners: any in their room)",
        ))
    }
}

/// A task may be deleted by its creator or by the room's owner.
pub fn may_delete_task(actor: Uuid, creator: Option<Uuid>, role: Role) -> Result<(), Denied> {
    if creator == Some(actor) || role == Role::Owner {
        Ok(())
    } else {
        Err(Denied::new(
            ErrorCode::NotTaskOwner,
            "only the task's creator or the room's owner can delete it",
        ))
    }
}

/// Administering accounts is for administrators.
pub fn require_admin(actor: &Actor) -> Result<(), Denied> {
    if actor.is_admin {
        Ok(())
    } else {
        Err(Denied::new(
            ErrorCode::AdminOnly,
            "only administrators can do this",
        ))
    }
}

/// An administrator may disable any account but their own, so one of them is always left to
/// enable it again.
pub fn may_disable_user(actor: &Actor, user: Uuid) -> Result<(), Denied> {
    require_admin(actor)?;
    if user == actor.id {
        Err(Denied::new(
            ErrorCode::CannotDisableSelf,
            "administrators cannot disable their own account",
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Uuid = Uuid::from_u128(1);
    const OTHER: Uuid = Uuid::from_u128(2);

    fn code<T>(r: Result<T, Denied>) -> Option<ErrorCode> {
        r.err().map(|d| d.code)
    }

    #[test]
    fn only_group_rooms_take_group_actions() {
        assert!(require_group(RoomKind::Group, "renaming").is_ok());
        for kind in [RoomKind::Dm, RoomKind::Personal] {
            let denied = require_group(kind, "renaming").err();
            assert_eq!(denied.as_ref().map(|d| d.code), Some(ErrorCode::NotAGroup));
            assert_eq!(
                denied.map(|d| d.message).as_deref(),
                Some("renaming only works in group rooms")
            );
        }
    }

    #[test]
    fn only_owners_take_owner_actions() {
        assert!(require_owner(Role::Owner, "rename the room").is_ok());
        assert_eq!(
            code(require_owner(Role::Member, "rename the room")),
            Some(ErrorCode::NotOwner)
        );
    }

    #[test]
    fn people_edit_only_their_own_messages() {
        assert!(may_edit_message(ME, Some(ME), MessageKind::User).is_ok());
        assert_eq!(
            code(may_edit_message(ME, Some(OTHER), MessageKind::User)),
            Some(ErrorCode::NotAuthor)
        );
        assert_eq!(
            code(may_edit_message(ME, Some(ME), MessageKind::System)),
            Some(ErrorCode::NotAuthor)
        );
        assert_eq!(
            code(may_edit_message(ME, None, MessageKind::Assistant)),
            Some(ErrorCode::NotAuthor)
        );
    }

    #[test]
    fn owners_of_groups_delete_any_message_but_system_ones() {
        let delete = |author, kind, role, room| may_delete_message(ME, author, kind, role, room);
        assert!(delete(Some(ME), MessageKind::User, Role::Member, RoomKind::Dm).is_ok());
        assert!(delete(Some(OTHER), MessageKind::User, Role::Owner, RoomKind::Group).is_ok());
        assert!(delete(None, MessageKind::Assistant, Role::Owner, RoomKind::Group).is_ok());
        assert_eq!(
            code(delete(
                Some(OTHER),
                MessageKind::User,
                Role::Member,
                RoomKind::Group
            )),
            Some(ErrorCode::NotAuthor)
        );
        assert_eq!(
            code(delete(
                Some(OTHER),
                MessageKind::User,
                Role::Owner,
                RoomKind::Personal
            )),
            Some(ErrorCode::NotAuthor)
        );
        assert_eq!(
            code(delete(
                Some(ME),
                MessageKind::System,
                Role::Owner,
                RoomKind::Group
            )),
            Some(ErrorCode::NotAuthor)
        );
    }

    #[test]
    fn tasks_are_deleted_by_their_creator_or_the_owner() {
        assert!(may_delete_task(ME, Some(ME), Role::Member).is_ok());
        assert!(may_delete_task(ME, Some(OTHER), Role::Owner).is_ok());
        assert!(may_delete_task(ME, None, Role::Owner).is_ok());
        assert_eq!(
            code(may_delete_task(ME, Some(OTHER), Role::Member)),
            Some(ErrorCode::NotTaskOwner)
        );
    }

    fn actor(is_admin: bool) -> Actor {
        Actor {
            session_id: Uuid::nil(),
            id: ME,
            username: "ada".into(),
            is_admin,
        }
    }

    #[test]
    fn only_administrators_administer_accounts() {
        assert!(require_admin(&actor(true)).is_ok());
        assert_eq!(
            code(require_admin(&actor(false))),
            Some(ErrorCode::AdminOnly)
        );
    }

    #[test]
    fn administrators_disable_anyone_but_themselves() {
        assert!(may_disable_user(&actor(true), OTHER).is_ok());
        assert_eq!(
            code(may_disable_user(&actor(true), ME)),
            Some(ErrorCode::CannotDisableSelf)
        );
        assert_eq!(
            code(may_disable_user(&actor(false), OTHER)),
            Some(ErrorCode::AdminOnly)
        );
    }
}
