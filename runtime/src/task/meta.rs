//! What the runtime keeps in each task's header besides the future.

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A task's identity: a process-unique number, an optional name, where it
/// was spawned, and whether it was aborted.
#[derive(Debug)]
pub(crate) struct TaskMeta {
    pub(crate) id: u64,
    pub(crate) name: Option<Box<str>>,
    pub(crate) location: &'static Location<'static>,
    aborted: AtomicBool,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl TaskMeta {
    pub(crate) fn new(name: Option<Box<str>>, location: &'static Location<'static>) -> Self {
        TaskMeta {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name,
            location,
            aborted: AtomicBool::new(false),
        }
    }

    /// Asks for the task to be cancelled at its next scheduling.
    pub(crate) fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
    }

    /// Whether `abort` was called.
    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }
}
