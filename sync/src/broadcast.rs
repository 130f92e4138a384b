//! A multi-producer, multi-consumer channel where every receiver sees every
//! value, and slow receivers learn how many they missed.
//!
//! The buffer is a ring of `capacity` slots behind a mutex; each receiver
//! keeps its own position. A receiver that falls more than `capacity`
//! values behind gets [`RecvError::Lagged`]`(n)` and resumes at the oldest
//! value still kept. A value stays in its slot until overwritten (or the
//! channel is dropped), so `T`s are cloned out to each receiver.
//!
//! # Examples
//!
//! ```
//! use ringbolt_sync::broadcast::{self, error::RecvError};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (tx, mut a) = broadcast::channel(2);
//! let mut b = tx.subscribe();
//! tx.send(1).unwrap();
//! assert_eq!(a.recv().await, Ok(1));
//! tx.send(2).unwrap();
//! tx.send(3).unwrap();
//! assert_eq!(b.recv().await, Err(RecvError::Lagged(1)));
//! assert_eq!(b.recv().await, Ok(2));
//! # });
//! ```

use std::fmt;
use std::sync::Arc;

use crate::loom::{lock, Mutex};
use crate::notify::Notify;

/// Errors of the broadcast channel.
pub mod error {
    use std::fmt;

    /// No receiver exists; the value comes back.
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

    /// Why `recv` failed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum RecvError {
        /// Every sender is gone and every kept value was received.
        Closed,
        /// The receiver fell behind and missed this many values; the next
        /// `recv` returns the oldest value still kept.
        Lagged(u64),
    }

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                RecvError::Closed => f.write_str("channel closed"),
                RecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
            }
        }
    }

    impl std::error::Error for RecvError {}

    /// Why `try_recv` failed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum TryRecvError {
        /// Nothing new right now.
        Empty,
        /// Every sender is gone and every kept value was received.
        Closed,
        /// The receiver missed this many values (see [`RecvError::Lagged`]).
        Lagged(u64),
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
                TryRecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

use error::{RecvError, SendError, TryRecvError};

struct Shared<T> {
    state: Mutex<State<T>>,
    notify: Notify,
}

struct State<T> {
    slots: Vec<Option<T>>,
    /// Position of the next value to be sent.
    tail: u64,
    senders: usize,
    receivers: usize,
}

/// Makes a broadcast channel keeping the last `capacity` values.
///
/// # Panics
///
/// If `capacity` is 0.
#[track_caller]
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "broadcast channel capacity cannot be zero");
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            slots: (0..capacity).map(|_| None).collect(),
            tail: 0,
            senders: 1,
            receivers: 1,
        }),
        notify: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

/// Sends values to every receiver; clone it for more producers.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Receives every value sent after it subscribed.
///
/// # Cancel safety
///
/// `recv` is cancel-safe: the position advances only in the poll that
/// returns a value.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    next: u64,
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        lock(&self.shared.state).senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let last = {
            let mut s = lock(&self.shared.state);
            s.senders -= 1;
            s.senders == 0
        };
        if last {
            self.shared.notify.notify_waiters();
        }
    }
}

impl<T> Sender<T> {
    /// Sends `value` to every receiver; returns how many there are.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if there is no receiver.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let (old, n) = {
            let mut s = lock(&self.shared.state);
            if s.receivers == 0 {
                return Err(SendError(value));
            }
            let cap = s.slots.len() as u64;
            let idx = (s.tail % cap) as usize;
            let old = s.slots[idx].replace(value);
            s.tail += 1;
            (old, s.receivers)
        };
        // The overwritten value's destructor runs outside the lock.
        drop(old);
        self.shared.notify.notify_waiters();
        Ok(n)
    }

    /// A receiver that sees values sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        let mut s = lock(&self.shared.state);
        s.receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            next: s.tail,
        }
    }

    /// How many receivers exist.
    pub fn receiver_count(&self) -> usize {
        lock(&self.shared.state).receivers
    }

    /// How many values the channel keeps right now (at most `capacity`).
    pub fn len(&self) -> usize {
        let s = lock(&self.shared.state);
        s.tail.min(s.slots.len() as u64) as usize
    }

    /// Whether nothing was sent yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Clone> Receiver<T> {
    /// Receives the next value.
    ///
    /// Cancel-safe.
    ///
    /// # Errors
    ///
    /// [`RecvError::Lagged`] if values were missed (then call again),
    /// [`RecvError::Closed`] when every sender is gone and all is received.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        loop {
            // Created before the check: a send after it completes it.
            let notified = self.shared.notify.notified();
            match try_recv(&self.shared, &mut self.next) {
                Ok(v) => return Ok(v),
                Err(TryRecvError::Lagged(n)) => return Err(RecvError::Lagged(n)),
                Err(TryRecvError::Closed) => return Err(RecvError::Closed),
                Err(TryRecvError::Empty) => notified.await,
            }
        }
    }

    /// Takes the next value if there is one.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], [`TryRecvError::Lagged`] or
    /// [`TryRecvError::Closed`].
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        try_recv(&self.shared, &mut self.next)
    }
}

fn try_recv<T: Clone>(shared: &Shared<T>, next: &mut u64) -> Result<T, TryRecvError> {
    let s = lock(&shared.state);
    let cap = s.slots.len() as u64;
    let oldest = s.tail.saturating_sub(cap);
    if *next < oldest {
        let missed = oldest - *next;
        *next = oldest;
        return Err(TryRecvError::Lagged(missed));
    }
    if *next == s.tail {
        return Err(if s.senders == 0 {
            TryRecvError::Closed
        } else {
            TryRecvError::Empty
        });
    }
    let idx = (*next % cap) as usize;
    match &s.slots[idx] {
        Some(v) => {
            let v = v.clone();
            *next += 1;
            Ok(v)
        }
        None => unreachable!("broadcast slot below tail is always filled"),
    }
}

impl<T> Receiver<T> {
    /// A new receiver that sees values sent from now on.
    pub fn resubscribe(&self) -> Self {
        let mut s = lock(&self.shared.state);
        s.receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            next: s.tail,
        }
    }

    /// Values sent that this receiver has not received yet (at most
    /// `capacity` of them are still kept).
    pub fn len(&self) -> usize {
        let s = lock(&self.shared.state);
        (s.tail - self.next) as usize
    }

    /// Whether nothing new is there.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        lock(&self.shared.state).receivers -= 1;
    }
}
