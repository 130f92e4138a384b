//! The blocking-pool path of an op: its synchronous equivalent run on a
//! pool thread, for the thread-pool driver and for opcodes the kernel lacks.
//!
//! The op's data moves into the job and comes back with the result. If the
//! op's future is dropped first, the job is aborted if it has not started;
//! otherwise it finishes and its [`Done`] — dropped uncollected — hands the
//! result to [`OpCode::orphan_completed`], so a descriptor that a late
//! `openat` or `accept` returned is closed, exactly as on the ring.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Completion, OpCode};
use crate::task::{JoinError, JoinHandle};

/// A running job of the blocking path.
pub(crate) struct BlockingJob<T: OpCode> {
    handle: JoinHandle<Done<T>>,
}

impl<T: OpCode> BlockingJob<T> {
    /// Starts `data.run_blocking()` on this worker's blocking pool.
    pub(crate) fn start(worker: &crate::executor::Worker, data: T) -> Self {
        worker.metrics.counters.ops_blocking.inc();
        let meta = crate::task::TaskMeta::new(None, std::panic::Location::caller());
        let handle = worker.blocking.spawn(
            move || {
                let mut data = data;
                let result = data.run_blocking();
                Done {
                    data: Some(data),
                    result: Some(result),
                }
            },
            meta,
        );
        BlockingJob { handle }
    }

    /// Polls the job: its completion once done.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Completion<T>> {
        match std::future::Future::poll(Pin::new(&mut self.handle), cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(mut done)) => match (done.data.take(), done.result.take()) {
                (Some(data), Some(result)) => Poll::Ready(Completion {
                    result,
                    flags: 0,
                    data,
                }),
                _ => unreachable!("a blocking op's result is taken once"),
            },
            Poll::Ready(Err(e)) => Poll::Ready(lost(e)),
        }
    }
}

/// A job that ended without a result: its closure panicked (a bug in an
/// op's `run_blocking`, passed on) or the pool shut down before it started
/// (only while the runtime itself is going away).
fn lost<T>(e: JoinError) -> Completion<T> {
    if e.is_panic() {
        std::panic::resume_unwind(e.into_panic());
    }
    panic!(
        "ringbolt: the blocking pool shut down before an I/O operation ran; \
         finish I/O before dropping the runtime"
    )
}

impl<T: OpCode> Drop for BlockingJob<T> {
    fn drop(&mut self) {
        // Cancels a job that has not started; a running one finishes and
        // its uncollected `Done` releases the result.
        self.handle.abort();
    }
}

impl<T: OpCode> std::fmt::Debug for BlockingJob<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingJob")
            .field("finished", &self.handle.is_finished())
            .finish()
    }
}

/// An op that ran on the pool and its result. Dropped without being
/// collected, it hands the result to `orphan_completed`.
struct Done<T: OpCode> {
    data: Option<T>,
    result: Option<io::Result<u32>>,
}

impl<T: OpCode> Drop for Done<T> {
    fn drop(&mut self) {
        if let (Some(data), Some(result)) = (self.data.as_mut(), self.result.take()) {
            let res = match result {
                Ok(n) => n as i32,
                Err(e) => -e.raw_os_error().unwrap_or(libc::EIO),
            };
            data.orphan_completed(res, 0);
        }
    }
}
