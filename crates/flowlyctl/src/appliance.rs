//! One installed appliance: its directory, its compose project and the engine, and what every
//! command needs of them (health, the upstream list, commands in the app container).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bollard::Docker;

use crate::compose::Compose;
use crate::engine::{self, Container};
use crate::home::{Home, write_with_mode};

pub struct Appliance {
    pub home: Home,
    pub project: String,
    pub docker: Docker,
    pub compose: Compose,
}

/// Services that must be running and healthy for the appliance to be up.
pub const CORE_SERVICES: &[&str] = &[
    "postgres",
    "redis",
    "app",
    "worker",
    "logpilot",
    "nginx",
    "prometheus",
    "postgres-exporter",
    "redis-exporter",
    "nginx-exporter",
];

impl Appliance {
    pub async fn open(home: Home, project: &str) -> anyhow::Result<Self> {
        let docker = engine::connect().await?;
        let compose = Compose::find(&home, project).await?;
        Ok(Appliance {
            home,
            project: project.to_owned(),
            docker,
            compose,
        })
    }

    pub async fn containers(&self) -> anyhow::Result<Vec<Container>> {
        engine::containers(&self.docker, &self.project).await
    }

    /// The profiles (grafana, ollama) this installation enabled.
    pub fn profile_args(&self) -> anyhow::Result<Vec<String>> {
        let env = self.home.read_env()?;
        Ok(env
            .get("FLOWLY_PROFILES")
            .unwrap_or_default()
            .split(',')
            .filter(|p| !p.is_empty())
            .flat_map(|p| ["--profile".to_owned(), p.to_owned()])
            .collect())
    }

    /// Runs compose with this installation's profiles.
    pub async fn compose(&self, args: &[&str]) -> anyhow::Result<()> {
        let profiles = self.profile_args()?;
        let mut all: Vec<&str> = profiles.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        self.compose.run(&all).await
    }

    /// Starts PostgreSQL and Redis alone and waits until both are healthy.
    pub async fn start_data_services(&self) -> anyhow::Result<()> {
        self.compose
            .run_quiet(&["up", "-d", "postgres", "redis"])
            .await?;
        self.wait_healthy(&["postgres", "redis"], Duration::from_secs(180))
            .await
    }

    /// Waits until every running container of `services` (all of the appliance's when empty) is
    /// healthy and each named service has at least one. On timeout, says which are not and why.
    pub async fn wait_healthy(&self, services: &[&str], timeout: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let list = self.containers().await?;
            let pending: Vec<String> = services
                .iter()
                .filter_map(|service| {
                    let mine: Vec<&Container> = list
                        .iter()
                        .filter(|c| c.service == *service && c.is_running())
                        .collect();
                    if mine.is_empty() {
                        return Some(format!("{service} (not running)"));
                    }
                    let sick: Vec<String> = mine
                        .iter()
                        .filter(|c| c.health != "healthy" && c.health != "-")
                        .map(|c| format!("{} ({})", c.name, c.health))
                        .collect();
                    (!sick.is_empty()).then(|| sick.join(", "))
                })
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            if started.elapsed() > timeout {
                let mut why = String::new();
                for c in list
                    .iter()
                    .filter(|c| services.contains(&c.service.as_str()) && c.health != "healthy")
                {
                    why.push_str(&format!(
                        "\n  {}: {} {}; last log lines:\n{}",
                        c.name,
                        c.state,
                        c.health,
                        self.last_log_lines(&c.id, 10).await.unwrap_or_default()
                    ));
                }
                bail!(
                    "not healthy after {} s: {}{why}",
                    timeout.as_secs(),
                    pending.join(", ")
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn last_log_lines(&self, id: &str, n: usize) -> anyhow::Result<String> {
        use futures::StreamExt;
        let options = bollard::query_parameters::LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&n.to_string())
            .build();
        let mut stream = self.docker.logs(id, Some(options));
        let mut out = String::new();
        while let Some(item) = stream.next().await {
            out.push_str("    ");
            out.push_str(item?.to_string().trim_end());
            out.push('\n');
        }
        Ok(out)
    }

    /// Runs a `flowly` command in a running app container.
    pub async fn flowly(
        &self,
        args: &[&str],
        env: &[String],
    ) -> anyhow::Result<engine::ExecOutput> {
        let app = engine::one(&self.docker, &self.project, "app").await?;
        let mut cmd = vec!["flowly"];
        cmd.extend_from_slice(args);
        engine::exec(&self.docker, &app.id, &cmd, env, None).await
    }

    /// Writes nginx's upstream list (container names, or the service name `app` for all of its
    /// containers) and reloads nginx when it changed and nginx runs. Returns whether it changed.
    pub async fn set_upstream(&self, members: &[String]) -> anyhow::Result<bool> {
        let changed = write_with_mode(
            &self.home.upstream_file(),
            upstream_conf(members).as_bytes(),
            0o644,
        )?;
        if changed {
            self.reload_nginx().await?;
        }
        Ok(changed)
    }

    /// Checks nginx's configuration and reloads it (no connection is dropped).
    pub async fn reload_nginx(&self) -> anyhow::Result<()> {
        for nginx in engine::running(&self.docker, &self.project, "nginx").await? {
            engine::exec(&self.docker, &nginx.id, &["nginx", "-t", "-q"], &[], None)
                .await?
                .ok("nginx -t (the new upstream list)")?;
            engine::exec(
                &self.docker,
                &nginx.id,
                &["nginx", "-s", "reload"],
                &[],
                None,
            )
            .await?
            .ok("nginx -s reload")?;
        }
        Ok(())
    }

    /// The installation's settings (compose.env).
    pub fn env(&self) -> anyhow::Result<crate::home::Env> {
        self.home.read_env()
    }

    pub fn url(&self) -> anyhow::Result<String> {
        let env = self.env()?;
        let host = env.get("FLOWLY_HOSTNAME").unwrap_or("localhost").to_owned();
        let port = env.get("FLOWLY_HTTPS_PORT").unwrap_or("443");
        Ok(if port == "443" {
            format!("https://{host}/")
        } else {
            format!("https://{host}:{port}/")
        })
    }

    /// The address at which this host reaches the published HTTPS port.
    pub fn local_https(&self) -> anyhow::Result<String> {
        let env = self.env()?;
        let bind = env.get("FLOWLY_BIND").unwrap_or("0.0.0.0");
        let host = if bind == "0.0.0.0" { "127.0.0.1" } else { bind };
        let port = env
            .get("FLOWLY_HTTPS_PORT")
            .context("compose.env has no FLOWLY_HTTPS_PORT")?;
        Ok(format!("https://{host}:{port}"))
    }
}

/// Copies the web client into `web/<version>` of the install directory. Returns whether
/// anything changed.
pub fn copy_web(home: &Home, dist: &std::path::Path, version: &str) -> anyhow::Result<bool> {
    crate::home::sync_dir(dist, &home.dir.join("web").join(version))
}

/// Points nginx's web-root.conf at `web/<version>` (nginx picks it up at its next start or
/// reload). Returns whether it changed.
pub fn set_web_root(home: &Home, version: &str) -> anyhow::Result<bool> {
    write_with_mode(
        &home.web_root_file(),
        format!(
            "# Written by flowlyctl: the web client version nginx serves.\n\
             root /etc/flowly/web/{version};\n"
        )
        .as_bytes(),
        0o644,
    )
}

/// Deletes the web client versions other than `keep` from the install directory.
pub fn prune_web(home: &Home, keep: &[&str]) -> anyhow::Result<()> {
    let dir = home.dir.join("web");
    for entry in
        std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
    {
        let entry = entry?;
        if !keep.iter().any(|k| entry.file_name() == *k) {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// The nginx site files of the source tree (nginx/), copied into the install directory.
pub const NGINX_SITE: &[&str] = &["flowly.conf", "locations.conf"];

/// Puts the source tree's nginx site and the redirect to the published HTTPS port into the
/// install directory, and the default upstream (every `app` container) where there is none.
/// nginx reads them at its next start or reload. Returns whether anything changed.
pub fn write_nginx_site(
    home: &Home,
    root: &std::path::Path,
    https_port: u16,
) -> anyhow::Result<bool> {
    let dir = home.dir.join("nginx");
    let mut changed = false;
    for site in NGINX_SITE {
        let content = std::fs::read(root.join("nginx").join(site))
            .with_context(|| format!("cannot read nginx/{site} of the source tree"))?;
        changed |= write_with_mode(&dir.join(site), &content, 0o644)?;
    }
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    changed |= write_with_mode(
        &dir.join("redirect.conf"),
        format!(
            "# Written by flowlyctl: plain HTTP goes to HTTPS on the published port.\n\
             location / {{ return 301 https://$host{port}$request_uri; }}\n"
        )
        .as_bytes(),
        0o644,
    )?;
    if !home.upstream_file().is_file() {
        changed |= write_with_mode(
            &home.upstream_file(),
            upstream_conf(&["app".into()]).as_bytes(),
            0o644,
        )?;
    }
    Ok(changed)
}

/// nginx's `upstream flowly` block for these members.
pub fn upstream_conf(members: &[String]) -> String {
    let mut conf = String::from(
        "# Written by flowlyctl (install, scale, upgrade): the app nodes nginx balances over.\n\
         upstream flowly {\n",
    );
    for m in members {
        conf.push_str(&format!(
            "    server {m}:8080 max_fails=2 fail_timeout=5s;\n"
        ));
    }
    conf.push_str("    keepalive 32;\n}\n");
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_lists_every_member() {
        let conf = upstream_conf(&["flowly_app_1".into(), "flowly_app_2".into()]);
        assert!(conf.contains("server flowly_app_1:8080"));
        assert!(conf.contains("server flowly_app_2:8080"));
        assert!(conf.starts_with('#'));
        assert_eq!(conf.matches("upstream flowly {").count(), 1);
    }
}
