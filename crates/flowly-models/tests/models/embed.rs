//! The embedded all-MiniLM-L6-v2 embedder and the embedder factory's errors.

use flowly_models::ModelError;
use flowly_models::models;

use crate::helpers::{config, dot, strings};

#[tokio::test]
async fn local_embeddings_are_384_dimensional_unit_vectors() {
    let embedder = models::embedder(&config()).expect("load the local embedder");
    assert_eq!(embedder.model(), "all-minilm-l6-v2");
    assert_eq!(embedder.dims(), 384);
    let texts = strings(&[
        "Can someone review the deploy script before Friday?",
        "",
        "ok",
        "Über café naïve résumé — 日本語のテキスト 🚀",
    ]);
    let vectors = embedder.embed(&texts).await.expect("embed");
    assert_eq!(vectors.len(), texts.len());
    for v in &vectors {
        assert_eq!(v.len(), 384);
        let norm = dot(v, v).sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    assert!(embedder.embed(&[]).await.expect("no texts").is_empty());
}

#[tokio::test]
async fn similar_sentences_are_closer_than_unrelated_ones() {
    let embedder = models::embedder(&config()).expect("load");
    let texts = strings(&[
        "The database migration failed during the nightly deploy",
        "Last night's deployment broke because the schema migration errored",
        "Who wants pizza for the team lunch on Thursday?",
    ]);
    let v = embedder.embed(&texts).await.expect("embed");
    let similar = dot(&v[0], &v[1]);
    let unrelated = dot(&v[0], &v[2]);
    assert!(
        similar > unrelated + 0.2,
        "similar {similar} unrelated {unrelated}"
    );
}

#[tokio::test]
async fn a_batch_gives_the_same_vectors_as_one_by_one() {
    let embedder = models::embedder(&config()).expect("load");
    // Lengths differ a lot, so the batch pads the short ones.
    let mut texts = strings(&[
        "short",
        "The release checklist: bump the version, tag, build the appliance image, run the \
         smoke tests on the staging box, then announce it in #general with the changelog.",
        "Alice will own the onboarding doc",
    ]);
    // More than one batch, in an order unlike the length order.
    for i in 0..40 {
        texts.push(format!("message number {i} about task {}", i * 7));
    }
    let batched = embedder.embed(&texts).await.expect("batch");
    for (text, expected) in texts.iter().zip(&batched) {
        let single = embedder
            .embed(std::slice::from_ref(text))
            .await
            .expect("one");
        let diff = single[0]
            .iter()
            .zip(expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "{text:?} differs by {diff}");
    }
}

#[tokio::test]
async fn a_text_longer_than_the_model_limit_is_truncated_not_refused() {
    let embedder = models::embedder(&config()).expect("load");
    let long = "word ".repeat(5_000);
    let v = embedder.embed(&[long]).await.expect("embed long text");
    assert_eq!(v[0].len(), 384);
}

#[test]
fn a_missing_models_directory_names_the_path_and_the_fetch_script() {
    let mut cfg = config();
    cfg.models_dir = "/nonexistent/flowly-models".into();
    match models::embedder(&cfg) {
        Err(ModelError::NotAvailable(msg)) => {
            assert!(msg.contains("/nonexistent/flowly-models"), "{msg}");
            assert!(msg.contains("scripts/fetch-models.sh"), "{msg}");
        }
        Err(other) => panic!("expected NotAvailable, got {other}"),
        Ok(_) => panic!("expected NotAvailable, got an embedder"),
    }
}

#[test]
fn an_unknown_embedding_model_or_backend_is_not_available() {
    let mut cfg = config();
    cfg.embed_model = "no-such-model".into();
    match models::embedder(&cfg) {
        Err(ModelError::NotAvailable(msg)) => {
            assert!(msg.contains("no-such-model"), "{msg}");
            assert!(msg.contains("scripts/fetch-models.sh"), "{msg}");
        }
        Err(other) => panic!("expected NotAvailable, got {other}"),
        Ok(_) => panic!("expected NotAvailable"),
    }
    let mut cfg = config();
    cfg.embed_model = "../../etc".into();
    assert!(matches!(
        models::embedder(&cfg),
        Err(ModelError::NotAvailable(_))
    ));
    let mut cfg = config();
    cfg.embedder = "openai".into();
    match models::embedder(&cfg) {
        Err(ModelError::NotAvailable(msg)) => assert!(msg.contains("openai"), "{msg}"),
        Err(other) => panic!("expected NotAvailable, got {other}"),
        Ok(_) => panic!("expected NotAvailable"),
    }
}
