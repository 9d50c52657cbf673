//! `flowlyctl status`: every container with its state, health, uptime, CPU and memory (computed
//! as `docker stats` does) and its image version.

use std::collections::HashMap;

use bollard::query_parameters::{InspectContainerOptions, StatsOptionsBuilder};
use futures::StreamExt;

use crate::appliance::Appliance;
use crate::ui;

pub async fn run(appliance: &Appliance) -> anyhow::Result<()> {
    let containers = appliance.containers().await?;
    if containers.is_empty() {
        anyhow::bail!(
            "no containers for the project `{}`: Flowly is not running (`flowlyctl up`) or was \
             installed under another --project",
            appliance.project
        );
    }
    let mut table = ui::table(&[
        "service",
        "container",
        "state",
        "health",
        "uptime",
        "cpu",
        "memory",
        "version",
    ]);
    let now = chrono::Utc::now();
    for c in &containers {
        let inspect = appliance
            .docker
            .inspect_container(&c.id, None::<InspectContainerOptions>)
            .await?;
        let started = inspect
            .state
            .as_ref()
            .and_then(|s| s.started_at.clone())
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok());
        let uptime = match started {
            Some(t) if c.is_running() => human(now.signed_duration_since(t).num_seconds()),
            _ => "-".into(),
        };
        let (cpu, memory) = if c.is_running() {
            usage(appliance, &c.id)
                .await
                .unwrap_or(("?".into(), "?".into()))
        } else {
            ("-".into(), "-".into())
        };
        let version = c.image.rsplit_once(':').map(|(_, v)| v).unwrap_or("-");
        table.add_row(vec![
            c.service.clone(),
            c.name.clone(),
            c.state.clone(),
            c.health.clone(),
            uptime,
            cpu,
            memory,
            version.to_owned(),
        ]);
    }
    println!("{table}");
    let unhealthy = containers
        .iter()
        .filter(|c| !c.is_running() || c.health == "unhealthy")
        .count();
    println!(
        "Flowly {}: {} containers, {} running, {} healthy{}; {}",
        appliance.env()?.get("FLOWLY_VERSION").unwrap_or("?"),
        containers.len(),
        containers.iter().filter(|c| c.is_running()).count(),
        containers.iter().filter(|c| c.health == "healthy").count(),
        if unhealthy > 0 {
            format!(", {unhealthy} need attention (`flowlyctl doctor`)")
        } else {
            String::new()
        },
        appliance.url()?
    );
    Ok(())
}

/// CPU % and memory of one container from one stats sample, as the Docker CLI computes them.
async fn usage(appliance: &Appliance, id: &str) -> anyhow::Result<(String, String)> {
    let options = StatsOptionsBuilder::default()
        .stream(false)
        .one_shot(false)
        .build();
    let stats = appliance
        .docker
        .stats(id, Some(options))
        .next()
        .await
        .ok_or_else(|| anyhow::anyhow!("no stats"))??;
    let cpu = cpu_percent(&stats);
    let mem = stats.memory_stats.unwrap_or_default();
    let used = memory_used(mem.usage.unwrap_or(0), mem.stats.as_ref());
    let limit = mem.limit.unwrap_or(0);
    Ok((
        format!("{cpu:.1}%"),
        format!("{} / {}", bytes(used), bytes(limit)),
    ))
}

/// `docker stats`: (container CPU delta / system CPU delta) × online CPUs × 100.
fn cpu_percent(stats: &bollard::models::ContainerStatsResponse) -> f64 {
    let (Some(cpu), Some(pre)) = (&stats.cpu_stats, &stats.precpu_stats) else {
        return 0.0;
    };
    let total = |s: &bollard::models::ContainerCpuStats| {
        s.cpu_usage
            .as_ref()
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let cpu_delta = total(cpu).saturating_sub(total(pre)) as f64;
    let system_delta = cpu
        .system_cpu_usage
        .unwrap_or(0)
        .saturating_sub(pre.system_cpu_usage.unwrap_or(0)) as f64;
    let cpus = cpu.online_cpus.map(f64::from).unwrap_or_else(|| {
        cpu.cpu_usage
            .as_ref()
            .and_then(|u| u.percpu_usage.as_ref())
            .map(|p| p.len() as f64)
            .unwrap_or(1.0)
    });
    if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * cpus * 100.0
    } else {
        0.0
    }
}

/// `docker stats`: usage minus the page cache that can be dropped (cgroup v1
/// `total_inactive_file`, v2 `inactive_file`).
fn memory_used(usage: u64, stats: Option<&HashMap<String, u64>>) -> u64 {
    let inactive = stats.and_then(|s| {
        s.get("total_inactive_file")
            .or_else(|| s.get("inactive_file"))
            .copied()
    });
    match inactive {
        Some(i) if i < usage => usage - i,
        _ => usage,
    }
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn human(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerCpuStats, ContainerCpuUsage, ContainerStatsResponse};

    fn sample(total: u64, system: u64) -> ContainerCpuStats {
        ContainerCpuStats {
            cpu_usage: Some(ContainerCpuUsage {
                total_usage: Some(total),
                ..Default::default()
            }),
            system_cpu_usage: Some(system),
            online_cpus: Some(2),
            ..Default::default()
        }
    }

    #[test]
    fn cpu_is_the_share_of_the_system_delta_times_cpus() {
        let stats = ContainerStatsResponse {
            cpu_stats: Some(sample(1_500, 20_000)),
            precpu_stats: Some(sample(500, 10_000)),
            ..Default::default()
        };
        // 1000 of 10000 system ns on 2 CPUs: 20 %.
        assert!((cpu_percent(&stats) - 20.0).abs() < 1e-9);
        let idle = ContainerStatsResponse {
            cpu_stats: Some(sample(500, 20_000)),
            precpu_stats: Some(sample(500, 10_000)),
            ..Default::default()
        };
        assert_eq!(cpu_percent(&idle), 0.0);
    }

    #[test]
    fn memory_leaves_out_inactive_page_cache() {
        let v1: HashMap<String, u64> = [("total_inactive_file".to_owned(), 300)].into();
        assert_eq!(memory_used(1000, Some(&v1)), 700);
        let v2: HashMap<String, u64> = [("inactive_file".to_owned(), 100)].into();
        assert_eq!(memory_used(1000, Some(&v2)), 900);
        assert_eq!(memory_used(1000, None), 1000);
    }

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(human(59), "59s");
        assert_eq!(human(3_700), "1h01m");
        assert_eq!(human(90_000), "1d01h");
    }
}
