//! Docker Compose, which brings the appliance's services up and down as
//! `compose/docker-compose.yml` declares them. Compose v2 (`docker compose`) when the Docker CLI
//! has it, else Debian's `docker-compose` v1.29; both read the same file.

use std::process::Stdio;

use anyhow::{Context, bail};
use tokio::process::Command;

use crate::home::Home;

pub struct Compose {
    program: Vec<String>,
    project: String,
    home_dir: std::path::PathBuf,
    env_file: std::path::PathBuf,
    file: std::path::PathBuf,
}

impl Compose {
    /// Finds a compose that works, or says how to get one.
    pub async fn find(home: &Home, project: &str) -> anyhow::Result<Self> {
        let candidates: [&[&str]; 2] = [&["docker", "compose"], &["docker-compose"]];
        for candidate in candidates {
            let ok = Command::new(candidate[0])
                .args(&candidate[1..])
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await
                .is_ok_and(|s| s.success());
            if ok {
                return Ok(Compose {
                    program: candidate.iter().map(|s| (*s).to_owned()).collect(),
                    project: project.to_owned(),
                    home_dir: home.dir.clone(),
                    env_file: home.env_file(),
                    file: home.compose_file(),
                });
            }
        }
        bail!(
            "Docker Compose is missing: install it (`apt-get install docker-compose`, or the \
             Docker CLI's compose plugin) and run this again"
        )
    }

    /// `docker compose` or `docker-compose`, for messages.
    pub fn name(&self) -> String {
        self.program.join(" ")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program[0]);
        cmd.args(&self.program[1..])
            .arg("--project-name")
            .arg(&self.project)
            .arg("--project-directory")
            .arg(&self.home_dir)
            .arg("--env-file")
            .arg(&self.env_file)
            .arg("--file")
            .arg(&self.file)
            .args(args)
            // The file's own settings come from compose.env only, not from this shell.
            .env_remove("COMPOSE_PROFILES")
            .env_remove("COMPOSE_PROJECT_NAME")
            .env_remove("COMPOSE_FILE");
        cmd
    }

    /// Runs compose, its output going to our stderr (the admin sees compose's progress).
    pub async fn run(&self, args: &[&str]) -> anyhow::Result<()> {
        let status = self
            .command(args)
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .status()
            .await
            .with_context(|| format!("cannot run {}", self.name()))?;
        if !status.success() {
            bail!("`{} {}` failed ({status})", self.name(), args.join(" "));
        }
        Ok(())
    }

    /// Runs compose quietly and returns its standard output; on failure the error carries
    /// everything it printed.
    pub async fn run_quiet(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self
            .command(args)
            .output()
            .await
            .with_context(|| format!("cannot run {}", self.name()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let text = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            bail!(
                "`{} {}` failed ({}):\n{}",
                self.name(),
                args.join(" "),
                out.status,
                text.trim()
            );
        }
        Ok(stdout)
    }
}
