//! Answering LogQL from the broker's channels.
//!
//! Every query streams through records once: segments whose time span misses the query, or
//! whose streams all miss the selector, are skipped without reading; within a segment the sparse
//! time index gives the first block to read. Log queries keep only the best `limit` entries (a
//! bounded heap); metric queries add records into per-series time buckets, so their memory
//! grows with series × buckets, never with records.

use std::{
    collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap},
    sync::Arc,
};

use super::ast::*;
use crate::{
    Broker,
    channel::Channel,
    record::{self, Labels, RecordRef},
    segment::SegmentView,
};

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    TooLarge(String),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
}

/// Lines and bytes a query read, for Loki's `stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub lines: u64,
    pub bytes: u64,
}

/// Which end of the range a log query starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// One stream of a log query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEntries {
    pub labels: Labels,
    /// `(timestamp ns, line)`, in the query's direction.
    pub entries: Vec<(i64, String)>,
}

/// One series of a metric query's answer: a value per step (`None` where it has none).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<Option<f64>>,
}

/// A metric query's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<Series>),
}

/// The time grid of a metric query: `steps` points, from `start`, `step` apart (ns).
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    pub start: i64,
    pub step: i64,
    pub steps: usize,
}

impl Grid {
    pub fn at(&self, k: usize) -> i64 {
        self.start + self.step * k as i64
    }
}

/// Channel names are service names made safe for a directory: the channel a `service` label
/// value lives in.
pub fn channel_for_service(service: &str) -> String {
    let mut name: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if name.starts_with('.') {
        name.replace_range(0..1, "_");
    }
    name
}

/// The channels a selector can match: the one its `service="x"` names, else all.
fn channels_for(broker: &Broker, selector: &[Matcher]) -> Vec<Arc<Channel>> {
    match selector
        .iter()
        .find(|m| m.name == "service" && m.op == MatchOp::Eq)
    {
        Some(m) => broker
            .channel(&channel_for_service(&m.value))
            .into_iter()
            .collect(),
        None => broker.channels(),
    }
}

/// Which streams (by encoded labels) a selector matches, remembered for the query.
#[derive(Default)]
struct StreamCache {
    seen: HashMap<Vec<u8>, Option<Arc<Labels>>>,
}

impl StreamCache {
    fn get(&mut self, raw: &[u8], selector: &[Matcher]) -> Option<Arc<Labels>> {
        if let Some(hit) = self.seen.get(raw) {
            return hit.clone();
        }
        let labels = record::labels_from_raw(raw);
        let selected = selector.iter().all(|m| {
            m.matches(
                labels
                    .iter()
                    .find(|(k, _)| *k == m.name)
                    .map(|(_, v)| v.as_str()),
            )
        });
        let value = selected.then(|| Arc::new(labels));
        self.seen.insert(raw.to_vec(), value.clone());
        value
    }

    /// Whether any stream of the segment matches.
    fn segment_matches(&mut self, seg: &SegmentView, selector: &[Matcher]) -> bool {
        seg.streams
            .iter()
            .any(|raw| self.get(raw, selector).is_some())
    }
}

/// Calls `f` for every record of a selected stream with `from <= ts <= to` in `seg`.
fn scan_segment(
    seg: &SegmentView,
    from: i64,
    to: i64,
    selector: &[Matcher],
    cache: &mut StreamCache,
    stats: &mut Stats,
    mut f: impl FnMut(&RecordRef<'_>, &Arc<Labels>),
) -> std::io::Result<()> {
    seg.read_from(seg.pos_for_time(from), |r| {
        if r.ts < from || r.ts > to {
            return true;
        }
        stats.lines += 1;
        stats.bytes += r.line.len() as u64;
        if let Some(labels) = cache.get(r.labels_raw, selector) {
            f(r, &labels);
        }
        true
    })
}

fn overlaps(seg: &SegmentView, from: i64, to: i64) -> bool {
    !seg.is_empty() && seg.max_ts >= from && seg.min_ts <= to
}

struct Kept {
    rank: (i64, u32, u64),
    ts: i64,
    labels: Arc<Labels>,
    line: String,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.rank == other.rank
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank.cmp(&other.rank)
    }
}

/// The newest (backward) or oldest (forward) `limit` entries with `start <= ts < end`.
pub fn log_query(
    broker: &Broker,
    expr: &LogExpr,
    start: i64,
    end: i64,
    limit: usize,
    direction: Direction,
) -> Result<(Vec<StreamEntries>, Stats), QueryError> {
    let mut stats = Stats::default();
    let mut heap: BinaryHeap<Kept> = BinaryHeap::new();
    let backward = direction == Direction::Backward;
    let last = end.saturating_sub(1);
    let mut interned: HashMap<Labels, Arc<Labels>> = HashMap::new();
    for (ci, channel) in channels_for(broker, &expr.selector).iter().enumerate() {
        let mut cache = StreamCache::default();
        let mut segments = channel.snapshot();
        if backward {
            segments.reverse();
        }
        for seg in segments.iter().filter(|s| overlaps(s, start, last)) {
            if heap.len() >= limit
                && let Some(worst) = heap.peek()
                && ((backward && seg.max_ts < worst.ts) || (!backward && seg.min_ts > worst.ts))
            {
                continue;
            }
            if !cache.segment_matches(seg, &expr.selector) {
                continue;
            }
            scan_segment(
                seg,
                start,
                last,
                &expr.selector,
                &mut cache,
                &mut stats,
                |r, stream| {
                    let rank = if backward {
                        (-r.ts, ci as u32, u64::MAX - r.offset)
                    } else {
                        (r.ts, ci as u32, r.offset)
                    };
                    if heap.len() >= limit && heap.peek().is_some_and(|w| rank >= w.rank) {
                        return;
                    }
                    let Some(out) = expr.process(r, stream) else {
                        return;
                    };
                    let labels = match out.labels {
                        None => Arc::clone(stream),
                        Some(l) => {
                            Arc::clone(interned.entry(l.clone()).or_insert_with(|| Arc::new(l)))
                        }
                    };
                    heap.push(Kept {
                        rank,
                        ts: r.ts,
                        labels,
                        line: out.line.into_owned(),
                    });
                    if heap.len() > limit {
                        heap.pop();
                    }
                },
            )?;
        }
    }
    let mut by_stream: BTreeMap<Labels, Vec<(i64, String)>> = BTreeMap::new();
    for kept in heap.into_sorted_vec() {
        by_stream
            .entry(kept.labels.as_ref().clone())
            .or_default()
            .push((kept.ts, kept.line));
    }
    let streams = by_stream
        .into_iter()
        .map(|(labels, entries)| StreamEntries { labels, entries })
        .collect();
    Ok((streams, stats))
}

/// Evaluates a metric expression on `grid`.
pub fn metric_query(
    broker: &Broker,
    expr: &MetricExpr,
    grid: Grid,
    max_points: usize,
) -> Result<(Value, Stats), QueryError> {
    if grid.steps > max_points {
        return Err(QueryError::TooLarge(format!(
            "the query would return {} points per series, more than {max_points}; use a larger step",
            grid.steps
        )));
    }
    let mut stats = Stats::default();
    let value = eval(broker, expr, grid, &mut stats)?;
    Ok((value, stats))
}

fn eval(
    broker: &Broker,
    expr: &MetricExpr,
    grid: Grid,
    stats: &mut Stats,
) -> Result<Value, QueryError> {
    Ok(match expr {
        MetricExpr::Scalar(v) => Value::Scalar(*v),
        MetricExpr::Vector(v) => Value::Vector(vec![Series {
            labels: Vec::new(),
            points: vec![Some(*v); grid.steps],
        }]),
        MetricExpr::Range { func, log, range } => {
            Value::Vector(range_aggregate(broker, *func, log, *range, grid, stats)?)
        }
        MetricExpr::Aggregate {
            op,
            param,
            grouping,
            inner,
        } => {
            let inner = match eval(broker, inner, grid, stats)? {
                Value::Vector(v) => v,
                Value::Scalar(_) => {
                    return Err(QueryError::TooLarge(
                        "an aggregation needs a vector, not a number".into(),
                    ));
                }
            };
            Value::Vector(aggregate(*op, *param, grouping.as_ref(), inner, grid.steps))
        }
        MetricExpr::Binary { op, lhs, rhs } => {
            let l = eval(broker, lhs, grid, stats)?;
            let r = eval(broker, rhs, grid, stats)?;
            binary(*op, l, r)
        }
    })
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// `count_over_time`, `rate`, `bytes_over_time`, `bytes_rate` over windows `(t - range, t]`.
fn range_aggregate(
    broker: &Broker,
    func: RangeFn,
    log: &LogExpr,
    range: i64,
    grid: Grid,
    stats: &mut Stats,
) -> Result<Vec<Series>, QueryError> {
    // Buckets of width g tile every window exactly: window k is buckets [k*s, k*s + r).
    let step = if grid.steps <= 1 {
        range
    } else {
        grid.step.max(1)
    };
    let g = gcd(step, range);
    let s = step / g;
    let r = range / g;
    let buckets = (grid.steps as i64 - 1) * s + r;
    if buckets > 50_000_000 {
        return Err(QueryError::TooLarge(
            "the step and range do not divide evenly enough; use a step that divides the range"
                .into(),
        ));
    }
    let origin = grid.start - range;
    let last = grid.at(grid.steps.saturating_sub(1));
    // Series index by stream (fast path) or by the pipeline's labels.
    let mut by_raw: HashMap<Arc<Labels>, usize> = HashMap::new();
    let mut by_labels: HashMap<Labels, usize> = HashMap::new();
    // Per series: its labels and, per bucket, (records, bytes).
    type Buckets = HashMap<i64, (f64, f64)>;
    let mut series: Vec<(Labels, Buckets)> = Vec::new();
    for channel in channels_for(broker, &log.selector) {
        let mut cache = StreamCache::default();
        for seg in channel
            .snapshot()
            .iter()
            .filter(|s| overlaps(s, origin + 1, last))
        {
            if !cache.segment_matches(seg, &log.selector) {
                continue;
            }
            scan_segment(
                seg,
                origin + 1,
                last,
                &log.selector,
                &mut cache,
                stats,
                |rec, stream| {
                    let Some(out) = log.process(rec, stream) else {
                        return;
                    };
                    let idx = match out.labels {
                        None => *by_raw.entry(Arc::clone(stream)).or_insert_with(|| {
                            series.push((stream.as_ref().clone(), HashMap::new()));
                            series.len() - 1
                        }),
                        Some(labels) => match by_labels.get(&labels) {
                            Some(&i) => i,
                            None => {
                                series.push((labels.clone(), HashMap::new()));
                                by_labels.insert(labels, series.len() - 1);
                                series.len() - 1
                            }
                        },
                    };
                    let j = (rec.ts - origin - 1) / g;
                    let cell = series[idx].1.entry(j).or_insert((0.0, 0.0));
                    cell.0 += 1.0;
                    cell.1 += out.line.len() as f64;
                },
            )?;
        }
    }
    let range_secs = range as f64 / 1e9;
    let mut out = Vec::with_capacity(series.len());
    for (labels, cells) in series {
        let mut cells: Vec<(i64, f64, f64)> =
            cells.into_iter().map(|(j, (c, b))| (j, c, b)).collect();
        cells.sort_unstable_by_key(|c| c.0);
        let mut prefix = Vec::with_capacity(cells.len() + 1);
        prefix.push((0.0, 0.0));
        for (_, c, b) in &cells {
            let (pc, pb) = prefix[prefix.len() - 1];
            prefix.push((pc + c, pb + b));
        }
        let points = (0..grid.steps as i64)
            .map(|k| {
                let lo = cells.partition_point(|c| c.0 < k * s);
                let hi = cells.partition_point(|c| c.0 < k * s + r);
                let count = prefix[hi].0 - prefix[lo].0;
                let bytes = prefix[hi].1 - prefix[lo].1;
                (count > 0.0).then_some(match func {
                    RangeFn::CountOverTime => count,
                    RangeFn::Rate => count / range_secs,
                    RangeFn::BytesOverTime => bytes,
                    RangeFn::BytesRate => bytes / range_secs,
                })
            })
            .collect();
        out.push(Series { labels, points });
    }
    Ok(out)
}

fn group_key(labels: &Labels, grouping: Option<&Grouping>) -> Labels {
    match grouping {
        None => Vec::new(),
        Some(g) if g.without => labels
            .iter()
            .filter(|(k, _)| !g.labels.contains(k))
            .cloned()
            .collect(),
        Some(g) => labels
            .iter()
            .filter(|(k, _)| g.labels.contains(k))
            .cloned()
            .collect(),
    }
}

fn aggregate(
    op: AggOp,
    param: Option<f64>,
    grouping: Option<&Grouping>,
    inner: Vec<Series>,
    steps: usize,
) -> Vec<Series> {
    let mut groups: BTreeMap<Labels, Vec<Series>> = BTreeMap::new();
    for s in inner {
        groups
            .entry(group_key(&s.labels, grouping))
            .or_default()
            .push(s);
    }
    let mut out = Vec::new();
    for (key, members) in groups {
        if matches!(op, AggOp::Topk | AggOp::Bottomk) {
            let k = param.unwrap_or(1.0) as usize;
            let mut kept: Vec<Series> = members
                .iter()
                .map(|m| Series {
                    labels: m.labels.clone(),
                    points: vec![None; steps],
                })
                .collect();
            for step in 0..steps {
                let mut present: Vec<(usize, f64)> = members
                    .iter()
                    .enumerate()
                    .filter_map(|(i, m)| m.points[step].map(|v| (i, v)))
                    .collect();
                present.sort_by(|a, b| {
                    let o = a.1.total_cmp(&b.1);
                    if op == AggOp::Topk { o.reverse() } else { o }
                });
                for (i, v) in present.into_iter().take(k) {
                    kept[i].points[step] = Some(v);
                }
            }
            out.extend(
                kept.into_iter()
                    .filter(|s| s.points.iter().any(Option::is_some)),
            );
            continue;
        }
        let points = (0..steps)
            .map(|step| {
                let values: Vec<f64> = members.iter().filter_map(|m| m.points[step]).collect();
                if values.is_empty() {
                    return None;
                }
                let n = values.len() as f64;
                Some(match op {
                    AggOp::Sum => values.iter().sum(),
                    AggOp::Count => n,
                    AggOp::Max => values.iter().copied().fold(f64::MIN, f64::max),
                    AggOp::Min => values.iter().copied().fold(f64::MAX, f64::min),
                    AggOp::Avg => values.iter().sum::<f64>() / n,
                    AggOp::Topk | AggOp::Bottomk => return None,
                })
            })
            .collect();
        out.push(Series {
            labels: key,
            points,
        });
    }
    out
}

fn binary(op: BinOp, l: Value, r: Value) -> Value {
    let map = |series: Vec<Series>, f: &dyn Fn(f64) -> f64| {
        series
            .into_iter()
            .map(|s| Series {
                labels: s.labels,
                points: s.points.into_iter().map(|p| p.map(f)).collect(),
            })
            .collect()
    };
    match (l, r) {
        (Value::Scalar(a), Value::Scalar(b)) => Value::Scalar(op.apply(a, b)),
        (Value::Vector(v), Value::Scalar(b)) => Value::Vector(map(v, &|a| op.apply(a, b))),
        (Value::Scalar(a), Value::Vector(v)) => Value::Vector(map(v, &|b| op.apply(a, b))),
        (Value::Vector(lv), Value::Vector(rv)) => {
            let rhs: HashMap<Labels, Series> =
                rv.into_iter().map(|s| (s.labels.clone(), s)).collect();
            Value::Vector(
                lv.into_iter()
                    .filter_map(|ls| {
                        let rs = rhs.get(&ls.labels)?;
                        let points = ls
                            .points
                            .iter()
                            .zip(&rs.points)
                            .map(|(a, b)| Some(op.apply((*a)?, (*b)?)))
                            .collect();
                        Some(Series {
                            labels: ls.labels,
                            points,
                        })
                    })
                    .collect(),
            )
        }
    }
}

/// The label names of streams with data in `[start, end]`.
pub fn label_names(broker: &Broker, start: i64, end: i64) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for_each_stream(broker, &[], start, end, |labels| {
        names.extend(labels.iter().map(|(k, _)| k.clone()));
    });
    names
}

/// The values of label `name` over streams with data in `[start, end]` (matching `selector`).
pub fn label_values(
    broker: &Broker,
    name: &str,
    selector: &[Matcher],
    start: i64,
    end: i64,
) -> BTreeSet<String> {
    let mut values = BTreeSet::new();
    for_each_stream(broker, selector, start, end, |labels| {
        if let Some((_, v)) = labels.iter().find(|(k, _)| k == name) {
            values.insert(v.clone());
        }
    });
    values
}

/// The streams matching any of `selectors` with data in `[start, end]`.
pub fn series(broker: &Broker, selectors: &[Vec<Matcher>], start: i64, end: i64) -> Vec<Labels> {
    let mut all = BTreeSet::new();
    for selector in selectors {
        for_each_stream(broker, selector, start, end, |labels| {
            all.insert(labels.clone());
        });
    }
    all.into_iter().collect()
}

/// Loki's `index/stats`, estimated from the segments: streams matching, segments holding them
/// (Loki's chunks), and the records and bytes of those segments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    pub streams: u64,
    pub chunks: u64,
    pub entries: u64,
    pub bytes: u64,
}

pub fn index_stats(broker: &Broker, selector: &[Matcher], start: i64, end: i64) -> IndexStats {
    let mut stats = IndexStats::default();
    let mut streams = BTreeSet::new();
    for channel in channels_for(broker, selector) {
        let mut cache = StreamCache::default();
        for seg in channel
            .snapshot()
            .iter()
            .filter(|s| overlaps(s, start, end))
        {
            let mut any = false;
            for raw in seg.streams.iter() {
                if cache.get(raw, selector).is_some() {
                    any = true;
                    streams.insert((channel.name.clone(), raw.clone()));
                }
            }
            if any {
                stats.chunks += 1;
                stats.entries += seg.end - seg.base;
                stats.bytes += seg.size;
            }
        }
    }
    stats.streams = streams.len() as u64;
    stats
}

fn for_each_stream(
    broker: &Broker,
    selector: &[Matcher],
    start: i64,
    end: i64,
    mut f: impl FnMut(&Labels),
) {
    let mut seen: BTreeSet<(String, Vec<u8>)> = BTreeSet::new();
    for channel in channels_for(broker, selector) {
        let mut cache = StreamCache::default();
        for seg in channel
            .snapshot()
            .iter()
            .filter(|s| overlaps(s, start, end))
        {
            for raw in seg.streams.iter() {
                if seen.contains(&(channel.name.clone(), raw.clone())) {
                    continue;
                }
                if let Some(labels) = cache.get(raw, selector) {
                    seen.insert((channel.name.clone(), raw.clone()));
                    f(&labels);
                }
            }
        }
    }
}

/// Where a tail starts: the end of every channel the selector can match.
pub fn tail_positions(broker: &Broker, expr: &LogExpr) -> HashMap<String, u64> {
    channels_for(broker, &expr.selector)
        .iter()
        .map(|c| (c.name.clone(), c.stats().latest))
        .collect()
}

/// The matching entries stored since `positions` (at most `limit`; the rest come next time),
/// moving the positions on. A channel created since the tail began is read from its start.
pub fn tail_step(
    broker: &Broker,
    expr: &LogExpr,
    positions: &mut HashMap<String, u64>,
    limit: usize,
) -> std::io::Result<Vec<StreamEntries>> {
    let mut by_stream: BTreeMap<Labels, Vec<(i64, String)>> = BTreeMap::new();
    let mut taken = 0;
    for channel in channels_for(broker, &expr.selector) {
        let pos = positions.entry(channel.name.clone()).or_insert(0);
        let mut cache = StreamCache::default();
        let segments = channel.snapshot();
        for seg in &segments {
            if seg.end <= *pos {
                continue;
            }
            if taken >= limit {
                break;
            }
            seg.read_from(seg.pos_for_offset(*pos), |r| {
                if r.offset < *pos {
                    return true;
                }
                if taken >= limit {
                    return false;
                }
                *pos = r.offset + 1;
                let Some(stream) = cache.get(r.labels_raw, &expr.selector) else {
                    return true;
                };
                if let Some(out) = expr.process(r, &stream) {
                    taken += 1;
                    by_stream
                        .entry(out.labels.unwrap_or_else(|| stream.as_ref().clone()))
                        .or_default()
                        .push((r.ts, out.line.into_owned()));
                }
                true
            })?;
        }
    }
    Ok(by_stream
        .into_iter()
        .map(|(labels, entries)| StreamEntries { labels, entries })
        .collect())
}
