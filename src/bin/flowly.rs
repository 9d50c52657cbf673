//! The Flowly server binary: `serve`, `migrate`, `config`, `users`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use flowly::{
    api::create_user,
    config::Config,
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
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Manage accounts from the shell.
    #[command(subcommand)]
    Users(UsersCommand),
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config =
        Config::load(&cli.config).map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    match cli.command {
        Command::Config => {
            print!("{}", config.to_redacted_toml());
            Ok(())
        }
        Command::Migrate => {
            telemetry::init_logging(&config.log);
            let pool = store::connect(&config.database)
                .await
                .context("cannot connect to PostgreSQL")?;
            store::migrate(&pool).await.context("migration failed")?;
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
        Command::Users(cmd) => users(config, cmd).await,
    }
}

async fn users(config: Config, cmd: UsersCommand) -> anyhow::Result<()> {
    let state = server::connect(config).await?;
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
            let password = Password::parse(&password)?;
            let user = create_user(&state, &username, &display_name, password, admin)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
            println!(
                "created {} ({}){}",
                user.username,
                user.id,
                if user.is_admin { ", administrator" } else { "" }
            );
        }
        UsersCommand::List => {
            let mut after: Option<String> = None;
            loop {
                let page = store::users::list(&state.db, after.as_deref(), 200).await?;
                for u in &page {
                    let flags = [(u.is_admin, "admin"), (u.disabled, "disabled")]
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
    }
    Ok(())
}
