//! The native API: batch ingest, fetch, commit, seek, channel listing.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    Json,
    body::Body,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::HeaderMap,
};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use super::{AppState, error::ApiError, read_body, times};
use crate::{
    broker::valid_channel,
    channel::{Appended, StoredRecord},
    config::{Limits, Role},
    record::NewRecord,
};

/// The levels an event may have (`warning` reads as `warn`, `critical` as `fatal`).
const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "fatal"];

#[derive(Deserialize)]
#[serde(untagged)]
enum IngestBody {
    Batch {
        #[serde(default)]
        producer_id: Option<String>,
        #[serde(default)]
        seq: Option<u64>,
        events: Vec<JsonValue>,
    },
    Bare(Vec<JsonValue>),
}

/// Checks a label name: Prometheus's alphabet, and `__` is reserved.
pub fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with("__")
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Turns one native event into a record for `channel`.
fn event_record(
    channel: &str,
    event: &JsonValue,
    limits: &Limits,
    now: i64,
) -> Result<NewRecord, String> {
    let obj = event.as_object().ok_or("an event must be a JSON object")?;
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "ts" | "level" | "message" | "labels" | "fields"
        ) {
            return Err(format!(
                "unknown key {key:?} (ts, level, message, labels, fields)"
            ));
        }
    }
    let ts =
        match obj.get("ts") {
            None | Some(JsonValue::Null) => now,
            Some(JsonValue::Number(n)) => n.as_i64().filter(|n| *n >= 0).ok_or(
                "ts must be nanoseconds since the epoch (a non-negative integer) or RFC 3339",
            )?,
            Some(JsonValue::String(s)) => times::parse_rfc3339(s)
                .ok_or_else(|| format!("ts {s:?} is not an RFC 3339 time"))?,
            Some(_) => return Err("ts must be a number or a string".into()),
        };
    let level = match obj.get("level") {
        None | Some(JsonValue::Null) => "info".to_owned(),
        Some(JsonValue::String(l)) => {
            let l = l.to_ascii_lowercase();
            let l = match l.as_str() {
                "warning" => "warn".to_owned(),
                "critical" | "panic" => "fatal".to_owned(),
                _ => l,
            };
            if !LEVELS.contains(&l.as_str()) {
                return Err(format!("level {l:?} is not one of {}", LEVELS.join(", ")));
            }
            l
        }
        Some(_) => return Err("level must be a string".into()),
    };
    let message = match obj.get("message") {
        Some(JsonValue::String(m)) => m.clone(),
        Some(_) => return Err("message must be a string".into()),
        None => return Err("message is required".into()),
    };
    if message.len() > limits.max_line_bytes {
        return Err(format!(
            "message is {} bytes, more than {}",
            message.len(),
            limits.max_line_bytes
        ));
    }
    let mut labels = BTreeMap::new();
    if let Some(given) = obj.get("labels").filter(|v| !v.is_null()) {
        let given = given
            .as_object()
            .ok_or("labels must be an object of strings")?;
        for (k, v) in given {
            if !valid_label_name(k) {
                return Err(format!(
                    "label name {k:?} must match [A-Za-z_][A-Za-z0-9_]* and not start with __"
                ));
            }
            let v = v
                .as_str()
                .ok_or_else(|| format!("label {k:?} must be a string"))?;
            if v.len() > 1024 {
                return Err(format!("label {k:?} is longer than 1024 bytes"));
            }
            if (k == "service" && v != channel) || k == "level" {
                return Err(format!(
                    "label {k:?} is set by the broker (service is the channel, level the event's level)"
                ));
            }
            labels.insert(k.clone(), v.to_owned());
        }
    }
    labels.insert("service".into(), channel.to_owned());
    labels.insert("level".into(), level);
    if labels.len() > limits.max_labels {
        return Err(format!("more than {} labels", limits.max_labels));
    }
    let mut fields = Vec::new();
    if let Some(given) = obj.get("fields").filter(|v| !v.is_null()) {
        let given = given.as_object().ok_or("fields must be an object")?;
        if given.len() > limits.max_fields {
            return Err(format!("more than {} fields", limits.max_fields));
        }
        for (k, v) in given {
            if k.is_empty() || k.len() > 256 {
                return Err("field names must be 1 to 256 bytes".into());
            }
            let text = match v {
                JsonValue::String(s) => s.clone(),
                other => other.to_string(),
            };
            if text.len() > limits.max_line_bytes {
                return Err(format!(
                    "field {k:?} is longer than {} bytes",
                    limits.max_line_bytes
                ));
            }
            fields.push((k.clone(), text));
        }
    }
    Ok(NewRecord {
        ts,
        labels: labels.into_iter().collect(),
        fields,
        line: message,
    })
}

/// `POST /api/v1/channels/{channel}/events`
pub async fn ingest(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<JsonValue>, ApiError> {
    let caller = state.auth.check(&headers, Role::Producer)?;
    if !valid_channel(&channel) {
        return Err(ApiError::bad_request(
            "invalid_channel",
            format!("{channel:?} is not a channel name (1 to 64 of A-Z a-z 0-9 _ . -)"),
        ));
    }
    let limits = &state.broker.config().limits;
    let bytes = read_body(body, limits.max_body_bytes).await?;
    let parsed: IngestBody = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body must be a JSON array of events or {{producer_id, seq, events}}: {e}"),
        )
    })?;
    let (producer, seq, events) = match parsed {
        IngestBody::Batch {
            producer_id,
            seq,
            events,
        } => (producer_id.unwrap_or_default(), seq.unwrap_or(0), events),
        IngestBody::Bare(events) => (String::new(), 0, events),
    };
    if producer.len() > 128 {
        return Err(ApiError::bad_request(
            "invalid_producer",
            "producer_id is longer than 128 bytes",
        ));
    }
    if !producer.is_empty() && seq == 0 {
        return Err(ApiError::bad_request(
            "invalid_producer",
            "a producer_id needs a seq of 1 or more",
        ));
    }
    if events.len() > limits.max_batch_events {
        return Err(ApiError::too_large(format!(
            "{} events in one batch, more than {}",
            events.len(),
            limits.max_batch_events
        )));
    }
    let now = times::now_ns();
    let records = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            event_record(&channel, e, limits, now)
                .map_err(|m| ApiError::bad_request("invalid_event", format!("event {i}: {m}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    state.auth.take(&caller, records.len() as f64)?;
    let stored = store(&state, &channel, producer, seq, records).await?;
    Ok(Json(stored))
}

/// Appends a validated batch and counts it; shared with the Loki push.
pub async fn store(
    state: &AppState,
    channel: &str,
    producer: String,
    seq: u64,
    records: Vec<NewRecord>,
) -> Result<JsonValue, ApiError> {
    let broker = Arc::clone(&state.broker);
    let name = channel.to_owned();
    let count = records.len();
    let bytes: usize = records.iter().map(|r| r.line.len()).sum();
    let appended =
        tokio::task::spawn_blocking(move || broker.append(&name, &producer, seq, &records))
            .await??;
    Ok(match appended {
        Appended::Stored { first, last } => {
            state
                .metrics
                .ingest_events
                .with_label_values(&[channel])
                .inc_by(count as u64);
            state
                .metrics
                .ingest_bytes
                .with_label_values(&[channel])
                .inc_by(bytes as u64);
            json!({"channel": channel, "count": count, "first_offset": first, "last_offset": last, "duplicate": false})
        }
        Appended::Duplicate { last_seq } => {
            state
                .metrics
                .duplicate_batches
                .with_label_values(&[channel])
                .inc();
            json!({"channel": channel, "count": 0, "duplicate": true, "last_seq": last_seq})
        }
    })
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn number(params: &[(String, String)], name: &str) -> Result<Option<u64>, ApiError> {
    param(params, name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(
                    "invalid_parameter",
                    format!("{name} must be a whole number"),
                )
            })
        })
        .transpose()
}

fn record_json(r: &StoredRecord) -> JsonValue {
    let labels: serde_json::Map<String, JsonValue> = r
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), JsonValue::String(v.clone())))
        .collect();
    let fields: serde_json::Map<String, JsonValue> = r
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), JsonValue::String(v.clone())))
        .collect();
    let level = r
        .labels
        .iter()
        .find(|(k, _)| k == "level")
        .map(|(_, v)| v.clone());
    json!({"offset": r.offset, "ts": r.ts.to_string(), "level": level, "message": r.line, "labels": labels, "fields": fields})
}

fn channel_of(state: &AppState, name: &str) -> Result<Arc<crate::channel::Channel>, ApiError> {
    state.broker.channel(name).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "unknown_channel",
            format!("no channel {name:?}"),
        )
    })
}

fn check_group(group: &str) -> Result<(), ApiError> {
    if valid_channel(group) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_group",
            "a group name is 1 to 64 of A-Z a-z 0-9 _ . -",
        ))
    }
}

/// `GET /api/v1/channels/{channel}/events?offset=&group=&max_events=&max_bytes=`
pub async fn fetch(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<JsonValue>, ApiError> {
    let caller = state.auth.check(&headers, Role::Reader)?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
    state.auth.take(&caller, 1.0)?;
    let ch = channel_of(&state, &channel)?;
    let group = param(&params, "group");
    if let Some(g) = group {
        check_group(g)?;
    }
    let max_events = number(&params, "max_events")?
        .unwrap_or(100)
        .clamp(1, 10_000) as usize;
    let max_bytes = number(&params, "max_bytes")?
        .unwrap_or(1 << 20)
        .clamp(1, 16 << 20) as usize;
    let offset = match (number(&params, "offset")?, group) {
        (Some(o), _) => o,
        (None, Some(g)) => ch.committed(g).unwrap_or(0),
        (None, None) => 0,
    };
    let ch2 = Arc::clone(&ch);
    let records =
        tokio::task::spawn_blocking(move || ch2.fetch(offset, max_events, max_bytes)).await??;
    let stats = ch.stats();
    let next = records
        .last()
        .map_or(offset.max(stats.earliest).min(stats.latest), |r| {
            r.offset + 1
        });
    Ok(Json(json!({
        "channel": channel,
        "records": records.iter().map(record_json).collect::<Vec<_>>(),
        "next_offset": next,
        "earliest_offset": stats.earliest,
        "latest_offset": stats.latest,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitBody {
    offset: u64,
}

/// `POST /api/v1/channels/{channel}/consumers/{group}/commit` `{"offset": n}`
pub async fn commit(
    State(state): State<AppState>,
    Path((channel, group)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<JsonValue>, ApiError> {
    let caller = state.auth.check(&headers, Role::Reader)?;
    check_group(&group)?;
    let bytes = read_body(body, 4096).await?;
    let CommitBody { offset } = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request("invalid_json", format!("expected {{\"offset\": n}}: {e}"))
    })?;
    state.auth.take(&caller, 1.0)?;
    let ch = channel_of(&state, &channel)?;
    let g = group.clone();
    tokio::task::spawn_blocking(move || ch.commit(&g, offset)).await??;
    Ok(Json(
        json!({"channel": channel, "group": group, "offset": offset}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeekBody {
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    offset: Option<u64>,
    #[serde(default)]
    time: Option<JsonValue>,
}

fn invalid() -> ApiError {
    ApiError::bad_request(
        "invalid_seek",
        "give exactly one of to (earliest or latest), offset, time",
    )
}

/// `POST /api/v1/channels/{channel}/consumers/{group}/seek`: `{"to": "earliest"|"latest"}`,
/// `{"offset": n}` or `{"time": "RFC 3339" | ns}`; the position found is committed.
pub async fn seek(
    State(state): State<AppState>,
    Path((channel, group)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<JsonValue>, ApiError> {
    let caller = state.auth.check(&headers, Role::Reader)?;
    check_group(&group)?;
    let bytes = read_body(body, 4096).await?;
    let seek: SeekBody = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request("invalid_json", format!("expected {{\"to\": \"earliest\"|\"latest\"}}, {{\"offset\": n}} or {{\"time\": t}}: {e}"))
    })?;
    let given = [
        seek.to.is_some(),
        seek.offset.is_some(),
        seek.time.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1
        || seek
            .to
            .as_deref()
            .is_some_and(|t| t != "earliest" && t != "latest")
    {
        return Err(invalid());
    }
    state.auth.take(&caller, 1.0)?;
    let ch = channel_of(&state, &channel)?;
    let stats = ch.stats();
    let offset = match (seek.to.as_deref(), seek.offset, seek.time) {
        (Some("earliest"), None, None) => stats.earliest,
        (Some("latest"), None, None) => stats.latest,
        (None, Some(o), None) => o.max(stats.earliest),
        (None, None, Some(t)) => {
            let ts = match &t {
                JsonValue::Number(n) => n.as_i64(),
                JsonValue::String(s) => times::parse_rfc3339(s),
                _ => None,
            }
            .ok_or_else(|| {
                ApiError::bad_request("invalid_seek", "time must be RFC 3339 or nanoseconds")
            })?;
            let c = Arc::clone(&ch);
            tokio::task::spawn_blocking(move || c.offset_for_time(ts)).await??
        }
        _ => return Err(invalid()),
    };
    let g = group.clone();
    tokio::task::spawn_blocking(move || ch.commit(&g, offset)).await??;
    Ok(Json(
        json!({"channel": channel, "group": group, "offset": offset}),
    ))
}

/// `GET /api/v1/channels/{channel}/consumers/{group}`: the committed offset and the lag.
pub async fn position(
    State(state): State<AppState>,
    Path((channel, group)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<JsonValue>, ApiError> {
    state.auth.check(&headers, Role::Reader)?;
    check_group(&group)?;
    let ch = channel_of(&state, &channel)?;
    let stats = ch.stats();
    let committed = ch.committed(&group);
    let lag = stats
        .latest
        .saturating_sub(committed.unwrap_or(0).max(stats.earliest));
    Ok(Json(
        json!({"channel": channel, "group": group, "offset": committed, "lag": lag}),
    ))
}

/// `GET /api/v1/channels`
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<JsonValue>, ApiError> {
    state.auth.check(&headers, Role::Reader)?;
    let channels: Vec<JsonValue> = state
        .broker
        .channels()
        .iter()
        .map(|c| {
            let s = c.stats();
            json!({
                "name": c.name,
                "earliest_offset": s.earliest,
                "latest_offset": s.latest,
                "segments": s.segments,
                "bytes": s.bytes,
                "groups": c.groups(),
            })
        })
        .collect();
    Ok(Json(json!({"channels": channels})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_records_with_service_and_level_labels() {
        let limits = Limits::default();
        let e = json!({"ts": "2024-05-01T10:00:00.5Z", "level": "WARNING", "message": "slow",
                       "labels": {"node": "n1"}, "fields": {"request_id": "r1", "took_ms": 12}});
        let r = event_record("api", &e, &limits, 7).unwrap();
        assert_eq!(r.ts, 1_714_557_600_500_000_000);
        assert_eq!(
            r.labels,
            vec![
                ("level".into(), "warn".into()),
                ("node".into(), "n1".into()),
                ("service".into(), "api".into())
            ]
        );
        assert_eq!(
            r.fields,
            vec![
                ("request_id".into(), "r1".into()),
                ("took_ms".into(), "12".into())
            ]
        );
        let bare = event_record("api", &json!({"message": "m"}), &limits, 7).unwrap();
        assert_eq!((bare.ts, bare.line.as_str()), (7, "m"));
    }

    #[test]
    fn bad_events_are_refused_with_a_reason() {
        let limits = Limits::default();
        let cases = [
            (json!("text"), "JSON object"),
            (json!({}), "message is required"),
            (json!({"message": 5}), "must be a string"),
            (json!({"message": "m", "level": "loud"}), "not one of"),
            (json!({"message": "m", "ts": -1}), "non-negative"),
            (json!({"message": "m", "ts": "yesterday"}), "RFC 3339"),
            (
                json!({"message": "m", "labels": {"__x": "y"}}),
                "label name",
            ),
            (
                json!({"message": "m", "labels": {"service": "other"}}),
                "set by the broker",
            ),
            (
                json!({"message": "m", "labels": {"a": 1}}),
                "must be a string",
            ),
            (json!({"message": "m", "extra": 1}), "unknown key"),
            (json!({"message": "x".repeat(70_000)}), "bytes, more than"),
        ];
        for (event, why) in cases {
            let e = event_record("api", &event, &limits, 0).unwrap_err();
            assert!(e.contains(why), "{event}: {e}");
        }
    }
}
