//! `flowly-traffic`: seed a dataset, run simulated users against Flowly, report what happened.
//!
//! ```text
//! flowly-traffic seed   --manifest seed.json [--profile dau-150k] [--users N] [--database-url URL]
//!                       [--flowly-bin PATH]       (runs `flowly dev seed` with the profile's dataset)
//! flowly-traffic run    --manifest seed.json --target http://127.0.0.1:18080 --duration 600 \
//!                       [--scale 1] [--shard 0/4] [--sources 2-41] --out run-0.json
//! flowly-traffic report --out DIR run-*.json [--env key=value]...
//! ```
//!
//! Loopback only, and every run stops by itself.

/// mimalloc rather than glibc's malloc: malloc's own code was about 15% of all the CPU of a
/// scale-1 load run (`perf`, docs/capacity.md, "Where the time goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{
    collections::BTreeMap,
    path::PathBuf,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use flowly_traffic::{
    client::{Target, parse_sources},
    manifest::Manifest,
    profile::Profile,
    report,
    run::{self, RunOptions, RunOutput},
    seed::{SeedCommand, flowly_binary},
};

#[derive(Parser)]
#[command(name = "flowly-traffic", version, about = "Load generator for Flowly")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Have the server write the profile's dataset into an empty database and the manifest runs
    /// read: runs `flowly dev seed` with the profile's dataset.
    Seed(SeedArgs),
    /// One generator process: open sockets, run the open workload, write its output (JSON).
    Run(RunArgs),
    /// Merge the outputs of a run's processes into report.json, report.md and chart.svg.
    Report(ReportArgs),
}

#[derive(Args)]
struct SeedArgs {
    /// The database to seed (otherwise flowly's own configuration: flowly.toml, FLOWLY_*).
    #[arg(long)]
    database_url: Option<String>,
    /// The `flowly` binary [default: the one next to this executable, else `flowly` on the PATH].
    #[arg(long, env = "FLOWLY_BIN")]
    flowly_bin: Option<PathBuf>,
    #[arg(long, default_value = "dau-150k")]
    profile: String,
    /// Users to seed instead of the profile's dataset size.
    #[arg(long)]
    users: Option<u64>,
    /// History messages instead of the profile's.
    #[arg(long)]
    messages: Option<u64>,
    /// Tasks instead of the profile's.
    #[arg(long)]
    tasks: Option<u64>,
    #[arg(long)]
    manifest: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args)]
struct RunArgs {
    #[arg(long)]
    manifest: PathBuf,
    #[arg(long, default_value = "dau-150k")]
    profile: String,
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// A node (http://IP:PORT); repeat for several. Users are spread over them.
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// Measured seconds (at most 2 hours).
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// At most this many seconds to open the sockets first.
    #[arg(long, default_value_t = 120)]
    ramp: u64,
    /// This process's share: i/n.
    #[arg(long, default_value = "0/1")]
    shard: String,
    /// Source addresses 127.0.0.FIRST-LAST for the sockets.
    #[arg(long, default_value = "2-41")]
    sources: String,
    /// Unix time at which measuring starts (so that several processes line up).
    #[arg(long)]
    start_at: Option<u64>,
    /// Time-series bucket in seconds.
    #[arg(long, default_value_t = 5)]
    interval: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    #[arg(long, default_value_t = 20_000)]
    max_in_flight: usize,
    /// Turn the reconnect storm off.
    #[arg(long)]
    no_storm: bool,
    #[arg(long)]
    quiet: bool,
    /// Check what clients see: each device resumes from its own positions and must get every
    /// room event once and in order, acknowledged sends must show up, retried sends (same
    /// client_id) must not show up twice; every device resumes once more at the end. Printed,
    /// in the output file (`verification`), and the exit status is 1 if a check failed.
    #[arg(long)]
    verify: bool,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct ReportArgs {
    /// Directory for report.json, report.md and chart.svg.
    #[arg(long)]
    out: PathBuf,
    /// Facts to print with the report (commit, load average...), as key=value.
    #[arg(long = "env")]
    env: Vec<String>,
    /// Outputs of `flowly-traffic run`.
    #[arg(required = true)]
    outputs: Vec<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Seed(a) => {
            let profile = Profile::load(&a.profile)?;
            let mut dataset = profile.dataset.clone();
            if let Some(u) = a.users {
                dataset.users = u;
                dataset.org_size = dataset.org_size.min(u);
                dataset.team_size = dataset.team_size.min(dataset.org_size);
                dataset.channel_size = dataset.channel_size.min(dataset.org_size);
            }
            if let Some(m) = a.messages {
                dataset.history_messages = m;
            }
            if let Some(t) = a.tasks {
                dataset.tasks = t;
            }
            let exe = std::env::current_exe().ok();
            SeedCommand {
                flowly: flowly_binary(a.flowly_bin, exe.as_deref()),
                dataset,
                login_share: profile.population.login_share,
                seed: a.seed,
                manifest: a.manifest,
                database_url: a.database_url,
            }
            .run()
            .await?;
        }
        Command::Run(a) => {
            if a.duration == 0 || a.duration > 7200 || a.ramp > 1800 {
                bail!("--duration must be 1..=7200 s and --ramp at most 1800 s");
            }
            let (shard, shards) = a
                .shard
                .split_once('/')
                .and_then(|(i, n)| Some((i.parse().ok()?, n.parse().ok()?)))
                .context("--shard is i/n, e.g. 0/4")?;
            let mut profile = Profile::load(&a.profile)?;
            if a.no_storm {
                profile.storm.at_secs = 0;
            }
            if !(a.scale > 0.0 && a.scale <= 100.0) {
                bail!("--scale must be in (0, 100]");
            }
            let targets = a
                .targets
                .iter()
                .map(|t| Target::parse(t))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let manifest = Manifest::read(&a.manifest).map_err(anyhow::Error::msg)?;
            let opts = RunOptions {
                targets,
                profile,
                scale: a.scale,
                duration: Duration::from_secs(a.duration),
                ramp: Duration::from_secs(a.ramp),
                shard,
                shards,
                sources: parse_sources(&a.sources)?,
                start_at: a.start_at.map(|s| UNIX_EPOCH + Duration::from_secs(s)),
                interval: Duration::from_secs(a.interval.max(1)),
                seed: a.seed,
                connect_concurrency: a.connect_concurrency,
                max_in_flight: a.max_in_flight,
                progress: !a.quiet,
                verify: a.verify,
                live: None,
            };
            // A hard bound on the whole process, whatever happens inside.
            let bound = Duration::from_secs(a.ramp + a.duration + 120);
            let output = tokio::time::timeout(bound, run::run(&manifest, opts))
                .await
                .context("the run overran its time bound")??;
            std::fs::write(&a.out, serde_json::to_vec(&output)?)
                .with_context(|| format!("write {}", a.out.display()))?;
            let p99 = |name: &str| {
                output
                    .measured
                    .ops
                    .get(name)
                    .and_then(|o| flowly_traffic::stats::decode(&o.histogram).ok())
                    .map(|h| h.value_at_quantile(0.99) as f64 / 1000.0)
                    .unwrap_or(0.0)
            };
            eprintln!(
                "shard {}/{}: {} sockets open at start of {}; delivery p99 {:.1} ms; wrote {}",
                shard,
                shards,
                output.sockets_open_at_start,
                output.sockets_planned,
                p99(flowly_traffic::stats::DELIVERY),
                a.out.display()
            );
            if let Some(v) = &output.verification {
                eprintln!(
                    "verify: {} events checked on every device, {} sends acknowledged ({} retries), \
                     {} devices resumed at the end",
                    v.events_checked, v.sends_acknowledged, v.send_retries, v.final_resumes
                );
                let violations = v.violations();
                if !violations.is_empty() {
                    for line in violations.iter().chain(&v.examples) {
                        eprintln!("verify: {line}");
                    }
                    bail!("what clients saw failed the checks");
                }
            }
        }
        Command::Report(a) => {
            let mut outputs: Vec<RunOutput> = Vec::new();
            for path in &a.outputs {
                let bytes =
                    std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
                outputs.push(
                    serde_json::from_slice(&bytes)
                        .with_context(|| format!("parse {}", path.display()))?,
                );
            }
            let mut env = BTreeMap::new();
            for kv in &a.env {
                let (k, v) = kv.split_once('=').context("--env is key=value")?;
                env.insert(k.to_owned(), v.to_owned());
            }
            env.insert(
                "report written (unix)".into(),
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
                    .to_string(),
            );
            let report = report::build(&outputs, env)?;
            std::fs::create_dir_all(&a.out)?;
            std::fs::write(
                a.out.join("report.json"),
                serde_json::to_vec_pretty(&report)?,
            )?;
            std::fs::write(a.out.join("report.md"), report.markdown("chart.svg"))?;
            std::fs::write(a.out.join("chart.svg"), report.svg())?;
            println!("{}", report.markdown("chart.svg"));
        }
    }
    Ok(())
}
