//! The assistant's vocabulary: what a request asks for, where it stands, and the rules on what
//! people may ask (a question's length, how many messages one extraction reads).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ErrorCode, Invalid};

/// What an assistant request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum RequestKind {
    /// A question answered from the rooms the asker is in.
    Ask,
    /// A summary of a room since the asker's last read.
    Summary,
    /// Tasks proposed from selected messages.
    Extract,
}

impl RequestKind {
    /// The name stored and sent to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Ask => "ask",
            RequestKind::Summary => "summary",
            RequestKind::Extract => "extract",
        }
    }
}

/// Where an assistant request stands: `queued` until a worker starts it, `running`, then `done`
/// or `failed` for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum RequestStatus {
    Queued,
    Running,
    Done,
    Failed,
}

impl RequestStatus {
    /// The name stored and sent to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Queued => "queued",
            RequestStatus::Running => "running",
            RequestStatus::Done => "done",
            RequestStatus::Failed => "failed",
        }
    }
}

/// A question for the assistant: trimmed, not empty, at most the configured characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question(String);

impl Question {
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, Invalid> {
        let question = raw.trim();
        if question.is_empty() {
            return Err(Invalid::new(
                ErrorCode::EmptyQuestion,
                "the question is empty",
            ));
        }
        if question.chars().count() > max_chars {
            return Err(Invalid::new(
                ErrorCode::QuestionTooLong,
                format!("a question may have at most {max_chars} characters"),
            ));
        }
        Ok(Question(question.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Most messages one task extraction reads.
pub const MAX_EXTRACT_MESSAGES: usize = 50;

/// The messages selected for a task extraction, each once and in id order: 1 to
/// [`MAX_EXTRACT_MESSAGES`] of them.
pub fn extract_selection(ids: &[Uuid]) -> Result<Vec<Uuid>, Invalid> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || ids.len() > MAX_EXTRACT_MESSAGES {
        return Err(Invalid::new(
            ErrorCode::InvalidMessageIds,
            format!("select 1 to {MAX_EXTRACT_MESSAGES} messages"),
        ));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_their_stored_names() {
        for kind in [RequestKind::Ask, RequestKind::Summary, RequestKind::Extract] {
            let json = serde_json::to_string(&kind).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<RequestKind>(&json).ok(), Some(kind));
        }
        assert!(serde_json::from_str::<RequestKind>("\"Ask\"").is_err());
    }

    #[test]
    fn statuses_round_trip_by_their_stored_names() {
        for status in [
            RequestStatus::Queued,
            RequestStatus::Running,
            RequestStatus::Done,
            RequestStatus::Failed,
        ] {
            let json = serde_json::to_string(&status).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(
                serde_json::from_str::<RequestStatus>(&json).ok(),
                Some(status)
            );
        }
        assert!(serde_json::from_str::<RequestStatus>("\"pending\"").is_err());
    }

    #[test]
    fn questions_are_trimmed_and_bounded() {
        assert_eq!(
            Question::parse("  when is the launch?\n", 100).map(|q| q.as_str().to_owned()),
            Ok("when is the launch?".to_owned())
        );
        assert_eq!(
            Question::parse(" \n\t", 100).map_err(|e| e.code),
            Err(ErrorCode::EmptyQuestion)
        );
        assert!(Question::parse("ééééé", 5).is_ok());
        let long = Question::parse("éééééé", 5);
        assert_eq!(
            long.clone().map_err(|e| e.code),
            Err(ErrorCode::QuestionTooLong)
        );
        assert_eq!(
            long.map_err(|e| e.message),
            Err("a question may have at most 5 characters".to_owned())
        );
    }

    #[test]
    fn an_extraction_reads_each_selected_message_once() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(extract_selection(&[b, a, b]), Ok(vec![a, b]));
        assert_eq!(
            extract_selection(&[]).map_err(|e| e.code),
            Err(ErrorCode::InvalidMessageIds)
        );
        let many: Vec<Uuid> = (0..=MAX_EXTRACT_MESSAGES as u128)
            .map(Uuid::from_u128)
            .collect();
        assert!(extract_selection(&many).is_err());
        assert!(extract_selection(&many[1..]).is_ok());
    }
}
