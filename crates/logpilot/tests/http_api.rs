//! The broker's HTTP API, served for real on 127.0.0.1:0: a producer ingests, a reader fetches
//! and queries through the native and the Loki API, with response shapes checked.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use futures::StreamExt;
use logpilot::{ApiKey, Config, FsyncPolicy, Role, http::loki_proto};
use prost::Message as _;
use serde_json::{Value, json};

struct Broker {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

const PRODUCER: &str = "producer-key-1";
const READER: &str = "reader-key-1";

async fn start(tune: impl FnOnce(&mut Config)) -> Broker {
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
    tune(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        logpilot::serve(config, listener, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Broker {
        url,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

impl Broker {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post(b: &Broker, path: &str, key: &str, body: Value) -> (u16, Value) {
    let r = client()
        .post(format!("{}{path}", b.url))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(b: &Broker, path: &str, key: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let r = client()
        .get(format!("{}{path}", b.url))
        .bearer_auth(key)
        .query(query)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap()
}

#[tokio::test]
async fn a_producer_ingests_a_batch_and_a_consumer_fetches_commits_and_seeks() {
    let b = start(|_| {}).await;
    let base = now_ns() - 60_000_000_000;
    let events: Vec<Value> = (0..10)
        .map(|i| {
            json!({"ts": base + i * 1_000_000_000, "level": if i % 3 == 0 { "error" } else { "info" },
                   "message": format!("event {i}"), "labels": {"node": "n1"},
                   "fields": {"request_id": format!("req-{i}"), "user_id": "u1"}})
        })
        .collect();
    let body = json!({"producer_id": "p1", "seq": 1, "events": events});
    let (status, stored) = post(&b, "/api/v1/channels/api/events", PRODUCER, body.clone()).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(
        stored,
        json!({"channel": "api", "count": 10, "first_offset": 0, "last_offset": 9, "duplicate": false})
    );
    // The same batch again (a retry): not stored twice.
    let (status, again) = post(&b, "/api/v1/channels/api/events", PRODUCER, body).await;
    assert_eq!(
        (status, &again["duplicate"], &again["count"]),
        (200, &json!(true), &json!(0))
    );

    let (status, page) = get(
        &b,
        "/api/v1/channels/api/events",
        READER,
        &[("offset", "2"), ("max_events", "3")],
    )
    .await;
    assert_eq!(status, 200);
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["offset"], 2);
    assert_eq!(records[0]["message"], "event 2");
    assert_eq!(records[0]["level"], "info");
    assert_eq!(
        records[0]["labels"],
        json!({"level": "info", "node": "n1", "service": "api"})
    );
    assert_eq!(records[0]["fields"]["request_id"], "req-2");
    assert_eq!(records[0]["ts"], (base + 2_000_000_000).to_string());
    assert_eq!(
        (page["next_offset"].as_u64(), page["latest_offset"].as_u64()),
        (Some(5), Some(10))
    );

    let (status, _) = post(
        &b,
        "/api/v1/channels/api/consumers/alerts/commit",
        READER,
        json!({"offset": 5}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, pos) = get(&b, "/api/v1/channels/api/consumers/alerts", READER, &[]).await;
    assert_eq!(
        (pos["offset"].as_u64(), pos["lag"].as_u64()),
        (Some(5), Some(5))
    );
    let (_, page) = get(
        &b,
        "/api/v1/channels/api/events",
        READER,
        &[("group", "alerts"), ("max_events", "1")],
    )
    .await;
    assert_eq!(page["records"][0]["offset"], 5);

    for (seek, expect) in [
        (json!({"to": "earliest"}), 0),
        (json!({"to": "latest"}), 10),
        (json!({"offset": 7}), 7),
        (json!({"time": base + 3_500_000_000}), 4),
    ] {
        let (status, sought) = post(
            &b,
            "/api/v1/channels/api/consumers/alerts/seek",
            READER,
            seek.clone(),
        )
        .await;
        assert_eq!(
            (status, sought["offset"].as_u64()),
            (200, Some(expect)),
            "{seek}"
        );
    }
    let (_, listing) = get(&b, "/api/v1/channels", READER, &[]).await;
    assert_eq!(listing["channels"][0]["name"], "api");
    assert_eq!(listing["channels"][0]["latest_offset"], 10);
    assert_eq!(listing["channels"][0]["groups"]["alerts"], 4);

    let metrics = client()
        .get(format!("{}/metrics", b.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"logpilot_ingest_events_total{channel="api"} 10"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"logpilot_duplicate_batches_total{channel="api"} 1"#));
    assert!(metrics.contains(r#"logpilot_consumer_lag{channel="api",group="alerts"} 6"#));
    assert!(metrics.contains(r#"logpilot_segments{channel="api"} 1"#));
    assert!(metrics.contains(r#"logpilot_disk_bytes{channel="api"}"#));
    b.stop().await;
}

#[tokio::test]
async fn bad_requests_get_json_errors_with_stable_codes_and_nothing_is_half_written() {
    let b = start(|c| c.limits.max_body_bytes = 64 * 1024).await;
    let ingest = "/api/v1/channels/api/events";
    let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        (
            ingest,
            "wrong-key",
            json!([{"message": "m"}]),
            401,
            "unauthorized",
        ),
        (ingest, READER, json!([{"message": "m"}]), 403, "forbidden"),
        (
            ingest,
            PRODUCER,
            json!({"events": "no"}),
            400,
            "invalid_json",
        ),
        (
            ingest,
            PRODUCER,
            json!([{"message": "ok"}, {"level": "info"}]),
            400,
            "invalid_event",
        ),
        (
            "/api/v1/channels/bad%20name/events",
            PRODUCER,
            json!([{"message": "m"}]),
            400,
            "invalid_channel",
        ),
        (
            ingest,
            PRODUCER,
            json!({"producer_id": "p", "events": []}),
            400,
            "invalid_producer",
        ),
        (
            ingest,
            PRODUCER,
            json!([{"message": "x".repeat(70_000)}]),
            413,
            "payload_too_large",
        ),
        (
            "/api/v1/channels/api/consumers/g/seek",
            READER,
            json!({"to": "middle"}),
            400,
            "invalid_seek",
        ),
        (
            "/api/v1/channels/api/consumers/g/commit",
            READER,
            json!({"offset": "one"}),
            400,
            "invalid_json",
        ),
    ];
    for (path, key, body, status, code) in cases {
        let (got, error) = post(&b, path, key, body).await;
        assert_eq!(
            (got, error["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {error}"
        );
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty() && !m.contains(PRODUCER))
        );
    }
    // The valid first event of the refused batch was not stored.
    let (status, err) = get(&b, "/api/v1/channels/api/events", READER, &[]).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("unknown_channel"))
    );
    let (status, err) = get(&b, "/nowhere", READER, &[]).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, err) = get(
        &b,
        "/loki/api/v1/query_range",
        READER,
        &[("query", "{service=}")],
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
    let (status, err) = get(
        &b,
        "/loki/api/v1/query_range",
        READER,
        &[("query", r#"{a="b"}"#), ("start", "later")],
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("invalid_parameter"))
    );
    let r = client()
        .post(format!("{}/loki/api/v1/push", b.url))
        .bearer_auth(PRODUCER)
        .header("content-type", "application/x-protobuf")
        .body(vec![1, 2, 3, 4, 5])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = client()
        .post(format!("{}/loki/api/v1/push", b.url))
        .bearer_auth(PRODUCER)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let metrics = client()
        .get(format!("{}/metrics", b.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"logpilot_rejected_requests_total{reason="invalid_event"} 1"#),
        "{metrics}"
    );
    b.stop().await;
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after() {
    let b = start(|c| {
        c.rate_per_sec = 1.0;
        c.rate_burst = 5.0;
    })
    .await;
    let batch: Vec<Value> = (0..5)
        .map(|i| json!({"message": format!("m{i}")}))
        .collect();
    let (status, _) = post(&b, "/api/v1/channels/api/events", PRODUCER, json!(batch)).await;
    assert_eq!(status, 200);
    let r = client()
        .post(format!("{}/api/v1/channels/api/events", b.url))
        .bearer_auth(PRODUCER)
        .json(&json!(batch))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry), "{retry}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    b.stop().await;
}

fn snappy_push(streams: Vec<loki_proto::Stream>) -> Vec<u8> {
    let raw = loki_proto::PushRequest { streams }.encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw).unwrap()
}

#[tokio::test]
async fn loki_pushes_are_queried_back_through_the_loki_api_with_lokis_shapes() {
    let b = start(|_| {}).await;
    let t0 = (now_ns() / 1_000_000_000 - 600) * 1_000_000_000;
    let values: Vec<Value> = (0..60)
        .map(|i| {
            let level = if i % 4 == 0 { "error" } else { "info" };
            json!([
                (t0 + i * 5_000_000_000).to_string(),
                format!(
                    r#"{{"level":"{level}","status":{},"msg":"req {i}"}}"#,
                    200 + (i % 4) * 100
                )
            ])
        })
        .collect();
    let push = json!({"streams": [
        {"stream": {"service": "web", "node": "n1"}, "values": values},
        {"stream": {"service": "web", "node": "n2"}, "values": [[(t0 + 1).to_string(), "plain line from n2", {"trace_id": "t-1"}]]}
    ]});
    let r = client()
        .post(format!("{}/loki/api/v1/push", b.url))
        .bearer_auth(PRODUCER)
        .json(&push)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let proto = snappy_push(vec![loki_proto::Stream {
        labels: r#"{service="worker", node="n1"}"#.into(),
        entries: (0..3)
            .map(|i| loki_proto::Entry {
                timestamp: Some(loki_proto::Timestamp {
                    seconds: t0 / 1_000_000_000 + i,
                    nanos: 7,
                }),
                line: format!("level=warn job=index took={i}00ms"),
                structured_metadata: vec![],
            })
            .collect(),
        hash: 0,
    }]);
    let r = client()
        .post(format!("{}/loki/api/v1/push", b.url))
        .bearer_auth(PRODUCER)
        .header("content-type", "application/x-protobuf")
        .body(proto)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);

    let start_s = (t0 - 1).to_string();
    let end_s = (t0 + 600_000_000_000).to_string();
    let range = |q: &'static str| {
        vec![
            ("query", q),
            ("start", start_s.as_str()),
            ("end", end_s.as_str()),
        ]
    };

    // A log query: newest first, streams with nanosecond strings, stats.
    let mut q = range(r#"{service="web"} | json | level="error""#);
    q.push(("limit", "5"));
    let (status, body) = get(&b, "/loki/api/v1/query_range", READER, &q).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["resultType"], "streams");
    let result = body["data"]["result"].as_array().unwrap();
    let mut entries: Vec<&Value> = result
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap())
        .collect();
    assert_eq!(entries.len(), 5);
    assert!(
        entries
            .iter()
            .all(|e| e[0].is_string() && e[1].as_str().unwrap().contains(r#""level":"error""#))
    );
    entries.sort_by_key(|e| std::cmp::Reverse(e[0].as_str().unwrap().parse::<i64>().unwrap()));
    assert_eq!(entries[0][0], (t0 + 56 * 5_000_000_000).to_string());
    assert_eq!(entries[4][0], (t0 + 40 * 5_000_000_000).to_string());
    // The json parser's labels join the stream's in the result.
    assert_eq!(result[0]["stream"]["node"], "n1");
    assert_eq!(result[0]["stream"]["status"], "200");
    assert_eq!(result[0]["stream"]["level"], "error");
    assert!(
        body["data"]["stats"]["summary"]["totalLinesProcessed"]
            .as_u64()
            .unwrap()
            >= 60
    );

    // Forward, a line filter and structured metadata as a label filter.
    let mut q = range(r#"{node=~"n.*"} |= "n2" | trace_id="t-1""#);
    q.push(("direction", "forward"));
    let (_, body) = get(&b, "/loki/api/v1/query_range", READER, &q).await;
    assert_eq!(
        body["data"]["result"][0]["values"],
        json!([[(t0 + 1).to_string(), "plain line from n2"]])
    );

    // logfmt from the protobuf push, with a duration comparison.
    let (_, body) = get(
        &b,
        "/loki/api/v1/query_range",
        READER,
        &range(r#"{service="worker"} | logfmt | took >= 100ms"#),
    )
    .await;
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2, "one stream per value of took: {body}");
    assert_eq!(result[1]["stream"]["took"], "200ms");
    assert_eq!(result[1]["stream"]["level"], "warn");
    assert_eq!(result[1]["values"][0][0], (t0 + 2_000_000_007).to_string());

    // A metric query: a matrix of [seconds, "value"] points.
    let mut q = range(r#"sum by (level) (count_over_time({service="web"} | json [1m]))"#);
    q.push(("step", "60"));
    let (_, body) = get(&b, "/loki/api/v1/query_range", READER, &q).await;
    assert_eq!(body["data"]["resultType"], "matrix", "{body}");
    let series = body["data"]["result"].as_array().unwrap();
    let by_level = |l: &str| series.iter().find(|s| s["metric"]["level"] == l).unwrap();
    let total = |s: &Value| {
        s["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[1].as_str().unwrap().parse::<f64>().unwrap())
            .sum::<f64>()
    };
    assert_eq!(total(by_level("error")), 15.0);
    assert_eq!(total(by_level("info")), 45.0);
    // The plain line is no JSON: no level, and the parser's error label.
    let unparsed = series
        .iter()
        .find(|s| s["metric"].get("level").is_none())
        .unwrap();
    assert_eq!(total(unparsed), 1.0);
    assert!(by_level("error")["values"][0][0].is_number());

    // Instant queries: a vector, and Grafana's health check.
    let at = (t0 + 300_000_000_000).to_string();
    let (_, body) = get(
        &b,
        "/loki/api/v1/query",
        READER,
        &[
            ("query", r#"sum(count_over_time({service="web"}[5m]))"#),
            ("time", &at),
        ],
    )
    .await;
    assert_eq!(body["data"]["resultType"], "vector");
    assert_eq!(body["data"]["result"][0]["value"][1], "60", "{body}");
    let (_, body) = get(
        &b,
        "/loki/api/v1/query",
        READER,
        &[("query", "vector(1)+vector(1)")],
    )
    .await;
    assert_eq!(body["data"]["resultType"], "vector");
    assert_eq!(body["data"]["result"][0]["value"][1], "2");
    assert_eq!(body["data"]["result"][0]["metric"], json!({}));
    let (_, body) = get(
        &b,
        "/loki/api/v1/query",
        READER,
        &[
            (
                "query",
                r#"topk(1, sum by (node) (rate({service=~"web|worker"}[10m])))"#,
            ),
            ("time", &at),
        ],
    )
    .await;
    assert_eq!(body["data"]["result"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"]["result"][0]["metric"], json!({"node": "n1"}));

    // Labels, values, series, index stats, build info, ready.
    let window = [("start", start_s.as_str()), ("end", end_s.as_str())];
    let (_, body) = get(&b, "/loki/api/v1/labels", READER, &window).await;
    assert_eq!(
        body,
        json!({"status": "success", "data": ["node", "service"]})
    );
    let (_, body) = get(&b, "/loki/api/v1/label/service/values", READER, &window).await;
    assert_eq!(body["data"], json!(["web", "worker"]));
    let (_, body) = get(
        &b,
        "/loki/api/v1/label/node/values",
        READER,
        &[("query", r#"{service="worker"}"#), window[0], window[1]],
    )
    .await;
    assert_eq!(body["data"], json!(["n1"]));
    let (_, body) = get(
        &b,
        "/loki/api/v1/series",
        READER,
        &[("match[]", r#"{service="web"}"#), window[0], window[1]],
    )
    .await;
    assert_eq!(
        body["data"],
        json!([{"node": "n1", "service": "web"}, {"node": "n2", "service": "web"}])
    );
    let (_, body) = get(
        &b,
        "/loki/api/v1/index/stats",
        READER,
        &[("query", r#"{service="web"}"#), window[0], window[1]],
    )
    .await;
    assert_eq!(
        (body["streams"].as_u64(), body["entries"].as_u64()),
        (Some(2), Some(61))
    );
    let (_, body) = get(&b, "/loki/api/v1/status/buildinfo", READER, &[]).await;
    assert!(body["version"].is_string());
    let ready = client()
        .get(format!("{}/ready", b.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    b.stop().await;
}

#[tokio::test]
async fn a_tail_sends_what_matches_then_each_new_entry() {
    let b = start(|_| {}).await;
    let push = |line: &str| json!({"streams": [{"stream": {"service": "api"}, "values": [[now_ns().to_string(), line]]}]});
    let r = client()
        .post(format!("{}/loki/api/v1/push", b.url))
        .bearer_auth(PRODUCER)
        .json(&push("before"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let ws_url = format!(
        "{}/loki/api/v1/tail?query=%7Bservice%3D%22api%22%7D%20%7C%3D%20%22keep%22",
        b.url.replace("http://", "ws://")
    );
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url)
            .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {READER}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    for line in ["drop this", "keep this"] {
        client()
            .post(format!("{}/loki/api/v1/push", b.url))
            .bearer_auth(PRODUCER)
            .json(&push(line))
            .send()
            .await
            .unwrap();
    }
    let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let frame: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!(frame["streams"][0]["stream"], json!({"service": "api"}));
    assert_eq!(frame["streams"][0]["values"][0][1], "keep this");
    assert!(frame["streams"][0]["values"][0][0].is_string());
    drop(socket);
    b.stop().await;
}
