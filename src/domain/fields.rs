//! Validated newtypes: raw input is parsed once at the API boundary; deeper code trusts them.

use std::collections::BTreeSet;

use super::{ErrorCode, Invalid};

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// Trims and checks a free-text field: length in characters, no control characters except
/// newlines and tabs where `multiline`.
fn text(
    raw: &str,
    code: ErrorCode,
    what: &str,
    min: usize,
    max: usize,
    multiline: bool,
) -> Result<String, Invalid> {
    let value = raw.trim();
    let chars = value.chars().count();
    if chars < min {
        return Err(Invalid::new(
            code,
            if min == 1 {
                format!("{what} must not be empty")
            } else {
                format!("{what} must be at least {min} characters")
            },
        ));
    }
    if chars > max {
        return Err(Invalid::new(
            code,
            format!("{what} must be at most {max} characters"),
        ));
    }
    let bad = |c: char| c.is_control() && !(multiline && (c == '\n' || c == '\t' || c == '\r'));
    if value.chars().any(bad) {
        return Err(Invalid::new(
            code,
            format!("{what} contains control characters"),
        ));
    }
    Ok(value.to_owned())
}

string_newtype!(
    /// 3–32 characters of `[a-z0-9_.-]`, starting with a letter or digit.
    Username
);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        let ok_len = (3..=32).contains(&value.len());
        let ok_chars = value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'));
        let ok_start = value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if ok_len && ok_chars && ok_start {
            Ok(Username(value.to_owned()))
        } else {
            Err(Invalid::new(
                ErrorCode::InvalidUsername,
                "username must be 3–32 characters of a-z, 0-9, '_', '.', '-' and start with a letter or digit",
            ))
        }
    }
}

string_newtype!(
    /// A person's shown name, 1–64 characters.
    DisplayName
);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        text(
            raw,
            ErrorCode::InvalidDisplayName,
            "display name",
            1,
            64,
            false,
        )
        .map(DisplayName)
    }
}

string_newtype!(
    /// A password: 10–1024 characters (the upper bound keeps hashing cheap to refuse) that a
    /// strength estimator (zxcvbn) finds hard to guess, even knowing the account's names.
    Password
);

/// The least zxcvbn score a new password needs: 3 means more than 10^8 guesses, which zxcvbn
/// calls "safely unguessable" with moderate protection against an offline attack on a slow hash
/// such as argon2id (and far beyond what the login rate limits let anyone try online).
pub const MIN_PASSWORD_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// Characters of a password the estimator reads. Its matching grows faster than linearly with the
/// length; a password whose first 100 characters are hard to guess is hard to guess.
const ESTIMATED_CHARS: usize = 100;

impl Password {
    /// Parses a new password for an account. `context` holds what an attacker would try first
    /// for this account besides common passwords: its username and display name (the product's
    /// name is always added). Refused with `weak_password` and the estimator's advice.
    pub fn parse(raw: &str, context: &[&str]) -> Result<Self, Invalid> {
        let chars = raw.chars().count();
        if chars < 10 {
            return Err(Invalid::new(
                ErrorCode::WeakPassword,
                "password must be at least 10 characters",
            ));
        }
        if raw.len() > 1024 {
            return Err(Invalid::new(
                ErrorCode::InvalidPassword,
                "password must be at most 1024 bytes",
            ));
        }
        let estimated: String = raw.chars().take(ESTIMATED_CHARS).collect();
        let mut inputs: Vec<&str> = vec!["flowly"];
        for input in context {
            inputs.push(input);
            // "Ann Lee" is also tried as "ann" and "lee".
            inputs.extend(input.split_whitespace());
        }
        let entropy = zxcvbn::zxcvbn(&estimated, &inputs);
        if entropy.score() >= MIN_PASSWORD_SCORE {
            return Ok(Password(raw.to_owned()));
        }
        let mut advice: Vec<String> = Vec::new();
        if let Some(feedback) = entropy.feedback() {
            advice.extend(feedback.warning().map(|w| w.to_string()));
            advice.extend(feedback.suggestions().iter().map(ToString::to_string));
        }
        if advice.is_empty() {
            advice.push("Add another word or two. Uncommon words are better.".into());
        }
        let advice: Vec<&str> = advice
            .iter()
            .map(|a| a.trim().trim_end_matches('.'))
            .collect();
        Err(Invalid::new(
            ErrorCode::WeakPassword,
            format!("this password is too easy to guess: {}", advice.join(". ")),
        ))
    }
}

string_newtype!(
    /// A short profile text, up to 500 characters.
    Bio
);

impl Bio {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        text(raw, ErrorCode::InvalidBio, "bio", 0, 500, true).map(Bio)
    }
}

string_newtype!(
    /// A group room's name, 1–80 characters.
    RoomName
);

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        text(raw, ErrorCode::InvalidRoomName, "room name", 1, 80, false).map(RoomName)
    }
}

string_newtype!(
    /// A room topic, up to 500 characters.
    Topic
);

impl Topic {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        text(raw, ErrorCode::InvalidTopic, "topic", 0, 500, false).map(Topic)
    }
}

string_newtype!(
    /// A message body: 1 to `max` characters (configurable), newlines allowed.
    MessageBody
);

impl MessageBody {
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, Invalid> {
        text(
            raw,
            ErrorCode::InvalidMessage,
            "message",
            1,
            max_chars,
            true,
        )
        .map(MessageBody)
    }

    /// The body of a message that carries only attachments.
    pub fn empty() -> Self {
        MessageBody(String::new())
    }
}

string_newtype!(
    /// The id a client picks for a message so that retrying a send never duplicates it.
    ClientId
);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if ok {
            Ok(ClientId(raw.to_owned()))
        } else {
            Err(Invalid::new(
                ErrorCode::InvalidClientId,
                "client_id must be 1–64 characters of A-Z, a-z, 0-9, '-', '_', '.', ':'",
            ))
        }
    }
}

string_newtype!(
    /// A reaction: one emoji or a `:shortcode:`, up to 32 bytes, no whitespace.
    Emoji
);

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok = !raw.is_empty()
            && raw.len() <= 32
            && !raw
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/');
        if ok {
            Ok(Emoji(raw.to_owned()))
        } else {
            Err(Invalid::new(
                ErrorCode::InvalidEmoji,
                "a reaction is one emoji or :shortcode: of at most 32 bytes",
            ))
        }
    }
}

string_newtype!(
    /// A task title, 1–200 characters.
    TaskTitle
);

impl TaskTitle {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        text(raw, ErrorCode::InvalidTitle, "title", 1, 200, false).map(TaskTitle)
    }

    /// A title made from free text (a message): its first line, shortened to fit.
    pub fn from_text(raw: &str) -> Result<Self, Invalid> {
        let first_line = raw
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let shortened: String = if first_line.chars().count() > 200 {
            first_line.chars().take(199).chain(['…']).collect()
        } else {
            first_line.to_owned()
        };
        Self::parse(&shortened)
    }
}

string_newtype!(
    /// A task description, up to 20,000 characters.
    TaskDescription
);

impl TaskDescription {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        text(
            raw,
            ErrorCode::InvalidDescription,
            "description",
            0,
            20_000,
            true,
        )
        .map(TaskDescription)
    }
}

/// Task labels: up to 20 distinct labels of 1–40 characters, stored trimmed and sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels(Vec<String>);

impl Labels {
    pub fn parse(raw: &[String]) -> Result<Self, Invalid> {
        let mut set = BTreeSet::new();
        for label in raw {
            set.insert(text(
                label,
                ErrorCode::InvalidLabels,
                "a label",
                1,
                40,
                false,
            )?);
        }
        if set.len() > 20 {
            return Err(Invalid::new(
                ErrorCode::InvalidLabels,
                "a task has at most 20 labels",
            ));
        }
        Ok(Labels(set.into_iter().collect()))
    }

    pub fn into_inner(self) -> Vec<String> {
        self.0
    }
}

string_newtype!(
    /// A search query: 1–200 characters.
    SearchQuery
);

impl SearchQuery {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        text(raw, ErrorCode::InvalidQuery, "search query", 1, 200, false).map(SearchQuery)
    }
}

/// The `@username` mentions in a text, deduplicated, in order of first appearance.
pub fn mentioned_usernames(body: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let at_word_start = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if chars[i] == '@' && at_word_start {
            let name: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                .collect();
            let name = name.trim_end_matches(['.', '-']).to_ascii_lowercase();
            if Username::parse(&name).is_ok() && !seen.contains(&name) {
                seen.push(name.clone());
            }
            i += 1 + name.len();
        } else {
            i += 1;
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        assert!(Username::parse("ann").is_ok());
        assert!(Username::parse("ann.lee_2-x").is_ok());
        assert_eq!(
            Username::parse("  bob  ").map(|u| u.into_inner()),
            Ok("bob".into())
        );
        for bad in [
            "an",
            "Ann",
            "ann lee",
            "_ann",
            "a".repeat(33).as_str(),
            "ann!",
            "änn",
            "",
        ] {
            assert_eq!(
                Username::parse(bad).map_err(|e| e.code.as_str()),
                Err("invalid_username"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn passwords_need_ten_characters_and_to_be_hard_to_guess() {
        let context = ["annabel", "Annabel Lee"];
        let code = |raw: &str| Password::parse(raw, &context).map_err(|e| e.code.as_str());
        assert_eq!(code("short"), Err("weak_password"));
        assert_eq!(code(&"x".repeat(2000)), Err("invalid_password"));
        for weak in [
            "password12",
            "aaaaaaaaaa",
            "1234567890",
            "qwertyuiop123",
            "annabel2024!",
            "Annabel Lee 1",
            "flowlyflowly",
        ] {
            assert_eq!(code(weak), Err("weak_password"), "{weak:?} accepted");
        }
        for strong in [
            "copper kettles hum beside 9 quiet wolves",
            "amber herons drift past quiet mills 0",
            "idle sockets hum beside 9 quiet wolves",
            "annabel rides 7 purple trams at dawn",
            "f3a9c1d27be04e6a9d5c8b1e0f7a2c64",
        ] {
            assert!(code(strong).is_ok(), "{strong:?} refused");
        }
        // A long password is judged by its start, so checking it stays cheap.
        assert!(
            code(&format!(
                "copper kettles hum beside 9 quiet wolves{}",
                "x".repeat(900)
            ))
            .is_ok()
        );
    }

    #[test]
    fn a_weak_password_is_refused_with_the_estimators_advice() {
        let err = Password::parse("password12", &["ann", "Ann"]).unwrap_err();
        assert!(
            err.message
                .starts_with("this password is too easy to guess: "),
            "{}",
            err.message
        );
        assert!(err.message.len() > "this password is too easy to guess: ".len() + 10);
    }

    #[test]
    fn text_fields_are_trimmed_and_bounded() {
        assert_eq!(
            RoomName::parse("  Ops  ").map(|n| n.into_inner()),
            Ok("Ops".into())
        );
        assert!(RoomName::parse("   ").is_err());
        assert!(RoomName::parse(&"r".repeat(81)).is_err());
        assert!(RoomName::parse("a\u{0}b").is_err());
        assert!(MessageBody::parse("line one\nline two", 100).is_ok());
        assert_eq!(
            MessageBody::parse(&"m".repeat(101), 100).map_err(|e| e.code.as_str()),
            Err("invalid_message")
        );
        assert!(Topic::parse("").is_ok());
    }

    #[test]
    fn task_titles_from_messages_take_the_first_line() {
        let title =
            TaskTitle::from_text("\n  Fix the login page  \nit is broken").map(|t| t.into_inner());
        assert_eq!(title, Ok("Fix the login page".into()));
        let long = TaskTitle::from_text(&"w".repeat(500)).map(|t| t.into_inner().chars().count());
        assert_eq!(long, Ok(200));
    }

    #[test]
    fn labels_are_deduplicated_and_sorted() {
        let labels =
            Labels::parse(&["ui".into(), " bug ".into(), "ui".into()]).map(Labels::into_inner);
        assert_eq!(labels, Ok(vec!["bug".to_string(), "ui".to_string()]));
        let many: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
        assert!(Labels::parse(&many).is_err());
    }

    #[test]
    fn mentions_are_found_at_word_starts() {
        assert_eq!(
            mentioned_usernames("hi @ann and @bob.k, @ann again"),
            vec!["ann", "bob.k"]
        );
        assert_eq!(
            mentioned_usernames("mail ann@example.com"),
            Vec::<String>::new()
        );
        assert_eq!(mentioned_usernames("@Ann: ping @x"), vec!["ann"]);
        assert_eq!(mentioned_usernames("end with @carol."), vec!["carol"]);
    }

    #[test]
    fn client_ids_and_emoji_are_checked() {
        assert!(ClientId::parse("0195a3b4-7c2d-7e8f-9a0b-1c2d3e4f5a6b").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("has space").is_err());
        assert!(Emoji::parse("👍").is_ok());
        assert!(Emoji::parse(":tada:").is_ok());
        assert!(Emoji::parse("a b").is_err());
        assert!(Emoji::parse(&"x".repeat(33)).is_err());
    }
}
