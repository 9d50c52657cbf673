//! Configuration: built-in defaults → `flowly.toml` → `FLOWLY_*` environment (`__` nests).
//!
//! Secrets (URLs with passwords) are wrapped in [`Secret`], whose `Debug` and `Serialize` redact,
//! so printing the effective config (`flowly config`) or logging it never shows them.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    path::Path,
    str::FromStr,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// The whole effective configuration of a Flowly process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub realtime: RealtimeConfig,
    pub assistant: AssistantConfig,
    pub log: LogConfig,
    pub logpilot: LogpilotConfig,
    pub attachments: AttachmentsConfig,
    pub push: PushConfig,
}

/// Files and images uploaded to rooms and tasks (`src/app/attachments.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentsConfig {
    /// Directory the files and thumbnails are stored in (a volume in the appliance; backed up).
    pub dir: String,
    /// Largest file accepted, in bytes (413 `too_large` above it).
    pub max_file_bytes: u64,
    /// Bytes all attachments of the installation may take together (0: no quota); an upload past
    /// it is refused with 507 `quota_exceeded`.
    pub quota_bytes: u64,
    /// Media types accepted (415 `unsupported_type` for others). Images among them are decoded
    /// to check them and to make a thumbnail.
    pub allowed_types: Vec<String>,
    /// Largest image accepted, in pixels (width times height), checked before decoding.
    pub max_image_pixels: u64,
    /// Longest side of a thumbnail, in pixels.
    pub thumbnail_px: u32,
    /// Characters of a text file's or a PDF's text kept for the assistant's index (the rest is
    /// not searchable; the file itself is whole). 0: files are not indexed.
    pub max_text_chars: u64,
    /// Seconds an upload to a room may wait to be sent with a message; older ones are deleted
    /// with their files (each node looks every `min(this, 3600)` seconds). 0: kept forever.
    pub unsent_ttl_secs: u64,
}

/// Web Push (RFC 8030/8291/8292): notifications for people with no Flowly tab open.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// Send pushes at all (false: browsers may still subscribe; nothing is sent).
    pub enabled: bool,
    /// The VAPID private key: a P-256 scalar, 32 bytes base64url. Empty: the first node to start
    /// makes one and stores it in the database, and every node uses that. Set it from a secret,
    /// e.g. `FLOWLY_PUSH__VAPID_PRIVATE_KEY`.
    pub vapid_private_key: Secret,
    /// Contact for push services in the VAPID token: a `mailto:` or `https:` URL.
    pub subject: String,
    /// Accept plain-http push endpoints on loopback addresses (tests only: real push services are
    /// https).
    pub allow_loopback_http: bool,
    /// Seconds one request to a push service may take.
    pub timeout_secs: u64,
    /// Requests to push services in flight at once, per node.
    pub concurrency: usize,
    /// Seconds a push service keeps a push for a browser that is offline (`TTL`).
    pub ttl_secs: u32,
    /// Subscriptions one user may register (browsers and devices).
    pub max_subscriptions_per_user: i64,
}

/// The log broker (`flowly logpilot`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogpilotConfig {
    /// Address the broker's API (native, Loki, `/metrics`, `/ready`) listens on.
    pub listen: SocketAddr,
    /// Directory of the channels' segment files.
    pub data_dir: String,
    /// `always`, `never`, or an interval such as `200ms`.
    pub fsync: String,
    /// A segment is closed past this size.
    pub segment_bytes: u64,
    /// Oldest whole segments of a channel are dropped past this size (0: no limit).
    pub retention_bytes: u64,
    /// Segments whose newest record is older are dropped (0: kept forever).
    pub retention_hours: u64,
    /// The key that may ingest (empty: none). Set it from a secret, e.g.
    /// `FLOWLY_LOGPILOT__PRODUCER_KEY`.
    pub producer_key: Secret,
    /// The key that may read and query (Grafana, `flowlyctl logs`; empty: none).
    pub reader_key: Secret,
    /// Events per second one key may send, sustained, and the burst above it.
    pub rate_per_sec: f64,
    pub rate_burst: f64,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// A compose project whose containers' logs the broker collects through the Docker API
    /// (empty: none). The appliance sets its own project.
    pub collect_project: String,
    /// Compose services of that project not collected: they ship their own logs.
    pub collect_skip: Vec<String>,
}

impl LogpilotConfig {
    /// What to collect from the Docker engine, when `collect_project` is set.
    pub fn collect(&self) -> Option<logpilot::collect::CollectConfig> {
        if self.collect_project.is_empty() {
            return None;
        }
        let port = self.listen.port();
        let key = self.producer_key.expose();
        Some(logpilot::collect::CollectConfig {
            project: self.collect_project.clone(),
            skip_services: self.collect_skip.clone(),
            broker_url: format!("http://127.0.0.1:{port}"),
            key: (!key.is_empty()).then(|| key.to_owned()),
            positions_file: std::path::Path::new(&self.data_dir).join("collect-positions.json"),
        })
    }

    /// The broker's own settings. With neither key set the API is open (loopback development).
    pub fn broker(&self) -> Result<logpilot::Config, String> {
        let mut c = logpilot::Config::new(&self.data_dir);
        c.fsync = logpilot::FsyncPolicy::parse(&self.fsync).map_err(|e| format!("logpilot.{e}"))?;
        c.segment_bytes = self.segment_bytes;
        c.retention_bytes = self.retention_bytes;
        c.retention = std::time::Duration::from_secs(self.retention_hours * 3600);
        for (name, role, key) in [
            ("producer", logpilot::Role::Producer, &self.producer_key),
            ("reader", logpilot::Role::Reader, &self.reader_key),
        ] {
            if !key.expose().is_empty() {
                c.keys.push(logpilot::ApiKey {
                    name: name.into(),
                    role,
                    key: key.expose().to_owned(),
                });
            }
        }
        c.rate_per_sec = self.rate_per_sec;
        c.rate_burst = self.rate_burst;
        c.limits.max_body_bytes = self.max_body_bytes;
        Ok(c)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistantConfig {
    /// Directory holding the embedded models (`scripts/fetch-models.sh` fills `.cache/models`).
    pub models_dir: String,
    /// `local` (all-MiniLM-L6-v2 through candle, the default) or `ollama`.
    pub embedder: String,
    /// The embedding model: a directory under `models_dir` for `local`, a model name for `ollama`.
    pub embed_model: String,
    /// Vector length of an `ollama` embedding model; 0 learns it from the first answer (the
    /// `local` model knows its own).
    pub embed_dims: usize,
    /// `ollama` (the appliance default), `local` (a GGUF file under `models_dir`), or `none`
    /// (answers built from the best passages, no language model).
    pub generator: String,
    /// The generation model: a GGUF path under `models_dir` for `local`, a model name for `ollama`.
    pub generate_model: String,
    /// Where Ollama listens.
    pub ollama_url: String,
    /// Longest question accepted, in characters.
    pub max_question_chars: usize,
    /// Passages retrieved for an answer.
    pub top_k: usize,
    /// Most tokens a generated answer may have.
    pub max_answer_tokens: usize,
    /// Reranking score the best passage needs for an answer; below it the answer is "I couldn't
    /// find that in your rooms." (calibrated on `flowly assistant eval`).
    pub answer_min_score: f64,
    /// Further passages join the answer when their score is at least this share of the best's.
    pub answer_keep_ratio: f64,
    /// Seconds one model call may take before it fails (and the job is retried).
    pub model_timeout_secs: u64,
    /// Deliveries of a job before it goes to the dead-letter stream.
    pub max_attempts: u32,
    /// Milliseconds a job may stay unacknowledged before another worker reclaims it.
    pub reclaim_idle_ms: u64,
    /// Questions one user may ask per minute.
    pub asks_per_user_per_minute: u32,
    /// Assistant requests one worker process handles at once.
    pub worker_concurrency: usize,
    /// Seconds between the worker's sweeps for rooms the indexer has not caught up with (a
    /// lost index hint is picked up here).
    pub index_sweep_secs: u64,
    /// Most unread messages a summary covers.
    pub summary_max_messages: i64,
    /// Where `flowly worker` serves its Prometheus `/metrics` (its own port, so a worker can
    /// run beside `flowly serve` on one host).
    pub worker_metrics_listen: SocketAddr,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealtimeConfig {
    /// Frames queued for one socket before it counts as too slow and is closed (it can resume).
    pub queue_frames: usize,
    /// Largest frame a client may send, in bytes.
    pub max_frame_bytes: usize,
    /// Per-socket read buffer, in bytes (small keeps idle sockets cheap).
    pub read_buffer_bytes: usize,
    /// Per-socket write buffer, in bytes.
    pub write_buffer_bytes: usize,
    /// Most bytes buffered for writing to one socket.
    pub max_write_buffer_bytes: usize,
    /// Seconds a write to a socket may take before the client counts as too slow and is cut off.
    pub write_timeout_secs: u64,
    /// Seconds between server pings (and presence refreshes).
    pub heartbeat_secs: u64,
    /// A socket silent for this long is closed as dead.
    pub idle_timeout_secs: u64,
    /// Seconds between a node's checks of all its sockets' sessions in one query: the safety net
    /// under the "session ended" message that closes a revoked session's sockets at once (it
    /// also closes sockets whose session expired). `0` turns it off.
    pub session_check_secs: u64,
    /// Seconds the server waits for the client's `resume` frame.
    pub resume_wait_secs: u64,
    /// Sockets one node lets authenticate and catch up at once; an upgrade beyond it waits in
    /// line for `connect_queue_ms`, then is closed with `1013 overloaded: retry later`, so a
    /// reconnect storm is admitted at the pace the node can serve (0: no limit).
    pub max_connecting: u32,
    /// Milliseconds a socket over `max_connecting` waits in line before it is refused; 0 refuses
    /// at once. At most 30,000.
    pub connect_queue_ms: u64,
    /// Sockets one user may hold across all nodes.
    pub max_sockets_per_user: u32,
    /// Sustained client frames per second per socket, and the burst above it.
    pub frames_per_second: u32,
    pub frame_burst: u32,
    /// Milliseconds a typing indicator lasts without a refresh.
    pub typing_ttl_ms: u64,
    /// Seconds a socket's presence entry lives without a heartbeat.
    pub presence_ttl_secs: u64,
    /// In rooms of at most this many members a moved read marker (`read.updated`) goes to every
    /// member's sockets; in larger rooms only to the reader's own (the others see it in the
    /// member list when they load it). In a 250-member channel every read was a frame to each
    /// of its ~90 online sockets: most of all the frames the nodes wrote (docs/capacity.md).
    pub read_receipts_max_members: u32,
    /// A user's presence reaches, live, their friends and the members of their rooms of at most
    /// this many members (DMs, teams); members of larger rooms see it in the room's member list,
    /// read when they open it. Every connect and disconnect went to the sockets of everyone
    /// sharing a 250-member channel, and every connect read the presence of each of them.
    pub presence_room_max_members: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the API and web client listen on.
    pub listen: SocketAddr,
    /// Address the Prometheus `/metrics` endpoint listens on (its own port).
    pub metrics_listen: SocketAddr,
    /// Take the client address from `X-Forwarded-For`, and the scheme and host the browser used
    /// from `X-Forwarded-Proto` and `X-Forwarded-Host` (only behind a trusted proxy such as
    /// nginx: every peer then counts as that proxy, so the per-address connection cap is off).
    pub trust_forwarded_for: bool,
    /// The address users open Flowly at, such as `https://chat.example.com` (empty: the
    /// request's own scheme and host). When set, a browser's WebSocket must come from exactly
    /// this origin.
    pub public_url: String,
    /// Seconds a client has to send a whole request head, from its first byte (or, on a new
    /// connection, from the connect); past it the connection is closed.
    pub header_read_timeout_secs: u64,
    /// Seconds a keep-alive connection may sit idle between requests before it is closed. Keep it
    /// above the proxy's own upstream keep-alive (nginx: 60 s), so the proxy closes first.
    pub keep_alive_timeout_secs: u64,
    /// Connections one client address may hold open at once, WebSockets included; more are
    /// refused at accept (0: no cap). IPv6 addresses count per /64.
    pub max_connections_per_ip: u32,
    /// Addresses and networks (`10.0.0.5`, `192.168.0.0/16`, `::1`) the cap does not apply to,
    /// such as a local proxy's.
    pub connection_cap_exempt: Vec<Network>,
    /// Requests one node handles at once; one more is refused at once with 503 `overloaded` and
    /// a `Retry-After` rather than queued behind the database pool (0: no limit). The WebSocket
    /// upgrade and the health checks are outside it.
    pub max_requests_in_flight: u32,
    /// Milliseconds a request over `max_requests_in_flight` waits in line for a place (first come,
    /// first served) before it is refused; 0 refuses at once. At most 30,000.
    pub request_queue_ms: u64,
    /// Seconds given to in-flight requests after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// The built web client (`web/dist`), served at `/` when the directory exists.
    pub web_dir: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: Secret,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    pub url: Secret,
    /// Prefix of every key Flowly writes, so several deployments (or tests) can share one Redis.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub session_ttl_days: i64,
    /// Seconds a validated session stays cached in Redis.
    pub session_cache_secs: u64,
    /// Set the `Secure` flag on cookies (on whenever Flowly is served over HTTPS).
    pub cookie_secure: bool,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// Failed logins allowed per account within `login_window_secs`.
    pub login_failures_per_account: u32,
    /// Login attempts allowed per client address within `login_window_secs`.
    pub login_attempts_per_ip: u32,
    pub login_window_secs: u64,
    /// Accounts that may be registered per client address per hour.
    pub registrations_per_ip_per_hour: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body accepted, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Longest message body, in characters.
    pub max_message_chars: usize,
    /// Largest page a list endpoint returns.
    pub max_page_size: i64,
    /// Writes (messages, tasks, reactions...) allowed per user per minute.
    pub writes_per_user_per_minute: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing `EnvFilter` directive, e.g. `info` or `flowly=debug,info`.
    pub level: LogLevel,
    /// `json` (default, for log shipping) or `pretty`.
    pub format: LogFormat,
    /// A LogPilot broker to ship this process's logs to, such as `http://127.0.0.1:3100`
    /// (empty: not shipped).
    pub ship_url: String,
    /// The broker's producer key.
    pub ship_key: Secret,
    /// Where batches wait while the broker is away (a directory per process role).
    pub ship_spool_dir: String,
    /// Past this many bytes of spool the oldest batches are dropped (and counted).
    pub ship_spool_max_bytes: u64,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (for log shipping).
    Json,
    /// Human-readable lines.
    Pretty,
}

/// A tracing `EnvFilter` directive (`info`, `flowly=debug,info`...), checked when the
/// configuration is read, so a typo stops the process at startup instead of silently logging at
/// another level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LogLevel(String);

impl LogLevel {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LogLevel {
    type Error = String;

    fn try_from(directive: String) -> Result<Self, Self::Error> {
        let bad = |why: String| format!("log.level {directive:?} is not a log filter: {why}");
        let directive = directive.trim().to_owned();
        if directive.is_empty() {
            return Err(bad("it is empty".into()));
        }
        for part in directive.split(',') {
            // `target=level` or a bare level; the level must be one tracing knows.
            let level = part
                .rsplit_once('=')
                .map_or(part, |(_, level)| level)
                .trim();
            if !matches!(
                level.to_ascii_lowercase().as_str(),
                "trace" | "debug" | "info" | "warn" | "error" | "off"
            ) && !part.contains('[')
            {
                return Err(bad(format!(
                    "{level:?} is not one of trace, debug, info, warn, error, off"
                )));
            }
        }
        tracing_subscriber::EnvFilter::try_new(&directive).map_err(|e| bad(e.to_string()))?;
        Ok(LogLevel(directive))
    }
}

impl From<LogLevel> for String {
    fn from(level: LogLevel) -> String {
        level.0
    }
}

impl AssistantConfig {
    /// The model part of these settings, for `flowly_models::models::{embedder, generator}`.
    pub fn models(&self) -> flowly_models::ModelSettings {
        flowly_models::ModelSettings {
            models_dir: self.models_dir.clone(),
            embedder: self.embedder.clone(),
            embed_model: self.embed_model.clone(),
            embed_dims: self.embed_dims,
            generator: self.generator.clone(),
            generate_model: self.generate_model.clone(),
            ollama_url: self.ollama_url.clone(),
            model_timeout_secs: self.model_timeout_secs,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let models = flowly_models::ModelSettings::default();
        Config {
            server: ServerConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
                metrics_listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
                trust_forwarded_for: false,
                public_url: String::new(),
                header_read_timeout_secs: 10,
                keep_alive_timeout_secs: 75,
                max_connections_per_ip: 256,
                connection_cap_exempt: vec![
                    Network::from(IpAddr::from([127, 0, 0, 0])).with_prefix(8),
                    Network::from(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
                ],
                max_requests_in_flight: 256,
                request_queue_ms: 1000,
                shutdown_grace_secs: 10,
                web_dir: "web/dist".into(),
            },
            database: DatabaseConfig {
                url: Secret("postgres://postgres@127.0.0.1:55432/flowly".into()),
                max_connections: 20,
                acquire_timeout_secs: 5,
            },
            redis: RedisConfig {
                url: Secret("redis://127.0.0.1:56379".into()),
                key_prefix: "flowly:".into(),
            },
            auth: AuthConfig {
                session_ttl_days: 30,
                session_cache_secs: 300,
                cookie_secure: false,
                argon2_memory_kib: 19 * 1024,
                argon2_iterations: 2,
                login_failures_per_account: 5,
                login_attempts_per_ip: 30,
                login_window_secs: 900,
                registrations_per_ip_per_hour: 20,
            },
            limits: LimitsConfig {
                max_body_bytes: 256 * 1024,
                max_message_chars: 8000,
                max_page_size: 200,
                writes_per_user_per_minute: 600,
            },
            realtime: RealtimeConfig {
                queue_frames: 256,
                max_frame_bytes: 64 * 1024,
                read_buffer_bytes: 1024,
                write_buffer_bytes: 0,
                max_write_buffer_bytes: 1024 * 1024,
                write_timeout_secs: 10,
                heartbeat_secs: 30,
                idle_timeout_secs: 75,
                session_check_secs: 300,
                resume_wait_secs: 10,
                max_connecting: 32,
                connect_queue_ms: 5000,
                max_sockets_per_user: 20,
                frames_per_second: 10,
                frame_burst: 40,
                typing_ttl_ms: 6000,
                presence_ttl_secs: 90,
                read_receipts_max_members: 50,
                presence_room_max_members: 50,
            },
            assistant: AssistantConfig {
                models_dir: models.models_dir,
                embedder: models.embedder,
                embed_model: models.embed_model,
                embed_dims: models.embed_dims,
                generator: models.generator,
                generate_model: models.generate_model,
                ollama_url: models.ollama_url,
                max_question_chars: 2000,
                top_k: 5,
                max_answer_tokens: 256,
                answer_min_score: 0.8,
                answer_keep_ratio: 0.85,
                model_timeout_secs: models.model_timeout_secs,
                max_attempts: 5,
                reclaim_idle_ms: 60_000,
                asks_per_user_per_minute: 20,
                worker_concurrency: 2,
                index_sweep_secs: 30,
                summary_max_messages: 50,
                worker_metrics_listen: SocketAddr::from(([127, 0, 0, 1], 9465)),
            },
            log: LogConfig {
                level: LogLevel("info,sqlx=warn".into()),
                format: LogFormat::Json,
                ship_url: String::new(),
                ship_key: Secret(String::new()),
                ship_spool_dir: ".cache/logpilot-spool".into(),
                ship_spool_max_bytes: 256 * 1024 * 1024,
            },
            logpilot: LogpilotConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 3100)),
                data_dir: ".cache/logpilot".into(),
                fsync: "200ms".into(),
                segment_bytes: 128 * 1024 * 1024,
                retention_bytes: 0,
                retention_hours: 7 * 24,
                producer_key: Secret(String::new()),
                reader_key: Secret(String::new()),
                rate_per_sec: 50_000.0,
                rate_burst: 100_000.0,
                max_body_bytes: 8 * 1024 * 1024,
                collect_project: String::new(),
                collect_skip: vec!["app".into(), "worker".into(), "logpilot".into()],
            },
            attachments: AttachmentsConfig {
                dir: ".cache/attachments".into(),
                max_file_bytes: 25 * 1024 * 1024,
                quota_bytes: 10 * 1024 * 1024 * 1024,
                allowed_types: [
                    "image/png",
                    "image/jpeg",
                    "image/gif",
                    "image/webp",
                    "application/pdf",
                    "text/plain",
                    "text/markdown",
                    "text/csv",
                    "application/json",
                    "application/zip",
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                    "application/vnd.oasis.opendocument.text",
                    "application/vnd.oasis.opendocument.spreadsheet",
                ]
                .map(String::from)
                .to_vec(),
                max_image_pixels: 50_000_000,
                thumbnail_px: 320,
                max_text_chars: 200_000,
                unsent_ttl_secs: 24 * 3600,
            },
            push: PushConfig {
                enabled: true,
                vapid_private_key: Secret(String::new()),
                subject: "mailto:admin@localhost".into(),
                allow_loopback_http: false,
                timeout_secs: 10,
                concurrency: 16,
                ttl_secs: 24 * 3600,
                max_subscriptions_per_user: 20,
            },
        }
    }
}

impl Config {
    /// Loads defaults, then `path` (when it exists), then `FLOWLY_*` variables.
    pub fn load(path: &Path) -> Result<Config, Box<figment::Error>> {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(path))
            .merge(
                Env::prefixed("FLOWLY_")
                    .filter(|k| is_setting(k.as_str()))
                    .split("__"),
            )
            .extract::<Config>()
            .map_err(Box::new)?
            .validated()
            .map_err(|e| Box::new(figment::Error::from(e)))
    }

    /// Refuses settings that cannot work (zero where a count or an interval is needed).
    fn validated(self) -> Result<Config, String> {
        let rt = &self.realtime;
        let positive = [
            ("realtime.queue_frames", rt.queue_frames as u64),
            ("realtime.max_frame_bytes", rt.max_frame_bytes as u64),
            ("realtime.heartbeat_secs", rt.heartbeat_secs),
            ("realtime.idle_timeout_secs", rt.idle_timeout_secs),
            ("realtime.write_timeout_secs", rt.write_timeout_secs),
            (
                "server.header_read_timeout_secs",
                self.server.header_read_timeout_secs,
            ),
            (
                "server.keep_alive_timeout_secs",
                self.server.keep_alive_timeout_secs,
            ),
            (
                "realtime.frames_per_second",
                u64::from(rt.frames_per_second),
            ),
            ("realtime.frame_burst", u64::from(rt.frame_burst)),
            (
                "realtime.max_sockets_per_user",
                u64::from(rt.max_sockets_per_user),
            ),
            (
                "database.max_connections",
                u64::from(self.database.max_connections),
            ),
            ("limits.max_body_bytes", self.limits.max_body_bytes as u64),
            (
                "assistant.max_question_chars",
                self.assistant.max_question_chars as u64,
            ),
            ("assistant.top_k", self.assistant.top_k as u64),
            (
                "assistant.max_attempts",
                u64::from(self.assistant.max_attempts),
            ),
            (
                "assistant.worker_concurrency",
                self.assistant.worker_concurrency as u64,
            ),
            (
                "assistant.index_sweep_secs",
                self.assistant.index_sweep_secs,
            ),
            (
                "assistant.summary_max_messages",
                self.assistant.summary_max_messages.max(0) as u64,
            ),
            ("push.timeout_secs", self.push.timeout_secs),
            ("push.concurrency", self.push.concurrency as u64),
            (
                "limits.max_page_size",
                self.limits.max_page_size.max(0) as u64,
            ),
            (
                "auth.session_ttl_days",
                self.auth.session_ttl_days.max(0) as u64,
            ),
            (
                "attachments.max_file_bytes",
                self.attachments.max_file_bytes,
            ),
            (
                "attachments.thumbnail_px",
                u64::from(self.attachments.thumbnail_px),
            ),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} must be greater than 0"));
        }
        let queues = [
            ("server.request_queue_ms", self.server.request_queue_ms),
            ("realtime.connect_queue_ms", rt.connect_queue_ms),
        ];
        if let Some((name, _)) = queues.iter().find(|(_, ms)| *ms > 30_000) {
            return Err(format!(
                "{name} must be at most 30000: work waiting longer for a place has timed out \
                 for its client already"
            ));
        }
        let a = &self.assistant;
        if !(a.answer_min_score >= 0.0 && a.answer_min_score.is_finite()) {
            return Err("assistant.answer_min_score must be 0 or more".into());
        }
        if !(a.answer_keep_ratio > 0.0 && a.answer_keep_ratio <= 1.0) {
            return Err("assistant.answer_keep_ratio must be above 0 and at most 1".into());
        }
        if !self.server.public_url.is_empty() {
            crate::domain::origin::Origin::parse_url(&self.server.public_url).map_err(|why| {
                format!(
                    "server.public_url {:?} is not a URL such as https://chat.example.com: {why}",
                    self.server.public_url
                )
            })?;
        }
        self.logpilot.broker()?;
        Ok(self)
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

/// Only `FLOWLY_<SECTION>__<KEY>` variables are settings; others that share the prefix
/// (`FLOWLY_CONFIG`, `FLOWLY_NEW_PASSWORD`, `FLOWLY_TEST_*`) belong to tools.
fn is_setting(key: &str) -> bool {
    const SECTIONS: &[&str] = &[
        "server",
        "database",
        "redis",
        "auth",
        "limits",
        "realtime",
        "assistant",
        "log",
        "logpilot",
        "attachments",
        "push",
    ];
    let key = key.to_ascii_lowercase();
    SECTIONS.iter().any(|s| {
        key.strip_prefix(s)
            .is_some_and(|rest| rest.starts_with("__"))
    })
}

/// An address or a network (`10.0.0.5`, `192.168.0.0/16`, `fd00::/8`), read from a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Network(ipnet::IpNet);

impl Network {
    /// Whether `ip` is in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }

    fn with_prefix(self, prefix: u8) -> Network {
        ipnet::IpNet::new(self.0.addr(), prefix).map_or(self, |n| Network(n.trunc()))
    }
}

impl From<IpAddr> for Network {
    fn from(ip: IpAddr) -> Network {
        Network(ipnet::IpNet::from(ip))
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Network, String> {
        let s = s.trim();
        if let Ok(net) = s.parse::<ipnet::IpNet>() {
            return Ok(Network(net.trunc()));
        }
        s.parse::<IpAddr>().map(Network::from).map_err(|_| {
            format!("{s:?} is neither an IP address nor a network such as 192.168.0.0/16")
        })
    }
}

impl TryFrom<String> for Network {
    type Error = String;

    fn try_from(s: String) -> Result<Network, String> {
        s.parse()
    }
}

impl From<Network> for String {
    fn from(net: Network) -> String {
        net.0.to_string()
    }
}

/// A secret string (usually a URL with a password). `Debug` and `Serialize` show it redacted.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The real value, for the one place that connects with it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value with any password in it replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // An unset secret prints as unset, so `flowly config` shows whether a key is there.
        if self.0.is_empty() {
            s.serialize_str("")
        } else {
            s.serialize_str(&self.redacted())
        }
    }
}

/// Hides the password of `scheme://user:password@host/...`; anything that is not such a URL is
/// hidden whole.
fn redact_url(value: &str) -> String {
    let Some((scheme, rest)) = value.split_once("://") else {
        return "***".into();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => format!("{scheme}://{authority}{tail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/flowly"),
            "postgres://app:***@db:5432/flowly"
        );
        assert_eq!(
            redact_url("redis://:hunter2@127.0.0.1:6379"),
            "redis://:***@127.0.0.1:6379"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(redact_url("plain-token"), "***");
    }

    #[test]
    fn printed_config_never_shows_secrets() {
        let mut config = Config::default();
        config.database.url = Secret::new("postgres://app:s3cret@db/flowly");
        let printed = config.to_redacted_toml();
        assert!(!printed.contains("s3cret"));
        assert!(printed.contains("postgres://app:***@db/flowly"));
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn the_vapid_key_comes_from_the_environment_and_never_prints() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FLOWLY_PUSH__VAPID_PRIVATE_KEY", "vapid-s3cret");
            let config = Config::load(Path::new("flowly.toml")).map_err(|e| e.to_string())?;
            assert_eq!(config.push.vapid_private_key.expose(), "vapid-s3cret");
            assert!(!format!("{config:?}").contains("vapid-s3cret"));
            let printed = config.to_redacted_toml();
            assert!(!printed.contains("s3cret") && printed.contains("vapid_private_key = \"***\""));
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn logpilot_keys_come_from_the_environment_and_never_print() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "flowly.toml",
                "[logpilot]\nfsync = \"always\"\nretention_hours = 2\n",
            )?;
            jail.set_env("FLOWLY_LOGPILOT__PRODUCER_KEY", "prod-s3cret");
            jail.set_env("FLOWLY_LOG__SHIP_KEY", "ship-s3cret");
            let config = Config::load(Path::new("flowly.toml")).map_err(|e| e.to_string())?;
            let broker = config.logpilot.broker().map_err(|e| e.to_string())?;
            assert_eq!(broker.fsync, logpilot::FsyncPolicy::Always);
            assert_eq!(broker.retention, std::time::Duration::from_secs(7200));
            assert_eq!(broker.keys.len(), 1);
            assert_eq!(broker.keys[0].key, "prod-s3cret");
            let printed = config.to_redacted_toml();
            assert!(!printed.contains("s3cret") && printed.contains("producer_key = \"***\""));
            assert!(printed.contains("reader_key = \"\""));
            jail.set_env("FLOWLY_LOGPILOT__FSYNC", "sometimes");
            assert!(Config::load(Path::new("flowly.toml")).is_err());
            jail.set_env("FLOWLY_LOGPILOT__FSYNC", "100ms");
            jail.create_file("flowly.toml", "[logpilot]\nlisten_port = 1\n")?;
            assert!(
                Config::load(Path::new("flowly.toml"))
                    .is_err_and(|e| e.to_string().contains("listen_port"))
            );
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn environment_overrides_file_and_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("flowly.toml", "[server]\nshutdown_grace_secs = 3\n")?;
            jail.set_env("FLOWLY_DATABASE__MAX_CONNECTIONS", "7");
            jail.set_env("FLOWLY_TEST_DATABASE_URL", "postgres://elsewhere");
            jail.set_env("FLOWLY_NEW_PASSWORD", "not a setting");
            let config = Config::load(Path::new("flowly.toml")).map_err(|e| e.to_string())?;
            assert_eq!(config.server.shutdown_grace_secs, 3);
            assert_eq!(config.database.max_connections, 7);
            assert_eq!(config.auth.session_ttl_days, 30);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn connection_settings_are_read_and_bad_ones_named_at_startup() {
        figment::Jail::expect_with(|jail| {
            let load = || Config::load(Path::new("none.toml")).map_err(|e| e.to_string());
            let defaults = load()?;
            let loopback: IpAddr = "127.0.0.9".parse().map_err(|_| "ip")?;
            assert!(defaults.server.connection_cap_exempt[0].contains(loopback));
            assert!(
                defaults.server.connection_cap_exempt[1]
                    .contains(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]))
            );
            jail.set_env(
                "FLOWLY_SERVER__CONNECTION_CAP_EXEMPT",
                "[\"10.1.0.0/16\", \"192.0.2.7\"]",
            );
            jail.set_env("FLOWLY_SERVER__PUBLIC_URL", "https://chat.example.com/");
            let config = load()?;
            let exempt = &config.server.connection_cap_exempt;
            assert!(exempt[0].contains("10.1.200.3".parse().map_err(|_| "ip")?));
            assert!(exempt[1].contains("::ffff:192.0.2.7".parse().map_err(|_| "ip")?));
            assert!(!exempt[1].contains("192.0.2.8".parse().map_err(|_| "ip")?));
            assert!(config.to_redacted_toml().contains("\"10.1.0.0/16\""));
            jail.set_env("FLOWLY_SERVER__CONNECTION_CAP_EXEMPT", "[\"10.1.0.0/99\"]");
            assert!(load().is_err_and(|e| e.contains("10.1.0.0/99")));
            jail.set_env("FLOWLY_SERVER__CONNECTION_CAP_EXEMPT", "[]");
            jail.set_env("FLOWLY_SERVER__PUBLIC_URL", "chat.example.com");
            assert!(load().is_err_and(|e| e.contains("server.public_url")));
            jail.set_env("FLOWLY_SERVER__PUBLIC_URL", "");
            jail.set_env("FLOWLY_SERVER__HEADER_READ_TIMEOUT_SECS", "0");
            assert!(load().is_err_and(|e| e.contains("server.header_read_timeout_secs")));
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn a_mistyped_log_level_or_format_is_refused_at_startup() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FLOWLY_LOG__LEVEL", "flowly=debgu,info");
            let error = Config::load(Path::new("none.toml"))
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert!(error.is_err_and(|e| e.contains("\"debgu\" is not one of")));
            jail.set_env("FLOWLY_LOG__LEVEL", "flowly=debug,warn");
            jail.set_env("FLOWLY_LOG__FORMAT", "prety");
            let error = Config::load(Path::new("none.toml"))
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert!(error.is_err_and(|e| e.contains("prety")));
            jail.set_env("FLOWLY_LOG__FORMAT", "pretty");
            let config = Config::load(Path::new("none.toml")).map_err(|e| e.to_string())?;
            assert_eq!(config.log.format, LogFormat::Pretty);
            assert_eq!(config.log.level.as_str(), "flowly=debug,warn");
            Ok(())
        });
    }
}
