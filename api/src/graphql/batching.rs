//! Deterministic DataLoader batches: a batch is sent only once the request has registered every key
//! it will register before waiting for data.
//!
//! async-graphql's DataLoader sends a batch a fixed delay after its first key. On a busy machine
//! resolving a long list, or receiving the results of the previous batch, can take longer than
//! that delay, and the keys of one list are then split over two statements. Here a batch instead
//! waits for the request's next *standstill*: its execution future returned `Pending`, was not woken
//! meanwhile, and no batch is still handing out results. Every resolver that could register a key
//! has then done so. The request then waits until every batch released at that standstill has
//! taken its keys, so that no key registered with the results of one can join another: the
//! number of statements of a request is fixed by the shape of the query
//! (docs/reference.md § Types and semantics).

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
};

use futures_util::{Stream, future::BoxFuture};
use tokio::sync::watch;

/// The standstills of one request, and the batches waiting for them.
#[derive(Clone)]
pub struct Standstill(Arc<Shared>);

struct Shared {
    /// How many standstills the request has reached.
    count: watch::Sender<u64>,
    /// Batches waiting for the next standstill.
    waiting: AtomicUsize,
    /// Batches released and still running (loading, or handing out results).
    running: AtomicUsize,
    /// Batches released that have not yet taken their keys.
    untaken: AtomicUsize,
    /// Whether a poll of the request waited for them (and so wants waking when they have).
    held: AtomicBool,
    /// Wakes the request when the last running batch ends.
    request: Mutex<Option<Waker>>,
}

impl Standstill {
    pub fn new() -> Self {
        Self(Arc::new(Shared {
            count: watch::channel(0).0,
            waiting: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            untaken: AtomicUsize::new(0),
            held: AtomicBool::new(false),
            request: Mutex::new(None),
        }))
    }

    /// A DataLoader spawner whose batches start at the request's next standstill.
    ///
    /// A waiting batch holds the request's state only weakly: when the request is dropped
    /// (client gone, timeout, shutdown) the batch is dropped too, without touching the database.
    pub fn spawner(&self) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let shared = Arc::downgrade(&self.0);
        move |batch| {
            let Some(strong) = shared.upgrade() else {
                return;
            };
            let mut standstills = strong.count.subscribe();
            let seen = *standstills.borrow_and_update();
            strong.waiting.fetch_add(1, Ordering::AcqRel);
            drop(strong);
            let shared = Weak::clone(&shared);
            tokio::spawn(async move {
                if standstills.wait_for(|count| *count > seen).await.is_err() {
                    return; // the request is gone
                }
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                // Counted as running, and as not having taken its keys, by the standstill that
                // released it.
                let taken = Arc::new(Taken {
                    done: AtomicBool::new(false),
                    shared: Arc::clone(&shared),
                });
                let _running = Running(shared, Arc::clone(&taken));
                TAKEN.scope(taken, batch).await;
            });
        }
    }

    /// Runs `execution` (a future, or the stream of a subscription), marking each standstill.
    pub fn run<F>(&self, execution: F) -> Observed<F> {
        Observed {
            execution,
            standstill: self.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's execution, watched for standstills.
    pub struct Observed<F> {
        #[pin]
        execution: F,
        standstill: Standstill,
    }
}

impl<F: Future> Future for Observed<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let execution = this.execution;
        this.standstill.observe(cx, |cx| execution.poll(cx))
    }
}

impl<S: Stream> Stream for Observed<S> {
    type Item = S::Item;

    /// A subscription: each response is a request of its own, and the standstills of one are
    /// marked as a request's are.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let execution = this.execution;
        this.standstill.observe(cx, |cx| execution.poll_next(cx))
    }
}

impl Standstill {
    /// Polls the request by `poll`, marking a standstill when it waits with nothing to wake it.
    fn observe<T>(
        &self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let shared = &self.0;
        *shared
            .request
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
        // Until every batch of the last standstill has taken its keys (the DataLoader takes them
        // only once its task runs, after a timer), the request waits: a resolver that went on
        // with the results of one batch could add keys to another, and which keys share a
        // statement would depend on timing. Taking keys needs no connection, so a request that
        // holds one mid-statement cannot hold the batches up. The last to take wakes it.
        if shared.untaken.load(Ordering::Acquire) > 0 {
            shared.held.store(true, Ordering::Release);
            // Taken meanwhile: the last batch may have missed the flag.
            if shared.untaken.load(Ordering::Acquire) > 0 {
                return Poll::Pending;
            }
        }
        let flag = Arc::new(WakeFlag {
            woken: AtomicBool::new(false),
            inner: cx.waker().clone(),
        });
        let waker = Waker::from(Arc::clone(&flag));
        let poll = poll(&mut Context::from_waker(&waker));
        if poll.is_pending()
            && !flag.woken.load(Ordering::Acquire)
            && shared.running.load(Ordering::Acquire) == 0
        {
            // Every waiting batch is released, and counts as running from now on.
            let released = shared.waiting.swap(0, Ordering::AcqRel);
            shared.running.fetch_add(released, Ordering::AcqRel);
            shared.untaken.fetch_add(released, Ordering::AcqRel);
            shared.count.send_modify(|count| *count += 1);
        }
        poll
    }
}

/// Counts a released batch as running until dropped, even by a panic; when the last running batch
/// ends, wakes the request so that it can reach its next standstill.
struct Running(Arc<Shared>, Arc<Taken>);

tokio::task_local! {
    /// The batch a DataLoader task runs.
    static TAKEN: Arc<Taken>;
}

/// Whether a released batch has taken its keys.
struct Taken {
    done: AtomicBool,
    shared: Arc<Shared>,
}

impl Taken {
    /// Marks the batch as having taken its keys, once; the last of a standstill wakes the request.
    fn mark(&self) {
        // The request is woken only if it waited: otherwise it is pending on the results, and
        // an extra poll of the whole request would find nothing to do.
        if !self.done.swap(true, Ordering::AcqRel)
            && self.shared.untaken.fetch_sub(1, Ordering::AcqRel) == 1
            && self.shared.held.swap(false, Ordering::AcqRel)
        {
            self.shared.wake_request();
        }
    }
}

impl Shared {
    fn wake_request(&self) {
        let waker = self
            .request
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Called by each loader as it starts loading: its batch has taken its keys.
pub fn keys_taken() {
    let _ = TAKEN.try_with(|taken| taken.mark());
}

impl Drop for Running {
    fn drop(&mut self) {
        // A batch that ended without loading (no keys) took nothing, and holds nobody up.
        self.1.mark();
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.wake_request();
        }
    }
}

/// A waker that remembers being woken, so that a poll that asked to be polled again (a cooperative
/// yield, a result that arrived meanwhile) does not count as a standstill.
struct WakeFlag {
    woken: AtomicBool,
    inner: Waker,
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.inner.wake_by_ref();
    }
}
