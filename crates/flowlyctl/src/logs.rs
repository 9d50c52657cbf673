//! `flowlyctl logs [-f] [SERVICE] [--since] [--grep] [--level]`: the services' logs from the
//! Docker engine, every container of a service merged in time order, each line prefixed with
//! the container's name.

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

pub async fn run(appliance: &Appliance, args: &LogsArgs) -> anyhow::Result<()> {
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
        for line in text.lines() {
            lines.push((
                line.split(' ').next().unwrap_or("").to_owned(),
                name.clone(),
                line.to_owned(),
            ));
        }
    }
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, name, line) in lines {
        print_line(&name, width, &line, args);
    }
    Ok(())
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
