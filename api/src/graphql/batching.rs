//! Deterministic DataLoader batches: a batch is sent only once the request has registered every key
//! it can.
//!
//! async-graphql's DataLoader sends a batch a fixed delay after its first key. On a busy machine
//! resolving a long list can take longer than that delay, and the keys of one list would be split
//! over two statements. Here each batch also waits until the request's execution future has been
//! polled to a standstill: it returned `Pending` without having been woken meanwhile, so every
//! resolver that could register a key has done so. The number of statements of a request is then
//! fixed by the shape of the query, as `API.md` § Semantics promises.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
};

use futures_util::future::BoxFuture;
use tokio::sync::watch;

/// Counts the moments at which a request's execution stood still; batches wait for the next one.
#[derive(Clone)]
pub struct Standstill(Arc<watch::Sender<u64>>);

impl Standstill {
    pub fn new() -> Self {
        Self(Arc::new(watch::channel(0).0))
    }

    /// A DataLoader spawner whose batches start at the request's next standstill.
    pub fn spawner(&self) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let sender = Arc::clone(&self.0);
        move |batch| {
            let mut standstills = sender.subscribe();
            let seen = *standstills.borrow_and_update();
            tokio::spawn(async move {
                // An error means the request is gone; the batch then runs for nobody, harmlessly.
                let _ = standstills.wait_for(|now| *now > seen).await;
                batch.await;
            });
        }
    }

    /// Runs `execution`, marking each standstill.
    pub fn run<F: Future>(&self, execution: F) -> Observed<F> {
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
        let waker = Arc::new(WakeFlag {
            woken: AtomicBool::new(false),
            inner: cx.waker().clone(),
        });
        let flagged = Waker::from(Arc::clone(&waker));
        let poll = this.execution.poll(&mut Context::from_waker(&flagged));
        if poll.is_pending() && !waker.woken.load(Ordering::Acquire) {
            this.standstill.0.send_modify(|count| *count += 1);
        }
        poll
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
