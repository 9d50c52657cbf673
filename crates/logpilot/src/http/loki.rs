//! The part of Loki's HTTP API that Grafana's Loki datasource and standard shippers use, with
//! Loki's response shapes: `{"status":"success","data":{"resultType":...,"result":[...],
//! "stats":{...}}}`, nanosecond timestamps as strings in streams, `[seconds, "value"]` points.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use axum::{
    Json,
    body::Body,
    extract::{
        Path, Query, State,
        rejection::QueryRejection,
        ws::{Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use prost::Message as _;
use serde_json::{Value as JsonValue, json};

use super::{AppState, error::ApiError, loki_proto, native, read_body, times};
use crate::{
    config::Role,
    logql::{
        self, Direction, Expr, Grid, LogExpr, Matcher, Series, Stats, StreamEntries, Value,
        ast::MetricExpr, eval,
    },
    record::{Labels, NewRecord},
};

type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;

fn params(p: Params) -> Result<Vec<(String, String)>, ApiError> {
    p.map(|Query(v)| v)
        .map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn time_param(params: &[(String, String)], name: &str) -> Result<Option<i64>, ApiError> {
    get(params, name)
        .map(|v| {
            times::parse_time(v).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_parameter",
                    format!("{name} {v:?} is not a time (RFC 3339, Unix seconds or nanoseconds)"),
                )
            })
        })
        .transpose()
}

/// `start` and `end` (default: the `default_span` before now, or `since` before `end`).
fn range(params: &[(String, String)], default_span: i64) -> Result<(i64, i64), ApiError> {
    let end = time_param(params, "end")?.unwrap_or_else(times::now_ns);
    let span = match get(params, "since") {
        Some(s) => times::parse_step(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("since {s:?} is not a duration"),
            )
        })?,
        None => default_span,
    };
    let start = time_param(params, "start")?.unwrap_or(end - span);
    if start > end {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            "start must not be after end",
        ));
    }
    Ok((start, end))
}

fn limit(state: &AppState, params: &[(String, String)]) -> Result<usize, ApiError> {
    let max = state.broker.config().limits.max_query_entries;
    match get(params, "limit") {
        None => Ok(100.min(max)),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n.min(max)),
            _ => Err(ApiError::bad_request(
                "invalid_parameter",
                "limit must be a positive whole number",
            )),
        },
    }
}

fn direction(params: &[(String, String)]) -> Result<Direction, ApiError> {
    match get(params, "direction")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("backward") => Ok(Direction::Backward),
        Some("forward") => Ok(Direction::Forward),
        Some(_) => Err(ApiError::bad_request(
            "invalid_parameter",
            "direction must be forward or backward",
        )),
    }
}

fn query_text(params: &[(String, String)]) -> Result<&str, ApiError> {
    get(params, "query").ok_or_else(|| ApiError::bad_request("invalid_query", "query is required"))
}

fn labels_json(labels: &Labels) -> JsonValue {
    JsonValue::Object(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), JsonValue::String(v.clone())))
            .collect(),
    )
}

fn streams_json(streams: &[StreamEntries]) -> JsonValue {
    JsonValue::Array(
        streams
            .iter()
            .map(|s| {
                json!({
                    "stream": labels_json(&s.labels),
                    "values": s.entries.iter().map(|(ts, line)| json!([ts.to_string(), line])).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

fn seconds(ns: i64) -> JsonValue {
    let secs = ns as f64 / 1e9;
    serde_json::Number::from_f64(secs).map_or(JsonValue::Null, JsonValue::Number)
}

fn sample(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        // Prometheus and Loki print values in Go's shortest form: 2, 0.5, 1e+21.
        let s = format!("{v}");
        s
    }
}

fn matrix_json(series: &[Series], grid: Grid) -> JsonValue {
    JsonValue::Array(
        series
            .iter()
            .filter(|s| s.points.iter().any(Option::is_some))
            .map(|s| {
                let values: Vec<JsonValue> = s
                    .points
                    .iter()
                    .enumerate()
                    .filter_map(|(k, p)| p.map(|v| json!([seconds(grid.at(k)), sample(v)])))
                    .collect();
                json!({"metric": labels_json(&s.labels), "values": values})
            })
            .collect(),
    )
}

fn vector_json(series: &[Series], at: i64) -> JsonValue {
    JsonValue::Array(
        series
            .iter()
            .filter_map(|s| {
                let v = s.points.first().copied().flatten()?;
                Some(json!({"metric": labels_json(&s.labels), "value": [seconds(at), sample(v)]}))
            })
            .collect(),
    )
}

fn stats_json(stats: Stats, exec_secs: f64, returned: usize) -> JsonValue {
    let per_sec = |n: u64| {
        if exec_secs > 0.0 {
            (n as f64 / exec_secs) as u64
        } else {
            0
        }
    };
    let store = json!({
        "totalChunksRef": 0, "totalChunksDownloaded": 0, "chunksDownloadTime": 0,
        "chunk": {"headChunkBytes": 0, "headChunkLines": 0, "decompressedBytes": stats.bytes,
                  "decompressedLines": stats.lines, "compressedBytes": 0, "totalDuplicates": 0}
    });
    json!({
        "summary": {
            "bytesProcessedPerSecond": per_sec(stats.bytes),
            "linesProcessedPerSecond": per_sec(stats.lines),
            "totalBytesProcessed": stats.bytes,
            "totalLinesProcessed": stats.lines,
            "execTime": exec_secs,
            "queueTime": 0,
            "subqueries": 0,
            "totalEntriesReturned": returned,
            "splits": 0,
            "shards": 0
        },
        "querier": {"store": store},
        "ingester": {"totalReached": 0, "totalChunksMatched": 0, "totalBatches": 0, "totalLinesSent": 0,
                     "store": store}
    })
}

fn success(result_type: &str, result: JsonValue, stats: JsonValue) -> Json<JsonValue> {
    Json(json!({
        "status": "success",
        "data": {"resultType": result_type, "result": result, "stats": stats}
    }))
}

/// What a query asks for besides its expression.
struct Ask {
    /// A log query's range, `[start, end)`.
    start: i64,
    end: i64,
    /// A metric query's steps.
    grid: Grid,
    limit: usize,
    direction: Direction,
    /// `query` (a vector or scalar) rather than `query_range` (a matrix).
    instant: bool,
}

/// Runs a query on the blocking pool.
async fn run(state: &AppState, expr: Expr, ask: Ask) -> Result<Json<JsonValue>, ApiError> {
    let Ask {
        start,
        end,
        grid,
        limit,
        direction,
        instant,
    } = ask;
    let broker = Arc::clone(&state.broker);
    let max_points = broker.config().limits.max_query_points;
    let started = std::time::Instant::now();
    match expr {
        Expr::Log(log) => {
            let (streams, stats) = tokio::task::spawn_blocking(move || {
                eval::log_query(&broker, &log, start, end, limit, direction)
            })
            .await??;
            let returned = streams.iter().map(|s| s.entries.len()).sum();
            let stats = stats_json(stats, started.elapsed().as_secs_f64(), returned);
            Ok(success("streams", streams_json(&streams), stats))
        }
        Expr::Metric(metric) => {
            let (value, stats) = tokio::task::spawn_blocking(move || {
                eval::metric_query(&broker, &metric, grid, max_points)
            })
            .await??;
            let exec = started.elapsed().as_secs_f64();
            Ok(match value {
                Value::Scalar(v) if instant => success(
                    "scalar",
                    json!([seconds(grid.start), sample(v)]),
                    stats_json(stats, exec, 1),
                ),
                Value::Scalar(v) => {
                    let series = [Series {
                        labels: Vec::new(),
                        points: vec![Some(v); grid.steps],
                    }];
                    success(
                        "matrix",
                        matrix_json(&series, grid),
                        stats_json(stats, exec, 1),
                    )
                }
                Value::Vector(series) if instant => success(
                    "vector",
                    vector_json(&series, grid.start),
                    stats_json(stats, exec, series.len()),
                ),
                Value::Vector(series) => success(
                    "matrix",
                    matrix_json(&series, grid),
                    stats_json(stats, exec, series.len()),
                ),
            })
        }
    }
}

fn reader(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let caller = state.auth.check(headers, Role::Reader)?;
    state.auth.take(&caller, 1.0)
}

/// `GET|POST /loki/api/v1/query_range`
pub async fn query_range(
    State(state): State<AppState>,
    headers: HeaderMap,
    p: Params,
) -> Result<Json<JsonValue>, ApiError> {
    reader(&state, &headers)?;
    let p = params(p)?;
    let expr = logql::parse(query_text(&p)?)?;
    let (start, end) = range(&p, 3600 * 1_000_000_000)?;
    let step = match get(&p, "step").or_else(|| get(&p, "interval")) {
        Some(s) => times::parse_step(s).ok_or_else(|| {
            ApiError::bad_request("invalid_parameter", format!("step {s:?} is not a duration"))
        })?,
        // Loki's default: about 250 points, at least one second apart.
        None => ((end - start) / 250 / 1_000_000_000).max(1) * 1_000_000_000,
    };
    let steps = ((end - start) / step) as usize + 1;
    let grid = Grid { start, step, steps };
    run(
        &state,
        expr,
        Ask {
            start,
            end,
            grid,
            limit: limit(&state, &p)?,
            direction: direction(&p)?,
            instant: false,
        },
    )
    .await
}

/// `GET|POST /loki/api/v1/query`: a metric query at `time`; a log query over `since` (1 h)
/// before it.
pub async fn query(
    State(state): State<AppState>,
    headers: HeaderMap,
    p: Params,
) -> Result<Json<JsonValue>, ApiError> {
    reader(&state, &headers)?;
    let p = params(p)?;
    let expr = logql::parse(query_text(&p)?)?;
    let at = time_param(&p, "time")?.unwrap_or_else(times::now_ns);
    let span = match get(&p, "since") {
        Some(s) => times::parse_step(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("since {s:?} is not a duration"),
            )
        })?,
        None => 3600 * 1_000_000_000,
    };
    let grid = Grid {
        start: at,
        step: 0,
        steps: 1,
    };
    run(
        &state,
        expr,
        Ask {
            start: at - span,
            end: at + 1,
            grid,
            limit: limit(&state, &p)?,
            direction: direction(&p)?,
            instant: true,
        },
    )
    .await
}

/// The selector of a query given to the metadata endpoints: a bare selector or any query.
fn selector_of(text: &str) -> Result<Vec<Matcher>, ApiError> {
    if let Ok(selector) = logql::parse_selector(text) {
        return Ok(selector);
    }
    fn first(m: &MetricExpr) -> Option<&LogExpr> {
        match m {
            MetricExpr::Range { log, .. } => Some(log),
            MetricExpr::Aggregate { inner, .. } => first(inner),
            MetricExpr::Binary { lhs, rhs, .. } => first(lhs).or_else(|| first(rhs)),
            MetricExpr::Vector(_) | MetricExpr::Scalar(_) => None,
        }
    }
    match logql::parse(text)? {
        Expr::Log(log) => Ok(log.selector),
        Expr::Metric(m) => first(&m).map(|l| l.selector.clone()).ok_or_else(|| {
            ApiError::bad_request("invalid_query", "the query has no stream selector")
        }),
    }
}

const SIX_HOURS: i64 = 6 * 3600 * 1_000_000_000;

/// `GET /loki/api/v1/labels`
pub async fn labels(
    State(state): State<AppState>,
    headers: HeaderMap,
    p: Params,
) -> Result<Json<JsonValue>, ApiError> {
    reader(&state, &headers)?;
    let p = params(p)?;
    let (start, end) = range(&p, SIX_HOURS)?;
    let broker = Arc::clone(&state.broker);
    let names = tokio::task::spawn_blocking(move || eval::label_names(&broker, start, end)).await?;
    Ok(Json(json!({"status": "success", "data": names})))
}

/// `GET /loki/api/v1/label/{name}/values`
pub async fn label_values(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    p: Params,
) -> Result<Json<JsonValue>, ApiError> {
    reader(&state, &headers)?;
    let p = params(p)?;
    let (start, end) = range(&p, SIX_HOURS)?;
    let selector = get(&p, "query")
        .map(selector_of)
        .transpose()?
        .unwrap_or_default();
    let broker = Arc::clone(&state.broker);
    let values = tokio::task::spawn_blocking(move || {
        eval::label_values(&broker, &name, &selector, start, end)
    })
    .await?;
    Ok(Json(json!({"status": "success", "data": values})))
}

/// `GET|POST /loki/api/v1/series?match[]=...`
pub async fn series(
    State(state): State<AppState>,
    headers: HeaderMap,
    p: Params,
) -> Result<Json<JsonValue>, ApiError> {
    reader(&state, &headers)?;
    let p = params(p)?;
    let (start, end) = range(&p, SIX_HOURS)?;
    let selectors = p
        .iter()
        .filter(|(k, _)| k == "match[]" || k == "match")
        .map(|(_, v)| selector_of(v))
        .collect::<Result<Vec<_>, _>>()?;
    if selectors.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "match[] is required",
        ));
    }
    let broker = Arc::clone(&state.broker);
    let all =
        tokio::task::spawn_blocking(move || eval::series(&broker, &selectors, start, end)).await?;
    let data: Vec<JsonValue> = all.iter().map(labels_json).collect();
    Ok(Json(json!({"status": "success", "data": data})))
}

/// `GET /loki/api/v1/index/stats?query=...`
pub async fn index_stats(
    State(state): State<AppState>,
    headers: HeaderMap,
    p: Params,
) -> Result<Json<JsonValue>, ApiError> {
    reader(&state, &headers)?;
    let p = params(p)?;
    let (start, end) = range(&p, 3600 * 1_000_000_000)?;
    let selector = selector_of(query_text(&p)?)?;
    let broker = Arc::clone(&state.broker);
    let s = tokio::task::spawn_blocking(move || eval::index_stats(&broker, &selector, start, end))
        .await?;
    Ok(Json(
        json!({"streams": s.streams, "chunks": s.chunks, "entries": s.entries, "bytes": s.bytes}),
    ))
}

/// `GET /loki/api/v1/status/buildinfo`
pub async fn buildinfo() -> Json<JsonValue> {
    Json(json!({
        "version": "2.9.0",
        "revision": concat!("logpilot-", env!("CARGO_PKG_VERSION")),
        "branch": "",
        "buildUser": "logpilot",
        "buildDate": "",
        "goVersion": ""
    }))
}

/// Reads a label set in Prometheus text form (`{a="b", c="d"}`), equality matchers only.
fn parse_label_text(text: &str) -> Result<Labels, String> {
    let matchers = logql::parse_selector(text).map_err(|e| e.to_string())?;
    let mut labels = BTreeMap::new();
    for m in matchers {
        if m.op != logql::ast::MatchOp::Eq {
            return Err(format!("label {:?} must use =", m.name));
        }
        labels.insert(m.name, m.value);
    }
    Ok(labels.into_iter().collect())
}

/// A pushed stream, checked: its labels, its channel, and its records.
fn stream_records(
    state: &AppState,
    labels: Labels,
    entries: Vec<PushedEntry>,
) -> Result<(String, Vec<NewRecord>), String> {
    let limits = &state.broker.config().limits;
    if labels.is_empty() {
        return Err("a stream needs at least one label".into());
    }
    if labels.len() > limits.max_labels {
        return Err(format!(
            "a stream has more than {} labels",
            limits.max_labels
        ));
    }
    for (k, v) in &labels {
        if !native::valid_label_name(k) {
            return Err(format!(
                "label name {k:?} must match [A-Za-z_][A-Za-z0-9_]* and not start with __"
            ));
        }
        if v.len() > 1024 {
            return Err(format!("label {k:?} is longer than 1024 bytes"));
        }
    }
    let value = |name: &str| {
        labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let channel = value("service")
        .or_else(|| value("service_name"))
        .or_else(|| value("job"))
        .filter(|v| !v.is_empty())
        .map_or_else(|| "default".to_owned(), eval::channel_for_service);
    let mut records = Vec::with_capacity(entries.len());
    for (ts, line, meta) in entries {
        if line.len() > limits.max_line_bytes {
            return Err(format!(
                "a line is {} bytes, more than {}",
                line.len(),
                limits.max_line_bytes
            ));
        }
        if meta.len() > limits.max_fields {
            return Err(format!(
                "more than {} structured metadata pairs",
                limits.max_fields
            ));
        }
        records.push(NewRecord {
            ts,
            labels: labels.clone(),
            fields: meta,
            line,
        });
    }
    Ok((channel, records))
}

/// A pushed entry: timestamp (ns), line, structured metadata.
type PushedEntry = (i64, String, Vec<(String, String)>);
type PushedStream = (Labels, Vec<PushedEntry>);

fn decode_json_push(bytes: &[u8]) -> Result<Vec<PushedStream>, String> {
    let v: JsonValue = serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    let streams = v
        .get("streams")
        .and_then(JsonValue::as_array)
        .ok_or("expected {\"streams\": [...]}")?;
    let mut out = Vec::with_capacity(streams.len());
    for (i, s) in streams.iter().enumerate() {
        let labels_obj = s
            .get("stream")
            .and_then(JsonValue::as_object)
            .ok_or_else(|| format!("stream {i}: \"stream\" must be an object of labels"))?;
        let mut labels = BTreeMap::new();
        for (k, v) in labels_obj {
            let v = v
                .as_str()
                .ok_or_else(|| format!("stream {i}: label {k:?} must be a string"))?;
            labels.insert(k.clone(), v.to_owned());
        }
        let values = s
            .get("values")
            .and_then(JsonValue::as_array)
            .ok_or_else(|| format!("stream {i}: \"values\" must be an array"))?;
        let mut entries = Vec::with_capacity(values.len());
        for (j, e) in values.iter().enumerate() {
            let bad =
                || format!("stream {i} value {j}: expected [\"<ns>\", \"<line>\"(, {{metadata}})]");
            let arr = e.as_array().ok_or_else(bad)?;
            let ts = match arr.first() {
                Some(JsonValue::String(t)) => t.parse::<i64>().ok(),
                Some(JsonValue::Number(n)) => n.as_i64(),
                _ => None,
            }
            .filter(|t| *t >= 0)
            .ok_or_else(bad)?;
            let line = arr
                .get(1)
                .and_then(JsonValue::as_str)
                .ok_or_else(bad)?
                .to_owned();
            let mut meta = Vec::new();
            if let Some(m) = arr.get(2) {
                let m = m.as_object().ok_or_else(bad)?;
                for (k, v) in m {
                    meta.push((k.clone(), v.as_str().ok_or_else(bad)?.to_owned()));
                }
            }
            if arr.len() > 3 {
                return Err(bad());
            }
            entries.push((ts, line, meta));
        }
        out.push((labels.into_iter().collect(), entries));
    }
    Ok(out)
}

fn decode_proto_push(bytes: &[u8], max: usize) -> Result<Vec<PushedStream>, ApiError> {
    let len = snap::raw::decompress_len(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("the body is not snappy-compressed: {e}"),
        )
    })?;
    if len > max {
        return Err(ApiError::too_large(format!(
            "the push is {len} bytes uncompressed, more than {max}"
        )));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(bytes)
        .map_err(|e| {
            ApiError::bad_request(
                "invalid_body",
                format!("the body is not snappy-compressed: {e}"),
            )
        })?;
    let push = loki_proto::PushRequest::decode(raw.as_slice()).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("the body is not a Loki PushRequest: {e}"),
        )
    })?;
    push.streams
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let labels = parse_label_text(&s.labels)
                .map_err(|e| ApiError::bad_request("invalid_stream", format!("stream {i}: {e}")))?;
            let entries = s
                .entries
                .into_iter()
                .map(|e| {
                    let ts = e.timestamp.map_or(0, |t| {
                        t.seconds
                            .saturating_mul(1_000_000_000)
                            .saturating_add(i64::from(t.nanos))
                    });
                    let meta = e
                        .structured_metadata
                        .into_iter()
                        .map(|p| (p.name, p.value))
                        .collect();
                    (ts.max(0), e.line, meta)
                })
                .collect();
            Ok((labels, entries))
        })
        .collect()
}

/// `POST /loki/api/v1/push`: JSON, or snappy-compressed protobuf; 204 when stored.
pub async fn push(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = state.auth.check(&headers, Role::Producer)?;
    let limits = state.broker.config().limits.clone();
    if let Some(enc) = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        && !enc.eq_ignore_ascii_case("identity")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Encoding {enc:?} is not supported; send JSON or snappy protobuf"),
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    let bytes = read_body(body, limits.max_body_bytes).await?;
    let streams = if content_type.starts_with("application/x-protobuf") {
        decode_proto_push(&bytes, limits.max_body_bytes)?
    } else if content_type.starts_with("application/json") {
        decode_json_push(&bytes).map_err(|m| ApiError::bad_request("invalid_json", m))?
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "Content-Type {content_type:?}: send application/json or application/x-protobuf"
            ),
        ));
    };
    // Everything is checked before anything is stored.
    let mut by_channel: BTreeMap<String, Vec<NewRecord>> = BTreeMap::new();
    let mut total = 0usize;
    for (i, (labels, entries)) in streams.into_iter().enumerate() {
        let (channel, records) = stream_records(&state, labels, entries)
            .map_err(|m| ApiError::bad_request("invalid_stream", format!("stream {i}: {m}")))?;
        total += records.len();
        by_channel.entry(channel).or_default().extend(records);
    }
    if total > limits.max_batch_events {
        return Err(ApiError::too_large(format!(
            "{total} entries in one push, more than {}",
            limits.max_batch_events
        )));
    }
    state.auth.take(&caller, total as f64)?;
    for (channel, records) in by_channel {
        native::store(&state, &channel, String::new(), 0, records).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /loki/api/v1/tail` (WebSocket): what matches now (`start`, default an hour back, up to
/// `limit`), then every new matching entry as it is stored.
pub async fn tail(
    State(state): State<AppState>,
    headers: HeaderMap,
    p: Params,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    reader(&state, &headers)?;
    let ws = ws.map_err(|e| ApiError::bad_request("websocket_required", e.body_text()))?;
    let p = params(p)?;
    let Expr::Log(expr) = logql::parse(query_text(&p)?)? else {
        return Err(ApiError::bad_request(
            "invalid_query",
            "tail needs a log query, not a metric query",
        ));
    };
    let now = times::now_ns();
    let start = time_param(&p, "start")?.unwrap_or(now - 3600 * 1_000_000_000);
    let limit = limit(&state, &p)?;
    Ok(ws.on_upgrade(move |socket| follow(state, expr, start, limit, socket)))
}

async fn follow(state: AppState, expr: LogExpr, start: i64, limit: usize, mut socket: WebSocket) {
    let broker = Arc::clone(&state.broker);
    let mut appended = broker.subscribe();
    let mut positions = eval::tail_positions(&broker, &expr);
    let first = {
        let broker = Arc::clone(&broker);
        let expr = expr.clone();
        tokio::task::spawn_blocking(move || {
            eval::log_query(&broker, &expr, start, i64::MAX, limit, Direction::Forward)
        })
        .await
    };
    let mut batch = match first {
        Ok(Ok((streams, _))) => streams,
        _ => Vec::new(),
    };
    let mut shutdown = state.shutdown.clone();
    loop {
        if !batch.is_empty() {
            let frame = json!({"streams": streams_json(&batch), "dropped_entries": null});
            if socket
                .send(Message::Text(frame.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
        }
        tokio::select! {
            _ = appended.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = async { let _ = shutdown.wait_for(|s| *s).await; } => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
        let b = Arc::clone(&broker);
        let e = expr.clone();
        let mut pos = std::mem::take(&mut positions);
        let stepped = tokio::task::spawn_blocking(move || {
            let found = eval::tail_step(&b, &e, &mut pos, limit);
            (found, pos)
        })
        .await;
        match stepped {
            Ok((Ok(found), pos)) => {
                batch = found;
                positions = pos;
            }
            _ => return,
        }
    }
}
