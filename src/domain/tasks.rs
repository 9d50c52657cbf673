//! Task rules: statuses, priorities and board positions.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ErrorCode, Invalid};

/// Where a task stands; the board has one column per status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum TaskStatus {
    Todo,
    Doing,
    Blocked,
    Done,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Todo => "todo",
            TaskStatus::Doing => "doing",
            TaskStatus::Blocked => "blocked",
            TaskStatus::Done => "done",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

/// What happened to a task: its history (`task_events.kind`) and the system message posted for it
/// in the room's timeline (`data.event` = `task_<kind>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum TaskEventKind {
    Created,
    /// Fields changed without a move.
    Updated,
    /// Another column (other than to or from `done`) or another place in the column.
    Moved,
    /// Became `done`.
    Completed,
    /// Left `done`.
    Reopened,
    Deleted,
}

impl TaskEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskEventKind::Created => "created",
            TaskEventKind::Updated => "updated",
            TaskEventKind::Moved => "moved",
            TaskEventKind::Completed => "completed",
            TaskEventKind::Reopened => "reopened",
            TaskEventKind::Deleted => "deleted",
        }
    }

    /// The kind of a change from `before` to `after`: completing and reopening first, then a
    /// move (column or place), else an update.
    pub fn of_change(before: TaskStatus, after: TaskStatus, moved: bool) -> TaskEventKind {
        match (before, after) {
            (b, TaskStatus::Done) if b != TaskStatus::Done => TaskEventKind::Completed,
            (TaskStatus::Done, a) if a != TaskStatus::Done => TaskEventKind::Reopened,
            (b, a) if b != a || moved => TaskEventKind::Moved,
            _ => TaskEventKind::Updated,
        }
    }

    /// The timeline's sentence for this event of the task `title` (now in column `status`).
    pub fn sentence(self, title: &str, status: TaskStatus) -> String {
        match self {
            TaskEventKind::Created => format!("created task “{title}”"),
            TaskEventKind::Moved => format!("moved task “{title}” to {}", status.as_str()),
            TaskEventKind::Completed => format!("completed task “{title}”"),
            TaskEventKind::Reopened => format!("reopened task “{title}”"),
            TaskEventKind::Deleted => format!("deleted task “{title}”"),
            TaskEventKind::Updated => format!("updated task “{title}”"),
        }
    }
}

/// Spacing between neighbouring tasks when a task is placed at either end of a column.
pub const POSITION_STEP: f64 = 1024.0;

/// The position for a task placed between `before` (above it) and `after` (below it) in a column.
/// Returns `None` when the two are too close to split, and the column must be renumbered.
pub fn position_between(above: Option<f64>, below: Option<f64>) -> Option<f64> {
    let position = match (above, below) {
        (None, None) => POSITION_STEP,
        (Some(a), None) => a + POSITION_STEP,
        (None, Some(b)) => b - POSITION_STEP,
        (Some(a), Some(b)) => a + (b - a) / 2.0,
    };
    let clear_of = |n: Option<f64>| n.is_none_or(|n| (position - n).abs() > 1e-6);
    (clear_of(above) && clear_of(below)).then_some(position)
}

/// A task due date: `YYYY-MM-DD`, years 1 to 9999.
pub fn parse_due(raw: &str) -> Result<chrono::NaiveDate, Invalid> {
    use chrono::Datelike;
    chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (1..=9999).contains(&d.year()))
        .ok_or_else(|| {
            Invalid::new(
                ErrorCode::InvalidDue,
                "due date must be a date like 2026-12-31",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_split_the_gap_between_neighbours() {
        assert_eq!(position_between(None, None), Some(1024.0));
        assert_eq!(position_between(Some(1024.0), None), Some(2048.0));
        assert_eq!(position_between(None, Some(1024.0)), Some(0.0));
        assert_eq!(position_between(Some(1024.0), Some(2048.0)), Some(1536.0));
        assert_eq!(position_between(Some(1.0), Some(1.0 + 1e-7)), None);
    }

    #[test]
    fn a_change_is_named_for_what_it_did_to_the_task() {
        use TaskStatus::*;
        let kind = TaskEventKind::of_change;
        assert_eq!(kind(Doing, Done, false), TaskEventKind::Completed);
        assert_eq!(kind(Done, Todo, true), TaskEventKind::Reopened);
        assert_eq!(kind(Todo, Doing, false), TaskEventKind::Moved);
        assert_eq!(kind(Todo, Todo, true), TaskEventKind::Moved);
        assert_eq!(kind(Todo, Todo, false), TaskEventKind::Updated);
        assert_eq!(
            TaskEventKind::Moved.sentence("Ship", Doing),
            "moved task “Ship” to doing"
        );
    }

    #[test]
    fn due_dates_are_iso_dates() {
        assert!(parse_due("2026-12-31").is_ok());
        assert_eq!(
            parse_due("31/12/2026").map_err(|e| e.code),
            Err(ErrorCode::InvalidDue)
        );
        assert!(parse_due("2026-02-30").is_err());
        assert!(parse_due("-10000-01-01").is_err());
        assert!(parse_due("+99999-12-31").is_err());
    }
}
