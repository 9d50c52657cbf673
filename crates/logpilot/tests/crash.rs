//! Crash safety with real processes: the broker killed with SIGKILL under load, and a shipping
//! producer killed with SIGKILL mid-stream. Afterwards every event sent is stored exactly once
//! and no record is torn.
//!
//! The child processes are this test binary run again on the ignored test `child_process`,
//! which plays the role named in `LOGPILOT_TEST_CHILD`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use logpilot::{Config, FsyncPolicy, ship};
use serde_json::{Value, json};

fn spawn_child(role: &str, env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_process",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("LOGPILOT_TEST_CHILD", role)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// The role of a child process; not a test of its own.
#[test]
#[ignore = "run by the crash tests as a child process"]
fn child_process() {
    let var = |k: &str| std::env::var(k).unwrap();
    match var("LOGPILOT_TEST_CHILD").as_str() {
        "broker" => {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async {
                let mut config = Config::new(var("LOGPILOT_TEST_DIR"));
                config.fsync = FsyncPolicy::Every(Duration::from_millis(50));
                config.segment_bytes = 256 * 1024;
                config.rate_per_sec = 1e9;
                config.rate_burst = 1e9;
                let listener = tokio::net::TcpListener::bind(var("LOGPILOT_TEST_ADDR"))
                    .await
                    .unwrap();
                println!("listening");
                logpilot::serve(config, listener, std::future::pending())
                    .await
                    .unwrap();
            });
        }
        "producer" => {
            use tracing_subscriber::prelude::*;
            let mut config =
                ship::ShipConfig::new(&var("LOGPILOT_TEST_URL"), "app", var("LOGPILOT_TEST_SPOOL"));
            config.batch_events = 37;
            let (layer, guard) = ship::layer(config).unwrap();
            tracing_subscriber::registry().with(layer).init();
            let from: u64 = var("LOGPILOT_TEST_FROM").parse().unwrap();
            let to: u64 = var("LOGPILOT_TEST_TO").parse().unwrap();
            for n in from..to {
                let span = tracing::info_span!("http", request_id = %format!("req-{n}"));
                let _entered = span.enter();
                tracing::info!(n, user_id = "u-1", "event {n}");
                if n % 100 == 99 {
                    assert!(guard.flush(Duration::from_secs(30)));
                    println!("flushed {n}");
                }
            }
            assert!(guard.flush(Duration::from_secs(30)));
            println!("done");
            drop(guard);
        }
        other => panic!("unknown child role {other}"),
    }
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn wait_for_line(child: &mut Child, want: &str) -> BufReader<std::process::ChildStdout> {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "child ended before {want:?}"
        );
        // libtest prints `test child_process ... ` before the first line of output.
        if line.trim().ends_with(want) {
            return out;
        }
    }
}

fn start_broker(dir: &Path, addr: &str) -> Child {
    let mut child = spawn_child(
        "broker",
        &[
            ("LOGPILOT_TEST_DIR", dir.display().to_string()),
            ("LOGPILOT_TEST_ADDR", addr.to_owned()),
        ],
    );
    let out = wait_for_line(&mut child, "listening");
    child.stdout = Some(out.into_inner());
    child
}

/// Every record of a channel, through the native fetch API.
async fn read_all(url: &str, channel: &str) -> Vec<Value> {
    let client = reqwest::Client::new();
    let mut offset = 0u64;
    let mut all = Vec::new();
    loop {
        let page: Value = client
            .get(format!("{url}/api/v1/channels/{channel}/events"))
            .query(&[
                ("offset", offset.to_string()),
                ("max_events", "10000".into()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let records = page["records"].as_array().unwrap().clone();
        if records.is_empty() {
            return all;
        }
        offset = page["next_offset"].as_u64().unwrap();
        all.extend(records);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_under_load_keeps_every_acknowledged_batch_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let url = format!("http://{addr}");
    let mut broker = start_broker(dir.path(), &addr);
    const BATCHES: u64 = 300;
    const PER_BATCH: u64 = 40;
    let (acked_tx, mut acked_rx) = tokio::sync::watch::channel(0u64);
    let mut producers = Vec::new();
    for p in 0..2u64 {
        let url = url.clone();
        let acked = acked_tx.clone();
        producers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
            for seq in 1..=BATCHES {
                let events: Vec<Value> = (0..PER_BATCH)
                    .map(|i| json!({"message": format!("p{p} b{seq} e{i} {}", "x".repeat(200)), "fields": {"id": format!("{p}-{seq}-{i}")}}))
                    .collect();
                let body = json!({"producer_id": format!("producer-{p}"), "seq": seq, "events": events});
                // A batch is retried, with the same sequence, until the broker answers.
                loop {
                    match client.post(format!("{url}/api/v1/channels/load/events")).json(&body).send().await {
                        Ok(r) if r.status().is_success() => break,
                        _ => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
                acked.send_modify(|n| *n += 1);
            }
        }));
    }
    // SIGKILL while both producers are writing, then start it again on the same data.
    acked_rx.wait_for(|n| *n >= BATCHES / 2).await.unwrap();
    broker.kill().unwrap();
    broker.wait().unwrap();
    let mut broker = start_broker(dir.path(), &addr);
    for p in producers {
        p.await.unwrap();
    }
    let records = read_all(&url, "load").await;
    let mut seen: HashMap<String, u32> = HashMap::new();
    for r in &records {
        let id = r["fields"]["id"].as_str().unwrap().to_owned();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            r["message"].as_str().unwrap(),
            format!(
                "p{} b{} e{} {}",
                parts[0],
                parts[1],
                parts[2],
                "x".repeat(200)
            )
        );
        *seen.entry(id).or_default() += 1;
    }
    assert_eq!(
        seen.len() as u64,
        2 * BATCHES * PER_BATCH,
        "every event is there"
    );
    assert!(seen.values().all(|n| *n == 1), "no event is there twice");
    let offsets: Vec<u64> = records
        .iter()
        .map(|r| r["offset"].as_u64().unwrap())
        .collect();
    assert!(
        offsets.windows(2).all(|w| w[1] == w[0] + 1),
        "offsets have no gap"
    );
    broker.kill().unwrap();
    broker.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_killed_mid_stream_resends_its_spool_and_nothing_is_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let url = format!("http://{addr}");
    let mut broker = start_broker(dir.path(), &addr);
    let env = |from: u64, to: u64| {
        vec![
            ("LOGPILOT_TEST_URL", url.clone()),
            ("LOGPILOT_TEST_SPOOL", spool.path().display().to_string()),
            ("LOGPILOT_TEST_FROM", from.to_string()),
            ("LOGPILOT_TEST_TO", to.to_string()),
        ]
    };
    // The producer emits without end; once 3,000 events are known spooled, SIGKILL.
    let mut producer = spawn_child("producer", &env(0, u64::MAX));
    let mut out = BufReader::new(producer.stdout.take().unwrap());
    let mut flushed = 0;
    let mut line = String::new();
    while flushed < 2999 {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the producer ended early"
        );
        if let Some((_, n)) = line.trim().rsplit_once("flushed ") {
            flushed = n.parse().unwrap();
        }
    }
    producer.kill().unwrap();
    producer.wait().unwrap();
    // Started again on the same spool, it resends what it had not delivered, then goes on.
    let mut again = spawn_child("producer", &env(1_000_000, 1_000_050));
    let mut rest = wait_for_line(&mut again, "done");
    std::io::Read::read_to_string(&mut rest, &mut String::new()).unwrap();
    assert!(again.wait().unwrap().success());
    let records = read_all(&url, "app").await;
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for r in &records {
        let n: u64 = r["fields"]["n"].as_str().unwrap().parse().unwrap();
        assert_eq!(r["message"].as_str().unwrap(), format!("event {n}"));
        assert_eq!(
            r["fields"]["request_id"].as_str().unwrap(),
            format!("req-{n}")
        );
        assert_eq!(r["fields"]["user_id"], "u-1");
        assert_eq!(r["labels"]["service"], "app");
        assert_eq!(r["labels"]["level"], "info");
        assert!(r["labels"]["node"].is_string());
        *seen.entry(n).or_default() += 1;
    }
    assert!(seen.values().all(|c| *c == 1), "no event is stored twice");
    for n in (0..=flushed).chain(1_000_000..1_000_050) {
        assert_eq!(
            seen.get(&n),
            Some(&1),
            "event {n} was spooled before the kill and is stored once"
        );
    }
    broker.kill().unwrap();
    broker.wait().unwrap();
}
