//! Shipping this process's logs to LogPilot when `log.ship_url` is set: the `logpilot::ship`
//! layer, with the channel named after the role (`flowly-serve`, `flowly-worker`...) and a spool
//! directory of its own per role.

use std::sync::{Mutex, OnceLock};

use crate::config::LogConfig;

/// Kept for the life of the process: dropping it would stop the shipping thread.
static GUARD: OnceLock<Mutex<Option<logpilot::ship::ShipGuard>>> = OnceLock::new();

/// The shipping layer, when shipping is configured and its spool can be opened (a problem is
/// said on stderr and logs stay local).
pub fn layer(config: &LogConfig) -> Option<logpilot::ship::ShipLayer> {
    if config.ship_url.is_empty() || GUARD.get().is_some() {
        return None;
    }
    let role = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "process".into());
    let service = format!("flowly-{role}");
    let spool = std::path::Path::new(&config.ship_spool_dir).join(&service);
    let mut ship = logpilot::ship::ShipConfig::new(&config.ship_url, &service, spool);
    ship.spool_max_bytes = config.ship_spool_max_bytes;
    let key = config.ship_key.expose();
    ship.key = (!key.is_empty()).then(|| key.to_owned());
    match logpilot::ship::layer(ship) {
        Ok((layer, guard)) => {
            let _ = GUARD.set(Mutex::new(Some(guard)));
            Some(layer)
        }
        Err(e) => {
            eprintln!(
                "cannot ship logs to LogPilot (spool {}): {e}",
                config.ship_spool_dir
            );
            None
        }
    }
}

/// Spools what is queued and tries to send it (for up to 5 s); call before the process exits.
pub fn flush() {
    if let Some(guard) = GUARD.get()
        && let Ok(mut guard) = guard.lock()
    {
        drop(guard.take());
    }
}
