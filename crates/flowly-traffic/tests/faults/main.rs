//! Faults under load. Two real `flowly serve` nodes and a `flowly worker`, on a PostgreSQL and a
//! Redis of their own (started by `scripts/faults-test.sh`, which runs this test), carry a
//! verifying traffic run (`RunOptions::verify`: every device checks its stream by `seq`,
//! resumes from its own positions, retries sends with their `client_id`) while the harness,
//! one after the other:
//!
//! 1. kills node 1 with SIGKILL and starts it again a second later, as a supervisor would;
//! 2. kills the worker with SIGKILL while it runs an assistant job, and starts it again;
//! 3. restarts Redis (`scripts/dev-services.sh restart redis`; append-only file on, as in the
//!    appliance);
//! 4. restarts PostgreSQL (`restart postgres`, a fast shutdown);
//! 5. stalls the network between node 0 and PostgreSQL for 10 s: node 0 reaches PostgreSQL
//!    through a TCP relay in this process that stops moving bytes (connections stay open, as
//!    behind a black-holed link), then moves them again.
//!
//! After each fault the time to recover is measured from the fault's end (the restart done, the
//! link back): until every node answered a request, and a message sent through each node was
//! delivered to sockets on each node, all started after that moment. It must come within
//! 30 s, without restarting anything but what was killed. At the end: no event lost or
//! duplicated on any device, every acknowledged send seen, no duplicate per `client_id`, every
//! assistant request accepted is done and posted exactly once, nothing left in the job streams.
//!
//! Ignored in the plain test run (it needs its own services and the `flowly` binary):
//! `scripts/faults-test.sh` runs it with FLOWLY_FAULTS_* set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test harness fails loudly by design

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use flowly_traffic::{
    client::{Target, parse_sources},
    manifest::Manifest,
    profile::Profile,
    run::{self, Live, RunOptions},
    seed::SeedCommand,
};
use sqlx::PgPool;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    process::{Child, Command},
    sync::watch,
};
use uuid::Uuid;

/// A fault must be over, for every node and every pair of nodes, within this.
const RECOVERY_BOUND: Duration = Duration::from_secs(30);
/// Traffic before the first fault and between faults.
const SETTLE: Duration = Duration::from_secs(5);
/// How long the link between node 0 and PostgreSQL is stalled.
const STALL: Duration = Duration::from_secs(10);
const REDIS_PREFIX: &str = "faults:";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (run scripts/faults-test.sh)"))
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn log(line: &str) {
    eprintln!("[faults] {line}");
}

/// The profile: 60 users online, a message every 50 ms or so, the assistant asked twice a
/// second, no storm (the faults are the disturbance), a little churn.
fn profile() -> Profile {
    Profile::parse(
        r#"
name = "faults"
[population]
online_users = 60
sockets_per_user = 1.5
login_share = 0.0
room_weights = { dm = 0.2, team = 0.4, channel = 0.4 }
[rates]
history = 4.0
room_list = 2.0
mark_read = 2.0
send_message = 20.0
react = 2.0
me = 2.0
friends = 1.0
mentions = 1.0
list_tasks = 2.0
get_task = 2.0
create_task = 1.0
update_task = 1.0
complete_task = 0.5
message_to_task = 0.5
search = 1.0
users_search = 1.0
assistant_ask = 2.0
login = 0.0
[realtime]
churn_per_minute = 0.3
[storm]
at_secs = 0
fraction = 0.0
spread_secs = 1
[timeouts]
request_secs = 10
connect_secs = 10
[dataset]
users = 80
org_size = 40
team_size = 5
channel_size = 10
channels_per_user = 2
dms_per_user = 2
history_messages = 400
tasks = 40
"#,
    )
    .expect("profile")
}

// ---------------------------------------------------------------- a relay that can stall

/// A TCP relay in front of PostgreSQL. While stalled it moves no byte in either direction and
/// opens no new upstream connection, but closes nothing: what a black-holed link looks like.
struct Relay {
    port: u16,
    stalled: watch::Sender<bool>,
}

impl Relay {
    async fn start(upstream: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay");
        let port = listener.local_addr().expect("addr").port();
        let (stalled, flowing) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let flowing = flowing.clone();
                tokio::spawn(async move {
                    let _ = flowing.clone().wait_for(|s| !*s).await;
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::spawn(pipe(cr, sw, flowing.clone()));
                    tokio::spawn(pipe(sr, cw, flowing));
                });
            }
        });
        Relay { port, stalled }
    }

    fn stall(&self, on: bool) {
        self.stalled.send_replace(on);
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut flowing: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if flowing.wait_for(|s| !*s).await.is_err() {
            break;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Bytes read just as the stall began wait with it.
        if flowing.wait_for(|s| !*s).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

// ---------------------------------------------------------------- flowly processes

/// A `flowly` process (`serve` or `worker`) and how to start it again.
struct Proc {
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    fn new(name: &str, args: &[&str], env: Vec<(String, String)>, dir: &Path) -> Proc {
        Proc {
            name: name.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env,
            log: dir.join(format!("{name}.log")),
            child: None,
        }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(env("FLOWLY_FAULTS_BIN"))
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.name));
        self.child = Some(child);
    }

    /// SIGKILL, as `kill -9`, and reaped.
    async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("kill -9");
            let _ = child.wait().await;
        }
    }

    /// Asserts it is still running (nothing but the killed process may be restarted).
    fn assert_running(&mut self) {
        if let Some(child) = &mut self.child {
            let status = child.try_wait().expect("try_wait");
            assert!(status.is_none(), "{} exited: {status:?}", self.name);
        }
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

fn node_env(db_url: &str, redis_url: &str, port: u16) -> Vec<(String, String)> {
    [
        ("FLOWLY_DATABASE__URL", db_url.to_owned()),
        ("FLOWLY_REDIS__URL", redis_url.to_owned()),
        ("FLOWLY_REDIS__KEY_PREFIX", REDIS_PREFIX.to_owned()),
        ("FLOWLY_SERVER__LISTEN", format!("127.0.0.1:{port}")),
        ("FLOWLY_SERVER__METRICS_LISTEN", "127.0.0.1:0".into()),
        ("FLOWLY_SERVER__WEB_DIR", "/nonexistent".into()),
        ("FLOWLY_LOG__LEVEL", "info".into()),
        ("FLOWLY_AUTH__LOGIN_ATTEMPTS_PER_IP", "1000000".into()),
        (
            "FLOWLY_LIMITS__WRITES_PER_USER_PER_MINUTE",
            "1000000".into(),
        ),
        ("FLOWLY_REALTIME__MAX_SOCKETS_PER_USER", "100".into()),
        ("FLOWLY_ASSISTANT__ASKS_PER_USER_PER_MINUTE", "1000".into()),
        ("FLOWLY_ASSISTANT__GENERATOR", "none".into()),
        ("FLOWLY_ASSISTANT__MODELS_DIR", env("FLOWLY_FAULTS_MODELS")),
        // A job whose worker died is taken over after 3 s (the default is a minute).
        ("FLOWLY_ASSISTANT__RECLAIM_IDLE_MS", "3000".into()),
        ("FLOWLY_ASSISTANT__INDEX_SWEEP_SECS", "5".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

async fn wait_ready(base: &str, what: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = http
            .get(format!("{base}/readyz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not become ready at {base}");
}

/// `scripts/dev-services.sh restart postgres|redis`, on this test's private pair.
async fn restart_service(which: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dev-services.sh");
    let out = Command::new(script)
        .args(["restart", which])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("dev-services.sh");
    assert!(
        out.status.success(),
        "restart {which}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------- measuring recovery

/// One fault's measured times.
struct Recovery {
    fault: &'static str,
    /// From injecting the fault to its end (the restart done, the link back).
    fault_secs: f64,
    /// From the fault's end until everything worked again.
    recovered_secs: f64,
    note: String,
}

/// Waits until every node answered and every pair of nodes carried a message, all started after
/// `ended` (unix µs); bounded by `RECOVERY_BOUND`. Panics with what is still failing and the
/// processes' last log lines.
async fn recovery(live: &Live, ended: u64, procs: &[&Proc]) -> f64 {
    let deadline = Instant::now() + RECOVERY_BOUND;
    loop {
        if let Some(at) = live.recovered_at() {
            return at.saturating_sub(ended) as f64 / 1e6;
        }
        if Instant::now() >= deadline {
            let tails: Vec<String> = procs
                .iter()
                .map(|p| format!("---- {}\n{}", p.name, p.tail()))
                .collect();
            panic!(
                "not recovered within {RECOVERY_BOUND:?}; still waiting for: {:?}\n{}",
                live.waiting_for(),
                tails.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A fault that began at `t0` has just ended: measures the recovery, checks that every process
/// is still the one it was (none needed restarting), and lets the traffic settle.
async fn healed(
    live: &Live,
    t0: Instant,
    fault: &'static str,
    note: &str,
    nodes: &mut [Proc; 2],
    worker: &mut Proc,
) -> Recovery {
    let ended = unix_micros();
    live.mark(ended);
    let fault_secs = t0.elapsed().as_secs_f64();
    let secs = recovery(live, ended, &[&nodes[0], &nodes[1], worker]).await;
    log(&format!(
        "{fault}: lasted {fault_secs:.2} s; recovered {secs:.2} s later"
    ));
    for p in nodes.iter_mut().chain([worker]) {
        p.assert_running();
    }
    tokio::time::sleep(SETTLE).await;
    Recovery {
        fault,
        fault_secs,
        recovered_secs: secs,
        note: note.into(),
    }
}

/// The states of assistant requests (status, count).
async fn request_states(db: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("select status::text, count(*) from assistant_requests group by 1 order by 1")
        .fetch_all(db)
        .await
        .expect("assistant requests")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs its own PostgreSQL and Redis and the flowly binary: scripts/faults-test.sh"]
async fn under_load_each_fault_heals_by_itself_and_clients_lose_and_repeat_nothing() {
    let started = Instant::now();
    let work = PathBuf::from(env("FLOWLY_FAULTS_WORK"));
    let admin_url = env("FLOWLY_FAULTS_DATABASE_URL");
    let redis_url = env("FLOWLY_FAULTS_REDIS_URL");
    let pg_port: u16 = admin_url
        .rsplit(':')
        .next()
        .and_then(|s| s.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("port in FLOWLY_FAULTS_DATABASE_URL");

    // A fresh database, seeded by the server (`flowly dev seed`).
    let admin = PgPool::connect(&admin_url).await.expect("postgres");
    sqlx::query("drop database if exists flowly_faults with (force)")
        .execute(&admin)
        .await
        .expect("drop");
    sqlx::query("create database flowly_faults")
        .execute(&admin)
        .await
        .expect("create");
    admin.close().await;
    let db_url = format!("postgres://postgres@127.0.0.1:{pg_port}/flowly_faults");
    let profile = profile();
    let manifest_path = work.join("manifest.json");
    SeedCommand {
        flowly: PathBuf::from(env("FLOWLY_FAULTS_BIN")),
        dataset: profile.dataset.clone(),
        login_share: profile.population.login_share,
        seed: 7,
        manifest: manifest_path.clone(),
        database_url: Some(db_url.clone()),
    }
    .run()
    .await
    .expect("seed");
    let manifest = Manifest::read(&manifest_path).expect("manifest");
    let db = PgPool::connect(&db_url).await.expect("database");

    // Node 0 reaches PostgreSQL through the relay (stalled in scenario 5); node 1 and the
    // worker directly.
    let relay = Relay::start(pg_port).await;
    let relayed_url = format!("postgres://postgres@127.0.0.1:{}/flowly_faults", relay.port);
    let ports = [free_port(), free_port()];
    let bases: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let mut nodes = [
        Proc::new(
            "node0",
            &["serve"],
            node_env(&relayed_url, &redis_url, ports[0]),
            &work,
        ),
        Proc::new(
            "node1",
            &["serve"],
            node_env(&db_url, &redis_url, ports[1]),
            &work,
        ),
    ];
    let mut worker_env = node_env(&db_url, &redis_url, free_port());
    worker_env.push((
        "FLOWLY_ASSISTANT__WORKER_METRICS_LISTEN".into(),
        format!("127.0.0.1:{}", free_port()),
    ));
    let mut worker = Proc::new("worker", &["worker"], worker_env, &work);
    for node in &mut nodes {
        node.start();
    }
    worker.start();
    for (base, node) in bases.iter().zip(&nodes) {
        wait_ready(base, &node.name).await;
    }
    log(&format!(
        "nodes {bases:?} and a worker are up; traffic starts"
    ));

    // The traffic: bounded by its duration, ended early once the faults are done.
    let live = Arc::new(Live::new(2));
    let options = RunOptions {
        targets: bases
            .iter()
            .map(|b| Target::parse(b).expect("target"))
            .collect(),
        profile,
        scale: 1.0,
        duration: Duration::from_secs(300),
        ramp: Duration::from_secs(30),
        shard: 0,
        shards: 1,
        sources: parse_sources("2-11").expect("sources"),
        start_at: None,
        interval: Duration::from_secs(5),
        seed: 11,
        connect_concurrency: 50,
        max_in_flight: 2000,
        progress: false,
        verify: true,
        live: Some(live.clone()),
    };
    let traffic = tokio::spawn(async move { run::run(&manifest, options).await });

    // The steady state first: everything works before any fault.
    tokio::time::sleep(SETTLE).await;
    live.mark(unix_micros());
    let warm = recovery(&live, unix_micros(), &[&nodes[0], &nodes[1]]).await;
    log(&format!(
        "steady state: every node and pair of nodes works ({warm:.2} s)"
    ));

    let mut results = Vec::new();

    // 1. kill -9 a node; a supervisor starts it again a second later.
    let t0 = Instant::now();
    nodes[1].kill9().await;
    log("node1 killed (SIGKILL)");
    tokio::time::sleep(Duration::from_secs(1)).await;
    nodes[1].start();
    let ended = unix_micros();
    live.mark(ended);
    let fault_secs = t0.elapsed().as_secs_f64();
    let secs = recovery(&live, ended, &[&nodes[0], &nodes[1], &worker]).await;
    nodes[0].assert_running();
    results.push(Recovery {
        fault: "`kill -9` a node (restarted after 1 s)",
        fault_secs,
        recovered_secs: secs,
        note: "from the restart: its sockets reconnect and resume".into(),
    });
    log(&format!(
        "node1 restarted; recovered {secs:.2} s after the restart"
    ));
    tokio::time::sleep(SETTLE).await;

    // 2. kill -9 the worker while it runs an assistant job.
    let mut killed_job = None;
    let t0 = Instant::now();
    for _ in 0..20 {
        let running = wait_for_running_job(&db).await;
        worker.kill9().await;
        let status: Option<String> =
            sqlx::query_scalar("select status::text from assistant_requests where id = $1")
                .bind(running)
                .fetch_optional(&db)
                .await
                .expect("status");
        if status.as_deref() == Some("running") {
            killed_job = Some(running);
            break;
        }
        // It finished between the look and the kill: not mid-job; try again.
        worker.start();
    }
    let killed_job = killed_job.expect("caught the worker in the middle of a job");
    log(&format!(
        "worker killed (SIGKILL) while running request {killed_job}"
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    worker.start();
    let restarted = Instant::now();
    let fault_secs = t0.elapsed().as_secs_f64();
    let deadline = Instant::now() + RECOVERY_BOUND;
    loop {
        let status: String =
            sqlx::query_scalar("select status::text from assistant_requests where id = $1")
                .bind(killed_job)
                .fetch_one(&db)
                .await
                .expect("status");
        if status == "done" {
            break;
        }
        assert!(status == "running", "the killed job ended {status}");
        assert!(
            Instant::now() < deadline,
            "the killed job was not finished within {RECOVERY_BOUND:?}\n{}",
            worker.tail()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = restarted.elapsed().as_secs_f64();
    results.push(Recovery {
        fault: "`kill -9` the worker mid-job (restarted after 1 s)",
        fault_secs,
        recovered_secs: secs,
        note: "until the killed job was done, by the restarted worker (it takes over jobs idle for `reclaim_idle_ms`, 3 s here)".into(),
    });
    log(&format!(
        "the killed job was finished {secs:.2} s after the worker restarted"
    ));
    for node in &mut nodes {
        node.assert_running();
    }
    tokio::time::sleep(SETTLE).await;

    // 3. Restart Redis; 4. restart PostgreSQL; no node restarts.
    for (service, fault, note) in [
        (
            "redis",
            "restart Redis",
            "from Redis answering again; no node restarted",
        ),
        (
            "postgres",
            "restart PostgreSQL (fast shutdown)",
            "from PostgreSQL accepting connections again; no node restarted",
        ),
    ] {
        let t0 = Instant::now();
        restart_service(service).await;
        let r = healed(&live, t0, fault, note, &mut nodes, &mut worker).await;
        results.push(r);
    }

    // 5. Stall the link between node 0 and PostgreSQL.
    let t0 = Instant::now();
    relay.stall(true);
    log(&format!("the link node0 → PostgreSQL stalls for {STALL:?}"));
    tokio::time::sleep(STALL).await;
    relay.stall(false);
    let fault = "stall node 0 ↔ PostgreSQL for 10 s";
    let note = "from the link moving bytes again; no node restarted";
    results.push(healed(&live, t0, fault, note, &mut nodes, &mut worker).await);

    // The end: every device resumes once more and is checked.
    live.end_run();
    let output = tokio::time::timeout(Duration::from_secs(120), traffic)
        .await
        .expect("the traffic run ended")
        .expect("traffic task")
        .expect("traffic run");
    let v = output.verification.clone().expect("verified");

    // Every assistant request reaches an end: wait (bounded) for the queue to drain.
    let deadline = Instant::now() + Duration::from_secs(60);
    while request_states(&db)
        .await
        .iter()
        .any(|(s, _)| s == "queued" || s == "running")
    {
        assert!(
            Instant::now() < deadline,
            "assistant requests left unfinished: {:?}\n{}",
            request_states(&db).await,
            worker.tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // ---------------------------------------------------------------- the report
    let mut report = String::new();
    let _ = writeln!(
        report,
        "| fault | fault lasted | recovered after | measured from |"
    );
    let _ = writeln!(report, "| --- | ---: | ---: | --- |");
    for r in &results {
        let _ = writeln!(
            report,
            "| {} | {:.1} s | **{:.2} s** | {} |",
            r.fault, r.fault_secs, r.recovered_secs, r.note
        );
    }
    let done_frames = v.assistant_done_frames;
    let _ = writeln!(
        report,
        "\n{} room events checked on {} devices; {} sends acknowledged ({} retried with their \
         client_id); {} assistant requests accepted, {done_frames} `assistant.done` frames; the \
         run took {:.0} s.",
        v.events_checked,
        output.sockets_planned,
        v.sends_acknowledged,
        v.send_retries,
        v.assistant_requests.len(),
        started.elapsed().as_secs_f64(),
    );
    eprintln!("\n{report}");
    std::fs::write(work.join("faults.md"), &report).expect("write faults.md");

    // ---------------------------------------------------------------- the checks
    let violations = v.violations();
    assert!(
        violations.is_empty(),
        "what clients saw: {violations:?}\nexamples: {:#?}",
        v.examples
    );
    assert!(
        v.events_checked > 1000 && v.sends_acknowledged > 200,
        "{v:?}"
    );
    assert_eq!(v.final_resumes, output.sockets_planned);

    // Assistant jobs: each request the API accepted is done, and posted exactly once; any other
    // request (its answer lost with a killed node, or refused while Redis was away) is done and
    // posted once too, or failed at once because the queue was away.
    assert!(
        v.assistant_requests.len() > 20,
        "{}",
        v.assistant_requests.len()
    );
    let rows: Vec<(Uuid, String, Option<String>, bool, i64)> = sqlx::query_as(
        "select r.id, r.status, r.error_code, r.post,
                (select count(*) from messages m where m.kind = 'assistant' and m.data->>'request' = r.id::text)
         from assistant_requests r",
    )
    .fetch_all(&db)
    .await
    .expect("requests");
    let accepted: std::collections::HashSet<Uuid> = v.assistant_requests.iter().copied().collect();
    assert_eq!(
        rows.iter().filter(|r| accepted.contains(&r.0)).count(),
        accepted.len(),
        "accepted requests missing from the database"
    );
    let finished_once = |(id, status, code, post, posted): &&(
        Uuid,
        String,
        Option<String>,
        bool,
        i64,
    )| {
        match status.as_str() {
            "done" => *posted == i64::from(*post),
            "failed" => !accepted.contains(id) && code.as_deref() == Some("queue_unavailable"),
            _ => false,
        }
    };
    let wrong: Vec<_> = rows.iter().filter(|r| !finished_once(r)).collect();
    assert!(
        wrong.is_empty(),
        "requests not finished exactly once: {wrong:?}"
    );
    let mut redis = redis::Client::open(redis_url.as_str())
        .expect("redis")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    for key in [
        "assistant:requests",
        "assistant:requests:dead",
        "assistant:index:dead",
    ] {
        let len: i64 = redis::cmd("XLEN")
            .arg(format!("{REDIS_PREFIX}{key}"))
            .query_async(&mut redis)
            .await
            .expect("xlen");
        assert_eq!(len, 0, "{key} holds {len} entries");
    }
    for r in &results {
        assert!(r.recovered_secs < RECOVERY_BOUND.as_secs_f64());
    }
    for p in nodes.iter_mut().chain([&mut worker]) {
        p.assert_running();
    }
    db.close().await;
}

/// A request the worker is running right now (polled every 5 ms, at most 30 s).
async fn wait_for_running_job(db: &PgPool) -> Uuid {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(id) = sqlx::query_scalar::<_, Uuid>(
            "select id from assistant_requests where status = 'running' limit 1",
        )
        .fetch_optional(db)
        .await
        .expect("running job")
        {
            return id;
        }
        assert!(
            Instant::now() < deadline,
            "no assistant job ran within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
