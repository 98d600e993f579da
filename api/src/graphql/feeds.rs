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
};

use async_graphql::Response;
use futures_util::{Stream, StreamExt};
use tokio::{sync::broadcast, task::AbortHandle};

use sea_orm::DatabaseConnection;

use super::{
    ApiSchema, BatchObserver, Reply, batching::Standstill, limits, loaders::Loaders,
    subscription::Signals,
};
use crate::live::Hub;

/// Responses a feed keeps for its slowest client before that client falls behind.
const FEED_CAPACITY: usize = 256;

/// One response of a subscription, as JSON (`{"data": …}` and/or `{"errors": […]}`), written once
/// for every client of its feed.
pub type Payload = Arc<str>;

/// What a client of a feed receives.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// The next response.
    Response(Payload),
    /// The client fell more than [`FEED_CAPACITY`] responses behind, and lost some: it is too slow
    /// to read, and its subscription ends here.
    FellBehind,
}

#[derive(Debug, Clone)]
enum Item {
    Response(Payload),
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
    batches: Arc<dyn BatchObserver>,
    open: Mutex<HashMap<Key, Weak<Feed>>>,
}

/// One running subscription and its clients; dropped with its last client, which stops it.
struct Feed {
    key: Key,
    responses: broadcast::Sender<Item>,
    /// Whether a client may still join: the subscription has started (its arguments were
    /// accepted) and has not ended.
    joinable: Arc<AtomicBool>,
    task: AbortHandle,
    feeds: Weak<Feeds>,
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
    /// No feeds yet; changes come from `hub`, relations are read from `db`.
    pub fn new(hub: Hub, db: DatabaseConnection, batches: Arc<dyn BatchObserver>) -> Self {
        Self {
            hub,
            db,
            batches,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The number of running feeds.
    pub fn len(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|feed| feed.strong_count() > 0)
            .count()
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
        // A feed that may not be joined is dropped only once `open` is unlocked: were it the
        // last handle, its `Drop` would lock `open`.
        let mut stale = None;
        let (feed, receiver) = {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            match open.get(&key).and_then(Weak::upgrade) {
                Some(feed) if feed.joinable.load(Ordering::Acquire) => {
                    let receiver = feed.responses.subscribe();
                    (feed, receiver)
                }
                other => {
                    stale = other;
                    let (feed, receiver) = self.start(schema, request, key.clone());
                    open.insert(key, Arc::downgrade(&feed));
                    (feed, receiver)
                }
            }
        };
        drop(stale);
        futures_util::stream::unfold((receiver, Some(feed)), |(mut receiver, feed)| async move {
            let feed = feed?;
            match receiver.recv().await {
                Ok(Item::Response(payload)) => {
                    Some((Delivery::Response(payload), (receiver, Some(feed))))
                }
                Ok(Item::End) | Err(broadcast::error::RecvError::Closed) => None,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    Some((Delivery::FellBehind, (receiver, None)))
                }
            }
        })
    }

    /// Starts the feed of `request`, with its first client's receiver. Called with `open` locked.
    fn start(
        self: &Arc<Self>,
        schema: &ApiSchema,
        request: async_graphql::Request,
        key: Key,
    ) -> (Arc<Feed>, broadcast::Receiver<Item>) {
        let (responses, receiver) = broadcast::channel(FEED_CAPACITY);
        let joinable = Arc::new(AtomicBool::new(false));
        let standstill = Standstill::new();
        let request = request
            .data(Loaders::new(&self.db, &self.batches, &standstill))
            .data(Signals::new(self.hub.subscribe(), Arc::clone(&joinable)));
        let execution = standstill.run(schema.execute_stream(request));
        let sender = responses.clone();
        let ended = Arc::clone(&joinable);
        let feeds = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            let mut execution = std::pin::pin!(execution);
            while let Some(mut response) = execution.next().await {
                limits::add_limit_codes(&mut response);
                let _ = sender.send(Item::Response(to_payload(&response)));
            }
            // No client may join from here; those that joined before see the end.
            if let Some(feeds) = feeds.upgrade() {
                let _open = feeds.open.lock().unwrap_or_else(PoisonError::into_inner);
                ended.store(false, Ordering::Release);
            } else {
                ended.store(false, Ordering::Release);
            }
            let _ = sender.send(Item::End);
        });
        let feed = Arc::new(Feed {
            key,
            responses,
            joinable,
            task: task.abort_handle(),
            feeds: Arc::downgrade(self),
        });
        (feed, receiver)
    }
}

/// The body of an internal error, when a response cannot be written.
const UNWRITABLE: &str = r#"{"errors":[{"message":"internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#;

/// `response` as JSON.
fn to_payload(response: &Response) -> Payload {
    serde_json::to_string(response)
        .unwrap_or_else(|err| {
            tracing::error!(error = %err, "cannot write a response as JSON");
            UNWRITABLE.to_owned()
        })
        .into()
}

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
