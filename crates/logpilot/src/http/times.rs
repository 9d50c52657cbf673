//! Times as the APIs take them: RFC 3339, nanoseconds, seconds with a fraction; durations as
//! `5m` or seconds.

use crate::logql::parser::parse_duration;

/// Now, in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// An RFC 3339 time in nanoseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .filter(|ns| *ns >= 0)
}

/// A Loki time parameter: RFC 3339, a Unix time in seconds (with a fraction, or up to 10
/// digits), or nanoseconds.
pub fn parse_time(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.contains('T') || (t.contains('-') && !t.starts_with('-')) {
        return parse_rfc3339(t);
    }
    if t.contains('.') || t.contains('e') {
        let secs: f64 = t.parse().ok()?;
        return (secs.is_finite() && secs >= 0.0).then_some((secs * 1e9) as i64);
    }
    let n: i64 = t.parse().ok()?;
    if n < 0 {
        return None;
    }
    Some(if t.len() <= 10 {
        n.checked_mul(1_000_000_000)?
    } else {
        n
    })
}

/// A Loki step or duration parameter: `15s`, `1m30s`, or seconds (`15`, `0.5`), in ns.
pub fn parse_step(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return (secs.is_finite() && secs > 0.0).then_some((secs * 1e9) as i64);
    }
    parse_duration(t).filter(|ns| *ns > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loki_time_parameters_read_in_every_form_grafana_sends() {
        assert_eq!(parse_time("1700000000"), Some(1_700_000_000_000_000_000));
        assert_eq!(parse_time("1700000000.5"), Some(1_700_000_000_500_000_000));
        assert_eq!(
            parse_time("1700000000123456789"),
            Some(1_700_000_000_123_456_789)
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(parse_time("soon"), None);
        assert_eq!(parse_time("-5"), None);
        assert_eq!(parse_step("15s"), Some(15_000_000_000));
        assert_eq!(parse_step("0.5"), Some(500_000_000));
        assert_eq!(parse_step("0"), None);
    }
}
