//! Bulk loading of a generated team (users, rooms, messages) for the assistant's evaluation and
//! benchmark. Used only on scratch databases those commands create.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::StoreResult;

/// Inserts users who cannot log in (no usable password).
pub async fn insert_users(
    tx: &mut PgConnection,
    ids: &[Uuid],
    usernames: &[String],
) -> StoreResult<()> {
    sqlx::query(
        "insert into users (id, username, display_name, password_hash)
         select id, name, name, '!' from unnest($1::uuid[], $2::text[]) as u(id, name)",
    )
    .bind(ids)
    .bind(usernames)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Inserts a group room with its members (the first is the owner).
pub async fn insert_room(
    tx: &mut PgConnection,
    id: Uuid,
    name: &str,
    members: &[Uuid],
) -> StoreResult<()> {
    sqlx::query("insert into rooms (id, kind, name, created_by) values ($1, 'group', $2, $3)")
        .bind(id)
        .bind(name)
        .bind(members.first())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "insert into room_members (room_id, user_id, role)
         select $1, u, case when o = 1 then 'owner' else 'member' end
         from unnest($2::uuid[]) with ordinality as m(u, o)",
    )
    .bind(id)
    .bind(members)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A batch of user messages for one room, in timeline order (parallel columns).
#[derive(Debug, Default)]
pub struct Messages {
    pub ids: Vec<Uuid>,
    pub authors: Vec<Uuid>,
    pub bodies: Vec<String>,
    pub times: Vec<DateTime<Utc>>,
    /// The message each replies to (in the same room), if any.
    pub reply_to: Vec<Option<Uuid>>,
    /// The task whose discussion each belongs to, if any.
    pub tasks: Vec<Option<Uuid>>,
}

/// Appends user messages to a room's timeline in order, numbering them after its last event.
pub async fn insert_messages(
    tx: &mut PgConnection,
    room: Uuid,
    batch: &Messages,
) -> StoreResult<()> {
    let last: i64 = sqlx::query_scalar(
        "update rooms set last_seq = last_seq + $2, updated_at = now() where id = $1 returning last_seq - $2",
    )
    .bind(room)
    .bind(batch.ids.len() as i64)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "insert into messages (id, room_id, seq, author_id, kind, body, created_at, reply_to, task_id)
         select id, $1, $2 + o, author, 'user', body, at, reply, task
         from unnest($3::uuid[], $4::uuid[], $5::text[], $6::timestamptz[], $7::uuid[], $8::uuid[])
              with ordinality as m(id, author, body, at, reply, task, o)",
    )
    .bind(room)
    .bind(last)
    .bind(&batch.ids)
    .bind(&batch.authors)
    .bind(&batch.bodies)
    .bind(&batch.times)
    .bind(&batch.reply_to)
    .bind(&batch.tasks)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A task as the evaluation corpus plants it.
#[derive(Debug)]
pub struct NewTask<'a> {
    pub id: Uuid,
    pub room: Uuid,
    pub creator: Uuid,
    pub assignee: Option<Uuid>,
    pub title: &'a str,
    pub description: &'a str,
    pub due_on: Option<chrono::NaiveDate>,
    pub created_at: DateTime<Utc>,
}

/// Inserts a task (position by creation time).
pub async fn insert_task(tx: &mut PgConnection, task: &NewTask<'_>) -> StoreResult<()> {
    sqlx::query(
        "insert into tasks (id, room_id, creator_id, assignee_id, title, description, due_on,
                            position, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, extract(epoch from $8::timestamptz), $8, $8)",
    )
    .bind(task.id)
    .bind(task.room)
    .bind(task.creator)
    .bind(task.assignee)
    .bind(task.title)
    .bind(task.description)
    .bind(task.due_on)
    .bind(task.created_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
