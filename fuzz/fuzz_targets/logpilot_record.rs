//! LogPilot's on-disk record. Arbitrary bytes: decoding never panics, and a decoded record is
//! exactly what its header says (length, CRC of the body) and encodes back to the same bytes.
//! Arbitrary records: encode → decode gives them back, and any changed body byte is caught.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use flowly_fuzz::record::{self, Frame, HEADER, NewRecord};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Written {
    offset: u64,
    batch_rest: u32,
    producer: String,
    seq: u64,
    ts: i64,
    labels: Vec<(String, String)>,
    fields: Vec<(String, String)>,
    line: String,
    /// A body byte to change, and how.
    flip_at: usize,
    flip: u8,
}

fuzz_target!(|data: &[u8]| {
    decode_arbitrary_bytes(data);
    if let Ok(written) = Written::arbitrary(&mut Unstructured::new(data)) {
        round_trip(written);
    }
});

fn decode_arbitrary_bytes(data: &[u8]) {
    let (rec, len) = match record::decode(data) {
        Frame::Record(rec, len) => (rec, len),
        Frame::Incomplete | Frame::Corrupt => return,
    };
    assert!((HEADER..=data.len()).contains(&len));
    let body_len = u32::from_le_bytes(data[..4].try_into().unwrap()) as usize;
    assert_eq!(len, HEADER + body_len);
    let crc = u32::from_le_bytes(data[4..8].try_into().unwrap());
    assert_eq!(
        crc32fast::hash(&data[HEADER..len]),
        crc,
        "a record whose CRC does not match"
    );
    // Pairs read until the first malformed one; re-encoded they are the start of the raw bytes.
    let labels = record::labels_from_raw(rec.labels_raw);
    let relabelled = record::labels_to_raw(&labels);
    assert!(rec.labels_raw.starts_with(&relabelled));
    let fields: Vec<(String, String)> = rec
        .fields()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for (k, v) in &labels {
        assert!(rec.label(k).is_some(), "label {k:?}={v:?} not found");
    }
    // A record whose labels and fields are all well-formed is in canonical form: encoding what
    // was read gives back the very bytes.
    if relabelled == rec.labels_raw && encoded_fields(&fields) == field_bytes(data, &rec, len) {
        let mut again = Vec::new();
        let new = NewRecord {
            ts: rec.ts,
            labels,
            fields,
            line: rec.line.to_owned(),
        };
        record::encode(
            &mut again,
            rec.offset,
            rec.batch_rest,
            rec.producer,
            rec.seq,
            &new,
        );
        assert_eq!(again, &data[..len]);
    }
}

/// The fields section of the record's body (between the labels and the line).
fn field_bytes<'a>(data: &'a [u8], rec: &record::RecordRef<'_>, len: usize) -> &'a [u8] {
    let start = HEADER + 8 + 8 + 4 + 8 + 1 + rec.producer.len() + 2 + rec.labels_raw.len() + 4;
    &data[start..len - rec.line.len()]
}

fn encoded_fields(fields: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        out.extend_from_slice(&(k.len() as u16).to_le_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

fn round_trip(w: Written) {
    let new = NewRecord {
        ts: w.ts,
        labels: w.labels,
        fields: w.fields,
        line: w.line,
    };
    let mut buf = vec![0xAA; 3]; // encode appends: something before it
    record::encode(&mut buf, w.offset, w.batch_rest, &w.producer, w.seq, &new);
    let frame = &buf[3..];
    let Frame::Record(rec, len) = record::decode(frame) else {
        panic!("an encoded record does not decode: {new:?}");
    };
    assert_eq!(len, frame.len());
    assert_eq!(
        (rec.offset, rec.batch_rest, rec.seq, rec.ts),
        (w.offset, w.batch_rest, w.seq, w.ts)
    );
    // Arbitrary strings stay far below the encoding's caps (255 bytes of producer, 64 KiB a
    // label), which `encode` truncates to.
    if w.producer.len() <= 255 {
        assert_eq!(rec.producer, w.producer);
    }
    assert_eq!(rec.line, new.line);
    let labels: Vec<_> = rec
        .labels()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(labels, new.labels);
    let fields: Vec<_> = rec
        .fields()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(fields, new.fields);
    assert_eq!(record::labels_to_raw(&new.labels), rec.labels_raw);

    // A changed body byte: the CRC catches it. A torn frame is incomplete.
    let mut bad = frame.to_vec();
    let at = HEADER + w.flip_at % (bad.len() - HEADER);
    bad[at] ^= w.flip.max(1);
    assert!(
        matches!(record::decode(&bad), Frame::Corrupt),
        "byte {at} changed unnoticed"
    );
    let cut = w.flip_at % frame.len();
    assert!(
        matches!(record::decode(&frame[..cut]), Frame::Incomplete),
        "cut at {cut}"
    );
}
