//! Rooms and their members. A room is a DM (one per pair of people), a group, or a person's own
//! `self` room that holds their personal tasks.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgExecutor, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{StoreResult, new_id};
use crate::domain::{Role, RoomKind};

/// What the caller is to a room; `None` from [`membership`] means not a member.
#[derive(Debug, Clone)]
pub struct Membership {
    pub room_id: Uuid,
    pub kind: RoomKind,
    pub role: Role,
    pub last_seq: i64,
}

impl Membership {
    pub fn is_owner(&self) -> bool {
        self.role == Role::Owner
    }

    pub fn is_group(&self) -> bool {
        self.kind == RoomKind::Group
    }
}

/// A room as a member sees it in the room list.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Room {
    pub id: Uuid,
    pub kind: RoomKind,
    /// The group's name; for a DM, the other person's display name; for `self`, "Personal".
    pub name: String,
    pub topic: String,
    /// The caller's role.
    pub role: Role,
    /// For a DM, the other person.
    pub dm_user_id: Option<Uuid>,
    pub dm_username: Option<String>,
    pub member_count: i64,
    /// Sequence number of the room's newest event.
    pub last_seq: i64,
    /// The caller's read marker.
    pub last_read_seq: i64,
    /// Messages by others after the read marker (system messages such as task events excluded).
    pub unread_count: i64,
    /// Unread messages that mention the caller.
    pub unread_mentions: i64,
    /// The caller muted the room: its messages do not notify them (see `PUT rooms/{id}/mute`).
    pub muted: bool,
    #[schema(value_type = Option<Object>)]
    pub last_message: Option<sqlx::types::Json<serde_json::Value>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Member {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub last_read_seq: i64,
    pub joined_at: DateTime<Utc>,
    /// `online`, `away` or `offline` when the list was read; `null` if presence could not be
    /// read then.
    #[sqlx(default)]
    #[schema(example = "online")]
    pub presence: Option<String>,
}

/// The caller's membership of a room, or `None` when the room does not exist or they are not in it.
pub async fn membership(
    db: impl PgExecutor<'_>,
    room: Uuid,
    user: Uuid,
) -> StoreResult<Option<Membership>> {
    let row: Option<(Uuid, RoomKind, Role, i64)> = sqlx::query_as(
        "select r.id, r.kind, m.role, r.last_seq from rooms r join room_members m on m.room_id = r.id
         where r.id = $1 and m.user_id = $2",
    )
    .bind(room)
    .bind(user)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(room_id, kind, role, last_seq)| Membership {
        room_id,
        kind,
        role,
        last_seq,
    }))
}

/// [`membership`], and with it the message the caller already sent to the room with
/// `client_id` (a retried send): one statement for the two questions every send asks (the
/// subquery costs [`membership`]'s other callers nothing, so they keep the plain one).
pub async fn membership_sent(
    db: impl PgExecutor<'_>,
    room: Uuid,
    user: Uuid,
    client_id: Option<&str>,
) -> StoreResult<Option<(Membership, Option<Uuid>)>> {
    let row: Option<(Uuid, RoomKind, Role, i64, Option<Uuid>)> = sqlx::query_as(
        "select r.id, r.kind, m.role, r.last_seq,
                (select s.id from messages s where s.room_id = r.id and s.author_id = $2 and s.client_id = $3)
         from rooms r join room_members m on m.room_id = r.id
         where r.id = $1 and m.user_id = $2",
    )
    .bind(room)
    .bind(user)
    .bind(client_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(room_id, kind, role, last_seq, sent)| {
        let membership = Membership {
            room_id,
            kind,
            role,
            last_seq,
        };
        (membership, sent)
    }))
}

/// Locks a room's row until the transaction ends, serialising changes to the room (its members,
/// its board). Like appending to the room's stream (`update rooms set last_seq`), it takes `no key
/// update`, so rows that merely reference the room are not blocked.
pub async fn lock(tx: &mut PgConnection, room: Uuid) -> StoreResult<()> {
    sqlx::query("select 1 from rooms where id = $1 for no key update")
        .bind(room)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Same as [`membership`] but locks the room row, serialising changes to its members.
pub async fn membership_for_update(
    tx: &mut PgConnection,
    room: Uuid,
    user: Uuid,
) -> StoreResult<Option<Membership>> {
    sqlx::query("select 1 from rooms where id = $1 for no key update")
        .bind(room)
        .execute(&mut *tx)
        .await?;
    membership(&mut *tx, room, user).await
}

const ROOM_SELECT: &str = "
    select r.id, r.kind,
           case r.kind when 'group' then r.name when 'self' then 'Personal' else coalesce(o.display_name, 'Unknown') end as name,
           r.topic, me.role, o.id as dm_user_id, o.username as dm_username,
           (select count(*) from room_members c where c.room_id = r.id) as member_count,
           r.last_seq, me.last_read_seq,
           (select count(*) from messages x where x.room_id = r.id and x.seq > me.last_read_seq and x.task_id is null
              and x.kind <> 'system' and x.deleted_at is null and x.author_id is distinct from me.user_id) as unread_count,
           (select count(*) from mentions mn join messages x on x.id = mn.message_id
              where mn.user_id = me.user_id and mn.room_id = r.id and x.seq > me.last_read_seq and x.deleted_at is null) as unread_mentions,
           me.muted,
           (select json_build_object('id', x.id, 'seq', x.seq, 'kind', x.kind, 'body', x.body, 'author_id', x.author_id,
                   'author_display_name', au.display_name, 'created_at', x.created_at)
              from messages x left join users au on au.id = x.author_id
              where x.room_id = r.id and x.task_id is null and x.deleted_at is null order by x.seq desc limit 1) as last_message,
           r.created_at, r.updated_at
    from rooms r
    join room_members me on me.room_id = r.id and me.user_id = $1
    left join lateral (select u.id, u.username, u.display_name from room_members om join users u on u.id = om.user_id
                       where r.kind = 'dm' and om.room_id = r.id and om.user_id <> $1 limit 1) o on true";

/// The caller's rooms, most recently active first.
pub async fn list_for_user(db: impl PgExecutor<'_>, user: Uuid) -> StoreResult<Vec<Room>> {
    let sql = format!("{ROOM_SELECT} order by r.updated_at desc, r.id");
    Ok(sqlx::query_as(&sql).bind(user).fetch_all(db).await?)
}

/// One room as the caller sees it; `None` unless they are a member.
pub async fn get(db: impl PgExecutor<'_>, room: Uuid, user: Uuid) -> StoreResult<Option<Room>> {
    let sql = format!("{ROOM_SELECT} where r.id = $2");
    Ok(sqlx::query_as(&sql)
        .bind(user)
        .bind(room)
        .fetch_optional(db)
        .await?)
}

pub async fn insert_group(
    tx: &mut PgConnection,
    creator: Uuid,
    name: &str,
    topic: &str,
) -> StoreResult<Uuid> {
    let id = new_id();
    sqlx::query(
        "insert into rooms (id, kind, name, topic, created_by) values ($1, 'group', $2, $3, $4)",
    )
    .bind(id)
    .bind(name)
    .bind(topic)
    .bind(creator)
    .execute(&mut *tx)
    .await?;
    add_member(&mut *tx, id, creator, Role::Owner).await?;
    Ok(id)
}

/// The DM room of two people, made on first use; the same pair always gets the same room.
/// Returns the room id and whether it was just created.
pub async fn dm(tx: &mut PgConnection, a: Uuid, b: Uuid) -> StoreResult<(Uuid, bool)> {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    keyed_room(tx, RoomKind::Dm, &format!("dm:{lo}:{hi}"), a, &[lo, hi]).await
}

/// A person's own room, home of their personal tasks, made on first use.
pub async fn self_room(tx: &mut PgConnection, user: Uuid) -> StoreResult<Uuid> {
    Ok(keyed_room(
        tx,
        RoomKind::Personal,
        &format!("self:{user}"),
        user,
        &[user],
    )
    .await?
    .0)
}

async fn keyed_room(
    tx: &mut PgConnection,
    kind: RoomKind,
    key: &str,
    creator: Uuid,
    members: &[Uuid],
) -> StoreResult<(Uuid, bool)> {
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "insert into rooms (id, kind, dm_key, created_by) values ($1, $2, $3, $4) on conflict (dm_key) do nothing returning id",
    )
    .bind(new_id())
    .bind(kind)
    .bind(key)
    .bind(creator)
    .fetch_optional(&mut *tx)
    .await?;
    match inserted {
        Some(id) => {
            for member in members {
                add_member(&mut *tx, id, *member, Role::Member).await?;
            }
            Ok((id, true))
        }
        None => {
            let id = sqlx::query_scalar("select id from rooms where dm_key = $1")
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
            Ok((id, false))
        }
    }
}

/// Adds a member; returns false when they already were one.
pub async fn add_member(
    db: impl PgExecutor<'_>,
    room: Uuid,
    user: Uuid,
    role: Role,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "insert into room_members (room_id, user_id, role, last_read_seq)
         select $1, $2, $3, last_seq from rooms where id = $1
         on conflict do nothing",
    )
    .bind(room)
    .bind(user)
    .bind(role)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes a member; returns false when they were not one.
pub async fn remove_member(db: impl PgExecutor<'_>, room: Uuid, user: Uuid) -> StoreResult<bool> {
    let done = sqlx::query("delete from room_members where room_id = $1 and user_id = $2")
        .bind(room)
        .bind(user)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn set_role(
    db: impl PgExecutor<'_>,
    room: Uuid,
    user: Uuid,
    role: Role,
) -> StoreResult<bool> {
    let done = sqlx::query("update room_members set role = $3 where room_id = $1 and user_id = $2")
        .bind(room)
        .bind(user)
        .bind(role)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The longest-standing remaining member, to inherit ownership when the owner leaves.
pub async fn oldest_member(db: impl PgExecutor<'_>, room: Uuid) -> StoreResult<Option<Uuid>> {
    Ok(sqlx::query_scalar(
        "select user_id from room_members where room_id = $1 order by joined_at, user_id limit 1",
    )
    .bind(room)
    .fetch_optional(db)
    .await?)
}

pub async fn update_details(
    db: impl PgExecutor<'_>,
    room: Uuid,
    name: Option<&str>,
    topic: Option<&str>,
) -> StoreResult<()> {
    sqlx::query("update rooms set name = coalesce($2, name), topic = coalesce($3, topic), updated_at = now() where id = $1")
        .bind(room)
        .bind(name)
        .bind(topic)
        .execute(db)
        .await?;
    Ok(())
}

/// Members of a room, visible only to a member (`viewer`).
pub async fn members(
    db: impl PgExecutor<'_>,
    room: Uuid,
    viewer: Uuid,
) -> StoreResult<Vec<Member>> {
    Ok(sqlx::query_as(
        "select u.id as user_id, u.username, u.display_name, m.role, m.last_read_seq, m.joined_at
         from room_members m join users u on u.id = m.user_id
         where m.room_id = $1 and exists (select 1 from room_members v where v.room_id = $1 and v.user_id = $2)
         order by m.joined_at, u.username",
    )
    .bind(room)
    .bind(viewer)
    .fetch_all(db)
    .await?)
}

/// Moves the caller's read marker forward to `seq` (never back, never past the room's end).
/// Returns the marker after the move.
///
/// Committed without waiting for the WAL flush ([`super::commit_without_flush`], hence a pool):
/// a read marker is where someone's eyes were, rewritten every few seconds by every reader, and
/// waiting for the disk made read markers a large share of what PostgreSQL waited on under load.
pub async fn mark_read(
    db: &PgPool,
    room: Uuid,
    user: Uuid,
    seq: i64,
) -> StoreResult<Option<ReadMarker>> {
    const SQL: &str = concat!(
        "update room_members m set last_read_seq = greatest(m.last_read_seq, least($3, r.last_seq))
         from rooms r where r.id = m.room_id and m.room_id = $1 and m.user_id = $2
           and ",
        super::commit_without_flush!(),
        "
         returning m.last_read_seq, (select count(*) from room_members c where c.room_id = $1) as members",
    );
    Ok(sqlx::query_as(SQL)
        .bind(room)
        .bind(user)
        .bind(seq)
        .fetch_optional(db)
        .await?)
}

/// Where a read marker stands after [`mark_read`], and how many members its room has.
#[derive(Debug, Clone, Copy, FromRow)]
pub struct ReadMarker {
    pub last_read_seq: i64,
    pub members: i64,
}

/// Whether `user` is a member of `room` (e.g. before making them a task assignee).
pub async fn is_member(db: impl PgExecutor<'_>, room: Uuid, user: Uuid) -> StoreResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from room_members where room_id = $1 and user_id = $2)",
    )
    .bind(room)
    .bind(user)
    .fetch_one(db)
    .await?)
}

/// Every room of a user with its current `last_seq`.
pub async fn ids_for_user(db: impl PgExecutor<'_>, user: Uuid) -> StoreResult<Vec<(Uuid, i64)>> {
    Ok(sqlx::query_as(
        "select r.id, r.last_seq from room_members m join rooms r on r.id = m.room_id where m.user_id = $1",
    )
    .bind(user)
    .fetch_all(db)
    .await?)
}

/// People who see a user's presence live: their friends, and those sharing a room of at most
/// `max_members` members with them.
pub async fn contacts(
    db: impl PgExecutor<'_>,
    user: Uuid,
    max_members: i64,
) -> StoreResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "with small as (
           select m1.room_id from room_members m1
           where m1.user_id = $1 and (select count(*) from room_members c where c.room_id = m1.room_id) <= $2)
         select m2.user_id from small join room_members m2 on m2.room_id = small.room_id
         where m2.user_id <> $1
         union
         select friend_id from friendships where user_id = $1",
    )
    .bind(user)
    .bind(max_members)
    .fetch_all(db)
    .await?)
}
