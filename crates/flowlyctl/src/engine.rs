//! The Docker engine, through its API (bollard): the appliance's containers by compose service,
//! their health, commands run inside them, and image builds from a directory.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use bollard::Docker;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{ContainerSummary, ExecConfig};
use bollard::query_parameters::{BuildImageOptionsBuilder, ListContainersOptionsBuilder};
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

/// The compose labels every container of the appliance carries (compose v1 and v2 alike).
pub const PROJECT_LABEL: &str = "com.docker.compose.project";
pub const SERVICE_LABEL: &str = "com.docker.compose.service";

/// Connects to the local engine (`DOCKER_HOST` or /var/run/docker.sock) and agrees on an API
/// version both sides speak (Debian's engine 20.10 speaks 1.41).
pub async fn connect() -> anyhow::Result<Docker> {
    let stopped = |e: bollard::errors::Error| {
        anyhow!(
            "the Docker engine does not answer ({e}). Start it (`systemctl start docker`, or \
             `appliance/docker-engine.sh ensure`) and run this again"
        )
    };
    let docker = Docker::connect_with_local_defaults()
        .map_err(stopped)?
        .with_timeout(Duration::from_secs(600));
    docker.negotiate_version().await.map_err(stopped)
}

/// One container of the appliance.
#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub service: String,
    pub image: String,
    /// `running`, `exited`, `created`…
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`, or `-` without a health check.
    pub health: String,
    pub created: i64,
}

impl Container {
    fn from_summary(s: ContainerSummary) -> Self {
        let labels = s.labels.unwrap_or_default();
        let status = s.status.unwrap_or_default();
        let health = if status.contains("(healthy)") {
            "healthy"
        } else if status.contains("(unhealthy)") {
            "unhealthy"
        } else if status.contains("(health: starting)") {
            "starting"
        } else {
            "-"
        };
        Container {
            id: s.id.unwrap_or_default(),
            name: s
                .names
                .and_then(|n| n.into_iter().next())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            service: labels.get(SERVICE_LABEL).cloned().unwrap_or_default(),
            image: s.image.unwrap_or_default(),
            state: s
                .state
                .map(|s| s.to_string())
                .unwrap_or_default()
                .to_lowercase(),
            health: health.to_owned(),
            created: s.created.unwrap_or_default(),
        }
    }

    pub fn is_running(&self) -> bool {
        self.state == "running"
    }
}

/// Every container of the compose project (running or not), oldest first.
pub async fn containers(docker: &Docker, project: &str) -> anyhow::Result<Vec<Container>> {
    let mut filters = HashMap::new();
    filters.insert("label", vec![format!("{PROJECT_LABEL}={project}")]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let mut list: Vec<Container> = docker
        .list_containers(Some(options))
        .await?
        .into_iter()
        .map(Container::from_summary)
        .filter(|c| !c.service.is_empty())
        .collect();
    list.sort_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)));
    Ok(list)
}

/// The running containers of one service.
pub async fn running(
    docker: &Docker,
    project: &str,
    service: &str,
) -> anyhow::Result<Vec<Container>> {
    Ok(containers(docker, project)
        .await?
        .into_iter()
        .filter(|c| c.service == service && c.is_running())
        .collect())
}

/// The one running container of a service, or a clear error.
pub async fn one(docker: &Docker, project: &str, service: &str) -> anyhow::Result<Container> {
    running(docker, project, service)
        .await?
        .into_iter()
        .next()
        .with_context(|| {
            format!("no running `{service}` container (is Flowly up? try `flowlyctl status`)")
        })
}

/// The container's address on its (first) network: the host reaches services there directly.
pub async fn address(docker: &Docker, container: &str) -> anyhow::Result<String> {
    let info = docker
        .inspect_container(
            container,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await?;
    info.network_settings
        .and_then(|n| n.networks)
        .and_then(|n| {
            n.into_values()
                .find_map(|e| e.ip_address.filter(|a| !a.is_empty()))
        })
        .with_context(|| format!("container {container} has no network address"))
}

/// What a command run inside a container printed, and how it ended.
pub struct ExecOutput {
    pub code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The output when the command succeeded; otherwise an error that quotes its stderr.
    pub fn ok(self, what: &str) -> anyhow::Result<Self> {
        if self.code == 0 {
            Ok(self)
        } else {
            bail!(
                "{what} failed (exit {}): {}",
                self.code,
                String::from_utf8_lossy(&self.stderr).trim()
            )
        }
    }
}

/// Runs `cmd` in a container with extra environment, optionally feeding `stdin`, and collects
/// its output. Large outputs go through [`exec_stream`] instead.
pub async fn exec(
    docker: &Docker,
    container: &str,
    cmd: &[&str],
    env: &[String],
    stdin: Option<Vec<u8>>,
) -> anyhow::Result<ExecOutput> {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let input = stdin.map(|b| futures::stream::iter([Ok::<_, std::io::Error>(b)]).boxed());
    let code = exec_stream(docker, container, cmd, env, input, |chunk| {
        match chunk {
            Chunk::Out(b) => stdout.extend_from_slice(&b),
            Chunk::Err(b) => stderr.extend_from_slice(&b),
        }
        Ok(())
    })
    .await?;
    Ok(ExecOutput {
        code,
        stdout,
        stderr,
    })
}

/// A piece of a command's output.
pub enum Chunk {
    Out(bytes::Bytes),
    Err(bytes::Bytes),
}

/// Runs `cmd` in a container, streaming `stdin` into it and every output chunk to `sink`;
/// returns the exit code.
pub async fn exec_stream<S>(
    docker: &Docker,
    container: &str,
    cmd: &[&str],
    env: &[String],
    stdin: Option<S>,
    mut sink: impl FnMut(Chunk) -> anyhow::Result<()>,
) -> anyhow::Result<i64>
where
    S: Stream<Item = std::io::Result<Vec<u8>>> + Unpin + Send,
{
    let created = docker
        .create_exec(
            container,
            ExecConfig {
                attach_stdin: Some(stdin.is_some()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                env: Some(env.to_vec()),
                cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("cannot run {} in {container}", cmd.join(" ")))?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = docker
        .start_exec(&created.id, None::<StartExecOptions>)
        .await?
    else {
        bail!("the engine did not attach to {}", cmd.join(" "));
    };
    let feeding = async move {
        if let Some(mut stdin) = stdin {
            while let Some(chunk) = stdin.next().await {
                input.write_all(&chunk?).await?;
            }
            input.shutdown().await?;
        }
        drop(input);
        Ok::<_, anyhow::Error>(())
    };
    let reading = async {
        while let Some(item) = output.next().await {
            match item? {
                bollard::container::LogOutput::StdOut { message }
                | bollard::container::LogOutput::Console { message } => sink(Chunk::Out(message))?,
                bollard::container::LogOutput::StdErr { message } => sink(Chunk::Err(message))?,
                bollard::container::LogOutput::StdIn { .. } => {}
            }
        }
        Ok::<_, anyhow::Error>(())
    };
    let (fed, read) = tokio::join!(feeding, reading);
    fed.context("while sending input")?;
    read?;
    let inspect = docker.inspect_exec(&created.id).await?;
    Ok(inspect.exit_code.unwrap_or(-1))
}

/// Builds `tag` from a build context: (path in the context, file or directory on the host)
/// pairs, one of them a `Dockerfile`. Returns the build's last lines on failure.
pub async fn build_image(
    docker: &Docker,
    context: &[(String, std::path::PathBuf)],
    tag: &str,
) -> anyhow::Result<()> {
    let context = {
        let context = context.to_vec();
        tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
            let mut archive = tar::Builder::new(Vec::new());
            archive.follow_symlinks(true);
            archive.sparse(false);
            for (name, source) in &context {
                if source.is_dir() {
                    archive.append_dir_all(name, source)
                } else {
                    archive.append_path_with_name(source, name)
                }
                .with_context(|| format!("cannot read {}", source.display()))?;
            }
            Ok(archive.into_inner()?)
        })
        .await??
    };
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .forcerm(true)
        .build();
    let mut stream = docker.build_image(
        options,
        None,
        Some(bollard::body_full(bytes::Bytes::from(context))),
    );
    let mut tail: Vec<String> = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.with_context(|| format!("building {tag}"))?;
        if let Some(line) = info.stream {
            tail.push(line.trim_end().to_owned());
            if tail.len() > 20 {
                tail.remove(0);
            }
        }
        if let Some(detail) = info.error_detail {
            bail!(
                "building {tag} failed: {}\n{}",
                detail.message.unwrap_or_default(),
                tail.join("\n")
            );
        }
    }
    if docker.inspect_image(tag).await.is_err() {
        bail!("building {tag} produced no image:\n{}", tail.join("\n"));
    }
    Ok(())
}

/// Whether an image with this name:tag is present in the engine.
pub async fn has_image(docker: &Docker, tag: &str) -> bool {
    docker.inspect_image(tag).await.is_ok()
}

/// Pulls an image from its registry, giving up after `timeout`.
pub async fn pull(docker: &Docker, image: &str, timeout: Duration) -> anyhow::Result<()> {
    let options = bollard::query_parameters::CreateImageOptionsBuilder::default()
        .from_image(image)
        .build();
    let pulling = async {
        let mut stream = docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            item?;
        }
        Ok::<_, anyhow::Error>(())
    };
    tokio::time::timeout(timeout, pulling)
        .await
        .map_err(|_| anyhow!("no answer from the registry in {} s", timeout.as_secs()))??;
    if !has_image(docker, image).await {
        bail!("the registry sent no image");
    }
    Ok(())
}
