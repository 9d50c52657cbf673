//! Real third-party Loki clients push to LogPilot: winston-loki (Node.js, snappy-compressed
//! protobuf) and python-logging-loki (Python, JSON), with basic auth. They are installed by
//! `scripts/test.sh`, which runs these tests with `--run-ignored only` and tells them where the
//! clients are (`LOGPILOT_CLIENTS_DIR`: this directory's `clients/` with its `node_modules`;
//! `LOGPILOT_PYTHONPATH`: where pip put python-logging-loki).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{path::PathBuf, process::Command, time::Duration};

use logpilot::{ApiKey, Config, FsyncPolicy, Role};
use serde_json::Value;

const PRODUCER: &str = "third-party-producer";
const READER: &str = "third-party-reader";

async fn broker() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.fsync = FsyncPolicy::Always;
    config.keys = vec![
        ApiKey {
            name: "shipper".into(),
            role: Role::Producer,
            key: PRODUCER.into(),
        },
        ApiKey {
            name: "grafana".into(),
            role: Role::Reader,
            key: READER.into(),
        },
    ];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(logpilot::serve(config, listener, std::future::pending()));
    (url, dir)
}

fn clients_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("LOGPILOT_CLIENTS_DIR")
            .expect("run through scripts/test.sh (LOGPILOT_CLIENTS_DIR)"),
    )
}

/// Every line of `selector` in the last hour, oldest first, with its stream's labels.
async fn lines(url: &str, selector: &str) -> Vec<(Value, String)> {
    let body: Value = reqwest::Client::new()
        .get(format!("{url}/loki/api/v1/query_range"))
        .basic_auth("grafana", Some(READER))
        .query(&[
            ("query", selector),
            ("limit", "1000"),
            ("direction", "forward"),
            ("since", "1h"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "success", "{body}");
    let mut out: Vec<(i64, Value, String)> = Vec::new();
    for stream in body["data"]["result"].as_array().unwrap() {
        for v in stream["values"].as_array().unwrap() {
            out.push((
                v[0].as_str().unwrap().parse().unwrap(),
                stream["stream"].clone(),
                v[1].as_str().unwrap().to_owned(),
            ));
        }
    }
    out.sort_by_key(|e| e.0);
    out.into_iter().map(|(_, s, l)| (s, l)).collect()
}

fn run(program: &str, args: &[&str], env: &[(&str, String)]) {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(clients_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs winston-loki from npm: run through scripts/test.sh"]
async fn winston_loki_pushes_snappy_protobuf_that_reads_back_through_the_loki_api() {
    let (url, _dir) = broker().await;
    let u = url.clone();
    tokio::task::spawn_blocking(move || run("node", &["push_winston.js", &u, PRODUCER, "20"], &[]))
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..50 {
        got = lines(&url, r#"{service="winston-app"}"#).await;
        if got.len() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let texts: Vec<&str> = got.iter().map(|(_, l)| l.as_str()).collect();
    for i in 0..20 {
        assert_eq!(
            texts
                .iter()
                .filter(|l| l.starts_with(&format!("winston line {i} ")))
                .count(),
            1,
            "{texts:?}"
        );
    }
    assert_eq!(got.len(), 20);
    assert!(
        got.iter()
            .all(|(s, _)| s["node"] == "js1" && s["service"] == "winston-app")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python-logging-loki from PyPI: run through scripts/test.sh"]
async fn python_logging_loki_pushes_json_that_reads_back_through_the_loki_api() {
    let (url, _dir) = broker().await;
    let u = url.clone();
    let pythonpath = std::env::var("LOGPILOT_PYTHONPATH")
        .expect("run through scripts/test.sh (LOGPILOT_PYTHONPATH)");
    tokio::task::spawn_blocking(move || {
        run(
            "python3",
            &["push_python.py", &u, PRODUCER, "20"],
            &[("PYTHONPATH", pythonpath)],
        )
    })
    .await
    .unwrap();
    let got = lines(&url, r#"{service="python-app"}"#).await;
    let texts: Vec<&str> = got.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(
        texts,
        (0..20)
            .map(|i| format!("python line {i}"))
            .collect::<Vec<_>>()
    );
    assert!(
        got.iter()
            .all(|(s, _)| s["node"] == "py1" && s["kind"] == "test" && s["severity"] == "error"),
        "{got:?}"
    );
}
