//! The code under fuzzing, compiled from its own source files (`#[path]`) rather than through
//! the `flowly` and `logpilot` crates: those bring sqlx, candle, axum, bollard and more, whose
//! instrumented release build alone would take longer than CI gives fuzzing, while these parsers
//! need serde, a CRC and regex. Each file sits where it expects to (`crate::domain`,
//! `crate::record`, `super::ast`), so it compiles unchanged; when one of them starts using
//! another crate, add that crate to `fuzz/Cargo.toml` (the fuzz step fails to build until then).

pub mod domain;

/// `flowly::realtime::client_frames`: reading the frames a WebSocket client sends.
#[path = "../../src/realtime/client_frames.rs"]
pub mod client_frames;

/// `logpilot::record`: the on-disk record.
#[path = "../../crates/logpilot/src/record.rs"]
pub mod record;

/// `logpilot::segment`: segment files, scanned on open and read by consumers.
#[path = "../../crates/logpilot/src/segment.rs"]
pub mod segment;

pub mod logql;
