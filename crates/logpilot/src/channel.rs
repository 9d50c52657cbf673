//! A channel: the append-only log of one service or stream, as a list of segment files, with
//! its producers' last sequence numbers (de-duplication) and its consumer groups' offsets.
//!
//! Appends take the channel's lock; reads take a snapshot of the segment views under it and
//! then read the files without it.

use std::{
    collections::{BTreeMap, HashMap},
    fs::{File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
    time::SystemTime,
};

use crate::{
    config::FsyncPolicy,
    record::{self, NewRecord, RecordRef},
    segment::{self, SegmentView},
};

/// Why a channel operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("storage: {0}")]
    Io(#[from] io::Error),
    #[error("offset {offset} is past the end of the channel ({end})")]
    OffsetOutOfRange { offset: u64, end: u64 },
    #[error("the channel already holds {0} streams; a new label set is refused")]
    TooManyStreams(usize),
    #[error("the channel already has {0} consumer groups")]
    TooManyGroups(usize),
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored with these offsets (inclusive).
    Stored { first: u64, last: u64 },
    /// This producer's batch with this sequence (or a later one) is already stored: nothing
    /// was written.
    Duplicate { last_seq: u64 },
}

/// An owned record, as fetch returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub offset: u64,
    pub ts: i64,
    pub labels: record::Labels,
    pub fields: Vec<(String, String)>,
    pub line: String,
}

impl StoredRecord {
    fn from_ref(r: &RecordRef<'_>) -> Self {
        StoredRecord {
            offset: r.offset,
            ts: r.ts,
            labels: record::labels_from_raw(r.labels_raw),
            fields: r
                .fields()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            line: r.line.to_owned(),
        }
    }
}

/// Sizes and offsets of a channel, for listings and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelStats {
    pub earliest: u64,
    /// The offset the next record will get.
    pub latest: u64,
    pub segments: usize,
    pub bytes: u64,
}

struct State {
    sealed: Vec<SegmentView>,
    active: SegmentView,
    producers: HashMap<String, u64>,
    groups: BTreeMap<String, u64>,
    /// Written since the last fsync.
    dirty: bool,
    /// The encoded label sets of every retained segment's streams (the cardinality limit).
    streams: std::collections::HashSet<Vec<u8>>,
}

/// One channel; shared behind an `Arc`.
pub struct Channel {
    pub name: String,
    dir: PathBuf,
    fsync: FsyncPolicy,
    segment_bytes: u64,
    max_streams: usize,
    max_groups: usize,
    state: Mutex<State>,
}

impl Channel {
    /// Opens (or creates) the channel in `dir`, recovering from a crash: a torn or corrupt tail
    /// of the last segment, and a batch missing its last record, are cut off the file.
    pub fn open(
        name: &str,
        dir: PathBuf,
        fsync: FsyncPolicy,
        segment_bytes: u64,
        max_streams: usize,
        max_groups: usize,
    ) -> io::Result<Channel> {
        std::fs::create_dir_all(&dir)?;
        let mut bases = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(base) = name
                .strip_suffix(".log")
                .and_then(|b| b.parse::<u64>().ok())
            {
                bases.push(base);
            }
        }
        bases.sort_unstable();
        let mut sealed = Vec::new();
        let mut producers = HashMap::new();
        let active = match bases.split_last() {
            None => create_segment(&dir, 0, &producers)?,
            Some((&last, older)) => {
                let snapshot = read_producers(&dir, last);
                let rebuild = snapshot.is_none();
                for &base in older {
                    let file = Arc::new(open_segment_file(&segment::log_path(&dir, base))?);
                    let view = match SegmentView::read_idx(&dir, base, Arc::clone(&file)) {
                        Some(view) => view,
                        None => {
                            let scan = SegmentView::scan(&dir, base, file)?;
                            if rebuild {
                                apply(&mut producers, &scan.batches);
                            }
                            let _ = scan.view.write_idx(&dir);
                            scan.view
                        }
                    };
                    sealed.push(view);
                }
                if let Some(snapshot) = snapshot {
                    producers = snapshot;
                }
                let path = segment::log_path(&dir, last);
                let file = Arc::new(open_segment_file(&path)?);
                let scan = SegmentView::scan(&dir, last, Arc::clone(&file))?;
                if scan.garbage > 0 {
                    tracing::warn!(
                        channel = name,
                        segment = last,
                        cut_bytes = scan.garbage,
                        "recovered the channel: a torn or corrupt tail was cut"
                    );
                    file.set_len(scan.view.size)?;
                    file.sync_all()?;
                }
                apply(&mut producers, &scan.batches);
                if read_producers(&dir, last).is_none() {
                    write_producers(&dir, last, &producers)?;
                }
                let mut view = scan.view;
                // An empty segment after older ones starts where they ended.
                if view.is_empty()
                    && let Some(prev) = sealed.last()
                {
                    view.end = prev.end.max(view.base);
                }
                view
            }
        };
        let groups = read_groups(&dir)?;
        let streams = all_streams(&sealed, &active);
        Ok(Channel {
            name: name.to_owned(),
            dir,
            fsync,
            segment_bytes,
            max_streams,
            max_groups,
            state: Mutex::new(State {
                sealed,
                active,
                producers,
                groups,
                dirty: false,
                streams,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the files inconsistent (writes are
        // whole or rolled back), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a batch atomically. With a producer id, a `seq` at or below the last one stored
    /// for that producer is a duplicate and nothing is written.
    pub fn append(
        &self,
        producer: &str,
        seq: u64,
        records: &[NewRecord],
    ) -> Result<Appended, ChannelError> {
        let mut st = self.lock();
        if !producer.is_empty()
            && let Some(&last_seq) = st.producers.get(producer)
            && seq <= last_seq
        {
            return Ok(Appended::Duplicate { last_seq });
        }
        if records.is_empty() {
            let end = st.active.end;
            return Ok(Appended::Stored {
                first: end,
                last: end.saturating_sub(1),
            });
        }
        // New streams past the limit are refused before anything is written.
        let raws: Vec<Vec<u8>> = records
            .iter()
            .map(|r| record::labels_to_raw(&r.labels))
            .collect();
        let mut new_streams = std::collections::HashSet::new();
        for (i, raw) in raws.iter().enumerate() {
            if (i == 0 || raws[i - 1] != *raw) && !st.streams.contains(raw) {
                new_streams.insert(raw.clone());
            }
        }
        if st.streams.len() + new_streams.len() > self.max_streams {
            return Err(ChannelError::TooManyStreams(self.max_streams));
        }
        let mut buf = Vec::with_capacity(records.len() * 128);
        let first = st.active.end;
        let mut spans = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            let at = buf.len();
            let rest = (records.len() - 1 - i) as u32;
            record::encode(&mut buf, first + i as u64, rest, producer, seq, r);
            spans.push((at, buf.len() - at));
        }
        if st.active.size > 0 && st.active.size + buf.len() as u64 > self.segment_bytes {
            self.roll(&mut st)?;
        }
        // A roll starts the new segment at the old one's end: `first` still holds.
        let start = st.active.size;
        let file = Arc::clone(&st.active.file);
        if let Err(e) = (&*file).write_all(&buf) {
            // Never leave part of a batch behind: cut back to where it started.
            let _ = file.set_len(start);
            return Err(e.into());
        }
        if self.fsync == FsyncPolicy::Always
            && let Err(e) = file.sync_data()
        {
            let _ = file.set_len(start);
            return Err(e.into());
        }
        for (i, ((r, raw), (at, len))) in records.iter().zip(&raws).zip(&spans).enumerate() {
            st.active
                .note(start + *at as u64, *len as u64, first + i as u64, r.ts, raw);
        }
        st.active.written = SystemTime::now();
        st.streams.extend(new_streams);
        if !producer.is_empty() {
            st.producers.insert(producer.to_owned(), seq);
        }
        st.dirty = self.fsync != FsyncPolicy::Always;
        let last = st.active.end - 1;
        Ok(Appended::Stored { first, last })
    }

    /// Seals the active segment and starts a new one.
    fn roll(&self, st: &mut State) -> io::Result<()> {
        if self.fsync != FsyncPolicy::Never {
            st.active.file.sync_data()?;
        }
        st.active.write_idx(&self.dir)?;
        let base = st.active.end;
        let next = create_segment(&self.dir, base, &st.producers)?;
        let old = std::mem::replace(&mut st.active, next);
        st.sealed.push(old);
        st.dirty = false;
        Ok(())
    }

    /// Forces written records to disk when the policy leaves them in the page cache.
    pub fn flush(&self) -> io::Result<()> {
        let file = {
            let mut st = self.lock();
            if !st.dirty {
                return Ok(());
            }
            st.dirty = false;
            Arc::clone(&st.active.file)
        };
        file.sync_data()
    }

    /// The segment views, oldest first (the active one last), to read without the lock.
    pub fn snapshot(&self) -> Vec<SegmentView> {
        let st = self.lock();
        let mut all = st.sealed.clone();
        all.push(st.active.clone());
        all
    }

    pub fn stats(&self) -> ChannelStats {
        let st = self.lock();
        ChannelStats {
            earliest: st.sealed.first().map_or(st.active.base, |s| s.base),
            latest: st.active.end,
            segments: st.sealed.len() + 1,
            bytes: st.sealed.iter().map(|s| s.size).sum::<u64>() + st.active.size,
        }
    }

    /// Up to `max_records` records (and about `max_bytes` of lines, at least one record) from
    /// `offset` on. An offset below the earliest retained one starts at the earliest.
    pub fn fetch(
        &self,
        offset: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredRecord>, ChannelError> {
        let segments = self.snapshot();
        let end = segments.last().map_or(0, |s| s.end);
        if offset > end {
            return Err(ChannelError::OffsetOutOfRange { offset, end });
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for seg in segments.iter().filter(|s| s.end > offset) {
            let mut full = false;
            seg.read_from(seg.pos_for_offset(offset), |r| {
                if r.offset < offset {
                    return true;
                }
                if out.len() >= max_records || (!out.is_empty() && bytes + r.line.len() > max_bytes)
                {
                    full = true;
                    return false;
                }
                bytes += r.line.len();
                out.push(StoredRecord::from_ref(r));
                true
            })?;
            if full {
                break;
            }
        }
        Ok(out)
    }

    /// The offset of the first record with a timestamp at or after `ts` (the end when none).
    pub fn offset_for_time(&self, ts: i64) -> Result<u64, ChannelError> {
        let segments = self.snapshot();
        for seg in segments.iter().filter(|s| !s.is_empty() && s.max_ts >= ts) {
            let mut found = None;
            seg.read_from(seg.pos_for_time(ts), |r| {
                if r.ts >= ts {
                    found = Some(r.offset);
                    false
                } else {
                    true
                }
            })?;
            if let Some(offset) = found {
                return Ok(offset);
            }
        }
        Ok(segments.last().map_or(0, |s| s.end))
    }

    /// The committed offset of `group` (none: never committed).
    pub fn committed(&self, group: &str) -> Option<u64> {
        self.lock().groups.get(group).copied()
    }

    /// Every group and its committed offset.
    pub fn groups(&self) -> BTreeMap<String, u64> {
        self.lock().groups.clone()
    }

    /// Persists `offset` as `group`'s position (durably: written and synced before it returns).
    pub fn commit(&self, group: &str, offset: u64) -> Result<(), ChannelError> {
        let mut st = self.lock();
        if offset > st.active.end {
            return Err(ChannelError::OffsetOutOfRange {
                offset,
                end: st.active.end,
            });
        }
        if !st.groups.contains_key(group) && st.groups.len() >= self.max_groups {
            return Err(ChannelError::TooManyGroups(self.max_groups));
        }
        let mut groups = st.groups.clone();
        groups.insert(group.to_owned(), offset);
        let bytes = serde_json::to_vec(&groups).map_err(io::Error::other)?;
        segment::write_atomic(&self.dir.join("groups.json"), &bytes)?;
        st.groups = groups;
        Ok(())
    }

    /// Drops whole sealed segments while the channel is larger than `max_bytes` (0: no limit)
    /// or their newest record was written before `older_than` (none: no age limit). An active
    /// segment past the age limit is sealed first, so an idle channel ages out too. Returns the
    /// segments dropped.
    pub fn retain(&self, max_bytes: u64, older_than: Option<SystemTime>) -> io::Result<usize> {
        let mut st = self.lock();
        if let Some(cutoff) = older_than
            && !st.active.is_empty()
            && st.active.written < cutoff
        {
            self.roll(&mut st)?;
        }
        let mut total: u64 = st.sealed.iter().map(|s| s.size).sum::<u64>() + st.active.size;
        let mut dropped = 0;
        while let Some(oldest) = st.sealed.first() {
            let too_big = max_bytes > 0 && total > max_bytes;
            let too_old = older_than.is_some_and(|cutoff| oldest.written < cutoff);
            if !too_big && !too_old {
                break;
            }
            let base = oldest.base;
            total -= oldest.size;
            // The data file goes last: a crash in between leaves a segment that a scan rebuilds.
            let _ = std::fs::remove_file(segment::idx_path(&self.dir, base));
            let _ = std::fs::remove_file(segment::producers_path(&self.dir, base));
            std::fs::remove_file(segment::log_path(&self.dir, base))?;
            st.sealed.remove(0);
            dropped += 1;
        }
        if dropped > 0 {
            st.streams = all_streams(&st.sealed, &st.active);
        }
        Ok(dropped)
    }

    /// The last sequence stored for `producer`.
    pub fn producer_seq(&self, producer: &str) -> Option<u64> {
        self.lock().producers.get(producer).copied()
    }
}

fn all_streams(sealed: &[SegmentView], active: &SegmentView) -> std::collections::HashSet<Vec<u8>> {
    let mut all = std::collections::HashSet::new();
    for s in sealed.iter().chain(std::iter::once(active)) {
        all.extend(s.streams.iter().cloned());
    }
    all
}

fn apply(producers: &mut HashMap<String, u64>, batches: &[(String, u64)]) {
    for (p, seq) in batches {
        let last = producers.entry(p.clone()).or_insert(*seq);
        *last = (*last).max(*seq);
    }
}

fn open_segment_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
}

/// Starts the segment `base`: its producer snapshot first (the state as of its start, what
/// recovery starts from), then its empty data file.
fn create_segment(
    dir: &Path,
    base: u64,
    producers: &HashMap<String, u64>,
) -> io::Result<SegmentView> {
    write_producers(dir, base, producers)?;
    let file = Arc::new(open_segment_file(&segment::log_path(dir, base))?);
    File::open(dir)?.sync_all()?;
    Ok(SegmentView::empty(base, file))
}

fn write_producers(dir: &Path, base: u64, producers: &HashMap<String, u64>) -> io::Result<()> {
    let bytes = serde_json::to_vec(producers).map_err(io::Error::other)?;
    segment::write_atomic(&segment::producers_path(dir, base), &bytes)
}

fn read_producers(dir: &Path, base: u64) -> Option<HashMap<String, u64>> {
    let bytes = std::fs::read(segment::producers_path(dir, base)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn read_groups(dir: &Path) -> io::Result<BTreeMap<String, u64>> {
    match std::fs::read(dir.join("groups.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e),
    }
}
