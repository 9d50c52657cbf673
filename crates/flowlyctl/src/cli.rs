//! The command line: `flowlyctl <command>`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::appliance::Appliance;
use crate::home::Home;
use crate::{backup, install, logs, ops, status, upgrade};

#[derive(Debug, Parser)]
#[command(
    name = "flowlyctl",
    version,
    about = "Install and run a Flowly appliance on Docker"
)]
pub struct Cli {
    /// The install directory: settings, secrets, certificate, backups.
    #[arg(
        long,
        global = true,
        env = "FLOWLY_HOME",
        default_value = "/var/lib/flowly"
    )]
    pub home: PathBuf,
    /// The compose project name (several appliances can share one engine).
    #[arg(long, global = true, env = "FLOWLY_PROJECT", default_value = "flowly")]
    pub project: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the machine, then build, start and set up Flowly (safe to run again).
    Install(install::InstallArgs),
    /// Every service: state, health, uptime, CPU, memory, version.
    Status,
    /// The services' logs.
    Logs(logs::LogsArgs),
    /// Restart one service, or all.
    Restart { service: Option<String> },
    /// Stop every service (the data stays, unless --volumes).
    Down {
        /// Also delete the data volumes (database, Redis, metrics). Take a backup first.
        #[arg(short = 'v', long)]
        volumes: bool,
    },
    /// Start every service again.
    Up,
    /// Find what is wrong and say what to do.
    Doctor,
    /// Accounts.
    #[command(subcommand)]
    Users(ops::UsersCommand),
    /// The settings (secrets redacted).
    Config,
    /// Back up the database, settings and secrets into one archive.
    Backup(BackupArgs),
    /// Restore a backup onto a fresh install.
    Restore(backup::RestoreArgs),
    /// Upgrade to the version in the source tree, without downtime; rolls back on failure.
    Upgrade(upgrade::UpgradeArgs),
    /// Run N app nodes: `flowlyctl scale app=3`.
    Scale { spec: String },
}

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub verify: Option<BackupCommand>,
    /// Where to write the archive (default: <home>/backups/flowly-<time>.tar).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Check an archive's checksums and restore it into a throwaway container.
    Verify { file: PathBuf },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let home = Home::new(cli.home);
    if let Command::Install(args) = cli.command {
        return install::run(home, &cli.project, args).await;
    }
    home.require_installed()?;
    let appliance = Appliance::open(home, &cli.project).await?;
    match cli.command {
        Command::Install(_) => Ok(()),
        Command::Status => status::run(&appliance).await,
        Command::Logs(args) => logs::run(&appliance, &args).await,
        Command::Restart { service } => ops::restart(&appliance, service.as_deref()).await,
        Command::Down { volumes } => ops::down(&appliance, volumes).await,
        Command::Up => ops::up(&appliance).await,
        Command::Doctor => ops::doctor(&appliance).await,
        Command::Users(cmd) => ops::users(&appliance, cmd).await,
        Command::Config => ops::config(&appliance).await,
        Command::Backup(BackupArgs {
            verify: Some(BackupCommand::Verify { file }),
            ..
        }) => backup::verify(&appliance, &file).await,
        Command::Backup(BackupArgs { output, .. }) => {
            backup::backup(&appliance, output).await.map(|_| ())
        }
        Command::Restore(args) => backup::restore(&appliance, &args).await,
        Command::Upgrade(args) => upgrade::run(&appliance, &args).await,
        Command::Scale { spec } => ops::scale(&appliance, &spec).await,
    }
}
