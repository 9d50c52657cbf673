//! One segment file of a channel and the facts kept about it: its offsets, its sparse index (by
//! offset and by time), its time span and the streams it holds.
//!
//! A segment is `<base offset, 20 digits>.log`. When it is sealed (the channel moves on to a new
//! one) its facts are written beside it as `<base>.idx` (JSON), so opening a channel reads those
//! instead of every byte; the last, active segment is always scanned on open, which is where a
//! torn tail is found and cut.

use std::{
    collections::HashSet,
    fs::File,
    io,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::Arc,
    time::SystemTime,
};

use serde::{Deserialize, Serialize};

use crate::record::{self, Frame, Labels, RecordRef};

/// An index entry is added every this many bytes of a segment.
pub const INDEX_INTERVAL: u64 = 32 * 1024;
/// Bytes read from a segment file at a time.
const READ_BLOCK: usize = 1024 * 1024;

/// A point of the sparse index: the record at `pos` has `offset`, and every record before it in
/// the segment has a timestamp at most `max_ts_before` (so the entries are ordered by offset,
/// position and `max_ts_before` alike, and both seeks are binary searches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub offset: u64,
    pub pos: u64,
    pub max_ts_before: i64,
}

/// What is known of one segment: a cheap, clonable view that readers take and then read from
/// without holding the channel's lock (appends only add bytes past `size`).
#[derive(Debug, Clone)]
pub struct SegmentView {
    pub base: u64,
    /// The offset after its last record.
    pub end: u64,
    /// Bytes of whole records.
    pub size: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    pub index: Arc<Vec<IndexEntry>>,
    /// The encoded label sets of the streams in it.
    pub streams: Arc<HashSet<Vec<u8>>>,
    /// When the newest record was written (file time on open), for retention by age.
    pub written: SystemTime,
    pub(crate) file: Arc<File>,
}

/// The `.idx` file of a sealed segment.
#[derive(Serialize, Deserialize)]
struct IdxFile {
    base: u64,
    end: u64,
    size: u64,
    min_ts: i64,
    max_ts: i64,
    index: Vec<IndexEntry>,
    streams: Vec<Labels>,
}

pub fn log_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.log"))
}

pub fn idx_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.idx"))
}

pub fn producers_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.producers"))
}

/// What a scan of a segment found.
pub struct Scan {
    pub view: SegmentView,
    /// Bytes past the last whole batch (a torn or corrupt tail), cut on recovery.
    pub garbage: u64,
    /// `(producer, seq)` of every whole batch, in order.
    pub batches: Vec<(String, u64)>,
}

impl SegmentView {
    /// An empty segment starting at `base`.
    pub fn empty(base: u64, file: Arc<File>) -> Self {
        SegmentView {
            base,
            end: base,
            size: 0,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            index: Arc::new(Vec::new()),
            streams: Arc::new(HashSet::new()),
            written: SystemTime::now(),
            file,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.base
    }

    /// Records `record` (just written at `pos`, `len` bytes) in the view.
    pub fn note(&mut self, pos: u64, len: u64, offset: u64, ts: i64, labels_raw: &[u8]) {
        let needs_entry = match self.index.last() {
            None => true,
            Some(last) => pos - last.pos >= INDEX_INTERVAL,
        };
        if needs_entry {
            Arc::make_mut(&mut self.index).push(IndexEntry {
                offset,
                pos,
                max_ts_before: self.max_ts,
            });
        }
        if !self.streams.contains(labels_raw) {
            Arc::make_mut(&mut self.streams).insert(labels_raw.to_vec());
        }
        self.min_ts = self.min_ts.min(ts);
        self.max_ts = self.max_ts.max(ts);
        self.end = offset + 1;
        self.size = pos + len;
    }

    /// Scans the segment file from the start, stopping at the first torn or corrupt frame and
    /// dropping a batch whose last record is missing.
    pub fn scan(dir: &Path, base: u64, file: Arc<File>) -> io::Result<Scan> {
        let mut view = SegmentView::empty(base, Arc::clone(&file));
        view.written = file
            .metadata()?
            .modified()
            .unwrap_or_else(|_| SystemTime::now());
        let file_len = file.metadata()?.len();
        // The view as of the end of the last whole batch; `pending` holds the records of the
        // batch being read until its last record shows up.
        let mut committed = view.clone();
        let mut batches = Vec::new();
        let mut pending: Vec<(u64, u64, u64, i64, Vec<u8>)> = Vec::new();
        let mut expected_offset = None;
        let mut reader = BlockReader::new(&file, 0, file_len);
        while let Some((frame, pos)) = reader.next_frame()? {
            let Frame::Record(rec, len) = frame else {
                tracing::warn!(dir = %dir.display(), base, pos, "corrupt or torn record; the segment is cut there");
                break;
            };
            // No offset follows u64::MAX, so the broker never gives it: a record with it is damage.
            let next = rec.offset.checked_add(1);
            if expected_offset.is_some_and(|e| e != rec.offset)
                || rec.offset < base
                || next.is_none()
            {
                tracing::warn!(dir = %dir.display(), base, pos, "out-of-order offset; the segment is cut there");
                break;
            }
            expected_offset = next;
            pending.push((pos, len as u64, rec.offset, rec.ts, rec.labels_raw.to_vec()));
            if rec.batch_rest == 0 {
                for (pos, len, offset, ts, labels) in pending.drain(..) {
                    view.note(pos, len, offset, ts, &labels);
                }
                if !rec.producer.is_empty() {
                    batches.push((rec.producer.to_owned(), rec.seq));
                }
                committed = view.clone();
            }
            reader.advance(len);
        }
        let garbage = file_len - committed.size;
        Ok(Scan {
            view: committed,
            garbage,
            batches,
        })
    }

    /// Writes the `.idx` file of a sealed segment (atomically: a temporary file renamed).
    pub fn write_idx(&self, dir: &Path) -> io::Result<()> {
        let idx = IdxFile {
            base: self.base,
            end: self.end,
            size: self.size,
            min_ts: self.min_ts,
            max_ts: self.max_ts,
            index: self.index.as_ref().clone(),
            streams: self
                .streams
                .iter()
                .map(|raw| record::labels_from_raw(raw))
                .collect(),
        };
        let bytes = serde_json::to_vec(&idx).map_err(io::Error::other)?;
        write_atomic(&idx_path(dir, self.base), &bytes)
    }

    /// Reads a sealed segment's `.idx`; `None` when it is missing or does not match the file
    /// (then the segment is scanned instead).
    pub fn read_idx(dir: &Path, base: u64, file: Arc<File>) -> Option<SegmentView> {
        let bytes = std::fs::read(idx_path(dir, base)).ok()?;
        let idx: IdxFile = serde_json::from_slice(&bytes).ok()?;
        let meta = file.metadata().ok()?;
        if idx.base != base || idx.size != meta.len() {
            return None;
        }
        Some(SegmentView {
            base,
            end: idx.end,
            size: idx.size,
            min_ts: idx.min_ts,
            max_ts: idx.max_ts,
            index: Arc::new(idx.index),
            streams: Arc::new(idx.streams.iter().map(record::labels_to_raw).collect()),
            written: meta.modified().unwrap_or_else(|_| SystemTime::now()),
            file,
        })
    }

    /// The byte position to start reading at to find `offset`.
    pub fn pos_for_offset(&self, offset: u64) -> u64 {
        let i = self.index.partition_point(|e| e.offset <= offset);
        if i == 0 { 0 } else { self.index[i - 1].pos }
    }

    /// A byte position before which every record is older than `ts`.
    pub fn pos_for_time(&self, ts: i64) -> u64 {
        let i = self.index.partition_point(|e| e.max_ts_before < ts);
        if i == 0 { 0 } else { self.index[i - 1].pos }
    }

    /// Calls `f` with every record from byte `from` on, in order, until it returns `false`.
    pub fn read_from(
        &self,
        from: u64,
        mut f: impl FnMut(&RecordRef<'_>) -> bool,
    ) -> io::Result<()> {
        let mut reader = BlockReader::new(&self.file, from, self.size);
        while let Some((frame, _)) = reader.next_frame()? {
            match frame {
                Frame::Record(rec, len) => {
                    if !f(&rec) {
                        return Ok(());
                    }
                    reader.advance(len);
                }
                // Only whole, checked records lie below `size`: this is damage after the fact.
                Frame::Corrupt | Frame::Incomplete => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("segment {} is damaged", self.base),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Reads frames from a file in large blocks.
struct BlockReader<'f> {
    file: &'f File,
    /// File position of `buf[at]`.
    pos: u64,
    limit: u64,
    buf: Vec<u8>,
    at: usize,
}

impl<'f> BlockReader<'f> {
    fn new(file: &'f File, from: u64, limit: u64) -> Self {
        BlockReader {
            file,
            pos: from,
            limit,
            buf: Vec::new(),
            at: 0,
        }
    }

    /// The frame at the current position and that position; `None` at the end.
    #[allow(clippy::type_complexity)]
    fn next_frame(&mut self) -> io::Result<Option<(Frame<'_>, u64)>> {
        if self.pos >= self.limit {
            return Ok(None);
        }
        // Decode first to learn whether the buffered bytes hold a whole frame; refill if not.
        let need_more = matches!(record::decode(&self.buf[self.at..]), Frame::Incomplete);
        if need_more {
            let have = self.buf.len() - self.at;
            let want = {
                let rest = &self.buf[self.at..];
                if rest.len() >= 4 {
                    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                    (record::HEADER + len.min(record::MAX_BODY)).max(READ_BLOCK)
                } else {
                    READ_BLOCK
                }
            };
            let file_left = (self.limit - self.pos) as usize;
            let target = want.min(file_left);
            if target > have {
                self.buf.drain(..self.at);
                self.at = 0;
                let start = self.buf.len();
                self.buf.resize(target, 0);
                let read_at = self.pos + start as u64;
                let mut filled = start;
                while filled < target {
                    let n = self.file.read_at(
                        &mut self.buf[filled..target],
                        read_at + (filled - start) as u64,
                    )?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                self.buf.truncate(filled);
            }
        }
        let pos = self.pos;
        let frame = record::decode(&self.buf[self.at..]);
        Ok(Some((frame, pos)))
    }

    fn advance(&mut self, len: usize) {
        self.at += len;
        self.pos += len as u64;
    }
}

/// Writes `bytes` to `path` through a synced temporary file and a rename, then syncs the
/// directory, so the file is either the old one or the new one, never half of each.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let file = File::create(&tmp)?;
        io::Write::write_all(&mut &file, bytes)?;
        file.sync_data()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::NewRecord;

    fn segment_of(records: &[(u64, u32)]) -> (tempfile::TempDir, Arc<File>, u64) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        for (offset, batch_rest) in records {
            let record = NewRecord {
                ts: 1,
                labels: vec![("app".into(), "a".into())],
                fields: vec![],
                line: "line".into(),
            };
            record::encode(&mut bytes, *offset, *batch_rest, "p", 1, &record);
        }
        let path = log_path(dir.path(), 0);
        std::fs::write(&path, &bytes).unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        (dir, file, bytes.len() as u64)
    }

    // Found by fuzz/fuzz_targets/logpilot_segment.rs: a record at offset u64::MAX (intact, its
    // CRC right) overflowed the next expected offset, a panic on open in a debug build and a
    // segment ending at offset 0 in a release one.
    #[test]
    fn a_record_at_the_last_offset_is_cut_as_damage() {
        let base = u64::MAX - 1;
        let (dir, file, len) = segment_of(&[(base, 0), (u64::MAX, 0)]);
        let scan = SegmentView::scan(dir.path(), base, file).unwrap();
        assert_eq!(scan.view.end, u64::MAX, "the record before it is kept");
        assert_eq!(scan.garbage, len - scan.view.size);
        assert!(scan.garbage > 0);
    }
}
