//! The Flowly server binary: `serve`, `worker`, `logpilot`, `migrate`, `config`, `users`, `assistant`,
//! `openapi`, and `dev` (developer and benchmark tools such as `dev seed`).

/// mimalloc rather than glibc's malloc: malloc's own code was about 15% of all the CPU of a
/// scale-1 load run (`perf`, docs/capacity.md, "Where the time goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::sync::Arc;

use flowly::{
    app::{Coded, accounts},
    assistant::{
        bench, eval,
        index::Indexer,
        models,
        worker::{self, Backends},
    },
    config::Config,
    dev::seed::{self as dev_seed, Dataset, SeedOptions},
    domain::{DisplayName, Password, Username},
    server, store, telemetry,
};

#[derive(Parser)]
#[command(
    name = "flowly",
    version,
    about = "Flowly: chat and tasks in one stream"
)]
struct Cli {
    /// Configuration file (missing is fine: defaults and FLOWLY_* variables apply).
    #[arg(
        long,
        short,
        env = "FLOWLY_CONFIG",
        default_value = "flowly.toml",
        global = true
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node: the API, the web client and the metrics endpoint.
    Serve,
    /// Run an assistant worker: indexing and answering (as many as wanted, on any host).
    Worker,
    /// Run the LogPilot log broker (settings in `[logpilot]`).
    Logpilot,
    /// The assistant's index and its measurements.
    #[command(subcommand)]
    Assistant(AssistantCommand),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Print the HTTP API's OpenAPI document as JSON (the web client's types are generated from it).
    Openapi,
    /// Manage accounts from the shell.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Developer and benchmark tools; never needed to run Flowly.
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Subcommand)]
enum DevCommand {
    /// Write a generated dataset (users, friendships, rooms, history, tasks, sessions) into an
    /// empty database with COPY, migrating it first, and write the manifest that
    /// `flowly-traffic run` reads. For benchmarks only: every seeded user has the same password.
    Seed(SeedArgs),
}

/// The dataset of `flowly dev seed`; the defaults are the `dau-150k` traffic profile's.
#[derive(clap::Args)]
struct SeedArgs {
    /// Where to write the manifest (JSON: the users with their session tokens, the rooms).
    #[arg(long)]
    manifest: PathBuf,
    #[arg(long, default_value_t = Dataset::default().users)]
    users: u64,
    /// Users per organisation; DMs, teams and channels stay inside one [default: 500, at most
    /// --users].
    #[arg(long)]
    org_size: Option<u64>,
    /// Members of each team room [default: 10, at most the organisation].
    #[arg(long)]
    team_size: Option<u64>,
    /// Members of each channel [default: 250, at most the organisation].
    #[arg(long)]
    channel_size: Option<u64>,
    /// Channels each user is in [default: 2].
    #[arg(long)]
    channels_per_user: Option<u64>,
    /// DM partners of each user, even [default: 4].
    #[arg(long)]
    dms_per_user: Option<u64>,
    /// Messages of history, spread over 30 days.
    #[arg(long, default_value_t = Dataset::default().history_messages)]
    messages: u64,
    #[arg(long, default_value_t = Dataset::default().tasks)]
    tasks: u64,
    /// Share of the users who get no session and must log in over the API.
    #[arg(long, default_value_t = 0.02)]
    login_share: f64,
    /// Seed of the random choices (authors, words, task fields).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl SeedArgs {
    fn dataset(&self) -> Dataset {
        let shape = Dataset::for_users(self.users);
        Dataset {
            org_size: self.org_size.unwrap_or(shape.org_size),
            team_size: self.team_size.unwrap_or(shape.team_size),
            channel_size: self.channel_size.unwrap_or(shape.channel_size),
            channels_per_user: self.channels_per_user.unwrap_or(shape.channels_per_user),
            dms_per_user: self.dms_per_user.unwrap_or(shape.dms_per_user),
            history_messages: self.messages,
            tasks: self.tasks,
            ..shape
        }
    }
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create an account. The password is read from FLOWLY_NEW_PASSWORD or standard input.
    Create {
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// List accounts.
    List,
    /// Disable an account: its sessions end at once and it can no longer log in.
    Disable { username: String },
}

#[derive(Subcommand)]
enum AssistantCommand {
    /// Embed every message and task not yet in the index (or embedded by another model), and
    /// drop chunks whose source is gone.
    Reindex,
    /// Build the evaluation corpus (facts hidden in everyday chatter, questions in categories) in
    /// a scratch database, ask every question as the configured assistant would answer it, and
    /// report per category: recall@5, citation recall and precision, exact-fact rate, "not
    /// found" rate and cross-room leaks.
    Eval {
        #[arg(long, default_value_t = 12)]
        rooms: usize,
        /// Everyday messages around the planted facts.
        #[arg(long, default_value_t = 6_000)]
        messages: usize,
        /// Questions per category.
        #[arg(long, default_value_t = 24)]
        per_category: usize,
        /// Also print every question answered wrongly, with its answer.
        #[arg(long)]
        show_misses: bool,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Keep the scratch database (`<database>_eval`) afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// Measure embedding throughput and retrieval latency on a generated corpus in a scratch
    /// database (`<database>_bench`).
    Bench {
        #[arg(long, default_value_t = 100_000)]
        chunks: usize,
        #[arg(long, default_value_t = 100)]
        rooms: usize,
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long)]
        keep: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        // Before the configuration: the document depends on the routes alone, so a missing or
        // broken flowly.toml must not stop it.
        return print_openapi();
    }
    let config =
        Config::load(&cli.config).map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let result = run(config, cli.command).await;
    // What the shipping layer still holds is spooled (and sent when it can be) before exit.
    telemetry::ship::flush();
    result
}

async fn run(config: Config, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Logpilot => {
            telemetry::init_logging(&config.log);
            let broker = config.logpilot.broker().map_err(|e| anyhow::anyhow!(e))?;
            let listen = config.logpilot.listen;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen} (logpilot)"))?;
            // Container logs are collected beside the API, until the same shutdown.
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let collecting = config
                .logpilot
                .collect()
                .map(|c| tokio::spawn(logpilot::collect::run(c, stop_rx)));
            let shutdown = async move {
                server::shutdown_signal().await;
                let _ = stop_tx.send(true);
            };
            logpilot::serve(broker, listener, shutdown).await?;
            if let Some(collecting) = collecting {
                let _ = collecting.await;
            }
            Ok(())
        }
        Command::Config => {
            print!("{}", config.to_redacted_toml());
            Ok(())
        }
        Command::Migrate => {
            telemetry::init_logging(&config.log);
            database(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Serve => {
            telemetry::init_logging(&config.log);
            let listen = config.server.listen;
            let metrics_listen = config.server.metrics_listen;
            let state = server::connect(config).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let metrics = tokio::net::TcpListener::bind(metrics_listen)
                .await
                .with_context(|| format!("cannot listen on {metrics_listen} (metrics)"))?;
            server::serve(state, listener, metrics, server::shutdown_signal()).await
        }
        Command::Openapi => print_openapi(),
        Command::Users(cmd) => users(config, cmd).await,
        Command::Dev(DevCommand::Seed(args)) => {
            telemetry::init_logging(&config.log);
            seed(config, args).await
        }
        Command::Worker => {
            telemetry::init_logging(&config.log);
            worker(config).await
        }
        Command::Assistant(cmd) => {
            telemetry::init_logging(&config.log);
            assistant(config, cmd).await
        }
    }
}

/// Prints the API's OpenAPI document, the one a node serves at `/api/v1/openapi.json`.
fn print_openapi() -> anyhow::Result<()> {
    use std::io::Write;
    let (_, openapi) = flowly::api::api_router();
    // Not `println!`: a closed pipe (`flowly openapi | head`) is an error to report, not a panic.
    writeln!(std::io::stdout().lock(), "{}", openapi.to_pretty_json()?)
        .context("cannot write the document to standard output")
}

/// Runs a worker until SIGTERM, serving its metrics on `assistant.worker_metrics_listen`.
async fn worker(config: Config) -> anyhow::Result<()> {
    let backends = Backends::load(&config.assistant);
    for problem in backends.problems() {
        eprintln!("assistant model not available: {problem}");
    }
    let metrics_listen = config.assistant.worker_metrics_listen;
    let state = server::connect(config).await?;
    let metrics = tokio::net::TcpListener::bind(metrics_listen)
        .await
        .with_context(|| format!("cannot listen on {metrics_listen} (metrics)"))?;
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(telemetry::metrics_handler))
        .with_state(state.clone());
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(async move {
        axum::serve(metrics, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            })
            .await
    });
    let name = format!("worker-{}", state.node_id);
    let handle = worker::spawn(state.clone(), backends, &name).await?;
    server::shutdown_signal().await;
    tracing::info!("worker shutting down");
    handle.stop().await;
    let _ = stop_tx.send(true);
    let _ = state.shutdown.send(true);
    let _ = serving.await;
    Ok(())
}

fn bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} {what} ({{per_sec}}, eta {{eta}})"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// A fresh scratch database next to the configured one, migrated.
async fn scratch(config: &Config, suffix: &str) -> anyhow::Result<(sqlx::PgPool, String, String)> {
    let url = config.database.url.expose().to_owned();
    let (_, db) = url
        .rsplit_once('/')
        .context("database.url has no database name")?;
    let db = db.split('?').next().unwrap_or(db);
    let name = format!("{db}_{suffix}");
    let pool = store::create_scratch(&url, &name)
        .await
        .with_context(|| format!("cannot make the scratch database {name}"))?;
    Ok((pool, name, url))
}

async fn drop_scratch(url: &str, name: &str) -> anyhow::Result<()> {
    Ok(store::drop_scratch(url, name).await?)
}

async fn assistant(config: Config, cmd: AssistantCommand) -> anyhow::Result<()> {
    let embedder =
        models::embedder(&config.assistant.models()).map_err(|e| anyhow::anyhow!("{e}"))?;
    match cmd {
        AssistantCommand::Reindex => {
            let pool = database(&config).await?;
            let indexer = Indexer::new(pool, embedder);
            let pending = indexer.pending().await?;
            let bar = bar(pending.max(0) as u64, "chunks");
            let done = indexer.reindex_all(&|n| bar.inc(n)).await?;
            bar.finish();
            println!(
                "embedded {} chunks, removed {}",
                done.embedded, done.removed
            );
            Ok(())
        }
        AssistantCommand::Eval {
            rooms,
            messages,
            per_category,
            show_misses,
            seed,
            keep,
        } => {
            anyhow::ensure!(
                rooms >= 2 && per_category > 0,
                "the corpus needs at least 2 rooms and a question per category"
            );
            let generator = models::generator(&config.assistant.models())?;
            let corpus = flowly_dataset::assistant::generate(flowly_dataset::assistant::Size {
                rooms,
                filler: messages,
                per_category,
                seed,
            });
            let (pool, name, url) = scratch(&config, "eval").await?;
            let loaded = eval::load(&pool, &corpus, seed).await?;
            println!(
                "corpus: {} rooms, {} messages, {} tasks, {} questions (seed {seed})",
                corpus.rooms.len(),
                corpus.messages.len(),
                corpus.tasks.len(),
                corpus.questions.len()
            );
            let indexer = Indexer::new(pool.clone(), Arc::clone(&embedder));
            let bar1 = bar(indexer.pending().await?.max(0) as u64, "chunks");
            let started = std::time::Instant::now();
            let indexed = indexer.reindex_all(&|n| bar1.inc(n)).await?;
            bar1.finish();
            println!(
                "indexed {} chunks in {:.1} s",
                indexed.embedded,
                started.elapsed().as_secs_f64()
            );
            let bar2 = bar(corpus.questions.len() as u64, "questions");
            let started = std::time::Instant::now();
            let setup = eval::Setup {
                embedder: embedder.as_ref(),
                generator: generator.as_ref(),
                top_k: config.assistant.top_k,
                max_tokens: config.assistant.max_answer_tokens,
                min_score: config.assistant.answer_min_score,
                keep_ratio: config.assistant.answer_keep_ratio,
            };
            let report = eval::evaluate(&pool, &setup, &corpus, &loaded, &|n| bar2.inc(n)).await?;
            bar2.finish();
            println!(
                "generator {}, top_k {}, answer_min_score {}, answer_keep_ratio {}, {:.1} s for the questions\n\n{}\n{}",
                generator.name(),
                config.assistant.top_k,
                config.assistant.answer_min_score,
                config.assistant.answer_keep_ratio,
                started.elapsed().as_secs_f64(),
                report.table(),
                report.calibration()
            );
            if show_misses {
                println!("{}", report.misses.join("\n"));
            }
            pool.close().await;
            if !keep {
                drop_scratch(&url, &name).await?;
            }
            anyhow::ensure!(
                report.leaks() == 0,
                "answers leaked content of rooms the asker is not in"
            );
            Ok(())
        }
        AssistantCommand::Bench {
            chunks,
            rooms,
            queries,
            seed,
            keep,
        } => {
            anyhow::ensure!(
                rooms > 0 && chunks >= rooms * 4,
                "at least 4 chunks per room"
            );
            let (pool, name, url) = scratch(&config, "bench").await?;
            let corpus = bench::load(
                &pool,
                bench::CorpusSize {
                    rooms,
                    messages: chunks,
                    questions: 200.min(chunks / 4),
                    seed,
                },
            )
            .await?;
            println!(
                "corpus: {} rooms, {} messages",
                corpus.rooms.len(),
                corpus.messages
            );
            let bar1 = bar(chunks as u64, "chunks");
            let report = bench::bench(&pool, Arc::clone(&embedder), &corpus, queries, &|n| {
                bar1.inc(n)
            })
            .await?;
            bar1.finish();
            println!(
                "embedding: {} chunks in {:.1} s = {:.0} chunks/s ({})",
                report.chunks,
                report.embed_secs,
                report.chunks_per_sec,
                embedder.model()
            );
            println!(
                "retrieval at {} chunks, {} queries: search p50 {:.1} ms p99 {:.1} ms; with question embedding p50 {:.1} ms p99 {:.1} ms",
                report.chunks,
                report.queries,
                report.search_p50_us as f64 / 1000.0,
                report.search_p99_us as f64 / 1000.0,
                report.total_p50_us as f64 / 1000.0,
                report.total_p99_us as f64 / 1000.0
            );
            pool.close().await;
            if !keep {
                drop_scratch(&url, &name).await?;
            }
            Ok(())
        }
    }
}

/// Connects to PostgreSQL and applies pending migrations: all that the commands working on the
/// database alone need (no Redis, no node).
async fn database(config: &Config) -> anyhow::Result<sqlx::PgPool> {
    let pool = store::connect(&config.database)
        .await
        .context("cannot connect to PostgreSQL")?;
    store::migrate(&pool).await.context("migration failed")?;
    Ok(pool)
}

/// `flowly dev seed`: migrate, seed, write the manifest.
async fn seed(config: Config, args: SeedArgs) -> anyhow::Result<()> {
    fn log(message: &str) {
        eprintln!("[seed] {message}");
    }
    let dataset = args.dataset();
    dataset
        .check()
        .map_err(|why| anyhow::anyhow!("invalid dataset: {why}"))?;
    let pool = database(&config).await?;
    let started = std::time::Instant::now();
    let manifest = dev_seed::seed(
        &pool,
        &config.auth,
        &dataset,
        &SeedOptions {
            login_share: args.login_share,
            seed: args.seed,
            log,
        },
    )
    .await?;
    pool.close().await;
    std::fs::write(&args.manifest, serde_json::to_vec(&manifest)?)
        .with_context(|| format!("write {}", args.manifest.display()))?;
    log(&format!(
        "done in {:.1} s: {}; manifest {}",
        started.elapsed().as_secs_f64(),
        serde_json::to_string(&manifest.counts)?,
        args.manifest.display()
    ));
    Ok(())
}

/// `flowly users`: create and list need only PostgreSQL, not a node (no Redis, hub or presence
/// sweeper); disable also ends the sessions cached in Redis.
async fn users(config: Config, cmd: UsersCommand) -> anyhow::Result<()> {
    if let UsersCommand::Disable { username } = cmd {
        let state = server::connect(config).await?;
        let user = accounts::disable_by_operator(&state, &username)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
        println!(
            "disabled {} ({}); its sessions ended",
            user.username, user.id
        );
        return Ok(());
    }
    let db = database(&config).await?;
    match cmd {
        UsersCommand::Create {
            username,
            display_name,
            admin,
        } => {
            let username = Username::parse(&username)?;
            let display_name =
                DisplayName::parse(display_name.as_deref().unwrap_or(username.as_str()))?;
            let password = match std::env::var("FLOWLY_NEW_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    eprint!("password for {}: ", username.as_str());
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let password = Password::parse(&password, &[username.as_str(), display_name.as_str()])
                .map_err(|e| anyhow::anyhow!("{}: {e}", e.code))?;
            let user =
                accounts::create_user(&db, &config.auth, &username, &display_name, password, admin)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
            println!(
                "created {} ({}){}",
                user.username,
                user.id,
                if user.admin() { ", administrator" } else { "" }
            );
        }
        UsersCommand::List => {
            let mut after: Option<String> = None;
            loop {
                let page = accounts::users_page(&db, after.as_deref(), 200).await?;
                for u in &page {
                    let flags = [(u.admin(), "admin"), (u.is_disabled(), "disabled")]
                        .iter()
                        .filter(|(on, _)| *on)
                        .map(|(_, name)| *name)
                        .collect::<Vec<_>>()
                        .join(",");
                    println!("{}\t{}\t{}\t{}", u.id, u.username, u.display_name, flags);
                }
                match page.last() {
                    Some(last) if page.len() == 200 => after = Some(last.username.clone()),
                    _ => break,
                }
            }
        }
        UsersCommand::Disable { .. } => {}
    }
    db.close().await;
    Ok(())
}
