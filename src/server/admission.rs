//! Load shedding. An overloaded node refuses new work early and cheaply — a request beyond
//! `server.max_requests_in_flight`, a WebSocket beyond `realtime.max_connecting` sockets still
//! authenticating and loading their rooms — with 503 `overloaded` and a jittered `Retry-After`,
//! and keeps serving the requests and sockets it has already taken (the middleware and the
//! upgrade handler in `api` answer the refusals).
//!
//! Without it an overload queues every request on the database pool until they all time out
//! together, and a reconnect storm (every socket of a failed node reconnecting at once: a session
//! check, the room list and a resume each) turns into minutes of failure instead of seconds of
//! back-off (docs/capacity.md, "Reconnect storms").

use std::{ops::RangeInclusive, sync::Arc};

use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Seconds a refused client is told to wait: spread over a range, so the refused do not all come
/// back in the same second.
pub const RETRY_AFTER_SECS: RangeInclusive<u64> = 1..=5;

/// The node's two admission limits; `None` where a limit is off (0 in the config).
pub struct Admission {
    requests: Option<Arc<Semaphore>>,
    connecting: Option<Arc<Semaphore>>,
}

/// A place taken in one of the limits, given back on drop (`None`: that limit is off).
pub type Admitted = Option<OwnedSemaphorePermit>;

/// Refused: the limit is full; the client should come back after `retry_after` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overloaded {
    pub retry_after: u64,
}

impl Admission {
    pub fn new(max_requests_in_flight: u32, max_connecting: u32) -> Admission {
        let limit = |n: u32| (n > 0).then(|| Arc::new(Semaphore::new(n as usize)));
        Admission {
            requests: limit(max_requests_in_flight),
            connecting: limit(max_connecting),
        }
    }

    /// A place for one more request.
    pub fn request(&self) -> Result<Admitted, Overloaded> {
        take(&self.requests)
    }

    /// A place for one more socket to authenticate and load its rooms (taken before the upgrade,
    /// so a refusal costs no socket).
    pub fn connect(&self) -> Result<Admitted, Overloaded> {
        take(&self.connecting)
    }
}

fn take(limit: &Option<Arc<Semaphore>>) -> Result<Admitted, Overloaded> {
    let Some(limit) = limit else { return Ok(None) };
    limit
        .clone()
        .try_acquire_owned()
        .map(Some)
        .map_err(|_| Overloaded {
            retry_after: rand::thread_rng().gen_range(RETRY_AFTER_SECS),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_limit_refuses_with_a_retry_after_and_a_returned_place_is_free_again() {
        let admission = Admission::new(1, 2);
        let place = admission.request().expect("the first request is admitted");
        let refused = admission
            .request()
            .expect_err("the second is over the limit");
        assert!(RETRY_AFTER_SECS.contains(&refused.retry_after));
        drop(place);
        assert!(admission.request().is_ok());
        let sockets = [admission.connect(), admission.connect()];
        assert!(sockets.iter().all(|s| matches!(s, Ok(Some(_)))));
        assert!(admission.connect().is_err(), "the limits are apart");
    }

    #[test]
    fn a_limit_of_zero_is_off() {
        let admission = Admission::new(0, 0);
        let places: Vec<_> = (0..1000).map(|_| admission.request().unwrap()).collect();
        assert!(places.iter().all(Option::is_none));
        assert!(admission.connect().unwrap().is_none());
    }
}
