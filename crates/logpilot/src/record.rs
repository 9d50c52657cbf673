//! The on-disk record: one log event, framed by its length and a CRC32 of its body.
//!
//! ```text
//! frame  = body_len:u32le crc32(body):u32le body
//! body   = offset:u64le ts_ns:i64le batch_rest:u32le seq:u64le
//!          producer_len:u8 producer
//!          labels_len:u16le (k_len:u16le k v_len:u16le v)*
//!          fields_len:u32le (k_len:u16le k v_len:u32le v)*
//!          line (the rest)
//! ```
//!
//! `batch_rest` counts the records of the same batch that follow this one: a batch whose last
//! record is missing after a crash is cut whole on recovery, so a batch is stored entirely or
//! not at all, and a producer's retry of it is then stored once.

/// Bytes of the frame header (length and CRC).
pub const HEADER: usize = 8;
/// Largest body accepted when reading: anything longer is corruption, not a record.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
const FIXED: usize = 8 + 8 + 4 + 8 + 1;

/// Sorted `(name, value)` pairs: the labels of a stream.
pub type Labels = Vec<(String, String)>;

/// An event to append: what a producer sent, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    pub ts: i64,
    /// Stream labels, sorted by name, names unique.
    pub labels: Labels,
    /// Fields (not indexed), in the producer's order.
    pub fields: Vec<(String, String)>,
    pub line: String,
}

/// A record read back, borrowing from the read buffer.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    pub offset: u64,
    pub ts: i64,
    pub batch_rest: u32,
    pub seq: u64,
    pub producer: &'a str,
    /// The encoded labels: equal bytes mean equal label sets (a cache key).
    pub labels_raw: &'a [u8],
    fields_raw: &'a [u8],
    pub line: &'a str,
}

/// What is at the front of a buffer.
#[derive(Debug)]
pub enum Frame<'a> {
    /// A whole, intact record and the bytes its frame takes.
    Record(RecordRef<'a>, usize),
    /// The buffer ends inside a frame (more bytes may follow, or the tail is torn).
    Incomplete,
    /// The bytes are not a record (bad length, CRC mismatch, or a malformed body).
    Corrupt,
}

/// Appends the frame of `record` to `out`.
pub fn encode(
    out: &mut Vec<u8>,
    offset: u64,
    batch_rest: u32,
    producer: &str,
    seq: u64,
    record: &NewRecord,
) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&record.ts.to_le_bytes());
    out.extend_from_slice(&batch_rest.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    let producer = truncate(producer, u8::MAX as usize);
    out.push(producer.len() as u8);
    out.extend_from_slice(producer.as_bytes());
    let labels_at = out.len();
    out.extend_from_slice(&[0; 2]);
    for (k, v) in &record.labels {
        put16(out, k);
        put16(out, v);
    }
    let labels_len = (out.len() - labels_at - 2) as u16;
    out[labels_at..labels_at + 2].copy_from_slice(&labels_len.to_le_bytes());
    let fields_at = out.len();
    out.extend_from_slice(&[0; 4]);
    for (k, v) in &record.fields {
        put16(out, k);
        let v = truncate(v, u32::MAX as usize);
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    let fields_len = (out.len() - fields_at - 4) as u32;
    out[fields_at..fields_at + 4].copy_from_slice(&fields_len.to_le_bytes());
    out.extend_from_slice(record.line.as_bytes());
    let body_len = (out.len() - start - HEADER) as u32;
    let crc = crc32fast::hash(&out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&body_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Reads the frame at the front of `buf`.
pub fn decode(buf: &[u8]) -> Frame<'_> {
    if buf.len() < HEADER {
        return Frame::Incomplete;
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if !(FIXED + 6..=MAX_BODY).contains(&len) {
        return Frame::Corrupt;
    }
    if buf.len() < HEADER + len {
        return Frame::Incomplete;
    }
    let body = &buf[HEADER..HEADER + len];
    if crc32fast::hash(body) != crc {
        return Frame::Corrupt;
    }
    match parse_body(body) {
        Some(record) => Frame::Record(record, HEADER + len),
        None => Frame::Corrupt,
    }
}

fn parse_body(body: &[u8]) -> Option<RecordRef<'_>> {
    let mut r = Reader { buf: body, at: 0 };
    let offset = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let ts = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let batch_rest = u32::from_le_bytes(r.take(4)?.try_into().ok()?);
    let seq = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let plen = r.take(1)?[0] as usize;
    let producer = std::str::from_utf8(r.take(plen)?).ok()?;
    let llen = u16::from_le_bytes(r.take(2)?.try_into().ok()?) as usize;
    let labels_raw = r.take(llen)?;
    let flen = u32::from_le_bytes(r.take(4)?.try_into().ok()?) as usize;
    let fields_raw = r.take(flen)?;
    let line = std::str::from_utf8(&body[r.at..]).ok()?;
    Some(RecordRef {
        offset,
        ts,
        batch_rest,
        seq,
        producer,
        labels_raw,
        fields_raw,
        line,
    })
}

impl<'a> RecordRef<'a> {
    /// The stream labels, in order.
    pub fn labels(&self) -> PairIter<'a> {
        PairIter {
            buf: self.labels_raw,
            wide_values: false,
        }
    }

    /// The fields, in the producer's order.
    pub fn fields(&self) -> PairIter<'a> {
        PairIter {
            buf: self.fields_raw,
            wide_values: true,
        }
    }

    /// The value of label `name`, if the stream has it.
    pub fn label(&self, name: &str) -> Option<&'a str> {
        self.labels().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The value of field `name`, if the event has it.
    pub fn field(&self, name: &str) -> Option<&'a str> {
        self.fields().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

/// Iterates encoded `(name, value)` pairs.
pub struct PairIter<'a> {
    buf: &'a [u8],
    wide_values: bool,
}

impl<'a> Iterator for PairIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let mut r = Reader {
            buf: self.buf,
            at: 0,
        };
        let klen = u16::from_le_bytes(r.take(2)?.try_into().ok()?) as usize;
        let k = std::str::from_utf8(r.take(klen)?).ok()?;
        let vlen = if self.wide_values {
            u32::from_le_bytes(r.take(4)?.try_into().ok()?) as usize
        } else {
            u16::from_le_bytes(r.take(2)?.try_into().ok()?) as usize
        };
        let v = std::str::from_utf8(r.take(vlen)?).ok()?;
        self.buf = &self.buf[r.at..];
        Some((k, v))
    }
}

/// Decodes a stream's labels from their encoded form (as in [`RecordRef::labels_raw`]).
pub fn labels_from_raw(raw: &[u8]) -> Labels {
    PairIter {
        buf: raw,
        wide_values: false,
    }
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The encoded form of `labels`, equal to what [`encode`] writes.
pub fn labels_to_raw(labels: &Labels) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in labels {
        put16(&mut out, k);
        put16(&mut out, v);
    }
    out
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.buf.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }
}

fn put16(out: &mut Vec<u8>, s: &str) {
    let s = truncate(s, u16::MAX as usize);
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// `s` cut to at most `max` bytes on a character boundary (validation keeps real input far
/// below these limits; this only keeps the encoding well-formed).
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NewRecord {
        NewRecord {
            ts: 1_700_000_000_123_456_789,
            labels: vec![
                ("level".into(), "error".into()),
                ("service".into(), "api".into()),
            ],
            fields: vec![
                ("request_id".into(), "r-1".into()),
                ("user_id".into(), "u-7".into()),
            ],
            line: "disk full — écrit".into(),
        }
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let mut buf = Vec::new();
        encode(&mut buf, 42, 3, "producer-a", 9, &sample());
        let Frame::Record(r, len) = decode(&buf) else {
            panic!("not a record")
        };
        assert_eq!(len, buf.len());
        assert_eq!(
            (r.offset, r.ts, r.batch_rest, r.seq),
            (42, sample().ts, 3, 9)
        );
        assert_eq!(r.producer, "producer-a");
        assert_eq!(r.line, "disk full — écrit");
        assert_eq!(r.label("service"), Some("api"));
        assert_eq!(r.field("user_id"), Some("u-7"));
        assert_eq!(labels_from_raw(r.labels_raw), sample().labels);
        assert_eq!(labels_to_raw(&sample().labels), r.labels_raw);
    }

    #[test]
    fn a_flipped_bit_anywhere_is_caught_by_the_crc() {
        let mut buf = Vec::new();
        encode(&mut buf, 1, 0, "p", 1, &sample());
        for i in HEADER..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x10;
            assert!(matches!(decode(&bad), Frame::Corrupt), "byte {i}");
        }
    }

    #[test]
    fn a_torn_frame_is_incomplete_and_a_wild_length_is_corrupt() {
        let mut buf = Vec::new();
        encode(&mut buf, 1, 0, "p", 1, &sample());
        for cut in 0..buf.len() {
            assert!(
                matches!(decode(&buf[..cut]), Frame::Incomplete),
                "cut at {cut}"
            );
        }
        let mut wild = buf.clone();
        wild[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&wild), Frame::Corrupt));
        assert!(matches!(decode(&[0u8; 64]), Frame::Corrupt));
    }
}
