//! The Ollama backends against a small HTTP server in the test that speaks Ollama's
//! `/api/embed` and streaming `/api/chat` (Ollama itself cannot run here: no model registry is
//! reachable). It checks what ollama-rs sends and answers the way Ollama does.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use flowly_models::{GenerateKind, GenerateRequest, ModelError, Passage, models};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::helpers::{config, dot, strings};

/// What the fake server received, for the test to inspect.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Value>>>);

async fn embed(
    axum::extract::State(seen): axum::extract::State<Seen>,
    Json(body): Json<Value>,
) -> Response {
    seen.0.lock().expect("lock").push(body.clone());
    if body["model"] != "nomic-embed-text" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("model \"{}\" not found, try pulling it first", body["model"].as_str().unwrap_or(""))})),
        )
            .into_response();
    }
    let inputs: Vec<String> = serde_json::from_value(body["input"].clone()).expect("input list");
    // A deterministic, not yet normalised 8-dimensional vector per text.
    let embeddings: Vec<Vec<f32>> = inputs
        .iter()
        .map(|t| {
            let mut v = vec![1.0f32; 8];
            v[0] = t.len() as f32;
            v[1] = t.split_whitespace().count() as f32;
            v
        })
        .collect();
    Json(json!({"model": "nomic-embed-text", "embeddings": embeddings})).into_response()
}

async fn chat(
    axum::extract::State(seen): axum::extract::State<Seen>,
    Json(body): Json<Value>,
) -> Response {
    seen.0.lock().expect("lock").push(body.clone());
    if body["model"] != "llama3.2:1b" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "model \"x\" not found, try pulling it first"})),
        )
            .into_response();
    }
    // Newline-delimited JSON, one object per piece, the last one with done = true.
    let pieces = [
        "Bob runs",
        " the migration",
        " on Thursday [3]",
        ". Ça marche ✓",
        "",
    ];
    let mut lines = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        let done = i + 1 == pieces.len();
        let mut line = json!({
            "model": "llama3.2:1b",
            "created_at": "2026-11-25T01:00:00Z",
            "message": {"role": "assistant", "content": piece},
            "done": done,
        });
        if done {
            let extra = json!({"total_duration": 1, "load_duration": 1, "prompt_eval_count": 1,
                "prompt_eval_duration": 1, "eval_count": 4, "eval_duration": 1});
            for (k, v) in extra.as_object().expect("object") {
                line[k] = v.clone();
            }
        }
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from(lines))
        .expect("response")
}

/// Starts the fake Ollama on a free loopback port; returns its URL and what it saw.
async fn fake_ollama() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/api/embed", post(embed))
        .route("/api/chat", post(chat))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// A loopback URL where nothing listens (a port bound and released again).
async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

fn ollama_config(url: &str) -> flowly_models::ModelSettings {
    let mut cfg = config();
    cfg.embedder = "ollama".into();
    cfg.embed_model = "nomic-embed-text".into();
    cfg.generator = "ollama".into();
    cfg.generate_model = "llama3.2:1b".into();
    cfg.ollama_url = url.into();
    cfg.models_dir = "/nonexistent/not-needed-for-ollama".into();
    cfg
}

fn request() -> GenerateRequest {
    GenerateRequest {
        kind: GenerateKind::Answer,
        instruction: "Answer the question.".into(),
        question: "Who runs the migration?".into(),
        passages: vec![Passage {
            n: 3,
            label: "#release · bob".into(),
            text: "I will run the database migration on Thursday evening.".into(),
        }],
        max_tokens: 77,
    }
}

#[tokio::test]
async fn ollama_embeddings_learn_their_dimension_and_come_back_unit_length() {
    let (url, seen) = fake_ollama().await;
    let embedder = models::embedder(&ollama_config(&url)).expect("client");
    assert_eq!(embedder.model(), "nomic-embed-text");
    assert_eq!(embedder.dims(), 0, "unknown before the first answer");
    let texts = strings(&["deploy on friday", "lunch"]);
    let vectors = embedder.embed(&texts).await.expect("embed");
    assert_eq!(embedder.dims(), 8);
    assert_eq!(vectors.len(), 2);
    for v in &vectors {
        assert!((dot(v, v).sqrt() - 1.0).abs() < 1e-5);
    }
    let sent = seen.0.lock().expect("lock").clone();
    assert_eq!(sent[0]["input"], json!(["deploy on friday", "lunch"]));
}

#[tokio::test]
async fn an_ollama_embedding_of_another_length_than_configured_is_refused() {
    let (url, _) = fake_ollama().await;
    let mut cfg = ollama_config(&url);
    cfg.embed_dims = 384;
    let embedder = models::embedder(&cfg).expect("client");
    assert_eq!(embedder.dims(), 384);
    let result = embedder.embed(&strings(&["hello"])).await;
    match result {
        Err(ModelError::Load(msg)) => assert!(msg.contains("384"), "{msg}"),
        other => panic!("expected a dimension error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_ollama_model_that_is_not_pulled_is_not_available() {
    let (url, _) = fake_ollama().await;
    let mut cfg = ollama_config(&url);
    cfg.embed_model = "no-such-embedder".into();
    cfg.generate_model = "no-such-chat".into();
    let embedder = models::embedder(&cfg).expect("client");
    match embedder.embed(&strings(&["x"])).await {
        Err(ModelError::NotAvailable(msg)) => assert!(msg.contains("ollama pull"), "{msg}"),
        other => panic!("expected NotAvailable, got {other:?}"),
    }
    let generator = models::generator(&cfg).expect("client");
    let (tx, _rx) = mpsc::channel(16);
    match generator.generate(&request(), tx).await {
        Err(ModelError::NotAvailable(msg)) => assert!(msg.contains("no-such-chat"), "{msg}"),
        other => panic!("expected NotAvailable, got {other:?}"),
    }
}

#[tokio::test]
async fn ollama_chat_streams_its_pieces_and_sends_the_passages_and_limits() {
    let (url, seen) = fake_ollama().await;
    let generator = models::generator(&ollama_config(&url)).expect("client");
    assert_eq!(generator.name(), "ollama:llama3.2:1b");
    let (tx, mut rx) = mpsc::channel(2);
    let collect = tokio::spawn(async move {
        let mut pieces = Vec::new();
        while let Some(p) = rx.recv().await {
            pieces.push(p);
        }
        pieces
    });
    let answer = generator.generate(&request(), tx).await.expect("answer");
    let pieces = collect.await.expect("collect");
    assert_eq!(
        answer,
        "Bob runs the migration on Thursday [3]. Ça marche ✓"
    );
    assert_eq!(pieces.concat(), answer);
    assert_eq!(pieces.len(), 4);

    let sent = seen.0.lock().expect("lock").clone();
    let body = &sent[0];
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["options"]["num_predict"], json!(77));
    assert_eq!(body["options"]["temperature"], json!(0.0));
    assert_eq!(body["messages"][0]["role"], json!("system"));
    let user = body["messages"][1]["content"]
        .as_str()
        .expect("user message");
    assert!(
        user.contains("[3] #release · bob: I will run the database migration"),
        "{user}"
    );
    assert!(user.contains("Question: Who runs the migration?"), "{user}");
}

#[tokio::test]
async fn ollama_unreachable_is_reported_as_unreachable_and_transient() {
    let url = closed_port_url().await;
    let cfg = ollama_config(&url);
    let embedder = models::embedder(&cfg).expect("client");
    let err = embedder
        .embed(&strings(&["x"]))
        .await
        .expect_err("no server");
    assert!(matches!(err, ModelError::Unreachable(_)), "{err}");
    assert!(err.is_transient());
    let generator = models::generator(&cfg).expect("client");
    let (tx, _rx) = mpsc::channel(16);
    let err = generator
        .generate(&request(), tx)
        .await
        .expect_err("no server");
    assert!(matches!(err, ModelError::Unreachable(_)), "{err}");
}

#[test]
fn a_malformed_ollama_url_is_not_available() {
    let cfg = ollama_config("not a url");
    match models::embedder(&cfg) {
        Err(ModelError::NotAvailable(msg)) => assert!(msg.contains("ollama_url"), "{msg}"),
        other => panic!("expected NotAvailable, got {:?}", other.err()),
    }
}
