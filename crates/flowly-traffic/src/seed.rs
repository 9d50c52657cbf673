//! Seeding, done by the server: `flowly-traffic seed` runs `flowly dev seed` with the dataset of a
//! profile and lets it write the database and the [`manifest`](crate::manifest). The generator
//! itself never touches PostgreSQL; the server hashes the shared password and the session tokens
//! as it does for any account.
//!
//! The `flowly` binary is the one given (`--flowly-bin` or `FLOWLY_BIN`), else the one next to
//! this executable (as `cargo build` and a release archive lay them out), else `flowly` on the
//! `PATH`. It reads its configuration as always (`flowly.toml`, `FLOWLY_*`), so the database is
//! `FLOWLY_DATABASE__URL` unless given here.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, bail};

use super::profile::Dataset;

/// One `flowly dev seed` run.
#[derive(Debug, Clone)]
pub struct SeedCommand {
    /// The `flowly` binary.
    pub flowly: PathBuf,
    pub dataset: Dataset,
    /// Share of users who get no seeded session and must log in over the API.
    pub login_share: f64,
    pub seed: u64,
    pub manifest: PathBuf,
    /// Overrides the database of flowly's own configuration.
    pub database_url: Option<String>,
}

/// The `flowly` binary: `given`, else `flowly` next to `current_exe` if it is there, else
/// `flowly` on the `PATH`.
pub fn flowly_binary(given: Option<PathBuf>, current_exe: Option<&Path>) -> PathBuf {
    if let Some(given) = given {
        return given;
    }
    current_exe
        .map(|exe| exe.with_file_name(format!("flowly{}", std::env::consts::EXE_SUFFIX)))
        .filter(|beside| beside.is_file())
        .unwrap_or_else(|| PathBuf::from("flowly"))
}

impl SeedCommand {
    /// The arguments after `flowly`: every dataset parameter explicit, so the server's defaults
    /// never decide a profile's dataset.
    pub fn args(&self) -> Vec<OsString> {
        let d = &self.dataset;
        let mut args: Vec<OsString> = vec!["dev".into(), "seed".into()];
        for (flag, value) in [
            ("--users", d.users.to_string()),
            ("--org-size", d.org_size.to_string()),
            ("--team-size", d.team_size.to_string()),
            ("--channel-size", d.channel_size.to_string()),
            ("--channels-per-user", d.channels_per_user.to_string()),
            ("--dms-per-user", d.dms_per_user.to_string()),
            ("--messages", d.history_messages.to_string()),
            ("--tasks", d.tasks.to_string()),
            ("--login-share", self.login_share.to_string()),
            ("--seed", self.seed.to_string()),
        ] {
            args.push(flag.into());
            args.push(value.into());
        }
        args.push("--manifest".into());
        args.push(self.manifest.clone().into_os_string());
        args
    }

    /// Runs `flowly dev seed` to the end, its output going to this process's.
    pub async fn run(&self) -> anyhow::Result<()> {
        let mut command = tokio::process::Command::new(&self.flowly);
        command.args(self.args()).kill_on_drop(true);
        if let Some(url) = &self.database_url {
            command.env("FLOWLY_DATABASE__URL", url);
        }
        let started = Instant::now();
        let status = command.status().await.with_context(|| {
            format!(
                "cannot run {} (build it with `cargo build -p flowly`, or pass --flowly-bin)",
                self.flowly.display()
            )
        })?;
        if !status.success() {
            bail!("`{} dev seed` failed ({status})", self.flowly.display());
        }
        eprintln!(
            "[seed] flowly dev seed took {:.1} s; manifest {}",
            started.elapsed().as_secs_f64(),
            self.manifest.display()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    #[test]
    fn the_profile_dataset_is_passed_in_full() {
        let profile = Profile::load("dau-150k").unwrap();
        let command = SeedCommand {
            flowly: "flowly".into(),
            dataset: profile.dataset.clone(),
            login_share: profile.population.login_share,
            seed: 7,
            manifest: "/tmp/seed.json".into(),
            database_url: None,
        };
        let args: Vec<String> = command
            .args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args.join(" "),
            "dev seed --users 150000 --org-size 500 --team-size 10 --channel-size 250 \
             --channels-per-user 2 --dms-per-user 4 --messages 300000 --tasks 60000 \
             --login-share 0.02 --seed 7 --manifest /tmp/seed.json"
        );
    }

    #[test]
    fn the_flowly_binary_is_the_given_one_then_the_neighbour_then_the_path() {
        assert_eq!(
            flowly_binary(Some("/opt/flowly".into()), None),
            PathBuf::from("/opt/flowly")
        );
        let dir = std::env::temp_dir().join(format!("flowly-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("flowly-traffic");
        assert_eq!(flowly_binary(None, Some(&exe)), PathBuf::from("flowly"));
        std::fs::write(dir.join("flowly"), b"").unwrap();
        assert_eq!(flowly_binary(None, Some(&exe)), dir.join("flowly"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(flowly_binary(None, None), PathBuf::from("flowly"));
    }
}
