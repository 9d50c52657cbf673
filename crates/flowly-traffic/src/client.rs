//! The two ways a simulated user talks to Flowly, exactly as a real client does: REST with a
//! bearer token, and one WebSocket per device, each from a chosen loopback source address so
//! tens of thousands of sockets do not run out of ephemeral ports.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use anyhow::{Context, anyhow, bail};
use futures::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{
    WebSocketStream, client_async_with_config,
    tungstenite::{Message, client::IntoClientRequest, protocol::WebSocketConfig},
};

use super::stats::Outcome;

pub type Ws = WebSocketStream<TcpStream>;

/// One Flowly node (or a proxy in front of several) as seen by clients.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://host:port`
    pub base: String,
    pub addr: SocketAddr,
    pub ws_url: String,
}

impl Target {
    pub fn parse(base: &str) -> anyhow::Result<Target> {
        let base = base.trim_end_matches('/').to_owned();
        let host = base
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("{base}: targets are http://IP:PORT"))?;
        let addr: SocketAddr = host
            .parse()
            .with_context(|| format!("{base}: targets are http://IP:PORT (an IP, not a name)"))?;
        if !addr.ip().is_loopback() {
            bail!("{base}: the traffic generator only targets loopback addresses");
        }
        Ok(Target {
            ws_url: format!("ws://{host}/api/v1/ws"),
            base,
            addr,
        })
    }
}

/// Source addresses `127.0.0.first` to `127.0.0.last` (`"2-41"`), or one address.
pub fn parse_sources(spec: &str) -> anyhow::Result<Vec<Ipv4Addr>> {
    let (a, b) = spec.split_once('-').unwrap_or((spec, spec));
    let a: u8 = a
        .trim()
        .parse()
        .context("--sources is FIRST-LAST, e.g. 2-41")?;
    let b: u8 = b
        .trim()
        .parse()
        .context("--sources is FIRST-LAST, e.g. 2-41")?;
    if a == 0 || b < a || b == 255 {
        bail!("--sources must be within 1-254, first <= last");
    }
    Ok((a..=b).map(|n| Ipv4Addr::new(127, 0, 0, n)).collect())
}

/// An HTTP client bound to one source address (its pool keeps connections alive).
pub fn http_client(source: Ipv4Addr) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .local_address(IpAddr::V4(source))
        .pool_max_idle_per_host(512)
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()?)
}

/// The outcome of a REST call: its status and JSON body.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// The stable error code, or the status when the body has none.
    pub fn code(&self) -> String {
        self.body["error"]["code"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("http_{}", self.status.as_u16()))
    }

    /// Success, a conflict the workload can cause itself, or an error.
    pub fn outcome(&self) -> Outcome {
        if self.status.is_success() {
            Outcome::Ok
        } else if self.status == StatusCode::CONFLICT {
            Outcome::Conflict(self.code())
        } else {
            Outcome::Error(self.code())
        }
    }
}

/// One REST call with a bearer token, bounded by `timeout`.
pub async fn call(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<Reply, Outcome> {
    let mut req = http
        .request(method, format!("{base}/api/v1{path}"))
        .timeout(timeout);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    let response = req.send().await.map_err(transport)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(transport)?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    Ok(Reply { status, body })
}

fn transport(e: reqwest::Error) -> Outcome {
    if e.is_timeout() {
        Outcome::Timeout
    } else if e.is_connect() {
        Outcome::Error("connect_failed".into())
    } else {
        Outcome::Error("transport".into())
    }
}

/// Small buffers: a generator holds thousands of sockets.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// What the server said when the socket opened.
pub struct Opened {
    pub ws: Ws,
    /// `hello.data.rooms`: each room and its `last_seq`.
    pub rooms: Vec<(uuid::Uuid, i64)>,
    /// Frames that came with the replay, before `resumed`.
    pub replayed: Vec<Value>,
}

/// TCP from `source`, the handshake with the bearer token, `hello`, `resume` with `seqs`, and
/// everything up to `resumed`.
pub async fn open_socket(
    target: &Target,
    source: Ipv4Addr,
    token: &str,
    seqs: &serde_json::Map<String, Value>,
) -> anyhow::Result<Opened> {
    let socket = TcpSocket::new_v4().context("socket")?;
    socket
        .bind(SocketAddr::new(IpAddr::V4(source), 0))
        .with_context(|| format!("bind {source}"))?;
    let stream = socket.connect(target.addr).await.context("connect")?;
    stream.set_nodelay(true)?;
    let mut request = target.ws_url.as_str().into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut ws, _) = client_async_with_config(request, stream, Some(ws_config()))
        .await
        .context("handshake")?;
    let hello = next_json(&mut ws).await.context("hello")?;
    if hello["type"] != "hello" {
        bail!("expected hello, got {}", hello["type"]);
    }
    let rooms = hello["data"]["rooms"]
        .as_array()
        .map(|rooms| {
            rooms
                .iter()
                .filter_map(|r| {
                    let id = r["room"].as_str()?.parse().ok()?;
                    Some((id, r["last_seq"].as_i64().unwrap_or(0)))
                })
                .collect()
        })
        .unwrap_or_default();
    ws.send(Message::Text(
        json!({ "type": "resume", "rooms": seqs })
            .to_string()
            .into(),
    ))
    .await
    .context("send resume")?;
    let mut replayed = Vec::new();
    loop {
        let frame = next_json(&mut ws).await.context("resumed")?;
        if frame["type"] == "resumed" {
            return Ok(Opened {
                ws,
                rooms,
                replayed,
            });
        }
        replayed.push(frame);
    }
}

/// The next text frame as JSON (pings are answered by reading on).
pub async fn next_json(ws: &mut Ws) -> anyhow::Result<Value> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text)?),
            Some(Ok(Message::Close(frame))) => bail!("closed: {frame:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection ended"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_must_be_loopback_ips() {
        let t = Target::parse("http://127.0.0.1:18080/").unwrap();
        assert_eq!(t.ws_url, "ws://127.0.0.1:18080/api/v1/ws");
        assert_eq!(t.base, "http://127.0.0.1:18080");
        assert!(Target::parse("http://10.0.0.1:80").is_err());
        assert!(Target::parse("http://example.com:80").is_err());
        assert!(Target::parse("https://127.0.0.1:443").is_err());
    }

    #[test]
    fn source_ranges_stay_in_127_0_0_x() {
        let s = parse_sources("2-5").unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0], Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(
            parse_sources("7").unwrap(),
            vec![Ipv4Addr::new(127, 0, 0, 7)]
        );
        assert!(parse_sources("5-2").is_err());
        assert!(parse_sources("0-3").is_err());
        assert!(parse_sources("x").is_err());
    }

    #[test]
    fn replies_map_to_outcomes() {
        let reply = |status: u16, body: Value| Reply {
            status: StatusCode::from_u16(status).unwrap(),
            body,
        };
        assert_eq!(reply(201, json!({})).outcome(), Outcome::Ok);
        assert_eq!(
            reply(409, json!({"error": {"code": "already_done"}})).outcome(),
            Outcome::Conflict("already_done".into())
        );
        assert_eq!(
            reply(503, json!({"error": {"code": "unavailable"}})).outcome(),
            Outcome::Error("unavailable".into())
        );
        assert_eq!(
            reply(502, Value::Null).outcome(),
            Outcome::Error("http_502".into())
        );
    }
}
