//! The install directory (`/var/lib/flowly` unless `--home` says otherwise): the compose file
//! and its settings (`compose.env`, mode 0600, the secrets among them), the TLS certificate, the
//! nginx upstream list, Grafana's provisioning and the first admin's credentials.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Keys of `compose.env` that are secrets: never printed, never logged.
pub const SECRET_KEYS: &[&str] = &[
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "LOGPILOT_PRODUCER_KEY",
    "LOGPILOT_READER_KEY",
];

pub struct Home {
    pub dir: PathBuf,
}

impl Home {
    pub fn new(dir: PathBuf) -> Self {
        Home { dir }
    }

    pub fn env_file(&self) -> PathBuf {
        self.dir.join("compose.env")
    }
    pub fn compose_file(&self) -> PathBuf {
        self.dir.join("docker-compose.yml")
    }
    pub fn tls_dir(&self) -> PathBuf {
        self.dir.join("tls")
    }
    pub fn upstream_file(&self) -> PathBuf {
        self.dir.join("nginx").join("upstream.conf")
    }
    pub fn web_root_file(&self) -> PathBuf {
        self.dir.join("nginx").join("web-root.conf")
    }
    pub fn credentials_file(&self) -> PathBuf {
        self.dir.join("admin-credentials")
    }
    pub fn grafana_dir(&self) -> PathBuf {
        self.dir.join("grafana")
    }

    /// Fails with the fix when there is no installation here.
    pub fn require_installed(&self) -> anyhow::Result<()> {
        if !self.env_file().is_file() || !self.compose_file().is_file() {
            bail!(
                "no Flowly installation in {} (no compose.env or docker-compose.yml). Run \
                 `flowlyctl install` first, or point --home (FLOWLY_HOME) at the install directory",
                self.dir.display()
            );
        }
        Ok(())
    }

    pub fn read_env(&self) -> anyhow::Result<Env> {
        let path = self.env_file();
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Env::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Env::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes compose.env atomically with mode 0600. Returns whether its content changed.
    pub fn write_env(&self, env: &Env) -> anyhow::Result<bool> {
        write_private(&self.env_file(), env.render().as_bytes())
    }
}

/// `compose.env`: KEY=VALUE lines that compose substitutes into the compose file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Env {
    pub vars: BTreeMap<String, String>,
}

impl Env {
    pub fn parse(text: &str) -> Self {
        let vars = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Env { vars }
    }

    pub fn render(&self) -> String {
        let mut out = String::from(
            "# Written by flowlyctl: the settings and secrets of this Flowly appliance (mode 0600).\n",
        );
        for (k, v) in &self.vars {
            out.push_str(&format!("{k}={v}\n"));
        }
        out
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.vars.insert(key.to_owned(), value.into());
    }

    /// Sets a value only where it is missing (secrets are generated once, then kept).
    pub fn set_missing(&mut self, key: &str, value: impl FnOnce() -> String) -> bool {
        if self.vars.get(key).is_some_and(|v| !v.is_empty()) {
            return false;
        }
        self.vars.insert(key.to_owned(), value());
        true
    }

    /// The settings with every secret replaced by `***`.
    pub fn redacted(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .map(|(k, v)| {
                let shown = if SECRET_KEYS.contains(&k.as_str()) {
                    "***".to_owned()
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect()
    }
}

/// A random secret of 32 hex digits (128 bits): safe in URLs and env files.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Writes a file readable by its owner only, atomically (temp file + rename). Returns whether
/// the content changed.
pub fn write_private(path: &Path, content: &[u8]) -> anyhow::Result<bool> {
    write_with_mode(path, content, 0o600)
}

/// Writes a file atomically with the given mode. Returns whether the content changed.
pub fn write_with_mode(path: &Path, content: &[u8], mode: u32) -> anyhow::Result<bool> {
    if fs::read(path).is_ok_and(|old| old == content) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        return Ok(false);
    }
    let dir = path.parent().context("a file path has a directory")?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(content)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(true)
}

/// Copies a directory tree (files only), returning whether anything changed.
pub fn sync_dir(from: &Path, to: &Path) -> anyhow::Result<bool> {
    let mut changed = false;
    for entry in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            changed |= sync_dir(&entry.path(), &target)?;
        } else {
            changed |= write_with_mode(&target, &fs::read(entry.path())?, 0o644)?;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_round_trips_and_redacts_secrets() {
        let mut env = Env::parse("# comment\nFLOWLY_VERSION=0.1.0-abc\nPOSTGRES_PASSWORD=s3cret\n");
        assert_eq!(env.get("FLOWLY_VERSION"), Some("0.1.0-abc"));
        assert!(!env.set_missing("POSTGRES_PASSWORD", || "other".into()));
        assert!(env.set_missing("REDIS_PASSWORD", || "fresh".into()));
        assert_eq!(Env::parse(&env.render()), env);
        let shown = env.redacted();
        assert!(shown.contains(&("POSTGRES_PASSWORD".into(), "***".into())));
        assert!(shown.contains(&("FLOWLY_VERSION".into(), "0.1.0-abc".into())));
        assert!(!format!("{shown:?}").contains("s3cret"));
    }

    #[test]
    fn private_files_are_0600_and_unchanged_writes_say_so() {
        let dir = std::env::temp_dir().join(format!("flowlyctl-home-{}", std::process::id()));
        let path = dir.join("compose.env");
        assert!(write_private(&path, b"A=1\n").unwrap());
        assert!(!write_private(&path, b"A=1\n").unwrap());
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn secrets_are_long_and_distinct() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
