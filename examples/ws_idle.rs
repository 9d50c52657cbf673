//! Idle WebSocket memory benchmark (not a test): how much resident memory does a Flowly node
//! spend per idle, authenticated, resumed socket?
//!
//! It logs a benchmark user in over REST (registering it on first use), makes sure the user
//! follows a few group rooms, opens a few warm-up sockets and closes them, samples the server's
//! RSS (`VmRSS` in `/proc/PID/status`), then opens `--sockets` WebSockets to `/api/v1/ws` (each
//! reads `hello`, sends `resume` and waits for `resumed`), keeps them idle for `--idle-secs`
//! (answering the server's pings), samples the RSS again, closes every socket and prints a
//! Markdown table for docs/capacity.md. The run is bounded in time and stops by itself.
//!
//! Sockets are spread over the source addresses 127.0.0.2, 127.0.0.3, ... (`--per-source` each)
//! so ephemeral ports never run out. Both processes need `ulimit -n` above `--sockets`.
//!
//! ```text
//! export CARGO_TARGET_DIR=~/.cache/flowly/target
//! cargo build --release --bin flowly --example ws_idle
//! ulimit -n 20000
//! $CARGO_TARGET_DIR/release/examples/ws_idle --base http://127.0.0.1:18080 --server-pid PID --sockets 10000
//! ```

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use clap::Parser;
use futures::{SinkExt, StreamExt, stream::FuturesUnordered};
use serde_json::{Value, json};
use tokio::{
    net::{TcpSocket, TcpStream, lookup_host},
    sync::watch,
    task::JoinHandle,
};
use tokio_tungstenite::{
    WebSocketStream, client_async_with_config,
    tungstenite::{Message, client::IntoClientRequest, protocol::WebSocketConfig},
};

#[derive(Parser, Debug)]
#[command(
    about = "Connects N idle authenticated WebSockets to one Flowly node and reports the node's RSS per socket"
)]
struct Args {
    /// The node's base URL.
    #[arg(long, default_value = "http://127.0.0.1:18080")]
    base: String,
    /// The node's process id, whose /proc/PID/status is sampled.
    #[arg(long)]
    server_pid: u32,
    /// Idle sockets to hold open at once.
    #[arg(long, default_value_t = 10_000)]
    sockets: usize,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Sockets per source address (127.0.0.2, 127.0.0.3, ...).
    #[arg(long, default_value_t = 500)]
    per_source: usize,
    /// Seconds the sockets stay idle before the measurement.
    #[arg(long, default_value_t = 10)]
    idle_secs: u64,
    /// Sockets opened and closed before the baseline, so lazily built state (pools, caches,
    /// allocator arenas) is part of the baseline rather than of the per-socket figure.
    #[arg(long, default_value_t = 50)]
    warmup: usize,
    /// Benchmark users; sockets are spread round-robin over them. More than the node's
    /// `auth.registrations_per_ip_per_hour` (20) needs that limit raised.
    #[arg(long, default_value_t = 1)]
    users: usize,
    /// Username prefix of the benchmark users (`<prefix>-0`, `<prefix>-1`, ...).
    #[arg(long, default_value = "bench-idle")]
    username: String,
    #[arg(long, default_value = "idle sockets hum beside 9 quiet wolves")]
    password: String,
    /// Group rooms each benchmark user follows (created when missing).
    #[arg(long, default_value_t = 2)]
    rooms: usize,
    /// Seconds one socket may take from TCP connect to `resumed`.
    #[arg(long, default_value_t = 30)]
    open_timeout_secs: u64,
    /// Seconds the whole connect phase may take before the run gives up on the rest.
    #[arg(long, default_value_t = 300)]
    connect_budget_secs: u64,
    /// Client-side read buffer per socket (tungstenite's default of 128 KiB would cost this
    /// process gigabytes; it does not change the server's figure).
    #[arg(long, default_value_t = 4096)]
    client_read_buffer: usize,
}

/// One sample of a process's memory, from /proc/PID/status (KiB).
#[derive(Debug, Clone, Copy, Default)]
struct Mem {
    rss: u64,
    anon: u64,
    file: u64,
    threads: u64,
}

fn sample(pid: u32) -> anyhow::Result<Mem> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status (is the server running?)"))?;
    let mut mem = Mem::default();
    for line in status.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let value: u64 = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        match key {
            "VmRSS" => mem.rss = value,
            "RssAnon" => mem.anon = value,
            "RssFile" => mem.file = value,
            "Threads" => mem.threads = value,
            _ => {}
        }
    }
    if mem.rss == 0 {
        bail!("no VmRSS in /proc/{pid}/status");
    }
    Ok(mem)
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Logs in, registering the account on first use; returns the session token.
async fn session(
    http: &reqwest::Client,
    api: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<String> {
    let register = http
        .post(format!("{api}/auth/register"))
        .json(&json!({ "username": username, "display_name": "Idle benchmark", "password": password }))
        .send()
        .await
        .context("POST /auth/register")?;
    let response = match register.status().as_u16() {
        201 => register,
        409 => {
            let login = http
                .post(format!("{api}/auth/login"))
                .json(&json!({ "username": username, "password": password }))
                .send()
                .await
                .context("POST /auth/login")?;
            if !login.status().is_success() {
                bail!(
                    "login as {username} failed: {} {}",
                    login.status(),
                    login.text().await.unwrap_or_default()
                );
            }
            login
        }
        _ => bail!(
            "register {username} failed: {} {}",
            register.status(),
            register.text().await.unwrap_or_default()
        ),
    };
    let body: Value = response.json().await?;
    body["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no token in the session response: {body}"))
}

/// Makes sure the user owns at least `want` group rooms; returns how many rooms it follows.
async fn ensure_rooms(
    http: &reqwest::Client,
    api: &str,
    token: &str,
    want: usize,
) -> anyhow::Result<usize> {
    let rooms: Vec<Value> = http
        .get(format!("{api}/rooms"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let groups = rooms.iter().filter(|r| r["kind"] == "group").count();
    for i in groups..want {
        http.post(format!("{api}/rooms"))
            .bearer_auth(token)
            .json(&json!({ "name": format!("idle bench {i}"), "topic": "ws_idle benchmark" }))
            .send()
            .await?
            .error_for_status()
            .context("POST /rooms")?;
    }
    Ok(rooms.len() + want.saturating_sub(groups))
}

type Ws = WebSocketStream<TcpStream>;

/// The next text frame as JSON, skipping pings and pongs.
async fn next_json(ws: &mut Ws) -> anyhow::Result<Value> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text)?),
            Some(Ok(Message::Close(frame))) => bail!("closed by the server: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => bail!("read: {e}"),
            None => bail!("connection dropped"),
        }
    }
}

/// TCP from `source`, WebSocket handshake with the bearer token, `hello`, `resume`, `resumed`.
async fn open_socket(
    server: SocketAddr,
    source: IpAddr,
    url: &str,
    token: &str,
    config: WebSocketConfig,
) -> anyhow::Result<Ws> {
    let socket = TcpSocket::new_v4().context("socket")?;
    socket
        .bind(SocketAddr::new(source, 0))
        .with_context(|| format!("bind {source}"))?;
    let stream = socket.connect(server).await.context("connect")?;
    stream.set_nodelay(true)?;
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut ws, _) = client_async_with_config(request, stream, Some(config))
        .await
        .context("handshake")?;
    let hello = next_json(&mut ws).await.context("hello")?;
    if hello["type"] != "hello" {
        bail!("expected hello, got {hello}");
    }
    ws.send(Message::Text(
        json!({ "type": "resume", "rooms": {} }).to_string().into(),
    ))
    .await
    .context("send resume")?;
    loop {
        let frame = next_json(&mut ws).await.context("resumed")?;
        if frame["type"] == "resumed" {
            return Ok(ws);
        }
    }
}

/// Keeps a socket idle: reading answers the server's pings. Closes it when `stop` flips.
fn hold(mut ws: Ws, mut stop: watch::Receiver<bool>, dropped: Arc<AtomicUsize>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Some(Ok(_)) => {}
                },
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        let closing = async {
            let _ = ws.close(None).await;
            while let Some(Ok(_)) = ws.next().await {}
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), closing).await;
    })
}

/// The source address of socket `i`: 127.0.0.2 onward, `per_source` sockets each.
fn source_for(i: usize, per_source: usize) -> anyhow::Result<IpAddr> {
    let n = 2 + i / per_source.max(1);
    if n > 254 * 255 {
        bail!("too many source addresses; raise --per-source");
    }
    Ok(IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        (n / 255) as u8,
        (n % 255) as u8,
    )))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let pid = args.server_pid;
    let api = format!("{}/api/v1", args.base.trim_end_matches('/'));
    let url = format!("{}/ws", api.replacen("http://", "ws://", 1));
    let host = args
        .base
        .trim_end_matches('/')
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--base must be an http:// URL"))?
        .to_owned();
    let server = lookup_host(&host)
        .await?
        .find(SocketAddr::is_ipv4)
        .ok_or_else(|| anyhow!("{host} has no IPv4 address"))?;
    let config = WebSocketConfig::default()
        .read_buffer_size(args.client_read_buffer)
        .write_buffer_size(0);
    sample(pid)?;

    // Accounts and rooms.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut tokens = Vec::new();
    let mut rooms_followed = 0;
    for u in 0..args.users.max(1) {
        let username = format!("{}-{u}", args.username);
        let token = session(&http, &api, &username, &args.password).await?;
        rooms_followed = ensure_rooms(&http, &api, &token, args.rooms).await?;
        tokens.push(token);
    }
    let tokens = Arc::new(tokens);
    eprintln!(
        "ws_idle: {} user(s), each following {rooms_followed} room(s)",
        tokens.len()
    );

    // Warm-up: a few sockets opened and closed.
    let (warm_stop, warm_rx) = watch::channel(false);
    let warm_dropped = Arc::new(AtomicUsize::new(0));
    let mut warm = Vec::new();
    for i in 0..args.warmup {
        let ws = open_socket(
            server,
            source_for(i, args.per_source)?,
            &url,
            &tokens[i % tokens.len()],
            config,
        )
        .await
        .context("warm-up socket")?;
        warm.push(hold(ws, warm_rx.clone(), warm_dropped.clone()));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = warm_stop.send(true);
    for task in warm {
        let _ = task.await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let baseline = sample(pid)?;
    let baseline_fds = open_files(pid);
    eprintln!(
        "ws_idle: baseline RSS {} ({} open files)",
        mib(baseline.rss),
        baseline_fds
    );

    // Connect.
    let (stop, stop_rx) = watch::channel(false);
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut latencies = Vec::with_capacity(args.sockets);
    let mut held = Vec::with_capacity(args.sockets);
    let started = Instant::now();
    let budget = Duration::from_secs(args.connect_budget_secs);
    let open_timeout = Duration::from_secs(args.open_timeout_secs);
    let mut attempts = futures::stream::iter(0..args.sockets)
        .map(|i| {
            let url = url.clone();
            let tokens = tokens.clone();
            let per_source = args.per_source;
            async move {
                let begun = Instant::now();
                let source = source_for(i, per_source)?;
                let opened = tokio::time::timeout(
                    open_timeout,
                    open_socket(server, source, &url, &tokens[i % tokens.len()], config),
                )
                .await
                .map_err(|_| anyhow!("timed out opening"))??;
                Ok::<_, anyhow::Error>((opened, begun.elapsed()))
            }
        })
        .buffer_unordered(args.concurrency.max(1));
    let mut progress = Instant::now();
    let mut over_budget = false;
    loop {
        let left = budget.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, attempts.next()).await {
            Ok(Some(Ok((ws, took)))) => {
                latencies.push(took);
                held.push(hold(ws, stop_rx.clone(), dropped.clone()));
            }
            Ok(Some(Err(e))) => {
                let key = format!("{e:#}");
                let key: String = key.chars().take(160).collect();
                *failures.entry(key).or_default() += 1;
            }
            Ok(None) => break,
            Err(_) => {
                over_budget = true;
                break;
            }
        }
        if progress.elapsed() >= Duration::from_secs(5) {
            progress = Instant::now();
            eprintln!(
                "ws_idle: {} open after {:.1}s, server RSS {}",
                held.len(),
                started.elapsed().as_secs_f64(),
                mib(sample(pid)?.rss)
            );
        }
    }
    drop(attempts);
    let connect_time = started.elapsed();
    let opened = held.len();
    let at_connect = sample(pid)?;
    eprintln!(
        "ws_idle: {opened} sockets open in {:.1}s; idling {}s",
        connect_time.as_secs_f64(),
        args.idle_secs
    );

    // Idle.
    let mut peak = at_connect;
    let idle_until = Instant::now() + Duration::from_secs(args.idle_secs);
    while Instant::now() < idle_until {
        tokio::time::sleep(Duration::from_secs(1).min(idle_until - Instant::now())).await;
        let now = sample(pid)?;
        if now.rss > peak.rss {
            peak = now;
        }
    }
    let idle = sample(pid)?;
    let idle_fds = open_files(pid);
    let still_open = opened - dropped.load(Ordering::Relaxed);

    // Close everything, bounded.
    let closing = Instant::now();
    let _ = stop.send(true);
    let mut closers: FuturesUnordered<_> = held.into_iter().collect();
    let closed_all = tokio::time::timeout(Duration::from_secs(60), async {
        while closers.next().await.is_some() {}
    })
    .await
    .is_ok();
    drop(closers); // tasks still closing are cancelled when main returns
    let close_time = closing.elapsed();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = sample(pid)?;
    let client = sample(std::process::id())?;

    // Report.
    let delta = idle.rss.saturating_sub(baseline.rss);
    let delta_anon = idle.anon.saturating_sub(baseline.anon);
    let per_socket = |kib: u64| {
        if still_open == 0 {
            f64::NAN
        } else {
            kib as f64 / still_open as f64
        }
    };
    latencies.sort();
    let failed: usize = failures.values().sum();
    let not_tried = args.sockets.saturating_sub(opened + failed);
    println!("| measure | value |");
    println!("| --- | --- |");
    println!(
        "| sockets requested / opened / still open after idle | {} / {opened} / {still_open} |",
        args.sockets
    );
    println!(
        "| failed opens | {failed}{} |",
        if over_budget {
            format!(" (+{not_tried} not tried: connect budget spent)")
        } else {
            String::new()
        }
    );
    println!(
        "| users / rooms followed per user | {} / {rooms_followed} |",
        tokens.len()
    );
    println!(
        "| connect time (concurrency {}) | {:.1} s ({:.0} sockets/s) |",
        args.concurrency,
        connect_time.as_secs_f64(),
        opened as f64 / connect_time.as_secs_f64().max(1e-9)
    );
    println!(
        "| open latency p50 / p99 / max (TCP → `resumed`) | {:.1} / {:.1} / {:.1} ms |",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "| server RSS baseline (after {} warm-up sockets) | {} ({} KiB) |",
        args.warmup,
        mib(baseline.rss),
        baseline.rss
    );
    println!(
        "| server RSS right after connecting | {} |",
        mib(at_connect.rss)
    );
    println!(
        "| server RSS after {} s idle | {} ({} KiB) |",
        args.idle_secs,
        mib(idle.rss),
        idle.rss
    );
    println!("| server RSS peak while idle | {} |", mib(peak.rss));
    println!(
        "| **RSS delta per idle socket** | **{:.1} KiB** (anonymous: {:.1} KiB) |",
        per_socket(delta),
        per_socket(delta_anon)
    );
    println!(
        "| server RssAnon / RssFile after idle | {} / {} |",
        mib(idle.anon),
        mib(idle.file)
    );
    println!(
        "| server threads / open files (baseline → idle) | {} → {} / {baseline_fds} → {idle_fds} |",
        baseline.threads, idle.threads
    );
    println!(
        "| server RSS 5 s after closing all | {} (closed in {:.1} s{}) |",
        mib(after.rss),
        close_time.as_secs_f64(),
        if closed_all {
            ""
        } else {
            ", some did not close in 60 s"
        }
    );
    println!("| benchmark client RSS | {} |", mib(client.rss));
    if !failures.is_empty() {
        println!();
        println!("Failures:");
        for (reason, count) in failures.iter() {
            println!("- {count} × {reason}");
        }
    }
    Ok(())
}
