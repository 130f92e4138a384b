//! [`Window`]: a few futures in flight at once, taken as they finish.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A small, unordered set of futures polled together by the task that owns
/// the window (no extra task per future). Dropping it drops the futures,
/// which cancels their operations.
pub(crate) struct Window<'a, T> {
    futures: Vec<BoxFuture<'a, T>>,
}

impl<'a, T> Window<'a, T> {
    pub(crate) fn new() -> Self {
        Window {
            futures: Vec::new(),
        }
    }

    /// Futures not finished yet.
    pub(crate) fn len(&self) -> usize {
        self.futures.len()
    }

    /// Adds a future; it first runs at the next [`Window::next`].
    pub(crate) fn push(&mut self, fut: impl Future<Output = T> + Send + 'a) {
        self.futures.push(Box::pin(fut));
    }

    /// The output of the next future to finish; `None` when empty.
    pub(crate) async fn next(&mut self) -> Option<T> {
        poll_fn(|cx| {
            if self.futures.is_empty() {
                return Poll::Ready(None);
            }
            for i in 0..self.futures.len() {
                if let Poll::Ready(out) = self.futures[i].as_mut().poll(cx) {
                    drop(self.futures.swap_remove(i));
                    return Poll::Ready(Some(out));
                }
            }
            Poll::Pending
        })
        .await
    }
}

impl<T> fmt::Debug for Window<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Window")
            .field("in_flight", &self.futures.len())
            .finish()
    }
}
