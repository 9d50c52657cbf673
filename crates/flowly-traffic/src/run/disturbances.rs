//! Disturbances the measured window includes: steady churn (a share of the sockets reconnects
//! every second) and the reconnect storm (a fraction drops at once and comes back).

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};

use super::{
    Ctx,
    socket::{DROP_CHURN, DROP_STORM, SocketCtl},
};

/// Every second, a share of the sockets (`churn_per_minute / 60`) reconnects and resumes.
pub(super) async fn churn_task(
    ctx: Arc<Ctx>,
    ctls: Vec<Arc<SocketCtl>>,
    start: Instant,
    end: Instant,
) {
    let per_second = ctx.opts.profile.realtime.churn_per_minute / 60.0;
    if per_second <= 0.0 || ctls.is_empty() {
        return;
    }
    let mut rng = StdRng::seed_from_u64(ctx.opts.seed ^ 0xC4u64);
    let mut owed = 0.0;
    let mut tick = tokio::time::interval_at(
        (start + Duration::from_secs(1)).into(),
        Duration::from_secs(1),
    );
    loop {
        let now = tick.tick().await;
        if Instant::from(now) >= end || ctx.opts.live.as_ref().is_some_and(|l| l.ended()) {
            return;
        }
        owed += per_second * ctls.len() as f64;
        while owed >= 1.0 {
            owed -= 1.0;
            let ctl = &ctls[rng.gen_range(0..ctls.len())];
            ctl.reason.store(DROP_CHURN, Ordering::Relaxed);
            ctl.notify.notify_one();
        }
    }
}

/// At `at`, `fraction` of the sockets drop at once and reconnect within the spread.
pub(super) async fn storm_task(
    ctx: Arc<Ctx>,
    ctls: Vec<Arc<SocketCtl>>,
    at: Instant,
    fraction: f64,
) {
    tokio::time::sleep_until(at.into()).await;
    let mut rng = StdRng::seed_from_u64(ctx.opts.seed ^ 0x5707u64);
    let mut chosen = ctls;
    chosen.shuffle(&mut rng);
    chosen.truncate((chosen.len() as f64 * fraction).round() as usize);
    ctx.storm_pending.store(chosen.len(), Ordering::Relaxed);
    *ctx.storm_started.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    ctx.count("storm_dropped_sockets");
    ctx.stats().count("storm_sockets", chosen.len() as u64);
    for ctl in chosen {
        ctl.reason.store(DROP_STORM, Ordering::Relaxed);
        ctl.notify.notify_one();
    }
}
