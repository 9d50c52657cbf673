//! Load shedding. An overloaded node refuses new work early and cheaply — a request beyond
//! `server.max_requests_in_flight`, a WebSocket beyond `realtime.max_connecting` sockets still
//! authenticating and loading their rooms — with 503 `overloaded` and a jittered `Retry-After`,
//! and keeps serving the requests and sockets it has already taken (the middleware and the
//! upgrade handler in `api` answer the refusals).
//!
//! Work over a limit first waits in line for a place, first come first served, for at most
//! `server.request_queue_ms` / `realtime.connect_queue_ms`: a burst that the node clears within
//! that time costs latency, not errors, and only work that would wait longer is refused. Refusing
//! at once (the first version) turned a slow node into one answering most requests with 503, and
//! made refused sockets come back as a reconnect storm of their own (docs/capacity.md).
//!
//! Without any limit an overload queues every request on the database pool until they all time
//! out together, and a reconnect storm (every socket of a failed node reconnecting at once: a
//! session check, the room list and a resume each) turns into minutes of failure instead of
//! seconds of back-off (docs/capacity.md, "Reconnect storms").

use std::{ops::RangeInclusive, sync::Arc, time::Duration};

use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Seconds a refused client is told to wait: spread over a range, so the refused do not all come
/// back in the same second.
pub const RETRY_AFTER_SECS: RangeInclusive<u64> = 1..=5;

/// The node's two admission limits; `None` where a limit is off (0 in the config).
pub struct Admission {
    requests: Option<Limit>,
    connecting: Option<Limit>,
}

/// Places, and how long work waits in line for one before it is refused.
struct Limit {
    places: Arc<Semaphore>,
    queue: Duration,
}

/// A place taken in one of the limits, given back on drop (`None`: that limit is off).
pub type Admitted = Option<OwnedSemaphorePermit>;

/// Refused: the limit is full; the client should come back after `retry_after` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overloaded {
    pub retry_after: u64,
}

impl Admission {
    /// `(places, longest wait in line)` for requests and for connecting sockets; 0 places is
    /// no limit, a zero wait refuses at once.
    pub fn new(requests: (u32, Duration), connecting: (u32, Duration)) -> Admission {
        let limit = |(n, queue): (u32, Duration)| {
            (n > 0).then(|| Limit {
                places: Arc::new(Semaphore::new(n as usize)),
                queue,
            })
        };
        Admission {
            requests: limit(requests),
            connecting: limit(connecting),
        }
    }

    /// A place for one more request.
    pub async fn request(&self) -> Result<Admitted, Overloaded> {
        take(&self.requests).await
    }

    /// A place for one more socket to authenticate and load its rooms (taken before the upgrade,
    /// so a refusal costs no socket).
    pub async fn connect(&self) -> Result<Admitted, Overloaded> {
        take(&self.connecting).await
    }
}

async fn take(limit: &Option<Limit>) -> Result<Admitted, Overloaded> {
    let Some(limit) = limit else { return Ok(None) };
    // The semaphore is fair: a free place goes to the longest waiter, and `try_acquire` does not
    // pass anyone in line.
    let place = match limit.places.clone().try_acquire_owned() {
        Ok(place) => Some(place),
        Err(_) if limit.queue.is_zero() => None,
        Err(_) => tokio::time::timeout(limit.queue, limit.places.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok),
    };
    place.map(Some).ok_or_else(|| Overloaded {
        retry_after: rand::thread_rng().gen_range(RETRY_AFTER_SECS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT_ONCE: Duration = Duration::ZERO;

    #[tokio::test]
    async fn a_full_limit_refuses_with_a_retry_after_and_a_returned_place_is_free_again() {
        let admission = Admission::new((1, AT_ONCE), (2, AT_ONCE));
        let place = admission
            .request()
            .await
            .expect("the first request is admitted");
        let refused = admission
            .request()
            .await
            .expect_err("the second is over the limit");
        assert!(RETRY_AFTER_SECS.contains(&refused.retry_after));
        drop(place);
        assert!(admission.request().await.is_ok());
        let sockets = [admission.connect().await, admission.connect().await];
        assert!(sockets.iter().all(|s| matches!(s, Ok(Some(_)))));
        assert!(admission.connect().await.is_err(), "the limits are apart");
    }

    #[tokio::test(start_paused = true)]
    async fn work_over_the_limit_waits_in_line_and_is_refused_only_past_the_wait() {
        let queue = Duration::from_secs(2);
        let admission = Arc::new(Admission::new((1, queue), (0, AT_ONCE)));
        let first = admission.request().await.expect("admitted");
        // The second waits; the place it gets is the first's, given back after one second.
        let second = tokio::spawn({
            let admission = admission.clone();
            async move { admission.request().await.map(|place| place.is_some()) }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(first);
        assert_eq!(second.await.unwrap(), Ok(true), "admitted within its wait");
        // Nothing gives its place back: the third waits its two seconds, then is refused.
        let held = admission.request().await.expect("a free place");
        let started = tokio::time::Instant::now();
        assert!(admission.request().await.is_err());
        assert_eq!(started.elapsed(), queue);
        drop(held);
    }

    #[tokio::test]
    async fn a_limit_of_zero_is_off() {
        let admission = Admission::new((0, AT_ONCE), (0, AT_ONCE));
        let mut places = Vec::new();
        for _ in 0..1000 {
            places.push(admission.request().await.unwrap());
        }
        assert!(places.iter().all(Option::is_none));
        assert!(admission.connect().await.unwrap().is_none());
    }
}
