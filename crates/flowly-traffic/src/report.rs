//! The report of a run: the snapshots of every generator process merged, percentile tables,
//! the verdict against the targets, and the same in JSON, Markdown and an SVG chart of
//! throughput and latency over time.

use std::{collections::BTreeMap, fmt::Write as _};

use anyhow::bail;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{
    run::RunOutput,
    stats::{DELIVERY, Snapshot, decode},
};

/// The targets of the capacity issue.
pub const REST_P99_MS: f64 = 100.0;
pub const DELIVERY_P99_MS: f64 = 200.0;
pub const MAX_ERROR_RATE: f64 = 0.001;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Latency {
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: h.max() as f64 / 1000.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OpRow {
    pub name: String,
    pub rest: bool,
    pub count: u64,
    pub per_sec: f64,
    pub ok: u64,
    pub conflicts: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub latency: Latency,
    pub codes: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Point {
    pub t_secs: f64,
    pub rest_per_sec: f64,
    pub rest_p99_ms: f64,
    pub rest_errors: u64,
    pub delivered_per_sec: f64,
    pub delivery_p99_ms: f64,
    pub sockets: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    pub rest_p99_ms: f64,
    pub delivery_p99_ms: f64,
    /// (errors + timeouts) / REST operations.
    pub error_rate: f64,
    /// 409 answers the workload causes itself (two users completing one task).
    pub conflict_rate: f64,
    pub met: bool,
    /// One sentence per missed target, saying by how much.
    pub misses: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub profile: String,
    pub scale: f64,
    pub processes: u32,
    pub users: u64,
    pub sockets_planned: u64,
    pub sockets_open_at_start: u64,
    pub ramp_secs: f64,
    pub duration_secs: f64,
    pub started_unix: f64,
    pub rest_ops: u64,
    pub rest_per_sec: f64,
    pub rest: Latency,
    pub delivered: u64,
    pub delivered_per_sec: f64,
    pub delivery: Latency,
    pub verdict: Verdict,
    pub ops: Vec<OpRow>,
    pub ramp_ops: Vec<OpRow>,
    pub counters: BTreeMap<String, u64>,
    pub storm_at_secs: Option<f64>,
    pub storm_recovery_secs: Option<f64>,
    pub assistant_present: Option<bool>,
    pub series: Vec<Point>,
    /// Free-form facts about the run (commit, load average, settings), from the command line.
    pub environment: BTreeMap<String, String>,
}

fn rows(snapshot: &Snapshot, secs: f64) -> anyhow::Result<Vec<OpRow>> {
    let mut rows = Vec::new();
    for (name, op) in &snapshot.ops {
        let h = decode(&op.histogram)?;
        let count = op.ok + op.conflicts + op.errors + op.timeouts;
        rows.push(OpRow {
            name: name.clone(),
            rest: op.rest,
            count,
            per_sec: if secs > 0.0 { count as f64 / secs } else { 0.0 },
            ok: op.ok,
            conflicts: op.conflicts,
            errors: op.errors,
            timeouts: op.timeouts,
            latency: Latency::of(&h),
            codes: op.codes.clone(),
        });
    }
    rows.sort_by(|a, b| (!a.rest, b.count).cmp(&(!b.rest, a.count)));
    Ok(rows)
}

fn empty() -> Histogram<u64> {
    #[allow(clippy::expect_used)] // constant, valid bounds
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds")
}

/// Merges the outputs of every generator process of one run into a report.
pub fn build(
    outputs: &[RunOutput],
    environment: BTreeMap<String, String>,
) -> anyhow::Result<Report> {
    let Some(first) = outputs.first() else {
        bail!("no generator output to report on");
    };
    let mut measured = first.measured.clone();
    let mut ramp = first.ramp.clone();
    for o in &outputs[1..] {
        if o.profile != first.profile || (o.scale - first.scale).abs() > 1e-9 {
            bail!("outputs come from different runs (profile or scale differ)");
        }
        measured.merge(&o.measured)?;
        ramp.merge(&o.ramp)?;
    }
    let secs = first.duration_secs;
    let ramp_secs = outputs.iter().map(|o| o.ramp_secs).fold(0.0, f64::max);
    let ops = rows(&measured, secs)?;
    let ramp_ops = rows(&ramp, ramp_secs)?;

    let mut rest = empty();
    let (mut rest_ops, mut failed, mut conflicts) = (0u64, 0u64, 0u64);
    for op in measured.ops.values().filter(|o| o.rest) {
        rest.add(decode(&op.histogram)?)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        rest_ops += op.ok + op.conflicts + op.errors + op.timeouts;
        failed += op.errors + op.timeouts;
        conflicts += op.conflicts;
    }
    let delivery = match measured.ops.get(DELIVERY) {
        Some(d) => decode(&d.histogram)?,
        None => empty(),
    };
    let rest_lat = Latency::of(&rest);
    let delivery_lat = Latency::of(&delivery);
    let error_rate = if rest_ops > 0 {
        failed as f64 / rest_ops as f64
    } else {
        0.0
    };
    let mut misses = Vec::new();
    if rest_ops == 0 {
        misses.push("no REST operation was measured".to_owned());
    }
    if rest_lat.p99_ms >= REST_P99_MS {
        misses.push(format!(
            "REST p99 {:.1} ms is {:.1} ms over the {REST_P99_MS} ms target",
            rest_lat.p99_ms,
            rest_lat.p99_ms - REST_P99_MS
        ));
    }
    if delivery.is_empty() {
        misses.push("no message delivery was measured".to_owned());
    } else if delivery_lat.p99_ms >= DELIVERY_P99_MS {
        misses.push(format!(
            "delivery p99 {:.1} ms is {:.1} ms over the {DELIVERY_P99_MS} ms target",
            delivery_lat.p99_ms,
            delivery_lat.p99_ms - DELIVERY_P99_MS
        ));
    }
    if error_rate >= MAX_ERROR_RATE {
        misses.push(format!(
            "error rate {:.3}% is over the {:.1}% target",
            error_rate * 100.0,
            MAX_ERROR_RATE * 100.0
        ));
    }
    let planned: u64 = outputs.iter().map(|o| o.sockets_planned).sum();
    let open: u64 = outputs.iter().map(|o| o.sockets_open_at_start).sum();
    if open < planned {
        misses.push(format!(
            "{open} of {planned} sockets were open when measuring started"
        ));
    }
    let interval = measured.interval_secs;
    let mut series = Vec::new();
    for (i, b) in measured.series.iter().enumerate() {
        if (i as f64) * interval >= secs {
            break;
        }
        let r = decode(&b.rest_histogram)?;
        let d = decode(&b.delivery_histogram)?;
        series.push(Point {
            t_secs: (i + 1) as f64 * interval,
            rest_per_sec: b.rest_count as f64 / interval,
            rest_p99_ms: r.value_at_quantile(0.99) as f64 / 1000.0,
            rest_errors: b.rest_errors,
            delivered_per_sec: b.delivered as f64 / interval,
            delivery_p99_ms: d.value_at_quantile(0.99) as f64 / 1000.0,
            sockets: b.sockets,
        });
    }
    let storm_recovery = if outputs.iter().any(|o| o.storm_at_secs.is_some()) {
        outputs
            .iter()
            .map(|o| o.storm_recovery_secs)
            .try_fold(0.0f64, |acc, s| s.map(|s| acc.max(s)))
    } else {
        None
    };
    let assistant_present = outputs.iter().find_map(|o| o.assistant_present);
    Ok(Report {
        profile: first.profile.clone(),
        scale: first.scale,
        processes: outputs.len() as u32,
        users: outputs.iter().map(|o| o.users).sum(),
        sockets_planned: planned,
        sockets_open_at_start: open,
        ramp_secs,
        duration_secs: secs,
        started_unix: outputs
            .iter()
            .map(|o| o.started_unix)
            .fold(f64::MAX, f64::min),
        rest_ops,
        rest_per_sec: if secs > 0.0 {
            rest_ops as f64 / secs
        } else {
            0.0
        },
        rest: rest_lat,
        delivered: delivery.len(),
        delivered_per_sec: if secs > 0.0 {
            delivery.len() as f64 / secs
        } else {
            0.0
        },
        delivery: delivery_lat,
        verdict: Verdict {
            rest_p99_ms: rest.value_at_quantile(0.99) as f64 / 1000.0,
            delivery_p99_ms: delivery.value_at_quantile(0.99) as f64 / 1000.0,
            error_rate,
            conflict_rate: if rest_ops > 0 {
                conflicts as f64 / rest_ops as f64
            } else {
                0.0
            },
            met: misses.is_empty(),
            misses,
        },
        ops,
        ramp_ops,
        counters: measured.counters,
        storm_at_secs: first.storm_at_secs,
        storm_recovery_secs: storm_recovery,
        assistant_present,
        series,
        environment,
    })
}

fn lat_cells(l: &Latency) -> String {
    format!(
        "{:.1} | {:.1} | {:.1} | {:.1} | {:.1}",
        l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
    )
}

fn codes(c: &BTreeMap<String, u64>) -> String {
    c.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn op_table(out: &mut String, rows: &[OpRow]) {
    out.push_str("| operation | count | per s | ok | 409 | errors | timeouts | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | codes |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.count,
            r.per_sec,
            r.ok,
            r.conflicts,
            r.errors,
            r.timeouts,
            lat_cells(&r.latency),
            codes(&r.codes)
        );
    }
}

impl Report {
    /// The report as Markdown, with the chart linked as `chart_file`.
    pub fn markdown(&self, chart_file: &str) -> String {
        let mut out = String::new();
        let v = &self.verdict;
        let _ = writeln!(
            out,
            "# flowly-traffic: {} at scale {}\n",
            self.profile, self.scale
        );
        let _ = writeln!(
            out,
            "**{}.** REST p99 {:.1} ms (target < {REST_P99_MS}), delivery p99 {:.1} ms (target < {DELIVERY_P99_MS}), errors {:.3}% (target < {:.1}%), 409 conflicts {:.3}%.\n",
            if v.met {
                "Targets met"
            } else {
                "Targets missed"
            },
            v.rest_p99_ms,
            v.delivery_p99_ms,
            v.error_rate * 100.0,
            MAX_ERROR_RATE * 100.0,
            v.conflict_rate * 100.0
        );
        for m in &v.misses {
            let _ = writeln!(out, "- missed: {m}");
        }
        if !v.misses.is_empty() {
            out.push('\n');
        }
        out.push_str("| | |\n| --- | --- |\n");
        let _ = writeln!(out, "| generator processes | {} |", self.processes);
        let _ = writeln!(out, "| users online | {} |", self.users);
        let _ = writeln!(
            out,
            "| sockets open at start / planned | {} / {} |",
            self.sockets_open_at_start, self.sockets_planned
        );
        let _ = writeln!(out, "| ramp (open all sockets) | {:.1} s |", self.ramp_secs);
        let _ = writeln!(out, "| measured | {:.0} s |", self.duration_secs);
        let _ = writeln!(
            out,
            "| REST operations | {} ({:.1}/s) |",
            self.rest_ops, self.rest_per_sec
        );
        let _ = writeln!(
            out,
            "| messages delivered to other members' sockets | {} ({:.1}/s) |",
            self.delivered, self.delivered_per_sec
        );
        for (k, v) in &self.counters {
            let _ = writeln!(out, "| {k} | {v} |");
        }
        if let Some(at) = self.storm_at_secs {
            let _ = writeln!(
                out,
                "| reconnect storm at | {at:.0} s; all dropped sockets back after {} |",
                self.storm_recovery_secs
                    .map(|s| format!("{s:.1} s"))
                    .unwrap_or_else(|| "— (not all came back)".into())
            );
        }
        let _ = writeln!(
            out,
            "| assistant | {} |",
            match self.assistant_present {
                Some(true) => "present",
                Some(false) => "absent (route_not_found): skipped",
                None => "not exercised",
            }
        );
        for (k, v) in &self.environment {
            let _ = writeln!(out, "| {k} | {v} |");
        }
        out.push_str("\n## Latency\n\n");
        out.push_str("| | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
        let _ = writeln!(out, "| all REST | {} |", lat_cells(&self.rest));
        let _ = writeln!(
            out,
            "| delivery (send → other members' sockets) | {} |",
            lat_cells(&self.delivery)
        );
        out.push_str("\n## Per operation (measured window)\n\n");
        op_table(&mut out, &self.ops);
        out.push_str("\n## Ramp (before measuring)\n\n");
        op_table(&mut out, &self.ramp_ops);
        let _ = writeln!(
            out,
            "\n## Over time\n\n![throughput and latency]({chart_file})"
        );
        out
    }

    /// An SVG chart: throughput (top) and p99 latency (bottom) over the measured window.
    pub fn svg(&self) -> String {
        let (w, h, left, right) = (900.0, 520.0, 60.0, 20.0);
        let panel = 200.0;
        let tops = [30.0, 290.0];
        let tmax = self.series.last().map(|p| p.t_secs).unwrap_or(1.0).max(1.0);
        let x = |t: f64| left + (w - left - right) * t / tmax;
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        type Get = fn(&Point) -> f64;
        type Panel = (
            &'static str,
            [(&'static str, &'static str, Get); 2],
            Option<[f64; 2]>,
        );
        let panels: [Panel; 2] = [
            (
                "throughput (per second)",
                [
                    ("REST requests", "#1f77b4", |p| p.rest_per_sec),
                    ("messages delivered", "#2ca02c", |p| p.delivered_per_sec),
                ],
                None,
            ),
            (
                "p99 latency (ms); dashed: targets",
                [
                    ("REST p99", "#1f77b4", |p| p.rest_p99_ms),
                    ("delivery p99", "#d62728", |p| p.delivery_p99_ms),
                ],
                Some([REST_P99_MS, DELIVERY_P99_MS]),
            ),
        ];
        for ((title, lines, targets), top) in panels.iter().zip(tops) {
            let mut ymax = self
                .series
                .iter()
                .flat_map(|p| lines.iter().map(move |(_, _, f)| f(p)))
                .fold(1.0f64, f64::max);
            if let Some(t) = targets {
                ymax = ymax.max(t[1] * 1.1);
            }
            let y = |v: f64| top + panel - panel * v / ymax;
            let _ = writeln!(
                out,
                "<text x=\"{left}\" y=\"{}\" font-weight=\"bold\">{title}</text>",
                top - 8.0
            );
            let _ = writeln!(
                out,
                "<rect x=\"{left}\" y=\"{top}\" width=\"{}\" height=\"{panel}\" fill=\"none\" stroke=\"#999\"/>",
                w - left - right
            );
            for frac in [0.0, 0.5, 1.0] {
                let _ = writeln!(
                    out,
                    "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}</text>",
                    left - 4.0,
                    y(ymax * frac) + 4.0,
                    ymax * frac
                );
            }
            if let Some(t) = targets {
                for (v, color) in [(t[0], "#1f77b4"), (t[1], "#d62728")] {
                    let _ = writeln!(
                        out,
                        "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-dasharray=\"4 4\"/>",
                        w - right,
                        y(v),
                        y(v)
                    );
                }
            }
            for (k, (label, color, f)) in lines.iter().enumerate() {
                let points: Vec<String> = self
                    .series
                    .iter()
                    .map(|p| format!("{:.1},{:.1}", x(p.t_secs), y(f(p))))
                    .collect();
                let _ = writeln!(
                    out,
                    "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>",
                    points.join(" ")
                );
                let _ = writeln!(
                    out,
                    "<text x=\"{}\" y=\"{}\" fill=\"{color}\">{label}</text>",
                    left + 10.0 + 180.0 * k as f64,
                    top + 16.0
                );
            }
        }
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">seconds into the measured window (0–{tmax:.0})</text>\n</svg>",
            left + (w - left - right) / 2.0,
            h - 8.0
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Outcome, Stats};
    use std::time::{Duration, Instant};

    fn output(shard: u32, rest_ms: u64, delivery_ms: u64, errors: u64) -> RunOutput {
        let stats = Stats::new(Instant::now(), Duration::from_secs(1));
        for _ in 0..1000 {
            stats.record(
                "history",
                true,
                &Outcome::Ok,
                Duration::from_millis(rest_ms),
            );
            stats.delivered(Duration::from_millis(delivery_ms));
        }
        for _ in 0..errors {
            stats.record(
                "history",
                true,
                &Outcome::Error("internal".into()),
                Duration::ZERO,
            );
        }
        let snap = stats.snapshot().unwrap();
        RunOutput {
            shard,
            shards: 2,
            scale: 1.0,
            profile: "test".into(),
            users: 10,
            sockets_planned: 12,
            sockets_open_at_start: 12,
            ramp_secs: 1.0,
            duration_secs: 10.0,
            started_unix: 1.0,
            storm_at_secs: None,
            storm_recovery_secs: None,
            assistant_present: None,
            ramp: Stats::new(Instant::now(), Duration::from_secs(1))
                .snapshot()
                .unwrap(),
            measured: snap,
            verification: None,
        }
    }

    #[test]
    fn a_fast_clean_run_meets_the_targets() {
        let r = build(&[output(0, 5, 20, 0), output(1, 6, 30, 0)], BTreeMap::new()).unwrap();
        assert!(r.verdict.met, "{:?}", r.verdict.misses);
        assert_eq!(r.rest_ops, 2000);
        assert_eq!(r.delivered, 2000);
        assert_eq!(r.users, 20);
        assert!((r.rest_per_sec - 200.0).abs() < 1e-9);
        assert!(
            r.rest.p99_ms >= 5.9 && r.rest.p99_ms <= 6.1,
            "{}",
            r.rest.p99_ms
        );
    }

    #[test]
    fn misses_say_by_how_much() {
        let r = build(
            &[output(0, 150, 20, 0), output(1, 150, 250, 5)],
            BTreeMap::new(),
        )
        .unwrap();
        assert!(!r.verdict.met);
        let text = r.verdict.misses.join("\n");
        assert!(text.contains("REST p99 150."), "{text}");
        assert!(text.contains("delivery p99"), "{text}");
        assert!(text.contains("error rate 0.249%"), "{text}");
        let md = r.markdown("chart.svg");
        assert!(md.contains("Targets missed"));
        assert!(md.contains("| history | 2005 |"), "{md}");
        assert!(md.contains("internal 5"));
    }

    #[test]
    fn the_chart_is_an_svg_with_both_panels() {
        let r = build(&[output(0, 5, 20, 0)], BTreeMap::new()).unwrap();
        let svg = r.svg();
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("delivery p99"));
    }

    #[test]
    fn outputs_of_different_runs_are_refused() {
        let mut b = output(1, 5, 5, 0);
        b.scale = 2.0;
        assert!(build(&[output(0, 5, 5, 0), b], BTreeMap::new()).is_err());
        assert!(build(&[], BTreeMap::new()).is_err());
    }
}
