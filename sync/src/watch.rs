//! A single-value channel: receivers see the latest value and wait for
//! changes.
//!
//! # Examples
//!
//! ```
//! use ringbolt_sync::watch;
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (tx, mut rx) = watch::channel("a");
//! tx.send("b").unwrap();
//! rx.changed().await.unwrap();
//! assert_eq!(*rx.borrow_and_update(), "b");
//! drop(tx);
//! assert!(rx.changed().await.is_err());
//! # });
//! ```

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::loom::{read, write, AtomicUsize, Ordering, RwLock, RwLockReadGuard};
use crate::notify::Notify;

/// Errors of the watch channel.
pub mod error {
    use std::fmt;

    /// Every receiver is gone; the value comes back.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub struct SendError<T>(pub T);

    impl<T> fmt::Debug for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SendError").finish_non_exhaustive()
        }
    }

    impl<T> fmt::Display for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl<T> std::error::Error for SendError<T> {}

    /// The sender is gone (and every value was seen).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RecvError(pub(crate) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl std::error::Error for RecvError {}
}

use error::{RecvError, SendError};

/// Low bit of `version`: the sender is gone. Versions step by 2.
const CLOSED: usize = 1;

struct Shared<T> {
    value: RwLock<T>,
    version: AtomicUsize,
    receivers: AtomicUsize,
    changed: Notify,
    rx_gone: Notify,
}

/// Makes a watch channel holding `init`.
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        value: RwLock::new(init),
        version: AtomicUsize::new(0),
        receivers: AtomicUsize::new(1),
        changed: Notify::new(),
        rx_gone: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

/// Publishes new values.
///
/// # Cancel safety
///
/// `closed().await` is cancel-safe.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Reads the latest value and waits for changes; clone for more readers.
///
/// # Cancel safety
///
/// `changed().await` is cancel-safe: the version it has seen is updated
/// only by the poll that returns.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    seen: usize,
}

/// A read borrow of the value; holds a read lock, so keep it short.
pub struct Ref<'a, T> {
    guard: RwLockReadGuard<'a, T>,
    has_changed: bool,
}

impl<T> Ref<'_, T> {
    /// Whether this value was new to the receiver that borrowed it.
    pub fn has_changed(&self) -> bool {
        self.has_changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

impl<T> Sender<T> {
    /// Replaces the value and notifies receivers.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if every receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.load(Ordering::SeqCst) == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Replaces the value even with no receivers, returning the old one.
    pub fn send_replace(&self, value: T) -> T {
        let old = std::mem::replace(&mut *write(&self.shared.value), value);
        self.bump();
        old
    }

    /// Modifies the value in place and notifies receivers.
    pub fn send_modify(&self, f: impl FnOnce(&mut T)) {
        self.send_if_modified(|v| {
            f(v);
            true
        });
    }

    /// Modifies the value in place; notifies only if `f` returns `true`.
    pub fn send_if_modified(&self, f: impl FnOnce(&mut T) -> bool) -> bool {
        let modified = f(&mut write(&self.shared.value));
        if modified {
            self.bump();
        }
        modified
    }

    fn bump(&self) {
        self.shared.version.fetch_add(2, Ordering::SeqCst);
        self.shared.changed.notify_waiters();
    }

    /// Borrows the current value.
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            guard: read(&self.shared.value),
            has_changed: false,
        }
    }

    /// A new receiver that has seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.fetch_add(1, Ordering::SeqCst);
        Receiver {
            shared: self.shared.clone(),
            seen: self.shared.version.load(Ordering::SeqCst) & !CLOSED,
        }
    }

    /// How many receivers exist.
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.load(Ordering::SeqCst)
    }

    /// Whether every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }

    /// Waits until every receiver is gone. Cancel-safe.
    pub async fn closed(&self) {
        loop {
            let notified = self.shared.rx_gone.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.version.fetch_or(CLOSED, Ordering::SeqCst);
        self.shared.changed.notify_waiters();
    }
}

impl<T> Receiver<T> {
    /// Borrows the current value without marking it seen.
    pub fn borrow(&self) -> Ref<'_, T> {
        let guard = read(&self.shared.value);
        let version = self.shared.version.load(Ordering::SeqCst) & !CLOSED;
        Ref {
            guard,
            has_changed: version != self.seen,
        }
    }

    /// Borrows the current value and marks it seen.
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let guard = read(&self.shared.value);
        let version = self.shared.version.load(Ordering::SeqCst) & !CLOSED;
        let has_changed = version != self.seen;
        self.seen = version;
        Ref { guard, has_changed }
    }

    /// Whether a value this receiver has not seen was sent.
    ///
    /// # Errors
    ///
    /// [`RecvError`] if the sender is gone.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        let v = self.shared.version.load(Ordering::SeqCst);
        if v & CLOSED != 0 {
            return Err(RecvError(()));
        }
        Ok(v != self.seen)
    }

    /// Marks the current value seen.
    pub fn mark_unchanged(&mut self) {
        self.seen = self.shared.version.load(Ordering::SeqCst) & !CLOSED;
    }

    /// Waits for a value this receiver has not seen, and marks it seen.
    ///
    /// Cancel-safe.
    ///
    /// # Errors
    ///
    /// [`RecvError`] if the sender is gone and every value was seen.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        loop {
            // Created before the check: a send after it completes it.
            let notified = self.shared.changed.notified();
            let v = self.shared.version.load(Ordering::SeqCst);
            if v & !CLOSED != self.seen {
                self.seen = v & !CLOSED;
                return Ok(());
            }
            if v & CLOSED != 0 {
                return Err(RecvError(()));
            }
            notified.await;
        }
    }

    /// Whether both receivers watch the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::SeqCst);
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.shared.receivers.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.shared.rx_gone.notify_waiters();
        }
    }
}
