//! Shipping a process's tracing events to LogPilot.
//!
//! [`layer`] gives a `tracing_subscriber` layer and its guard. The layer never blocks: it turns
//! an event (with the fields of the spans around it, such as `request_id` and `user_id`) into a
//! small record and puts it on a bounded queue; a full queue drops the event and counts it. A
//! background thread gathers the queue into batches, numbers each batch (producer id and
//! sequence, so the broker stores a retried batch once), writes it to the spool directory, and
//! then sends the spool to the broker oldest first, deleting each file the broker accepted. When
//! the broker is away or slow the spool grows, up to a size cap past which the oldest batches are
//! dropped and counted; when it is back the spool is resent in order. A process killed at any
//! point resends its spool when it starts again, and the broker's de-duplication keeps each batch
//! once.

use std::{
    cell::Cell,
    collections::BTreeMap,
    fs, io,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use serde_json::{Value as JsonValue, json};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id, Record},
};
use tracing_subscriber::{Layer, layer::Context, registry::LookupSpan};

/// Where and how to ship.
#[derive(Clone)]
pub struct ShipConfig {
    /// The broker's base URL, such as `http://127.0.0.1:3100`.
    pub url: String,
    /// A producer key (sent as `Authorization: Bearer`); none for an open broker.
    pub key: Option<String>,
    /// The channel, and the `service` label.
    pub service: String,
    /// The `node` label (the host's name).
    pub node: String,
    /// Where unsent batches wait (created when missing; one directory per process).
    pub spool_dir: PathBuf,
    /// Past this many bytes of spool, the oldest batches are dropped.
    pub spool_max_bytes: u64,
    /// Events the in-memory queue holds before new ones are dropped.
    pub queue_events: usize,
    /// Most events in one batch.
    pub batch_events: usize,
    /// A batch is closed at least this often.
    pub flush_interval: Duration,
}

impl std::fmt::Debug for ShipConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShipConfig")
            .field("url", &self.url)
            .field("key", &self.key.as_ref().map(|_| "***"))
            .field("service", &self.service)
            .field("node", &self.node)
            .field("spool_dir", &self.spool_dir)
            .finish_non_exhaustive()
    }
}

impl ShipConfig {
    /// Defaults for shipping `service` to `url`, spooling in `spool_dir`.
    pub fn new(url: &str, service: &str, spool_dir: impl Into<PathBuf>) -> Self {
        ShipConfig {
            url: url.trim_end_matches('/').to_owned(),
            key: None,
            service: service.to_owned(),
            node: hostname(),
            spool_dir: spool_dir.into(),
            spool_max_bytes: 256 * 1024 * 1024,
            queue_events: 10_000,
            batch_events: 1_000,
            flush_interval: Duration::from_millis(200),
        }
    }
}

/// The host's name, for the `node` label.
pub fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Counters of what did not reach the broker.
#[derive(Debug, Default)]
pub struct ShipStats {
    /// Events dropped because the in-memory queue was full.
    pub dropped_queue_full: AtomicU64,
    /// Events dropped with the oldest spool files past the size cap.
    pub dropped_spool_full: AtomicU64,
    /// Events the broker refused for good (a 4xx other than 429).
    pub rejected: AtomicU64,
    /// Events the broker accepted.
    pub sent: AtomicU64,
}

enum Msg {
    Event(ShipEvent),
    /// Spool everything queued before this, try to send, then answer.
    Flush(mpsc::SyncSender<()>),
    /// The guard is gone: spool, send for up to 5 s, stop (the layer keeps a sender, so the
    /// channel alone never closes).
    Stop,
}

struct ShipEvent {
    ts: i64,
    level: &'static str,
    message: String,
    fields: BTreeMap<String, String>,
}

thread_local! {
    /// Set on the shipping thread: what its HTTP client logs is never shipped (no feedback loop).
    static SHIPPING: Cell<bool> = const { Cell::new(false) };
}

/// The layer: put it in a `tracing_subscriber` registry.
pub struct ShipLayer {
    tx: mpsc::SyncSender<Msg>,
    stats: Arc<ShipStats>,
}

/// Keeps the shipping thread; dropping it flushes (for up to 5 s) and stops it.
pub struct ShipGuard {
    tx: Option<mpsc::SyncSender<Msg>>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<ShipStats>,
}

impl ShipGuard {
    /// Waits until every event emitted before the call is spooled (on disk) and one attempt to
    /// send the spool was made; false if that took longer than `timeout`.
    pub fn flush(&self, timeout: Duration) -> bool {
        let Some(tx) = &self.tx else { return false };
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        if tx.send(Msg::Flush(done_tx)).is_err() {
            return false;
        }
        done_rx.recv_timeout(timeout).is_ok()
    }

    pub fn stats(&self) -> &ShipStats {
        &self.stats
    }
}

impl Drop for ShipGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Msg::Stop);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The layer and its guard; the spool directory is created and its producer identity read (or
/// made) here, so a broken spool fails at startup.
pub fn layer(config: ShipConfig) -> io::Result<(ShipLayer, ShipGuard)> {
    fs::create_dir_all(&config.spool_dir)?;
    let spool = Spool::open(&config.spool_dir, config.spool_max_bytes)?;
    let (tx, rx) = mpsc::sync_channel(config.queue_events.max(1));
    let stats = Arc::new(ShipStats::default());
    let worker_stats = Arc::clone(&stats);
    let thread = std::thread::Builder::new()
        .name("logpilot-ship".into())
        .spawn(move || {
            SHIPPING.with(|s| s.set(true));
            run(config, spool, rx, worker_stats);
        })?;
    Ok((
        ShipLayer {
            tx: tx.clone(),
            stats: Arc::clone(&stats),
        },
        ShipGuard {
            tx: Some(tx),
            thread: Some(thread),
            stats,
        },
    ))
}

/// Fields recorded on a span, kept in its extensions.
struct SpanFields(BTreeMap<String, String>);

#[derive(Default)]
struct Visitor {
    message: Option<String>,
    fields: BTreeMap<String, String>,
}

const MAX_TEXT: usize = 60 * 1024;
const MAX_FIELDS: usize = 60;

fn clip(mut s: String) -> String {
    if s.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

impl Visitor {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = Some(clip(value));
        } else if !field.name().starts_with("log.") && self.fields.len() < MAX_FIELDS {
            self.fields.insert(field.name().to_owned(), clip(value));
        }
    }
}

impl Visit for Visitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.to_string());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.to_string());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.to_string());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl<S> Layer<S> for ShipLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut v = Visitor::default();
        attrs.record(&mut v);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(v.fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut v = Visitor::default();
        values.record(&mut v);
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            match ext.get_mut::<SpanFields>() {
                Some(fields) => fields.0.extend(v.fields),
                None => ext.insert(SpanFields(v.fields)),
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if SHIPPING.with(Cell::get) {
            return;
        }
        let meta = event.metadata();
        let mut fields = BTreeMap::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<SpanFields>() {
                    fields.extend(f.0.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        let mut v = Visitor::default();
        event.record(&mut v);
        fields.extend(v.fields);
        fields.insert("target".into(), meta.target().to_owned());
        while fields.len() > MAX_FIELDS {
            fields.pop_first();
        }
        let level = match *meta.level() {
            tracing::Level::TRACE => "trace",
            tracing::Level::DEBUG => "debug",
            tracing::Level::INFO => "info",
            tracing::Level::WARN => "warn",
            tracing::Level::ERROR => "error",
        };
        let msg = Msg::Event(ShipEvent {
            ts: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
            level,
            message: v.message.unwrap_or_default(),
            fields,
        });
        if self.tx.try_send(msg).is_err() {
            self.stats
                .dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Identity {
    producer_id: String,
    next_seq: u64,
}

/// The spool directory: `producer.json` (this producer's id and next sequence) and one file per
/// batch, `<seq, 20 digits>-<events>.json`, holding the exact request body.
struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    identity: Identity,
}

fn batch_files(dir: &Path) -> io::Result<Vec<(u64, usize, PathBuf, u64)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let Some((seq, count)) = stem.split_once('-') else {
            continue;
        };
        if let (Ok(seq), Ok(count)) = (seq.parse::<u64>(), count.parse::<usize>()) {
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            files.push((seq, count, entry.path(), len));
        }
    }
    files.sort_by_key(|f| f.0);
    Ok(files)
}

impl Spool {
    fn open(dir: &Path, max_bytes: u64) -> io::Result<Spool> {
        let path = dir.join("producer.json");
        let mut identity = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Identity {
                producer_id: uuid::Uuid::new_v4().to_string(),
                next_seq: 1,
            },
            Err(e) => return Err(e),
        };
        if let Some(last) = batch_files(dir)?.last() {
            identity.next_seq = identity.next_seq.max(last.0 + 1);
        }
        let spool = Spool {
            dir: dir.to_owned(),
            max_bytes,
            identity,
        };
        spool.save_identity()?;
        Ok(spool)
    }

    fn save_identity(&self) -> io::Result<()> {
        let path = self.dir.join("producer.json");
        let tmp = self.dir.join("producer.json.tmp");
        fs::write(
            &tmp,
            serde_json::to_vec(&self.identity).map_err(io::Error::other)?,
        )?;
        fs::rename(tmp, path)
    }

    /// Writes a batch with the next sequence number, then trims the spool to its cap.
    fn write(&mut self, node: &str, events: &[ShipEvent], stats: &ShipStats) -> io::Result<()> {
        let seq = self.identity.next_seq;
        self.identity.next_seq += 1;
        // The sequence is taken before the batch exists: a crash in between skips a number,
        // which the broker allows, and never reuses one.
        self.save_identity()?;
        let events: Vec<JsonValue> = events
            .iter()
            .map(|e| {
                json!({"ts": e.ts, "level": e.level, "message": e.message,
                       "labels": {"node": node}, "fields": e.fields})
            })
            .collect();
        let body = json!({"producer_id": self.identity.producer_id, "seq": seq, "events": events});
        let name = format!("{seq:020}-{}.json", events.len());
        let tmp = self.dir.join(format!("{name}.tmp"));
        fs::write(&tmp, serde_json::to_vec(&body).map_err(io::Error::other)?)?;
        fs::rename(tmp, self.dir.join(name))?;
        let files = batch_files(&self.dir)?;
        let mut total: u64 = files.iter().map(|f| f.3).sum();
        for (_, count, path, len) in &files {
            if total <= self.max_bytes {
                break;
            }
            fs::remove_file(path)?;
            total -= len;
            stats
                .dropped_spool_full
                .fetch_add(*count as u64, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// What one attempt to send the spool did.
enum Sent {
    All,
    /// The broker is away or pushing back: try again later.
    Later,
}

async fn send_spool(client: &reqwest::Client, config: &ShipConfig, stats: &ShipStats) -> Sent {
    let files = match batch_files(&config.spool_dir) {
        Ok(files) => files,
        Err(_) => return Sent::Later,
    };
    let url = format!("{}/api/v1/channels/{}/events", config.url, config.service);
    for (_, count, path, _) in files {
        let Ok(body) = fs::read(&path) else {
            return Sent::Later;
        };
        let mut request = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = &config.key {
            request = request.bearer_auth(key);
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => {
                stats.sent.fetch_add(count as u64, Ordering::Relaxed);
                let _ = fs::remove_file(&path);
            }
            Ok(r)
                if r.status().is_client_error()
                    && r.status().as_u16() != 429
                    && r.status().as_u16() != 401
                    && r.status().as_u16() != 403 =>
            {
                // Refused for good (it will never pass): dropped, counted, said once.
                eprintln!(
                    "logpilot shipping: the broker refused a batch of {count} events ({})",
                    r.status()
                );
                stats.rejected.fetch_add(count as u64, Ordering::Relaxed);
                let _ = fs::remove_file(&path);
            }
            _ => return Sent::Later,
        }
    }
    Sent::All
}

fn run(config: ShipConfig, mut spool: Spool, rx: mpsc::Receiver<Msg>, stats: Arc<ShipStats>) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("logpilot shipping: cannot start its runtime; logs are not shipped");
        return;
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let mut pending: Vec<ShipEvent> = Vec::new();
    let mut pending_bytes = 0usize;
    let mut backoff = Duration::from_millis(100);
    let mut retry_at = Instant::now();
    let mut closed = false;
    let mut spool_dirty = true;
    while !closed {
        let deadline = Instant::now() + config.flush_interval;
        let mut flushes = Vec::new();
        // Gather until the batch is full, the interval is over, or a flush is asked for.
        while pending.len() < config.batch_events && pending_bytes < 1 << 20 {
            let wait = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(Msg::Event(e)) => {
                    pending_bytes += e.message.len() + 64;
                    pending.push(e);
                }
                Ok(Msg::Flush(done)) => {
                    flushes.push(done);
                    break;
                }
                Ok(Msg::Stop) => {
                    closed = true;
                    break;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        if !pending.is_empty() {
            if let Err(e) = spool.write(&config.node, &pending, &stats) {
                eprintln!(
                    "logpilot shipping: cannot spool {} events: {e}",
                    pending.len()
                );
                stats
                    .dropped_spool_full
                    .fetch_add(pending.len() as u64, Ordering::Relaxed);
            }
            pending.clear();
            pending_bytes = 0;
            spool_dirty = true;
        }
        let must_try = !flushes.is_empty() || closed;
        if spool_dirty && (must_try || Instant::now() >= retry_at) {
            let deadline = if closed {
                Duration::from_secs(5)
            } else {
                Duration::from_secs(30)
            };
            let result = runtime.block_on(async {
                tokio::time::timeout(deadline, send_spool(&client, &config, &stats)).await
            });
            match result {
                Ok(Sent::All) => {
                    spool_dirty = false;
                    backoff = Duration::from_millis(100);
                }
                _ => {
                    retry_at = Instant::now() + backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}
