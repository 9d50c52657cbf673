//! Tasks, their board positions and their event history.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgExecutor, types::Json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{StoreResult, new_id};
use crate::domain::{
    RoomKind,
    tasks::{POSITION_STEP, Priority, TaskEventKind, TaskStatus},
};

/// A task as a member of its room sees it.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Task {
    pub id: Uuid,
    pub room_id: Uuid,
    /// `group`, `dm`, or `self` for a personal task.
    pub room_kind: RoomKind,
    pub creator_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub priority: Priority,
    pub assignee_id: Option<Uuid>,
    pub assignee_username: Option<String>,
    pub assignee_display_name: Option<String>,
    /// Due date, `YYYY-MM-DD`.
    pub due_on: Option<NaiveDate>,
    pub labels: Vec<String>,
    /// Order within its board column; lower comes first. The same for everyone.
    pub position: f64,
    /// The message the task was made from.
    pub source_message_id: Option<Uuid>,
    /// The conversation around the source message when the task was made.
    #[schema(value_type = Option<Vec<Object>>)]
    pub source_snapshot: Option<Json<serde_json::Value>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Messages in the task's own discussion.
    pub comment_count: i64,
}

/// `$1` is always the viewer.
const TASK_SELECT: &str = "
    select t.id, t.room_id, r.kind as room_kind, t.creator_id, t.title, t.description, t.status, t.priority,
           t.assignee_id, a.username as assignee_username, a.display_name as assignee_display_name,
           t.due_on, t.labels, t.position, t.source_message_id, t.source_snapshot, t.completed_at, t.created_at, t.updated_at,
           (select count(*) from messages c where c.task_id = t.id and c.deleted_at is null) as comment_count
    from tasks t
    join rooms r on r.id = t.room_id
    join room_members v on v.room_id = t.room_id and v.user_id = $1
    left join users a on a.id = t.assignee_id";

/// The stored fields of a task, read for an update and written back whole.
#[derive(Debug, Clone, FromRow)]
pub struct TaskRow {
    pub id: Uuid,
    pub room_id: Uuid,
    pub creator_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub priority: Priority,
    pub assignee_id: Option<Uuid>,
    pub due_on: Option<NaiveDate>,
    pub labels: Vec<String>,
    pub position: f64,
}

pub async fn get(db: impl PgExecutor<'_>, viewer: Uuid, id: Uuid) -> StoreResult<Option<Task>> {
    let sql = format!("{TASK_SELECT} where t.id = $2 and t.deleted_at is null");
    Ok(sqlx::query_as(&sql)
        .bind(viewer)
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// A live task's stored fields, locked against other changes, if the viewer is a member of its
/// room. `no key update` leaves the key-share locks of foreign-key checks free: a message posted to
/// the task's discussion (which holds its room's row) must not wait on an edit of the task (which
/// then waits on the room's row) — that order deadlocked.
pub async fn lock(tx: &mut PgConnection, viewer: Uuid, id: Uuid) -> StoreResult<Option<TaskRow>> {
    Ok(sqlx::query_as(
        "select t.id, t.room_id, t.creator_id, t.title, t.description, t.status, t.priority, t.assignee_id, t.due_on,
                t.labels, t.position
         from tasks t join room_members v on v.room_id = t.room_id and v.user_id = $1
         where t.id = $2 and t.deleted_at is null
         for no key update of t",
    )
    .bind(viewer)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?)
}

/// Inserts a task; `row.id` is used as given.
pub async fn insert(
    tx: &mut PgConnection,
    row: &TaskRow,
    source_message_id: Option<Uuid>,
    source_snapshot: Option<serde_json::Value>,
) -> StoreResult<()> {
    sqlx::query(
        "insert into tasks (id, room_id, creator_id, title, description, status, priority, assignee_id, due_on, labels,
                            position, source_message_id, source_snapshot, completed_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, case when $6 = 'done' then now() end)",
    )
    .bind(row.id)
    .bind(row.room_id)
    .bind(row.creator_id)
    .bind(&row.title)
    .bind(&row.description)
    .bind(row.status)
    .bind(row.priority)
    .bind(row.assignee_id)
    .bind(row.due_on)
    .bind(&row.labels)
    .bind(row.position)
    .bind(source_message_id)
    .bind(source_snapshot)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Writes back every editable field; `completed_at` follows the status.
pub async fn save(tx: &mut PgConnection, row: &TaskRow) -> StoreResult<()> {
    sqlx::query(
        "update tasks set title = $2, description = $3, status = $4, priority = $5, assignee_id = $6, due_on = $7,
                labels = $8, position = $9, updated_at = now(),
                completed_at = case when $4 = 'done' then coalesce(completed_at, now()) end
         where id = $1",
    )
    .bind(row.id)
    .bind(&row.title)
    .bind(&row.description)
    .bind(row.status)
    .bind(row.priority)
    .bind(row.assignee_id)
    .bind(row.due_on)
    .bind(&row.labels)
    .bind(row.position)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn soft_delete(db: impl PgExecutor<'_>, id: Uuid) -> StoreResult<()> {
    sqlx::query("update tasks set deleted_at = now(), updated_at = now() where id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Filters for listing tasks; all optional.
#[derive(Debug, Default)]
pub struct TaskFilter {
    pub room: Option<Uuid>,
    pub assignee: Option<Uuid>,
    pub statuses: Vec<TaskStatus>,
    pub due_before: Option<NaiveDate>,
    pub label: Option<String>,
}

/// Tasks in rooms the viewer belongs to that match `filter`: by room and board position when
/// one room is asked for, otherwise by due date (soonest first) then creation.
pub async fn list(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    filter: &TaskFilter,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<Task>> {
    let order = if filter.room.is_some() {
        "array_position(array['todo', 'doing', 'blocked', 'done'], t.status), t.position, t.id"
    } else {
        "t.due_on nulls last, t.id"
    };
    let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
    let sql = format!(
        "{TASK_SELECT}
         where t.deleted_at is null
           and ($2::uuid is null or t.room_id = $2)
           and ($3::uuid is null or t.assignee_id = $3)
           and (cardinality($4::text[]) = 0 or t.status = any($4))
           and ($5::date is null or t.due_on < $5)
           and ($6::text is null or $6 = any(t.labels))
         order by {order} limit $7 offset $8"
    );
    Ok(sqlx::query_as(&sql)
        .bind(viewer)
        .bind(filter.room)
        .bind(filter.assignee)
        .bind(statuses)
        .bind(filter.due_before)
        .bind(filter.label.as_deref())
        .bind(limit)
        .bind(offset)
        .fetch_all(db)
        .await?)
}

/// Position of `task` and of the task just below it in a board column (excluding `moving`).
pub async fn neighbours(
    tx: &mut PgConnection,
    room: Uuid,
    status: TaskStatus,
    above: Uuid,
    moving: Uuid,
) -> StoreResult<Option<(f64, Option<f64>)>> {
    let Some(pos): Option<f64> = sqlx::query_scalar(
        "select position from tasks where id = $1 and room_id = $2 and status = $3 and deleted_at is null and id <> $4",
    )
    .bind(above)
    .bind(room)
    .bind(status)
    .bind(moving)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let below: Option<f64> = sqlx::query_scalar(
        "select min(position) from tasks where room_id = $1 and status = $2 and deleted_at is null and position > $3 and id <> $4",
    )
    .bind(room)
    .bind(status)
    .bind(pos)
    .bind(moving)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Some((pos, below)))
}

/// The lowest and highest positions in a board column (excluding `moving`).
pub async fn column_bounds(
    tx: &mut PgConnection,
    room: Uuid,
    status: TaskStatus,
    moving: Uuid,
) -> StoreResult<(Option<f64>, Option<f64>)> {
    Ok(sqlx::query_as(
        "select min(position), max(position) from tasks where room_id = $1 and status = $2 and deleted_at is null and id <> $3",
    )
    .bind(room)
    .bind(status)
    .bind(moving)
    .fetch_one(&mut *tx)
    .await?)
}

/// Spreads a column's positions out evenly again, keeping their order.
pub async fn renumber(tx: &mut PgConnection, room: Uuid, status: TaskStatus) -> StoreResult<()> {
    sqlx::query(
        "update tasks t set position = n.rn * $3 from (
            select id, row_number() over (order by position, id) as rn from tasks
            where room_id = $1 and status = $2 and deleted_at is null) n
         where t.id = n.id",
    )
    .bind(room)
    .bind(status)
    .bind(POSITION_STEP)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One recorded change to a task.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct TaskEvent {
    pub id: Uuid,
    pub task_id: Uuid,
    pub actor_id: Option<Uuid>,
    pub actor_display_name: Option<String>,
    pub kind: TaskEventKind,
    /// What changed: `{"field": {"from": ..., "to": ...}}`.
    #[schema(value_type = Object)]
    pub changes: Json<serde_json::Value>,
    /// The system message that shows the change in the room's timeline.
    pub message_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_event(
    tx: &mut PgConnection,
    task: Uuid,
    actor: Uuid,
    kind: TaskEventKind,
    changes: &serde_json::Value,
    message_id: Uuid,
) -> StoreResult<()> {
    sqlx::query("insert into task_events (id, task_id, actor_id, kind, changes, message_id) values ($1, $2, $3, $4, $5, $6)")
        .bind(new_id())
        .bind(task)
        .bind(actor)
        .bind(kind)
        .bind(changes)
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A task's history, oldest first, if the viewer is a member of its room.
pub async fn events(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    task: Uuid,
) -> StoreResult<Vec<TaskEvent>> {
    Ok(sqlx::query_as(
        "select e.id, e.task_id, e.actor_id, u.display_name as actor_display_name, e.kind, e.changes, e.message_id, e.created_at
         from task_events e
         join tasks t on t.id = e.task_id
         join room_members v on v.room_id = t.room_id and v.user_id = $1
         left join users u on u.id = e.actor_id
         where e.task_id = $2 order by e.created_at, e.id",
    )
    .bind(viewer)
    .bind(task)
    .fetch_all(db)
    .await?)
}
