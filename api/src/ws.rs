//! GraphQL over WebSocket at `/graphql`, protocol `graphql-transport-ws` (docs/reference.md
//! § Subscriptions): the upgrade, the protocol and its limits.
//!
//! The protocol is spoken here rather than by async-graphql's implementation, which closes with
//! other codes than the protocol's, has no `connection_init` timeout and no cap on
//! subscriptions, and buffers for a client that does not read.

use std::{
    collections::{HashMap, hash_map::Entry},
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{
    SinkExt, StreamExt,
    stream::{AbortHandle, Abortable, SelectAll, SplitSink},
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::{app::AppState, graphql::Delivery, metrics::Metrics};

/// The subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// Bytes of messages that may wait to be sent to one client.
const MAX_QUEUED_BYTES: usize = 8 << 20;

/// How often the server pings a client; one silent for two of these is gone.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// The limits of WebSocket connections (docs/reference.md § Configuration).
#[derive(Debug, Clone)]
pub struct WsSettings {
    /// Time a client has to send `connection_init` after the upgrade.
    pub init_timeout: Duration,
    /// Subscriptions one connection may hold at once.
    pub max_subscriptions: usize,
    /// Largest message a client may send, in bytes.
    pub max_message_bytes: usize,
    /// Longest a message to the client may wait to be sent before the client counts as not
    /// reading and is disconnected.
    pub send_timeout: Duration,
}

/// The WebSocket connections of one instance: at most as many as the semaphore has permits.
pub struct Connections {
    permits: Arc<Semaphore>,
    /// Their limits.
    pub settings: WsSettings,
}

impl Connections {
    /// Room for `max` connections with `settings`.
    pub fn new(max: usize, settings: WsSettings) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
            settings,
        }
    }
}

/// The close codes of graphql-transport-ws, and ours.
mod close {
    pub const NORMAL: u16 = 1000;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const BAD_DATA: u16 = 1007;
    /// The client reads too slowly.
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const BAD_MESSAGE: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const SUBPROTOCOL: u16 = 4406;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
    pub const TOO_MANY_INITS: u16 = 4429;
}

/// Whether `headers` ask for a WebSocket.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"))
}

/// Upgrades `GET /graphql` to a WebSocket, after checking the page's `Origin` (this server's
/// own, or one CORS allows; a request without one comes from no browser, so from no other site)
/// and the connection cap.
pub fn upgrade(
    state: AppState,
    upgrade: WebSocketUpgrade,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Response {
    if let Some(origin) = headers.get(header::ORIGIN)
        && !same_origin(origin, headers)
        && !origin_allowed(&state.http.cors_allowed_origins, origin)
    {
        return refuse(
            &state.metrics,
            StatusCode::FORBIDDEN,
            "FORBIDDEN_ORIGIN",
            "this origin may not open a WebSocket here: it is not in CORS_ALLOWED_ORIGINS",
        );
    }
    let Ok(permit) = Arc::clone(&state.connections.permits).try_acquire_owned() else {
        return refuse(
            &state.metrics,
            StatusCode::SERVICE_UNAVAILABLE,
            "TOO_MANY_CONNECTIONS",
            "this instance holds as many WebSocket connections as it may; try again later",
        );
    };
    let settings = &state.connections.settings;
    // The transport stops a message at twice the limit, so that one just over it can be read and
    // refused with the protocol's close code; memory stays bounded either way.
    let transport_limit = settings.max_message_bytes.saturating_mul(2);
    let headers = headers.clone();
    upgrade
        .protocols([PROTOCOL])
        .max_message_size(transport_limit)
        .max_frame_size(transport_limit)
        // Each send waits for its flush, so the buffer holds one message at most: as large as a
        // response may be (queued messages are counted by the outbox instead).
        .max_write_buffer_size(usize::MAX)
        .on_upgrade(move |socket| async move {
            Connection::new(state, headers, client, permit)
                .run(socket)
                .await;
        })
}

/// Whether `origin` is this server as the browser reached it (its `Host`): the playground's
/// page, or an app served with the API behind one proxy.
fn same_origin(origin: &HeaderValue, headers: &HeaderMap) -> bool {
    let (Ok(origin), Some(host)) = (
        origin.to_str(),
        headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok()),
    ) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

fn origin_allowed(allowed: &[String], origin: &HeaderValue) -> bool {
    allowed
        .iter()
        .map(|allowed| allowed.trim())
        .any(|allowed| allowed == "*" || allowed.as_bytes() == origin.as_bytes())
}

fn refuse(metrics: &Metrics, status: StatusCode, code: &str, message: &str) -> Response {
    metrics.request_rejected();
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}

/// A message from the client.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Subscribe {
        id: String,
        payload: Value,
    },
    Complete {
        id: String,
    },
}

/// What ends a connection: a close frame to send, or nothing when the client is gone.
type Ending = Option<(u16, String)>;

/// One WebSocket connection.
struct Connection {
    state: AppState,
    headers: HeaderMap,
    client: Option<IpAddr>,
    _permit: OwnedSemaphorePermit,
    initialised: bool,
    /// When the connection's token expires: the connection is closed then.
    expires: Option<tokio::time::Instant>,
    /// The subscriptions running, by id, each with its number on this connection (an id may be
    /// used again once completed).
    running: HashMap<String, (u64, AbortHandle)>,
    started: u64,
}

/// What a subscription yields to the connection.
enum Event {
    Delivery(Delivery),
    /// Its responses ended.
    Complete,
}

type Sink = SplitSink<WebSocket, Message>;

/// The events of every subscription of a connection, each tagged with its id and number.
type Events = futures_util::stream::BoxStream<'static, (String, u64, Event)>;

/// How a `next` message starts.
const NEXT: &str = r#"{"type":"next""#;

impl Connection {
    fn new(
        state: AppState,
        headers: HeaderMap,
        client: Option<IpAddr>,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        Self {
            state,
            headers,
            client,
            _permit: permit,
            initialised: false,
            expires: None,
            running: HashMap::new(),
            started: 0,
        }
    }

    async fn run(mut self, socket: WebSocket) {
        let metrics = self.state.metrics.clone();
        metrics.connection_opened();
        let settings = self.state.connections.settings.clone();
        let protocol_agreed = socket
            .protocol()
            .is_some_and(|protocol| protocol.as_bytes() == PROTOCOL.as_bytes());
        let (sink, mut incoming) = socket.split();
        let (outbox, queue) = Outbox::new();
        let mut writer = tokio::spawn(write(
            sink,
            queue,
            Arc::clone(&outbox.queued),
            settings.send_timeout,
            metrics.clone(),
        ));
        let ending = if protocol_agreed {
            self.serve(&outbox, &mut incoming, &mut writer).await
        } else {
            Some((
                close::SUBPROTOCOL,
                format!("Subprotocol not acceptable: speak {PROTOCOL}"),
            ))
        };
        metrics.subscriptions_closed(self.running.len());
        for (_, (_, handle)) in self.running.drain() {
            handle.abort();
        }
        if let Some((code, reason)) = ending
            && !writer.is_finished()
        {
            // After what is queued, if the client takes it in time.
            outbox.close(code, reason);
            drop(outbox);
            if tokio::time::timeout(settings.send_timeout, &mut writer)
                .await
                .is_err()
            {
                writer.abort();
            }
        } else {
            writer.abort();
        }
        metrics.connection_closed();
    }

    /// Serves the protocol until the connection ends: how it ends, or none when the client is
    /// gone or cannot be written to.
    async fn serve(
        &mut self,
        outbox: &Outbox,
        incoming: &mut futures_util::stream::SplitStream<WebSocket>,
        writer: &mut tokio::task::JoinHandle<()>,
    ) -> Ending {
        let settings = self.state.connections.settings.clone();
        let init_deadline = tokio::time::sleep(settings.init_timeout);
        let mut init_deadline = std::pin::pin!(init_deadline);
        let expiry = tokio::time::sleep(Duration::from_secs(u64::from(u32::MAX)));
        let mut expiry = std::pin::pin!(expiry);
        let mut expiry_set = false;
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.reset();
        let mut heard = tokio::time::Instant::now();
        let mut events = SelectAll::new();
        loop {
            let outgoing: Vec<Message> = tokio::select! {
                () = &mut init_deadline, if !self.initialised => {
                    return Some((close::INIT_TIMEOUT, "Connection initialisation timeout".into()));
                }
                () = &mut expiry, if expiry_set => {
                    return Some((close::FORBIDDEN, "Forbidden: the token expired".into()));
                }
                _ = &mut *writer => return None,
                _ = keepalive.tick() => {
                    if heard.elapsed() > 2 * KEEPALIVE {
                        tracing::info!("disconnecting a WebSocket client that stopped answering pings");
                        return None;
                    }
                    vec![Message::Ping(axum::body::Bytes::new())]
                }
                message = incoming.next() => {
                    heard = tokio::time::Instant::now();
                    match message {
                        None => return None,
                        Some(Err(err)) => return Some(read_failure(&err.to_string())),
                        Some(Ok(Message::Text(text))) => {
                            if text.len() > settings.max_message_bytes {
                                return Some((close::TOO_BIG, format!(
                                    "Message too big: the limit is {} bytes", settings.max_message_bytes
                                )));
                            }
                            match self.receive(text.as_str(), &mut events) {
                                Ok(outgoing) => outgoing,
                                Err(ending) => return ending,
                            }
                        }
                        Some(Ok(Message::Binary(_))) => {
                            return Some((close::BAD_MESSAGE, "Invalid message received: binary".into()));
                        }
                        // The client closes: the server answers the close, as RFC 6455 asks.
                        Some(Ok(Message::Close(_))) => return Some((close::NORMAL, String::new())),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    }
                },
                Some((id, number, event)) = events.next(), if !events.is_empty() => {
                    match self.deliver(id, number, event) {
                        Ok(messages) => messages,
                        Err(ending) => return ending,
                    }
                }
            };
            if let (Some(at), false) = (self.expires, expiry_set) {
                expiry.as_mut().reset(at);
                expiry_set = true;
            }
            for message in outgoing {
                if !outbox.push(message) {
                    self.state.metrics.events_dropped("fell_behind", 1);
                    tracing::info!("disconnecting a WebSocket client that reads too slowly");
                    return Some((
                        close::POLICY,
                        "Too slow: changes were dropped; reconnect and refetch".into(),
                    ));
                }
            }
        }
    }

    /// Handles one text message: what to send back, or how the connection ends.
    fn receive(
        &mut self,
        text: &str,
        events: &mut SelectAll<Events>,
    ) -> Result<Vec<Message>, Ending> {
        let message: ClientMessage = serde_json::from_str(text).map_err(|err| {
            Some((
                close::BAD_MESSAGE,
                format!("Invalid message received: {err}"),
            ))
        })?;
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.initialised {
                    return Err(Some((
                        close::TOO_MANY_INITS,
                        "Too many initialisation requests".into(),
                    )));
                }
                self.admit(payload.as_ref()).map_err(Some)?;
                self.initialised = true;
                Ok(vec![text_message(&json!({ "type": "connection_ack" }))])
            }
            ClientMessage::Ping { payload } => {
                let mut pong = json!({ "type": "pong" });
                if let Some(payload) = payload {
                    pong["payload"] = payload;
                }
                Ok(vec![text_message(&pong)])
            }
            ClientMessage::Pong { .. } => Ok(Vec::new()),
            ClientMessage::Complete { id } => {
                if let Some((_, handle)) = self.running.remove(&id) {
                    handle.abort();
                    self.state.metrics.subscriptions_closed(1);
                }
                Ok(Vec::new())
            }
            ClientMessage::Subscribe { id, payload } => {
                if id.is_empty() {
                    return Err(Some((
                        close::BAD_MESSAGE,
                        "Invalid message received: an empty id".into(),
                    )));
                }
                if !self.initialised {
                    return Err(Some((close::UNAUTHORIZED, "Unauthorized".into())));
                }
                if self.running.contains_key(&id) {
                    return Err(Some((
                        close::DUPLICATE_ID,
                        format!("Subscriber for {id} already exists"),
                    )));
                }
                let request: async_graphql::Request =
                    serde_json::from_value(payload).map_err(|err| {
                        Some((
                            close::BAD_MESSAGE,
                            format!("Invalid message received: {err}"),
                        ))
                    })?;
                self.subscribe(id, request, events)
            }
        }
    }

    /// Checks the caller named by `connection_init`'s payload (`{"Authorization": "Bearer …"}`),
    /// or by the upgrade request's own `Authorization` header, as a reader.
    fn admit(&mut self, payload: Option<&Value>) -> Result<(), (u16, String)> {
        let mut headers = HeaderMap::new();
        let given = payload
            .and_then(Value::as_object)
            .and_then(|payload| {
                payload
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
            })
            .map(|(_, value)| value);
        match given {
            Some(Value::String(value)) => {
                let value = HeaderValue::from_str(value)
                    .map_err(|_| (close::FORBIDDEN, "Forbidden: the token is invalid".into()))?;
                headers.insert(header::AUTHORIZATION, value);
            }
            Some(_) => {
                return Err((
                    close::FORBIDDEN,
                    "Forbidden: `Authorization` must be a string".into(),
                ));
            }
            None => {
                if let Some(value) = self.headers.get(header::AUTHORIZATION) {
                    headers.insert(header::AUTHORIZATION, value.clone());
                }
            }
        }
        let caller = self
            .state
            .auth
            .admit(&headers, false, self.client)
            .map_err(|refusal| {
                (
                    close::FORBIDDEN,
                    format!("Forbidden: {}", refusal.message()),
                )
            })?;
        // The token's validity ends the connection too.
        self.expires = caller.expires_at.map(|exp| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |now| now.as_secs());
            tokio::time::Instant::now() + Duration::from_secs(exp.saturating_sub(now))
        });
        Ok(())
    }

    /// Starts subscription `id`, or refuses it with an `error` message.
    fn subscribe(
        &mut self,
        id: String,
        request: async_graphql::Request,
        events: &mut SelectAll<Events>,
    ) -> Result<Vec<Message>, Ending> {
        let max = self.state.connections.settings.max_subscriptions;
        if self.running.len() >= max {
            return Ok(vec![error_message(
                &id,
                "TOO_MANY_SUBSCRIPTIONS",
                &format!("a connection may hold at most {max} subscriptions at once"),
            )]);
        }
        let prepared = self.state.graphql.prepare(request);
        if prepared.is_mutation() {
            return Ok(vec![error_message(
                &id,
                "MUTATION_OVER_WEBSOCKET",
                "mutations go over POST /graphql, not over the WebSocket",
            )]);
        }
        let deliveries = self
            .state
            .graphql
            .subscribe(prepared, self.state.http.request_timeout);
        let (handle, registration) = AbortHandle::new_pair();
        self.started += 1;
        let number = self.started;
        let tagged = id.clone();
        let events_of = Abortable::new(deliveries, registration)
            .map(Event::Delivery)
            .chain(futures_util::stream::once(async { Event::Complete }))
            .map(move |event| (tagged.clone(), number, event));
        events.push(events_of.boxed());
        if let Entry::Vacant(entry) = self.running.entry(id) {
            entry.insert((number, handle));
        }
        self.state.metrics.subscription_opened();
        Ok(Vec::new())
    }

    /// The messages for an event of subscription `id`: none once it was completed.
    fn deliver(&mut self, id: String, number: u64, event: Event) -> Result<Vec<Message>, Ending> {
        if self
            .running
            .get(&id)
            .is_none_or(|(running, _)| *running != number)
        {
            return Ok(Vec::new());
        }
        let quoted = serde_json::to_string(&id).unwrap_or_default();
        match event {
            Event::Delivery(Delivery::Response(payload)) => Ok(vec![Message::Text(
                Utf8Bytes::from(format!(r#"{NEXT},"id":{quoted},"payload":{payload}}}"#)),
            )]),
            Event::Delivery(Delivery::Refused(errors)) => {
                // The protocol's `error`: the operation ends with it, without `complete`.
                if let Some((_, handle)) = self.running.remove(&id) {
                    handle.abort();
                    self.state.metrics.subscriptions_closed(1);
                }
                Ok(vec![Message::Text(Utf8Bytes::from(format!(
                    r#"{{"type":"error","id":{quoted},"payload":{errors}}}"#
                )))])
            }
            Event::Delivery(Delivery::FellBehind) => {
                self.state.metrics.events_dropped("fell_behind", 1);
                Err(Some((
                    close::POLICY,
                    "Too slow: changes were dropped; reconnect and refetch".into(),
                )))
            }
            Event::Complete => {
                self.running.remove(&id);
                self.state.metrics.subscriptions_closed(1);
                Ok(vec![text_message(&json!({ "type": "complete", "id": id }))])
            }
        }
    }
}

/// The close frame for a frame that could not be read.
fn read_failure(error: &str) -> (u16, String) {
    tracing::debug!(error, "WebSocket read failed");
    if error.contains("Space limit exceeded") {
        (close::TOO_BIG, "Message too big".into())
    } else if error.contains("UTF-8") || error.contains("utf-8") {
        (close::BAD_DATA, "Invalid UTF-8 in a text message".into())
    } else {
        (close::PROTOCOL_ERROR, "Malformed frame".into())
    }
}

/// Messages waiting for the writer, counted in bytes: past [`MAX_QUEUED_BYTES`] the client is too
/// slow, and is disconnected rather than buffered for.
struct Outbox {
    sender: mpsc::UnboundedSender<Message>,
    queued: Arc<AtomicUsize>,
}

impl Outbox {
    fn new() -> (Self, mpsc::UnboundedReceiver<Message>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (
            Self {
                sender,
                queued: Arc::new(AtomicUsize::new(0)),
            },
            receiver,
        )
    }

    /// Queues `message`; false when that would exceed the limit (nothing is queued then).
    fn push(&self, message: Message) -> bool {
        let size = message_bytes(&message);
        if self.queued.fetch_add(size, Ordering::AcqRel) + size > MAX_QUEUED_BYTES {
            self.queued.fetch_sub(size, Ordering::AcqRel);
            return false;
        }
        self.sender.send(message).is_ok()
    }

    /// Queues the close frame, whatever is queued.
    fn close(&self, code: u16, reason: String) {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(truncated(reason)),
        };
        let _ = self.sender.send(Message::Close(Some(frame)));
    }
}

fn message_bytes(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.len(),
        Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes.len(),
        Message::Close(_) => 0,
    }
}

/// Sends what is queued, each message within `send_timeout`; ends after a close frame, when the
/// queue closes, or when the client does not take a message in time.
async fn write(
    mut sink: Sink,
    mut queue: mpsc::UnboundedReceiver<Message>,
    queued: Arc<AtomicUsize>,
    send_timeout: Duration,
    metrics: Metrics,
) {
    while let Some(message) = queue.recv().await {
        let size = message_bytes(&message);
        let next = matches!(&message, Message::Text(text) if text.as_str().starts_with(NEXT));
        let closing = matches!(message, Message::Close(_));
        match tokio::time::timeout(send_timeout, sink.send(message)).await {
            Ok(Ok(())) => {
                queued.fetch_sub(size, Ordering::AcqRel);
                if next {
                    metrics.event_delivered();
                }
                if closing {
                    return;
                }
            }
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "WebSocket write failed");
                return;
            }
            Err(_) => {
                metrics.events_dropped("send_timeout", 1);
                tracing::info!("disconnecting a WebSocket client that does not read");
                return;
            }
        }
    }
}

fn text_message(value: &Value) -> Message {
    Message::Text(Utf8Bytes::from(value.to_string()))
}

/// The protocol's `error` message: subscription `id` is refused, with `code`.
fn error_message(id: &str, code: &str, message: &str) -> Message {
    text_message(&json!({
        "type": "error",
        "id": id,
        "payload": [{ "message": message, "extensions": { "code": code } }],
    }))
}

/// `reason` cut to the 123 bytes a close frame may carry, at a character boundary.
fn truncated(mut reason: String) -> String {
    const MAX: usize = 123;
    if reason.len() > MAX {
        let mut end = MAX;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}
