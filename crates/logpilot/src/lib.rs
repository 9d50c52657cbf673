//! LogPilot: a small event-streaming log broker for a home server.
//!
//! Producers append log events to channels; the broker keeps them in append-only segment files
//! with a checksum per record, assigns offsets, and serves consumers that fetch, commit and seek
//! (earliest, latest, an offset or a time), with retention by size and age. Grafana reads it
//! through its stock Loki datasource, since LogPilot answers the part of Loki's HTTP API and
//! LogQL that Grafana uses, and standard shippers push to it through Loki's push API.
//!
//! It is a library of its own so that the server crate only wires it in (the `flowly logpilot`
//! role and the shipping layer) and never reaches into its storage.

pub mod broker;
pub mod channel;
pub mod collect;
pub mod config;
pub mod http;
pub mod logql;
pub mod record;
pub mod segment;
pub mod ship;

pub use broker::{Broker, BrokerError};
pub use config::{ApiKey, Config, FsyncPolicy, Limits, Role};
pub use http::{AppState, ServeError, router, serve};
