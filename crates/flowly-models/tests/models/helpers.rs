//! Shared setup: the configuration pointing at the fetched models.

use std::path::PathBuf;

use flowly_models::ModelSettings;

/// `.cache/models` of this checkout (two levels above this crate), where
/// `scripts/fetch-models.sh` puts the models.
pub fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/models")
}

/// The default assistant settings with `models_dir` set to [`models_dir`].
pub fn config() -> ModelSettings {
    ModelSettings {
        models_dir: models_dir().display().to_string(),
        ..ModelSettings::default()
    }
}

/// Cosine similarity of two unit vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn strings(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| t.to_string()).collect()
}
