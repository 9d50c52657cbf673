//! Flowly: a self-hosted team workspace in which chat and tasks are one stream.
//!
//! Layers, each depending only on those before it: [`domain`] (types and rules, no IO) ←
//! [`store`] (all SQL) ← [`app`] (the use cases) ← [`api`] (HTTP), [`realtime`] (WebSocket),
//! [`assistant`] (the worker) ← [`server`] and the binaries. [`dev`] holds developer and benchmark
//! tools (`flowly dev`), beside the serving code and never called by it.

pub mod api;
pub mod app;
pub mod assistant;
pub mod config;
pub mod dev;
pub mod domain;
pub mod realtime;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;
