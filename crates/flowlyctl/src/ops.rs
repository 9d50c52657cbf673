//! The everyday commands: up, down, restart, users, config, doctor, scale.

use std::time::Duration;

use anyhow::{Context, bail};

use crate::appliance::{Appliance, CORE_SERVICES};
use crate::home::new_secret;
use crate::{engine, ui};

pub async fn up(appliance: &Appliance) -> anyhow::Result<()> {
    let n = engine::running(&appliance.docker, &appliance.project, "app")
        .await?
        .len()
        .max(1)
        .to_string();
    let scale = format!("app={n}");
    appliance
        .compose(&["up", "-d", "--remove-orphans", "--scale", &scale])
        .await?;
    let spin = ui::spinner("waiting until every service is healthy");
    let healthy = appliance
        .wait_healthy(CORE_SERVICES, Duration::from_secs(300))
        .await;
    spin.finish_and_clear();
    healthy?;
    println!("Flowly is up: {}", appliance.url()?);
    Ok(())
}

pub async fn down(appliance: &Appliance, volumes: bool) -> anyhow::Result<()> {
    if volumes {
        appliance
            .compose(&["down", "--volumes", "--remove-orphans"])
            .await?;
        println!(
            "Flowly is down and its volumes (database, Redis, metrics) are deleted. The settings \
             and secrets stay in {}; `flowlyctl restore FILE` brings a backup back.",
            appliance.home.dir.display()
        );
    } else {
        appliance.compose(&["down", "--remove-orphans"]).await?;
        println!("Flowly is down; its data is kept. `flowlyctl up` starts it again.");
    }
    Ok(())
}

pub async fn restart(appliance: &Appliance, service: Option<&str>) -> anyhow::Result<()> {
    let mut args = vec!["restart"];
    if let Some(s) = service {
        args.push(s);
    }
    appliance.compose(&args).await?;
    let services: Vec<&str> = match service {
        Some(s) => vec![s],
        None => CORE_SERVICES.to_vec(),
    };
    appliance
        .wait_healthy(&services, Duration::from_secs(300))
        .await?;
    println!("restarted {}", service.unwrap_or("every service"));
    Ok(())
}

#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// Create an account. The password comes from FLOWLY_NEW_PASSWORD, or one is generated and
    /// printed once.
    Create {
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// List the accounts.
    List,
    /// Disable an account: its sessions end at once and it can no longer log in.
    Disable { username: String },
}

pub async fn users(appliance: &Appliance, cmd: UsersCommand) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::Create {
            username,
            display_name,
            admin,
        } => {
            let (password, generated) = match std::env::var("FLOWLY_NEW_PASSWORD") {
                Ok(p) if !p.is_empty() => (p, false),
                _ => (new_secret(), true),
            };
            let mut args = vec!["users", "create", username.as_str()];
            if let Some(d) = &display_name {
                args.extend(["--display-name", d.as_str()]);
            }
            if admin {
                args.push("--admin");
            }
            let out = appliance
                .flowly(&args, &[format!("FLOWLY_NEW_PASSWORD={password}")])
                .await?
                .ok("creating the account")?;
            print!("{}", out.stdout_text());
            if generated {
                println!("password: {password}  (shown once; the user changes it in the app)");
            }
        }
        UsersCommand::List => {
            let out = appliance
                .flowly(&["users", "list"], &[])
                .await?
                .ok("listing accounts")?;
            let mut table = ui::table(&["username", "display name", "flags", "id"]);
            let mut n = 0;
            for line in out.stdout_text().lines() {
                let f: Vec<&str> = line.split('\t').collect();
                if let [id, username, display, flags] = f[..] {
                    table.add_row(vec![username, display, flags, id]);
                    n += 1;
                }
            }
            println!("{table}\n{n} accounts");
        }
        UsersCommand::Disable { username } => {
            let out = appliance
                .flowly(&["users", "disable", &username], &[])
                .await?
                .ok("disabling the account")?;
            print!("{}", out.stdout_text());
        }
    }
    Ok(())
}

/// `flowlyctl config`: the installation's settings with every secret redacted, and the
/// effective configuration of an app node (`flowly config`, which redacts its own).
pub async fn config(appliance: &Appliance) -> anyhow::Result<()> {
    println!("# {}", appliance.home.env_file().display());
    for (k, v) in appliance.env()?.redacted() {
        println!("{k}={v}");
    }
    match appliance.flowly(&["config"], &[]).await {
        Ok(out) => {
            let out = out.ok("flowly config")?;
            println!(
                "\n# flowly config (an app node)\n{}",
                out.stdout_text().trim_end()
            );
        }
        Err(e) => println!("\n# flowly config: no app node answers ({e})"),
    }
    Ok(())
}

/// `flowlyctl doctor`: what is wrong and what to do about it.
pub async fn doctor(appliance: &Appliance) -> anyhow::Result<()> {
    let mut problems = 0;
    let containers = appliance.containers().await?;
    for service in CORE_SERVICES {
        let mine: Vec<_> = containers
            .iter()
            .filter(|c| c.service == *service)
            .collect();
        if !mine.iter().any(|c| c.is_running()) {
            problems += 1;
            ui::failed(&format!(
                "{service}: not running; `flowlyctl up` starts it, `flowlyctl logs {service}` says why it stopped"
            ));
            continue;
        }
        for c in mine {
            match (c.state.as_str(), c.health.as_str()) {
                ("running", "healthy" | "-") => {
                    ui::done(&format!("{}: running, {}", c.name, c.health))
                }
                (state, health) => {
                    problems += 1;
                    ui::failed(&format!(
                        "{}: {state}, {health}; see `flowlyctl logs {}`, then `flowlyctl restart {}`",
                        c.name, c.service, c.service
                    ));
                }
            }
        }
    }
    // The way in: nginx answers over HTTPS and reaches an app node.
    let url = format!("{}/readyz", appliance.local_https()?);
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(5))
        .build()?;
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => ui::done(&format!("{url}: {}", r.status())),
        Ok(r) => {
            problems += 1;
            ui::failed(&format!(
                "{url}: {} — nginx answers but no app node is ready; see `flowlyctl logs app`",
                r.status()
            ));
        }
        Err(e) => {
            problems += 1;
            ui::failed(&format!(
                "{url}: {e} — nginx does not answer; see `flowlyctl logs nginx`"
            ));
        }
    }
    // Disk where Docker keeps volumes.
    let info = appliance.docker.info().await?;
    let root = info
        .docker_root_dir
        .unwrap_or_else(|| "/var/lib/docker".into());
    if let Ok(stat) = rustix::fs::statvfs(root.as_str()) {
        let free = stat.f_bavail * stat.f_frsize;
        if free < 2 << 30 {
            problems += 1;
            ui::failed(&format!(
                "only {} free in {root}: PostgreSQL stops when the disk fills; free space now",
                crate::preflight::gib(free)
            ));
        } else {
            ui::done(&format!("{} free in {root}", crate::preflight::gib(free)));
        }
    }
    if problems > 0 {
        bail!("{problems} problems found");
    }
    println!("no problems found");
    Ok(())
}

/// `flowlyctl scale app=N`: N app nodes behind nginx.
pub async fn scale(appliance: &Appliance, spec: &str) -> anyhow::Result<()> {
    let (service, n) = spec
        .split_once('=')
        .context("write the scale as app=N, e.g. `flowlyctl scale app=3`")?;
    if service != "app" {
        bail!("only the app nodes scale (`app=N`); `{service}` runs once");
    }
    let n: usize = n
        .parse()
        .ok()
        .filter(|n| (1..=16).contains(n))
        .with_context(|| format!("`{n}` is not a number of app nodes from 1 to 16"))?;
    let before = engine::running(&appliance.docker, &appliance.project, "app").await?;
    let scale = format!("app={n}");
    appliance
        .compose(&["up", "-d", "--no-recreate", "--scale", &scale, "app"])
        .await?;
    appliance
        .wait_healthy(&["app"], Duration::from_secs(300))
        .await?;
    // nginx resolves `app` to every node when it (re)loads its configuration.
    appliance.set_upstream(&["app".to_owned()]).await?;
    appliance.reload_nginx().await?;
    let after = engine::running(&appliance.docker, &appliance.project, "app").await?;
    println!(
        "app nodes: {} -> {} ({})",
        before.len(),
        after.len(),
        after
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
