//! Live updates (docs/reference.md § Subscriptions): what a committed write changed, and how it
//! reaches the subscribers of every instance.
//!
//! A write collects its [`Change`]s and ends its transaction through [`Changes::commit`]. On
//! PostgreSQL the changes go out by `pg_notify` inside that transaction, so the server delivers
//! them only if it commits, in commit order, to every instance that LISTENs ([`listen`]), this one
//! included. Elsewhere (SQLite, MariaDB: one process) they go straight to this instance's
//! [`Hub`] once the commit has succeeded. Either way each instance's hub hands them to its
//! subscribers.

use std::{
    sync::{Arc, Weak},
    time::{Duration, Instant},
};

use entity::{author, book};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, Value};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::{Mutex, broadcast, watch};

use crate::{
    error::{ApiError, ApiResult},
    store,
};

/// The PostgreSQL channel every instance of one database LISTENs on.
pub const CHANNEL: &str = "authors_api_changes";

/// Signals (each one transaction's changes, or one notification's) a hub keeps for its slowest
/// reader before that reader misses some.
const HUB_CAPACITY: usize = 4096;

/// The most bytes of changes one notification carries (PostgreSQL takes up to 8000).
const NOTIFICATION_BYTES: usize = 7000;

/// Notifications sent by one `SELECT pg_notify(…)` statement.
const NOTIFY_CHUNK: usize = 100;

/// The longest wait between two attempts to LISTEN again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A listening connection that lived less than this before dropping is not tried again at once.
const STABLE: Duration = Duration::from_secs(30);

/// How often the listening connection is checked by a notification of its own.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// How late the check may be before the connection counts as dead (a network gone silent).
const HEARTBEAT_GRACE: Duration = Duration::from_secs(5);

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeKind {
    /// Inserted.
    Created,
    /// At least one column changed.
    Updated,
    /// Deleted, by itself or with its author.
    Deleted,
}

/// A book as one commit left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookRow {
    id: i64,
    title: String,
    published_year: Option<i32>,
    author_id: i64,
}

/// An author as one commit left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorRow {
    id: i64,
    name: String,
}

impl From<&book::Model> for BookRow {
    fn from(book: &book::Model) -> Self {
        Self {
            id: book.id,
            title: book.title.clone(),
            published_year: book.published_year,
            author_id: book.author_id,
        }
    }
}

impl From<&BookRow> for book::Model {
    fn from(row: &BookRow) -> Self {
        Self {
            id: row.id,
            title: row.title.clone(),
            published_year: row.published_year,
            author_id: row.author_id,
        }
    }
}

impl From<&author::Model> for AuthorRow {
    fn from(author: &author::Model) -> Self {
        Self {
            id: author.id,
            name: author.name.clone(),
        }
    }
}

impl From<&AuthorRow> for author::Model {
    fn from(row: &AuthorRow) -> Self {
        Self {
            id: row.id,
            name: row.name.clone(),
        }
    }
}

/// One committed change to one row, as it travels between instances (JSON, well under the
/// 8000 bytes a notification may carry: a title is at most 200 characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "table", rename_all = "camelCase")]
pub enum Change {
    /// A book changed.
    #[serde(rename_all = "camelCase")]
    Book {
        /// How.
        kind: ChangeKind,
        /// Its id.
        id: i64,
        /// Its author (after the change, for a book moved to another author).
        author_id: i64,
        /// The author it was moved from, when it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        moved_from: Option<i64>,
        /// The row as committed; none when deleted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        row: Option<BookRow>,
    },
    /// An author changed.
    Author {
        /// How.
        kind: ChangeKind,
        /// Its id.
        id: i64,
        /// The row as committed; none when deleted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        row: Option<AuthorRow>,
    },
}

impl Change {
    /// `book` was inserted.
    pub fn book_created(book: &book::Model) -> Self {
        Self::Book {
            kind: ChangeKind::Created,
            id: book.id,
            author_id: book.author_id,
            moved_from: None,
            row: Some(book.into()),
        }
    }

    /// Book `before` became `after`; none when no column changed.
    pub fn book_updated(before: &book::Model, after: &book::Model) -> Option<Self> {
        (before != after).then(|| Self::Book {
            kind: ChangeKind::Updated,
            id: after.id,
            author_id: after.author_id,
            moved_from: (before.author_id != after.author_id).then_some(before.author_id),
            row: Some(after.into()),
        })
    }

    /// `book` was deleted.
    pub fn book_deleted(book: &book::Model) -> Self {
        Self::Book {
            kind: ChangeKind::Deleted,
            id: book.id,
            author_id: book.author_id,
            moved_from: None,
            row: None,
        }
    }

    /// `author` was inserted.
    pub fn author_created(author: &author::Model) -> Self {
        Self::Author {
            kind: ChangeKind::Created,
            id: author.id,
            row: Some(author.into()),
        }
    }

    /// Author `before` became `after`; none when no column changed.
    pub fn author_updated(before: &author::Model, after: &author::Model) -> Option<Self> {
        (before != after).then(|| Self::Author {
            kind: ChangeKind::Updated,
            id: after.id,
            row: Some(after.into()),
        })
    }

    /// Author `id` was deleted.
    pub fn author_deleted(id: i64) -> Self {
        Self::Author {
            kind: ChangeKind::Deleted,
            id,
            row: None,
        }
    }
}

/// What a hub hands its subscribers.
#[derive(Debug, Clone)]
pub enum Signal {
    /// Committed changes, in commit order: one transaction's, or as many as one notification
    /// carries.
    Changes(Arc<[Change]>),
    /// Changes may have been missed: the listening connection dropped (and now listens again), or
    /// this reader fell too far behind. A client refetches what it shows.
    Missed,
}

/// One instance's fan-out of committed changes to its subscribers.
#[derive(Clone)]
pub struct Hub(Arc<HubInner>);

struct HubInner {
    signals: broadcast::Sender<Signal>,
    /// Whether changes committed from now on will arrive: on PostgreSQL, while the listening
    /// connection LISTENs; always elsewhere.
    listening: watch::Sender<bool>,
}

impl Hub {
    /// A hub whose changes arrive once [`listen`] (PostgreSQL) or [`Changes::commit`] (other
    /// backends) sends them.
    pub fn new(listening: bool) -> Self {
        Self(Arc::new(HubInner {
            signals: broadcast::channel(HUB_CAPACITY).0,
            listening: watch::channel(listening).0,
        }))
    }

    /// The signals from now on; a reader that falls [`HUB_CAPACITY`] behind gets
    /// [`Signal::Missed`] and goes on from the oldest signal still held.
    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.0.signals.subscribe()
    }

    /// Whether changes committed from now on will arrive.
    pub fn is_listening(&self) -> bool {
        *self.0.listening.borrow()
    }

    /// Waits until changes committed from now on will arrive.
    pub async fn listening(&self) {
        let mut state = self.0.listening.subscribe();
        let _ = state.wait_for(|listening| *listening).await;
    }
}

/// Reads `signals` as a stream: a reader that fell behind reads [`Signal::Missed`] in place of
/// what it lost.
pub fn signals(
    receiver: broadcast::Receiver<Signal>,
) -> impl futures_util::Stream<Item = Signal> + Send + 'static {
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        match receiver.recv().await {
            Ok(signal) => Some((signal, receiver)),
            Err(broadcast::error::RecvError::Lagged(_)) => Some((Signal::Missed, receiver)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
}

/// Where writes announce their changes.
#[derive(Clone)]
pub struct Changes {
    hub: Hub,
    /// Commits and deliveries in one order, where this process delivers (not PostgreSQL).
    order: Arc<Mutex<()>>,
}

impl Changes {
    /// Announces to `hub`.
    pub fn new(hub: Hub) -> Self {
        Self {
            hub,
            order: Arc::new(Mutex::new(())),
        }
    }

    /// Announces to nobody in this process (the demo data, migrations tools); on PostgreSQL
    /// still to every listening instance.
    pub fn detached() -> Self {
        Self::new(Hub::new(true))
    }

    /// Ends `txn`: commits it with `result`'s changes announced, or rolls it back on an error,
    /// announcing nothing.
    ///
    /// Where this process delivers (not PostgreSQL), the commit and the delivery run in a task
    /// of their own, in one order across writers: a request cancelled meanwhile (a timeout, a
    /// client gone) cannot commit without announcing.
    ///
    /// # Errors
    /// `result`'s error, or the database's when announcing, committing or rolling back fails
    /// (then nothing is announced).
    pub async fn commit<T>(
        &self,
        txn: DatabaseTransaction,
        result: ApiResult<(T, Vec<Change>)>,
    ) -> ApiResult<T> {
        let (value, changes) = match result {
            Ok(written) => written,
            Err(err) => return store::finish(txn, Err(err)).await,
        };
        if changes.is_empty() {
            return store::finish(txn, Ok(value)).await;
        }
        if txn.get_database_backend() == DbBackend::Postgres {
            let notified = notify(&txn, &changes).await;
            return store::finish(txn, notified.map(|()| value)).await;
        }
        let order = Arc::clone(&self.order);
        let hub = Arc::clone(&self.hub.0);
        let delivered = tokio::spawn(async move {
            let _order = order.lock().await;
            store::finish::<(), ApiError>(txn, Ok(())).await?;
            let _ = hub.signals.send(Signal::Changes(changes.into()));
            Ok::<(), ApiError>(())
        })
        .await
        .map_err(|err| ApiError::internal(format!("the commit task failed: {err}")))?;
        delivered.map(|()| value)
    }
}

/// `changes` as the payloads of notifications: JSON arrays of at most [`NOTIFICATION_BYTES`].
fn payloads(changes: &[Change]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = String::from("[");
    for change in changes {
        let json = serde_json::to_string(change).unwrap_or_default();
        if current.len() > 1 && current.len() + json.len() + 2 > NOTIFICATION_BYTES {
            current.push(']');
            payloads.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&json);
    }
    current.push(']');
    payloads.push(current);
    payloads
}

/// Queues `changes` for delivery when `txn` commits, in order.
async fn notify(txn: &impl ConnectionTrait, changes: &[Change]) -> ApiResult<()> {
    for chunk in payloads(changes).chunks(NOTIFY_CHUNK) {
        let mut values = vec![Value::from(CHANNEL)];
        let calls: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, payload)| {
                values.push(Value::from(payload.as_str()));
                format!("pg_notify($1, ${})", i + 2)
            })
            .collect();
        let sql = format!("SELECT {}", calls.join(", "));
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?;
    }
    Ok(())
}

/// Checks that `url` can be listened on, before the server starts.
///
/// # Errors
/// When it is not a PostgreSQL URL.
pub fn check_listen_url(url: &str) -> Result<(), String> {
    url.parse::<PgConnectOptions>()
        .map(drop)
        .map_err(|err| format!("DATABASE_LISTEN_URL is not a PostgreSQL URL: {err}"))
}

/// What the listener reports (the server's metrics).
pub trait ListenerObserver: Send + Sync + 'static {
    /// The listening connection dropped and listens again after `took`.
    fn listener_reconnected(&self, took: Duration);
}

/// Starts listening for the changes committed to the PostgreSQL database at `url`, on one
/// connection of its own, and hands them to `hub` until every handle on the hub is dropped.
///
/// Whenever the connection listens after a time it did not (a drop, or the first start while
/// subscribers were waiting), [`Signal::Missed`] follows: changes committed meanwhile were lost,
/// and those committed from then on will arrive. A drop is noticed when the connection fails,
/// or when a notification it sends itself every [`HEARTBEAT`] does not come back (a network
/// gone silent). It tries again at once, unless the connection had not held for [`STABLE`],
/// then after waits doubling up to [`MAX_BACKOFF`].
pub fn listen(url: &str, hub: &Hub, observer: Arc<dyn ListenerObserver>) {
    let options = match url.parse::<PgConnectOptions>() {
        Ok(options) => options.application_name("authors-api listener"),
        Err(err) => {
            tracing::error!(error = %err, "DATABASE_LISTEN_URL is not a PostgreSQL URL: no live updates");
            return;
        }
    };
    let hub = Arc::downgrade(&hub.0);
    tokio::spawn(async move {
        let mut lost_at: Option<Instant> = None;
        let mut backoff = Duration::ZERO;
        let mut first = true;
        loop {
            let Some(closed) = hub.upgrade().map(|inner| inner.listening.subscribe()) else {
                return;
            };
            let started = match Listening::start(options.clone()).await {
                Ok(listening) => listening,
                Err(err) => {
                    backoff = (backoff * 2).clamp(Duration::from_millis(100), MAX_BACKOFF);
                    tracing::warn!(error = %err, retry_in = ?backoff, "cannot LISTEN for changes");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
            let Some(inner) = hub.upgrade() else { return };
            inner.listening.send_replace(true);
            if let Some(lost_at) = lost_at.take() {
                let took = lost_at.elapsed();
                tracing::warn!(
                    ?took,
                    "listening for changes again; subscribers are told they may have missed some"
                );
                observer.listener_reconnected(took);
                let _ = inner.signals.send(Signal::Missed);
            } else {
                tracing::info!(channel = CHANNEL, "listening for changes");
                if first && inner.signals.receiver_count() > 0 {
                    // Subscribed before the first LISTEN: what was committed meanwhile is lost.
                    let _ = inner.signals.send(Signal::Missed);
                }
            }
            first = false;
            drop(inner);
            let held = Instant::now();
            let Some(reason) = started.receive(&hub, closed).await else {
                return; // the hub is gone
            };
            lost_at = Some(Instant::now());
            if let Some(inner) = hub.upgrade() {
                inner.listening.send_replace(false);
            }
            tracing::warn!(reason, "the listening connection dropped; listening again");
            if held.elapsed() >= STABLE {
                backoff = Duration::ZERO;
            } else {
                // Dropped again soon after connecting: wait, so that a connection that keeps
                // dropping does not make every subscriber refetch in a loop.
                backoff = (backoff * 2).clamp(Duration::from_millis(100), MAX_BACKOFF);
                tokio::time::sleep(backoff).await;
            }
        }
    });
}

/// A connection that LISTENs, and the task that checks it with notifications of its own.
struct Listening {
    listener: PgListener,
    heartbeat: String,
    beating: tokio::task::JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.beating.abort();
    }
}

impl Listening {
    /// Connects and LISTENs on [`CHANNEL`] and on a heartbeat channel of its own, then starts
    /// sending the heartbeats (on a second connection: the first one only listens).
    async fn start(options: PgConnectOptions) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let heartbeat = format!("authors_api_alive_{:x}_{nanos:x}", std::process::id());
        listener.listen_all([CHANNEL, heartbeat.as_str()]).await?;
        let channel = heartbeat.clone();
        let beating = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(HEARTBEAT);
            loop {
                ticks.tick().await;
                let sent = sqlx::query("SELECT pg_notify($1, '')")
                    .bind(&channel)
                    .execute(&pool);
                if let Ok(Err(err)) = tokio::time::timeout(HEARTBEAT_GRACE, sent).await {
                    tracing::debug!(error = %err, "cannot send the listener's heartbeat");
                }
            }
        });
        Ok(Self {
            listener,
            heartbeat,
            beating,
        })
    }

    /// Hands what arrives to the hub until the connection is lost (why) or the hub is dropped
    /// (none).
    async fn receive(
        mut self,
        hub: &Weak<HubInner>,
        mut closed: watch::Receiver<bool>,
    ) -> Option<&'static str> {
        let mut heard = Instant::now();
        loop {
            let overdue = tokio::time::Instant::from_std(heard + HEARTBEAT + HEARTBEAT_GRACE);
            // Each of the other arms ends the connection, so `try_recv` is cancelled only then.
            let received = tokio::select! {
                received = self.listener.try_recv() => received,
                changed = closed.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                    continue;
                }
                () = tokio::time::sleep_until(overdue) => return Some("its heartbeat did not come back"),
            };
            let notification = match received {
                Ok(Some(notification)) => notification,
                Ok(None) => return Some("the connection closed"),
                Err(err) => {
                    tracing::warn!(error = %err, "the listening connection failed");
                    return Some("the connection failed");
                }
            };
            heard = Instant::now();
            if notification.channel() == self.heartbeat {
                continue;
            }
            let inner = hub.upgrade()?;
            match serde_json::from_str::<Vec<Change>>(notification.payload()) {
                Ok(changes) => {
                    let _ = inner.signals.send(Signal::Changes(changes.into()));
                }
                Err(err) => {
                    tracing::warn!(error = %err, "ignoring a notification that is not a list of changes");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_travels_as_json_and_back() {
        let before = book::Model {
            id: 7,
            title: "Emma".into(),
            published_year: Some(1815),
            author_id: 1,
        };
        let after = book::Model {
            author_id: 2,
            ..before.clone()
        };
        let moved = Change::book_updated(&before, &after).expect("a change");
        let json = serde_json::to_string(&moved).unwrap();
        assert_eq!(
            json,
            r#"{"table":"book","kind":"UPDATED","id":7,"authorId":2,"movedFrom":1,"row":{"id":7,"title":"Emma","publishedYear":1815,"authorId":2}}"#
        );
        assert_eq!(serde_json::from_str::<Change>(&json).unwrap(), moved);
        assert_eq!(Change::book_updated(&before, &before), None);
        let deleted = serde_json::to_string(&Change::author_deleted(3)).unwrap();
        assert_eq!(deleted, r#"{"table":"author","kind":"DELETED","id":3}"#);
    }

    #[test]
    fn many_changes_go_in_notifications_that_postgresql_takes() {
        let books: Vec<Change> = (0..1000)
            .map(|id| {
                Change::book_created(&book::Model {
                    id,
                    title: "é".repeat(200),
                    published_year: None,
                    author_id: 1,
                })
            })
            .collect();
        let payloads = payloads(&books);
        assert!(payloads.len() > 1);
        let mut back = Vec::new();
        for payload in &payloads {
            assert!(payload.len() <= NOTIFICATION_BYTES, "{}", payload.len());
            back.extend(serde_json::from_str::<Vec<Change>>(payload).unwrap());
        }
        assert_eq!(back, books);
    }
}
