//! LogQL as Grafana and `flowlyctl logs` send it to LogPilot: parsing never panics (nor runs
//! out of stack), an error's position is inside the query, and durations and sizes parse
//! without panicking.
#![no_main]

use flowly_fuzz::logql::parser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|src: &str| {
    if let Err(e) = parser::parse(src) {
        assert!(e.pos <= src.len(), "{e} for a query of {} bytes", src.len());
    }
    if let Err(e) = parser::parse_selector(src) {
        assert!(e.pos <= src.len(), "{e} for a query of {} bytes", src.len());
    }
    let _ = parser::parse_duration(src);
    let _ = parser::parse_bytes(src);
});
