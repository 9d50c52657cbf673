//! Read-only checks before anything is changed: the engine answers and is recent enough, its
//! storage driver, the ports nginx will publish, memory, free disk where Docker keeps its data,
//! and the CPU architecture as Docker sees it. Each failure is one sentence with its fix.

use std::net::{IpAddr, SocketAddr, TcpListener};

use bollard::Docker;

use crate::engine;

pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// What was found, and for a failure what to do.
    pub detail: String,
}

/// The ports the installation will publish, on `bind`.
pub struct Wanted<'a> {
    pub project: &'a str,
    pub bind: IpAddr,
    pub ports: &'a [u16],
}

const MIN_MEMORY: i64 = 2 << 30;
const MIN_FREE_DISK: u64 = 4 << 30;

pub async fn run(docker: &Docker, wanted: &Wanted<'_>) -> anyhow::Result<Vec<Check>> {
    let mut checks = Vec::new();
    let version = docker.version().await?;
    let info = docker.info().await?;

    let server = version.version.clone().unwrap_or_default();
    let api = version.api_version.clone().unwrap_or_default();
    let recent = version_at_least(&api, (1, 41));
    checks.push(Check {
        name: "engine",
        ok: recent,
        detail: if recent {
            format!("Docker {server} (API {api})")
        } else {
            format!(
                "Docker {server} speaks API {api}; Flowly needs 20.10 (API 1.41) or newer: \
                 upgrade the engine (`apt-get install docker.io`)"
            )
        },
    });

    let driver = info.driver.clone().unwrap_or_default();
    let good_driver = matches!(driver.as_str(), "overlay2" | "btrfs" | "zfs" | "overlayfs");
    checks.push(Check {
        name: "storage driver",
        ok: good_driver,
        detail: if good_driver {
            driver
        } else {
            format!(
                "{driver}: images and volumes on it are slow and large; configure overlay2 in \
                 /etc/docker/daemon.json (\"storage-driver\": \"overlay2\") and restart Docker"
            )
        },
    });

    let arch = info.architecture.clone().unwrap_or_default();
    let ours = std::env::consts::ARCH;
    let same_arch = normalise_arch(&arch) == normalise_arch(ours);
    checks.push(Check {
        name: "architecture",
        ok: same_arch,
        detail: if same_arch {
            arch
        } else {
            format!(
                "the engine runs {arch} but flowlyctl and the flowly binary were built for \
                 {ours}: build on the machine that runs Docker"
            )
        },
    });

    let memory = info.mem_total.unwrap_or_default();
    checks.push(Check {
        name: "memory",
        ok: memory >= MIN_MEMORY,
        detail: if memory >= MIN_MEMORY {
            format!(
                "{} total, {} CPUs",
                gib(memory as u64),
                info.ncpu.unwrap_or(0)
            )
        } else {
            format!(
                "{} total; Flowly needs at least 2 GiB: add memory or use a larger machine",
                gib(memory as u64)
            )
        },
    });

    let root = info
        .docker_root_dir
        .clone()
        .unwrap_or_else(|| "/var/lib/docker".into());
    match rustix::fs::statvfs(root.as_str()) {
        Ok(stat) => {
            let free = stat.f_bavail * stat.f_frsize;
            checks.push(Check {
                name: "disk",
                ok: free >= MIN_FREE_DISK,
                detail: if free >= MIN_FREE_DISK {
                    format!("{} free in {root}", gib(free))
                } else {
                    format!(
                        "only {} free in {root}; the images and data need at least 4 GiB: free \
                         some space (`docker system prune`) or move Docker's data-root",
                        gib(free)
                    )
                },
            });
        }
        Err(e) => checks.push(Check {
            name: "disk",
            ok: false,
            detail: format!(
                "cannot measure free space in {root} ({e}); run flowlyctl on the machine that runs Docker"
            ),
        }),
    }

    let ours_publish = published_by_project(docker, wanted.project).await?;
    for &port in wanted.ports {
        let addr = SocketAddr::new(wanted.bind, port);
        let (ok, detail) = if ours_publish.contains(&port) {
            (true, format!("{addr} is this installation's nginx"))
        } else {
            match TcpListener::bind(addr) {
                Ok(_) => (true, format!("{addr} is free")),
                Err(e) => (
                    false,
                    format!(
                        "{addr} is taken ({e}): stop the program that listens there (`ss -ltnp \
                         'sport = :{port}'` shows it) or choose another port \
                         (--http-port/--https-port)"
                    ),
                ),
            }
        };
        checks.push(Check {
            name: "port",
            ok,
            detail,
        });
    }
    Ok(checks)
}

/// Host ports that the project's running containers publish.
async fn published_by_project(docker: &Docker, project: &str) -> anyhow::Result<Vec<u16>> {
    let mut ports = Vec::new();
    for c in engine::containers(docker, project).await? {
        if !c.is_running() {
            continue;
        }
        let info = docker
            .inspect_container(
                &c.id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await?;
        let bindings = info
            .network_settings
            .and_then(|n| n.ports)
            .unwrap_or_default();
        for binding in bindings.into_values().flatten().flatten() {
            if let Some(p) = binding.host_port.and_then(|p| p.parse().ok()) {
                ports.push(p);
            }
        }
    }
    Ok(ports)
}

fn version_at_least(api: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = api.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    have >= (major, minor)
}

fn normalise_arch(arch: &str) -> &str {
    match arch {
        "amd64" | "x86_64" => "x86_64",
        "arm64" | "aarch64" => "aarch64",
        other => other,
    }
}

pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_compare_numerically() {
        assert!(version_at_least("1.41", (1, 41)));
        assert!(version_at_least("1.50", (1, 41)));
        assert!(!version_at_least("1.40", (1, 41)));
        assert!(!version_at_least("1.9", (1, 41)));
        assert!(!version_at_least("", (1, 41)));
    }

    #[test]
    fn docker_and_rust_name_architectures_differently() {
        assert_eq!(normalise_arch("amd64"), normalise_arch("x86_64"));
        assert_eq!(normalise_arch("arm64"), normalise_arch("aarch64"));
        assert_ne!(normalise_arch("arm64"), normalise_arch("x86_64"));
    }
}
