//! Generation speed of the embedded SmolLM2 model: one answer from five chat passages, timed.
//!
//! `cargo run --release -p flowly-models --example generate_bench [-- MODELS_DIR [MAX_TOKENS]]`
//! (run under `flock /tmp/flowly-bench.lock` so no other measurement overlaps).
//! `FLOWLY_BENCH_WEIGHTS=quantized` keeps the Q4_1 weights instead of expanding them to f32.

use std::time::Instant;

use flowly_models::generate::{LocalGenerator, Weights};
use flowly_models::{GenerateKind, GenerateRequest, Generator, Passage};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| ".cache/models".into());
    let max_tokens: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(128);
    let path =
        std::path::Path::new(&dir).join("smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    let started = Instant::now();
    let weights = match std::env::var("FLOWLY_BENCH_WEIGHTS").as_deref() {
        Ok("quantized") => Weights::Quantized,
        _ => Weights::F32,
    };
    let generator = LocalGenerator::load_with(&path, std::time::Duration::from_secs(600), weights)?;
    println!(
        "weights {weights:?}, load: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let passages = [
        (
            "#release · alice · 2026-11-20",
            "We agreed to ship version 2.4 on Friday after the smoke tests pass on staging.",
        ),
        (
            "#release · bob · 2026-11-20",
            "I will run the database migration on Thursday evening, it takes about twenty minutes.",
        ),
        (
            "task: Update the changelog",
            "Carol owns the changelog; it must list the new export feature and the login fix.",
        ),
        (
            "#general · dave · 2026-11-19",
            "Lunch on Thursday is at the Thai place around the corner.",
        ),
        (
            "#release · carol · 2026-11-21",
            "Staging is green since this morning, only the export tests were flaky.",
        ),
    ];
    let request = GenerateRequest {
        kind: GenerateKind::Answer,
        instruction: "Answer the question.".into(),
        question: "When do we ship version 2.4 and who runs the migration?".into(),
        passages: passages
            .iter()
            .enumerate()
            .map(|(i, (label, text))| Passage {
                n: i + 1,
                label: label.to_string(),
                text: text.to_string(),
            })
            .collect(),
        max_tokens,
    };
    let prompt_tokens = generator.count_tokens(&generator.prompt(&request))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let started = Instant::now();
    let first = tokio::spawn(async move {
        let mut first = None;
        let mut pieces = 0usize;
        while rx.recv().await.is_some() {
            first.get_or_insert(started.elapsed());
            pieces += 1;
        }
        (first, pieces)
    });
    let answer = generator.generate(&request, tx).await?;
    let total = started.elapsed();
    let (first, pieces) = first.await?;
    let tokens = generator.count_tokens(&answer)?;
    println!(
        "prompt: {prompt_tokens} tokens; first piece after {:.2} s",
        first.unwrap_or_default().as_secs_f64()
    );
    println!(
        "answer: {tokens} tokens in {pieces} pieces, {:.2} s total, {:.1} tokens/s overall",
        total.as_secs_f64(),
        tokens as f64 / total.as_secs_f64()
    );
    if let Some(first) = first {
        let decode = (total - first).as_secs_f64();
        if tokens > 1 && decode > 0.0 {
            println!(
                "decode: {:.1} tokens/s after the first piece",
                (tokens - 1) as f64 / decode
            );
        }
    }
    println!("---\n{answer}");
    Ok(())
}
