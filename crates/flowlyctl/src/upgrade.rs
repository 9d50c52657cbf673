//! `flowlyctl upgrade`: a backup first; the new images; migrations; new app nodes started beside
//! the old ones; once they are healthy nginx switches to them (a reload drops no connection); the
//! old nodes drain and stop; then the other services whose image changed are replaced. If the new
//! nodes never turn healthy, everything goes back as it was.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::appliance::{
    Appliance, CORE_SERVICES, copy_web, prune_web, set_web_root, write_nginx_site,
};
use crate::engine;
use crate::images::{self, Sources};
use crate::ui;

#[derive(Debug, clap::Args)]
pub struct UpgradeArgs {
    /// The new Flowly source tree (built: the flowly binary, web/dist).
    #[arg(long, env = "FLOWLY_SOURCE", default_value = ".")]
    pub source: std::path::PathBuf,
    #[arg(long)]
    pub flowly_bin: Option<std::path::PathBuf>,
    #[arg(long)]
    pub pg_wheel: Option<std::path::PathBuf>,
    /// Seconds the new app nodes get to turn healthy before the upgrade is rolled back.
    #[arg(long, default_value_t = 180)]
    pub health_timeout: u64,
    /// Skip the automatic backup (not recommended).
    #[arg(long)]
    pub no_backup: bool,
}

pub async fn run(appliance: &Appliance, args: &UpgradeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let sources = Sources::locate(
        std::fs::canonicalize(&args.source)
            .with_context(|| format!("no source tree at {}", args.source.display()))?,
        args.flowly_bin.clone(),
        args.pg_wheel.clone(),
    )?;
    let old_env = appliance.env()?;
    let old_version = old_env.get("FLOWLY_VERSION").unwrap_or_default().to_owned();
    let tags = sources.tags()?;
    let version = sources.version(&tags)?;
    if version == old_version {
        println!("Flowly {version} is installed already; nothing to upgrade.");
        return Ok(());
    }
    ui::step(&format!("upgrading Flowly {old_version} -> {version}"));
    if !args.no_backup {
        crate::backup::backup(appliance, None).await?;
    }

    ui::step("images");
    let bar = ui::counter(tags.len() as u64, "images");
    let built = images::build_missing(&appliance.docker, &sources, &tags, &bar).await;
    bar.finish_and_clear();
    ui::done(&format!("built {}", built?.len()));

    let mut env = old_env.clone();
    env.set("FLOWLY_VERSION", &version);
    crate::install::set_engine_settings(&mut env, &appliance.project);
    for secret in crate::home::SECRET_KEYS {
        env.set_missing(secret, crate::home::new_secret);
    }
    for (image, tag) in &tags {
        env.set(&images::env_key(image), tag);
    }
    copy_web(&appliance.home, &sources.root.join("web/dist"), &version)?;
    appliance.home.write_env(&env)?;

    // The nginx site before the switch, to put back on a rollback.
    let site_dir = appliance.home.dir.join("nginx");
    let old_site: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(&site_dir)?
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read(e.path()).ok().map(|c| (e.path(), c)))
        .collect();
    let result = switch(
        appliance,
        &sources.root,
        &version,
        Duration::from_secs(args.health_timeout),
    )
    .await;
    if let Err(e) = result {
        ui::failed(&format!("the upgrade failed: {e:#}"));
        ui::step(&format!("rolling back to {old_version}"));
        appliance.home.write_env(&old_env)?;
        for (path, content) in &old_site {
            crate::home::write_with_mode(path, content, 0o644)?;
        }
        rollback(appliance, &old_version).await?;
        bail!(
            "upgrade to {version} rolled back; Flowly {old_version} runs as before. Cause: {e:#}"
        );
    }

    ui::step("replacing the other services whose image changed");
    let n = engine::running(&appliance.docker, &appliance.project, "app")
        .await?
        .len()
        .to_string();
    let scale = format!("app={n}");
    appliance
        .compose(&["up", "-d", "--remove-orphans", "--scale", &scale])
        .await?;
    appliance
        .wait_healthy(CORE_SERVICES, Duration::from_secs(300))
        .await?;
    prune_web(&appliance.home, &[&version, &old_version])?;
    println!(
        "upgraded to Flowly {version} in {:.1} s; the previous web client stays for a rollback",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Migrations, then the blue/green switch of the app nodes.
async fn switch(
    appliance: &Appliance,
    root: &std::path::Path,
    version: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    ui::step("database migrations (new version)");
    appliance
        .compose
        .run_quiet(&["run", "--rm", "--no-deps", "-T", "app", "migrate"])
        .await?;

    let old = engine::running(&appliance.docker, &appliance.project, "app").await?;
    let n = old.len().max(1);
    let nodes = |k: usize| format!("{k} app node{}", if k == 1 { "" } else { "s" });
    ui::step(&format!(
        "starting {} beside the old {}",
        nodes(n),
        nodes(old.len())
    ));
    let scale = format!("app={}", old.len() + n);
    appliance
        .compose
        .run_quiet(&[
            "up",
            "-d",
            "--no-deps",
            "--no-recreate",
            "--scale",
            &scale,
            "app",
        ])
        .await?;
    let fresh: Vec<_> = engine::running(&appliance.docker, &appliance.project, "app")
        .await?
        .into_iter()
        .filter(|c| !old.iter().any(|o| o.id == c.id))
        .collect();
    if fresh.len() != n {
        bail!(
            "{} started but {} kept running: the new version stops right after it starts \
             (`flowlyctl logs app` shows why)",
            nodes(n),
            fresh.len()
        );
    }
    let spin = ui::spinner("waiting until the new app nodes are healthy");
    let healthy = wait_containers_healthy(appliance, &fresh, timeout).await;
    spin.finish_and_clear();
    healthy?;
    ui::done(&format!(
        "new nodes healthy: {}",
        fresh
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));

    ui::step("switching nginx to the new nodes, site and web client");
    let https_port = appliance
        .env()?
        .get("FLOWLY_HTTPS_PORT")
        .and_then(|p| p.parse().ok())
        .unwrap_or(443);
    write_nginx_site(&appliance.home, root, https_port)?;
    set_web_root(&appliance.home, version)?;
    let names: Vec<String> = fresh.iter().map(|c| c.name.clone()).collect();
    appliance.set_upstream(&names).await?;
    appliance.reload_nginx().await?;

    ui::step("draining and stopping the old nodes");
    // nginx's old workers finish the requests they hold; the nodes then finish theirs on SIGTERM.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for c in &old {
        stop_and_remove(appliance, &c.id).await?;
    }
    appliance.set_upstream(&["app".to_owned()]).await?;
    appliance.reload_nginx().await?;
    Ok(())
}

/// Removes the app nodes of the failed version and puts nginx back on the old ones.
async fn rollback(appliance: &Appliance, old_version: &str) -> anyhow::Result<()> {
    let old_image = appliance
        .env()?
        .get(&images::env_key("flowly"))
        .unwrap_or_default()
        .to_owned();
    set_web_root(&appliance.home, old_version)?;
    appliance.set_upstream(&["app".to_owned()]).await?;
    for c in engine::containers(&appliance.docker, &appliance.project).await? {
        if c.service == "app" && c.image != old_image {
            stop_and_remove(appliance, &c.id).await?;
        }
    }
    appliance.reload_nginx().await?;
    appliance
        .wait_healthy(CORE_SERVICES, Duration::from_secs(120))
        .await
}

async fn wait_containers_healthy(
    appliance: &Appliance,
    containers: &[engine::Container],
    timeout: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let now = engine::containers(&appliance.docker, &appliance.project).await?;
        let states: Vec<(String, String, String)> = containers
            .iter()
            .map(|c| {
                now.iter()
                    .find(|n| n.id == c.id)
                    .map(|n| (n.name.clone(), n.state.clone(), n.health.clone()))
                    .unwrap_or_else(|| (c.name.clone(), "gone".into(), "-".into()))
            })
            .collect();
        if states
            .iter()
            .all(|(_, s, h)| s == "running" && h == "healthy")
        {
            return Ok(());
        }
        if let Some((name, state, _)) = states.iter().find(|(_, s, _)| s != "running") {
            bail!("the new app node {name} is {state} (see `flowlyctl logs app`)");
        }
        if started.elapsed() > timeout {
            bail!(
                "the new app nodes did not turn healthy in {} s: {}",
                timeout.as_secs(),
                states
                    .iter()
                    .map(|(n, _, h)| format!("{n} {h}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn stop_and_remove(appliance: &Appliance, id: &str) -> anyhow::Result<()> {
    let stop = bollard::query_parameters::StopContainerOptionsBuilder::default()
        .t(30)
        .build();
    appliance.docker.stop_container(id, Some(stop)).await?;
    let remove = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
        .force(true)
        .build();
    appliance.docker.remove_container(id, Some(remove)).await?;
    Ok(())
}
