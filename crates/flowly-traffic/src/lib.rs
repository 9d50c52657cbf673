//! The traffic generator (`flowly-traffic`): simulated users who do what real ones do, over the
//! public HTTP and WebSocket interfaces only, in an open workload with latencies in HdrHistograms.
//! Seeding is the one exception: it writes the dataset straight into PostgreSQL with `COPY`.
//!
//! [`profile`] (what load) → [`seed`] (the dataset) → [`run`] (one generator process, using
//! [`schedule`], [`client`] and [`stats`]) → [`report`] (the merged result).

pub mod client;
pub mod profile;
pub mod report;
pub mod run;
pub mod schedule;
pub mod seed;
pub mod stats;
