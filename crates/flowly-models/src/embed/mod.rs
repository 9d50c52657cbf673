//! The [`Embedder`](crate::Embedder) backends: the embedded all-MiniLM-L6-v2
//! ([`LocalEmbedder`], the default) and Ollama ([`OllamaEmbedder`]).

mod local;
mod ollama;

pub use local::{BATCH_SIZE, LocalEmbedder, MAX_TOKENS};
pub use ollama::OllamaEmbedder;
