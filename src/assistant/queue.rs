//! The assistant's job queue on Redis Streams, one stream per kind of job, each with the
//! consumer group `workers`.
//!
//! Delivery is at least once: a worker reads with `XREADGROUP`, acknowledges (`XACK`, then
//! `XDEL`, so the stream's length is the work left) only once the job is done, and reclaims with
//! `XAUTOCLAIM` any job left unacknowledged for `reclaim_idle_ms` — one whose worker died, or
//! one that failed in a way worth retrying (Ollama unreachable: the idle time is the back-off).
//! Redis counts deliveries; a job delivered `max_attempts` times without success moves to the
//! stream's dead-letter stream (`<stream>:dead`). Handlers are idempotent, so a job run twice
//! does no harm.

use std::time::Duration;

use redis::{
    AsyncCommands, RedisResult, Value,
    aio::ConnectionManager,
    streams::{
        StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadOptions, StreamReadReply,
    },
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The consumer group every worker joins.
pub const GROUP: &str = "workers";

/// Index hints are lossy by design (the indexer reads the room's event log), so their stream
/// is capped; request jobs are never trimmed.
const INDEX_STREAM_CAP: usize = 100_000;

/// A unit of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Room `room` changed: index its events past the cursor (`full`: re-check every source).
    Index {
        room: Uuid,
        #[serde(default)]
        full: bool,
    },
    /// Process an assistant request (ask, summary, extract).
    Request { id: Uuid },
}

/// The two streams: `requests` for what people wait for, `index` for indexing hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Requests,
    Index,
}

impl Stream {
    /// The stream's Redis key under a deployment's key prefix.
    pub fn key(self, prefix: &str) -> String {
        match self {
            Stream::Requests => format!("{prefix}assistant:requests"),
            Stream::Index => format!("{prefix}assistant:index"),
        }
    }

    /// Its dead-letter stream.
    pub fn dead_key(self, prefix: &str) -> String {
        format!("{}:dead", self.key(prefix))
    }

    pub fn name(self) -> &'static str {
        match self {
            Stream::Requests => "requests",
            Stream::Index => "index",
        }
    }
}

/// Appends a job to its stream.
pub async fn enqueue(
    redis: &mut ConnectionManager,
    prefix: &str,
    job: &Job,
) -> RedisResult<String> {
    let body = serde_json::to_string(job).unwrap_or_default();
    match job {
        Job::Request { .. } => {
            redis
                .xadd(Stream::Requests.key(prefix), "*", &[("job", body)])
                .await
        }
        Job::Index { .. } => {
            redis
                .xadd_maxlen(
                    Stream::Index.key(prefix),
                    redis::streams::StreamMaxlen::Approx(INDEX_STREAM_CAP),
                    "*",
                    &[("job", body)],
                )
                .await
        }
    }
}

/// The key that marks a room as already hinted (so a busy room queues one hint, not thousands).
pub fn hint_key(prefix: &str, room: Uuid) -> String {
    format!("{prefix}assistant:hint:{room}")
}

/// The assistant's listener of room changes: every change becomes an index hint, so no write
/// path can forget one.
pub struct IndexHints {
    pub redis: ConnectionManager,
    pub prefix: String,
}

#[async_trait::async_trait]
impl crate::app::Notifier for IndexHints {
    async fn room_changed(&self, room: Uuid) {
        hint_room(&mut self.redis.clone(), &self.prefix, room).await;
    }
}

/// Tells the indexer that `room` changed: queues an index job unless one is already waiting.
/// Losing a hint is harmless (the next change or the periodic sweep catches up), so errors are
/// only logged.
pub async fn hint_room(redis: &mut ConnectionManager, prefix: &str, room: Uuid) {
    let fresh: RedisResult<Option<String>> = redis::cmd("SET")
        .arg(hint_key(prefix, room))
        .arg(1)
        .arg("NX")
        .arg("EX")
        .arg(30)
        .query_async(redis)
        .await;
    match fresh {
        Ok(Some(_)) => {
            if let Err(e) = enqueue(redis, prefix, &Job::Index { room, full: false }).await {
                tracing::warn!(error = %e, %room, "cannot queue an index hint; the sweep catches up");
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, %room, "cannot queue an index hint; the sweep catches up")
        }
    }
}

/// Clears a room's hint marker before indexing it, so changes made from now on hint again.
pub async fn clear_hint(redis: &mut ConnectionManager, prefix: &str, room: Uuid) {
    let _: RedisResult<()> = redis.del(hint_key(prefix, room)).await;
}

/// A job handed to a consumer.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The stream entry id.
    pub id: String,
    /// `None` when the entry cannot be read as a job (it is dead-lettered).
    pub job: Option<Job>,
    /// Which delivery of the entry this is (1 for the first).
    pub attempt: u32,
}

/// A consumer of one stream.
#[derive(Clone)]
pub struct Consumer {
    redis: ConnectionManager,
    stream: Stream,
    key: String,
    dead: String,
    name: String,
    max_attempts: u32,
    reclaim_idle_ms: u64,
}

impl Consumer {
    /// A consumer named `name` (unique per worker) of `stream`. `redis` should be a connection of
    /// its own: reads block.
    pub async fn new(
        mut redis: ConnectionManager,
        prefix: &str,
        stream: Stream,
        name: &str,
        max_attempts: u32,
        reclaim_idle_ms: u64,
    ) -> RedisResult<Consumer> {
        let key = stream.key(prefix);
        let created: RedisResult<()> = redis.xgroup_create_mkstream(&key, GROUP, "0").await;
        if let Err(e) = created
            && e.code() != Some("BUSYGROUP")
        {
            return Err(e);
        }
        Ok(Consumer {
            redis,
            stream,
            dead: stream.dead_key(prefix),
            key,
            name: name.to_owned(),
            max_attempts,
            reclaim_idle_ms,
        })
    }

    pub fn stream(&self) -> Stream {
        self.stream
    }

    /// The same consumer on another connection: for acknowledging from tasks while this one
    /// blocks in a read (commands on one connection queue behind a blocking read).
    pub fn on(&self, redis: ConnectionManager) -> Consumer {
        Consumer {
            redis,
            ..self.clone()
        }
    }

    /// Up to `count` jobs: first those idle past `reclaim_idle_ms` in other consumers' (or our
    /// own) hands, then new ones, waiting up to `block` for one to arrive.
    pub async fn read(&mut self, count: usize, block: Duration) -> RedisResult<Vec<Delivery>> {
        let mut out = self.reclaim(count).await?;
        if !out.is_empty() {
            return Ok(out);
        }
        let options = StreamReadOptions::default()
            .group(GROUP, &self.name)
            .count(count)
            .block(block.as_millis() as usize);
        let reply: Option<StreamReadReply> = self
            .redis
            .xread_options(&[&self.key], &[">"], &options)
            .await?;
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in key.ids {
                out.push(Delivery {
                    job: parse(&entry),
                    id: entry.id,
                    attempt: 1,
                });
            }
        }
        Ok(out)
    }

    /// Claims jobs idle longer than `reclaim_idle_ms`, with their delivery counts.
    async fn reclaim(&mut self, count: usize) -> RedisResult<Vec<Delivery>> {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.key)
            .arg(GROUP)
            .arg(&self.name)
            .arg(self.reclaim_idle_ms)
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.redis)
            .await?;
        let mut out = Vec::with_capacity(reply.claimed.len());
        for entry in reply.claimed {
            let pending: StreamPendingCountReply = self
                .redis
                .xpending_count(&self.key, GROUP, &entry.id, &entry.id, 1)
                .await?;
            let attempt = pending
                .ids
                .first()
                .map(|p| p.times_delivered as u32)
                .unwrap_or(1);
            out.push(Delivery {
                job: parse(&entry),
                id: entry.id,
                attempt,
            });
        }
        Ok(out)
    }

    /// The job is done: acknowledge and remove it.
    pub async fn ack(&mut self, id: &str) -> RedisResult<()> {
        redis::pipe()
            .atomic()
            .xack(&self.key, GROUP, &[id])
            .ignore()
            .xdel(&self.key, &[id])
            .ignore()
            .query_async::<()>(&mut self.redis)
            .await
    }

    /// Whether a failed delivery should be tried again (left pending to be reclaimed), rather
    /// than dead-lettered.
    pub fn may_retry(&self, delivery: &Delivery) -> bool {
        delivery.attempt < self.max_attempts
    }

    /// Whether a delivery has already been tried too often (a job that killed its workers).
    pub fn exhausted(&self, delivery: &Delivery) -> bool {
        delivery.attempt > self.max_attempts
    }

    /// Moves a job to the dead-letter stream with the reason, and acknowledges it.
    pub async fn dead_letter(&mut self, delivery: &Delivery, reason: &str) -> RedisResult<()> {
        let job = delivery
            .job
            .as_ref()
            .and_then(|j| serde_json::to_string(j).ok())
            .unwrap_or_default();
        let attempts = delivery.attempt.to_string();
        redis::pipe()
            .atomic()
            .xadd(
                &self.dead,
                "*",
                &[
                    ("job", job.as_str()),
                    ("id", delivery.id.as_str()),
                    ("attempts", attempts.as_str()),
                    ("reason", reason),
                ],
            )
            .ignore()
            .xack(&self.key, GROUP, &[&delivery.id])
            .ignore()
            .xdel(&self.key, &[&delivery.id])
            .ignore()
            .query_async::<()>(&mut self.redis)
            .await
    }

    /// Jobs not yet done (waiting or in progress).
    pub async fn depth(&mut self) -> RedisResult<u64> {
        self.redis.xlen(&self.key).await
    }
}

fn parse(entry: &StreamId) -> Option<Job> {
    match entry.map.get("job") {
        Some(Value::BulkString(bytes)) => serde_json::from_slice(bytes).ok(),
        Some(Value::SimpleString(s)) => serde_json::from_str(s).ok(),
        _ => None,
    }
}

/// Entries of a dead-letter stream: `(entry id, job JSON, reason)`, oldest first.
pub async fn dead_letters(
    redis: &mut ConnectionManager,
    prefix: &str,
    stream: Stream,
    count: usize,
) -> RedisResult<Vec<(String, String, String)>> {
    let reply: redis::streams::StreamRangeReply = redis
        .xrange_count(stream.dead_key(prefix), "-", "+", count)
        .await?;
    let text = |e: &StreamId, k: &str| match e.map.get(k) {
        Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    Ok(reply
        .ids
        .iter()
        .map(|e| (e.id.clone(), text(e, "job"), text(e, "reason")))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_as_json() {
        let room = Uuid::nil();
        let job = Job::Index { room, full: false };
        let text = serde_json::to_string(&job).unwrap_or_default();
        assert_eq!(
            text,
            format!(r#"{{"job":"index","room":"{room}","full":false}}"#)
        );
        assert_eq!(serde_json::from_str::<Job>(&text).ok(), Some(job));
        let hint: Job = serde_json::from_str(&format!(r#"{{"job":"index","room":"{room}"}}"#))
            .unwrap_or(Job::Request { id: room });
        assert_eq!(hint, Job::Index { room, full: false });
    }
}
