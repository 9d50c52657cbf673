//! A WebSocket client for `/api/v1/ws`, reading frames as JSON with a bounded wait.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, protocol::frame::coding::CloseCode},
};

/// How long a test waits for a frame before it fails (a bound, not a measurement).
const WAIT: Duration = Duration::from_secs(15);

/// An open socket.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The `hello` frame.
    pub hello: Value,
}

/// Where a socket ended: the close code and reason, or `None` when the connection just dropped.
pub type Closed = Option<(u16, String)>;

/// The socket URL of the node or proxy at `base` (`http://...`).
pub fn ws_url(base: &str) -> String {
    format!("{}/api/v1/ws", base.replacen("http://", "ws://", 1))
}

/// Opens a socket without resuming yet; returns it after the `hello` frame.
pub async fn open(base: &str, token: Option<&str>) -> Result<Ws, Closed> {
    let bearer = token.map(|t| ("authorization", format!("Bearer {t}")));
    open_with_headers(base, bearer.as_slice()).await
}

/// Opens a socket with these request headers (`origin`, `cookie`, `x-forwarded-host`...), as a
/// browser or a proxy would send them; returns it after the `hello` frame.
pub async fn open_with_headers(
    base: &str,
    headers: &[(&'static str, String)],
) -> Result<Ws, Closed> {
    let mut request = ws_url(base).into_client_request().unwrap();
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, value.parse().expect("a header value"));
    }
    let (stream, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket handshake");
    let mut ws = Ws {
        stream,
        hello: Value::Null,
    };
    match ws.next_frame().await {
        Ok(hello) => {
            assert_eq!(hello["type"], "hello", "{hello}");
            ws.hello = hello;
            Ok(ws)
        }
        Err(closed) => Err(closed),
    }
}

/// Opens a socket and resumes from `positions` (`{room: last_seq}`); returns it with the frames
/// replayed before `resumed`.
pub async fn connect(base: &str, token: &str, positions: Value) -> (Ws, Vec<Value>) {
    let mut ws = open(base, Some(token)).await.expect("socket accepted");
    ws.send(json!({ "type": "resume", "rooms": positions }))
        .await;
    let mut replayed = Vec::new();
    loop {
        let frame = ws.next_frame().await.expect("replay");
        if frame["type"] == "resumed" {
            return (ws, replayed);
        }
        replayed.push(frame);
    }
}

impl Ws {
    /// Sends a JSON frame.
    pub async fn send(&mut self, frame: Value) {
        self.stream
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("send frame");
    }

    /// Sends any message (binary, ping, an oversized text...); a failure is ignored.
    pub async fn send_raw(&mut self, message: Message) {
        let _ = self.stream.send(message).await;
    }

    /// The next text frame, or how the socket closed.
    pub async fn next_frame(&mut self) -> Result<Value, Closed> {
        loop {
            let next = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame within the wait");
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Ok(serde_json::from_str(&text).expect("JSON frame"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map(|f| (u16::from(f.code), f.reason.to_string())));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(None),
            }
        }
    }

    /// The next frame of one of `types`, skipping others (presence, typing of other rooms...).
    pub async fn next_of(&mut self, types: &[&str]) -> Value {
        loop {
            let frame = self
                .next_frame()
                .await
                .unwrap_or_else(|c| panic!("socket closed ({c:?}) waiting for {types:?}"));
            if types.iter().any(|t| frame["type"] == *t) {
                return frame;
            }
        }
    }

    /// Reads until the socket closes; returns the close and the durable frames seen before it.
    pub async fn until_closed(&mut self) -> (Closed, Vec<Value>) {
        let mut seen = Vec::new();
        loop {
            match self.next_frame().await {
                Ok(frame) => {
                    if frame.get("seq").is_some() {
                        seen.push(frame);
                    }
                }
                Err(closed) => return (closed, seen),
            }
        }
    }

    /// Closes the socket normally.
    pub async fn close(mut self) {
        let _ = self
            .stream
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "bye".into(),
            }))
            .await;
    }
}

/// The `seq` of each durable frame.
pub fn seqs(frames: &[Value]) -> Vec<i64> {
    frames.iter().filter_map(|f| f["seq"].as_i64()).collect()
}
