//! Embeddings from an Ollama server (`/api/embed`) through ollama-rs.
//!
//! The vector length is whatever the model returns: taken from `assistant.embed_dims` when set,
//! otherwise learned from the first answer (until then [`Embedder::dims`] is 0). An answer of
//! another length than the known one is refused rather than stored.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use ollama_rs::Ollama;
use ollama_rs::generation::embeddings::request::{EmbeddingsInput, GenerateEmbeddingsRequest};

use crate::models::{ollama_client, ollama_error};
use crate::{Embedder, ModelError};

/// An embedding model served by Ollama.
pub struct OllamaEmbedder {
    client: Ollama,
    model: String,
    dims: AtomicUsize,
}

impl OllamaEmbedder {
    /// A client for `model` at `url` (nothing is contacted yet). `dims` 0 means "learn it from
    /// the first answer"; every call is bounded by `timeout`.
    pub fn new(
        url: &str,
        model: &str,
        dims: usize,
        timeout: Duration,
    ) -> Result<OllamaEmbedder, ModelError> {
        Ok(OllamaEmbedder {
            client: ollama_client(url, timeout)?,
            model: model.to_string(),
            dims: AtomicUsize::new(dims),
        })
    }
}

#[async_trait]
impl Embedder for OllamaEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    fn dims(&self) -> usize {
        self.dims.load(Ordering::Relaxed)
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let request = GenerateEmbeddingsRequest::new(
            self.model.clone(),
            EmbeddingsInput::Multiple(texts.to_vec()),
        )
        .truncate(true);
        let response = self
            .client
            .generate_embeddings(request)
            .await
            .map_err(|e| ollama_error(&self.model, e))?;
        let vectors = response.embeddings;
        if vectors.len() != texts.len() {
            return Err(ModelError::Inference(format!(
                "ollama returned {} embeddings for {} texts",
                vectors.len(),
                texts.len()
            )));
        }
        let len = vectors[0].len();
        if len == 0 || vectors.iter().any(|v| v.len() != len) {
            return Err(ModelError::Inference(
                "ollama returned embeddings of uneven or zero length".into(),
            ));
        }
        match self
            .dims
            .compare_exchange(0, len, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => {}
            Err(known) if known == len => {}
            Err(known) => {
                return Err(ModelError::Load(format!(
                    "ollama model {} returns {len}-dimensional embeddings, expected {known} \
                     (assistant.embed_dims)",
                    self.model
                )));
            }
        }
        // Ollama normalises already for most models; make it certain so cosine works.
        Ok(vectors.into_iter().map(normalised).collect())
    }
}

/// `v` scaled to unit length (a zero vector stays zero).
pub(crate) fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}
