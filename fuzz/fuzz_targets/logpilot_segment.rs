//! Reading a LogPilot segment file as the broker does on open (`SegmentView::scan`, which finds
//! and cuts a torn or corrupt tail) and as consumers do (`read_from`). The file is a run of
//! encoded batches, then damaged: cut short, a byte changed, garbage appended, or replaced by
//! the raw input. Never a panic; the scan keeps only whole batches of consecutive offsets, which
//! read back without error from the start and from every index position; scanning the file cut
//! where the scan said gives the same segment and nothing to cut.
#![no_main]

use std::{
    fs::File,
    io::Write,
    path::PathBuf,
    sync::{Arc, OnceLock},
};

use arbitrary::Arbitrary;
use flowly_fuzz::{
    record::{self, NewRecord},
    segment::SegmentView,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    base: u64,
    batches: Vec<Vec<(i64, String, u8)>>,
    /// Where offsets jump (a record written out of order).
    skip_at: Option<u16>,
    damage: Damage,
}

#[derive(Debug, Arbitrary)]
enum Damage {
    None,
    Cut(u16),
    Change(u16, u8),
    Append(Vec<u8>),
    Raw(Vec<u8>),
}

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("flowly-fuzz-segment-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

fuzz_target!(|input: Input| {
    let mut bytes = Vec::new();
    let mut offset = input.base;
    let mut n = 0u16;
    for batch in &input.batches {
        for (i, (ts, line, label)) in batch.iter().enumerate() {
            let rec = NewRecord {
                ts: *ts,
                labels: vec![("app".into(), format!("a{label}"))],
                fields: vec![],
                line: line.clone(),
            };
            if input.skip_at == Some(n) {
                offset = offset.wrapping_add(2);
            }
            let rest = (batch.len() - 1 - i) as u32;
            record::encode(&mut bytes, offset, rest, "producer", n as u64, &rec);
            offset = offset.wrapping_add(1);
            n = n.wrapping_add(1);
        }
    }
    let undamaged = matches!(input.damage, Damage::None);
    match input.damage {
        Damage::None => {}
        Damage::Cut(at) => bytes.truncate(at as usize),
        Damage::Change(at, by) => {
            if !bytes.is_empty() {
                let at = at as usize % bytes.len();
                bytes[at] ^= by.max(1);
            }
        }
        Damage::Append(garbage) => bytes.extend_from_slice(&garbage),
        Damage::Raw(raw) => bytes = raw,
    }

    let path = dir().join("00000000000000000000.log");
    File::create(&path).unwrap().write_all(&bytes).unwrap();
    let file = Arc::new(File::options().read(true).write(true).open(&path).unwrap());
    let scan = SegmentView::scan(dir(), input.base, Arc::clone(&file)).unwrap();
    let view = &scan.view;
    let file_len = bytes.len() as u64;
    assert!(view.size <= file_len);
    assert_eq!(scan.garbage, file_len - view.size);
    assert!(view.end >= view.base);

    // What the scan kept reads back: consecutive offsets, from the base or past it (the scan
    // takes the first record's offset as it is), up to the end.
    let mut offsets = Vec::new();
    view.read_from(0, |rec| {
        offsets.push(rec.offset);
        true
    })
    .unwrap();
    match (offsets.first(), offsets.last()) {
        (Some(first), Some(last)) => {
            assert!(*first >= view.base);
            assert_eq!(last + 1, view.end);
            assert_eq!(
                offsets.len() as u64,
                last - first + 1,
                "a gap in {offsets:?}"
            );
        }
        _ => assert_eq!(view.end, view.base),
    }
    // Every index entry points at a record: reading from there starts with its offset.
    for entry in view.index.iter() {
        let mut first = None;
        view.read_from(entry.pos, |rec| {
            first = Some(rec.offset);
            false
        })
        .unwrap();
        assert_eq!(first, Some(entry.offset));
    }
    for probe in [
        view.base,
        view.end,
        view.base.saturating_add(offsets.len() as u64 / 2),
    ] {
        view.read_from(view.pos_for_offset(probe), |_| false)
            .unwrap();
    }
    // Undamaged batches in order are kept whole.
    if undamaged && input.skip_at.is_none_or(|at| at >= n) {
        let whole = input.base.checked_add(n as u64).is_some();
        if whole {
            assert_eq!(scan.garbage, 0, "an undamaged segment lost its tail");
            assert_eq!(offsets.len(), n as usize);
        }
    }

    // Recovery cuts the tail; scanning the cut file finds the same segment and nothing to cut.
    file.set_len(view.size).unwrap();
    let again = SegmentView::scan(dir(), input.base, Arc::clone(&file)).unwrap();
    assert_eq!(again.garbage, 0);
    assert_eq!((again.view.end, again.view.size), (view.end, view.size));
    assert_eq!(again.batches, scan.batches);
});
