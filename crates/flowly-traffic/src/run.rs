//! One generator process: opens the sockets of its share of the online users, runs the open
//! workload for a fixed time with churn and an optional reconnect storm, and returns what it
//! measured. Several processes (`--shard i/n`) split one profile between them.

use std::{
    collections::{HashMap, VecDeque},
    net::Ipv4Addr,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use futures::StreamExt;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use super::{
    client::{self, Target},
    profile::{Op, Profile, sockets_of},
    schedule::{Schedule, weighted},
    seed::{Manifest, RoomClass, WORDS, sentence},
    stats::{self, Outcome, Snapshot, Stats},
};

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
}

/// Why a socket is told to close.
const DROP_NONE: u8 = 0;
const DROP_CHURN: u8 = 1;
const DROP_STORM: u8 = 2;

struct SocketCtl {
    reason: AtomicU8,
    notify: Notify,
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
}

impl Ctx {
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
        opts,
    });
    let opts = &ctx.opts;
    let (stop_tx, stop_rx) = watch::channel(false);

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
    let _ = tokio::time::timeout(Duration::from_secs(15), futures::future::join_all(handles)).await;
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
        if next >= end {
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
            if let Some(outcome) = perform(&ctx, &user, op, &mut rng).await {
                ctx.record(op.name(), true, &outcome, planned.elapsed());
            }
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
    // Let the last operations finish (each is bounded by the request timeout).
    let deadline = Instant::now() + ctx.request_timeout + Duration::from_secs(2);
    while in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn login(ctx: &Ctx, user: &SimUser) -> Outcome {
    let body = json!({ "username": user.username, "password": ctx.password });
    match client::call(
        &ctx.http[user.http],
        &ctx.opts.targets[user.target].base,
        None,
        Method::POST,
        "/auth/login",
        Some(&body),
        ctx.request_timeout,
    )
    .await
    {
        Ok(reply) if reply.status == StatusCode::OK => match reply.body["token"].as_str() {
            Some(token) => {
                *user.token.write().unwrap_or_else(|e| e.into_inner()) = Some(token.to_owned());
                Outcome::Ok
            }
            None => Outcome::Error("no_token".into()),
        },
        Ok(reply) => reply.outcome(),
        Err(outcome) => outcome,
    }
}

/// A room of the user's chosen by class weight (falls back to any room).
fn pick_room(ctx: &Ctx, user: &SimUser, rng: &mut StdRng, with_messages: bool) -> Option<Uuid> {
    let state = user.state();
    let usable: Vec<(Uuid, RoomClass)> = state
        .rooms
        .iter()
        .filter(|(r, _)| !with_messages || state.seqs.get(r).copied().unwrap_or(0) > 0)
        .copied()
        .collect();
    if usable.is_empty() {
        return None;
    }
    let w = ctx.opts.profile.population.room_weights;
    let classes = [RoomClass::Dm, RoomClass::Team, RoomClass::Channel];
    let weights: Vec<f64> = classes
        .iter()
        .zip([w.dm, w.team, w.channel])
        .map(|(c, w)| {
            if usable.iter().any(|(_, k)| k == c) {
                w
            } else {
                0.0
            }
        })
        .collect();
    let class = weighted(rng, &weights).map(|i| classes[i]);
    let choices: Vec<Uuid> = usable
        .iter()
        .filter(|(_, k)| class.is_none_or(|c| *k == c))
        .map(|(r, _)| *r)
        .collect();
    choices.choose(rng).copied()
}

fn ids_in(body: &Value, key: &str) -> Vec<(Uuid, String)> {
    body[key]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|t| {
                    Some((
                        t["id"].as_str()?.parse().ok()?,
                        t["status"].as_str().unwrap_or("").to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn as_outcome(result: Result<client::Reply, Outcome>) -> (Outcome, Option<client::Reply>) {
    match result {
        Ok(reply) => (reply.outcome(), Some(reply)),
        Err(outcome) => (outcome, None),
    }
}

/// Does one operation as `user`. `None`: the user has nothing to do it on yet (not counted).
async fn perform(ctx: &Ctx, user: &SimUser, op: Op, rng: &mut StdRng) -> Option<Outcome> {
    if user.state().rooms.is_empty() && op != Op::Login {
        ctx.count("skipped_no_socket_yet");
        return None;
    }
    let get =
        |path: String| async move { as_outcome(ctx.call(user, Method::GET, &path, None).await) };
    let (outcome, reply) = match op {
        Op::History => {
            let room = pick_room(ctx, user, rng, false)?;
            get(format!("/rooms/{room}/messages?limit=50")).await
        }
        Op::RoomList => get("/rooms".into()).await,
        Op::Me => get("/me".into()).await,
        Op::Friends => get("/friends".into()).await,
        Op::Mentions => get("/mentions".into()).await,
        Op::Search => {
            let q = WORDS[rng.gen_range(0..WORDS.len())];
            get(format!("/search?q={q}&limit=20")).await
        }
        Op::UsersSearch => {
            let q = format!("load{:03}", rng.gen_range(0..1000));
            get(format!("/users?q={q}")).await
        }
        Op::MarkRead => {
            let room = pick_room(ctx, user, rng, true)?;
            let seq = user.state().seqs.get(&room).copied().unwrap_or(0);
            let body = json!({ "seq": seq });
            as_outcome(
                ctx.call(
                    user,
                    Method::POST,
                    &format!("/rooms/{room}/read"),
                    Some(&body),
                )
                .await,
            )
        }
        Op::SendMessage => {
            let room = pick_room(ctx, user, rng, false)?;
            let n = ctx.msg_counter.fetch_add(1, Ordering::Relaxed);
            let words = rng.gen_range(3..16);
            let body = json!({
                "body": format!("{STAMP}{} {}", unix_micros(), sentence(rng, words)),
                "client_id": format!("t{}-{n}", ctx.opts.shard),
            });
            as_outcome(
                ctx.call(
                    user,
                    Method::POST,
                    &format!("/rooms/{room}/messages"),
                    Some(&body),
                )
                .await,
            )
        }
        Op::React => {
            let target = {
                let state = user.state();
                if state.recent.is_empty() {
                    None
                } else {
                    state
                        .recent
                        .get(rng.gen_range(0..state.recent.len()))
                        .copied()
                }
            };
            let Some((_, message)) = target else {
                ctx.count("skipped_react_no_message");
                return None;
            };
            let emoji = [":+1:", ":tada:", ":eyes:", ":heart:", ":rocket:"][rng.gen_range(0..5)];
            as_outcome(
                ctx.call(
                    user,
                    Method::PUT,
                    &format!("/messages/{message}/reactions/{emoji}"),
                    None,
                )
                .await,
            )
        }
        Op::ListTasks => {
            let team = user.state().team?;
            let result = ctx
                .call(
                    user,
                    Method::GET,
                    &format!("/tasks?room={team}&limit=50"),
                    None,
                )
                .await;
            if let Ok(reply) = &result {
                let found = ids_in(&reply.body, "tasks");
                let found = if found.is_empty() {
                    // A bare array.
                    ids_in(&json!({ "tasks": reply.body }), "tasks")
                } else {
                    found
                };
                if !found.is_empty() {
                    let mut state = user.state();
                    state.tasks = found
                        .into_iter()
                        .filter(|(_, s)| s != "done")
                        .map(|(id, _)| id)
                        .collect();
                }
            }
            as_outcome(result)
        }
        Op::GetTask => {
            let task = {
                let state = user.state();
                state.tasks.choose(rng).copied()
            }?;
            get(format!("/tasks/{task}")).await
        }
        Op::CreateTask => {
            let team = user.state().team?;
            let words = rng.gen_range(2..7);
            let body = json!({
                "room_id": team,
                "title": sentence(rng, words),
                "priority": (["low", "normal", "high"][rng.gen_range(0..3)]),
            });
            let result = ctx.call(user, Method::POST, "/tasks", Some(&body)).await;
            if let Ok(reply) = &result
                && let Some(id) = reply.body["id"].as_str().and_then(|s| s.parse().ok())
            {
                let mut state = user.state();
                state.own_open.push(id);
                state.tasks.push(id);
            }
            as_outcome(result)
        }
        Op::UpdateTask => {
            let task = {
                let state = user.state();
                state
                    .own_open
                    .choose(rng)
                    .or(state.tasks.choose(rng))
                    .copied()
            }?;
            let body = json!({
                "status": (["doing", "blocked", "todo"][rng.gen_range(0..3)]),
                "description": sentence(rng, 8),
            });
            as_outcome(
                ctx.call(user, Method::PATCH, &format!("/tasks/{task}"), Some(&body))
                    .await,
            )
        }
        Op::CompleteTask => {
            let task = {
                let mut state = user.state();
                if state.own_open.is_empty() {
                    let t = state.tasks.choose(rng).copied();
                    if let Some(t) = t {
                        state.tasks.retain(|x| *x != t);
                    }
                    t
                } else {
                    let i = rng.gen_range(0..state.own_open.len());
                    let t = state.own_open.swap_remove(i);
                    state.tasks.retain(|x| *x != t);
                    Some(t)
                }
            }?;
            as_outcome(
                ctx.call(user, Method::POST, &format!("/tasks/{task}/complete"), None)
                    .await,
            )
        }
        Op::MessageToTask => {
            let target = {
                let mut state = user.state();
                let n = state.recent.len();
                if n == 0 {
                    None
                } else {
                    state.recent.remove(rng.gen_range(0..n))
                }
            };
            let Some((_, message)) = target else {
                ctx.count("skipped_task_no_message");
                return None;
            };
            let body = json!({ "priority": "normal" });
            as_outcome(
                ctx.call(
                    user,
                    Method::POST,
                    &format!("/messages/{message}/task"),
                    Some(&body),
                )
                .await,
            )
        }
        Op::AssistantAsk => {
            let room = pick_room(ctx, user, rng, false);
            let words = rng.gen_range(3..8);
            let mut body = json!({ "question": format!("what did we decide about {}?", sentence(rng, words)) });
            if let Some(room) = room {
                body["room"] = json!(room);
            }
            let result = ctx
                .call(user, Method::POST, "/assistant/ask", Some(&body))
                .await;
            if let Ok(reply) = &result {
                if reply.status == StatusCode::NOT_FOUND && reply.code() == "route_not_found" {
                    ctx.assistant_missing.store(true, Ordering::Relaxed);
                    ctx.count("assistant_missing");
                    return None;
                }
                if reply.status.is_success() {
                    ctx.assistant_seen.store(true, Ordering::Relaxed);
                }
            }
            as_outcome(result)
        }
        Op::Login => (login(ctx, user).await, None),
    };
    drop(reply);
    Some(outcome)
}

/// One device's socket: open, read until told to drop or the server closes it, reopen with
/// resume. Ends when the run stops.
async fn socket_task(
    ctx: Arc<Ctx>,
    user: Arc<SimUser>,
    source: Ipv4Addr,
    ctl: Arc<SocketCtl>,
    gate: Arc<Semaphore>,
    open_count: Arc<AtomicUsize>,
    mut stop: watch::Receiver<bool>,
) {
    let mut first = true;
    let mut rng = StdRng::from_entropy();
    let mut storm_reconnect = false;
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        let token = match user.token() {
            Some(t) => t,
            None => {
                // The login failed during the ramp; try once more later.
                tokio::time::sleep(Duration::from_secs(2)).await;
                let _ = login(&ctx, &user).await;
                continue;
            }
        };
        let seqs: serde_json::Map<String, Value> = user
            .state()
            .seqs
            .iter()
            .map(|(r, s)| (r.to_string(), json!(s)))
            .collect();
        let permit = if first {
            gate.clone().acquire_owned().await.ok()
        } else {
            None
        };
        let started = Instant::now();
        let target = &ctx.opts.targets[user.target];
        let opened = tokio::time::timeout(
            ctx.connect_timeout,
            client::open_socket(target, source, &token, &seqs),
        )
        .await;
        drop(permit);
        let name = if storm_reconnect {
            stats::STORM_RECONNECT
        } else {
            stats::WS_CONNECT
        };
        let mut opened = match opened {
            Ok(Ok(o)) => {
                failures = 0;
                ctx.record(name, false, &Outcome::Ok, started.elapsed());
                o
            }
            Ok(Err(e)) => {
                let code = short_error(&e);
                ctx.record(name, false, &Outcome::Error(code), started.elapsed());
                backoff(&mut rng, &mut failures, &mut stop).await;
                continue;
            }
            Err(_) => {
                ctx.record(name, false, &Outcome::Timeout, started.elapsed());
                backoff(&mut rng, &mut failures, &mut stop).await;
                continue;
            }
        };
        if storm_reconnect {
            storm_reconnect = false;
            if ctx.storm_pending.fetch_sub(1, Ordering::Relaxed) == 1 {
                let since = *ctx.storm_started.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(since) = since {
                    *ctx.storm_done.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(since.elapsed());
                }
            }
        }
        {
            let mut state = user.state();
            if state.rooms.is_empty() {
                state.rooms = opened
                    .rooms
                    .iter()
                    .filter_map(|(r, _)| ctx.rooms.get(r).map(|c| (*r, *c)))
                    .collect();
                state.team = state
                    .rooms
                    .iter()
                    .find(|(_, c)| *c == RoomClass::Team)
                    .map(|(r, _)| *r);
            }
            for (room, seq) in &opened.rooms {
                let s = state.seqs.entry(*room).or_insert(0);
                *s = (*s).max(*seq);
            }
        }
        for frame in std::mem::take(&mut opened.replayed) {
            handle_frame(&ctx, &user, &frame, false);
        }
        if first {
            open_count.fetch_add(1, Ordering::Relaxed);
            first = false;
        }
        ctx.stats().sockets.fetch_add(1, Ordering::Relaxed);
        let mut ws = opened.ws;
        let ended = loop {
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Ok(v) = serde_json::from_str::<Value>(&text) {
                            handle_frame(&ctx, &user, &v, true);
                        }
                    }
                    Some(Ok(Message::Ping(_))) => ctx.count("heartbeats"),
                    Some(Ok(Message::Close(frame))) => {
                        let code = frame.map(|f| u16::from(f.code)).unwrap_or(0);
                        break Ended::Server(code);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break Ended::Server(0),
                },
                _ = ctl.notify.notified() => {
                    break match ctl.reason.swap(DROP_NONE, Ordering::Relaxed) {
                        DROP_STORM => Ended::Storm,
                        _ => Ended::Churn,
                    };
                }
                _ = stop.wait_for(|s| *s) => break Ended::Stop,
            }
        };
        ctx.stats().sockets.fetch_sub(1, Ordering::Relaxed);
        let closing = async {
            let _ = ws.close(None).await;
            while let Some(Ok(_)) = ws.next().await {}
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
        match ended {
            Ended::Stop => return,
            Ended::Churn => ctx.count("churn_reconnects"),
            Ended::Storm => {
                storm_reconnect = true;
                let spread = ctx.opts.profile.storm.spread_secs.max(1);
                let delay = Duration::from_millis(rng.gen_range(0..spread * 1000));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
            Ended::Server(code) => {
                ctx.count(&format!("socket_closed_by_server_{code}"));
                backoff(&mut rng, &mut failures, &mut stop).await;
            }
        }
    }
}

enum Ended {
    Stop,
    Churn,
    Storm,
    Server(u16),
}

fn short_error(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    let first = text.split(':').next().unwrap_or("error");
    format!("ws_{}", first.trim().replace(' ', "_"))
}

/// The wait before reconnect attempt `failures` + 1: exponential from 0.5 s up to 30 s, times a
/// jitter of 0.5–1.5, as a well-behaved client does (a fixed short wait made a storm worse).
pub fn backoff_delay(failures: u32, jitter: f64) -> Duration {
    let base = 0.5 * 2f64.powi(failures.min(6) as i32);
    Duration::from_secs_f64(base.min(30.0) * jitter.clamp(0.5, 1.5))
}

async fn backoff(rng: &mut StdRng, failures: &mut u32, stop: &mut watch::Receiver<bool>) {
    let delay = backoff_delay(*failures, rng.gen_range(0.5..1.5));
    *failures += 1;
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

/// Notes what a frame tells the user (seqs, recent messages) and measures delivery.
fn handle_frame(ctx: &Ctx, user: &SimUser, frame: &Value, live: bool) {
    ctx.count("frames_received");
    let kind = frame["type"].as_str().unwrap_or("");
    let room = frame["room"].as_str().and_then(|r| r.parse::<Uuid>().ok());
    let seq = frame["seq"].as_i64();
    if let (Some(room), Some(seq)) = (room, seq) {
        let mut state = user.state();
        let s = state.seqs.entry(room).or_insert(0);
        *s = (*s).max(seq);
    }
    if kind != "message.created" {
        return;
    }
    let message = &frame["data"]["message"];
    let author = message["author_id"]
        .as_str()
        .and_then(|a| a.parse::<Uuid>().ok());
    if message["kind"] == "user"
        && message["task_id"].is_null()
        && let (Some(room), Some(id)) = (
            room,
            message["id"].as_str().and_then(|i| i.parse::<Uuid>().ok()),
        )
    {
        let mut state = user.state();
        state.recent.push_back((room, id));
        if state.recent.len() > 32 {
            state.recent.pop_front();
        }
    }
    if !live || author == Some(user.id) {
        return;
    }
    if let Some(sent) = message["body"].as_str().and_then(stamp_of) {
        let now = unix_micros();
        if ctx.measuring.load(Ordering::Relaxed) {
            ctx.stats()
                .delivered(Duration::from_micros(now.saturating_sub(sent)));
        }
    }
}

/// Every second, a share of the sockets (`churn_per_minute / 60`) reconnects and resumes.
async fn churn_task(ctx: Arc<Ctx>, ctls: Vec<Arc<SocketCtl>>, start: Instant, end: Instant) {
    let per_second = ctx.opts.profile.realtime.churn_per_minute / 60.0;
    if per_second <= 0.0 || ctls.is_empty() {
        return;
    }
    let mut rng = StdRng::seed_from_u64(ctx.opts.seed ^ 0xC4u64);
    let mut owed = 0.0;
    let mut tick = tokio::time::interval_at(
        (start + Duration::from_secs(1)).into(),
        Duration::from_secs(1),
    );
    loop {
        let now = tick.tick().await;
        if Instant::from(now) >= end {
            return;
        }
        owed += per_second * ctls.len() as f64;
        while owed >= 1.0 {
            owed -= 1.0;
            let ctl = &ctls[rng.gen_range(0..ctls.len())];
            ctl.reason.store(DROP_CHURN, Ordering::Relaxed);
            ctl.notify.notify_one();
        }
    }
}

/// At `at`, `fraction` of the sockets drop at once and reconnect within the spread.
async fn storm_task(ctx: Arc<Ctx>, ctls: Vec<Arc<SocketCtl>>, at: Instant, fraction: f64) {
    tokio::time::sleep_until(at.into()).await;
    let mut rng = StdRng::seed_from_u64(ctx.opts.seed ^ 0x5707u64);
    let mut chosen = ctls;
    chosen.shuffle(&mut rng);
    chosen.truncate((chosen.len() as f64 * fraction).round() as usize);
    ctx.storm_pending.store(chosen.len(), Ordering::Relaxed);
    *ctx.storm_started.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    ctx.count("storm_dropped_sockets");
    ctx.stats().count("storm_sockets", chosen.len() as u64);
    for ctl in chosen {
        ctl.reason.store(DROP_STORM, Ordering::Relaxed);
        ctl.notify.notify_one();
    }
}

/// The live progress line: an updating line on a terminal, one line every 10 s otherwise.
async fn progress_task(ctx: Arc<Ctx>, start: Instant, end: Instant, _open: Arc<AtomicUsize>) {
    use std::io::IsTerminal;
    let live = std::io::stderr().is_terminal();
    let bar = if ctx.opts.progress && live {
        let bar = indicatif::ProgressBar::new(end.duration_since(start).as_secs());
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
        {
            bar.set_style(style);
        }
        Some(bar)
    } else {
        None
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n = 0u64;
    loop {
        tick.tick().await;
        let stats = ctx.stats();
        stats.tick();
        let p = stats.progress();
        let line = format!(
            "shard {}: sockets {} | REST {:.0}/s p99 {:.1} ms, {} failed of {} | delivered {:.0}/s p99 {:.1} ms",
            ctx.opts.shard,
            stats.sockets.load(Ordering::Relaxed),
            p.rest_rate,
            p.rest_p99_ms,
            p.failed,
            p.rest,
            p.delivery_rate,
            p.delivery_p99_ms
        );
        if let Some(bar) = &bar {
            bar.set_position(start.elapsed().as_secs());
            bar.set_message(line);
        } else if ctx.opts.progress && n.is_multiple_of(10) {
            eprintln!("[{:>4}s] {line}", start.elapsed().as_secs());
        }
        n += 1;
        if Instant::now() >= end {
            if let Some(bar) = bar {
                bar.finish();
            }
            return;
        }
    }
}

/// Reads a manifest written by `flowly-traffic seed`.
pub fn read_manifest(path: &std::path::Path) -> anyhow::Result<Manifest> {
    let text = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("parse {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_back_off_exponentially_up_to_30_seconds() {
        assert_eq!(backoff_delay(0, 1.0), Duration::from_millis(500));
        assert_eq!(backoff_delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(3, 1.0), Duration::from_secs(4));
        assert_eq!(backoff_delay(6, 1.0), Duration::from_secs(30));
        assert_eq!(backoff_delay(60, 1.5), Duration::from_secs(45));
        assert_eq!(backoff_delay(0, 0.1), Duration::from_millis(250));
    }

    #[test]
    fn the_send_time_is_read_back_from_the_body() {
        let body = format!("{STAMP}1732500000123456 deploy backup");
        assert_eq!(stamp_of(&body), Some(1_732_500_000_123_456));
        assert_eq!(stamp_of(&format!("{STAMP}42")), Some(42));
        assert_eq!(stamp_of("deploy 1732500000"), None);
        assert_eq!(stamp_of(&format!("{STAMP}abc def")), None);
    }
}
