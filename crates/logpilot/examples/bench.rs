//! LogPilot's ingest rate and query latency, measured through its HTTP API on this machine.
//!
//! `cargo run --release -p logpilot --example bench -- [EVENTS] [DATA_DIR]`
//!
//! Starts a broker (fsync `always`: every batch is on disk before it is acknowledged) on a
//! loopback port, ingests EVENTS events (default 10,000,000) in batches of 1,000 from two
//! concurrent clients, spread over the last hour, then times a `count_over_time` metric query and
//! two filtered log queries over that hour through the Loki API. The data directory (default a
//! fresh temporary one) is removed afterwards unless given.

use std::time::{Duration, Instant};

use logpilot::{Config, FsyncPolicy};

const BATCH: u64 = 1_000;
const CLIENTS: u64 = 2;
const LEVELS: [&str; 4] = ["info", "info", "warn", "error"];

fn body(first: u64, count: u64, total: u64, t0: i64) -> String {
    let span = 3_600_000_000_000i64;
    let mut out = String::with_capacity(count as usize * 220);
    out.push('[');
    for i in first..first + count {
        if i > first {
            out.push(',');
        }
        let ts = t0 + (i as i128 * span as i128 / total as i128) as i64;
        let level = LEVELS[(i % 4) as usize];
        let what = if i % 1000 == 7 {
            "upstream timeout"
        } else {
            "request served"
        };
        out.push_str(&format!(
            r#"{{"ts":{ts},"level":"{level}","message":"GET /api/v1/rooms/{}/messages {what} status={} took={}ms","labels":{{"node":"n{}"}},"fields":{{"request_id":"req-{i}","user_id":"u-{}"}}}}"#,
            i % 5000,
            if level == "error" { 500 } else { 200 },
            i % 250,
            i % 3,
            i % 10_000
        ));
    }
    out.push(']');
    out
}

async fn time_query(
    client: &reqwest::Client,
    url: &str,
    params: &[(&str, String)],
) -> (Vec<f64>, serde_json::Value) {
    let mut times = Vec::new();
    let mut last = serde_json::Value::Null;
    for _ in 0..5 {
        let started = Instant::now();
        let r = client
            .get(format!("{url}/loki/api/v1/query_range"))
            .query(params)
            .send()
            .await;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        match r {
            Ok(r) if r.status().is_success() => {
                last = r.json().await.unwrap_or_default();
                times.push(elapsed);
            }
            Ok(r) => {
                eprintln!(
                    "query failed: {} {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                );
                break;
            }
            Err(e) => {
                eprintln!("query failed: {e}");
                break;
            }
        }
    }
    times.sort_by(f64::total_cmp);
    (times, last)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let (dir, _tmp) = match args.next() {
        Some(d) => (std::path::PathBuf::from(d), None),
        None => {
            let t = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
            (t.path().to_owned(), Some(t))
        }
    };
    let mut config = Config::new(&dir);
    config.fsync = FsyncPolicy::Always;
    config.retention = Duration::ZERO;
    config.rate_per_sec = 1e12;
    config.rate_burst = 1e12;
    config.limits.max_query_entries = 1000;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let url = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(logpilot::serve(config, listener, async {
        let _ = stop_rx.await;
    }));
    let client = reqwest::Client::new();
    let t0 = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) - 3_600_000_000_000;
    println!(
        "ingesting {total} events in batches of {BATCH} from {CLIENTS} clients, fsync always, into {}",
        dir.display()
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut body_bytes = 0u64;
            let mut first = c * BATCH;
            while first < total {
                let count = BATCH.min(total - first);
                let b = body(first, count, total, t0);
                body_bytes += b.len() as u64;
                let r = client
                    .post(format!("{url}/api/v1/channels/bench/events"))
                    .header("content-type", "application/json")
                    .body(b)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("ingest: {e}"));
                assert!(r.status().is_success(), "ingest: {}", r.status());
                first += CLIENTS * BATCH;
            }
            body_bytes
        }));
    }
    let mut body_bytes = 0;
    for t in tasks {
        body_bytes += t.await.unwrap_or(0);
    }
    let secs = started.elapsed().as_secs_f64();
    let disk: u64 = std::fs::read_dir(dir.join("channels/bench"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!(
        "ingest: {total} events in {secs:.1} s = {:.0} events/s, {:.1} MB/s of request bodies, {:.1} MB/s to disk ({:.0} MB on disk)",
        total as f64 / secs,
        body_bytes as f64 / secs / 1e6,
        disk as f64 / secs / 1e6,
        disk as f64 / 1e6
    );
    let start = t0.to_string();
    let end = (t0 + 3_600_000_000_000).to_string();
    let queries = [
        (
            "count_over_time by level, 1m steps, whole hour",
            r#"sum by (level) (count_over_time({service="bench"}[1m]))"#,
            "60",
        ),
        (
            "log query |= \"timeout\" | level=\"error\", newest 100",
            r#"{service="bench"} |= "timeout" | level="error""#,
            "60",
        ),
        (
            "log query, one request id (a field), newest 100",
            r#"{service="bench", node="n1"} | request_id="req-4000000""#,
            "60",
        ),
    ];
    for (name, q, step) in queries {
        let params = [
            ("query", q.to_owned()),
            ("start", start.clone()),
            ("end", end.clone()),
            ("step", step.to_owned()),
            ("limit", "100".to_owned()),
        ];
        let (times, last) = time_query(&client, &url, &params).await;
        let lines = last["data"]["stats"]["summary"]["totalLinesProcessed"]
            .as_u64()
            .unwrap_or(0);
        let result = last["data"]["result"].as_array().map_or(0, Vec::len);
        if let (Some(min), Some(med)) = (times.first(), times.get(times.len() / 2)) {
            println!(
                "query {name}: median {med:.0} ms, best {min:.0} ms over {} runs ({lines} lines read, {result} series/streams)",
                times.len()
            );
        }
    }
    let _ = stop_tx.send(());
    let _ = server.await;
}
