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
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use super::{Completion, OpCode};
use crate::executor::context;
use crate::task::{JoinError, JoinHandle};

/// A running job of the blocking path.
pub(crate) struct BlockingJob<T: OpCode> {
    handle: JoinHandle<Done<T>>,
    /// The op's data until the job takes it: what a job that never ran
    /// gives back, with the pool's error.
    data: Arc<Mutex<Option<T>>>,
}

impl<T: OpCode> BlockingJob<T> {
    /// Starts `data.run_blocking()` on this worker's blocking pool.
    pub(crate) fn start(worker: &crate::executor::Worker, data: T) -> Self {
        worker.metrics.counters.ops_blocking.inc();
        let meta = crate::task::TaskMeta::new(None, std::panic::Location::caller());
        let data = Arc::new(Mutex::new(Some(data)));
        let slot = data.clone();
        let handle = worker.blocking.spawn_op(
            move || {
                let data = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                let mut done = Done { data, result: None };
                if let Some(data) = done.data.as_mut() {
                    done.result = Some(data.run_blocking());
                }
                done
            },
            meta,
        );
        BlockingJob { handle, data }
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
            Poll::Ready(Err(e)) => Poll::Ready(self.lost(e)),
        }
    }

    /// A job that ended without a result: its closure panicked (a bug in
    /// an op's `run_blocking`, passed on), or it never ran because the
    /// pool shut down or could not start a thread. Then the op fails with
    /// the pool's error and its data comes back untouched.
    fn lost(&self, e: JoinError) -> Completion<T> {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        let data = self.data.lock().unwrap_or_else(|e| e.into_inner()).take();
        match data {
            Some(data) => Completion {
                // On the job's worker (the only one that polls it).
                result: Err(context::with_current(|w| w.blocking.unavailable())
                    .unwrap_or_else(|| io::Error::other("ringbolt: the runtime is gone"))),
                flags: 0,
                data,
            },
            None => unreachable!("a job that never ran still holds the op's data"),
        }
    }
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
