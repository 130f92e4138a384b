//! The wrapper around every task's future: catches panics, and registers
//! idle tasks with their worker so that shutdown can cancel them.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use super::join::JoinError;
use super::meta::TaskMeta;
use crate::executor::context;
use crate::metrics::coarse_now;

/// A pointer to the task's own metadata, which lives in the same task
/// allocation as the future.
struct MetaRef(NonNull<TaskMeta>);

// SAFETY: `TaskMeta` is `Sync` (plain data and an atomic); the pointer is
// only read, from whichever thread polls or drops the future.
unsafe impl Send for MetaRef {}
// SAFETY: as above.
unsafe impl Sync for MetaRef {}

/// A task's future as the executor sees it.
pub(crate) struct Harness<F> {
    future: F,
    id: u64,
    meta: MetaRef,
    /// `(worker id, key)` in the worker's task list, once the task has
    /// returned `Pending` for the first time.
    registered: Option<(u64, usize)>,
}

impl<F> Harness<F> {
    /// Wraps `future`; `meta` is the metadata of the task it becomes (in
    /// the same allocation: async-task drops the future before the
    /// metadata, so the pointer stays valid as long as the harness).
    pub(crate) fn new(future: F, meta: &TaskMeta) -> Self {
        Harness {
            future,
            id: meta.id,
            meta: MetaRef(NonNull::from(meta)),
            registered: None,
        }
    }

    fn meta(&self) -> &TaskMeta {
        // SAFETY: see `new`: async-task keeps a task's metadata alive until
        // after its future is dropped, so it outlives `self`.
        unsafe { self.meta.0.as_ref() }
    }

    /// Reports a poll that held the worker for `took` (at least the
    /// threshold): a warning naming the task, and a count.
    #[cold]
    fn report_slow(&self, took: std::time::Duration) {
        let meta = self.meta();
        context::with_current(|w| w.metrics.counters.slow_polls.inc());
        tracing::warn!(
            task.id = meta.id,
            task.name = meta.name.as_deref().unwrap_or("<unnamed>"),
            task.spawned_at = %meta.location,
            poll_ms = took.as_millis() as u64,
            "ringbolt: task {} ({}) spawned at {} blocked its worker for {} ms in one poll; \
             move blocking work to spawn_blocking",
            meta.id,
            meta.name.as_deref().unwrap_or("unnamed"),
            meta.location,
            took.as_millis()
        );
    }

    fn unregister(&mut self) {
        if let Some((worker, key)) = self.registered.take() {
            context::with_current(|w| {
                if w.id == worker {
                    w.tasks.borrow_mut().try_remove(key);
                }
            });
        }
    }
}

impl<F: Future> Future for Harness<F> {
    type Output = Result<F::Output, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // `Harness` (Drop only unregisters), and the other fields are plain
        // data that are never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.future` stays where it is.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        let threshold = context::with_current(|w| w.metrics.slow_poll).flatten();
        let start = threshold.map(|_| coarse_now());
        let polled = catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
        if let (Some(limit), Some(start)) = (threshold, start) {
            let took = coarse_now().saturating_sub(start);
            if took >= limit {
                this.report_slow(took);
            }
        }
        match polled {
            Ok(Poll::Pending) => {
                if this.registered.is_none() {
                    this.registered = context::with_current(|w| {
                        (w.id, w.tasks.borrow_mut().insert(cx.waker().clone()))
                    });
                }
                Poll::Pending
            }
            Ok(Poll::Ready(out)) => {
                this.unregister();
                Poll::Ready(Ok(out))
            }
            Err(payload) => {
                this.unregister();
                Poll::Ready(Err(JoinError::panic(this.id, payload)))
            }
        }
    }
}

impl<F> Drop for Harness<F> {
    fn drop(&mut self) {
        self.unregister();
        context::with_current(|w| w.metrics.counters.tasks_finished.inc());
    }
}
