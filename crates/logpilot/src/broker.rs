//! The broker: the set of channels under one data directory, and the background work that keeps
//! them (the fsync interval and retention).

use std::{
    collections::BTreeMap,
    io,
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use tokio::sync::watch;

use crate::{
    channel::{Appended, Channel, ChannelError},
    config::{Config, FsyncPolicy},
    record::NewRecord,
};

/// Why a broker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("{0:?} is not a channel name (1 to 64 of A-Z a-z 0-9 _ . -, not starting with a dot)")]
    InvalidChannel(String),
    #[error("no channel {0:?}")]
    UnknownChannel(String),
    #[error("the broker already holds {0} channels")]
    TooManyChannels(usize),
    #[error(transparent)]
    Channel(#[from] ChannelError),
}

impl From<io::Error> for BrokerError {
    fn from(e: io::Error) -> Self {
        BrokerError::Channel(ChannelError::Io(e))
    }
}

/// The log broker. Cheap to share behind an `Arc`; its methods block on disk IO, so async code
/// calls them through `spawn_blocking`.
pub struct Broker {
    config: Config,
    channels: RwLock<BTreeMap<String, Arc<Channel>>>,
    /// Bumped after every append, so tails wake up.
    appended: watch::Sender<u64>,
}

/// Checks a channel name: also a directory name, so it is kept to a safe alphabet.
pub fn valid_channel(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl Broker {
    /// Opens every channel under `config.data_dir`, recovering each from a crash.
    pub fn open(config: Config) -> io::Result<Broker> {
        let root = config.data_dir.join("channels");
        std::fs::create_dir_all(&root)?;
        let mut channels = BTreeMap::new();
        for entry in std::fs::read_dir(&root)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.file_type()?.is_dir() || !valid_channel(&name) {
                continue;
            }
            let channel = Channel::open(
                &name,
                entry.path(),
                config.fsync,
                config.segment_bytes,
                config.limits.max_streams_per_channel,
                config.limits.max_groups_per_channel,
            )?;
            channels.insert(name, Arc::new(channel));
        }
        let (appended, _) = watch::channel(0);
        Ok(Broker {
            config,
            channels: RwLock::new(channels),
            appended,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The channel `name`, if it exists.
    pub fn channel(&self, name: &str) -> Option<Arc<Channel>> {
        self.channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// The channel `name`, created when missing.
    pub fn channel_or_create(&self, name: &str) -> Result<Arc<Channel>, BrokerError> {
        if let Some(channel) = self.channel(name) {
            return Ok(channel);
        }
        if !valid_channel(name) {
            return Err(BrokerError::InvalidChannel(name.to_owned()));
        }
        let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
        if let Some(channel) = channels.get(name) {
            return Ok(Arc::clone(channel));
        }
        if channels.len() >= self.config.limits.max_channels {
            return Err(BrokerError::TooManyChannels(
                self.config.limits.max_channels,
            ));
        }
        let channel = Arc::new(Channel::open(
            name,
            self.config.data_dir.join("channels").join(name),
            self.config.fsync,
            self.config.segment_bytes,
            self.config.limits.max_streams_per_channel,
            self.config.limits.max_groups_per_channel,
        )?);
        channels.insert(name.to_owned(), Arc::clone(&channel));
        Ok(channel)
    }

    /// Every channel, by name.
    pub fn channels(&self) -> Vec<Arc<Channel>> {
        self.channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Appends a batch to `channel` (created when missing); see [`Channel::append`].
    pub fn append(
        &self,
        channel: &str,
        producer: &str,
        seq: u64,
        records: &[NewRecord],
    ) -> Result<Appended, BrokerError> {
        let appended = self
            .channel_or_create(channel)?
            .append(producer, seq, records)?;
        if matches!(appended, Appended::Stored { .. }) && !records.is_empty() {
            self.appended.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(appended)
    }

    /// A receiver that changes after each append (for tails).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// Syncs every channel written since its last sync.
    pub fn flush(&self) -> io::Result<()> {
        for channel in self.channels() {
            channel.flush()?;
        }
        Ok(())
    }

    /// Applies retention as of `now`; returns the segments dropped.
    pub fn retain(&self, now: SystemTime) -> io::Result<usize> {
        let older_than = if self.config.retention.is_zero() {
            None
        } else {
            now.checked_sub(self.config.retention)
        };
        let mut dropped = 0;
        for channel in self.channels() {
            dropped += channel.retain(self.config.retention_bytes, older_than)?;
        }
        Ok(dropped)
    }

    /// Runs the fsync interval (when the policy has one) and retention (every 30 s) until
    /// `shutdown` turns true, then syncs one last time.
    pub async fn run_maintenance(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let tick = match self.config.fsync {
            FsyncPolicy::Every(every) => every,
            _ => Duration::from_secs(1),
        };
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_retention = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
            let broker = Arc::clone(&self);
            let due = last_retention.elapsed() >= Duration::from_secs(30);
            if due {
                last_retention = tokio::time::Instant::now();
            }
            let result = tokio::task::spawn_blocking(move || -> io::Result<usize> {
                if broker.config.fsync != FsyncPolicy::Never {
                    broker.flush()?;
                }
                if due {
                    return broker.retain(SystemTime::now());
                }
                Ok(0)
            })
            .await;
            match result {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(segments = n, "retention dropped old segments"),
                Ok(Err(e)) => tracing::error!(error = %e, "log storage maintenance failed"),
                Err(e) => tracing::error!(error = %e, "log storage maintenance panicked"),
            }
        }
        if let Err(e) = self.flush() {
            tracing::error!(error = %e, "final sync of the log storage failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::StoredRecord;
    use std::io::Write;

    fn rec(ts: i64, line: &str) -> NewRecord {
        NewRecord {
            ts,
            labels: vec![("service".into(), "api".into())],
            fields: vec![("request_id".into(), format!("r{ts}"))],
            line: line.into(),
        }
    }

    fn config(dir: &std::path::Path) -> Config {
        let mut c = Config::new(dir);
        c.fsync = FsyncPolicy::Never;
        c.segment_bytes = 4096;
        c
    }

    fn lines(records: &[StoredRecord]) -> Vec<String> {
        records.iter().map(|r| r.line.clone()).collect()
    }

    #[test]
    fn offsets_grow_across_segments_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let broker = Broker::open(config(dir.path())).unwrap();
            for i in 0..300 {
                let appended = broker
                    .append(
                        "api",
                        "",
                        0,
                        &[rec(i, &format!("line {i} {}", "x".repeat(40)))],
                    )
                    .unwrap();
                assert_eq!(
                    appended,
                    Appended::Stored {
                        first: i as u64,
                        last: i as u64
                    }
                );
            }
            assert!(broker.channel("api").unwrap().stats().segments > 3);
        }
        let broker = Broker::open(config(dir.path())).unwrap();
        let channel = broker.channel("api").unwrap();
        assert_eq!(channel.stats().latest, 300);
        let got = channel.fetch(123, 5, usize::MAX).unwrap();
        assert_eq!(
            got.iter().map(|r| r.offset).collect::<Vec<_>>(),
            [123, 124, 125, 126, 127]
        );
        assert_eq!(
            got[0].fields,
            vec![("request_id".to_owned(), "r123".to_owned())]
        );
        assert!(got[0].line.starts_with("line 123 "));
        assert_eq!(
            broker.append("api", "", 0, &[rec(1, "next")]).unwrap(),
            Appended::Stored {
                first: 300,
                last: 300
            }
        );
        assert!(matches!(
            channel.fetch(302, 1, 1),
            Err(ChannelError::OffsetOutOfRange {
                offset: 302,
                end: 301
            })
        ));
    }

    #[test]
    fn fetch_stops_at_the_byte_budget_but_returns_at_least_one_record() {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::open(config(dir.path())).unwrap();
        let batch: Vec<_> = (0..10).map(|i| rec(i, "0123456789")).collect();
        broker.append("api", "", 0, &batch).unwrap();
        let channel = broker.channel("api").unwrap();
        assert_eq!(channel.fetch(0, 100, 35).unwrap().len(), 3);
        assert_eq!(channel.fetch(0, 100, 1).unwrap().len(), 1);
        assert_eq!(channel.fetch(10, 100, 100).unwrap().len(), 0);
    }

    #[test]
    fn a_torn_last_record_is_cut_on_open_and_never_served() {
        let dir = tempfile::tempdir().unwrap();
        let path;
        {
            let broker = Broker::open(config(dir.path())).unwrap();
            broker
                .append("api", "p", 1, &[rec(1, "one"), rec(2, "two")])
                .unwrap();
            broker.append("api", "p", 2, &[rec(3, "three")]).unwrap();
            path = crate::segment::log_path(&dir.path().join("channels/api"), 0);
        }
        // A crash in the middle of writing the next record: half a frame at the end.
        let whole = std::fs::metadata(&path).unwrap().len();
        let mut tail = Vec::new();
        crate::record::encode(&mut tail, 3, 0, "p", 3, &rec(4, "four, torn"));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&tail[..tail.len() / 2]).unwrap();
        drop(f);
        let broker = Broker::open(config(dir.path())).unwrap();
        let channel = broker.channel("api").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        assert_eq!(
            lines(&channel.fetch(0, 100, usize::MAX).unwrap()),
            ["one", "two", "three"]
        );
        // The producer's retry of the torn batch is stored, once.
        assert_eq!(
            broker.append("api", "p", 3, &[rec(4, "four")]).unwrap(),
            Appended::Stored { first: 3, last: 3 }
        );
        assert!(matches!(
            broker.append("api", "p", 3, &[rec(4, "four")]).unwrap(),
            Appended::Duplicate { last_seq: 3 }
        ));
    }

    #[test]
    fn a_corrupt_record_and_everything_after_it_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path;
        {
            let broker = Broker::open(config(dir.path())).unwrap();
            for i in 0..5 {
                broker
                    .append("api", "", 0, &[rec(i, &format!("r{i}"))])
                    .unwrap();
            }
            path = crate::segment::log_path(&dir.path().join("channels/api"), 0);
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let len = bytes.len();
        bytes[len * 3 / 5 + 12] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let broker = Broker::open(config(dir.path())).unwrap();
        let got = broker
            .channel("api")
            .unwrap()
            .fetch(0, 100, usize::MAX)
            .unwrap();
        assert!(got.len() < 5 && !got.is_empty());
        assert!(
            got.iter()
                .enumerate()
                .all(|(i, r)| r.line == format!("r{i}"))
        );
    }

    #[test]
    fn a_batch_missing_its_last_record_is_cut_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path;
        {
            let broker = Broker::open(config(dir.path())).unwrap();
            broker.append("api", "p", 1, &[rec(1, "kept")]).unwrap();
            path = crate::segment::log_path(&dir.path().join("channels/api"), 0);
        }
        // Two whole records of a three-record batch reached the disk, not the third.
        let mut partial = Vec::new();
        crate::record::encode(&mut partial, 1, 2, "p", 2, &rec(2, "a"));
        crate::record::encode(&mut partial, 2, 1, "p", 2, &rec(3, "b"));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&partial).unwrap();
        drop(f);
        let broker = Broker::open(config(dir.path())).unwrap();
        let channel = broker.channel("api").unwrap();
        assert_eq!(lines(&channel.fetch(0, 100, usize::MAX).unwrap()), ["kept"]);
        assert_eq!(channel.producer_seq("p"), Some(1));
        let batch = [rec(2, "a"), rec(3, "b"), rec(4, "c")];
        assert_eq!(
            broker.append("api", "p", 2, &batch).unwrap(),
            Appended::Stored { first: 1, last: 3 }
        );
    }

    #[test]
    fn producer_sequences_survive_restarts_and_segment_rolls_and_retention() {
        let dir = tempfile::tempdir().unwrap();
        {
            let broker = Broker::open(config(dir.path())).unwrap();
            for seq in 1..=100u64 {
                let batch = [rec(seq as i64, &"y".repeat(100))];
                broker.append("api", "producer-1", seq, &batch).unwrap();
            }
            broker
                .append("api", "producer-2", 7, &[rec(0, "p2")])
                .unwrap();
        }
        let mut c = config(dir.path());
        c.retention_bytes = 8192;
        let broker = Broker::open(c).unwrap();
        assert!(broker.retain(SystemTime::now()).unwrap() > 0);
        let broker = Broker::open(config(dir.path())).unwrap();
        let channel = broker.channel("api").unwrap();
        assert_eq!(channel.producer_seq("producer-1"), Some(100));
        assert_eq!(channel.producer_seq("producer-2"), Some(7));
        assert!(matches!(
            broker
                .append("api", "producer-1", 57, &[rec(0, "dup")])
                .unwrap(),
            Appended::Duplicate { last_seq: 100 }
        ));
    }

    #[test]
    fn retention_drops_whole_old_segments_by_size_and_by_age() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.retention_bytes = 10_000;
        c.retention = Duration::from_secs(3600);
        let broker = Broker::open(c).unwrap();
        for i in 0..200 {
            broker
                .append("api", "", 0, &[rec(i, &"z".repeat(100))])
                .unwrap();
        }
        let channel = broker.channel("api").unwrap();
        let before = channel.stats();
        broker.retain(SystemTime::now()).unwrap();
        let after = channel.stats();
        assert!(
            after.bytes <= 10_000 && after.bytes + 4096 > 10_000,
            "{after:?}"
        );
        assert!(after.earliest > before.earliest);
        assert_eq!(after.latest, 200);
        let first = channel.fetch(0, 1, usize::MAX).unwrap();
        assert_eq!(first[0].offset, after.earliest);
        // Two hours later everything has aged out, the active segment included.
        broker
            .retain(SystemTime::now() + Duration::from_secs(7200))
            .unwrap();
        let aged = channel.stats();
        assert_eq!((aged.bytes, aged.earliest, aged.latest), (0, 200, 200));
        assert_eq!(
            broker.append("api", "", 0, &[rec(1, "fresh")]).unwrap(),
            Appended::Stored {
                first: 200,
                last: 200
            }
        );
    }

    #[test]
    fn seek_by_time_finds_the_first_record_at_or_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::open(config(dir.path())).unwrap();
        for i in 0..400i64 {
            broker.append("api", "", 0, &[rec(i * 10, "t")]).unwrap();
        }
        let channel = broker.channel("api").unwrap();
        assert_eq!(channel.offset_for_time(0).unwrap(), 0);
        assert_eq!(channel.offset_for_time(1234).unwrap(), 124);
        assert_eq!(channel.offset_for_time(2000).unwrap(), 200);
        assert_eq!(channel.offset_for_time(1_000_000).unwrap(), 400);
    }

    #[test]
    fn consumer_offsets_are_committed_durably() {
        let dir = tempfile::tempdir().unwrap();
        {
            let broker = Broker::open(config(dir.path())).unwrap();
            broker
                .append("api", "", 0, &[rec(1, "a"), rec(2, "b")])
                .unwrap();
            let channel = broker.channel("api").unwrap();
            channel.commit("alerts", 1).unwrap();
            assert!(matches!(
                channel.commit("alerts", 9),
                Err(ChannelError::OffsetOutOfRange { .. })
            ));
        }
        let broker = Broker::open(config(dir.path())).unwrap();
        assert_eq!(broker.channel("api").unwrap().committed("alerts"), Some(1));
        assert_eq!(broker.channel("api").unwrap().committed("other"), None);
    }

    #[test]
    fn new_streams_past_the_limit_are_refused_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.limits.max_streams_per_channel = 2;
        let broker = Broker::open(c).unwrap();
        let with = |v: &str| NewRecord {
            labels: vec![("node".into(), v.into())],
            ..rec(1, "x")
        };
        broker
            .append("api", "", 0, &[with("a"), with("b"), with("a")])
            .unwrap();
        assert!(matches!(
            broker.append("api", "", 0, &[with("a"), with("c")]),
            Err(BrokerError::Channel(ChannelError::TooManyStreams(2)))
        ));
        assert_eq!(broker.channel("api").unwrap().stats().latest, 3);
    }

    #[test]
    fn channel_names_are_checked() {
        assert!(valid_channel("flowly-api_1.x"));
        for bad in ["", ".hidden", "../etc", "a/b", &"x".repeat(65), "sp ace"] {
            assert!(!valid_channel(bad), "{bad}");
        }
    }
}
