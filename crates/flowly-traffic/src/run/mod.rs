//! One generator process: opens the sockets of its share of the online users, runs the open
//! workload for a fixed time with churn and an optional reconnect storm, and returns what it
//! measured. Several processes (`--shard i/n`) split one profile between them.
//!
//! This module is the driver (the ramp, the measured window, the drain); what a simulated user
//! does over REST is in [`operations`], each device's WebSocket in [`socket`], churn and the
//! reconnect storm in [`disturbances`], and the live progress output in [`progress`].

mod disturbances;
mod operations;
mod progress;
mod socket;
mod verify;

pub use socket::backoff_delay;
pub use verify::{Live, Verification, sender_target};

use std::{
    collections::{HashMap, VecDeque},
    net::Ipv4Addr,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::bail;
use rand::{Rng, SeedableRng, rngs::StdRng};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Notify, Semaphore, watch};
use uuid::Uuid;

use super::{
    client::{self, Target},
    manifest::{Manifest, RoomClass},
    profile::{Op, Profile, sockets_of},
    schedule::Schedule,
    stats::{Outcome, Snapshot, Stats},
};
use disturbances::{churn_task, storm_task};
use operations::{login, perform};
use progress::progress_task;
use socket::{DROP_NONE, SocketCtl, socket_task};

/// The marker that starts the body of every message the generator sends, followed by the send
/// time in microseconds since the epoch: receivers compute the delivery latency from it.
pub const STAMP: &str = "⏱";

/// How one generator process runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub targets: Vec<Target>,
    pub profile: Profile,
    pub scale: f64,
    /// The measured part of the run.
    pub duration: Duration,
    /// At most this long to open the sockets before measuring starts.
    pub ramp: Duration,
    pub shard: u32,
    pub shards: u32,
    pub sources: Vec<Ipv4Addr>,
    /// When the measured part starts (wall clock), so that several processes line up. `None`:
    /// as soon as the sockets are open.
    pub start_at: Option<SystemTime>,
    /// Time-series bucket.
    pub interval: Duration,
    pub seed: u64,
    /// Sockets opened at once during the ramp.
    pub connect_concurrency: usize,
    /// Operations in flight at once before new arrivals count as `generator_overloaded`.
    pub max_in_flight: usize,
    /// Print a progress line (a live bar on a terminal, a line every 10 s otherwise).
    pub progress: bool,
    /// Check what clients see (see [`verify`]): each device resumes from its own positions,
    /// sends are retried with their `client_id` until acknowledged, questions to the assistant
    /// are posted into a room, and each device resumes once more at the end.
    pub verify: bool,
    /// Live recovery probes for a fault test (with `verify`).
    pub live: Option<Arc<Live>>,
}

/// What one process measured, before and during the measured window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunOutput {
    pub shard: u32,
    pub shards: u32,
    pub scale: f64,
    pub profile: String,
    pub users: u64,
    pub sockets_planned: u64,
    pub sockets_open_at_start: u64,
    pub ramp_secs: f64,
    pub duration_secs: f64,
    /// Unix seconds when the measured window started.
    pub started_unix: f64,
    /// Seconds into the measured window of the storm, if one ran.
    pub storm_at_secs: Option<f64>,
    /// From the storm until every storm socket was open again (None: not all came back).
    pub storm_recovery_secs: Option<f64>,
    pub assistant_present: Option<bool>,
    pub ramp: Snapshot,
    pub measured: Snapshot,
    /// With `verify`: what the clients saw, checked.
    #[serde(default)]
    pub verification: Option<Verification>,
}

#[derive(Default)]
struct UserState {
    rooms: Vec<(Uuid, RoomClass)>,
    seqs: HashMap<Uuid, i64>,
    /// Recent user messages seen on the socket: (room, message).
    recent: VecDeque<(Uuid, Uuid)>,
    /// Tasks seen in the team room, and open tasks this user created.
    tasks: Vec<Uuid>,
    own_open: Vec<Uuid>,
    team: Option<Uuid>,
}

struct SimUser {
    id: Uuid,
    username: String,
    token: RwLock<Option<String>>,
    target: usize,
    http: usize,
    state: Mutex<UserState>,
}

impl SimUser {
    fn token(&self) -> Option<String> {
        self.token.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    fn state(&self) -> std::sync::MutexGuard<'_, UserState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Ctx {
    opts: RunOptions,
    password: String,
    rooms: HashMap<Uuid, RoomClass>,
    users: Vec<Arc<SimUser>>,
    http: Vec<reqwest::Client>,
    ramp_stats: Stats,
    stats: RwLock<Arc<Stats>>,
    measuring: AtomicBool,
    request_timeout: Duration,
    connect_timeout: Duration,
    assistant_missing: AtomicBool,
    assistant_seen: AtomicBool,
    storm_pending: AtomicUsize,
    storm_started: Mutex<Option<Instant>>,
    storm_done: Mutex<Option<Duration>>,
    msg_counter: AtomicU64,
    /// Makes this run's `client_id`s its own: the database outlives runs, and the server answers a
    /// `client_id` it has seen with the message it made then (a retry), not a new one.
    run_tag: String,
    checker: verify::Checker,
}

impl Ctx {
    /// How long the end-of-run check may take for every device to resume once more: as long as
    /// the ramp was allowed to open them all, plus one connect timeout.
    fn final_window(&self) -> Duration {
        self.opts.ramp + self.connect_timeout
    }

    fn stats(&self) -> Arc<Stats> {
        self.stats.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The recorder of the current phase: the ramp until measuring starts.
    fn record(&self, name: &str, rest: bool, outcome: &Outcome, latency: Duration) {
        if self.measuring.load(Ordering::Relaxed) {
            self.stats().record(name, rest, outcome, latency);
        } else {
            self.ramp_stats.record(name, rest, outcome, latency);
        }
    }

    fn count(&self, name: &str) {
        if self.measuring.load(Ordering::Relaxed) {
            self.stats().count(name, 1);
        } else {
            self.ramp_stats.count(name, 1);
        }
    }

    async fn call(
        &self,
        user: &SimUser,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<client::Reply, Outcome> {
        let token = user.token();
        client::call(
            &self.http[user.http],
            &self.opts.targets[user.target].base,
            token.as_deref(),
            method,
            path,
            body,
            self.request_timeout,
        )
        .await
    }
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The send time stamped into a message body, if the body has one.
pub fn stamp_of(body: &str) -> Option<u64> {
    let rest = body.strip_prefix(STAMP)?;
    let end = rest.find(' ').unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Runs one generator process to the end and returns what it measured. Bounded: it stops by
/// itself after the ramp, the measured duration and a short drain.
pub async fn run(manifest: &Manifest, opts: RunOptions) -> anyhow::Result<RunOutput> {
    if opts.targets.is_empty() || opts.sources.is_empty() {
        bail!("need at least one target and one source address");
    }
    if opts.shards == 0 || opts.shard >= opts.shards {
        bail!("--shard must be i/n with i < n");
    }
    let online = opts.profile.online_users(opts.scale);
    if online > manifest.users.len() as u64 {
        bail!(
            "{online} users online at scale {} but the seed has {}; seed a larger dataset",
            opts.scale,
            manifest.users.len()
        );
    }
    let per_user = opts.profile.population.sockets_per_user;
    let mut users = Vec::new();
    let mut sockets = Vec::new(); // (user index in `users`, socket number)
    let http = opts
        .sources
        .iter()
        .map(|s| client::http_client(*s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for j in (u64::from(opts.shard)..online).step_by(opts.shards as usize) {
        let seeded = &manifest.users[j as usize];
        let k = users.len();
        users.push(Arc::new(SimUser {
            id: seeded.id,
            username: seeded.username.clone(),
            token: RwLock::new(seeded.token.clone()),
            // Hashed, not `j % n`: every n-th user shares a role (for example logging in
            // over the API), and the roles must not all land on one node.
            target: (j.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33) as usize % opts.targets.len(),
            http: k % http.len(),
            state: Mutex::new(UserState::default()),
        }));
        for _ in 0..sockets_of(j, online, per_user) {
            sockets.push(k);
        }
    }
    let timeouts = &opts.profile.timeouts;
    let start_placeholder = Instant::now() + Duration::from_secs(86_400);
    let ctx = Arc::new(Ctx {
        request_timeout: Duration::from_secs(timeouts.request_secs),
        connect_timeout: Duration::from_secs(timeouts.connect_secs),
        password: manifest.password.clone(),
        rooms: manifest.rooms.clone().into_iter().collect(),
        users,
        http,
        ramp_stats: Stats::new(Instant::now(), opts.interval),
        stats: RwLock::new(Arc::new(Stats::new(start_placeholder, opts.interval))),
        measuring: AtomicBool::new(false),
        assistant_missing: AtomicBool::new(false),
        assistant_seen: AtomicBool::new(false),
        storm_pending: AtomicUsize::new(0),
        storm_started: Mutex::new(None),
        storm_done: Mutex::new(None),
        msg_counter: AtomicU64::new(0),
        run_tag: run_tag(),
        checker: verify::Checker::default(),
        opts,
    });
    let opts = &ctx.opts;
    let (stop_tx, stop_rx) = watch::channel(false);
    let device_names = AtomicUsize::new(0);

    // Ramp: log in the users without a seeded session, then open every socket.
    let ramp_started = Instant::now();
    let ramp_deadline = ramp_started + opts.ramp;
    let gate = Arc::new(Semaphore::new(opts.connect_concurrency.max(1)));
    let mut logins = Vec::new();
    for user in ctx.users.iter().filter(|u| u.token().is_none()) {
        let (ctx, user, gate) = (ctx.clone(), user.clone(), gate.clone());
        logins.push(tokio::spawn(async move {
            let _permit = gate.acquire().await;
            let started = Instant::now();
            let outcome = login(&ctx, &user).await;
            ctx.record(Op::Login.name(), true, &outcome, started.elapsed());
        }));
    }
    for l in logins {
        let _ = l.await;
    }
    let open_count = Arc::new(AtomicUsize::new(0));
    let mut ctls = Vec::new();
    let mut handles = Vec::new();
    for (n, k) in sockets.iter().enumerate() {
        let ctl = Arc::new(SocketCtl {
            reason: AtomicU8::new(DROP_NONE),
            notify: Notify::new(),
        });
        ctls.push(ctl.clone());
        let source = opts.sources[n % opts.sources.len()];
        handles.push(tokio::spawn(socket_task(
            ctx.clone(),
            ctx.users[*k].clone(),
            device_names.fetch_add(1, Ordering::Relaxed),
            source,
            ctl,
            gate.clone(),
            open_count.clone(),
            stop_rx.clone(),
        )));
    }
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut polls = 0u64;
    while open_count.load(Ordering::Relaxed) < sockets.len() && Instant::now() < ramp_deadline {
        // On a terminal the line updates in place; in a log, one line every 10 s.
        if opts.progress && (terminal || polls.is_multiple_of(50)) {
            let end = if terminal { "\r" } else { "\n" };
            eprint!(
                "ramp: {}/{} sockets open after {:.0} s{end}",
                open_count.load(Ordering::Relaxed),
                sockets.len(),
                ramp_started.elapsed().as_secs_f64()
            );
        }
        polls += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ramp_secs = ramp_started.elapsed().as_secs_f64();
    if opts.progress {
        eprintln!(
            "ramp: {}/{} sockets open in {ramp_secs:.1} s",
            open_count.load(Ordering::Relaxed),
            sockets.len()
        );
    }
    // Wait for the common start, if any (bounded by the ramp).
    if let Some(at) = opts.start_at
        && let Ok(wait) = at.duration_since(SystemTime::now())
    {
        tokio::time::sleep(wait.min(opts.ramp)).await;
    }

    // The measured window.
    let start = Instant::now();
    let started_unix = unix_micros() as f64 / 1e6;
    let stats = Arc::new(Stats::new(start, opts.interval));
    stats
        .sockets
        .store(open_count.load(Ordering::Relaxed) as i64, Ordering::Relaxed);
    *ctx.stats.write().unwrap_or_else(|e| e.into_inner()) = stats.clone();
    ctx.measuring.store(true, Ordering::Relaxed);
    let sockets_open_at_start = open_count.load(Ordering::Relaxed) as u64;
    let end = start + opts.duration;

    let progress = tokio::spawn(progress_task(ctx.clone(), start, end, open_count.clone()));
    let churn = tokio::spawn(churn_task(ctx.clone(), ctls.clone(), start, end));
    let storm = opts.profile.storm.clone();
    let storm_at = (storm.at_secs > 0
        && storm.fraction > 0.0
        && Duration::from_secs(storm.at_secs) < opts.duration)
        .then(|| Duration::from_secs(storm.at_secs));
    let storm_task = storm_at.map(|at| {
        tokio::spawn(storm_task(
            ctx.clone(),
            ctls.clone(),
            start + at,
            storm.fraction,
        ))
    });

    schedule_loop(&ctx, start, end).await;

    // Drain: in-flight operations get their timeout, then sockets close.
    let _ = churn.await;
    if let Some(t) = storm_task {
        let _ = t.await;
    }
    ctx.measuring.store(false, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    // With `verify` every device resumes once more before it closes (bounded by the final window).
    let drain = Duration::from_secs(15)
        + if opts.verify {
            ctx.final_window()
        } else {
            ctx.connect_timeout
        };
    let _ = tokio::time::timeout(drain, futures::future::join_all(handles)).await;
    progress.abort();
    let storm_recovery_secs = ctx
        .storm_done
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .map(|d| d.as_secs_f64());
    Ok(RunOutput {
        shard: opts.shard,
        shards: opts.shards,
        scale: opts.scale,
        profile: opts.profile.name.clone(),
        users: ctx.users.len() as u64,
        sockets_planned: sockets.len() as u64,
        sockets_open_at_start,
        ramp_secs,
        duration_secs: opts.duration.as_secs_f64(),
        started_unix,
        storm_at_secs: storm_at.map(|d| d.as_secs_f64()),
        storm_recovery_secs,
        assistant_present: if ctx.assistant_missing.load(Ordering::Relaxed) {
            Some(false)
        } else if ctx.assistant_seen.load(Ordering::Relaxed) {
            Some(true)
        } else {
            None
        },
        ramp: ctx.ramp_stats.snapshot()?,
        measured: stats.snapshot()?,
        verification: opts.verify.then(|| ctx.checker.finish()),
    })
}

/// Draws the arrivals and starts each operation at its planned time, without waiting for the
/// ones before it.
async fn schedule_loop(ctx: &Arc<Ctx>, start: Instant, end: Instant) {
    let opts = &ctx.opts;
    let mut schedule = Schedule::new(
        &opts.profile,
        opts.scale,
        opts.shards,
        opts.seed ^ u64::from(opts.shard).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut rng = StdRng::seed_from_u64(opts.seed.wrapping_add(u64::from(opts.shard)));
    let mut next = start;
    let mut assistant_removed = false;
    while let Some((gap, op)) = schedule.next_arrival() {
        if !assistant_removed && ctx.assistant_missing.load(Ordering::Relaxed) {
            schedule.remove(Op::AssistantAsk);
            assistant_removed = true;
            continue;
        }
        next += gap;
        if next >= end || opts.live.as_ref().is_some_and(|l| l.ended()) {
            break;
        }
        tokio::time::sleep_until(next.into()).await;
        if in_flight.load(Ordering::Relaxed) >= opts.max_in_flight {
            ctx.record(
                op.name(),
                true,
                &Outcome::Error("generator_overloaded".into()),
                Duration::ZERO,
            );
            continue;
        }
        let user = ctx.users[rng.gen_range(0..ctx.users.len())].clone();
        let planned = next;
        let (ctx, in_flight) = (ctx.clone(), in_flight.clone());
        in_flight.fetch_add(1, Ordering::Relaxed);
        let seed = rng.r#gen::<u64>();
        tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let started = unix_micros();
            if let Some(outcome) = perform(&ctx, &user, op, &mut rng).await {
                ctx.record(op.name(), true, &outcome, planned.elapsed());
                if op != Op::AssistantAsk
                    && let Some(live) = &ctx.opts.live
                {
                    match &outcome {
                        Outcome::Ok => live.rest_ok(user.target, started, unix_micros()),
                        other => live.rest_failed(user.target, started, &format!("{other:?}")),
                    }
                }
            }
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
    // Let the last operations finish (each is bounded by the request timeout; with `verify` a
    // send retries for up to `SEND_RETRY_FOR`).
    let mut deadline = Instant::now() + ctx.request_timeout + Duration::from_secs(2);
    if opts.verify {
        deadline += operations::SEND_RETRY_FOR;
    }
    while in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Eight random letters and digits, fresh for every run (independent of `--seed`, which makes runs
/// repeat the same users, rooms and counters on purpose).
fn run_tag() -> String {
    rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(8)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_time_is_read_back_from_the_body() {
        let body = format!("{STAMP}1732500000123456 deploy backup");
        assert_eq!(stamp_of(&body), Some(1_732_500_000_123_456));
        assert_eq!(stamp_of(&format!("{STAMP}42")), Some(42));
        assert_eq!(stamp_of("deploy 1732500000"), None);
        assert_eq!(stamp_of(&format!("{STAMP}abc def")), None);
    }
}
