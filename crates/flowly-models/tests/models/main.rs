//! The assistant's model backends against the REAL models that `scripts/fetch-models.sh` puts
//! in `.cache/models` (scripts/test.sh runs it first), and the Ollama backends against a small
//! in-test HTTP server speaking Ollama's API: Ollama itself cannot run on this machine (no model
//! registry is reachable), so that server is the one fake, standing in for a remote service.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod embed;
mod generate;
mod helpers;
mod ollama;
