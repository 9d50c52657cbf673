//! What a run measured: an HdrHistogram of latencies (microseconds) per operation with its
//! outcomes, counters, and a time series in fixed intervals. A snapshot serialises the histograms
//! (HdrHistogram V2, base64) so the snapshots of several generator processes merge exactly.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use base64::Engine;
use hdrhistogram::{
    Histogram,
    serialization::{Deserializer, Serializer, V2Serializer},
};
use serde::{Deserialize, Serialize};

/// Latencies are recorded in microseconds up to this bound (longer ones are clamped to it).
const MAX_MICROS: u64 = 120_000_000;

/// The latency histogram of one operation kind (or of message delivery).
pub const DELIVERY: &str = "delivery";
/// Opening a socket: TCP connect to `resumed`.
pub const WS_CONNECT: &str = "ws_connect";
/// Opening a socket again during the reconnect storm.
pub const STORM_RECONNECT: &str = "storm_reconnect";

fn histogram() -> Histogram<u64> {
    #[allow(clippy::expect_used)] // constant, valid bounds
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A 409 the workload can cause itself (two users completing one task at once).
    Conflict(String),
    /// Any other failure: a 4xx or 5xx with its code, or a transport error.
    Error(String),
    Timeout,
}

#[derive(Clone)]
struct OpStats {
    hist: Histogram<u64>,
    ok: u64,
    conflicts: u64,
    errors: u64,
    timeouts: u64,
    codes: BTreeMap<String, u64>,
    /// Counts towards the REST totals (sockets and delivery do not).
    rest: bool,
}

impl OpStats {
    fn new(rest: bool) -> OpStats {
        OpStats {
            hist: histogram(),
            ok: 0,
            conflicts: 0,
            errors: 0,
            timeouts: 0,
            codes: BTreeMap::new(),
            rest,
        }
    }
}

#[derive(Clone)]
struct Interval {
    rest: Histogram<u64>,
    delivery: Histogram<u64>,
    rest_count: u64,
    rest_errors: u64,
    delivered: u64,
    sockets: i64,
}

impl Interval {
    fn new() -> Interval {
        Interval {
            rest: histogram(),
            delivery: histogram(),
            rest_count: 0,
            rest_errors: 0,
            delivered: 0,
            sockets: 0,
        }
    }
}

struct Inner {
    ops: BTreeMap<String, OpStats>,
    counters: BTreeMap<String, u64>,
    series: Vec<Interval>,
}

/// The shared recorder of one generator process.
pub struct Stats {
    start: Instant,
    interval: Duration,
    /// Sockets open now.
    pub sockets: AtomicI64,
    inner: Mutex<Inner>,
}

impl Stats {
    /// A recorder whose time series starts at `start`, in buckets of `interval`.
    pub fn new(start: Instant, interval: Duration) -> Stats {
        Stats {
            start,
            interval: interval.max(Duration::from_millis(100)),
            sockets: AtomicI64::new(0),
            inner: Mutex::new(Inner {
                ops: BTreeMap::new(),
                counters: BTreeMap::new(),
                series: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The time-series bucket for `at`; `None` before the start.
    fn bucket(&self, at: Instant) -> Option<usize> {
        let since = at.checked_duration_since(self.start)?;
        Some((since.as_micros() / self.interval.as_micros()) as usize)
    }

    fn interval_at<'a>(&self, inner: &'a mut Inner, at: Instant) -> Option<&'a mut Interval> {
        let i = self.bucket(at)?;
        if inner.series.len() <= i {
            inner.series.resize_with(i + 1, Interval::new);
        }
        inner.series.get_mut(i)
    }

    /// Records one operation that finished now, `latency` after it was planned.
    pub fn record(&self, name: &str, rest: bool, outcome: &Outcome, latency: Duration) {
        let now = Instant::now();
        let micros = (latency.as_micros() as u64).clamp(1, MAX_MICROS);
        let mut inner = self.lock();
        let op = inner
            .ops
            .entry(name.to_owned())
            .or_insert_with(|| OpStats::new(rest));
        let failed = match outcome {
            Outcome::Ok => {
                op.ok += 1;
                op.hist.saturating_record(micros);
                false
            }
            Outcome::Conflict(code) => {
                op.conflicts += 1;
                op.hist.saturating_record(micros);
                *op.codes.entry(code.clone()).or_default() += 1;
                false
            }
            Outcome::Error(code) => {
                op.errors += 1;
                *op.codes.entry(code.clone()).or_default() += 1;
                true
            }
            Outcome::Timeout => {
                op.timeouts += 1;
                *op.codes.entry("timeout".into()).or_default() += 1;
                true
            }
        };
        if rest {
            let sockets = self.sockets.load(Ordering::Relaxed);
            if let Some(bucket) = self.interval_at(&mut inner, now) {
                bucket.rest_count += 1;
                bucket.sockets = sockets;
                if failed {
                    bucket.rest_errors += 1;
                } else {
                    bucket.rest.saturating_record(micros);
                }
            }
        }
    }

    /// A message reached another member's socket `latency` after it was sent.
    pub fn delivered(&self, latency: Duration) {
        let now = Instant::now();
        let micros = (latency.as_micros() as u64).clamp(1, MAX_MICROS);
        let mut inner = self.lock();
        let op = inner
            .ops
            .entry(DELIVERY.to_owned())
            .or_insert_with(|| OpStats::new(false));
        op.ok += 1;
        op.hist.saturating_record(micros);
        if let Some(bucket) = self.interval_at(&mut inner, now) {
            bucket.delivered += 1;
            bucket.delivery.saturating_record(micros);
        }
    }

    /// Adds `n` to a named counter (frames received, heartbeats, drops...).
    pub fn count(&self, name: &str, n: u64) {
        *self.lock().counters.entry(name.to_owned()).or_default() += n;
    }

    /// Notes the socket gauge in the current bucket even when no request finished in it.
    pub fn tick(&self) {
        let sockets = self.sockets.load(Ordering::Relaxed);
        let mut inner = self.lock();
        if let Some(bucket) = self.interval_at(&mut inner, Instant::now()) {
            bucket.sockets = sockets;
        }
    }

    /// Totals so far, for the progress line: (REST done, REST failed, REST p99 ms, delivered,
    /// delivery p99 ms) over the last complete interval.
    pub fn progress(&self) -> Progress {
        let inner = self.lock();
        let mut p = Progress::default();
        for op in inner.ops.values() {
            if op.rest {
                p.rest += op.ok + op.conflicts + op.errors + op.timeouts;
                p.failed += op.errors + op.timeouts;
            }
        }
        if let Some(d) = inner.ops.get(DELIVERY) {
            p.delivered = d.ok;
        }
        let n = inner.series.len();
        if n >= 2 {
            let last = &inner.series[n - 2];
            p.rest_rate = last.rest_count as f64 / self.interval.as_secs_f64();
            p.rest_p99_ms = last.rest.value_at_quantile(0.99) as f64 / 1000.0;
            p.delivery_rate = last.delivered as f64 / self.interval.as_secs_f64();
            p.delivery_p99_ms = last.delivery.value_at_quantile(0.99) as f64 / 1000.0;
        }
        p
    }

    /// Everything recorded, serialisable.
    pub fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let inner = self.lock();
        let mut ops = BTreeMap::new();
        for (name, op) in &inner.ops {
            ops.insert(
                name.clone(),
                OpRecord {
                    rest: op.rest,
                    ok: op.ok,
                    conflicts: op.conflicts,
                    errors: op.errors,
                    timeouts: op.timeouts,
                    codes: op.codes.clone(),
                    histogram: encode(&op.hist)?,
                },
            );
        }
        let series = inner
            .series
            .iter()
            .map(|b| {
                Ok(IntervalRecord {
                    rest_count: b.rest_count,
                    rest_errors: b.rest_errors,
                    delivered: b.delivered,
                    sockets: b.sockets,
                    rest_histogram: encode(&b.rest)?,
                    delivery_histogram: encode(&b.delivery)?,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Snapshot {
            interval_secs: self.interval.as_secs_f64(),
            ops,
            counters: inner.counters.clone(),
            series,
        })
    }
}

/// Numbers for the live progress line.
#[derive(Debug, Default, Clone)]
pub struct Progress {
    pub rest: u64,
    pub failed: u64,
    pub delivered: u64,
    pub rest_rate: f64,
    pub rest_p99_ms: f64,
    pub delivery_rate: f64,
    pub delivery_p99_ms: f64,
}

/// One operation's outcomes and its histogram (V2, base64).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OpRecord {
    pub rest: bool,
    pub ok: u64,
    pub conflicts: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub codes: BTreeMap<String, u64>,
    pub histogram: String,
}

/// One bucket of the time series.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IntervalRecord {
    pub rest_count: u64,
    pub rest_errors: u64,
    pub delivered: u64,
    pub sockets: i64,
    pub rest_histogram: String,
    pub delivery_histogram: String,
}

/// What one generator process measured; snapshots of several processes merge.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub interval_secs: f64,
    pub ops: BTreeMap<String, OpRecord>,
    pub counters: BTreeMap<String, u64>,
    pub series: Vec<IntervalRecord>,
}

pub fn encode(h: &Histogram<u64>) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut bytes)
        .map_err(|e| anyhow::anyhow!("serialise histogram: {e:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

pub fn decode(text: &str) -> anyhow::Result<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .context("histogram is not base64")?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| anyhow::anyhow!("bad histogram: {e:?}"))?;
    Ok(h)
}

fn add_encoded(a: &str, b: &str) -> anyhow::Result<String> {
    let mut h = decode(a)?;
    h.add(decode(b)?)
        .map_err(|e| anyhow::anyhow!("add histograms: {e:?}"))?;
    encode(&h)
}

impl Snapshot {
    /// Adds another process's snapshot (same interval, same start) into this one.
    pub fn merge(&mut self, other: &Snapshot) -> anyhow::Result<()> {
        if (self.interval_secs - other.interval_secs).abs() > 1e-9 {
            anyhow::bail!("snapshots have different intervals");
        }
        for (name, op) in &other.ops {
            match self.ops.get_mut(name) {
                None => {
                    self.ops.insert(name.clone(), op.clone());
                }
                Some(mine) => {
                    mine.ok += op.ok;
                    mine.conflicts += op.conflicts;
                    mine.errors += op.errors;
                    mine.timeouts += op.timeouts;
                    for (code, n) in &op.codes {
                        *mine.codes.entry(code.clone()).or_default() += n;
                    }
                    mine.histogram = add_encoded(&mine.histogram, &op.histogram)?;
                }
            }
        }
        for (name, n) in &other.counters {
            *self.counters.entry(name.clone()).or_default() += n;
        }
        for (i, b) in other.series.iter().enumerate() {
            if self.series.len() <= i {
                self.series.push(b.clone());
                continue;
            }
            let mine = &mut self.series[i];
            mine.rest_count += b.rest_count;
            mine.rest_errors += b.rest_errors;
            mine.delivered += b.delivered;
            mine.sockets += b.sockets;
            mine.rest_histogram = add_encoded(&mine.rest_histogram, &b.rest_histogram)?;
            mine.delivery_histogram = add_encoded(&mine.delivery_histogram, &b.delivery_histogram)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn outcomes_are_counted_and_only_successes_timed() {
        let stats = Stats::new(Instant::now(), Duration::from_secs(1));
        for i in 1..=100 {
            stats.record("history", true, &Outcome::Ok, ms(i));
        }
        stats.record(
            "history",
            true,
            &Outcome::Error("internal".into()),
            ms(5000),
        );
        stats.record("history", true, &Outcome::Timeout, ms(10_000));
        stats.record(
            "complete_task",
            true,
            &Outcome::Conflict("already_done".into()),
            ms(3),
        );
        let snap = stats.snapshot().unwrap();
        let h = &snap.ops["history"];
        assert_eq!((h.ok, h.errors, h.timeouts, h.conflicts), (100, 1, 1, 0));
        assert_eq!(h.codes["internal"], 1);
        assert_eq!(h.codes["timeout"], 1);
        let hist = decode(&h.histogram).unwrap();
        assert_eq!(hist.len(), 100);
        let p99 = hist.value_at_quantile(0.99);
        assert!((98_000..=100_000).contains(&p99), "{p99}");
        assert_eq!(snap.ops["complete_task"].conflicts, 1);
        let p = stats.progress();
        assert_eq!((p.rest, p.failed), (103, 2));
    }

    #[test]
    fn snapshots_of_two_processes_merge_exactly() {
        let start = Instant::now();
        let a = Stats::new(start, Duration::from_secs(1));
        let b = Stats::new(start, Duration::from_secs(1));
        for i in 1..=50 {
            a.record("me", true, &Outcome::Ok, ms(i));
            b.record("me", true, &Outcome::Ok, ms(50 + i));
            a.delivered(ms(i));
        }
        b.record("search", true, &Outcome::Error("unavailable".into()), ms(1));
        a.count("frames", 10);
        b.count("frames", 5);
        let mut merged = a.snapshot().unwrap();
        merged.merge(&b.snapshot().unwrap()).unwrap();
        let me = decode(&merged.ops["me"].histogram).unwrap();
        assert_eq!(me.len(), 100);
        assert_eq!(merged.ops["me"].ok, 100);
        assert!(me.max() >= 99_000);
        assert_eq!(merged.ops["search"].errors, 1);
        assert_eq!(merged.counters["frames"], 15);
        assert_eq!(merged.series[0].rest_count, 101);
        assert_eq!(merged.series[0].rest_errors, 1);
        assert_eq!(merged.series[0].delivered, 50);
        // A round trip through JSON keeps everything.
        let text = serde_json::to_string(&merged).unwrap();
        let back: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(back, merged);
    }

    #[test]
    fn long_latencies_are_clamped_not_lost() {
        let stats = Stats::new(Instant::now(), Duration::from_secs(1));
        stats.record("me", true, &Outcome::Ok, Duration::from_secs(3600));
        let h = decode(&stats.snapshot().unwrap().ops["me"].histogram).unwrap();
        assert_eq!(h.len(), 1);
        assert!(h.max() >= MAX_MICROS - MAX_MICROS / 1000);
    }
}
