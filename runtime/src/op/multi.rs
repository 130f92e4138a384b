//! [`MultiOp`]: a multishot operation as a stream of completions.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::{cqe_result, no_runtime, not_submitted, park, OpCode, Parked};
use crate::executor::context;

#[derive(Debug, Clone, Copy)]
enum State {
    Unsubmitted,
    Submitted { worker: u64, key: usize },
    Done,
}

/// A multishot operation (multishot accept, multishot recv with provided
/// buffers): one SQE, many CQEs. Each CQE is one item — its result and
/// flags; the stream ends after the CQE without IORING_CQE_F_MORE has been
/// yielded. The op's data stays in the stream (or, once the stream is
/// dropped, in the driver) until that last CQE.
///
/// Dropping the stream cancels the op; results that arrive afterwards are
/// handed to [`OpCode::orphan_completed`] (which closes accepted fds, say).
#[derive(Debug)]
#[must_use = "a MultiOp does nothing unless polled"]
pub struct MultiOp<T: OpCode> {
    data: Option<T>,
    state: State,
}

impl<T: OpCode> MultiOp<T> {
    /// Wraps a multishot op; it is submitted on the first poll.
    pub fn new(data: T) -> Self {
        MultiOp {
            data: Some(data),
            state: State::Unsubmitted,
        }
    }

    /// The op's data.
    pub fn data(&self) -> Option<&T> {
        self.data.as_ref()
    }

    /// Polls for the next completion: `(result, CQE flags)`. The flags tell
    /// whether more will come (IORING_CQE_F_MORE) and, for provided-buffer
    /// ops, which buffer was used.
    ///
    /// # Panics
    ///
    /// When polled on a thread other than the one whose ring the op was
    /// submitted to.
    #[track_caller]
    pub fn poll_next_completion(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(io::Result<u32>, u32)>> {
        match self.state {
            State::Unsubmitted => {
                let Some(data) = self.data.as_mut() else {
                    return Poll::Ready(None);
                };
                let submitted = context::with_current(|w| {
                    let sqe = data.sqe();
                    let mut driver = w.driver.borrow_mut();
                    // SAFETY: as in `Op::poll`: the SQE points into `data`'s
                    // heap memory, kept here until the last CQE, or parked in
                    // the driver by `Drop` until then.
                    unsafe { driver.submit_multishot(sqe, cx.waker().clone()) }
                        .map(|key| (w.id, key))
                });
                match submitted {
                    Some(Ok((worker, key))) => {
                        self.state = State::Submitted { worker, key };
                        Poll::Pending
                    }
                    Some(Err(e)) => {
                        self.state = State::Done;
                        Poll::Ready(Some((Err(not_submitted(e)), 0)))
                    }
                    None => {
                        self.state = State::Done;
                        Poll::Ready(Some((Err(no_runtime()), 0)))
                    }
                }
            }
            State::Submitted { worker, key } => {
                let polled = context::with_current(|w| {
                    (w.id == worker).then(|| w.driver.borrow_mut().poll_multishot(key, cx))
                });
                match polled {
                    Some(Some(Poll::Ready(Some((res, flags))))) => {
                        Poll::Ready(Some((cqe_result(res), flags)))
                    }
                    Some(Some(Poll::Ready(None))) => {
                        self.state = State::Done;
                        Poll::Ready(None)
                    }
                    Some(Some(Poll::Pending)) => Poll::Pending,
                    _ => panic!(
                        "ringbolt: a multishot operation was polled on a thread other than \
                         the one whose ring it was submitted to"
                    ),
                }
            }
            State::Done => Poll::Ready(None),
        }
    }
}

impl<T: OpCode> Stream for MultiOp<T> {
    type Item = (io::Result<u32>, u32);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_completion(cx)
    }
}

impl<T: OpCode> Drop for MultiOp<T> {
    fn drop(&mut self) {
        let State::Submitted { worker, key } = self.state else {
            return;
        };
        if let Some(data) = self.data.take() {
            park(worker, key, Box::new(Parked(data)));
        }
    }
}
