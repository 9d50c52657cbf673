//! Flowly's model backends, apart from the server so that the heavy ML dependencies (candle,
//! tokenizers, ollama-rs) build once and the server's own edits never rebuild them.
//!
//! Two seams, each a trait with several backends chosen by [`ModelSettings`]:
//! an [`Embedder`] turns texts into vectors for `knowledge_chunks`, and a [`Generator`] writes an
//! answer from numbered passages, streaming it as it goes. Everything else (the job queue, the
//! worker, indexing, retrieval, the API, in the `flowly` crate) is built on these two.

use async_trait::async_trait;
use tokio::sync::mpsc;

pub mod embed;
pub mod generate;
pub mod models;
pub mod text;

pub use models::ModelSettings;

/// What can go wrong in a model call. Each variant says whether retrying can help.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The configuration names something that does not exist (a model directory or file, an
    /// unknown backend). Retrying does not help; the admin must fix the config.
    #[error("model not available: {0}")]
    NotAvailable(String),
    /// The model files exist but cannot be loaded or are inconsistent.
    #[error("model cannot be loaded: {0}")]
    Load(String),
    /// A remote backend (Ollama) cannot be reached or answered with an error. Retrying may help.
    #[error("model backend unreachable: {0}")]
    Unreachable(String),
    /// The call took longer than `assistant.model_timeout_secs`. Retrying may help.
    #[error("model call timed out")]
    Timeout,
    /// The input cannot be processed (for example empty).
    #[error("invalid model input: {0}")]
    Input(String),
    /// Inference itself failed.
    #[error("model failed: {0}")]
    Inference(String),
}

impl ModelError {
    /// Whether a later attempt of the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ModelError::Unreachable(_) | ModelError::Timeout)
    }
}

/// Turns texts into vectors of a fixed dimension (normalised to unit length, so cosine distance
/// is meaningful).
#[async_trait]
pub trait Embedder: Send + Sync {
    /// Names the model as recorded with every chunk (e.g. `all-minilm-l6-v2`); a chunk embedded
    /// by another model is stale and gets reindexed.
    fn model(&self) -> &str;
    /// Length of every vector this embedder returns.
    fn dims(&self) -> usize;
    /// One vector per text, in order. Heavy work runs off the async runtime.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError>;
}

/// One numbered source handed to a generator; answers cite it as `[n]`.
#[derive(Debug, Clone)]
pub struct Passage {
    /// 1-based number used in citations.
    pub n: usize,
    /// A short label for the prompt, e.g. `#design · alice · 2026-11-20` or `task: Ship v2`.
    pub label: String,
    pub text: String,
}

/// What a generated text is for. Language models follow the instruction; the extractive
/// generator, which has none, picks its sentences differently for each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GenerateKind {
    /// Answer the question from the passages that match it best.
    #[default]
    Answer,
    /// Summarise the passages (a room's messages, oldest first) as a whole.
    Summary,
}

/// What to write: an instruction (answer, summarise...), the user's question or request, and
/// the passages it must be built from.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    pub kind: GenerateKind,
    pub instruction: String,
    pub question: String,
    pub passages: Vec<Passage>,
    pub max_tokens: usize,
}

impl GenerateRequest {
    /// Refuses a request with neither a question nor passages: there is nothing to write from.
    pub fn check(&self) -> Result<(), ModelError> {
        if self.question.trim().is_empty() && self.passages.is_empty() {
            return Err(ModelError::Input("nothing to answer".into()));
        }
        Ok(())
    }
}

/// Writes an answer from passages, citing them as `[n]`.
#[async_trait]
pub trait Generator: Send + Sync {
    /// Names the backend and model, recorded with each answer (e.g. `local:SmolLM2-135M…`).
    fn name(&self) -> &str;
    /// Generates the answer. Every piece of text is also sent on `deltas` as soon as it exists
    /// (a closed receiver is not an error: the answer is still completed and returned).
    async fn generate(
        &self,
        request: &GenerateRequest,
        deltas: mpsc::Sender<String>,
    ) -> Result<String, ModelError>;
}
