//! Connections as a hostile client holds them, over raw TCP: headers sent a byte at a time, a
//! connection that sends nothing, an idle keep-alive, too many connections from one address. A
//! node closes each in time, and an open WebSocket is not an idle connection.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use flowly::config::Config;
use flowly_testkit::{TestApp, eventually, ws};

/// How long a test waits for the server to close a connection (a bound, not a measurement: the
/// timeouts under test are a second or two).
const WAIT: Duration = Duration::from_secs(20);

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: flowly.test\r\n\r\n";

/// A node whose connection timeouts are `header_secs` and `keep_alive_secs`.
async fn node_with_timeouts(header_secs: u64, keep_alive_secs: u64) -> TestApp {
    TestApp::spawn_with(|c: &mut Config| {
        c.server.header_read_timeout_secs = header_secs;
        c.server.keep_alive_timeout_secs = keep_alive_secs;
    })
    .await
}

fn addr(app: &TestApp) -> SocketAddr {
    app.base
        .trim_start_matches("http://")
        .parse()
        .expect("node address")
}

/// A TCP connection to the node from the loopback address `source` (127.0.0.x).
async fn connect_from(app: &TestApp, source: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((source, 0)))
        .expect("bind the source address");
    socket.connect(addr(app)).await.expect("connect")
}

/// Whether the server closes `stream` within [`WAIT`] (what it sends before is read and dropped).
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    let reading = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(WAIT, reading).await.is_ok()
}

/// Sends one request and reads its whole response (head and `content-length` body); `None` when
/// the connection ends first.
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> Option<String> {
    stream.write_all(request).await.ok()?;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            let text = String::from_utf8_lossy(&received).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_owned())
                    })
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    return Some(text);
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("an answer or a close within the wait")
}

/// A connection from `source` that has been served a request, held open by the caller.
async fn served_from(app: &TestApp, source: [u8; 4]) -> TcpStream {
    let mut conn = connect_from(app, source).await;
    let answer = exchange(&mut conn, HEALTHZ).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    conn
}

#[tokio::test]
async fn a_client_that_sends_its_headers_a_byte_at_a_time_is_cut_off() {
    let app = node_with_timeouts(1, 60).await;
    let stream = connect_from(&app, [127, 0, 0, 1]).await;
    let (mut reader, mut writer) = stream.into_split();
    // A request head that never ends: one byte every 200 ms, new headers forever.
    let trickle = tokio::spawn(async move {
        let head = b"GET /healthz HTTP/1.1\r\nHost: flowly.test\r\n";
        let bytes = head
            .iter()
            .copied()
            .chain(b"X-Slow: 1\r\n".iter().copied().cycle());
        for b in bytes {
            if writer.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    trickle.abort();
    assert!(
        closed.is_ok(),
        "a head sent a byte at a time was never cut off"
    );
    let text = app.metrics().await;
    assert!(
        text.contains(
            r#"flowly_http_connections_timed_out_total{listener="api",reason="header"} 1"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = node_with_timeouts(1, 60).await;
    let mut silent = connect_from(&app, [127, 0, 0, 1]).await;
    assert!(
        closed_by_server(&mut silent).await,
        "a silent connection stayed open"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_serving_its_requests() {
    let app = node_with_timeouts(60, 1).await;
    let mut conn = connect_from(&app, [127, 0, 0, 1]).await;
    // Keep-alive works: two requests on one connection...
    for _ in 0..2 {
        let answer = exchange(&mut conn, HEALTHZ).await.expect("an answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    // ...and then the idle connection is closed.
    assert!(
        closed_by_server(&mut conn).await,
        "an idle keep-alive stayed open"
    );
    let text = app.metrics().await;
    assert!(
        text.contains(r#"flowly_http_connections_timed_out_total{listener="api",reason="idle"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn an_open_websocket_outlives_the_connection_timeouts() {
    let app = node_with_timeouts(1, 1).await;
    let ann = app.register("ann").await;
    let token = ann.client.token.clone().expect("token");
    let mut socket = ws::open(&app.base, Some(&token)).await.expect("socket");
    // Quiet for longer than both timeouts (the socket's own heartbeat is 30 s away).
    tokio::time::sleep(Duration::from_secs(3)).await;
    socket
        .send(serde_json::json!({ "type": "resume", "rooms": {} }))
        .await;
    let resumed = socket.next_of(&["resumed"]).await;
    assert_eq!(resumed["type"], "resumed");
}

#[tokio::test]
async fn one_address_gets_at_most_its_connection_cap_while_others_still_get_in() {
    let app = TestApp::spawn_with(|c: &mut Config| {
        c.server.max_connections_per_ip = 3;
        c.server.connection_cap_exempt = Vec::new();
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(served_from(&app, [127, 0, 0, 1]).await);
    }
    // The fourth from the same address is refused at once: no answer but a 429, then closed.
    let mut over = connect_from(&app, [127, 0, 0, 1]).await;
    let answer = exchange(&mut over, HEALTHZ).await.unwrap_or_default();
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 429"),
        "over the cap yet served: {answer}"
    );
    assert!(
        answer.is_empty() || answer.contains("too_many_connections"),
        "{answer}"
    );
    assert!(closed_by_server(&mut over).await);
    // Another address is not affected.
    let _other = served_from(&app, [127, 0, 0, 2]).await;
    let text = app.metrics().await;
    assert!(
        text.contains(r#"flowly_http_connections_refused_total{listener="api"} 1"#),
        "{text}"
    );
    // Once one of the three closes, the address gets in again.
    drop(held.pop());
    eventually("a slot for the address again", || async {
        let mut conn = connect_from(&app, [127, 0, 0, 1]).await;
        exchange(&mut conn, HEALTHZ)
            .await
            .filter(|a| a.starts_with("HTTP/1.1 200"))
    })
    .await;
}

#[tokio::test]
async fn exempt_addresses_and_trusted_proxies_are_not_capped() {
    for trusted_proxy in [false, true] {
        let app = TestApp::spawn_with(|c: &mut Config| {
            c.server.max_connections_per_ip = 2;
            c.server.trust_forwarded_for = trusted_proxy;
            if trusted_proxy {
                c.server.connection_cap_exempt = Vec::new();
            }
        })
        .await;
        // Loopback is exempt by default (a local nginx); behind a trusted proxy every peer is
        // the proxy, whose connections carry many users.
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(served_from(&app, [127, 0, 0, 1]).await);
        }
    }
}
