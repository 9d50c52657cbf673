//! What a run prints while it goes: the ramp's socket count and, during the measured window, a
//! live progress bar on a terminal or a log line every 10 s otherwise.

use std::{
    sync::{Arc, atomic::AtomicUsize, atomic::Ordering},
    time::{Duration, Instant},
};

use super::Ctx;

/// The live progress line: an updating line on a terminal, one line every 10 s otherwise.
pub(super) async fn progress_task(
    ctx: Arc<Ctx>,
    start: Instant,
    end: Instant,
    _open: Arc<AtomicUsize>,
) {
    use std::io::IsTerminal;
    let live = std::io::stderr().is_terminal();
    let bar = if ctx.opts.progress && live {
        let bar = indicatif::ProgressBar::new(end.duration_since(start).as_secs());
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
        {
            bar.set_style(style);
        }
        Some(bar)
    } else {
        None
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n = 0u64;
    loop {
        tick.tick().await;
        let stats = ctx.stats();
        stats.tick();
        let p = stats.progress();
        let line = format!(
            "shard {}: sockets {} | REST {:.0}/s p99 {:.1} ms, {} failed of {} | delivered {:.0}/s p99 {:.1} ms",
            ctx.opts.shard,
            stats.sockets.load(Ordering::Relaxed),
            p.rest_rate,
            p.rest_p99_ms,
            p.failed,
            p.rest,
            p.delivery_rate,
            p.delivery_p99_ms
        );
        if let Some(bar) = &bar {
            bar.set_position(start.elapsed().as_secs());
            bar.set_message(line);
        } else if ctx.opts.progress && n.is_multiple_of(10) {
            eprintln!("[{:>4}s] {line}", start.elapsed().as_secs());
        }
        n += 1;
        if Instant::now() >= end {
            if let Some(bar) = bar {
                bar.finish();
            }
            return;
        }
    }
}
