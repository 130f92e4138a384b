//! [`MultiOp`]: a multishot operation as a stream of completions.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::blocking::BlockingJob;
use super::ready::{ReadyWait, Step};
use super::{
    cqe_result, no_runtime, not_submitted, park, route, start_blocking, OpCode, Parked, Route,
};
use crate::executor::context;

/// IORING_CQE_F_MORE: more completions follow.
const F_MORE: u32 = 1 << 1;

#[derive(Debug)]
enum State<T: OpCode> {
    Unsubmitted,
    Submitted {
        worker: u64,
        key: usize,
    },
    /// No ring for it: one blocking job per item.
    Blocking(BlockingJob<T>),
    /// A socket op under the thread-pool driver: each item is a call on
    /// the worker once the socket is ready.
    Ready(ReadyWait),
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
///
/// Without a ring for it (the thread-pool driver, or multishot switched
/// off or missing) the op runs `run_blocking` on the blocking pool — or,
/// a socket op under the thread-pool driver, `run_nonblocking` on the
/// worker once the socket is ready: once per item, flagged F_MORE, when
/// [`OpCode::blocking_repeats`] says so (the stream then ends only at an
/// error), else once.
#[derive(Debug)]
#[must_use = "a MultiOp does nothing unless polled"]
pub struct MultiOp<T: OpCode> {
    data: Option<T>,
    state: State<T>,
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

    /// The op's data back, once the stream has ended (or before it was
    /// first polled): the kernel no longer uses it then.
    ///
    /// # Errors
    ///
    /// Gives `self` back while the op is still in flight.
    pub fn into_data(mut self) -> Result<T, Self> {
        match self.state {
            State::Unsubmitted | State::Done if self.data.is_some() => {
                Ok(self.data.take().expect("checked above"))
            }
            _ => Err(self),
        }
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
        // The budget by hand, not through a closure: the caller's location
        // reaches `poll_item`'s panic.
        std::task::ready!(crate::task::coop::poll_proceed(cx));
        let polled = self.poll_item(cx);
        if polled.is_ready() {
            crate::task::coop::spend();
        }
        polled
    }

    #[track_caller]
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<(io::Result<u32>, u32)>> {
        match &mut self.state {
            State::Unsubmitted => {
                if self.data.is_none() {
                    return Poll::Ready(None);
                }
                match route(&mut self.data, cx, true) {
                    Some(Ok(Route::Ring(worker, key))) => {
                        self.state = State::Submitted { worker, key };
                        Poll::Pending
                    }
                    Some(Ok(Route::Pool(job))) => {
                        self.state = State::Blocking(job);
                        self.poll_item(cx)
                    }
                    Some(Ok(Route::Ready)) => {
                        self.state = State::Ready(ReadyWait::default());
                        self.poll_item(cx)
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
                let (worker, key) = (*worker, *key);
                let polled = context::with_current(|w| {
                    (w.id == worker)
                        .then(|| w.ring().map(|r| r.borrow_mut().poll_multishot(key, cx)))
                        .flatten()
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
            State::Blocking(job) => {
                let done = match job.poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(done) => done,
                };
                let repeat = done.result.is_ok() && done.data.blocking_repeats();
                if repeat {
                    // The next item's job starts now, like a multishot op
                    // that stays armed.
                    let mut data = Some(done.data);
                    self.state = match start_blocking(&mut data) {
                        Some(job) => State::Blocking(job),
                        None => State::Done,
                    };
                    Poll::Ready(Some((done.result, F_MORE)))
                } else {
                    // Kept for `into_data`, as on the ring path.
                    self.data = Some(done.data);
                    self.state = State::Done;
                    Poll::Ready(Some((done.result, 0)))
                }
            }
            State::Ready(wait) => {
                let Some(data) = self.data.as_mut() else {
                    self.state = State::Done;
                    return Poll::Ready(None);
                };
                match wait.poll(data, cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Step::Done(res)) => {
                        if res.is_ok() && data.blocking_repeats() {
                            // The next item is waited for afresh.
                            self.state = State::Ready(ReadyWait::default());
                            Poll::Ready(Some((res, F_MORE)))
                        } else {
                            self.state = State::Done;
                            Poll::Ready(Some((res, 0)))
                        }
                    }
                    Poll::Ready(Step::Unwatchable) => {
                        self.state = match start_blocking(&mut self.data) {
                            Some(job) => State::Blocking(job),
                            None => State::Done,
                        };
                        self.poll_item(cx)
                    }
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
        // A blocking job is dropped with the state (see BlockingJob's Drop).
        let State::Submitted { worker, key } = self.state else {
            return;
        };
        if let Some(data) = self.data.take() {
            park(worker, key, Box::new(Parked(data)));
        }
    }
}
