//! Flowly's test kit, shared by the API tests (tests/api) and the traffic generator's tests: a
//! node (`flowly::server`) on port 0 over a throw-away database that is dropped with the test,
//! registered users and a [`Team`] of friends in a group room, an assistant worker that stops
//! when dropped, and JSON and WebSocket clients.
//!
//! Use it from integration tests only (`tests/`): unit tests inside `flowly`'s `src/` are a
//! separate build of the crate, whose types are not the ones this kit links.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test harness fails loudly by design

mod client;
mod database;
mod files;
mod node;
mod team;
mod worker;
pub mod ws;

use std::{future::Future, time::Duration};

pub use client::{Api, Client, TestUser, code, create_room, id_of, new_task, password_of, say};
pub use database::{TestDatabase, database_url, fresh_database, redis_url};
pub use files::pdf;
pub use node::{TestApp, test_config};
pub use team::Team;
pub use worker::{WorkerGuard, assistant_test_config, models_dir};

/// Polls `check` (every 50 ms, for at most 60 s) until it returns `Some`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
