//! [`ErrorCode`]: every stable error code a client can see, with its HTTP status and what it
//! means. `ApiError` renders them, the OpenAPI document lists them, the WebSocket's `error`
//! frames use the same names. Clients branch on the name, so a name never changes meaning.
//! [`Invalid`] is raw input refused with one of them.

/// Defines [`ErrorCode`] from one table: variant, HTTP status, name, description.
macro_rules! error_codes {
    ($($variant:ident = $status:literal, $name:literal, $description:literal;)*) => {
        /// A stable, machine-readable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $description] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the table.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The name clients see, e.g. `room_not_found`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }

            /// The HTTP status an error with this code is answered with.
            pub const fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                }
            }

            /// What the code means, for people (the OpenAPI document and docs).
            pub const fn description(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $description,)*
                }
            }
        }
    };
}

error_codes! {
    // ---- the request itself
    InvalidBody = 400, "invalid_body", "The JSON body does not have the fields and types the endpoint takes.";
    MalformedJson = 400, "malformed_json", "The body is not JSON.";
    InvalidPath = 400, "invalid_path", "A path segment is not of its type (for example an id that is not a UUID).";
    InvalidQuery = 400, "invalid_query", "The query string does not parse, or a search query is empty or too long.";
    WebsocketRequired = 400, "websocket_required", "The stream endpoint only takes WebSocket upgrades.";
    Unauthenticated = 401, "unauthenticated", "No session was presented, or it expired or was revoked: log in.";
    CsrfFailed = 403, "csrf_failed", "A cookie-authenticated write without the CSRF header from login.";
    AdminOnly = 403, "admin_only", "Only administrators can do this.";
    RouteNotFound = 404, "route_not_found", "No such endpoint.";
    MethodNotAllowed = 405, "method_not_allowed", "The endpoint does not take this method.";
    PayloadTooLarge = 413, "payload_too_large", "The body is larger than `limits.max_body_bytes`.";
    UnsupportedMediaType = 415, "unsupported_media_type", "A body that is not `application/json`.";
    RateLimited = 429, "rate_limited", "Too many requests of this kind; wait `Retry-After` seconds.";
    Internal = 500, "internal", "Something failed on the server; it was logged with the request id.";
    Unavailable = 503, "unavailable", "A service Flowly depends on (PostgreSQL, Redis) is unavailable; try again shortly.";
    Timeout = 503, "timeout", "The request took longer than 30 seconds; try again.";
    Overloaded = 503, "overloaded", "This node is at capacity (`server.max_requests_in_flight`, `realtime.max_connecting`); retry after `Retry-After` seconds.";
    // ---- fields (validated input)
    InvalidUsername = 422, "invalid_username", "A username of 3-32 of `a-z 0-9 _ . -`, starting with a letter or digit.";
    InvalidDisplayName = 422, "invalid_display_name", "A display name of 1-64 characters.";
    InvalidPassword = 422, "invalid_password", "A password longer than 1024 bytes.";
    InvalidBio = 422, "invalid_bio", "A bio of at most 500 characters.";
    InvalidRoomName = 422, "invalid_room_name", "A room name of 1-80 characters.";
    InvalidTopic = 422, "invalid_topic", "A topic of at most 500 characters.";
    InvalidMessage = 422, "invalid_message", "A message body that is empty or longer than `limits.max_message_chars`.";
    InvalidClientId = 422, "invalid_client_id", "A client id of 1-64 of `A-Z a-z 0-9 - _ . :`.";
    InvalidEmoji = 422, "invalid_emoji", "A reaction is one emoji or `:shortcode:` of at most 32 bytes.";
    InvalidTitle = 422, "invalid_title", "A task title of 1-200 characters.";
    InvalidDescription = 422, "invalid_description", "A task description of at most 20,000 characters.";
    InvalidLabels = 422, "invalid_labels", "Task labels: at most 20, each 1-32 characters.";
    InvalidStatus = 422, "invalid_status", "A task status that is not one of the board's columns.";
    InvalidPosition = 422, "invalid_position", "A board position that does not exist.";
    InvalidDue = 422, "invalid_due", "A due date that is not a date.";
    InvalidAssignee = 422, "invalid_assignee", "The assignee is not a member of the task's room.";
    InvalidLimit = 422, "invalid_limit", "A page size outside 1..`limits.max_page_size`.";
    InvalidCursor = 422, "invalid_cursor", "A negative `before` or `after`.";
    InvalidOffset = 422, "invalid_offset", "A negative offset.";
    InvalidSeq = 422, "invalid_seq", "A sequence number beyond the room's latest.";
    InvalidReplyTo = 422, "invalid_reply_to", "`reply_to` is not a message of the same conversation.";
    InvalidUser = 422, "invalid_user", "The user id names no account this request can use.";
    InvalidMessageIds = 422, "invalid_message_ids", "Message ids that are not messages of the room.";
    InvalidValue = 422, "invalid_value", "PostgreSQL refused a value (a NUL byte in text, a date out of range...).";
    // ---- accounts and sessions
    UsernameTaken = 409, "username_taken", "Someone already has that username.";
    InvalidCredentials = 401, "invalid_credentials", "Wrong username or password.";
    AccountDisabled = 403, "account_disabled", "An administrator disabled this account.";
    WrongPassword = 403, "wrong_password", "The current password given is wrong.";
    WeakPassword = 422, "weak_password", "A password shorter than 10 characters, or easy to guess (a common password, or one made of the account's names); the message says why.";
    SessionNotFound = 404, "session_not_found", "No such session of yours.";
    UserNotFound = 404, "user_not_found", "No such user.";
    CannotDisableSelf = 409, "cannot_disable_self", "Administrators cannot disable their own account.";
    // ---- friends and blocks
    AlreadyFriends = 409, "already_friends", "You are friends already.";
    RequestPending = 409, "request_pending", "A friend request between you is already pending.";
    RequestNotPending = 409, "request_not_pending", "The friend request was already answered or withdrawn.";
    CannotBefriend = 403, "cannot_befriend", "One of you blocks the other.";
    CannotBefriendSelf = 422, "cannot_befriend_self", "You cannot befriend yourself.";
    CannotBlockSelf = 422, "cannot_block_self", "You cannot block yourself.";
    NotFriends = 403, "not_friends", "The other person is not your friend.";
    NotBlocked = 404, "not_blocked", "You do not block that person.";
    Blocked = 403, "blocked", "You cannot message this person.";
    // ---- rooms
    RoomNotFound = 404, "room_not_found", "No such room, or you are not a member.";
    MemberNotFound = 404, "member_not_found", "That person is not a member of the room.";
    NotOwner = 403, "not_owner", "Only the room's owner can do this.";
    NotAGroup = 403, "not_a_group", "This can only be done in a group room.";
    AlreadyMember = 409, "already_member", "That person is a member already.";
    AlreadyOwner = 422, "already_owner", "That person owns the room already.";
    NotMember = 422, "not_member", "That person is not a member of the room.";
    TooManyMembers = 422, "too_many_members", "A group room holds at most 1,000 members.";
    UseLeave = 422, "use_leave", "To leave a room, use its `leave` endpoint.";
    // ---- messages
    MessageNotFound = 404, "message_not_found", "No such message, or you cannot see it.";
    ReactionNotFound = 404, "reaction_not_found", "You had not reacted with that.";
    NotAuthor = 403, "not_author", "You can only change your own messages (owners: delete any in their room).";
    MessageDeleted = 409, "message_deleted", "The message has been deleted.";
    // ---- tasks
    TaskNotFound = 404, "task_not_found", "No such task, or you cannot see it.";
    NotTaskOwner = 403, "not_task_owner", "Only its creator or the room's owner can delete a task.";
    AlreadyDone = 409, "already_done", "The task is done already.";
    NotDone = 409, "not_done", "The task is not done.";
    RoomRequired = 422, "room_required", "The task needs a room.";
    // ---- assistant
    RequestNotFound = 404, "request_not_found", "No such friend request, or no such assistant request of yours.";
    ProposalNotFound = 404, "proposal_not_found", "No such task proposal in the request.";
    NotYourRequest = 403, "not_your_request", "You are on the wrong side of that friend request.";
    NotReady = 409, "not_ready", "The assistant request has not finished yet.";
    AlreadyAccepted = 409, "already_accepted", "The proposal was accepted already.";
    EmptyQuestion = 422, "empty_question", "A question with no words.";
    QuestionTooLong = 422, "question_too_long", "A question longer than `assistant.max_question_chars`.";
    QueueUnavailable = 503, "queue_unavailable", "The assistant's job queue (Redis) is unavailable; try again shortly.";
    // ---- attachments
    AttachmentNotFound = 404, "attachment_not_found", "No such attachment, or you cannot see it.";
    TooLarge = 413, "too_large", "A file larger than `attachments.max_file_bytes`, or an image with more pixels than `attachments.max_image_pixels`.";
    UnsupportedType = 415, "unsupported_type", "A file whose media type is not in `attachments.allowed_types`, or an image that does not decode as its type.";
    QuotaExceeded = 507, "quota_exceeded", "The installation's attachments would pass `attachments.quota_bytes`.";
    InvalidFilename = 422, "invalid_filename", "A file name of 1-255 characters without control characters or slashes.";
    InvalidAttachments = 422, "invalid_attachments", "Attachment ids that are not your unsent uploads to this room (at most 10 a message).";
    UploadInterrupted = 400, "upload_interrupted", "The upload's body ended early or could not be read.";
    // ---- invite links
    InviteNotFound = 404, "invite_not_found", "No such invite link.";
    InviteExpired = 410, "invite_expired", "The invite link has expired.";
    InviteUsedUp = 410, "invite_used_up", "The invite link has been used as often as it allows.";
    InviteRevoked = 410, "invite_revoked", "The invite link was revoked.";
    InvalidInvite = 422, "invalid_invite", "An invite's `max_uses` below 1 or over 1000, or `expires_in_hours` outside 1-720.";
    // ---- notifications
    InvalidSubscription = 422, "invalid_subscription", "A push subscription whose endpoint is not an https URL of a public host, or whose keys are not a P-256 key and a 16-byte secret.";
    SubscriptionNotFound = 404, "subscription_not_found", "No push subscription of yours has that endpoint.";
    TooManySubscriptions = 409, "too_many_subscriptions", "You have `push.max_subscriptions_per_user` push subscriptions already.";
    // ---- generic fallbacks of the store
    NotFound = 404, "not_found", "Not found.";
    Conflict = 409, "conflict", "Conflicts with an existing record.";
    // ---- WebSocket `error` frames (docs/protocol.md)
    MalformedFrame = 400, "malformed_frame", "A WebSocket frame that is not JSON.";
    UnknownType = 400, "unknown_type", "A WebSocket frame whose `type` is missing or not a client frame.";
    InvalidFrame = 400, "invalid_frame", "A WebSocket frame with a missing, mistyped or unknown field.";
    FrameRateLimited = 429, "frame_rate_limited", "A WebSocket frame over the frame rate limit; it was dropped.";
    AlreadyResumed = 400, "already_resumed", "A `resume` frame after the first frame.";
    Unsupported = 400, "unsupported", "A binary WebSocket frame.";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::ErrorCode;

    #[test]
    fn every_code_has_a_unique_snake_case_name_and_a_real_status() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name} is not snake_case"
            );
            assert!((400..600).contains(&code.status()), "{name}");
            assert!(code.description().ends_with('.'), "{name}: a sentence");
        }
    }

    #[test]
    fn every_code_is_documented_in_the_protocol() {
        let doc = include_str!("../../docs/protocol.md");
        let missing: Vec<&str> = ErrorCode::ALL
            .iter()
            .map(|c| c.as_str())
            .filter(|name| !doc.contains(&format!("`{name}`")))
            .collect();
        assert!(missing.is_empty(), "docs/protocol.md lacks {missing:?}");
    }

    #[test]
    fn a_code_prints_as_its_name() {
        assert_eq!(ErrorCode::RoomNotFound.to_string(), "room_not_found");
        assert_eq!(ErrorCode::RateLimited.status(), 429);
    }
}
