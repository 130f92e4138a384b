//! `asyncio.Event`: a flag tasks can wait on.

use std::fmt;

use crate::loom::{AtomicBool, Ordering};
use crate::notify::Notify;

/// A flag that tasks wait to be set (Python's `asyncio.Event`).
///
/// [`set`](Event::set) wakes every waiter; while the flag is set,
/// [`wait`](Event::wait) returns at once; [`clear`](Event::clear) resets it.
/// A task woken by `set` returns even if `clear` ran before it was polled.
///
/// # Cancel safety
///
/// `wait` is cancel-safe: it consumes nothing.
///
/// # Examples
///
/// ```
/// use ringbolt_sync::Event;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let e = Event::new();
/// assert!(!e.is_set());
/// e.set();
/// e.wait().await;
/// e.clear();
/// assert!(!e.is_set());
/// # });
/// ```
pub struct Event {
    flag: AtomicBool,
    notify: Notify,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set())
            .finish()
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl Event {
    /// A new, unset event.
    pub fn new() -> Self {
        Event {
            flag: AtomicBool::new(false),
            notify: Notify::new(),
        }
    }

    /// Sets the flag and wakes every waiting task.
    pub fn set(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Resets the flag; later `wait`s block until the next `set`.
    pub fn clear(&self) {
        self.flag.store(false, Ordering::SeqCst);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Waits until the flag is set (returns at once if it is).
    ///
    /// Cancel-safe.
    pub async fn wait(&self) {
        // Created before the check: a `set` after the check completes it.
        let notified = self.notify.notified();
        if self.is_set() {
            return;
        }
        // Only `set` calls `notify_waiters`, so waking means it was set.
        notified.await;
    }
}
