//! Running a log pipeline over one record: line filters, parsers, label filters, `line_format`,
//! `drop`/`keep`.
//!
//! A pipeline of line filters alone (the common case, and the fast one) never copies labels;
//! a record's fields (its structured metadata, not indexed) are visible to label filters and
//! `line_format` without becoming stream labels.

use std::borrow::Cow;

use super::ast::*;
use crate::record::{Labels, RecordRef};

/// What a record looks like after the pipeline.
pub struct Output<'a> {
    pub line: Cow<'a, str>,
    /// `None`: the stream labels unchanged.
    pub labels: Option<Labels>,
}

impl LogExpr {
    /// Whether the stages only filter lines (labels stay the stream's).
    pub fn filters_lines_only(&self) -> bool {
        self.stages
            .iter()
            .all(|s| matches!(s, Stage::LineFilter { .. }))
    }

    /// Whether a stream's labels satisfy the selector.
    pub fn selects(&self, labels: &Labels) -> bool {
        self.selector.iter().all(|m| {
            m.matches(
                labels
                    .iter()
                    .find(|(k, _)| *k == m.name)
                    .map(|(_, v)| v.as_str()),
            )
        })
    }

    /// Runs the stages on `record` (whose stream is `stream`); `None` when it is filtered out.
    pub fn process<'a>(&self, record: &RecordRef<'a>, stream: &Labels) -> Option<Output<'a>> {
        let mut line: Cow<'a, str> = Cow::Borrowed(record.line);
        let mut labels: Option<Labels> = None;
        for stage in &self.stages {
            match stage {
                Stage::LineFilter { op, value, regex } => {
                    let keep = match op {
                        LineOp::Contains => line.contains(value.as_str()),
                        LineOp::NotContains => !line.contains(value.as_str()),
                        LineOp::Re => regex.as_ref().is_some_and(|r| r.is_match(&line)),
                        LineOp::NotRe => regex.as_ref().is_some_and(|r| !r.is_match(&line)),
                    };
                    if !keep {
                        return None;
                    }
                }
                Stage::Json => {
                    let l = labels.get_or_insert_with(|| stream.clone());
                    parse_json(&line, stream, l);
                }
                Stage::Logfmt => {
                    let l = labels.get_or_insert_with(|| stream.clone());
                    parse_logfmt(&line, stream, l);
                }
                Stage::LabelFilter(filter) => {
                    let l = labels.as_ref().unwrap_or(stream);
                    if !filter_matches(filter, l, record) {
                        return None;
                    }
                }
                Stage::LineFormat(parts) => {
                    let l = labels.as_ref().unwrap_or(stream);
                    let mut out = String::new();
                    for part in parts {
                        match part {
                            TemplatePart::Text(t) => out.push_str(t),
                            TemplatePart::Label(name) if name == "__line__" => out.push_str(&line),
                            TemplatePart::Label(name) => {
                                out.push_str(lookup(l, record, name).unwrap_or(""))
                            }
                        }
                    }
                    line = Cow::Owned(out);
                }
                Stage::Drop(names) => {
                    let l = labels.get_or_insert_with(|| stream.clone());
                    l.retain(|(k, _)| !names.contains(k));
                }
                Stage::Keep(names) => {
                    let l = labels.get_or_insert_with(|| stream.clone());
                    l.retain(|(k, _)| names.contains(k));
                    // As Loki keeps structured metadata: a kept field becomes a label, so a
                    // metric query can group by it (`| keep request_id` then `by (request_id)`).
                    for name in names {
                        if let Some(value) = record.field(name)
                            && let Err(i) = l.binary_search_by(|(k, _)| k.as_str().cmp(name))
                        {
                            l.insert(i, (name.clone(), value.to_owned()));
                        }
                    }
                }
            }
        }
        Some(Output { line, labels })
    }
}

/// A label's value: the pipeline's labels first, then the record's fields.
fn lookup<'l>(labels: &'l Labels, record: &RecordRef<'l>, name: &str) -> Option<&'l str> {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .or_else(|| record.field(name))
}

fn filter_matches(filter: &LabelFilter, labels: &Labels, record: &RecordRef<'_>) -> bool {
    match filter {
        LabelFilter::And(a, b) => {
            filter_matches(a, labels, record) && filter_matches(b, labels, record)
        }
        LabelFilter::Or(a, b) => {
            filter_matches(a, labels, record) || filter_matches(b, labels, record)
        }
        LabelFilter::Str(m) => m.matches(lookup(labels, record, &m.name)),
        LabelFilter::Num {
            name,
            op,
            value,
            kind,
        } => {
            let Some(text) = lookup(labels, record, name) else {
                return false;
            };
            let parsed = match kind {
                NumKind::Number => text.trim().parse::<f64>().ok(),
                NumKind::Duration => {
                    super::parser::parse_duration(text.trim()).map(|ns| ns as f64 / 1e9)
                }
                NumKind::Bytes => super::parser::parse_bytes(text.trim())
                    .or_else(|| text.trim().parse::<f64>().ok()),
            };
            parsed.is_some_and(|n| op.apply(n, *value))
        }
    }
}

/// Adds `name=value` as an extracted label: a name taken by a stream label gets `_extracted`,
/// as in Loki; a later value of the same extracted name wins.
fn add_label(labels: &mut Labels, stream: &Labels, name: String, value: String) {
    let name = if stream.iter().any(|(k, _)| *k == name) {
        format!("{name}_extracted")
    } else {
        name
    };
    match labels.binary_search_by(|(k, _)| k.as_str().cmp(&name)) {
        Ok(i) => labels[i].1 = value,
        Err(i) => labels.insert(i, (name, value)),
    }
}

/// A label name Prometheus accepts: other characters become `_`, a leading digit gets one.
fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn parse_json(line: &str, stream: &Labels, labels: &mut Labels) {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(map)) => {
            let mut flat = Vec::new();
            flatten("", &serde_json::Value::Object(map), &mut flat);
            for (k, v) in flat {
                add_label(labels, stream, k, v);
            }
        }
        _ => add_label(labels, stream, "__error__".into(), "JSONParserErr".into()),
    }
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    sanitize(k)
                } else {
                    format!("{prefix}_{}", sanitize(k))
                };
                flatten(&key, v, out);
            }
        }
        // Loki skips arrays.
        serde_json::Value::Array(_) => {}
        serde_json::Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        serde_json::Value::Null => out.push((prefix.to_owned(), String::new())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// Parses `key=value key="quoted value" bare` pairs; a line with no pair at all is an error.
fn parse_logfmt(line: &str, stream: &Labels, labels: &mut Labels) {
    let b = line.as_bytes();
    let mut i = 0;
    let mut found = false;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' {
            i += 1;
        }
        if start == i {
            i += 1;
            continue;
        }
        let key = sanitize(&line[start..i]);
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            if i < b.len() && b[i] == b'"' {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    let ch_len = line[i..].chars().next().map_or(1, char::len_utf8);
                    value.push_str(&line[i..i + ch_len]);
                    i += ch_len;
                }
                i += 1;
            } else {
                let vstart = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                value.push_str(&line[vstart..i]);
            }
        }
        found = true;
        add_label(labels, stream, key, value);
    }
    if !found {
        add_label(labels, stream, "__error__".into(), "LogfmtParserErr".into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse;
    use super::*;
    use crate::record::{self, Frame, NewRecord};

    fn run(query: &str, line: &str) -> Option<(String, Labels)> {
        let super::super::ast::Expr::Log(expr) = parse(query).unwrap() else {
            panic!()
        };
        let stream: Labels = vec![
            ("level".into(), "info".into()),
            ("service".into(), "api".into()),
        ];
        let mut buf = Vec::new();
        let new = NewRecord {
            ts: 1,
            labels: stream.clone(),
            fields: vec![("request_id".into(), "req-9".into())],
            line: line.into(),
        };
        record::encode(&mut buf, 0, 0, "", 0, &new);
        let Frame::Record(r, _) = record::decode(&buf) else {
            panic!()
        };
        assert!(expr.selects(&stream));
        expr.process(&r, &stream)
            .map(|o| (o.line.into_owned(), o.labels.unwrap_or(stream)))
    }

    #[test]
    fn line_filters_keep_and_drop_lines() {
        assert!(run(r#"{service="api"} |= "disk""#, "disk full").is_some());
        assert!(run(r#"{service="api"} |= "disk""#, "cpu hot").is_none());
        assert!(run(r#"{service="api"} != "disk""#, "disk full").is_none());
        assert!(run(r#"{service="api"} |~ "d.sk""#, "a disk").is_some());
        assert!(run(r#"{service="api"} !~ "d.sk""#, "a disk").is_none());
    }

    #[test]
    fn json_extracts_nested_fields_and_label_filters_compare_them() {
        let line =
            r#"{"level":"error","status":503,"took":"1.5s","http":{"path":"/x"},"tags":[1]}"#;
        let (_, labels) = run(r#"{service="api"} | json"#, line).unwrap();
        let get = |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("level_extracted").as_deref(), Some("error"));
        assert_eq!(get("level").as_deref(), Some("info"));
        assert_eq!(get("status").as_deref(), Some("503"));
        assert_eq!(get("http_path").as_deref(), Some("/x"));
        assert_eq!(get("tags"), None);
        assert!(
            run(
                r#"{service="api"} | json | status >= 500 and took > 1s"#,
                line
            )
            .is_some()
        );
        assert!(
            run(
                r#"{service="api"} | json | status < 500 or took > 2s"#,
                line
            )
            .is_none()
        );
        assert!(run(r#"{service="api"} | json | http_path=~"/x|/y""#, line).is_some());
        let (_, bad) = run(r#"{service="api"} | json"#, "not json").unwrap();
        assert!(bad.contains(&("__error__".into(), "JSONParserErr".into())));
        assert!(run(r#"{service="api"} | json | __error__="""#, "not json").is_none());
        let (_, dropped) = run(r#"{service="api"} | json | drop __error__"#, "not json").unwrap();
        assert!(!dropped.iter().any(|(k, _)| k == "__error__"));
    }

    #[test]
    fn logfmt_reads_quoted_and_bare_values() {
        let line = r#"at=info msg="user logged in" took=250ms bare size=2KB"#;
        let (_, labels) = run(r#"{service="api"} | logfmt"#, line).unwrap();
        let get = |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("msg").as_deref(), Some("user logged in"));
        assert_eq!(get("bare").as_deref(), Some(""));
        assert!(
            run(
                r#"{service="api"} | logfmt | took >= 250ms, size > 1KB"#,
                line
            )
            .is_some()
        );
        assert!(run(r#"{service="api"} | logfmt | took > 250ms"#, line).is_none());
    }

    #[test]
    fn fields_are_filterable_and_line_format_rewrites_the_line() {
        assert!(run(r#"{service="api"} | request_id="req-9""#, "x").is_some());
        assert!(run(r#"{service="api"} | request_id="other""#, "x").is_none());
        assert!(run(r#"{service="api"} | level="info""#, "x").is_some());
        let (line, _) = run(
            r#"{service="api"} | logfmt | line_format "{{.level}} {{.msg}} [{{.request_id}}] {{.__line__}}""#,
            "msg=hello",
        )
        .unwrap();
        assert_eq!(line, "info hello [req-9] msg=hello");
        let (_, kept) = run(r#"{service="api"} | keep service"#, "x").unwrap();
        assert_eq!(kept, vec![("service".to_owned(), "api".to_owned())]);
        let (_, kept) = run(r#"{service="api"} | keep request_id, service"#, "x").unwrap();
        assert_eq!(
            kept,
            vec![
                ("request_id".to_owned(), "req-9".to_owned()),
                ("service".to_owned(), "api".to_owned())
            ]
        );
        let (_, none) = run(r#"{service="api"} | keep user_id"#, "x").unwrap();
        assert!(none.is_empty());
    }
}
