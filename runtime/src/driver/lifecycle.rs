//! The state of one in-flight operation, as stored in the driver's slab.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Waker;

use crate::op::shells::Shells;

/// Data of an operation whose future was dropped before its completion
/// arrived. It is kept alive (and so is every buffer the kernel may still
/// write) until the CQE is reaped; then [`Orphan::complete`] releases
/// whatever the late result carries (for example a file descriptor that an
/// `openat` or `accept` returned after nobody wanted it any more).
pub(crate) trait Orphan: Send {
    /// Called once with the late completion; the data is dropped afterwards.
    fn complete(&mut self, res: i32, flags: u32);

    /// Releases the data once the driver is done with it, outside the
    /// driver borrow: by default a drop. A detached op keeps its emptied
    /// box in `shells` for the next submission of its type.
    fn finish(self: Box<Self>, shells: &RefCell<Shells>) {
        let _ = shells;
        drop(self);
    }
}

/// Takes the CQEs of a streaming multishot op as the driver reaps them
/// (see [`Lifecycle::Streaming`]): the op's owner finds them already in
/// its own queue, with no poll of the driver in between.
pub(crate) trait Sink: Send + Sync {
    /// One CQE of the op. Runs inside the reap with the driver borrowed,
    /// on the ring's thread: it must not use the driver (no op, no
    /// context lookup that borrows it) and must not wake anything itself;
    /// wakers to wake go into `wakers`, which the loop wakes once the
    /// borrow is released.
    fn deliver(&self, res: i32, flags: u32, wakers: &mut Vec<Waker>);
}

/// Where an operation is in its life. The SQE's `user_data` is the slab key
/// of its `Lifecycle`.
pub(crate) enum Lifecycle {
    /// Submitted; the future that owns the data waits with this waker.
    Waiting(Waker),
    /// The CQE arrived; the future has not collected it yet.
    Completed { res: i32, flags: u32 },
    /// The future was dropped; the data lives here until the last CQE
    /// (the one without IORING_CQE_F_MORE) arrives.
    Orphaned(Box<dyn Orphan>),
    /// A multishot op (accept, recv with provided buffers): it posts CQEs
    /// flagged IORING_CQE_F_MORE until its last one. Results queue here until
    /// the stream that owns the op collects them.
    Multishot {
        waker: Option<Waker>,
        results: VecDeque<(i32, u32)>,
        /// The last CQE (without F_MORE) has arrived.
        done: bool,
    },
    /// A streaming multishot op: each CQE goes to `sink` as it is reaped.
    /// The driver owns the op's data here from the submission on. After
    /// the last CQE the slot becomes `Completed` (sink and data are
    /// released) and stays, so the key is not reused, until the owner
    /// releases it with `Driver::orphan`; released while still armed, it
    /// becomes `Orphaned` with its data and the op is cancelled.
    Streaming {
        sink: Arc<dyn Sink>,
        data: Box<dyn Orphan>,
    },
}

/// A value the driver drops outside its borrow, like an orphan's data
/// (a sink released with its op: dropping it may free its queue).
pub(crate) struct DropLater<T: Send>(pub(crate) T);

impl<T: Send> Orphan for DropLater<T> {
    fn complete(&mut self, _res: i32, _flags: u32) {}
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lifecycle::Waiting(_) => f.write_str("Waiting"),
            Lifecycle::Completed { res, flags } => {
                write!(f, "Completed {{ res: {res}, flags: {flags:#x} }}")
            }
            Lifecycle::Orphaned(_) => f.write_str("Orphaned"),
            Lifecycle::Multishot { results, done, .. } => {
                write!(f, "Multishot {{ queued: {}, done: {done} }}", results.len())
            }
            Lifecycle::Streaming { .. } => f.write_str("Streaming"),
        }
    }
}
