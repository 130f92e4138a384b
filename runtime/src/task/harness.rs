//! The wrapper around every task's future: catches panics, and registers
//! idle tasks with their worker so that shutdown can cancel them.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::join::JoinError;
use crate::executor::context;

/// A task's future as the executor sees it.
pub(crate) struct Harness<F> {
    future: F,
    id: u64,
    /// `(worker id, key)` in the worker's task list, once the task has
    /// returned `Pending` for the first time.
    registered: Option<(u64, usize)>,
}

impl<F> Harness<F> {
    pub(crate) fn new(future: F, id: u64) -> Self {
        Harness {
            future,
            id,
            registered: None,
        }
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
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
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
    }
}
