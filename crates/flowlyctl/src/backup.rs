//! `flowlyctl backup`, `backup verify` and `restore`: one tar archive holding a manifest (Flowly
//! version, last migration, PostgreSQL major, image ids, architecture), the database as
//! `pg_dump -Fc` streamed out of the postgres container, the settings and secrets, the
//! certificate, and a SHA-256 of every file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::appliance::{Appliance, CORE_SERVICES};
use crate::engine::{self, Chunk};
use crate::home::{Env, write_private, write_with_mode};
use crate::{images, ui};

/// Bumped when the archive's layout changes; restore refuses formats it does not know.
pub const FORMAT: u32 = 1;
const DUMP: &str = "database.dump";
const PG_DUMP: &[&str] = &[
    "pg_dump",
    "-h",
    "/var/run/postgresql",
    "-U",
    "postgres",
    "-Fc",
    "flowly",
];

/// A directory in a service's volume that a backup carries, as a tar stream out of (and back
/// into) the service's container.
pub struct VolumeData {
    /// The file in the archive.
    pub file: &'static str,
    /// The compose service whose container reads and writes it.
    pub service: &'static str,
    /// Where the volume is mounted in that container.
    pub dir: &'static str,
    /// The compose volume (without the project's prefix).
    pub volume: &'static str,
    /// What it is, for people.
    pub what: &'static str,
}

/// The volumes' data a backup carries besides the database: LogPilot's segments and consumer
/// offsets (append-only; a record torn by the copy is cut when the broker opens them again), and
/// the attachments (each file is renamed into place whole, so the copy never holds half of one).
pub const VOLUMES: &[VolumeData] = &[
    VolumeData {
        file: "logpilot.tar",
        service: "logpilot",
        dir: "/var/lib/logpilot",
        volume: "logpilotdata",
        what: "LogPilot's data",
    },
    VolumeData {
        file: "attachments.tar",
        service: "app",
        dir: "/var/lib/flowly/attachments",
        volume: "attachments",
        what: "attachments",
    },
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub flowly_version: String,
    pub last_migration: i64,
    pub postgres_major: u32,
    pub arch: String,
    pub created_at: String,
    /// image tag -> image id (sha256:…)
    pub images: BTreeMap<String, String>,
    /// file in the archive -> SHA-256 (hex)
    pub files: BTreeMap<String, String>,
}

/// Files of the install directory that a backup carries (path relative to it).
const HOME_FILES: &[&str] = &[
    "compose.env",
    "docker-compose.yml",
    "tls/cert.pem",
    "tls/key.pem",
    "nginx/upstream.conf",
    "nginx/web-root.conf",
    "nginx/redirect.conf",
    "nginx/flowly.conf",
    "nginx/locations.conf",
    "nginx/redirect.conf",
    "admin-credentials",
];

pub async fn backup(appliance: &Appliance, output: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let started = Instant::now();
    let env = appliance.env()?;
    let version = env
        .get("FLOWLY_VERSION")
        .context("compose.env has no FLOWLY_VERSION")?
        .to_owned();
    let postgres = engine::one(&appliance.docker, &appliance.project, "postgres").await?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let output = output.unwrap_or_else(|| {
        appliance
            .home
            .dir
            .join("backups")
            .join(format!("flowly-{stamp}.tar"))
    });
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;

    // Facts for the manifest, read from the running database.
    let facts = psql(
        appliance,
        &postgres.id,
        "select coalesce(max(version), 0) || ' ' || current_setting('server_version_num') from _sqlx_migrations",
    )
    .await?;
    let (last_migration, server_version) = facts
        .trim()
        .split_once(' ')
        .context("unexpected answer from PostgreSQL")?;

    ui::step(&format!(
        "dumping the database (pg_dump -Fc) into {}",
        output.display()
    ));
    let dump_path = dir.join(format!(".{DUMP}.{stamp}.partial"));
    let bar = ui::spinner("pg_dump");
    let dumped = stream_out(appliance, &postgres.id, PG_DUMP, &dump_path, &bar).await;
    bar.finish_and_clear();
    let (dump_sha, dump_bytes) = dumped?;
    ui::done(&format!("database: {}", crate::status::bytes(dump_bytes)));
    let mut files = BTreeMap::new();
    files.insert(DUMP.to_owned(), dump_sha);

    let mut volume_paths = Vec::new();
    for volume in VOLUMES {
        let path = dir.join(format!(".{}.{stamp}.partial", volume.file));
        if let Some(sha) = copy_volume(appliance, volume, &path).await? {
            files.insert(volume.file.to_owned(), sha);
            volume_paths.push((volume.file, path));
        }
    }
    let mut home_files = Vec::new();
    for name in HOME_FILES {
        let path = appliance.home.dir.join(name);
        if path.is_file() {
            let content = std::fs::read(&path)?;
            files.insert(
                format!("home/{name}"),
                hex::encode(Sha256::digest(&content)),
            );
            home_files.push((format!("home/{name}"), content));
        }
    }
    let mut image_ids = BTreeMap::new();
    for image in images::IMAGES {
        let Some(tag) = env.get(&images::env_key(image)) else {
            continue;
        };
        if let Ok(info) = appliance.docker.inspect_image(tag).await {
            image_ids.insert(tag.to_owned(), info.id.unwrap_or_default());
        }
    }
    let manifest = Manifest {
        format: FORMAT,
        flowly_version: version,
        last_migration: last_migration.parse().unwrap_or(0),
        postgres_major: server_version.parse::<u32>().unwrap_or(0) / 10000,
        arch: appliance
            .docker
            .info()
            .await?
            .architecture
            .unwrap_or_default(),
        created_at: chrono::Utc::now().to_rfc3339(),
        images: image_ids,
        files,
    };

    let partial = output.with_extension("tar.partial");
    {
        let file = File::create(&partial)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        let mut archive = tar::Builder::new(file);
        let manifest_json = serde_json::to_vec_pretty(&manifest)?;
        append(&mut archive, "manifest.json", &manifest_json, 0o600)?;
        let sums: String = manifest
            .files
            .iter()
            .map(|(name, sha)| format!("{sha}  {name}\n"))
            .collect();
        append(&mut archive, "SHA256SUMS", sums.as_bytes(), 0o600)?;
        archive.append_path_with_name(&dump_path, DUMP)?;
        for (name, path) in &volume_paths {
            archive.append_path_with_name(path, name)?;
        }
        for (name, content) in &home_files {
            append(&mut archive, name, content, 0o600)?;
        }
        archive.into_inner()?.sync_all()?;
    }
    std::fs::remove_file(&dump_path)?;
    for (_, path) in &volume_paths {
        std::fs::remove_file(path)?;
    }
    std::fs::rename(&partial, &output)?;
    std::fs::set_permissions(&output, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let size = std::fs::metadata(&output)?.len();
    println!(
        "backup {} ({}, Flowly {}, migration {}, PostgreSQL {}) in {:.1} s",
        output.display(),
        crate::status::bytes(size),
        manifest.flowly_version,
        manifest.last_migration,
        manifest.postgres_major,
        started.elapsed().as_secs_f64()
    );
    Ok(output)
}

/// Streams a volume's directory out of a running container of its service into `path`; returns
/// its SHA-256, or `None` when no such container runs (the backup then holds no copy of it).
async fn copy_volume(
    appliance: &Appliance,
    volume: &VolumeData,
    path: &Path,
) -> anyhow::Result<Option<String>> {
    let running = engine::running(&appliance.docker, &appliance.project, volume.service).await?;
    let Some(container) = running.first() else {
        ui::failed(&format!(
            "{} is not running: the backup holds no {}",
            volume.service, volume.what
        ));
        return Ok(None);
    };
    let bar = ui::spinner(volume.what);
    let out = ["tar", "-C", volume.dir, "-cf", "-", "."];
    let copied = stream_out(appliance, &container.id, &out, path, &bar).await;
    bar.finish_and_clear();
    let (sha, size) = copied?;
    ui::done(&format!("{}: {}", volume.what, crate::status::bytes(size)));
    Ok(Some(sha))
}

fn append(
    archive: &mut tar::Builder<File>,
    name: &str,
    content: &[u8],
    mode: u32,
) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(mode);
    header.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
    header.set_cksum();
    archive.append_data(&mut header, name, content)?;
    Ok(())
}

/// Streams what `cmd` prints in the container into `path`; returns its SHA-256 and size.
async fn stream_out(
    appliance: &Appliance,
    container: &str,
    cmd: &[&str],
    path: &Path,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<(String, u64)> {
    let mut file =
        File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut stderr = Vec::new();
    let code = engine::exec_stream(
        &appliance.docker,
        container,
        cmd,
        &[],
        None::<futures::stream::Empty<std::io::Result<Vec<u8>>>>,
        |chunk| {
            match chunk {
                Chunk::Out(b) => {
                    hasher.update(&b);
                    file.write_all(&b)?;
                    size += b.len() as u64;
                    bar.set_message(format!("{}: {}", cmd[0], crate::status::bytes(size)));
                }
                Chunk::Err(b) => stderr.extend_from_slice(&b),
            }
            Ok(())
        },
    )
    .await?;
    if code != 0 {
        let _ = std::fs::remove_file(path);
        bail!(
            "{} failed (exit {code}): {}",
            cmd[0],
            String::from_utf8_lossy(&stderr).trim()
        );
    }
    file.sync_all()?;
    Ok((hex::encode(hasher.finalize()), size))
}

async fn psql(appliance: &Appliance, container: &str, sql: &str) -> anyhow::Result<String> {
    psql_db(appliance, container, "flowly", sql).await
}

/// An archive read back and checked: its manifest, and every file's checksum verified.
pub struct Archive {
    pub manifest: Manifest,
    pub path: PathBuf,
}

pub fn open(path: &Path) -> anyhow::Result<Archive> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut archive = tar::Archive::new(file);
    let mut manifest: Option<Manifest> = None;
    let mut sums = BTreeMap::new();
    for entry in archive.entries().with_context(|| {
        format!(
            "{} is not a Flowly backup (not a tar archive)",
            path.display()
        )
    })? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if name == "manifest.json" {
            let mut text = Vec::new();
            entry.read_to_end(&mut text)?;
            manifest = Some(
                serde_json::from_slice(&text)
                    .context("the backup's manifest.json is unreadable")?,
            );
            continue;
        }
        let mut hasher = Sha256::new();
        std::io::copy(&mut entry, &mut HashWriter(&mut hasher))?;
        sums.insert(name, hex::encode(hasher.finalize()));
    }
    let manifest = manifest.with_context(|| {
        format!(
            "{} is not a Flowly backup (no manifest.json)",
            path.display()
        )
    })?;
    if manifest.format > FORMAT {
        bail!(
            "this backup has format {} and this flowlyctl reads up to {FORMAT}: use a newer flowlyctl",
            manifest.format
        );
    }
    for (name, want) in &manifest.files {
        match sums.get(name) {
            None => bail!("the backup is incomplete: {name} is missing"),
            Some(have) if have != want => {
                bail!("the backup is damaged: {name} does not match its checksum")
            }
            Some(_) => {}
        }
    }
    Ok(Archive {
        manifest,
        path: path.to_owned(),
    })
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One file of the archive, read into memory (settings) or streamed (the dump).
fn read_entry(path: &Path, wanted: &str) -> anyhow::Result<Vec<u8>> {
    let mut archive = tar::Archive::new(File::open(path)?);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.path()?.to_string_lossy() == wanted {
            let mut out = Vec::new();
            entry.read_to_end(&mut out)?;
            return Ok(out);
        }
    }
    bail!("{wanted} is not in the backup")
}

/// Streams one file of the archive in chunks, for a command in a container to read on stdin.
fn entry_chunks(
    path: &Path,
    wanted: &'static str,
) -> anyhow::Result<futures::channel::mpsc::Receiver<std::io::Result<Vec<u8>>>> {
    let (mut tx, rx) = futures::channel::mpsc::channel(8);
    let path = path.to_owned();
    std::thread::spawn(move || {
        let send = |tx: &mut futures::channel::mpsc::Sender<_>, item| {
            futures::executor::block_on(futures::SinkExt::send(tx, item)).is_ok()
        };
        let result = (|| -> std::io::Result<()> {
            let mut archive = tar::Archive::new(File::open(&path)?);
            for entry in archive.entries()? {
                let mut entry = entry?;
                if entry.path()?.to_string_lossy() != wanted {
                    continue;
                }
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = entry.read(&mut buf)?;
                    if n == 0 {
                        return Ok(());
                    }
                    if !send(&mut tx, Ok(buf[..n].to_vec())) {
                        return Ok(());
                    }
                }
            }
            Err(std::io::Error::other(format!("the backup has no {wanted}")))
        })();
        if let Err(e) = result {
            send(&mut tx, Err(e));
        }
    });
    Ok(rx)
}

/// Restores the dump into the `flowly` database of a running PostgreSQL container.
async fn pg_restore(
    appliance: &Appliance,
    container: &str,
    archive: &Path,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<()> {
    let mut stderr = Vec::new();
    let code = engine::exec_stream(
        &appliance.docker,
        container,
        &[
            "pg_restore",
            "-h",
            "/var/run/postgresql",
            "-U",
            "postgres",
            "-d",
            "flowly",
            "--exit-on-error",
            "--no-owner",
        ],
        &[],
        Some(entry_chunks(archive, DUMP)?),
        |chunk| {
            if let Chunk::Err(b) = chunk {
                stderr.extend_from_slice(&b);
            }
            bar.tick();
            Ok(())
        },
    )
    .await?;
    if code != 0 {
        bail!(
            "pg_restore failed (exit {code}): {}",
            String::from_utf8_lossy(&stderr).trim()
        );
    }
    Ok(())
}

/// `flowlyctl backup verify FILE`: checksums, then a restore into a throwaway PostgreSQL
/// container, then the restored database's last migration against the manifest's.
pub async fn verify(appliance: &Appliance, path: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let archive = open(path)?;
    ui::done("every checksum matches");
    let m = &archive.manifest;
    // The PostgreSQL image the backup was taken with, or failing that this installation's.
    let env = appliance.env()?;
    let mut candidates: Vec<String> = m
        .images
        .keys()
        .filter(|t| t.starts_with("flowly/postgres:"))
        .cloned()
        .collect();
    candidates.extend(env.get(&images::env_key("postgres")).map(str::to_owned));
    let mut image = None;
    for c in candidates {
        if engine::has_image(&appliance.docker, &c).await {
            image = Some(c);
            break;
        }
    }
    let image =
        image.context("no PostgreSQL image to verify with: run `flowlyctl install` first")?;
    let name = format!("{}-verify-{}", appliance.project, std::process::id());
    let container = Throwaway::start(appliance, &name, &image).await?;
    let result = async {
        // The image's first start made an empty `flowly` database (with pgvector).
        wait_ready(appliance, &container.id).await?;
        let bar = ui::spinner("pg_restore into a throwaway container");
        let restored = pg_restore(appliance, &container.id, &archive.path, &bar).await;
        bar.finish_and_clear();
        restored?;
        let last = psql(
            appliance,
            &container.id,
            "select coalesce(max(version), 0) from _sqlx_migrations",
        )
        .await?;
        let counts = psql(
            appliance,
            &container.id,
            "select (select count(*) from users) || ' users, ' || (select count(*) from messages) || ' messages, ' || (select count(*) from tasks) || ' tasks'",
        )
        .await?;
        if last.trim() != m.last_migration.to_string() {
            bail!(
                "the restored database is at migration {} but the manifest says {}",
                last.trim(),
                m.last_migration
            );
        }
        Ok::<_, anyhow::Error>(counts.trim().to_owned())
    }
    .await;
    container.remove(appliance).await;
    let counts = result?;
    println!(
        "backup {} is good: Flowly {}, migration {}, {counts}; restored in a throwaway container in {:.1} s",
        path.display(),
        m.flowly_version,
        m.last_migration,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

struct Throwaway {
    id: String,
}

impl Throwaway {
    async fn start(appliance: &Appliance, name: &str, image: &str) -> anyhow::Result<Self> {
        use bollard::models::ContainerCreateBody;
        use bollard::query_parameters::{CreateContainerOptionsBuilder, StartContainerOptions};
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            env: Some(vec![format!(
                "POSTGRES_PASSWORD={}",
                crate::home::new_secret()
            )]),
            network_disabled: Some(true),
            ..Default::default()
        };
        let created = appliance
            .docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(name).build()),
                body,
            )
            .await
            .with_context(|| format!("cannot create a throwaway container from {image}"))?;
        appliance
            .docker
            .start_container(&created.id, None::<StartContainerOptions>)
            .await?;
        Ok(Throwaway { id: created.id })
    }

    async fn remove(self, appliance: &Appliance) {
        let options = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let _ = appliance
            .docker
            .remove_container(&self.id, Some(options))
            .await;
    }
}

async fn psql_db(
    appliance: &Appliance,
    container: &str,
    db: &str,
    sql: &str,
) -> anyhow::Result<String> {
    let out = engine::exec(
        &appliance.docker,
        container,
        &[
            "psql",
            "-h",
            "/var/run/postgresql",
            "-U",
            "postgres",
            "-d",
            db,
            "-X",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ],
        &[],
        None,
    )
    .await?
    .ok("psql")?;
    Ok(out.stdout_text())
}

async fn wait_ready(appliance: &Appliance, container: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let out = engine::exec(
            &appliance.docker,
            container,
            &[
                "pg_isready",
                "-q",
                "-h",
                "/var/run/postgresql",
                "-U",
                "postgres",
            ],
            &[],
            None,
        )
        .await;
        if out.is_ok_and(|o| o.code == 0) {
            // pg_isready answers during initdb's own temporary start: wait for the real one.
            if psql_db(appliance, container, "postgres", "select 1")
                .await
                .is_ok()
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if psql_db(appliance, container, "postgres", "select 1")
                    .await
                    .is_ok()
                {
                    return Ok(());
                }
            }
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("PostgreSQL in the throwaway container did not start in 120 s");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup archive (from `flowlyctl backup`).
    pub file: PathBuf,
    /// Restore even if the backup's Flowly version or architecture differs from this
    /// installation's, or the database already holds data (it is replaced).
    #[arg(long)]
    pub force: bool,
}

/// `flowlyctl restore FILE`: onto a fresh install (after `down -v` or on a new machine).
pub async fn restore(appliance: &Appliance, args: &RestoreArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let archive = open(&args.file)?;
    let m = &archive.manifest;
    ui::done(&format!(
        "backup of Flowly {} (migration {}, PostgreSQL {}, {}) from {}; checksums match",
        m.flowly_version, m.last_migration, m.postgres_major, m.arch, m.created_at
    ));
    let mut env = appliance.env()?;
    let installed = env.get("FLOWLY_VERSION").unwrap_or_default().to_owned();
    let arch = appliance
        .docker
        .info()
        .await?
        .architecture
        .unwrap_or_default();
    let mut refusals = Vec::new();
    if m.flowly_version != installed {
        refusals.push(format!(
            "the backup is of Flowly {} and this installation runs {installed}: install {} \
             first (or upgrade after restoring), or pass --force to restore anyway",
            m.flowly_version, m.flowly_version
        ));
    }
    if m.arch != arch {
        refusals.push(format!(
            "the backup was taken on {} and this engine runs {arch}: the images differ; pass \
             --force to restore the data anyway",
            m.arch
        ));
    }
    if !refusals.is_empty() && !args.force {
        bail!(
            "restore refused; nothing was changed:\n  {}",
            refusals.join("\n  ")
        );
    }

    // The secrets and settings come back from the backup; where this machine differs (its
    // directory, ports, name) the current values stay.
    let saved = Env::parse(&String::from_utf8_lossy(&read_entry(
        &archive.path,
        "home/compose.env",
    )?));
    for key in crate::home::SECRET_KEYS {
        if let Some(v) = saved.get(key) {
            env.set(key, v);
        }
    }
    ui::step("stopping Flowly for the restore");
    appliance.compose(&["down", "--remove-orphans"]).await?;
    appliance.home.write_env(&env)?;
    for name in ["tls/cert.pem", "tls/key.pem", "admin-credentials"] {
        if let Ok(content) = read_entry(&archive.path, &format!("home/{name}")) {
            let mode = if name == "tls/cert.pem" { 0o644 } else { 0o600 };
            if mode == 0o600 {
                write_private(&appliance.home.dir.join(name), &content)?;
            } else {
                write_with_mode(&appliance.home.dir.join(name), &content, mode)?;
            }
        }
    }

    ui::step("restoring the database");
    appliance.start_data_services().await?;
    let postgres = engine::one(&appliance.docker, &appliance.project, "postgres").await?;
    let users = psql_db(
        appliance,
        &postgres.id,
        "postgres",
        "select count(*) from pg_database where datname = 'flowly'",
    )
    .await?;
    if users.trim() == "1" {
        let has_data = psql(
            appliance,
            &postgres.id,
            "select count(*) from information_schema.tables where table_name = 'users'",
        )
        .await?;
        if has_data.trim() != "0" && !args.force {
            bail!(
                "the database already holds Flowly's tables: restore onto a fresh install \
                 (`flowlyctl down -v` deletes the data) or pass --force to replace it"
            );
        }
        psql_db(
            appliance,
            &postgres.id,
            "postgres",
            "drop database flowly with (force)",
        )
        .await?;
    }
    psql_db(
        appliance,
        &postgres.id,
        "postgres",
        "create database flowly",
    )
    .await?;
    let bar = ui::spinner("pg_restore");
    let restored = pg_restore(appliance, &postgres.id, &archive.path, &bar).await;
    bar.finish_and_clear();
    restored?;
    // The superuser's password is the one in compose.env now (the backup's), whatever the
    // volume was initialised with. Sent on stdin, never on a command line.
    let password = env
        .get("POSTGRES_PASSWORD")
        .context("compose.env has no POSTGRES_PASSWORD")?;
    engine::exec(
        &appliance.docker,
        &postgres.id,
        &[
            "psql",
            "-h",
            "/var/run/postgresql",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
            "-",
        ],
        &[],
        Some(format!("alter user postgres password '{password}';\n").into_bytes()),
    )
    .await?
    .ok("setting the database password")?;
    ui::done("database restored");

    for volume in VOLUMES {
        if archive.manifest.files.contains_key(volume.file) {
            restore_volume(appliance, &archive.path, volume).await?;
            ui::done(&format!("{} restored", volume.what));
        }
    }

    ui::step("starting every service");
    appliance.compose(&["up", "-d", "--remove-orphans"]).await?;
    appliance
        .wait_healthy(CORE_SERVICES, Duration::from_secs(300))
        .await?;
    println!(
        "restored {} in {:.1} s: {}",
        args.file.display(),
        started.elapsed().as_secs_f64(),
        appliance.url()?
    );
    Ok(())
}

/// Puts a volume's data back while its service is stopped: compose creates the volume (with its
/// labels) by starting the service once; a throwaway container of the same image, with that
/// volume, unpacks the archive's copy into it.
async fn restore_volume(
    appliance: &Appliance,
    archive: &Path,
    volume: &VolumeData,
) -> anyhow::Result<()> {
    use bollard::models::{ContainerCreateBody, HostConfig};
    use bollard::query_parameters::{CreateContainerOptionsBuilder, StartContainerOptions};
    appliance
        .compose
        .run_quiet(&["up", "-d", "--no-deps", volume.service])
        .await?;
    appliance
        .compose
        .run_quiet(&["stop", volume.service])
        .await?;
    let image = appliance
        .env()?
        .get(&images::env_key("flowly"))
        .context("compose.env names no flowly image")?
        .to_owned();
    let name = format!("{}_{}", appliance.project, volume.volume);
    let body = ContainerCreateBody {
        image: Some(image),
        entrypoint: Some(vec!["sleep".into(), "3600".into()]),
        cmd: Some(vec![]),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{name}:{}", volume.dir)]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let name = format!(
        "{}-restore-{}-{}",
        appliance.project,
        volume.volume,
        std::process::id()
    );
    let created = appliance
        .docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body,
        )
        .await
        .with_context(|| format!("cannot create a container to restore the {}", volume.what))?;
    let container = Throwaway { id: created.id };
    let result = async {
        appliance
            .docker
            .start_container(&container.id, None::<StartContainerOptions>)
            .await?;
        let mut stderr = Vec::new();
        let code = engine::exec_stream(
            &appliance.docker,
            &container.id,
            &["tar", "-C", volume.dir, "-xf", "-"],
            &[],
            Some(entry_chunks(archive, volume.file)?),
            |chunk| {
                if let Chunk::Err(b) = chunk {
                    stderr.extend_from_slice(&b);
                }
                Ok(())
            },
        )
        .await?;
        if code != 0 {
            bail!(
                "unpacking the {} failed (exit {code}): {}",
                volume.what,
                String::from_utf8_lossy(&stderr).trim()
            );
        }
        Ok(())
    }
    .await;
    container.remove(appliance).await;
    result
}

#[cfg(test)]
mod tests {
    use super::VOLUMES;

    /// A volume the backup carries must be the one compose mounts there, or the backup would
    /// stream an empty directory out of the container and restore into a volume nobody reads.
    #[test]
    fn every_backed_up_directory_is_a_volume_the_compose_file_mounts_there() {
        let compose = include_str!("../../../compose/docker-compose.yml");
        for v in VOLUMES {
            assert!(
                compose.contains(&format!("{}:{}", v.volume, v.dir)),
                "compose/docker-compose.yml does not mount {} at {}",
                v.volume,
                v.dir
            );
            assert!(
                compose.contains(&format!("\n  {}: {{}}\n", v.volume)),
                "compose/docker-compose.yml does not declare the volume {}",
                v.volume
            );
            assert!(v.file.ends_with(".tar"), "{}", v.file);
        }
    }
}
