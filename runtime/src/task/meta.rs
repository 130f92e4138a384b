//! What the runtime keeps in each task's header besides the future.

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::executor::shared::Shared;

/// A task's identity: a process-unique number, an optional name, where it
/// was spawned, and whether it was aborted.
#[derive(Debug)]
pub(crate) struct TaskMeta {
    pub(crate) id: u64,
    pub(crate) name: Option<Box<str>>,
    pub(crate) location: &'static Location<'static>,
    aborted: AtomicBool,
    /// The worker the task runs on (tasks of the blocking pool: none). Kept
    /// here rather than captured by the schedule function, which is then
    /// zero-sized: async-task wakes such a task by value with one atomic
    /// operation instead of a wake by reference plus a drop (two).
    pub(crate) home: Option<Arc<Shared>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl TaskMeta {
    pub(crate) fn new(name: Option<Box<str>>, location: &'static Location<'static>) -> Self {
        TaskMeta {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name,
            location,
            aborted: AtomicBool::new(false),
            home: None,
        }
    }

    /// The same metadata for a task that runs on worker `home`.
    pub(crate) fn homed(mut self, home: Arc<Shared>) -> Self {
        self.home = Some(home);
        self
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
