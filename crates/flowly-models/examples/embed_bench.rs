//! Embedding throughput of the embedded all-MiniLM-L6-v2: chat-sized chunks per second.
//!
//! `cargo run --release -p flowly-models --example embed_bench [-- MODELS_DIR CHUNKS BATCH...]`
//! Defaults: `.cache/models`, 512 chunks, batch sizes 1 4 8 16 32 64. The chunks are generated
//! chat messages of 20-60 words (seeded, so every run embeds the same texts). Run it under
//! `flock /tmp/flowly-bench.lock` so no other measurement overlaps; `RAYON_NUM_THREADS` sets
//! the threads candle uses.

use std::time::{Duration, Instant};

use flowly_models::Embedder;
use flowly_models::embed::LocalEmbedder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const WORDS: &[&str] = &[
    "the",
    "deploy",
    "is",
    "blocked",
    "on",
    "review",
    "can",
    "someone",
    "look",
    "at",
    "migration",
    "script",
    "before",
    "friday",
    "I",
    "pushed",
    "a",
    "fix",
    "for",
    "login",
    "bug",
    "tests",
    "are",
    "green",
    "now",
    "staging",
    "database",
    "we",
    "should",
    "ship",
    "release",
    "notes",
    "customer",
    "reported",
    "export",
    "fails",
    "with",
    "large",
    "files",
    "let's",
    "discuss",
    "tomorrow",
    "standup",
    "design",
    "mockups",
    "ready",
    "in",
    "figma",
    "please",
    "update",
    "task",
    "board",
    "assign",
    "alice",
    "bob",
    "carol",
    "meeting",
    "moved",
    "to",
    "3pm",
    "budget",
    "approved",
    "invoice",
    "sent",
    "onboarding",
    "doc",
    "needs",
    "owner",
    "and",
    "it",
    "has",
    "been",
    "slow",
    "since",
    "yesterday",
    "because",
    "of",
    "cache",
    "misses",
    "after",
    "upgrade",
];

fn message(rng: &mut StdRng) -> String {
    let words = rng.gen_range(20..=60);
    let mut text: Vec<&str> = (0..words)
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect();
    text.push("?");
    text.join(" ")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| ".cache/models".into());
    let chunks: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(512);
    let mut batches: Vec<usize> = args.map(|s| s.parse()).collect::<Result<_, _>>()?;
    if batches.is_empty() {
        batches = vec![1, 4, 8, 16, 32, 64];
    }
    let path = std::path::Path::new(&dir).join("all-minilm-l6-v2");
    let mut rng = StdRng::seed_from_u64(7);
    let texts: Vec<String> = (0..chunks).map(|_| message(&mut rng)).collect();
    let words: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    println!(
        "{chunks} chunks, {:.1} words each on average; threads: {}",
        words as f64 / chunks as f64,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into())
    );
    for batch in batches {
        let embedder = LocalEmbedder::load(&path, "all-minilm-l6-v2", Duration::from_secs(3600))?
            .with_batch_size(batch);
        // Warm up (first allocations), then one timed pass over all chunks in one call, the way
        // the indexer hands over a backlog.
        embedder.embed(&texts[..batch.min(chunks)]).await?;
        let started = Instant::now();
        let vectors = embedder.embed(&texts).await?;
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(vectors.len(), chunks);
        println!(
            "batch {batch:>3}: {:>7.1} chunks/s ({:.2} s)",
            chunks as f64 / elapsed,
            elapsed
        );
    }
    Ok(())
}
