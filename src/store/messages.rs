//! Messages, reactions, mentions and full-text search. Every read joins the viewer's membership.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Connection, FromRow, PgConnection, PgExecutor, types::Json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{StoreResult, new_id};
use crate::domain::MessageKind;

/// A message as a member sees it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, FromRow, ToSchema)]
pub struct Message {
    pub id: Uuid,
    pub room_id: Uuid,
    /// Position in the room's stream; unique and increasing per room.
    pub seq: i64,
    pub author_id: Option<Uuid>,
    pub author_username: Option<String>,
    pub author_display_name: Option<String>,
    pub kind: MessageKind,
    /// Empty once deleted.
    pub body: String,
    /// Structured payload of system messages (e.g. `{"event": "task_created", ...}`).
    #[schema(value_type = Option<Object>)]
    pub data: Option<Json<serde_json::Value>>,
    pub reply_to: Option<Uuid>,
    /// Set when the message belongs to a task's discussion.
    pub task_id: Option<Uuid>,
    /// The task a system message is about.
    pub ref_task_id: Option<Uuid>,
    pub client_id: Option<String>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Vec<ReactionCount>)]
    pub reactions: Json<Vec<ReactionCount>>,
    pub reply_count: i64,
    /// Files sent with the message (none once it is deleted).
    #[schema(value_type = Vec<super::attachments::Attachment>)]
    pub attachments: Json<Vec<super::attachments::Attachment>>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct ReactionCount {
    pub emoji: String,
    pub count: i64,
    /// Whether the viewer reacted with it.
    pub me: bool,
}

/// A message's own columns and its author's names, from `messages m left join users u`: the
/// same in a member's read, a stream frame's snapshot and the snapshot of a message being
/// appended, so that the three agree by construction.
macro_rules! message_columns {
    () => {
        "m.id, m.room_id, m.seq, m.author_id, u.username as author_username, u.display_name as author_display_name,
         m.kind, m.body, m.data, m.reply_to, m.task_id, m.ref_task_id, m.client_id, m.edited_at, m.deleted_at, m.created_at,"
    };
}

/// `$1` is always the viewer.
const MESSAGE_SELECT: &str = concat!("
    select ", message_columns!(), "
           coalesce((select json_agg(json_build_object('emoji', r.emoji, 'count', r.n, 'me', r.me) order by r.first)
                     from (select emoji, count(*) as n, bool_or(user_id = $1) as me, min(created_at) as first
                           from reactions where message_id = m.id group by emoji) r), '[]'::json) as reactions,
           (select count(*) from messages c where c.reply_to = m.id and c.deleted_at is null) as reply_count,
           coalesce((select jsonb_agg(to_jsonb(a) - 'sha256' order by a.created_at, a.id)
                     from attachments a where a.message_id = m.id and m.deleted_at is null), '[]'::jsonb) as attachments
    from messages m
    join room_members v on v.room_id = m.room_id and v.user_id = $1
    left join users u on u.id = m.author_id");

/// A message as every member sees it (no viewer-specific fields): the payload of stream frames.
/// Reactions list who reacted, so each client can tell its own.
const SNAPSHOT_SELECT: &str = concat!("
    select to_jsonb(x) from (
      select ", message_columns!(), "
             coalesce((select jsonb_agg(jsonb_build_object('emoji', r.emoji, 'count', r.n, 'users', r.users) order by r.first)
                       from (select emoji, count(*) as n, jsonb_agg(user_id order by created_at) as users, min(created_at) as first
                             from reactions where message_id = m.id group by emoji) r), '[]'::jsonb) as reactions,
             (select count(*) from messages c where c.reply_to = m.id and c.deleted_at is null) as reply_count,
             coalesce((select jsonb_agg(to_jsonb(a) - 'sha256' order by a.created_at, a.id)
                       from attachments a where a.message_id = m.id and m.deleted_at is null), '[]'::jsonb) as attachments
      from messages m left join users u on u.id = m.author_id
      where m.id = $1) x");

/// The viewer-neutral snapshot of a message.
pub async fn snapshot(db: impl PgExecutor<'_>, id: Uuid) -> StoreResult<serde_json::Value> {
    Ok(sqlx::query_scalar(SNAPSHOT_SELECT)
        .bind(id)
        .fetch_one(db)
        .await?)
}

/// The stream event type of a new message: `message.created` for people and the assistant; for
/// system messages, what they record (`task.created`, `member.joined`, `room.updated`...).
pub fn event_type(kind: MessageKind, data: Option<&serde_json::Value>) -> &'static str {
    if kind != MessageKind::System {
        return "message.created";
    }
    match data.and_then(|d| d["event"].as_str()).unwrap_or("") {
        "task_created" => "task.created",
        "task_updated" => "task.updated",
        "task_moved" => "task.moved",
        "task_completed" => "task.completed",
        "task_reopened" => "task.reopened",
        "task_deleted" => "task.deleted",
        "member_added" => "member.joined",
        "member_left" => "member.left",
        "member_removed" => "member.removed",
        "room_created" => "room.created",
        "room_renamed" | "topic_changed" | "owner_changed" => "room.updated",
        _ => "message.created",
    }
}

/// Appends a durable event to a room's stream: takes the room's next sequence number and
/// records the frame in `room_events`, in one statement. Returns the sequence number.
pub async fn append_event(
    tx: &mut PgConnection,
    room: Uuid,
    kind: &str,
    data: serde_json::Value,
) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "with r as (update rooms set last_seq = last_seq + 1 where id = $1 returning last_seq)
         insert into room_events (room_id, seq, type, data) select $1, r.last_seq, $2, $3 from r
         returning seq",
    )
    .bind(room)
    .bind(kind)
    .bind(data)
    .fetch_one(&mut *tx)
    .await?)
}

/// A durable event of a room's stream.
#[derive(Debug, Clone, FromRow)]
pub struct RoomEvent {
    pub room_id: Uuid,
    pub seq: i64,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// At most this many rooms in one read of [`events_since_many`].
pub const ROOMS_PER_READ: usize = 64;

/// The rooms that filled their batch in one read of [`events_since_many`] with `limit`: they may
/// have more events to read.
pub fn rooms_with_more(events: &[RoomEvent], limit: i64) -> Vec<Uuid> {
    let mut counts: std::collections::HashMap<Uuid, i64> = std::collections::HashMap::new();
    for e in events {
        *counts.entry(e.room_id).or_default() += 1;
    }
    counts
        .into_iter()
        .filter_map(|(room, n)| (n >= limit).then_some(room))
        .collect()
}

/// Several rooms' events, each room's after its own position, at most `limit` per room: one
/// statement for a whole batch of rooms (the fan-out reads every hinted room at once). Ordered
/// by room, then `seq`.
pub async fn events_since_many(
    db: impl PgExecutor<'_>,
    after: &[(Uuid, i64)],
    limit: i64,
) -> StoreResult<Vec<RoomEvent>> {
    let (rooms, seqs): (Vec<Uuid>, Vec<i64>) = after.iter().copied().unzip();
    Ok(sqlx::query_as(
        "select e.room_id, e.seq, e.type, e.data, e.created_at
         from unnest($1::uuid[], $2::bigint[]) as c(room_id, after)
         cross join lateral (select room_id, seq, type, data, created_at from room_events r
                             where r.room_id = c.room_id and r.seq > c.after
                             order by r.seq limit $3) e
         order by e.room_id, e.seq",
    )
    .bind(rooms)
    .bind(seqs)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// A message to append to a room's stream.
#[derive(Debug, Default)]
pub struct NewMessage<'a> {
    pub room_id: Uuid,
    pub author_id: Option<Uuid>,
    pub kind: MessageKind,
    pub body: &'a str,
    pub data: Option<serde_json::Value>,
    pub reply_to: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub ref_task_id: Option<Uuid>,
    pub client_id: Option<&'a str>,
    /// Uploads of the author's to this room that the message carries.
    pub attachments: &'a [Uuid],
    /// Usernames it names (`@name`); the room's members among them are recorded as mentioned.
    pub mentions: &'a [String],
}

/// Appends a message: takes the room's next sequence number (the room row lock orders
/// concurrent sends), records the stream event with the message's snapshot, moves the author's
/// read marker to it and records its mentions (the room's members among `new.mentions`).
///
/// A message without attachments is **one statement**, atomic on its own: a send is the hottest
/// write there is, and on a busy box every round trip to the database waits for a core twice, so
/// a send needs no transaction (`conn` may be a plain pooled connection). A message with
/// attachments takes three statements (four when it names someone) and must be appended in a
/// transaction: its attachments are all linked or the send fails.
pub async fn append(conn: &mut PgConnection, new: &NewMessage<'_>) -> StoreResult<Appended> {
    let id = new_id();
    if new.attachments.is_empty() {
        append_plain(conn, id, new).await
    } else {
        debug_assert!(
            conn.is_in_transaction(),
            "attachments are appended in a transaction"
        );
        append_with_attachments(conn, id, new).await
    }
}

/// The message row's columns from `$1`..`$10` (`bind_message!`), its `seq` from `r`.
const INSERT_MESSAGE: &str = "
    insert into messages (id, room_id, seq, author_id, kind, body, data, reply_to, task_id, ref_task_id, client_id)
    select $1, $2, r.last_seq, $3, $4, $5, $6, $7, $8, $9, $10 from r";

/// Takes the room's next sequence number, as `r(last_seq)`.
const NEXT_SEQ: &str = "r as (update rooms set last_seq = last_seq + 1, updated_at = now() where id = $2 returning last_seq)";

/// Records the mentions of message `$1` in room `$2`: its members among the usernames in the
/// parameter `names` (`$3`, `$11`...). Returns their ids.
fn insert_mentions(names: &str) -> String {
    format!(
        "insert into mentions (message_id, user_id, room_id)
         select $1, u.id, $2 from users u join room_members m on m.user_id = u.id and m.room_id = $2
         where u.username = any({names})
         returning user_id"
    )
}

/// Binds the message row's values, `$1`..`$10` of [`INSERT_MESSAGE`], to a query of any kind.
macro_rules! bind_message {
    ($query:expr, $id:expr, $new:expr) => {
        $query
            .bind($id)
            .bind($new.room_id)
            .bind($new.author_id)
            .bind($new.kind)
            .bind($new.body)
            .bind($new.data.clone())
            .bind($new.reply_to)
            .bind($new.task_id)
            .bind($new.ref_task_id)
            .bind($new.client_id)
    };
}

/// [`append`] of a message without attachments: the snapshot is built from the row just
/// inserted, as [`SNAPSHOT_SELECT`] would read it (a new message has no reactions, replies or
/// attachments yet; a test holds the two equal field for field).
async fn append_plain(
    conn: &mut PgConnection,
    id: Uuid,
    new: &NewMessage<'_>,
) -> StoreResult<Appended> {
    let sql = format!(
        concat!(
            "with {next_seq},
              m as ({insert_message} returning *),
              s as (select x.seq, to_jsonb(x) as snapshot from (
                      select ",
            message_columns!(),
            "
                             '[]'::jsonb as reactions, 0::bigint as reply_count, '[]'::jsonb as attachments
                      from m left join users u on u.id = m.author_id) x),
              e as (insert into room_events (room_id, seq, type, data)
                    select $2, s.seq, $12, jsonb_build_object('message', s.snapshot) from s),
              rm as (update room_members set last_read_seq = greatest(last_read_seq, s.seq) from s
                     where room_id = $2 and user_id = $3),
              mn as ({mentions})
         select s.seq, s.snapshot, array(select user_id from mn) from s"
        ),
        next_seq = NEXT_SEQ,
        insert_message = INSERT_MESSAGE,
        mentions = insert_mentions("$11"),
    );
    let query = bind_message!(sqlx::query_as(&sql), id, new)
        .bind(new.mentions)
        .bind(event_type(new.kind, new.data.as_ref()));
    let (seq, snapshot, mentioned): (i64, serde_json::Value, Vec<Uuid>) =
        query.fetch_one(&mut *conn).await?;
    Ok(Appended {
        id,
        seq,
        snapshot,
        mentioned,
    })
}

/// [`append`] of a message with attachments, in the caller's transaction: the row, the links
/// (all or the send fails), then the event with the snapshot read back, and the mentions.
async fn append_with_attachments(
    tx: &mut PgConnection,
    id: Uuid,
    new: &NewMessage<'_>,
) -> StoreResult<Appended> {
    let sql = format!("with {NEXT_SEQ} {INSERT_MESSAGE} returning seq");
    let seq: i64 = bind_message!(sqlx::query_scalar(&sql), id, new)
        .fetch_one(&mut *tx)
        .await?;
    if let Some(author) = new.author_id {
        super::attachments::link_to_message(tx, id, new.room_id, author, new.attachments).await?;
    }
    // The event carries the snapshot as every member sees it ($1 is the message, as in
    // SNAPSHOT_SELECT); the author has read up to their own message.
    let sql = format!(
        "with e as (insert into room_events (room_id, seq, type, data)
                    values ($2, $3, $4, jsonb_build_object('message', ({SNAPSHOT_SELECT})))
                    returning data -> 'message' as snapshot),
              r as (update room_members set last_read_seq = greatest(last_read_seq, $3)
                    where room_id = $2 and user_id = $5)
         select snapshot from e"
    );
    let snapshot = sqlx::query_scalar(&sql)
        .bind(id)
        .bind(new.room_id)
        .bind(seq)
        .bind(event_type(new.kind, new.data.as_ref()))
        .bind(new.author_id)
        .fetch_one(&mut *tx)
        .await?;
    let mentioned = add_mentions(tx, id, new.room_id, new.mentions).await?;
    Ok(Appended {
        id,
        seq,
        snapshot,
        mentioned,
    })
}

/// A message just appended.
#[derive(Debug)]
pub struct Appended {
    pub id: Uuid,
    pub seq: i64,
    /// The message as every member sees it: the payload of its stream event.
    pub snapshot: serde_json::Value,
    /// The members it mentions.
    pub mentioned: Vec<Uuid>,
}

impl Appended {
    /// The new message as `viewer` sees it: the snapshot, with each reaction's list of who
    /// reacted turned into whether the viewer did, as [`get`] would read it.
    pub fn seen_by(&self, viewer: Uuid) -> StoreResult<Message> {
        let mut message = self.snapshot.clone();
        let viewer = serde_json::Value::from(viewer.to_string());
        if let Some(reactions) = message["reactions"].as_array_mut() {
            for r in reactions {
                let me = r["users"]
                    .as_array()
                    .is_some_and(|users| users.contains(&viewer));
                r["me"] = me.into();
            }
        }
        serde_json::from_value(message).map_err(|e| sqlx::Error::Decode(Box::new(e)).into())
    }
}

/// The message an author already sent with `client_id` in a room, if any.
pub async fn by_client_id(
    db: impl PgExecutor<'_>,
    room: Uuid,
    author: Uuid,
    client_id: &str,
) -> StoreResult<Option<Uuid>> {
    Ok(sqlx::query_scalar(
        "select id from messages where room_id = $1 and author_id = $2 and client_id = $3",
    )
    .bind(room)
    .bind(author)
    .bind(client_id)
    .fetch_optional(db)
    .await?)
}

/// One message, if the viewer is a member of its room.
pub async fn get(db: impl PgExecutor<'_>, viewer: Uuid, id: Uuid) -> StoreResult<Option<Message>> {
    let sql = format!("{MESSAGE_SELECT} where m.id = $2");
    Ok(sqlx::query_as(&sql)
        .bind(viewer)
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// Which stream of a room to page through.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// The room's main timeline (no task discussions).
    Timeline,
    /// One task's discussion.
    Task(Uuid),
    /// Replies to one message.
    Replies(Uuid),
}

/// A page of a room's stream in ascending `seq` order: the newest `limit` before `before` (or
/// the room's newest), or the oldest `limit` after `after`. The extra row fetched tells whether
/// more exist in the paging direction.
pub async fn page(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    room: Uuid,
    stream: Stream,
    before: Option<i64>,
    after: Option<i64>,
    limit: i64,
) -> StoreResult<(Vec<Message>, bool)> {
    let (filter, thread) = match stream {
        Stream::Timeline => ("m.task_id is null and $3::uuid is null", None),
        Stream::Task(task) => ("m.task_id = $3", Some(task)),
        Stream::Replies(root) => ("m.reply_to = $3", Some(root)),
    };
    let forward = after.is_some() && before.is_none();
    let order = if forward { "asc" } else { "desc" };
    let sql = format!(
        "{MESSAGE_SELECT} where m.room_id = $2 and {filter}
           and ($4::bigint is null or m.seq < $4) and ($5::bigint is null or m.seq > $5)
         order by m.seq {order} limit $6"
    );
    let mut rows: Vec<Message> = sqlx::query_as(&sql)
        .bind(viewer)
        .bind(room)
        .bind(thread)
        .bind(before)
        .bind(after)
        .bind(limit + 1)
        .fetch_all(db)
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if !forward {
        rows.reverse();
    }
    Ok((rows, more))
}

/// Replaces the body of a live message.
pub async fn edit(db: impl PgExecutor<'_>, id: Uuid, body: &str) -> StoreResult<()> {
    sqlx::query(
        "update messages set body = $2, edited_at = now() where id = $1 and deleted_at is null",
    )
    .bind(id)
    .bind(body)
    .execute(db)
    .await?;
    Ok(())
}

/// Turns a message into a tombstone: its text, reactions and mentions go; its place stays.
pub async fn tombstone(tx: &mut PgConnection, id: Uuid) -> StoreResult<()> {
    sqlx::query("update messages set body = '', data = null, deleted_at = now() where id = $1 and deleted_at is null")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from reactions where message_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from mentions where message_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    // The stream's earlier events carried the text too; a resumed client must not see it again.
    sqlx::query(
        "update room_events e set data = jsonb_set(jsonb_set(jsonb_set(e.data, '{message,body}', '\"\"'), '{message,data}', 'null'), '{message,attachments}', '[]')
         from messages m
         where m.id = $1 and e.room_id = m.room_id and e.data->'message'->>'id' = $1::text",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records who a message mentions: only members of its room (ids), replacing earlier mentions.
pub async fn set_mentions(
    tx: &mut PgConnection,
    message: Uuid,
    room: Uuid,
    usernames: &[String],
) -> StoreResult<Vec<Uuid>> {
    sqlx::query("delete from mentions where message_id = $1")
        .bind(message)
        .execute(&mut *tx)
        .await?;
    add_mentions(tx, message, room, usernames).await
}

/// Records the mentions of a message that has none yet (a new one): the members of its room
/// among `usernames`. Returns their ids; no statement at all when nobody is named.
pub async fn add_mentions(
    tx: &mut PgConnection,
    message: Uuid,
    room: Uuid,
    usernames: &[String],
) -> StoreResult<Vec<Uuid>> {
    if usernames.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar(&insert_mentions("$3"))
        .bind(message)
        .bind(room)
        .bind(usernames)
        .fetch_all(&mut *tx)
        .await?)
}

/// Messages that mention the viewer, newest first, in rooms they are still in.
pub async fn mentions(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<Message>> {
    let sql = format!(
        "{MESSAGE_SELECT} join mentions mn on mn.message_id = m.id and mn.user_id = $1
         where ($2::uuid is null or m.id < $2) and m.deleted_at is null
         order by m.id desc limit $3"
    );
    Ok(sqlx::query_as(&sql)
        .bind(viewer)
        .bind(before)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// Adds a reaction; false when the viewer already reacted so.
pub async fn add_reaction(
    db: impl PgExecutor<'_>,
    message: Uuid,
    user: Uuid,
    emoji: &str,
) -> StoreResult<bool> {
    let done = sqlx::query("insert into reactions (message_id, user_id, emoji) values ($1, $2, $3) on conflict do nothing")
        .bind(message)
        .bind(user)
        .bind(emoji)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn remove_reaction(
    db: impl PgExecutor<'_>,
    message: Uuid,
    user: Uuid,
    emoji: &str,
) -> StoreResult<bool> {
    let done =
        sqlx::query("delete from reactions where message_id = $1 and user_id = $2 and emoji = $3")
            .bind(message)
            .bind(user)
            .bind(emoji)
            .execute(db)
            .await?;
    Ok(done.rows_affected() > 0)
}

/// A full-text search hit.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct SearchHit {
    pub message_id: Uuid,
    pub room_id: Uuid,
    pub room_name: String,
    pub seq: i64,
    pub task_id: Option<Uuid>,
    pub author_id: Option<Uuid>,
    pub author_display_name: Option<String>,
    /// The matching text with matches between `«` and `»`.
    pub snippet: String,
    pub rank: f32,
    pub created_at: DateTime<Utc>,
}

/// Full-text search over every live message in rooms the viewer belongs to (optionally one room).
pub async fn search(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    query: &str,
    room: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<SearchHit>> {
    Ok(sqlx::query_as(
        "select m.id as message_id, m.room_id,
                case r.kind when 'group' then r.name when 'self' then 'Personal'
                     else coalesce((select u2.display_name from room_members o join users u2 on u2.id = o.user_id
                                    where o.room_id = r.id and o.user_id <> $1 limit 1), 'Direct message') end as room_name,
                m.seq, m.task_id, m.author_id, u.display_name as author_display_name,
                ts_headline('english', m.body, q, 'StartSel=«, StopSel=», MaxFragments=2, MaxWords=30, MinWords=8') as snippet,
                ts_rank(m.tsv, q) as rank, m.created_at
         from messages m
         join room_members v on v.room_id = m.room_id and v.user_id = $1
         join rooms r on r.id = m.room_id
         left join users u on u.id = m.author_id,
         websearch_to_tsquery('english', $2) q
         where m.tsv @@ q and m.deleted_at is null and m.kind <> 'system' and ($3::uuid is null or m.room_id = $3)
         order by rank desc, m.id desc
         limit $4",
    )
    .bind(viewer)
    .bind(query)
    .bind(room)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Up to `each_side` messages either side of `seq` in a room's timeline, and the one at `seq`
/// (a task's source snapshot), oldest first. System messages and tombstones are left out.
pub async fn around(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    room: Uuid,
    seq: i64,
    each_side: i64,
) -> StoreResult<Vec<Message>> {
    let sql = format!(
        "select * from (
           ({MESSAGE_SELECT} where m.room_id = $2 and m.task_id is null and m.kind <> 'system' and m.deleted_at is null
              and m.seq <= $3 order by m.seq desc limit $4 + 1)
           union all
           ({MESSAGE_SELECT} where m.room_id = $2 and m.task_id is null and m.kind <> 'system' and m.deleted_at is null
              and m.seq > $3 order by m.seq limit $4)
         ) s order by seq"
    );
    Ok(sqlx::query_as(&sql)
        .bind(viewer)
        .bind(room)
        .bind(seq)
        .bind(each_side)
        .fetch_all(db)
        .await?)
}
