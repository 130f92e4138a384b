//! Streaming multishot ops: one SQE whose CQEs the driver hands to a
//! [`Sink`] as it reaps them, instead of queueing them in its slab for a
//! future to collect.
//!
//! The owner (a receiver's shared state, say) submits the op with
//! [`submit`], gets back where it lives (worker and slab key), and finds
//! each completion already delivered into its own state; nothing polls
//! the driver on the way. The driver owns the op's data from the
//! submission until the last CQE. The key stays the owner's until it calls
//! [`release`]: after the op ended (the sink saw a CQE without
//! IORING_CQE_F_MORE) that frees the slot; before, it cancels the op,
//! whose later CQEs go to the data's [`OpCode::orphan_completed`] (a
//! buffer-ring receive gives their buffers back). Because the owner frees
//! the key, a release can never reach an unrelated op that reused it.

use std::io;
use std::sync::Arc;

use super::{no_runtime, park, Parked};
use crate::driver::{DropLater, Sink};
use crate::executor::context;
use crate::op::OpCode;

/// Submits `data` as a streaming multishot op on this thread's ring; its
/// CQEs go to `sink`. Returns the worker and slab key to [`release`].
///
/// # Errors
///
/// `Unsupported` without a ring taking multishot ops of this opcode here
/// (the thread-pool driver, multishot switched off or missing); the
/// ring's error if the submission failed; an error outside a runtime.
pub(crate) fn submit<T: OpCode>(mut data: T, sink: Arc<dyn Sink>) -> io::Result<(u64, usize)> {
    context::with_current(|w| {
        let Some(ring) = w.ring() else {
            return Err(unsupported());
        };
        // Built before the driver is borrowed: it may register the fd.
        let sqe = data.sqe();
        let (res, finished) = {
            let mut driver = ring.borrow_mut();
            let features = driver.features();
            if !features.multishot || !features.supports(sqe.get_opcode() as u8) {
                return Err(unsupported());
            }
            // SAFETY: the OpCode contract makes every pointer in the SQE
            // point into heap memory owned by `data`, which the driver
            // holds in the op's slot until its last CQE.
            let res = unsafe { driver.submit_streaming(sqe, sink, Box::new(Parked(data))) };
            (res, driver.take_finished_orphans())
        };
        // Outside the borrow: a failed submission leaves sink and data here.
        drop(finished);
        res.map(|key| (w.id, key))
    })
    .unwrap_or_else(|| Err(no_runtime()))
}

/// Gives back slot `key` of a streaming op on worker `worker`: frees it if
/// the op ended, else cancels the op (see the module docs). From any
/// thread; once per successful [`submit`].
pub(crate) fn release(worker: u64, key: usize) {
    park(worker, key, Box::new(DropLater(())));
}

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "ringbolt: a streaming multishot op needs an io_uring driver with multishot ops",
    )
}
