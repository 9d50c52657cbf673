//! Builds the configured backends from [`ModelSettings`]: [`embedder`] and [`generator`].
//!
//! Models load once here and are shared behind an `Arc`; a process builds each at startup. A
//! missing directory or file and an unknown backend or model name are
//! [`ModelError::NotAvailable`] with a message that names the path and the fix.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ollama_rs::Ollama;
use ollama_rs::error::OllamaError;

use crate::embed::{LocalEmbedder, OllamaEmbedder};
use crate::generate::{ExtractiveGenerator, LocalGenerator, OllamaGenerator};
use crate::{Embedder, Generator, ModelError};

/// Which backends to build and where their models are: the model part of the server's
/// `[assistant]` settings (the setting names in messages are those of `flowly.toml`).
#[derive(Debug, Clone)]
pub struct ModelSettings {
    /// Directory holding the embedded models.
    pub models_dir: String,
    /// `local` (all-MiniLM-L6-v2 through candle) or `ollama`.
    pub embedder: String,
    /// A directory under `models_dir` for `local`, a model name for `ollama`.
    pub embed_model: String,
    /// Vector length of an `ollama` embedding model; 0 learns it from the first answer.
    pub embed_dims: usize,
    /// `ollama`, `local` (a GGUF file under `models_dir`) or `none` (extractive answers).
    pub generator: String,
    /// A GGUF path under `models_dir` for `local`, a model name for `ollama`.
    pub generate_model: String,
    /// Where Ollama listens.
    pub ollama_url: String,
    /// Seconds one model call may take.
    pub model_timeout_secs: u64,
}

impl Default for ModelSettings {
    /// The embedded MiniLM and extractive answers, models under `.cache/models`.
    fn default() -> Self {
        ModelSettings {
            models_dir: ".cache/models".into(),
            embedder: "local".into(),
            embed_model: "all-minilm-l6-v2".into(),
            embed_dims: 0,
            generator: "none".into(),
            generate_model: "smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf".into(),
            ollama_url: "http://127.0.0.1:11434".into(),
            model_timeout_secs: 120,
        }
    }
}

/// The embedder `cfg.embedder` names: `local` (a model directory under `models_dir`) or `ollama`.
pub fn embedder(cfg: &ModelSettings) -> Result<Arc<dyn Embedder>, ModelError> {
    let timeout = Duration::from_secs(cfg.model_timeout_secs.max(1));
    match cfg.embedder.as_str() {
        "local" => {
            let dir = model_path(cfg, &cfg.embed_model, "assistant.embed_model")?;
            if !dir.is_dir() {
                return Err(ModelError::NotAvailable(format!(
                    "embedding model directory {} does not exist; run scripts/fetch-models.sh \
                     (it fills .cache/models) or set assistant.models_dir / assistant.embed_model",
                    dir.display()
                )));
            }
            Ok(Arc::new(LocalEmbedder::load(
                &dir,
                &cfg.embed_model,
                timeout,
            )?))
        }
        "ollama" => Ok(Arc::new(OllamaEmbedder::new(
            &cfg.ollama_url,
            &cfg.embed_model,
            cfg.embed_dims,
            timeout,
        )?)),
        other => Err(ModelError::NotAvailable(format!(
            "unknown assistant.embedder {other:?}; use \"local\" or \"ollama\""
        ))),
    }
}

/// The generator `cfg.generator` names: `ollama`, `local` (a GGUF file under `models_dir`) or
/// `none` (extractive answers, no language model).
pub fn generator(cfg: &ModelSettings) -> Result<Arc<dyn Generator>, ModelError> {
    let timeout = Duration::from_secs(cfg.model_timeout_secs.max(1));
    match cfg.generator.as_str() {
        "none" => Ok(Arc::new(ExtractiveGenerator::new())),
        "local" => {
            let path = model_path(cfg, &cfg.generate_model, "assistant.generate_model")?;
            Ok(Arc::new(LocalGenerator::load(&path, timeout)?))
        }
        "ollama" => Ok(Arc::new(OllamaGenerator::new(
            &cfg.ollama_url,
            &cfg.generate_model,
            timeout,
        )?)),
        other => Err(ModelError::NotAvailable(format!(
            "unknown assistant.generator {other:?}; use \"ollama\", \"local\" or \"none\""
        ))),
    }
}

/// `name` resolved under `models_dir`, which must exist. `name` must stay inside it.
pub(crate) fn model_path(
    cfg: &ModelSettings,
    name: &str,
    setting: &str,
) -> Result<PathBuf, ModelError> {
    let dir = Path::new(&cfg.models_dir);
    if !dir.is_dir() {
        return Err(ModelError::NotAvailable(format!(
            "models directory {} does not exist; run scripts/fetch-models.sh (it fills \
             .cache/models) or set assistant.models_dir",
            dir.display()
        )));
    }
    let relative = Path::new(name);
    let inside = !name.is_empty()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside {
        return Err(ModelError::NotAvailable(format!(
            "{setting} {name:?} must be a path inside assistant.models_dir"
        )));
    }
    Ok(dir.join(relative))
}

/// An ollama-rs client for `url` whose requests give up after `timeout` (connecting after at
/// most 5 s, so an unreachable server fails fast).
pub(crate) fn ollama_client(url: &str, timeout: Duration) -> Result<Ollama, ModelError> {
    let parsed = reqwest::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            ModelError::NotAvailable(format!(
                "assistant.ollama_url {url:?} is not an http(s) URL"
            ))
        })?;
    let http = reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .build()
        .map_err(|e| ModelError::Load(format!("http client: {e}")))?;
    Ok(Ollama::builder().url(parsed).reqwest_client(http).build())
}

/// Sorts an ollama-rs failure into a [`ModelError`]: transport problems are `Unreachable` or
/// `Timeout` (worth retrying), an error answer about the model is `NotAvailable`.
pub(crate) fn ollama_error(model: &str, e: OllamaError) -> ModelError {
    match e {
        OllamaError::ReqwestError(e) if e.is_timeout() => ModelError::Timeout,
        OllamaError::ReqwestError(e) => {
            ModelError::Unreachable(format!("ollama: {}", without_url(&e)))
        }
        OllamaError::Other(body)
        | OllamaError::InternalError(ollama_rs::error::InternalOllamaError { message: body }) => {
            let lower = body.to_lowercase();
            if lower.contains("not found") || lower.contains("pull") {
                ModelError::NotAvailable(format!(
                    "ollama has no model {model:?} ({}); pull it with `ollama pull {model}` or set \
                     the assistant model setting",
                    body.trim()
                ))
            } else {
                ModelError::Unreachable(format!("ollama answered with an error: {}", body.trim()))
            }
        }
        other => ModelError::Inference(format!("ollama: {other}")),
    }
}

/// A reqwest error's description and cause (the URL may carry credentials, so it is left out).
fn without_url(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_connect() {
        "cannot connect".to_string()
    } else if e.is_request() {
        "request failed".to_string()
    } else if e.is_decode() || e.is_body() {
        "bad answer".to_string()
    } else {
        "http error".to_string()
    };
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
