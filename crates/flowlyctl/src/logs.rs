//! `flowlyctl logs [-f] [SERVICE] [--since] [--grep] [--level]`: every service's logs from
//! LogPilot, in time order, each line prefixed with `<service>@<node>`. Flowly's own processes
//! ship theirs there; LogPilot collects the other containers' through the Docker API. When
//! LogPilot does not answer, the logs come from the Docker engine itself.

use std::time::Duration;

use anyhow::bail;
use bollard::query_parameters::LogsOptionsBuilder;
use futures::StreamExt;

use crate::appliance::Appliance;

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Only this service (app, worker, postgres, redis, nginx, …); all when left out.
    pub service: Option<String>,
    /// Keep printing new lines as they come.
    #[arg(short, long)]
    pub follow: bool,
    /// Only lines from this long ago on: 30s, 10m, 2h, 1d.
    #[arg(long, value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Only lines containing this text.
    #[arg(long)]
    pub grep: Option<String>,
    /// Only lines at this level or worse (error, warn, info, debug), for services that log
    /// levels (Flowly's JSON lines, PostgreSQL's ERROR/FATAL…).
    #[arg(long)]
    pub level: Option<Level>,
    /// Lines per container to start from (default: all within --since, or the last 100).
    #[arg(long)]
    pub tail: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 30s, 10m, 2h or 1d"))?;
    let secs = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("`{s}`: the unit must be s, m, h or d")),
    };
    Ok(Duration::from_secs(secs))
}

/// The level a log line is at, when it says.
fn line_level(line: &str) -> Option<Level> {
    let lower = line.to_ascii_lowercase();
    for (needle, level) in [
        ("\"level\":\"error\"", Level::Error),
        ("\"level\":\"warn\"", Level::Warn),
        ("\"level\":\"info\"", Level::Info),
        ("\"level\":\"debug\"", Level::Debug),
        ("\"level\":\"trace\"", Level::Debug),
        (" error: ", Level::Error),
        (" fatal: ", Level::Error),
        (" panic: ", Level::Error),
        (" [error] ", Level::Error),
        (" [crit] ", Level::Error),
        (" [emerg] ", Level::Error),
        (" warning: ", Level::Warn),
        (" [warn] ", Level::Warn),
        (" # ", Level::Warn),
    ] {
        if lower.contains(needle) {
            return Some(level);
        }
    }
    None
}

pub fn keep(line: &str, args: &LogsArgs) -> bool {
    if let Some(g) = &args.grep
        && !line.contains(g.as_str())
    {
        return false;
    }
    match args.level {
        None => true,
        Some(max) => line_level(line).is_some_and(|l| l <= max),
    }
}

/// The LogPilot `service` label of a compose service: Flowly's own processes ship as
/// `flowly-<role>`; the other containers are collected under their compose service's name.
fn label_of(service: &str) -> String {
    match service {
        "app" => "flowly-serve".into(),
        "worker" => "flowly-worker".into(),
        "logpilot" => "flowly-logpilot".into(),
        other => other.into(),
    }
}

pub async fn run(appliance: &Appliance, args: &LogsArgs) -> anyhow::Result<()> {
    match LogPilot::find(appliance).await {
        Ok(logpilot) => {
            let services = match args.service.as_deref() {
                Some(s) => regex::escape(&label_of(s)),
                None => ".+".to_owned(),
            };
            return logpilot.print(&services, args).await;
        }
        Err(e) => eprintln!("LogPilot does not answer ({e:#}); reading the logs from Docker"),
    }
    docker(appliance, args).await
}

/// The engine's own logs of the containers, when LogPilot cannot answer.
async fn docker(appliance: &Appliance, args: &LogsArgs) -> anyhow::Result<()> {
    let containers: Vec<_> = appliance
        .containers()
        .await?
        .into_iter()
        .filter(|c| args.service.as_deref().is_none_or(|s| c.service == s))
        .collect();
    if containers.is_empty() {
        let services: std::collections::BTreeSet<String> = appliance
            .containers()
            .await?
            .into_iter()
            .map(|c| c.service)
            .collect();
        bail!(
            "no containers of the service `{}`; the services are: {}",
            args.service.as_deref().unwrap_or("*"),
            services.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let since = args
        .since
        .map(|d| (chrono::Utc::now().timestamp() - d.as_secs() as i64).max(0) as i32);
    let tail = match (args.tail, since) {
        (Some(n), _) => n.to_string(),
        (None, Some(_)) => "all".into(),
        (None, None) => "100".into(),
    };
    let width = containers.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut streams = Vec::new();
    for c in &containers {
        let mut options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .follow(args.follow)
            .tail(&tail);
        if let Some(since) = since {
            options = options.since(since);
        }
        let name = c.name.clone();
        let stream = appliance
            .docker
            .logs(&c.id, Some(options.build()))
            .map(move |item| item.map(|out| (name.clone(), out.to_string())));
        streams.push(stream.boxed());
    }
    let mut merged = futures::stream::select_all(streams);
    if args.follow {
        while let Some(item) = merged.next().await {
            let (name, text) = item?;
            for line in text.lines() {
                print_line(&name, width, line, args);
            }
        }
        return Ok(());
    }
    // Not following: collect everything, then print in time order (timestamps come first).
    let mut lines = Vec::new();
    while let Some(item) = merged.next().await {
        let (name, text) = item?;
        for line in text.lines().filter(|l| keep(l, args)) {
            let ts = line.split(' ').next().unwrap_or("").to_owned();
            lines.push((ts, name.clone(), line.to_owned()));
        }
    }
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    let width = lines.iter().map(|l| l.1.len()).max().unwrap_or(width);
    for (_, name, line) in lines {
        println!("{name:width$} | {line}");
    }
    Ok(())
}

/// LogPilot, read through its Loki API at the container's address with the reader key.
struct LogPilot {
    base: String,
    key: String,
    client: reqwest::Client,
}

impl LogPilot {
    async fn find(appliance: &Appliance) -> anyhow::Result<Self> {
        let container =
            crate::engine::one(&appliance.docker, &appliance.project, "logpilot").await?;
        let address = crate::engine::address(&appliance.docker, &container.id).await?;
        let key = appliance
            .env()?
            .get("LOGPILOT_READER_KEY")
            .unwrap_or_default()
            .to_owned();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let base = format!("http://{address}:3100");
        client
            .get(format!("{base}/ready"))
            .send()
            .await?
            .error_for_status()?;
        Ok(LogPilot { base, key, client })
    }

    /// The LogQL query for these services and filters.
    fn query(services: &str, args: &LogsArgs) -> String {
        let mut selector = format!(
            "service=~{}",
            serde_json::Value::String(services.to_owned())
        );
        if let Some(max) = args.level {
            let levels: &[&str] = match max {
                Level::Error => &["error", "fatal"],
                Level::Warn => &["error", "fatal", "warn"],
                Level::Info => &["error", "fatal", "warn", "info"],
                Level::Debug => &["error", "fatal", "warn", "info", "debug", "trace"],
            };
            selector.push_str(&format!(", level=~\"{}\"", levels.join("|")));
        }
        let mut query = format!("{{{selector}}}");
        if let Some(g) = &args.grep {
            query.push_str(&format!(" |= {}", serde_json::Value::String(g.clone())));
        }
        query
    }

    /// The newest `limit` (at least 1) lines from `start` (ns) to now, oldest first:
    /// (timestamp, source, line).
    async fn lines(
        &self,
        services: &str,
        args: &LogsArgs,
        start: i128,
        limit: usize,
    ) -> anyhow::Result<Vec<(String, String, String)>> {
        let now = now_ns();
        let limit = limit.max(1);
        let response: serde_json::Value = self
            .client
            .get(format!("{}/loki/api/v1/query_range", self.base))
            .bearer_auth(&self.key)
            .query(&[
                ("query", Self::query(services, args)),
                ("start", start.to_string()),
                ("end", (now + 1).to_string()),
                ("limit", limit.to_string()),
                ("direction", "backward".to_owned()),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut out = Vec::new();
        for stream in response["data"]["result"].as_array().into_iter().flatten() {
            let labels = &stream["stream"];
            let source = format!(
                "{}@{}",
                labels["service"].as_str().unwrap_or("?"),
                labels["node"].as_str().unwrap_or("?")
            );
            let level = labels["level"].as_str().unwrap_or("").to_uppercase();
            for value in stream["values"].as_array().into_iter().flatten() {
                let ns: i128 = value[0].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
                let ts = timestamp(ns);
                let line = format!("{ts} {level:5} {}", value[1].as_str().unwrap_or(""));
                out.push((ts, source.clone(), line));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        if out.len() > limit {
            out.drain(..out.len() - limit);
        }
        Ok(out)
    }

    /// Prints the lines, then with --follow keeps asking for newer ones every second.
    async fn print(&self, services: &str, args: &LogsArgs) -> anyhow::Result<()> {
        let since = args.since.unwrap_or(Duration::from_secs(3600)).as_nanos() as i128;
        let tail = args
            .tail
            .unwrap_or(if args.since.is_some() { 5000 } else { 100 });
        // `--tail 0`: nothing from the past, only what comes (with --follow) from now on.
        let (mut lines, mut last) = if tail == 0 {
            (Vec::new(), Some(timestamp(now_ns())))
        } else {
            (
                self.lines(services, args, now_ns() - since, tail).await?,
                None,
            )
        };
        loop {
            for (ts, source, line) in &lines {
                if last.as_ref().is_some_and(|l| ts <= l) {
                    continue;
                }
                println!("{source} | {line}");
                last = Some(ts.clone());
            }
            if !args.follow {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            let from = last
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .and_then(|t| t.timestamp_nanos_opt())
                .map_or(now_ns() - since, |n| n as i128);
            lines = self.lines(services, args, from, FOLLOW_BATCH).await?;
        }
    }
}

/// How many new lines `logs -f` takes per poll (a second's worth, even on a busy appliance).
const FOLLOW_BATCH: usize = 5000;

fn now_ns() -> i128 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as i128
}

/// RFC 3339 with nanoseconds, so that lines compare in time order as strings.
fn timestamp(ns: i128) -> String {
    chrono::DateTime::from_timestamp_nanos(ns as i64)
        .format("%Y-%m-%dT%H:%M:%S%.9fZ")
        .to_string()
}

fn print_line(name: &str, width: usize, line: &str, args: &LogsArgs) {
    if keep(line, args) {
        println!("{name:width$} | {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(grep: Option<&str>, level: Option<Level>) -> LogsArgs {
        LogsArgs {
            service: None,
            follow: false,
            since: None,
            grep: grep.map(str::to_owned),
            level,
            tail: None,
        }
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
        assert!(parse_duration("ten minutes").is_err());
        assert!(parse_duration("5y").is_err());
    }

    #[test]
    fn levels_filter_worse_or_equal() {
        let error = r#"2026-12-01T06:00:00Z {"level":"ERROR","message":"boom"}"#;
        let info = r#"2026-12-01T06:00:00Z {"level":"INFO","message":"fine"}"#;
        let pg = "2026-12-01T06:00:00Z 2026-12-01 06:00:00 UTC [7] FATAL:  role does not exist";
        assert!(keep(error, &args(None, Some(Level::Warn))));
        assert!(!keep(info, &args(None, Some(Level::Warn))));
        assert!(keep(info, &args(None, Some(Level::Info))));
        assert!(keep(pg, &args(None, Some(Level::Error))));
        assert!(keep(info, &args(Some("fine"), None)));
        assert!(!keep(info, &args(Some("boom"), None)));
    }
}
