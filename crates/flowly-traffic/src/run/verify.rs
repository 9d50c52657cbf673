//! Checking what clients see, for runs under faults (`RunOptions::verify`): every device keeps
//! its own position per room and resumes from it, so each durable event must reach it exactly
//! once and in order (`seq` one past the last); every send the server acknowledged must show up
//! in a room stream, a retried send (same `client_id`) must not show up twice, and no
//! `assistant.done` may reach a device twice for one request. At the end each device resumes
//! once more and must be level with the rooms' `last_seq`.
//!
//! [`Live`] is what a fault test watches while the run goes on: per target, the first request
//! that succeeded, and per pair of targets, the first message delivered, among those started
//! after a mark (the end of a fault); it can also end the run early.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How many examples of each kind of violation a report keeps.
const EXAMPLES: usize = 20;

/// What the clients of one run saw, checked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Verification {
    /// Durable room events checked (live and replayed), over every device.
    pub events_checked: u64,
    /// Events that reached a device a second time (or out of order).
    pub duplicates: u64,
    /// Events a device never got: its stream jumped past them.
    pub missing: u64,
    /// Sends the server acknowledged (200/201), with their message ids.
    pub sends_acknowledged: u64,
    /// Sends retried with the same `client_id` after a failure.
    pub send_retries: u64,
    /// Acknowledged sends that no device ever saw in the room's stream.
    pub acknowledged_not_seen: u64,
    /// Two different messages with one `client_id` (a retry that made a duplicate).
    pub client_id_duplicates: u64,
    /// First attempts answered with an existing message (200): a `client_id` of an earlier send.
    #[serde(default)]
    pub client_id_reused: u64,
    /// Assistant requests accepted by the API.
    pub assistant_requests: Vec<Uuid>,
    /// `assistant.done` frames received by devices, and those that repeated a request.
    pub assistant_done_frames: u64,
    pub assistant_done_duplicates: u64,
    /// Devices that resumed at the end, and those whose resume failed or was left behind.
    pub final_resumes: u64,
    pub final_resume_failed: u64,
    pub final_behind: u64,
    /// A few of each violation, to start looking from.
    pub examples: Vec<String>,
}

impl Verification {
    /// Every way the clients' view can be wrong, as sentences (empty: all held).
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        let mut say = |n: u64, what: &str| {
            if n > 0 {
                v.push(format!("{n} {what}"));
            }
        };
        say(self.duplicates, "events delivered twice");
        say(self.missing, "events missing from a device's stream");
        say(self.acknowledged_not_seen, "acknowledged sends never seen");
        say(
            self.client_id_duplicates,
            "duplicate messages for one client_id",
        );
        say(
            self.client_id_reused,
            "first sends answered with an earlier message (a client_id reused)",
        );
        say(
            self.assistant_done_duplicates,
            "assistant requests finished twice on a device",
        );
        say(
            self.final_resume_failed,
            "devices that could not resume at the end",
        );
        say(
            self.final_behind,
            "rooms left behind after the final resume",
        );
        v
    }
}

/// The run's shared checking state.
#[derive(Default)]
pub(super) struct Checker {
    inner: Mutex<CheckerInner>,
}

#[derive(Default)]
struct CheckerInner {
    v: Verification,
    acknowledged: HashMap<Uuid, Uuid>,
    seen: HashSet<Uuid>,
    client_ids: HashMap<(Uuid, Uuid, String), Uuid>,
}

impl Checker {
    fn with<T>(&self, f: impl FnOnce(&mut CheckerInner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn example(inner: &mut CheckerInner, text: String) {
        if inner.v.examples.len() < EXAMPLES {
            inner.v.examples.push(text);
        }
    }

    /// A durable event at `seq` reached a device that was at `*at` in `room`.
    pub(super) fn event(&self, device: &str, room: Uuid, at: &mut i64, seq: i64, kind: &str) {
        let expected = *at + 1;
        self.with(|i| {
            i.v.events_checked += 1;
            if seq < expected {
                i.v.duplicates += 1;
                Self::example(
                    i,
                    format!("{device}: {kind} seq {seq} again in room {room} (at {at})"),
                );
            } else if seq > expected {
                i.v.missing += (seq - expected) as u64;
                Self::example(
                    i,
                    format!("{device}: room {room} jumped from {at} to {seq} ({kind})"),
                );
            }
        });
        *at = (*at).max(seq);
    }

    /// A `message.created` frame (any device, live or replayed).
    pub(super) fn message(
        &self,
        room: Uuid,
        id: Uuid,
        author: Option<Uuid>,
        client_id: Option<&str>,
    ) {
        self.with(|i| {
            i.seen.insert(id);
            if let (Some(author), Some(cid)) = (author, client_id) {
                let key = (room, author, cid.to_owned());
                match i.client_ids.get(&key) {
                    Some(first) if *first != id => {
                        i.v.client_id_duplicates += 1;
                        let text = format!("client_id {cid} in room {room}: {first} and {id}");
                        Self::example(i, text);
                    }
                    Some(_) => {}
                    None => {
                        i.client_ids.insert(key, id);
                    }
                }
            }
        });
    }

    pub(super) fn client_id_reused(&self, id: Uuid) {
        self.with(|i| {
            i.v.client_id_reused += 1;
            let text = format!("the first send of a client_id was answered with message {id}");
            Self::example(i, text);
        });
    }

    pub(super) fn acknowledged(&self, room: Uuid, id: Uuid) {
        self.with(|i| {
            i.v.sends_acknowledged += 1;
            i.acknowledged.insert(id, room);
        });
    }

    pub(super) fn retried(&self) {
        self.with(|i| i.v.send_retries += 1);
    }

    pub(super) fn asked(&self, request: Uuid) {
        self.with(|i| i.v.assistant_requests.push(request));
    }

    /// An `assistant.done` frame; `first`: the device had not seen this request done before.
    pub(super) fn assistant_done(&self, device: &str, request: Uuid, first: bool) {
        self.with(|i| {
            i.v.assistant_done_frames += 1;
            if !first {
                i.v.assistant_done_duplicates += 1;
                Self::example(
                    i,
                    format!("{device}: assistant request {request} done twice"),
                );
            }
        });
    }

    /// The end-of-run resume of a device: whether it opened, and rooms it found itself behind.
    pub(super) fn final_resume(&self, device: &str, opened: bool, behind: &[(Uuid, i64, i64)]) {
        self.with(|i| {
            i.v.final_resumes += 1;
            if !opened {
                i.v.final_resume_failed += 1;
                Self::example(i, format!("{device}: the final resume failed"));
            }
            for (room, at, last) in behind {
                i.v.final_behind += 1;
                Self::example(
                    i,
                    format!(
                        "{device}: room {room} at {at} after the final resume, last_seq {last}"
                    ),
                );
            }
        });
    }

    /// The verdict, once every device has stopped.
    pub(super) fn finish(&self) -> Verification {
        self.with(|i| {
            let lost: Vec<(Uuid, Uuid)> = i
                .acknowledged
                .iter()
                .filter(|(id, _)| !i.seen.contains(id))
                .map(|(id, room)| (*id, *room))
                .collect();
            i.v.acknowledged_not_seen = lost.len() as u64;
            for (id, room) in lost.into_iter().take(EXAMPLES) {
                Self::example(
                    i,
                    format!("acknowledged message {id} of room {room} never seen"),
                );
            }
            i.v.clone()
        })
    }
}

/// Live recovery probes a fault test reads while the run goes on (share it through
/// `RunOptions::live`). Times are microseconds since the Unix epoch; `u64::MAX` is "not yet".
#[derive(Debug)]
pub struct Live {
    targets: usize,
    end: std::sync::atomic::AtomicBool,
    mark: AtomicU64,
    rest: Vec<AtomicU64>,
    delivered: Vec<AtomicU64>,
    /// Requests that failed since the mark, by target and outcome (what to look at when
    /// recovery does not come).
    failures: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Live {
    pub fn new(targets: usize) -> Live {
        Live {
            targets,
            end: std::sync::atomic::AtomicBool::new(false),
            mark: AtomicU64::new(u64::MAX),
            rest: (0..targets).map(|_| AtomicU64::new(u64::MAX)).collect(),
            delivered: (0..targets * targets)
                .map(|_| AtomicU64::new(u64::MAX))
                .collect(),
            failures: Mutex::default(),
        }
    }

    /// Ends the run's measured window now (before its duration), as when the faults are done.
    pub fn end_run(&self) {
        self.end.store(true, Ordering::Relaxed);
    }

    pub(super) fn ended(&self) -> bool {
        self.end.load(Ordering::Relaxed)
    }

    /// From now on, watch for successes of what starts at or after `at`.
    pub fn mark(&self, at: u64) {
        for a in self.rest.iter().chain(&self.delivered) {
            a.store(u64::MAX, Ordering::Relaxed);
        }
        self.mark.store(at, Ordering::Relaxed);
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// A request to `target` started at `started` failed with `what`.
    pub(super) fn rest_failed(&self, target: usize, started: u64, what: &str) {
        if started >= self.mark.load(Ordering::Relaxed) {
            *self
                .failures
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(format!("target {target}: {what}"))
                .or_default() += 1;
        }
    }

    /// A request to `target` started at `started` succeeded at `now`.
    pub(super) fn rest_ok(&self, target: usize, started: u64, now: u64) {
        if started >= self.mark.load(Ordering::Relaxed)
            && let Some(a) = self.rest.get(target)
        {
            a.fetch_min(now, Ordering::Relaxed);
        }
    }

    /// A message sent through `from` at `sent` reached a socket on `to` at `now`.
    pub(super) fn delivered(&self, from: usize, to: usize, sent: u64, now: u64) {
        if sent >= self.mark.load(Ordering::Relaxed)
            && from < self.targets
            && let Some(a) = self.delivered.get(to * self.targets + from)
        {
            a.fetch_min(now, Ordering::Relaxed);
        }
    }

    /// When every target had answered a request and every pair of targets had carried a
    /// message, all started after the mark: the latest of those firsts. `None`: not yet.
    pub fn recovered_at(&self) -> Option<u64> {
        let all: Vec<u64> = self
            .rest
            .iter()
            .chain(&self.delivered)
            .map(|a| a.load(Ordering::Relaxed))
            .collect();
        (!all.contains(&u64::MAX)).then(|| all.into_iter().max().unwrap_or(0))
    }

    /// What has not worked since the mark yet, for a message when recovery never comes.
    pub fn waiting_for(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(what, n)| format!("({n} requests failed: {what})"))
            .collect();
        for (t, a) in self.rest.iter().enumerate() {
            if a.load(Ordering::Relaxed) == u64::MAX {
                out.push(format!("a request to target {t}"));
            }
        }
        for (k, a) in self.delivered.iter().enumerate() {
            if a.load(Ordering::Relaxed) == u64::MAX {
                out.push(format!(
                    "a message from target {} delivered on target {}",
                    k % self.targets,
                    k / self.targets
                ));
            }
        }
        out
    }
}

/// The target a message was sent through, from its body (`⏱<micros> @<target> …`).
pub fn sender_target(body: &str) -> Option<usize> {
    body.split(' ').nth(1)?.strip_prefix('@')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_stream_must_go_one_by_one() {
        let c = Checker::default();
        let room = Uuid::nil();
        let mut at = 4;
        c.event("d", room, &mut at, 5, "m");
        c.event("d", room, &mut at, 5, "m");
        c.event("d", room, &mut at, 9, "m");
        let v = c.finish();
        assert_eq!((v.events_checked, v.duplicates, v.missing), (3, 1, 3));
        assert_eq!(at, 9);
        assert_eq!(v.violations().len(), 2);
    }

    #[test]
    fn acknowledged_sends_and_client_ids_are_checked() {
        let c = Checker::default();
        let (room, author) = (Uuid::nil(), Uuid::max());
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        c.acknowledged(room, a);
        c.acknowledged(room, Uuid::from_u128(3));
        c.message(room, a, Some(author), Some("t0-1"));
        c.message(room, a, Some(author), Some("t0-1"));
        c.message(room, b, Some(author), Some("t0-1"));
        let v = c.finish();
        assert_eq!(v.acknowledged_not_seen, 1);
        assert_eq!(v.client_id_duplicates, 1);
    }

    #[test]
    fn recovery_needs_every_target_and_pair_after_the_mark() {
        let live = Live::new(2);
        live.mark(100);
        live.rest_ok(0, 99, 150); // started before the mark
        assert_eq!(live.recovered_at(), None);
        live.rest_ok(0, 100, 160);
        live.rest_ok(1, 120, 170);
        for (from, to) in [(0, 0), (0, 1), (1, 0)] {
            live.delivered(from, to, 110, 180);
        }
        assert_eq!(live.waiting_for().len(), 1);
        live.delivered(1, 1, 130, 200);
        assert_eq!(live.recovered_at(), Some(200));
        assert_eq!(sender_target("⏱123 @1 deploy the backup"), Some(1));
        assert_eq!(sender_target("⏱123 deploy"), None);
    }
}
