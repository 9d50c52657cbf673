//! The node's own HTTP/1.1 connection handling (instead of `axum::serve`, which has no timeouts):
//! a node may face the internet without nginx, so it bounds on its own what a client that never
//! finishes a request can hold.
//!
//! - **Header read timeout** (`server.header_read_timeout_secs`): a request head must arrive
//!   whole within it, counted from its first byte, or from the connect on a new connection (a
//!   client that sends nothing, or a byte every few seconds, is cut off).
//! - **Keep-alive timeout** (`server.keep_alive_timeout_secs`): a connection idle between
//!   requests is closed. It is longer than the header timeout on purpose: nginx keeps idle
//!   upstream connections 60 s, and closing them first races its next request. (hyper's own
//!   `header_read_timeout` starts when the connection waits for a head, so it would cut idle
//!   keep-alives at the header timeout; hence the timer here.)
//! - While a request is being handled, neither applies: the API's own request time limit does.
//!   Once a connection is upgraded to a WebSocket it leaves this loop, and the socket's own
//!   heartbeat decides when it is dead.
//! - **Per-address cap** (`server.max_connections_per_ip`): connections over it are refused at
//!   accept with a canned 429 and closed, counted, and logged at most every 10 s. Addresses in
//!   `server.connection_cap_exempt` are not capped, nor is any peer when `trust_forwarded_for`
//!   says every peer is the trusted proxy.
//!
//! Only HTTP/1.1 is spoken (with upgrades): browsers reach a node over TLS through nginx, which
//! speaks HTTP/2 to them and HTTP/1.1 to the nodes.

use std::{
    collections::HashMap,
    io,
    net::{IpAddr, SocketAddr},
    pin::{Pin, pin},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::TokioIo;
use prometheus::{IntCounter, IntGauge};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::watch,
    time::Instant,
};
use tower::ServiceExt;

use crate::{config::ServerConfig, realtime::stopped, telemetry::Metrics};

/// The connection limits of a listener, from `[server]`.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    /// Connections per client address (0: no cap).
    pub max_per_ip: u32,
    pub exempt: Vec<crate::config::Network>,
}

impl Limits {
    /// The limits `[server]` sets. With `trust_forwarded_for` every peer is the trusted proxy,
    /// whose connections carry many users: the per-address cap is then off.
    pub fn from_config(server: &ServerConfig) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(server.header_read_timeout_secs),
            keep_alive_timeout: Duration::from_secs(server.keep_alive_timeout_secs),
            max_per_ip: if server.trust_forwarded_for {
                0
            } else {
                server.max_connections_per_ip
            },
            exempt: server.connection_cap_exempt.clone(),
        }
    }
}

/// The metrics of one listener (`listener` label: `api` or `metrics`).
#[derive(Clone)]
struct ListenerMetrics {
    open: IntGauge,
    refused: IntCounter,
    header_timeouts: IntCounter,
    idle_timeouts: IntCounter,
}

impl ListenerMetrics {
    fn new(metrics: &Metrics, listener: &str) -> ListenerMetrics {
        let timed_out = |reason: &str| {
            metrics
                .http_connections_timed_out
                .with_label_values(&[listener, reason])
        };
        ListenerMetrics {
            open: metrics.http_connections.with_label_values(&[listener]),
            refused: metrics
                .http_connections_refused
                .with_label_values(&[listener]),
            header_timeouts: timed_out("header"),
            idle_timeouts: timed_out("idle"),
        }
    }
}

/// Serves `app` on `listener` until `stop` turns true, then lets every connection finish its
/// request in flight and returns when all have closed (the caller bounds the wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: &Metrics,
    name: &'static str,
    mut stop: watch::Receiver<bool>,
) {
    let metrics = ListenerMetrics::new(metrics, name);
    let limits = Arc::new(limits);
    let counts = Arc::new(PerAddress::new(&limits));
    // Every connection task holds a receiver; `closed()` resolves when the last one ends.
    let (open_tx, open_rx) = watch::channel(());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                accept_failed(e).await;
                continue;
            }
        };
        let Some(slot) = counts.admit(peer.ip()) else {
            metrics.refused.inc();
            counts.log_refusal(peer.ip());
            // One non-blocking write into a fresh socket's empty buffer, then close.
            let _ = stream.try_write(REFUSED);
            drop(stream);
            continue;
        };
        tokio::spawn(connection(
            stream,
            peer,
            slot,
            app.clone(),
            limits.clone(),
            metrics.clone(),
            stop.clone(),
            open_rx.clone(),
        ));
    }
    drop(listener);
    drop(open_rx);
    open_tx.closed().await;
}

/// What a client over the per-address cap reads before the connection closes.
const REFUSED: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n\
connection: close\r\ncontent-length: 97\r\n\r\n\
{\"error\":{\"code\":\"too_many_connections\",\"message\":\"too many open connections from your address\"}}";

/// Errors of `accept` that concern one connection only are skipped; others (out of file
/// descriptors above all) are logged and accepting pauses a second instead of spinning.
async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept connections; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Serves one connection until it closes, times out, is upgraded, or the node stops.
#[allow(clippy::too_many_arguments)] // one task's whole context, passed once
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Option<Slot>,
    app: Router,
    limits: Arc<Limits>,
    metrics: ListenerMetrics,
    mut stop: watch::Receiver<bool>,
    _open: watch::Receiver<()>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        stream,
        activity: activity.clone(),
        _open: OpenConnection::new(metrics.open.clone()),
        _slot: slot,
    });
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let in_flight = requests.request_started();
        let response = app.clone().oneshot(request.map(Body::new));
        async move {
            let response = response.await;
            drop(in_flight);
            response
        }
    });
    let mut builder = http1::Builder::new();
    // The timers are ours (see the module's notes); hyper's would also cut idle keep-alives.
    builder.header_read_timeout(None::<Duration>);
    let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
    let mut stopping = false;
    loop {
        let check_at = activity.deadline(&limits);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(error = %e, "connection ended with an error");
                }
                return;
            }
            // A head started or a request ended: the deadline moved.
            () = activity.changed.notified() => {}
            () = sleep_until_some(check_at) => {
                if let Some(reason) = activity.expired(&limits) {
                    match reason {
                        Expired::Header => metrics.header_timeouts.inc(),
                        Expired::Idle => metrics.idle_timeouts.inc(),
                    }
                    tracing::debug!(client = %peer.ip(), ?reason, "connection timed out");
                    return; // dropping the connection closes it
                }
            }
            () = stopped(&mut stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Sleeps until `at`, or forever when there is no deadline.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Why a connection was closed by a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expired {
    /// A request head did not arrive whole in time.
    Header,
    /// The connection sat idle between requests too long.
    Idle,
}

/// What a connection is doing, shared between its socket (reads and writes), its requests and
/// its timer. Times are milliseconds since the connection was accepted. All of it changes within
/// the connection's own task (the atomics only make it shareable with the socket).
struct Activity {
    born: Instant,
    /// Wakes the timer when a deadline moves earlier: a head started, a request ended.
    changed: tokio::sync::Notify,
    in_flight: AtomicU32,
    /// When the current request head started arriving ([`NONE`]: no partial head).
    head_since: AtomicU64,
    /// The last response finished or the last byte written.
    active_at: AtomicU64,
}

const NONE: u64 = u64::MAX;

impl Activity {
    fn new() -> Activity {
        Activity {
            born: Instant::now(),
            changed: tokio::sync::Notify::new(),
            in_flight: AtomicU32::new(0),
            // A new connection owes its first request head from the connect on.
            head_since: AtomicU64::new(0),
            active_at: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.head_since.store(NONE, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// Bytes arrived: between requests they start the next head's timer.
    fn read(&self) {
        if self.in_flight.load(Ordering::SeqCst) == 0
            && self
                .head_since
                .compare_exchange(NONE, self.now(), Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    fn wrote(&self) {
        self.active_at.store(self.now(), Ordering::SeqCst);
    }

    /// The current deadline and what passing it means; none while a request is handled.
    fn due(&self, limits: &Limits) -> Option<(Instant, Expired)> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let at = |ms: u64, after: Duration| self.born + Duration::from_millis(ms) + after;
        Some(match self.head_since.load(Ordering::SeqCst) {
            NONE => (
                at(
                    self.active_at.load(Ordering::SeqCst),
                    limits.keep_alive_timeout,
                ),
                Expired::Idle,
            ),
            since => (at(since, limits.header_read_timeout), Expired::Header),
        })
    }

    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        self.due(limits).map(|(at, _)| at)
    }

    /// Whether a timeout has passed now (bytes written since may have pushed it on).
    fn expired(&self, limits: &Limits) -> Option<Expired> {
        self.due(limits)
            .filter(|(at, _)| Instant::now() >= *at)
            .map(|(_, why)| why)
    }
}

/// A request being handled; its end makes the connection idle again.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.active_at.store(self.0.now(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_one();
    }
}

/// Counts an open connection in the gauge for as long as its socket lives.
struct OpenConnection(IntGauge);

impl OpenConnection {
    fn new(gauge: IntGauge) -> OpenConnection {
        gauge.inc();
        OpenConnection(gauge)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The socket, noting reads and writes for the timer. It also holds the connection's place under
/// the per-address cap and in the gauge: both last as long as the socket, a WebSocket's too.
struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
    _open: OpenConnection,
    _slot: Option<Slot>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Open connections per client address, for the cap.
struct PerAddress {
    max: u32,
    exempt: Vec<crate::config::Network>,
    open: Mutex<HashMap<IpAddr, u32>>,
    /// When a refusal was last logged, and how many went unlogged since.
    log: Mutex<(Option<Instant>, u64)>,
}

/// How often refusals are logged at most.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

impl PerAddress {
    fn new(limits: &Limits) -> PerAddress {
        PerAddress {
            max: limits.max_per_ip,
            exempt: limits.exempt.clone(),
            open: Mutex::new(HashMap::new()),
            log: Mutex::new((None, 0)),
        }
    }

    /// A place for one more connection from `ip` (`Some(None)`: not capped), or `None` when
    /// the address is at its cap.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Option<Slot>> {
        if self.max == 0 || self.exempt.iter().any(|net| net.contains(ip)) {
            return Some(None);
        }
        let key = cap_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Some(Slot {
            counts: self.clone(),
            key,
        }))
    }

    fn log_refusal(&self, ip: IpAddr) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.1 += 1;
        if log.0.is_none_or(|at| at.elapsed() >= REFUSAL_LOG_EVERY) {
            tracing::warn!(
                client = %ip,
                refused = log.1,
                max_connections_per_ip = self.max,
                "connections refused: too many open from one address"
            );
            *log = (Some(Instant::now()), 0);
        }
    }
}

/// The address a connection counts against: IPv4 (mapped or not) as it is, IPv6 by its /64,
/// the block one client usually holds.
fn cap_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// One connection's place under its address's cap, given back when the socket closes.
struct Slot {
    counts: Arc<PerAddress>,
    key: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_by_their_64_block() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(cap_key(a), cap_key(b));
        assert_ne!(cap_key(a), cap_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(cap_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_canned_refusal_is_a_whole_response() {
        let text = std::str::from_utf8(REFUSED).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "too_many_connections");
    }
}
