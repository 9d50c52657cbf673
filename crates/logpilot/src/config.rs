//! The broker's settings: where it keeps its data, how hard it syncs, what it keeps, who may
//! talk to it and how much.

use std::{fmt, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

/// When appended records are forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Before a batch is acknowledged: an acknowledged event survives a power cut.
    Always,
    /// At most this long after the append, by a background flusher: a power cut may lose the
    /// last interval (a crash of the process alone loses nothing, the page cache keeps it).
    Every(Duration),
    /// Left to the operating system.
    Never,
}

impl FsyncPolicy {
    /// Parses `always`, `never` or a number of milliseconds such as `200ms` / `200`.
    pub fn parse(text: &str) -> Result<FsyncPolicy, String> {
        let t = text.trim();
        match t {
            "always" => Ok(FsyncPolicy::Always),
            "never" => Ok(FsyncPolicy::Never),
            _ => {
                let ms = t.strip_suffix("ms").unwrap_or(t).trim();
                match ms.parse::<u64>() {
                    Ok(ms) if ms > 0 => Ok(FsyncPolicy::Every(Duration::from_millis(ms))),
                    _ => Err(format!(
                        "fsync {text:?} is not `always`, `never` or a positive number of milliseconds such as `200ms`"
                    )),
                }
            }
        }
    }
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsyncPolicy::Always => f.write_str("always"),
            FsyncPolicy::Never => f.write_str("never"),
            FsyncPolicy::Every(d) => write!(f, "{}ms", d.as_millis()),
        }
    }
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May ingest (native batches and Loki pushes).
    Producer,
    /// May read: fetch, commit, seek, list, and every Loki query endpoint.
    Reader,
}

/// One API key. The key itself never appears in `Debug` output.
#[derive(Clone)]
pub struct ApiKey {
    /// A name for logs and metrics (never the key).
    pub name: String,
    pub role: Role,
    pub key: String,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("key", &"***")
            .finish()
    }
}

/// Limits on what one request may carry.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body (413 above it), after decompression for snappy pushes.
    pub max_body_bytes: usize,
    /// Most events in one batch.
    pub max_batch_events: usize,
    /// Longest message (log line), in bytes.
    pub max_line_bytes: usize,
    /// Most labels on one event (stream labels; fields are not counted).
    pub max_labels: usize,
    /// Most fields on one event.
    pub max_fields: usize,
    /// Distinct label sets (streams) one channel may hold; a new one past it is refused, which
    /// keeps label cardinality bounded.
    pub max_streams_per_channel: usize,
    /// Channels the broker may hold.
    pub max_channels: usize,
    /// Consumer groups per channel.
    pub max_groups_per_channel: usize,
    /// Most entries a log query returns.
    pub max_query_entries: usize,
    /// Most points of one series in a metric query (as Loki: 11,000).
    pub max_query_points: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8 * 1024 * 1024,
            max_batch_events: 10_000,
            max_line_bytes: 64 * 1024,
            max_labels: 16,
            max_fields: 64,
            max_streams_per_channel: 10_000,
            max_channels: 1_000,
            max_groups_per_channel: 100,
            max_query_entries: 5_000,
            max_query_points: 11_000,
        }
    }
}

/// Everything [`crate::Broker`] and [`crate::serve`] need.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory of the channels (created when missing).
    pub data_dir: PathBuf,
    pub fsync: FsyncPolicy,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// Oldest whole segments of a channel are dropped while it is larger (0: no size limit).
    pub retention_bytes: u64,
    /// Segments whose newest record was written longer ago are dropped (zero: kept forever).
    pub retention: Duration,
    /// The keys; none at all leaves the API open (for a loopback-only development broker).
    pub keys: Vec<ApiKey>,
    /// Sustained events per second allowed per key (queries count one each), and the burst.
    pub rate_per_sec: f64,
    pub rate_burst: f64,
    pub limits: Limits,
}

impl Config {
    /// Defaults with the data in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            fsync: FsyncPolicy::Every(Duration::from_millis(200)),
            segment_bytes: 128 * 1024 * 1024,
            retention_bytes: 0,
            retention: Duration::from_secs(7 * 24 * 3600),
            keys: Vec::new(),
            rate_per_sec: 50_000.0,
            rate_burst: 100_000.0,
            limits: Limits::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_policies_parse_and_print_back() {
        assert_eq!(FsyncPolicy::parse("always"), Ok(FsyncPolicy::Always));
        assert_eq!(FsyncPolicy::parse("never"), Ok(FsyncPolicy::Never));
        let every = FsyncPolicy::parse("250ms").unwrap();
        assert_eq!(every, FsyncPolicy::Every(Duration::from_millis(250)));
        assert_eq!(every.to_string(), "250ms");
        assert_eq!(
            FsyncPolicy::parse("100"),
            Ok(FsyncPolicy::Every(Duration::from_millis(100)))
        );
        assert!(FsyncPolicy::parse("0ms").is_err());
        assert!(FsyncPolicy::parse("sometimes").is_err());
    }

    #[test]
    fn keys_are_redacted_in_debug_output() {
        let key = ApiKey {
            name: "grafana".into(),
            role: Role::Reader,
            key: "s3cret-key".into(),
        };
        let shown = format!("{key:?}");
        assert!(shown.contains("grafana") && !shown.contains("s3cret"));
    }
}
