//! Integration tests over HTTP against a real server bound to port 0, on real PostgreSQL and
//! Redis (started by `scripts/dev-services.sh`). Each test gets its own database and Redis prefix.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod accounts;
mod assistant;
mod attachments;
mod authorization;
mod bad_input;
mod connections;
mod friends;
mod invites;
mod load_shedding;
mod messages;
mod nginx;
mod openapi;
mod operations;
mod push;
mod realtime;
mod rooms;
mod tasks;
mod ws_origin;
