//! One child of a [`TaskGroup`](super::TaskGroup): its task's handle and its
//! place in spawn order.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::fail_fast::Ended;
use crate::task::{JoinError, JoinHandle};

/// What a child task ends with: its own result, or why it has none.
pub(super) type Outcome<T, E> = Result<Result<T, E>, JoinError>;

/// A child's [`JoinHandle`] tagged with its spawn index, so that results
/// collected in completion order can be put back in spawn order.
pub(super) struct Child<T, E> {
    index: usize,
    handle: JoinHandle<Ended<T, E>>,
}

impl<T, E> Child<T, E> {
    pub(super) fn new(index: usize, handle: JoinHandle<Ended<T, E>>) -> Self {
        Child { index, handle }
    }

    /// Cancels the child at its next suspension (nothing if it finished).
    pub(super) fn abort(&self) {
        self.handle.abort();
    }
}

impl<T, E> Future for Child<T, E> {
    type Output = (usize, Outcome<T, E>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let index = self.index;
        let id = self.handle.id();
        Pin::new(&mut self.handle).poll(cx).map(|outcome| {
            let outcome = match outcome {
                Ok(Ended::Done(res)) => Ok(res),
                // Stopped by the group's token: the same as an abort.
                Ok(Ended::Cancelled) => Err(JoinError::cancelled(id)),
                Err(e) => Err(e),
            };
            (index, outcome)
        })
    }
}
