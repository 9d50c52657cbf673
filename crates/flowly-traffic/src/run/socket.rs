//! The WebSocket side: one task per device that opens its socket (resuming from the last `seq`
//! it saw per room), reads frames, measures delivery, and reconnects with backoff when the
//! server closes it or a disturbance tells it to drop.

use std::{
    collections::{HashMap, HashSet},
    net::Ipv4Addr,
    sync::{
        Arc,
        atomic::{AtomicU8, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use super::{Ctx, SimUser, login, stamp_of, unix_micros, verify::sender_target};
use crate::{
    client,
    manifest::RoomClass,
    stats::{self, Outcome},
};

/// Why a socket is told to close.
pub(super) const DROP_NONE: u8 = 0;
pub(super) const DROP_CHURN: u8 = 1;
pub(super) const DROP_STORM: u8 = 2;

pub(super) struct SocketCtl {
    pub(super) reason: AtomicU8,
    pub(super) notify: Notify,
}

/// What one device knows, with `verify`: its own position per room (it resumes from these, as
/// a real device does) and the assistant requests it saw finish.
pub(super) struct Device {
    name: String,
    at: HashMap<Uuid, i64>,
    done: HashSet<Uuid>,
}

impl Device {
    /// Where the device stands after `hello` and the replay: rooms it did not follow start at
    /// the server's `last_seq`; the replay continues the others and is checked like live frames.
    fn opened(&mut self, ctx: &Ctx, user: &SimUser, opened: &mut client::Opened) {
        for (room, seq) in &opened.rooms {
            self.at.entry(*room).or_insert(*seq);
        }
        for frame in std::mem::take(&mut opened.replayed) {
            handle_frame(ctx, user, &frame, false, Some(self));
        }
    }

    /// Rooms where the device is behind the `last_seq` the server announced in `hello`.
    fn behind(&self, rooms: &[(Uuid, i64)]) -> Vec<(Uuid, i64, i64)> {
        rooms
            .iter()
            .filter_map(|(room, last)| {
                let at = self.at.get(room).copied().unwrap_or(0);
                (at < *last).then_some((*room, at, *last))
            })
            .collect()
    }
}

/// With `verify`, at the end: the device resumes once more, from its own positions, and must
/// come out level with every room's `last_seq`. Every device does this at once, so like the ramp
/// the attempts pass the generator's connect gate, and like any client a device backs off and
/// tries again when the socket is refused (a node sheds a burst of reconnects with `1013`). The
/// whole end check is bounded by [`Ctx::final_window`]: the ramp's length plus one connect
/// timeout, as long as opening every socket was allowed to take in the first place.
async fn final_resume(
    ctx: &Ctx,
    user: &SimUser,
    source: Ipv4Addr,
    device: &mut Device,
    gate: &Semaphore,
) {
    let Some(token) = user.token() else {
        ctx.checker.final_resume(&device.name, false, &[]);
        return;
    };
    let seqs: serde_json::Map<String, Value> = device
        .at
        .iter()
        .map(|(r, s)| (r.to_string(), json!(s)))
        .collect();
    let target = &ctx.opts.targets[user.target];
    let deadline = tokio::time::Instant::now() + ctx.final_window();
    let mut rng = StdRng::from_entropy();
    for failures in 0.. {
        let Ok(Ok(permit)) = tokio::time::timeout_at(deadline, gate.acquire()).await else {
            break;
        };
        let attempt_ends = deadline.min(tokio::time::Instant::now() + ctx.connect_timeout);
        let opened = tokio::time::timeout_at(
            attempt_ends,
            client::open_socket(target, source, &token, &seqs),
        )
        .await;
        drop(permit);
        match opened {
            Ok(Ok(mut opened)) => {
                device.opened(ctx, user, &mut opened);
                let behind = device.behind(&opened.rooms);
                ctx.checker.final_resume(&device.name, true, &behind);
                let _ = tokio::time::timeout(Duration::from_secs(2), opened.ws.close(None)).await;
                return;
            }
            // Refused or timed out: wait, then queue at the gate again while time remains.
            Ok(Err(_)) | Err(_) => {
                let wait = backoff_delay(failures, rng.gen_range(0.5..1.5));
                if tokio::time::Instant::now() + wait >= deadline {
                    break;
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
    ctx.checker.final_resume(&device.name, false, &[]);
}

/// One device's socket: open, read until told to drop or the server closes it, reopen with
/// resume. Ends when the run stops.
#[allow(clippy::too_many_arguments)]
pub(super) async fn socket_task(
    ctx: Arc<Ctx>,
    user: Arc<SimUser>,
    number: usize,
    source: Ipv4Addr,
    ctl: Arc<SocketCtl>,
    gate: Arc<Semaphore>,
    open_count: Arc<AtomicUsize>,
    mut stop: watch::Receiver<bool>,
) {
    let mut first = true;
    let mut rng = StdRng::from_entropy();
    let mut storm_reconnect = false;
    let mut failures = 0u32;
    let mut device = ctx.opts.verify.then(|| Device {
        name: format!("device {number} of {}", user.username),
        at: HashMap::new(),
        done: HashSet::new(),
    });
    loop {
        if *stop.borrow() {
            if let Some(device) = &mut device {
                final_resume(&ctx, &user, source, device, &gate).await;
            }
            return;
        }
        let token = match user.token() {
            Some(t) => t,
            None => {
                // The login failed during the ramp; try once more later.
                tokio::time::sleep(Duration::from_secs(2)).await;
                let _ = login(&ctx, &user).await;
                continue;
            }
        };
        let seqs: serde_json::Map<String, Value> = match &device {
            Some(device) => device
                .at
                .iter()
                .map(|(r, s)| (r.to_string(), json!(s)))
                .collect(),
            None => user
                .state()
                .seqs
                .iter()
                .map(|(r, s)| (r.to_string(), json!(s)))
                .collect(),
        };
        let permit = if first {
            gate.clone().acquire_owned().await.ok()
        } else {
            None
        };
        let started = Instant::now();
        let target = &ctx.opts.targets[user.target];
        let opened = tokio::time::timeout(
            ctx.connect_timeout,
            client::open_socket(target, source, &token, &seqs),
        )
        .await;
        drop(permit);
        let name = if storm_reconnect {
            stats::STORM_RECONNECT
        } else {
            stats::WS_CONNECT
        };
        let mut opened = match opened {
            Ok(Ok(o)) => {
                failures = 0;
                ctx.record(name, false, &Outcome::Ok, started.elapsed());
                o
            }
            Ok(Err(e)) => {
                let code = short_error(&e);
                ctx.record(name, false, &Outcome::Error(code), started.elapsed());
                backoff(&mut rng, &mut failures, &mut stop).await;
                continue;
            }
            Err(_) => {
                ctx.record(name, false, &Outcome::Timeout, started.elapsed());
                backoff(&mut rng, &mut failures, &mut stop).await;
                continue;
            }
        };
        if storm_reconnect {
            storm_reconnect = false;
            if ctx.storm_pending.fetch_sub(1, Ordering::Relaxed) == 1 {
                let since = *ctx.storm_started.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(since) = since {
                    *ctx.storm_done.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(since.elapsed());
                }
            }
        }
        {
            let mut state = user.state();
            if state.rooms.is_empty() {
                state.rooms = opened
                    .rooms
                    .iter()
                    .filter_map(|(r, _)| ctx.rooms.get(r).map(|c| (*r, *c)))
                    .collect();
                state.team = state
                    .rooms
                    .iter()
                    .find(|(_, c)| *c == RoomClass::Team)
                    .map(|(r, _)| *r);
            }
            for (room, seq) in &opened.rooms {
                let s = state.seqs.entry(*room).or_insert(0);
                *s = (*s).max(*seq);
            }
        }
        match &mut device {
            Some(device) => device.opened(&ctx, &user, &mut opened),
            None => {
                for frame in std::mem::take(&mut opened.replayed) {
                    handle_frame(&ctx, &user, &frame, false, None);
                }
            }
        }
        if first {
            open_count.fetch_add(1, Ordering::Relaxed);
            first = false;
        }
        ctx.stats().sockets.fetch_add(1, Ordering::Relaxed);
        let mut ws = opened.ws;
        let ended = loop {
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Ok(v) = serde_json::from_str::<Value>(&text) {
                            handle_frame(&ctx, &user, &v, true, device.as_mut());
                        }
                    }
                    Some(Ok(Message::Ping(_))) => ctx.count("heartbeats"),
                    Some(Ok(Message::Close(frame))) => {
                        let code = frame.map(|f| u16::from(f.code)).unwrap_or(0);
                        break Ended::Server(code);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break Ended::Server(0),
                },
                _ = ctl.notify.notified() => {
                    break match ctl.reason.swap(DROP_NONE, Ordering::Relaxed) {
                        DROP_STORM => Ended::Storm,
                        _ => Ended::Churn,
                    };
                }
                _ = stop.wait_for(|s| *s) => break Ended::Stop,
            }
        };
        ctx.stats().sockets.fetch_sub(1, Ordering::Relaxed);
        let closing = async {
            let _ = ws.close(None).await;
            while let Some(Ok(_)) = ws.next().await {}
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
        match ended {
            Ended::Stop => {
                if let Some(device) = &mut device {
                    final_resume(&ctx, &user, source, device, &gate).await;
                }
                return;
            }
            Ended::Churn => ctx.count("churn_reconnects"),
            Ended::Storm => {
                storm_reconnect = true;
                let spread = ctx.opts.profile.storm.spread_secs.max(1);
                let delay = Duration::from_millis(rng.gen_range(0..spread * 1000));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
            Ended::Server(code) => {
                ctx.count(&format!("socket_closed_by_server_{code}"));
                backoff(&mut rng, &mut failures, &mut stop).await;
            }
        }
    }
}

enum Ended {
    Stop,
    Churn,
    Storm,
    Server(u16),
}

fn short_error(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    let first = text.split(':').next().unwrap_or("error");
    format!("ws_{}", first.trim().replace(' ', "_"))
}

/// The wait before reconnect attempt `failures` + 1: exponential from 0.5 s up to 30 s, times a
/// jitter of 0.5–1.5, as a well-behaved client does (a fixed short wait made a storm worse).
pub fn backoff_delay(failures: u32, jitter: f64) -> Duration {
    let base = 0.5 * 2f64.powi(failures.min(6) as i32);
    Duration::from_secs_f64(base.min(30.0) * jitter.clamp(0.5, 1.5))
}

async fn backoff(rng: &mut StdRng, failures: &mut u32, stop: &mut watch::Receiver<bool>) {
    let delay = backoff_delay(*failures, rng.gen_range(0.5..1.5));
    *failures += 1;
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

/// Notes what a frame tells the user (seqs, recent messages) and measures delivery; with a
/// `device` (`verify`), checks it against the device's own positions.
fn handle_frame(ctx: &Ctx, user: &SimUser, frame: &Value, live: bool, device: Option<&mut Device>) {
    ctx.count("frames_received");
    let kind = frame["type"].as_str().unwrap_or("");
    let room = frame["room"].as_str().and_then(|r| r.parse::<Uuid>().ok());
    let seq = frame["seq"].as_i64();
    if let (Some(room), Some(seq)) = (room, seq) {
        let mut state = user.state();
        let s = state.seqs.entry(room).or_insert(0);
        *s = (*s).max(seq);
    }
    if let Some(device) = device {
        if let (Some(room), Some(seq)) = (room, seq) {
            let at = device.at.entry(room).or_insert(seq - 1);
            ctx.checker.event(&device.name, room, at, seq, kind);
        }
        if kind == "assistant.done"
            && let Some(request) = frame["data"]["request"]["id"]
                .as_str()
                .and_then(|r| r.parse::<Uuid>().ok())
        {
            let first = device.done.insert(request);
            ctx.checker.assistant_done(&device.name, request, first);
        }
        if kind == "message.created"
            && let (Some(room), Some(id)) = (
                room,
                frame["data"]["message"]["id"]
                    .as_str()
                    .and_then(|i| i.parse::<Uuid>().ok()),
            )
        {
            let message = &frame["data"]["message"];
            let author = message["author_id"].as_str().and_then(|a| a.parse().ok());
            ctx.checker
                .message(room, id, author, message["client_id"].as_str());
        }
    }
    if kind != "message.created" {
        return;
    }
    let message = &frame["data"]["message"];
    let author = message["author_id"]
        .as_str()
        .and_then(|a| a.parse::<Uuid>().ok());
    if message["kind"] == "user"
        && message["task_id"].is_null()
        && let (Some(room), Some(id)) = (
            room,
            message["id"].as_str().and_then(|i| i.parse::<Uuid>().ok()),
        )
    {
        let mut state = user.state();
        state.recent.push_back((room, id));
        if state.recent.len() > 32 {
            state.recent.pop_front();
        }
    }
    if !live {
        return;
    }
    let body = message["body"].as_str().unwrap_or("");
    if let (Some(live), Some(sent), Some(from)) =
        (&ctx.opts.live, stamp_of(body), sender_target(body))
    {
        live.delivered(from, user.target, sent, unix_micros());
    }
    if author == Some(user.id) {
        return;
    }
    if let Some(sent) = stamp_of(body) {
        let now = unix_micros();
        if ctx.measuring.load(Ordering::Relaxed) {
            ctx.stats()
                .delivered(Duration::from_micros(now.saturating_sub(sent)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_back_off_exponentially_up_to_30_seconds() {
        assert_eq!(backoff_delay(0, 1.0), Duration::from_millis(500));
        assert_eq!(backoff_delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(3, 1.0), Duration::from_secs(4));
        assert_eq!(backoff_delay(6, 1.0), Duration::from_secs(30));
        assert_eq!(backoff_delay(60, 1.5), Duration::from_secs(45));
        assert_eq!(backoff_delay(0, 0.1), Duration::from_millis(250));
    }
}
