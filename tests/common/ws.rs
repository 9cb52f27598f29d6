//! A graphql-transport-ws client for tests, over a real WebSocket.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct WsClient {
    stream: Stream,
    /// Messages read while waiting for another subscription's.
    held: Vec<Value>,
}

/// What the server did with the socket.
#[derive(Debug, PartialEq)]
pub enum Seen {
    Message(Value),
    Closed(u16, String),
}

impl WsClient {
    /// Opens a socket with the graphql-transport-ws subprotocol (or `protocol`).
    pub async fn open_with(addr: std::net::SocketAddr, protocol: Option<&str>) -> Self {
        let mut request = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .unwrap();
        if let Some(p) = protocol {
            request
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_str(p).unwrap());
        }
        let (stream, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the socket opens");
        WsClient {
            stream,
            held: Vec::new(),
        }
    }

    pub async fn open(addr: std::net::SocketAddr) -> Self {
        Self::open_with(addr, Some("graphql-transport-ws")).await
    }

    /// Opens, sends `connection_init` with the token, and expects `connection_ack`.
    pub async fn connect(addr: std::net::SocketAddr, token: &str) -> Self {
        let mut ws = Self::open(addr).await;
        ws.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }))
            .await;
        match ws.next().await {
            Seen::Message(m) if m["type"] == "connection_ack" => ws,
            other => panic!("expected connection_ack, got {other:?}"),
        }
    }

    pub async fn send(&mut self, message: Value) {
        self.send_text(message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        let _ = self.stream.send(Message::Text(text.into())).await;
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "type": "subscribe", "id": id, "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next protocol message (server pings are answered and skipped), or the close;
    /// panics after 10 s of silence.
    pub async fn next(&mut self) -> Seen {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("the server said something within 10 s")
    }

    pub async fn next_within(&mut self, wait: Duration) -> Option<Seen> {
        loop {
            let frame = tokio::time::timeout(wait, self.stream.next()).await.ok()?;
            match frame {
                None => return Some(Seen::Closed(1006, "gone".into())),
                Some(Err(e)) => return Some(Seen::Closed(1006, e.to_string())),
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).unwrap();
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Some(Seen::Message(value));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Some(match frame {
                        Some(f) => Seen::Closed(u16::from(f.code), f.reason.to_string()),
                        None => Seen::Closed(u16::from(CloseCode::Status), String::new()),
                    });
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The next message for subscription `id`; others' messages are kept for later.
    pub async fn next_for(&mut self, id: &str) -> Value {
        if let Some(i) = self.held.iter().position(|m| m["id"] == id) {
            return self.held.remove(i);
        }
        loop {
            match self.next().await {
                Seen::Message(m) if m["id"] == id => return m,
                Seen::Message(m) => self.held.push(m),
                closed => panic!("expected a message for {id}, got {closed:?}"),
            }
        }
    }

    /// Waits for the close frame, skipping messages.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            match self.next().await {
                Seen::Closed(code, reason) => return (code, reason),
                Seen::Message(_) => continue,
            }
        }
    }
}
