//! Subscriptions shared by every client of this instance that sends the same one.
//!
//! Clients whose subscription has the same text, operation and variables join one *feed*: the
//! subscription runs once, and each change it answers is resolved (its relations read through
//! fresh-per-response loaders, from the primary) and written as JSON once, then handed to every
//! client of the feed. One change costs the statements of one response per distinct subscription,
//! whatever the number of clients (docs/reference.md § Subscriptions).

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{Stream, StreamExt};
use tokio::{sync::broadcast, task::AbortHandle};

use super::{
    ApiSchema, BatchObserver, Reply, batching::Standstill, limits, loaders::Loaders,
    subscription::Signals,
};
use sea_orm::DatabaseConnection;

use crate::{live::Hub, store::Reader};

/// Responses a feed keeps for its slowest client before that client falls behind.
const FEED_CAPACITY: usize = 1024;

/// Past this many responses queued for a client, a feed waits for it...
const FEED_HIGH_WATER: usize = FEED_CAPACITY * 3 / 4;

/// ... at most this long. Clients take responses as they come and queue them for sending
/// (`ws.rs` bounds that queue), so the wait is a burst being taken, not a slow network.
const FEED_WAIT: Duration = Duration::from_secs(1);

/// One response of a subscription, as JSON (`{"data": …}` and/or `{"errors": […]}`), written once
/// for every client of its feed.
pub type Payload = Arc<str>;

/// What a client of a feed receives.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// The next response.
    Response(Payload),
    /// The operation did not run (a syntax, validation or limit error, an unknown persisted
    /// query, a timeout): its errors, as a JSON array; nothing follows.
    Refused(Payload),
    /// The client fell more than [`FEED_CAPACITY`] responses behind, and lost some: it is too slow
    /// to read, and its subscription ends here.
    FellBehind,
}

#[derive(Debug, Clone)]
enum Item {
    Delivery(Delivery),
    End,
}

/// What makes two subscriptions the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    query: String,
    operation: Option<String>,
    variables: String,
}

/// The open feeds of one instance.
pub struct Feeds {
    hub: Hub,
    db: DatabaseConnection,
    transaction_per_request: bool,
    batches: Arc<dyn BatchObserver>,
    open: Mutex<HashMap<Key, Weak<Feed>>>,
}

/// One running subscription and its clients; dropped with its last client, which stops it.
struct Feed {
    key: Key,
    responses: broadcast::Sender<Item>,
    history: Arc<Mutex<History>>,
    task: AbortHandle,
    feeds: Weak<Feeds>,
}

/// What a client joining a feed needs besides the responses to come: whether it has ended,
/// and what it sent before it started (its refusal, if it was refused). Responses are sent
/// with it locked, so a client joins between two of them.
#[derive(Default)]
struct History {
    ended: bool,
    before_start: Vec<Item>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(feeds) = self.feeds.upgrade() {
            let mut open = feeds.open.lock().unwrap_or_else(PoisonError::into_inner);
            if open
                .get(&self.key)
                .is_some_and(|feed| feed.strong_count() == 0)
            {
                open.remove(&self.key);
            }
        }
    }
}

impl Feeds {
    /// No feeds yet; changes come from `hub`, relations are read from `db`, in a transaction
    /// per event when `transaction_per_request`.
    pub fn new(
        hub: Hub,
        db: DatabaseConnection,
        transaction_per_request: bool,
        batches: Arc<dyn BatchObserver>,
    ) -> Self {
        Self {
            hub,
            db,
            transaction_per_request,
            batches,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The responses of subscription `request`, from the feed of the same subscription when one
    /// runs, else from a new one. The client is registered when this returns: a change committed
    /// from now on reaches it.
    pub fn join(
        self: &Arc<Self>,
        schema: &ApiSchema,
        request: async_graphql::Request,
    ) -> impl Stream<Item = Delivery> + Send + 'static + use<> {
        let key = Key {
            query: request.query.clone(),
            operation: request.operation_name.clone(),
            variables: serde_json::to_string(&request.variables).unwrap_or_default(),
        };
        // A feed that has ended is dropped only once `open` is unlocked: were it the last
        // handle, its `Drop` would lock `open`.
        let mut stale = None;
        let (feed, earlier, receiver) = {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            let joined = open.get(&key).and_then(Weak::upgrade).and_then(|feed| {
                let history = feed.history.lock().unwrap_or_else(PoisonError::into_inner);
                if history.ended {
                    drop(history);
                    stale = Some(feed);
                    return None;
                }
                let joined = (history.before_start.clone(), feed.responses.subscribe());
                drop(history);
                Some((feed, joined))
            });
            match joined {
                Some((feed, (earlier, receiver))) => (feed, earlier, receiver),
                None => {
                    let (feed, receiver) = self.start(schema, request, key.clone());
                    open.insert(key, Arc::downgrade(&feed));
                    (feed, Vec::new(), receiver)
                }
            }
        };
        drop(stale);
        let earlier =
            futures_util::stream::iter(earlier.into_iter().filter_map(|item| match item {
                Item::Delivery(delivery) => Some(delivery),
                Item::End => None,
            }));
        let later = futures_util::stream::unfold(
            (receiver, Some(feed)),
            |(mut receiver, feed)| async move {
                let feed = feed?;
                match receiver.recv().await {
                    Ok(Item::Delivery(delivery)) => Some((delivery, (receiver, Some(feed)))),
                    Ok(Item::End) | Err(broadcast::error::RecvError::Closed) => None,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        Some((Delivery::FellBehind, (receiver, None)))
                    }
                }
            },
        );
        earlier.chain(later)
    }

    /// Starts the feed of `request`, with its first client's receiver. Called with `open` locked.
    fn start(
        self: &Arc<Self>,
        schema: &ApiSchema,
        request: async_graphql::Request,
        key: Key,
    ) -> (Arc<Feed>, broadcast::Receiver<Item>) {
        let (responses, receiver) = broadcast::channel(FEED_CAPACITY);
        let started = Arc::new(AtomicBool::new(false));
        let history = Arc::new(Mutex::new(History::default()));
        let standstill = Standstill::new();
        // The feed's own: behind a transaction-mode pooler, each event reads in a transaction
        // that ends when its response is out.
        let reader = Reader::new(self.db.clone(), self.transaction_per_request);
        let request = request
            .data(reader.clone())
            .data(Loaders::new(&reader, &self.batches, &standstill))
            .data(Signals::new(self.hub.subscribe(), Arc::clone(&started)));
        let execution = standstill.run(schema.execute_stream(request));
        let sender = responses.clone();
        let (has_started, kept) = (Arc::clone(&started), Arc::clone(&history));
        let task = tokio::spawn(async move {
            let mut execution = std::pin::pin!(execution);
            while let Some(mut response) = execution.next().await {
                if let Err(err) = reader.release().await {
                    tracing::warn!(error = %err, "ending an event's reading transaction failed");
                }
                limits::add_limit_codes(&mut response);
                let delivery = delivery(&Reply::new(response));
                // A burst is taken at the pace of the slowest client, within limits.
                let waiting = Instant::now();
                while sender.len() >= FEED_HIGH_WATER && waiting.elapsed() < FEED_WAIT {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let item = Item::Delivery(delivery);
                let mut history = kept.lock().unwrap_or_else(PoisonError::into_inner);
                if !has_started.load(Ordering::Acquire) {
                    history.before_start.push(item.clone());
                }
                let _ = sender.send(item);
            }
            // No client may join from here; those that joined before see the end.
            let mut history = kept.lock().unwrap_or_else(PoisonError::into_inner);
            history.ended = true;
            let _ = sender.send(Item::End);
        });
        let feed = Arc::new(Feed {
            key,
            responses,
            history,
            task: task.abort_handle(),
            feeds: Arc::downgrade(self),
        });
        (feed, receiver)
    }
}

/// What a client receives of `reply`: the response of an operation that ran, else its errors.
pub fn delivery(reply: &Reply) -> Delivery {
    if reply.executed() {
        return Delivery::Response(reply_payload(reply));
    }
    Delivery::Refused(
        serde_json::to_string(reply.errors())
            .unwrap_or_else(|_| {
                r#"[{"message":"internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]"#
                    .to_owned()
            })
            .into(),
    )
}

/// The body of an internal error, when a response cannot be written.
const UNWRITABLE: &str = r#"{"errors":[{"message":"internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#;

/// `reply` as JSON.
pub fn reply_payload(reply: &Reply) -> Payload {
    reply
        .to_json()
        .ok()
        .and_then(|json| String::from_utf8(json).ok())
        .unwrap_or_else(|| {
            tracing::error!("cannot write a response as JSON");
            UNWRITABLE.to_owned()
        })
        .into()
}
