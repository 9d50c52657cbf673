//! `flowlyctl`: the admin's one tool for a Flowly appliance.
//!
//! It installs, starts and stops the appliance, shows its status, follows its logs, backs it up
//! and restores it, upgrades it and scales its app nodes. It talks to the system only through
//! public interfaces, as an admin's tool should: the Docker API (bollard), Docker Compose (which
//! reads `compose/docker-compose.yml`), the `flowly` CLI inside the app container, HTTPS and
//! files. It never links the server crate, so the compiler keeps it from reaching into the
//! server's internals.

mod appliance;
mod backup;
pub mod cli;
mod compose;
mod engine;
mod home;
mod images;
mod install;
mod logs;
mod ops;
mod preflight;
mod status;
mod tls;
mod ui;
mod upgrade;
