//! all-MiniLM-L6-v2 run in-process through candle: the default embedder, needing no service.
//!
//! Texts are tokenised with the model's own `tokenizer.json`, truncated to
//! [`MAX_TOKENS`] word pieces, padded per batch with an attention mask, run through the BERT
//! encoder, mean-pooled over the real tokens and L2-normalised. Inference runs on tokio's
//! blocking pool, one batch set at a time (parallel calls would only fight over the same cores:
//! candle already spreads one matrix product over all of them).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};
use tokio::sync::Semaphore;

use crate::{Embedder, ModelError};

/// Word pieces kept per text (the model was trained on 256; chat messages rarely reach it).
pub const MAX_TOKENS: usize = 256;
/// Texts per forward pass. Measured with `examples/embed_bench.rs` on 2 cores, 42-word chat
/// messages (sorted by length first, so little is padded): 61 chunks/s one by one, 79 in eights,
/// 81-85 for 16, 32 and 64 alike; 32 keeps the attention matrices small.
pub const BATCH_SIZE: usize = 32;

/// The embedded sentence-transformer. Cheap to share: clone the `Arc` it is built into.
pub struct LocalEmbedder {
    name: String,
    inner: Arc<Inner>,
    /// One inference at a time (see the module comment); held by the blocking task itself, so a
    /// call that timed out still keeps the next one waiting until its work is done.
    gate: Arc<Semaphore>,
    timeout: Duration,
}

struct Inner {
    model: BertModel,
    tokenizer: Tokenizer,
    dims: usize,
    batch_size: usize,
}

fn load_err(path: &Path, e: impl std::fmt::Display) -> ModelError {
    ModelError::Load(format!("{}: {e}", path.display()))
}

impl LocalEmbedder {
    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `dir`, naming the model
    /// `name` (recorded with every chunk). Missing files are [`ModelError::NotAvailable`].
    pub fn load(dir: &Path, name: &str, timeout: Duration) -> Result<LocalEmbedder, ModelError> {
        let config_path = dir.join("config.json");
        let weights_path = dir.join("model.safetensors");
        let tokenizer_path = dir.join("tokenizer.json");
        for path in [&config_path, &weights_path, &tokenizer_path] {
            if !path.is_file() {
                return Err(ModelError::NotAvailable(format!(
                    "embedding model file {} is missing; run scripts/fetch-models.sh or set \
                     assistant.models_dir / assistant.embed_model",
                    path.display()
                )));
            }
        }
        let config_text =
            std::fs::read_to_string(&config_path).map_err(|e| load_err(&config_path, e))?;
        let config: BertConfig =
            serde_json::from_str(&config_text).map_err(|e| load_err(&config_path, e))?;
        let dims = config.hidden_size;
        let device = Device::Cpu;
        // SAFETY-free path: the safetensors file is read into memory, not mapped.
        let weights = std::fs::read(&weights_path).map_err(|e| load_err(&weights_path, e))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| load_err(&weights_path, e))?;
        let model = BertModel::load(vb, &config).map_err(|e| load_err(&weights_path, e))?;

        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| load_err(&tokenizer_path, e))?;
        let max_tokens = MAX_TOKENS.min(config.max_position_embeddings);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| load_err(&tokenizer_path, e))?;
        let pad_id = tokenizer.token_to_id("[PAD]").unwrap_or(0);
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token: "[PAD]".into(),
            ..Default::default()
        }));
        Ok(LocalEmbedder {
            name: name.to_string(),
            inner: Arc::new(Inner {
                model,
                tokenizer,
                dims,
                batch_size: BATCH_SIZE,
            }),
            gate: Arc::new(Semaphore::new(1)),
            timeout,
        })
    }

    /// Texts per forward pass (default [`BATCH_SIZE`]); for benchmarks.
    pub fn with_batch_size(mut self, batch_size: usize) -> LocalEmbedder {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.batch_size = batch_size.max(1);
        }
        self
    }
}

impl Inner {
    /// Embeds all texts, batching texts of similar length together so little is padded.
    fn embed_all(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(self.batch_size) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
            let vectors = self.embed_batch(batch)?;
            for (&i, v) in chunk.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn embed_batch(&self, batch: Vec<&str>) -> Result<Vec<Vec<f32>>, ModelError> {
        let inference = |e: candle_core::Error| ModelError::Inference(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch_fast(batch, true)
            .map_err(|e| ModelError::Inference(format!("tokenizer: {e}")))?;
        let rows = encodings.len();
        let cols = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(rows * cols);
        let mut mask = Vec::with_capacity(rows * cols);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let device = &self.model.device;
        let ids = Tensor::from_vec(ids, (rows, cols), device).map_err(inference)?;
        let mask = Tensor::from_vec(mask, (rows, cols), device).map_err(inference)?;
        let type_ids = ids.zeros_like().map_err(inference)?;
        let hidden = self
            .model
            .forward(&ids, &type_ids, Some(&mask))
            .map_err(inference)?; // (rows, cols, dims)
        // Mean over the real tokens only, then unit length.
        let mask = mask
            .to_dtype(DType::F32)
            .and_then(|m| m.unsqueeze(2))
            .map_err(inference)?; // (rows, cols, 1)
        let summed = hidden
            .broadcast_mul(&mask)
            .and_then(|h| h.sum(1))
            .map_err(inference)?; // (rows, dims)
        let counts = mask.sum(1).map_err(inference)?; // (rows, 1)
        let mean = summed.broadcast_div(&counts).map_err(inference)?;
        let norm = mean
            .sqr()
            .and_then(|s| s.sum_keepdim(1))
            .and_then(|s| s.sqrt())
            .and_then(|n| n.clamp(1e-12, f32::MAX))
            .map_err(inference)?;
        let unit = mean.broadcast_div(&norm).map_err(inference)?;
        unit.to_vec2::<f32>().map_err(inference)
    }
}

#[async_trait]
impl Embedder for LocalEmbedder {
    fn model(&self) -> &str {
        &self.name
    }

    fn dims(&self) -> usize {
        self.inner.dims
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inner = Arc::clone(&self.inner);
        let gate = Arc::clone(&self.gate);
        let texts = texts.to_vec();
        let job = async move {
            let permit = gate
                .acquire_owned()
                .await
                .map_err(|_| ModelError::Inference("embedder closed".into()))?;
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                inner.embed_all(&texts)
            })
            .await
            .map_err(|join| ModelError::Inference(format!("embedding task failed: {join}")))?
        };
        tokio::time::timeout(self.timeout, job)
            .await
            .map_err(|_| ModelError::Timeout)?
    }
}
