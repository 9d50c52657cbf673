//! Bulk writes of `flowly dev seed` (see `dev::seed`): whole tables streamed with `COPY` into an
//! empty database, and the statements that derive the rest from them (room timelines, `last_seq`,
//! the assistant's cursors). A developer and benchmark tool; nothing here runs while serving.
//!
//! Each `copy_*` function takes its rows as an iterator and streams them a megabyte at a time, so
//! 300,000 messages never sit in memory at once, and returns how many rows it wrote.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::StoreResult;

/// A user whose password hash is already computed.
pub struct UserRow<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub display_name: String,
    pub password_hash: &'a str,
}

/// A room; `dm_key` is set for DMs only (`dm:<lower id>:<higher id>`).
pub struct RoomRow {
    pub id: Uuid,
    /// `dm` or `group`.
    pub kind: &'static str,
    pub name: String,
    pub dm_key: Option<String>,
    pub created_by: Uuid,
}

pub struct MemberRow {
    pub room_id: Uuid,
    pub user_id: Uuid,
    /// `owner` or `member`.
    pub role: &'static str,
}

/// A user message at its place in the room's timeline.
pub struct MessageRow {
    pub id: Uuid,
    pub room_id: Uuid,
    pub seq: i64,
    pub author_id: Uuid,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

pub struct TaskRow {
    pub id: Uuid,
    pub room_id: Uuid,
    pub creator_id: Uuid,
    pub title: String,
    /// `todo`, `doing`, `blocked` or `done`.
    pub status: &'static str,
    pub priority: &'static str,
    pub assignee_id: Uuid,
    pub position: i64,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A login session; only the token's hash is stored, as for any other session.
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub token_hash: Vec<u8>,
    pub user_agent: &'static str,
    pub ip: &'static str,
    pub expires_at: DateTime<Utc>,
}

/// How many users the database has (seeding refuses a database that has any).
pub async fn count_users(conn: &mut PgConnection) -> StoreResult<i64> {
    Ok(sqlx::query_scalar("select count(*) from users")
        .fetch_one(conn)
        .await?)
}

pub async fn copy_users<'a>(
    conn: &mut PgConnection,
    rows: impl IntoIterator<Item = UserRow<'a>>,
) -> StoreResult<u64> {
    copy_in(
        conn,
        "copy users (id, username, display_name, password_hash) from stdin",
        rows,
        |r, line| {
            line.uuid(r.id)
                .text(r.username)
                .text(&r.display_name)
                .text(r.password_hash);
        },
    )
    .await
}

/// Friendships, one row per direction: pass both (a, b) and (b, a).
pub async fn copy_friendships(
    conn: &mut PgConnection,
    pairs: impl IntoIterator<Item = (Uuid, Uuid)>,
) -> StoreResult<u64> {
    copy_in(
        conn,
        "copy friendships (user_id, friend_id) from stdin",
        pairs,
        |(a, b), line| {
            line.uuid(*a).uuid(*b);
        },
    )
    .await
}

pub async fn copy_rooms(
    conn: &mut PgConnection,
    rows: impl IntoIterator<Item = RoomRow>,
) -> StoreResult<u64> {
    copy_in(
        conn,
        "copy rooms (id, kind, name, dm_key, created_by) from stdin",
        rows,
        |r, line| {
            line.uuid(r.id)
                .text(r.kind)
                .text(&r.name)
                .optional_text(r.dm_key.as_deref())
                .uuid(r.created_by);
        },
    )
    .await
}

pub async fn copy_members(
    conn: &mut PgConnection,
    rows: impl IntoIterator<Item = MemberRow>,
) -> StoreResult<u64> {
    copy_in(
        conn,
        "copy room_members (room_id, user_id, role) from stdin",
        rows,
        |r, line| {
            line.uuid(r.room_id).uuid(r.user_id).text(r.role);
        },
    )
    .await
}

/// Messages only; [`derive_timelines`] then writes their room events and `last_seq`.
pub async fn copy_messages(
    conn: &mut PgConnection,
    rows: impl IntoIterator<Item = MessageRow>,
) -> StoreResult<u64> {
    copy_in(
        conn,
        "copy messages (id, room_id, seq, author_id, body, created_at) from stdin",
        rows,
        |r, line| {
            line.uuid(r.id)
                .uuid(r.room_id)
                .int(r.seq)
                .uuid(r.author_id)
                .text(&r.body)
                .time(Some(r.created_at));
        },
    )
    .await
}

pub async fn copy_tasks(
    conn: &mut PgConnection,
    rows: impl IntoIterator<Item = TaskRow>,
) -> StoreResult<u64> {
    copy_in(
        conn,
        "copy tasks (id, room_id, creator_id, title, status, priority, assignee_id, position, completed_at) from stdin",
        rows,
        |r, line| {
            line.uuid(r.id)
                .uuid(r.room_id)
                .uuid(r.creator_id)
                .text(&r.title)
                .text(r.status)
                .text(r.priority)
                .uuid(r.assignee_id)
                .int(r.position)
                .time(r.completed_at);
        },
    )
    .await
}

pub async fn copy_sessions(
    conn: &mut PgConnection,
    rows: impl IntoIterator<Item = SessionRow>,
) -> StoreResult<u64> {
    copy_in(
        conn,
        "copy sessions (id, user_id, token_hash, user_agent, ip, expires_at) from stdin",
        rows,
        |r, line| {
            line.uuid(r.id)
                .uuid(r.user_id)
                .bytes(&r.token_hash)
                .text(r.user_agent)
                .text(r.ip)
                .time(Some(r.expires_at));
        },
    )
    .await
}

/// Gives every copied message its `message.created` room event and every room the `last_seq` of
/// its history, as sending them one by one would have. Returns the events written.
pub async fn derive_timelines(conn: &mut PgConnection) -> StoreResult<u64> {
    let events = sqlx::query(
        "insert into room_events (room_id, seq, type, data, created_at)
         select m.room_id, m.seq, 'message.created', jsonb_build_object('message', to_jsonb(m) - 'tsv'), m.created_at
         from messages m",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query(
        "update rooms r set last_seq = m.last from
         (select room_id, max(seq) as last from messages group by room_id) m where r.id = m.room_id",
    )
    .execute(&mut *conn)
    .await?;
    Ok(events)
}

/// Marks every room's history as already indexed, so the assistant's workers index only what
/// arrives from now on.
pub async fn skip_history_in_index(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query(
        "insert into assistant_index_cursors (room_id, seq) select id, last_seq from rooms
         on conflict (room_id) do update set seq = excluded.seq, updated_at = now()",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Refreshes the planner's statistics after the bulk load.
pub async fn analyze(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("analyze").execute(conn).await?;
    Ok(())
}

/// Streams `rows` into one `COPY ... FROM STDIN` (text format), a megabyte at a time.
async fn copy_in<R>(
    conn: &mut PgConnection,
    statement: &'static str,
    rows: impl IntoIterator<Item = R>,
    write: impl Fn(&R, &mut Line<'_>),
) -> StoreResult<u64> {
    const CHUNK: usize = 1 << 20;
    let mut copy = conn.copy_in_raw(statement).await?;
    let mut buf = String::with_capacity(CHUNK);
    let mut count = 0u64;
    for row in rows {
        write(
            &row,
            &mut Line {
                buf: &mut buf,
                first: true,
            },
        );
        buf.push('\n');
        count += 1;
        if buf.len() >= CHUNK {
            copy.send(std::mem::take(&mut buf).into_bytes()).await?;
            buf.reserve(CHUNK);
        }
    }
    if !buf.is_empty() {
        copy.send(buf.into_bytes()).await?;
    }
    copy.finish().await?;
    Ok(count)
}

/// One row of COPY text: fields separated by tabs, escaped, `\N` for null.
struct Line<'b> {
    buf: &'b mut String,
    first: bool,
}

impl Line<'_> {
    fn field(&mut self) -> &mut String {
        if !self.first {
            self.buf.push('\t');
        }
        self.first = false;
        self.buf
    }

    fn text(&mut self, value: &str) -> &mut Self {
        let buf = self.field();
        for c in value.chars() {
            match c {
                '\\' => buf.push_str("\\\\"),
                '\t' => buf.push_str("\\t"),
                '\n' => buf.push_str("\\n"),
                '\r' => buf.push_str("\\r"),
                c => buf.push(c),
            }
        }
        self
    }

    fn optional_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => {
                self.field().push_str("\\N");
                self
            }
        }
    }

    fn uuid(&mut self, id: Uuid) -> &mut Self {
        let buf = self.field();
        buf.push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
        self
    }

    fn int(&mut self, n: i64) -> &mut Self {
        self.field().push_str(&n.to_string());
        self
    }

    fn time(&mut self, at: Option<DateTime<Utc>>) -> &mut Self {
        match at {
            Some(at) => self.field().push_str(&at.to_rfc3339()),
            None => self.field().push_str("\\N"),
        }
        self
    }

    /// A bytea in hex input form (`\x...`), its backslash escaped for COPY.
    fn bytes(&mut self, value: &[u8]) -> &mut Self {
        let buf = self.field();
        buf.push_str("\\\\x");
        buf.push_str(&hex::encode(value));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(write: impl Fn(&mut Line<'_>)) -> String {
        let mut buf = String::new();
        write(&mut Line {
            buf: &mut buf,
            first: true,
        });
        buf
    }

    #[test]
    fn copy_text_escapes_what_copy_would_misread() {
        assert_eq!(
            line(|l| {
                l.text("a\tb\nc\\d\re");
            }),
            "a\\tb\\nc\\\\d\\re"
        );
        assert_eq!(
            line(|l| {
                l.text("plain words").optional_text(None).int(-3);
            }),
            "plain words\t\\N\t-3"
        );
    }

    #[test]
    fn bytes_and_ids_are_written_in_their_input_forms() {
        let id = Uuid::nil();
        assert_eq!(
            line(|l| {
                l.uuid(id).bytes(&[0xde, 0xad]);
            }),
            "00000000-0000-0000-0000-000000000000\t\\\\xdead"
        );
    }
}
