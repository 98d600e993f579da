//! A graphql-transport-ws client for the tests: raw enough to break the protocol on purpose.

use std::{net::SocketAddr, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest, http::HeaderValue},
};

/// What the server sent: a text message as JSON, or the close frame's code and reason (code
/// 1006 when the connection ended without one).
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    Json(Value),
    Closed(u16, String),
}

/// One WebSocket connection to `/graphql`.
pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    /// Opens a connection speaking graphql-transport-ws with these extra headers; the server's
    /// refusal of the upgrade, as an error.
    pub async fn open(
        address: SocketAddr,
        protocol: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Self, tungstenite::Error> {
        let mut request = format!("ws://{address}/graphql")
            .into_client_request()
            .expect("a valid URL");
        if let Some(protocol) = protocol {
            request.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_str(protocol).unwrap(),
            );
        }
        for (name, value) in headers {
            request.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Self { socket })
    }

    /// A connection acknowledged after `connection_init` with `payload`.
    pub async fn connect(address: SocketAddr, payload: Value) -> Self {
        let mut client = Self::open(address, Some("graphql-transport-ws"), &[])
            .await
            .expect("the upgrade succeeds");
        client.init(payload).await;
        assert_eq!(
            client.receive().await,
            Received::Json(json!({ "type": "connection_ack" }))
        );
        client
    }

    /// Sends `connection_init`.
    pub async fn init(&mut self, payload: Value) {
        self.send(&json!({ "type": "connection_init", "payload": payload }))
            .await;
    }

    /// Sends a JSON message.
    pub async fn send(&mut self, message: &Value) {
        self.send_text(message.to_string()).await;
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: String) {
        self.socket
            .send(Message::text(text))
            .await
            .expect("the message is sent");
    }

    /// Starts subscription `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(&json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }))
        .await;
    }

    /// Returns once the server has handled every message sent before: it handles them in order,
    /// and answers a ping with a pong.
    pub async fn sync(&mut self) {
        self.send(&json!({ "type": "ping", "payload": { "sync": true } }))
            .await;
        loop {
            match self.receive().await {
                Received::Json(message) if message["type"] == "pong" => return,
                Received::Json(_) => {}
                closed @ Received::Closed(..) => panic!("closed while syncing: {closed:?}"),
            }
        }
    }

    /// The next message, within 10 seconds.
    pub async fn receive(&mut self) -> Received {
        self.receive_within(Duration::from_secs(10))
            .await
            .expect("a message within 10 s")
    }

    /// The next message within `wait`, if any.
    pub async fn receive_within(&mut self, wait: Duration) -> Option<Received> {
        loop {
            let message = tokio::time::timeout(wait, self.socket.next()).await.ok()?;
            return Some(match message {
                None | Some(Err(_)) => Received::Closed(1006, String::new()),
                Some(Ok(Message::Text(text))) => {
                    Received::Json(serde_json::from_str(text.as_str()).expect("JSON"))
                }
                Some(Ok(Message::Close(frame))) => frame.map_or_else(
                    || Received::Closed(1005, String::new()),
                    |frame| Received::Closed(u16::from(frame.code), frame.reason.to_string()),
                ),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Binary(_))) => panic!("a binary message"),
            });
        }
    }

    /// The payload of the next `next` message, which must be for subscription `id`.
    pub async fn next_payload(&mut self, id: &str) -> Value {
        match self.receive().await {
            Received::Json(message) if message["type"] == "next" && message["id"] == id => {
                message["payload"].clone()
            }
            other => panic!("expected a `next` for {id}, got {other:?}"),
        }
    }

    /// The close code and reason the server ends the connection with.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            match self.receive().await {
                Received::Closed(code, reason) => return (code, reason),
                Received::Json(_) => {}
            }
        }
    }
}
