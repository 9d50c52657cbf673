//! The traffic generator (`flowly-traffic`): simulated users who do what real ones do, over the
//! public HTTP and WebSocket interfaces only, in an open workload with latencies in HdrHistograms.
//! It never touches the database: the dataset is written by the server (`flowly dev seed`, which
//! [`seed`] runs), and the [`manifest`] file it leaves is all the generator knows about it.
//!
//! [`profile`] (what load) → [`seed`] (the dataset, by `flowly dev seed`) → [`manifest`] → [`run`]
//! (one generator process, using [`schedule`], [`client`], [`words`] and [`stats`]) → [`report`]
//! (the merged result).

pub mod client;
pub mod manifest;
pub mod profile;
pub mod report;
pub mod run;
pub mod schedule;
pub mod seed;
pub mod stats;
pub mod words;
