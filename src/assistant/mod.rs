//! The assistant: answers from the team's own chats and tasks, with citations, on local models.
//!
//! The model seams ([`Embedder`], [`Generator`]) and their backends live in the `flowly-models`
//! crate; this module builds the rest on them: the job queue, the worker, indexing, retrieval and
//! evaluation.

pub use flowly_models::{
    Embedder, GenerateKind, GenerateRequest, Generator, ModelError, Passage, embed, generate,
    models,
};

pub mod answer;
pub mod bench;
pub mod eval;
pub mod extract;
pub mod index;
pub mod queue;
pub mod retrieve;
pub mod worker;
