//! Collecting the logs of other containers (PostgreSQL, Redis, nginx, Prometheus, the exporters)
//! through the Docker API, so LogPilot holds every service's logs, not only Flowly's own.
//!
//! Every running container of one compose project, but the services that ship their own logs,
//! is followed with `docker logs --follow --timestamps`. Lines go to the broker in batches
//! through its native API: channel = the compose service, label `node` = the container's name,
//! `level` guessed from the line. Each container is a producer (`docker-<id>`) whose batch
//! sequence is the timestamp of the batch's last line, and that timestamp is also the saved
//! position (`collect-positions.json`, written after each stored batch): after a restart a
//! container is read again from its saved second, lines up to the saved timestamp are skipped,
//! and the broker's producer de-duplication refuses any batch stored before. Nothing is lost or
//! stored twice across restarts of either side.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, LogsOptionsBuilder};
use futures::StreamExt;
use tokio::sync::watch;

/// What to collect, and where to send it.
#[derive(Debug, Clone)]
pub struct CollectConfig {
    /// The compose project whose containers are followed.
    pub project: String,
    /// Compose services that are not followed (they ship their own logs).
    pub skip_services: Vec<String>,
    /// The broker's base URL, such as `http://127.0.0.1:3100`.
    pub broker_url: String,
    /// A producer key, when the broker has keys.
    pub key: Option<String>,
    /// Where the saved positions live.
    pub positions_file: PathBuf,
}

/// Saved positions: container id → timestamp (ns) of the last line stored.
#[derive(Default)]
struct Positions {
    path: PathBuf,
    map: Mutex<BTreeMap<String, i64>>,
}

impl Positions {
    fn load(path: &Path) -> Self {
        let map = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Positions {
            path: path.to_owned(),
            map: Mutex::new(map),
        }
    }

    fn get(&self, container: &str) -> Option<i64> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(container)
            .copied()
    }

    /// Records a position and writes the file (atomically: temp file, then rename).
    fn set(&self, container: &str, ts: i64) -> std::io::Result<()> {
        let json = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.insert(container.to_owned(), ts);
            serde_json::to_vec(&*map).map_err(std::io::Error::other)?
        };
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, &self.path)
    }
}

/// Follows the project's containers until `shutdown` turns true.
pub async fn run(config: CollectConfig, mut shutdown: watch::Receiver<bool>) {
    let docker = match Docker::connect_with_local_defaults() {
        Ok(d) => match d.negotiate_version().await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot reach the Docker engine; container logs are not collected");
                return;
            }
        },
        Err(e) => {
            tracing::error!(error = %e, "cannot reach the Docker engine; container logs are not collected");
            return;
        }
    };
    let positions = Arc::new(Positions::load(&config.positions_file));
    let config = Arc::new(config);
    let client = reqwest::Client::new();
    let followed: Arc<Mutex<HashSet<String>>> = Arc::default();
    tracing::info!(project = %config.project, "collecting container logs");
    loop {
        match containers(&docker, &config).await {
            Ok(list) => {
                for (id, name, service) in list {
                    if !followed
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id.clone())
                    {
                        continue;
                    }
                    let follower = Follower {
                        docker: docker.clone(),
                        client: client.clone(),
                        config: Arc::clone(&config),
                        positions: Arc::clone(&positions),
                        id,
                        name,
                        service,
                    };
                    let followed = Arc::clone(&followed);
                    let stop = shutdown.clone();
                    tokio::spawn(async move {
                        let id = follower.id.clone();
                        follower.follow(stop).await;
                        followed
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&id);
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list the containers to collect"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Running containers of the project to follow: (id, name, service).
async fn containers(
    docker: &Docker,
    config: &CollectConfig,
) -> Result<Vec<(String, String, String)>, bollard::errors::Error> {
    let mut filters = HashMap::new();
    filters.insert(
        "label",
        vec![format!("com.docker.compose.project={}", config.project)],
    );
    let options = ListContainersOptionsBuilder::default()
        .filters(&filters)
        .build();
    Ok(docker
        .list_containers(Some(options))
        .await?
        .into_iter()
        .filter_map(|c| {
            let service = c.labels?.get("com.docker.compose.service")?.clone();
            let name = c
                .names?
                .into_iter()
                .next()?
                .trim_start_matches('/')
                .to_owned();
            Some((c.id?, name, service))
        })
        .filter(|(_, _, service)| !config.skip_services.contains(service))
        .filter(|(_, _, service)| crate::broker::valid_channel(service))
        .collect())
}

struct Follower {
    docker: Docker,
    client: reqwest::Client,
    config: Arc<CollectConfig>,
    positions: Arc<Positions>,
    id: String,
    name: String,
    service: String,
}

/// Lines sent per batch at most.
const BATCH: usize = 500;

impl Follower {
    async fn follow(self, mut shutdown: watch::Receiver<bool>) {
        let saved = self.positions.get(&self.id).unwrap_or(0);
        let mut options = LogsOptionsBuilder::default()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .timestamps(true);
        if saved > 0 {
            options = options.since((saved / 1_000_000_000) as i32);
        }
        let mut stream = self.docker.logs(&self.id, Some(options.build()));
        let mut batch: Vec<(i64, String)> = Vec::new();
        let mut last = saved;
        enum Next {
            Output(Option<Result<bollard::container::LogOutput, bollard::errors::Error>>),
            Flush,
            Stop,
        }
        loop {
            let next = tokio::select! {
                item = stream.next() => Next::Output(item),
                _ = tokio::time::sleep(Duration::from_millis(200)), if !batch.is_empty() => Next::Flush,
                _ = shutdown.wait_for(|s| *s) => Next::Stop,
            };
            let output = match next {
                Next::Output(Some(Ok(output))) => output,
                Next::Flush => {
                    self.send(&mut batch, &mut shutdown).await;
                    continue;
                }
                Next::Output(_) | Next::Stop => break,
            };
            for line in output.to_string().lines() {
                let Some((ts, text)) = parse(line) else {
                    continue;
                };
                if ts <= last {
                    continue;
                }
                last = ts;
                batch.push((ts, text.to_owned()));
                if batch.len() >= BATCH {
                    self.send(&mut batch, &mut shutdown).await;
                }
            }
        }
        self.send(&mut batch, &mut shutdown).await;
    }

    /// Sends the batch until the broker stores it (or refuses it as already stored), retrying
    /// with a growing pause while it is away.
    async fn send(&self, batch: &mut Vec<(i64, String)>, shutdown: &mut watch::Receiver<bool>) {
        let Some(&(seq, _)) = batch.last() else {
            return;
        };
        let events: Vec<serde_json::Value> = batch
            .iter()
            .map(|(ts, text)| {
                serde_json::json!({
                    "ts": ts,
                    "level": level_of(text),
                    "message": text,
                    "labels": {"node": self.name},
                })
            })
            .collect();
        let body = serde_json::json!({
            "producer_id": format!("docker-{}", &self.id[..self.id.len().min(12)]),
            "seq": seq,
            "events": events,
        });
        let url = format!(
            "{}/api/v1/channels/{}/events",
            self.config.broker_url, self.service
        );
        let mut pause = Duration::from_millis(200);
        loop {
            let mut request = self.client.post(&url).json(&body);
            if let Some(key) = &self.config.key {
                request = request.bearer_auth(key);
            }
            match request.send().await {
                Ok(r) if r.status().is_success() => break,
                Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                    // A batch the broker will never take (too large, malformed): say so and
                    // move on rather than block this container's logs forever.
                    tracing::warn!(container = %self.name, status = %r.status(), "LogPilot refused a batch of container logs");
                    break;
                }
                Ok(r) => tracing::debug!(status = %r.status(), "LogPilot is busy; retrying"),
                Err(e) => tracing::debug!(error = %e, "LogPilot does not answer; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            pause = (pause * 2).min(Duration::from_secs(5));
        }
        if let Err(e) = self.positions.set(&self.id, seq) {
            tracing::warn!(error = %e, "cannot save the container log positions");
        }
        batch.clear();
    }
}

/// Splits Docker's `<RFC 3339 timestamp> <line>` into (nanoseconds, line).
fn parse(line: &str) -> Option<(i64, &str)> {
    let (ts, text) = line.split_once(' ').unwrap_or((line, ""));
    let ts = chrono::DateTime::parse_from_rfc3339(ts).ok()?;
    Some((ts.timestamp_nanos_opt()?, text.trim_end_matches('\r')))
}

/// The level a line of PostgreSQL, Redis, nginx or a Go exporter says it is at (info when it
/// does not say).
pub fn level_of(line: &str) -> &'static str {
    let lower = line.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if has(&[
        "panic:",
        "fatal:",
        "[emerg]",
        "[crit]",
        "[alert]",
        "level=fatal",
    ]) {
        "fatal"
    } else if has(&["error:", "[error]", "level=error", " err "]) {
        "error"
    } else if has(&["warning:", "[warn]", "level=warn", " # warning"]) {
        "warn"
    } else if has(&["debug:", "[debug]", "level=debug"]) {
        "debug"
    } else {
        "info"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_lines_split_into_nanoseconds_and_text() {
        let (ts, text) =
            parse("2026-12-01T07:10:03.081914964Z LOG:  database system is ready").unwrap();
        assert_eq!(ts, 1_796_109_003_081_914_964);
        assert_eq!(text, "LOG:  database system is ready");
        assert!(parse("not a timestamp at all").is_none());
    }

    #[test]
    fn levels_come_from_each_services_own_notation() {
        assert_eq!(
            level_of("2026-12-01 07:10:03 UTC [7] FATAL:  role \"x\" does not exist"),
            "fatal"
        );
        assert_eq!(
            level_of("2026-12-01 07:10:03 UTC [7] ERROR:  relation does not exist"),
            "error"
        );
        assert_eq!(
            level_of("2026/12/01 07:10:03 [error] 29#29: *1 connect() failed"),
            "error"
        );
        assert_eq!(
            level_of("2026/12/01 07:10:03 [warn] 1#1: conflicting server name"),
            "warn"
        );
        assert_eq!(
            level_of("ts=2026-12-01T07:10:03Z level=warn msg=\"slow\""),
            "warn"
        );
        assert_eq!(
            level_of("6:M 01 Dec 2026 07:10:02.477 # WARNING Memory overcommit"),
            "warn"
        );
        assert_eq!(
            level_of("LOG:  database system is ready to accept connections"),
            "info"
        );
    }

    #[test]
    fn positions_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("logpilot-positions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("collect-positions.json");
        let positions = Positions::load(&path);
        assert_eq!(positions.get("abc"), None);
        positions.set("abc", 42).unwrap();
        assert_eq!(Positions::load(&path).get("abc"), Some(42));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
