//! The assistant's search index (`knowledge_chunks`), the indexer's per-room cursors, and hybrid
//! retrieval. Retrieval joins the asker's room membership in the query itself.

use chrono::{DateTime, Utc};
use pgvector::Vector;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use super::{StoreResult, new_id};

/// The text a task is indexed as: its title, description, status, assignee and due date.
const TASK_TEXT: &str = "concat_ws(E'\\n', 'Task: ' || t.title, nullif(t.description, ''),
    'Status: ' || t.status, 'Assignee: @' || au.username, 'Due: ' || t.due_on::text)";

/// A source whose chunk is missing or out of date.
#[derive(Debug, Clone, FromRow)]
pub struct Stale {
    pub source_id: Uuid,
    pub text: String,
}

/// Plans each of the indexing transaction's statements for its own arguments. A generic plan of
/// `stale_messages` (what PostgreSQL switches a prepared statement to after five runs) expects a
/// room of a few messages and merge-joins them against every message chunk in `source_id` order:
/// 31 ms at 20,000 chunks and growing with the index, against 0.05 ms for a plan that looks up
/// the named messages (the worker's top statement under load; docs/capacity.md).
pub async fn plan_each_statement(tx: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("set local plan_cache_mode = force_custom_plan")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Locks the room's indexer cursor (creating it at 0) for the rest of the transaction, so one
/// worker at a time indexes a room, and returns it with the room's newest sequence number.
/// `None` when the room no longer exists.
pub async fn lock_cursor(tx: &mut PgConnection, room: Uuid) -> StoreResult<Option<(i64, i64)>> {
    sqlx::query(
        "insert into assistant_index_cursors (room_id) select id from rooms where id = $1
         on conflict (room_id) do nothing",
    )
    .bind(room)
    .execute(&mut *tx)
    .await?;
    Ok(sqlx::query_as(
        "select c.seq, r.last_seq from assistant_index_cursors c join rooms r on r.id = c.room_id
         where c.room_id = $1 for update of c",
    )
    .bind(room)
    .fetch_optional(&mut *tx)
    .await?)
}

pub async fn set_cursor(tx: &mut PgConnection, room: Uuid, seq: i64) -> StoreResult<()> {
    sqlx::query(
        "update assistant_index_cursors set seq = greatest(seq, $2), updated_at = now() where room_id = $1",
    )
    .bind(room)
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Messages and tasks touched by a room's events in `(after, upto]`: created, edited, deleted
/// messages, and tasks named by task events.
pub async fn touched(
    tx: &mut PgConnection,
    room: Uuid,
    after: i64,
    upto: i64,
) -> StoreResult<(Vec<Uuid>, Vec<Uuid>)> {
    let rows: Vec<(Option<Uuid>, Option<Uuid>)> = sqlx::query_as(
        "select distinct coalesce(data->'message'->>'id', data->>'message_id')::uuid,
                coalesce(data->'message'->>'ref_task_id', data->'message'->'data'->>'task_id')::uuid
         from room_events where room_id = $1 and seq > $2 and seq <= $3",
    )
    .bind(room)
    .bind(after)
    .bind(upto)
    .fetch_all(&mut *tx)
    .await?;
    let mut messages: Vec<Uuid> = rows.iter().filter_map(|r| r.0).collect();
    let mut tasks: Vec<Uuid> = rows.iter().filter_map(|r| r.1).collect();
    messages.sort_unstable();
    messages.dedup();
    tasks.sort_unstable();
    tasks.dedup();
    Ok((messages, tasks))
}

/// Live user messages of a room (all, or those in `ids`) whose chunk is missing, has other
/// text, or was made by another model. System and assistant messages are never indexed, nor
/// questions to the assistant (`@flowly …`): they would be the best match for themselves.
pub async fn stale_messages(
    db: impl PgExecutor<'_>,
    room: Uuid,
    ids: Option<&[Uuid]>,
    model: &str,
    limit: i64,
) -> StoreResult<Vec<Stale>> {
    Ok(sqlx::query_as(
        "select m.id as source_id, m.body as text from messages m
         left join knowledge_chunks c on c.source_kind = 'message' and c.source_id = m.id
         where m.room_id = $1 and ($2::uuid[] is null or m.id = any($2))
           and m.kind = 'user' and m.deleted_at is null and m.body <> '' and m.body not like '@flowly %'
           and (c.id is null or c.text <> m.body or c.model <> $3)
         order by m.seq limit $4",
    )
    .bind(room)
    .bind(ids)
    .bind(model)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Live tasks of a room (all, or those in `ids`) whose chunk is missing or out of date.
pub async fn stale_tasks(
    db: impl PgExecutor<'_>,
    room: Uuid,
    ids: Option<&[Uuid]>,
    model: &str,
    limit: i64,
) -> StoreResult<Vec<Stale>> {
    let sql = format!(
        "select s.source_id, s.text from (
           select t.id as source_id, {TASK_TEXT} as text from tasks t
           left join users au on au.id = t.assignee_id
           where t.room_id = $1 and ($2::uuid[] is null or t.id = any($2)) and t.deleted_at is null) s
         left join knowledge_chunks c on c.source_kind = 'task' and c.source_id = s.source_id
         where c.id is null or c.text <> s.text or c.model <> $3
         order by s.source_id limit $4"
    );
    Ok(sqlx::query_as(&sql)
        .bind(room)
        .bind(ids)
        .bind(model)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// Whether an attachment `a` is in the index: it has text, and its message or task is live.
const FILE_LIVE: &str = "a.text is not null and (
    exists (select 1 from messages m where m.id = a.message_id and m.deleted_at is null)
    or exists (select 1 from tasks t where t.id = a.task_id and t.deleted_at is null))";

/// A file whose chunks are missing or were made by another model. Its text never changes.
#[derive(Debug, Clone, FromRow)]
pub struct StaleFile {
    pub id: Uuid,
    pub filename: String,
    pub text: String,
}

/// Files of a room (sent in a live message or on a live task) with text whose chunks are missing
/// or made by another model.
pub async fn stale_files(
    db: impl PgExecutor<'_>,
    room: Uuid,
    model: &str,
    limit: i64,
) -> StoreResult<Vec<StaleFile>> {
    let sql = format!(
        "select a.id, a.filename, a.text from attachments a
         where a.room_id = $1 and {FILE_LIVE}
           and not exists (select 1 from knowledge_chunks c where c.source_kind = 'attachment'
                           and c.source_id = a.id and c.part = 0 and c.model = $2)
         order by a.created_at, a.id limit $3"
    );
    Ok(sqlx::query_as(&sql)
        .bind(room)
        .bind(model)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// Replaces the chunks of a file with `parts` (its text in order, each with its vector).
pub async fn replace_file(
    tx: &mut PgConnection,
    file: Uuid,
    room: Uuid,
    model: &str,
    parts: Vec<(String, Vec<f32>)>,
) -> StoreResult<()> {
    sqlx::query("delete from knowledge_chunks where source_kind = 'attachment' and source_id = $1")
        .bind(file)
        .execute(&mut *tx)
        .await?;
    for (part, (text, embedding)) in parts.into_iter().enumerate() {
        sqlx::query(
            "insert into knowledge_chunks (id, source_kind, source_id, part, room_id, text, model, dims, embedding)
             values ($1, 'attachment', $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new_id())
        .bind(file)
        .bind(part as i32)
        .bind(room)
        .bind(text)
        .bind(model)
        .bind(embedding.len() as i32)
        .bind(Vector::from(embedding))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Removes the chunks of a room's files that left the index: their message was deleted (and the
/// attachment with it) or their task was. Returns how many went.
pub async fn remove_gone_files(tx: &mut PgConnection, room: Uuid) -> StoreResult<u64> {
    let sql = format!(
        "delete from knowledge_chunks c where c.room_id = $1 and c.source_kind = 'attachment'
           and not exists (select 1 from attachments a where a.id = c.source_id and {FILE_LIVE})"
    );
    let done = sqlx::query(&sql).bind(room).execute(&mut *tx).await?;
    Ok(done.rows_affected())
}

/// How many sources of every room need (re-)embedding.
pub async fn count_stale(db: impl PgExecutor<'_>, model: &str) -> StoreResult<i64> {
    let sql = format!(
        "select
           (select count(*) from messages m
              left join knowledge_chunks c on c.source_kind = 'message' and c.source_id = m.id
              where m.kind = 'user' and m.deleted_at is null and m.body <> '' and m.body not like '@flowly %'
                and (c.id is null or c.text <> m.body or c.model <> $1))
         + (select count(*) from (select t.id, {TASK_TEXT} as text from tasks t
              left join users au on au.id = t.assignee_id where t.deleted_at is null) s
              left join knowledge_chunks c on c.source_kind = 'task' and c.source_id = s.id
              where c.id is null or c.text <> s.text or c.model <> $1)
         + (select count(*) from attachments a where {FILE_LIVE}
              and not exists (select 1 from knowledge_chunks c where c.source_kind = 'attachment'
                              and c.source_id = a.id and c.part = 0 and c.model = $1))"
    );
    Ok(sqlx::query_scalar(&sql).bind(model).fetch_one(db).await?)
}

/// Writes (or replaces) the chunk of a source.
#[allow(clippy::too_many_arguments)]
pub async fn upsert(
    tx: &mut PgConnection,
    kind: &str,
    source: Uuid,
    room: Uuid,
    text: &str,
    model: &str,
    embedding: Vec<f32>,
) -> StoreResult<()> {
    let dims = embedding.len() as i32;
    sqlx::query(
        "insert into knowledge_chunks (id, source_kind, source_id, room_id, text, model, dims, embedding)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (source_kind, source_id, part) do update
           set room_id = excluded.room_id, text = excluded.text, model = excluded.model,
               dims = excluded.dims, embedding = excluded.embedding, updated_at = now()",
    )
    .bind(new_id())
    .bind(kind)
    .bind(source)
    .bind(room)
    .bind(text)
    .bind(model)
    .bind(dims)
    .bind(Vector::from(embedding))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Removes chunks of a room (all, or of the given sources) whose source is gone: deleted
/// messages and tasks. Returns how many went.
pub async fn remove_gone(
    tx: &mut PgConnection,
    room: Uuid,
    messages: Option<&[Uuid]>,
    tasks: Option<&[Uuid]>,
) -> StoreResult<u64> {
    let done = sqlx::query(
        "delete from knowledge_chunks c where c.room_id = $1 and (
           (c.source_kind = 'message' and ($2::uuid[] is null or c.source_id = any($2))
              and not exists (select 1 from messages m where m.id = c.source_id and m.room_id = c.room_id
                              and m.kind = 'user' and m.deleted_at is null and m.body <> '' and m.body not like '@flowly %'))
        or (c.source_kind = 'task' and ($3::uuid[] is null or c.source_id = any($3))
              and not exists (select 1 from tasks t where t.id = c.source_id and t.room_id = c.room_id
                              and t.deleted_at is null)))",
    )
    .bind(room)
    .bind(messages)
    .bind(tasks)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected())
}

/// How far the indexer is behind: up to `limit` rooms whose event log has moved past the
/// indexer's cursor (least recently updated first: the periodic sweep's work), and over all such
/// rooms the events past the cursors and the age in seconds of the oldest of them (0 and 0 when
/// caught up). One scan of `rooms` against the cursors: at 300,000 rooms it is the costliest
/// query the worker runs, so it runs once per sweep, not per gauge refresh.
pub async fn behind(db: impl PgExecutor<'_>, limit: i64) -> StoreResult<Behind> {
    let rows: Vec<(Uuid, i64, f64)> = sqlx::query_as(
        "select r.id,
                sum(r.last_seq - coalesce(c.seq, 0)) over ()::int8,
                coalesce(extract(epoch from now() - min(e.created_at) over ()), 0)::float8
         from rooms r
         left join assistant_index_cursors c on c.room_id = r.id
         left join room_events e on e.room_id = r.id and e.seq = coalesce(c.seq, 0) + 1
         where r.last_seq > coalesce(c.seq, 0)
         order by r.updated_at limit $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await?;
    let (events, oldest_secs) = rows.first().map_or((0, 0.0), |&(_, n, secs)| (n, secs));
    Ok(Behind {
        rooms: rows.into_iter().map(|(room, _, _)| room).collect(),
        events,
        oldest_secs,
    })
}

/// Up to `limit` rooms a question of `viewer` searches (only `room` when given) whose event log
/// has moved past the indexer's cursor, the most recently changed first: what an answer catches
/// up on before it searches, so it covers what was said a moment ago.
pub async fn behind_for(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    room: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "select r.id from room_members m
         join rooms r on r.id = m.room_id
         left join assistant_index_cursors c on c.room_id = r.id
         where m.user_id = $1 and ($2::uuid is null or m.room_id = $2)
           and r.last_seq > coalesce(c.seq, 0)
         order by r.updated_at desc limit $3",
    )
    .bind(viewer)
    .bind(room)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// What [`behind`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Behind {
    pub rooms: Vec<Uuid>,
    pub events: i64,
    pub oldest_secs: f64,
}

/// Every room, for a full reindex.
pub async fn all_rooms(db: impl PgExecutor<'_>) -> StoreResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar("select id from rooms order by id")
        .fetch_all(db)
        .await?)
}

/// Whether any chunk was made by a model other than `model` (the embedder changed).
pub async fn other_model_exists(db: impl PgExecutor<'_>, model: &str) -> StoreResult<bool> {
    Ok(
        sqlx::query_scalar("select exists(select 1 from knowledge_chunks where model <> $1)")
            .bind(model)
            .fetch_one(db)
            .await?,
    )
}

/// How many chunks the index holds.
pub async fn count(db: impl PgExecutor<'_>) -> StoreResult<i64> {
    Ok(sqlx::query_scalar("select count(*) from knowledge_chunks")
        .fetch_one(db)
        .await?)
}

/// A retrieved chunk with what a citation shows, and what reranking needs.
#[derive(Debug, Clone, FromRow)]
pub struct Hit {
    pub source_kind: String,
    pub source_id: Uuid,
    pub room_id: Uuid,
    pub room_name: String,
    pub text: String,
    pub seq: Option<i64>,
    pub author: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Reciprocal-rank-fusion score (higher is better); 0 for a chunk brought in as context of
    /// a fused one (a reply to it, a message of its task's discussion).
    pub score: f64,
    /// Cosine similarity of the chunk to the question.
    pub similarity: f64,
    /// The message this one replies to (a message).
    pub reply_to: Option<Uuid>,
    /// The task whose discussion this message belongs to.
    pub discussion_of: Option<Uuid>,
    /// What the chunk is said in the context of: the text it replies to, or the title of the
    /// task whose discussion it belongs to.
    pub context: Option<String>,
    /// Cosine similarity of the context's chunk to the question.
    pub context_similarity: Option<f64>,
    /// The file's name (an attachment's chunk).
    pub filename: Option<String>,
    /// The task the file is attached to (an attachment's chunk; none for a file in a message).
    pub file_task: Option<Uuid>,
    /// The chunk's vector (reranking compares chunks with each other).
    pub embedding: Vector,
}

/// The best this many of each branch (nearest vectors, best full-text matches) are always
/// among the fused candidates: reciprocal-rank fusion alone favours chunks both branches find,
/// so a named fact only full text finds ("the Galpovmip quote") could lose its place to a
/// hundred "the printer quote was…" messages both branches find.
const BRANCH_TOP: i64 = 8;

/// Most people [`people`] returns: the members of a few team rooms, not a directory.
const PEOPLE_LIMIT: i64 = 2_000;

/// The usernames and display names of the people in the rooms a search by `viewer` covers (only
/// `room` when given), the viewer too: who a "Who…" question can be answered with.
pub async fn people(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    room: Option<Uuid>,
) -> StoreResult<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "select u.username, u.display_name from users u
         where u.id in (select m.user_id from room_members m
                        where m.room_id in (select room_id from room_members
                                            where user_id = $1 and ($2::uuid is null or room_id = $2)))
         order by u.username limit $3",
    )
    .bind(viewer)
    .bind(room)
    .bind(PEOPLE_LIMIT)
    .fetch_all(db)
    .await?)
}

/// Hybrid retrieval for `viewer`: the nearest chunks by cosine distance (HNSW) and the best
/// full-text matches (`websearch_to_tsquery`, its terms OR-ed so a question need not contain
/// every word), fused by reciprocal rank (k = 60) with each branch's best [`BRANCH_TOP`] kept
/// first, the best `limit` of them with the replies to them and the discussion messages of their
/// tasks (a correction in a reply rarely repeats its subject). Only chunks of rooms the viewer
/// belongs to (and of `room` when given) are considered, in every branch; deleted sources never
/// come back.
#[allow(clippy::too_many_arguments)]
pub async fn search(
    tx: &mut PgConnection,
    viewer: Uuid,
    room: Option<Uuid>,
    embedding: Vec<f32>,
    text: &str,
    model: &str,
    candidates: i64,
    limit: i64,
) -> StoreResult<Vec<Hit>> {
    // Filtered HNSW scans keep scanning until enough rows pass the membership filter.
    sqlx::query("set local hnsw.iterative_scan = relaxed_order")
        .execute(&mut *tx)
        .await?;
    sqlx::query("set local hnsw.ef_search = 100")
        .execute(&mut *tx)
        .await?;
    Ok(sqlx::query_as(
        "with mine as (
           select room_id from room_members where user_id = $1 and ($2::uuid is null or room_id = $2)
         ),
         q as (
           select nullif(replace(websearch_to_tsquery('english', $4)::text, ' & ', ' | '), '')::tsquery as tq
         ),
         vec as (
           select c.id, row_number() over (order by c.embedding <=> $3) as rank
           from (select c.id, c.embedding from knowledge_chunks c
                 where c.room_id in (select room_id from mine) and c.model = $5
                 order by c.embedding <=> $3 limit $6) c
         ),
         fts as (
           select c.id, row_number() over (order by ts_rank_cd(c.tsv, q.tq) desc, c.id) as rank
           from knowledge_chunks c, q
           where q.tq is not null and c.room_id in (select room_id from mine) and c.tsv @@ q.tq
           order by ts_rank_cd(c.tsv, q.tq) desc, c.id limit $6
         ),
         fused as (
           select id, sum(1.0 / (60 + rank))::float8 as score
           from (select id, rank from vec union all select id, rank from fts) r
           group by id order by min(rank) <= $8 desc, score desc, id limit $7
         ),
         around as (
           select c2.id, 0::float8 as score from fused f
           join knowledge_chunks c on c.id = f.id and c.source_kind = 'message'
           join messages m2 on m2.reply_to = c.source_id
           join knowledge_chunks c2 on c2.source_kind = 'message' and c2.source_id = m2.id
           where c2.model = $5 and c2.room_id in (select room_id from mine)
           union all
           select c2.id, 0::float8 from fused f
           join knowledge_chunks c on c.id = f.id and c.source_kind = 'task'
           join messages m2 on m2.task_id = c.source_id
           join knowledge_chunks c2 on c2.source_kind = 'message' and c2.source_id = m2.id
           where c2.model = $5 and c2.room_id in (select room_id from mine)
         ),
         picked as (
           select id, max(score) as score from (select * from fused union all select * from around) a
           group by id
         )
         select c.source_kind, c.source_id, c.room_id, r.name as room_name, c.text,
                coalesce(m.seq, fm.seq) as seq, coalesce(mu.username, tu.username, fu.username) as author,
                coalesce(m.created_at, t.created_at, a.created_at, c.updated_at) as created_at, f.score,
                (1 - (c.embedding <=> $3))::float8 as similarity,
                m.reply_to, m.task_id as discussion_of,
                coalesce(pm.body, dt.title) as context,
                (1 - (cc.embedding <=> $3))::float8 as context_similarity,
                a.filename, ft.id as file_task, c.embedding
         from picked f
         join knowledge_chunks c on c.id = f.id
         join room_members rm on rm.room_id = c.room_id and rm.user_id = $1
         join rooms r on r.id = c.room_id
         left join messages m on c.source_kind = 'message' and m.id = c.source_id
         left join users mu on mu.id = m.author_id
         left join tasks t on c.source_kind = 'task' and t.id = c.source_id
         left join users tu on tu.id = t.creator_id
         left join messages pm on pm.id = m.reply_to and pm.deleted_at is null and pm.room_id = c.room_id
         left join tasks dt on dt.id = m.task_id and dt.deleted_at is null and dt.room_id = c.room_id
         left join knowledge_chunks cc on cc.model = $5
              and ((pm.id is not null and cc.source_kind = 'message' and cc.source_id = pm.id)
                or (pm.id is null and dt.id is not null and cc.source_kind = 'task' and cc.source_id = dt.id))
         left join attachments a on c.source_kind = 'attachment' and a.id = c.source_id
         left join messages fm on fm.id = a.message_id and fm.deleted_at is null
         left join tasks ft on ft.id = a.task_id and ft.deleted_at is null
         left join users fu on fu.id = a.uploader_id
         where (m.id is not null and m.deleted_at is null) or (t.id is not null and t.deleted_at is null)
            or fm.id is not null or ft.id is not null
         order by f.score desc, c.source_id, c.part",
    )
    .bind(viewer)
    .bind(room)
    .bind(Vector::from(embedding))
    .bind(text)
    .bind(model)
    .bind(candidates)
    .bind(limit)
    .bind(BRANCH_TOP)
    .fetch_all(&mut *tx)
    .await?)
}
