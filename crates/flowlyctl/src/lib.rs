//! `flowlyctl`: the admin's one tool for a Flowly appliance.
//!
//! It will install, start and stop the appliance, show its status, follow its logs (from
//! LogPilot), back it up and restore it, upgrade it and scale its app nodes. It talks to the
//! system only through public interfaces, as an admin's tool should: the Docker API (bollard),
//! the HTTP API, LogPilot and files. It never links the server crate, so the compiler keeps it
//! from reaching into the server's internals.
//!
//! This crate is started by the architecture change (issue 10) so that the appliance work has a
//! home; its commands arrive with the appliance issue.
