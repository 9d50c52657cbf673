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

/// Appends user messages to a room's timeline in order, numbering them after its last event.
pub async fn insert_messages(
    tx: &mut PgConnection,
    room: Uuid,
    ids: &[Uuid],
    authors: &[Uuid],
    bodies: &[String],
    times: &[DateTime<Utc>],
) -> StoreResult<()> {
    let last: i64 = sqlx::query_scalar(
        "update rooms set last_seq = last_seq + $2, updated_at = now() where id = $1 returning last_seq - $2",
    )
    .bind(room)
    .bind(ids.len() as i64)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "insert into messages (id, room_id, seq, author_id, kind, body, created_at)
         select id, $1, $2 + o, author, 'user', body, at
         from unnest($3::uuid[], $4::uuid[], $5::text[], $6::timestamptz[]) with ordinality as m(id, author, body, at, o)",
    )
    .bind(room)
    .bind(last)
    .bind(ids)
    .bind(authors)
    .bind(bodies)
    .bind(times)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
