//! The bounded channel: the shared queue plus a fair [`Semaphore`] of
//! `capacity` slots. A send takes a slot, a receive gives it back, so full
//! channels make senders wait in FIFO order.

use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::chan::Chan;
use super::error::{SendError, TryRecvError, TrySendError};
use crate::semaphore::{Semaphore, TryAcquireError};

struct Shared<T> {
    chan: Chan<T>,
    sem: Semaphore,
    cap: usize,
}

/// Makes a bounded channel holding at most `capacity` values.
///
/// # Panics
///
/// If `capacity` is 0 or above [`Semaphore::MAX_PERMITS`].
#[track_caller]
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "mpsc bounded channel requires buffer > 0");
    let shared = Arc::new(Shared {
        chan: Chan::new(capacity.min(64)),
        sem: Semaphore::new(capacity),
        cap: capacity,
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// Sends values to the bounded channel; clone it for more producers.
///
/// # Cancel safety
///
/// `reserve` and `closed` are cancel-safe (a dropped `reserve` takes no
/// slot and passes on one it was granted). `send` is cancel-safe in that a
/// dropped `send` future has not sent its value, but the value is dropped
/// with it; use `reserve` then [`Permit::send`] to keep it.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Receives values from the bounded channel.
///
/// # Cancel safety
///
/// `recv` is cancel-safe: a value is taken out of the channel only by the
/// poll that returns it.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// A reserved slot: [`send`](Permit::send) cannot fail or wait. Dropping it
/// gives the slot back.
pub struct Permit<'a, T> {
    shared: Option<&'a Shared<T>>,
}

/// A reserved slot that owns its sender (from [`Sender::reserve_owned`]).
pub struct OwnedPermit<T> {
    sender: Option<Sender<T>>,
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .finish()
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit").finish_non_exhaustive()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.chan.add_sender();
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.chan.drop_sender();
    }
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if the receiver is closed or dropped.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.sem.acquire_raw(1).await.is_err() {
            return Err(SendError(value));
        }
        self.push_reserved(value).map_err(SendError)
    }

    /// Sends `value` if there is room right now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if the channel is full,
    /// [`TrySendError::Closed`] if the receiver is closed or dropped.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.shared.sem.try_acquire_raw(1) {
            Ok(()) => self.push_reserved(value).map_err(TrySendError::Closed),
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(value)),
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(value)),
        }
    }

    fn push_reserved(&self, value: T) -> Result<(), T> {
        self.shared.chan.push(value, false).inspect_err(|_| {
            self.shared.sem.release(1);
        })
    }

    /// Waits for a free slot and reserves it.
    ///
    /// # Errors
    ///
    /// [`SendError`] if the receiver is closed or dropped.
    pub async fn reserve(&self) -> Result<Permit<'_, T>, SendError<()>> {
        match self.shared.sem.acquire_raw(1).await {
            Ok(()) => Ok(Permit {
                shared: Some(&self.shared),
            }),
            Err(_) => Err(SendError(())),
        }
    }

    /// Reserves a slot if one is free right now.
    ///
    /// # Errors
    ///
    /// As [`try_send`](Self::try_send), without a value.
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        match self.shared.sem.try_acquire_raw(1) {
            Ok(()) => Ok(Permit {
                shared: Some(&self.shared),
            }),
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(())),
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(())),
        }
    }

    /// [`reserve`](Self::reserve) for an owned sender.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the sender if the receiver is closed or dropped.
    pub async fn reserve_owned(self) -> Result<OwnedPermit<T>, SendError<Self>> {
        match self.shared.sem.acquire_raw(1).await {
            Ok(()) => Ok(OwnedPermit { sender: Some(self) }),
            Err(_) => Err(SendError(self)),
        }
    }

    /// Waits until the receiver is closed or dropped. Cancel-safe.
    pub async fn closed(&self) {
        loop {
            let notified = self.shared.chan.rx_closed_notify.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Whether the receiver is closed or dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.chan.is_rx_closed()
    }

    /// Free slots right now.
    pub fn capacity(&self) -> usize {
        self.shared.sem.available_permits()
    }

    /// The capacity the channel was made with.
    pub fn max_capacity(&self) -> usize {
        self.shared.cap
    }

    /// Whether both senders feed the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// How many senders exist.
    pub fn strong_count(&self) -> usize {
        self.shared.chan.sender_count()
    }
}

impl<T> Permit<'_, T> {
    /// Sends `value` into the reserved slot. Never waits; if the receiver is
    /// gone the value is dropped.
    pub fn send(mut self, value: T) {
        if let Some(shared) = self.shared.take() {
            if shared.chan.push(value, false).is_err() {
                shared.sem.release(1);
            }
        }
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared {
            shared.sem.release(1);
        }
    }
}

impl<T> OwnedPermit<T> {
    /// Sends `value` into the reserved slot and gives the sender back.
    pub fn send(mut self, value: T) -> Sender<T> {
        let sender = match self.sender.take() {
            Some(s) => s,
            None => unreachable!("an OwnedPermit holds its sender until used"),
        };
        if sender.shared.chan.push(value, false).is_err() {
            sender.shared.sem.release(1);
        }
        sender
    }

    /// Gives the slot back and returns the sender.
    pub fn release(mut self) -> Sender<T> {
        let sender = match self.sender.take() {
            Some(s) => s,
            None => unreachable!("an OwnedPermit holds its sender until used"),
        };
        sender.shared.sem.release(1);
        sender
    }
}

impl<T> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        if let Some(s) = &self.sender {
            s.shared.sem.release(1);
        }
    }
}

impl<T> Receiver<T> {
    /// Receives the next value; `None` once every sender is gone (or the
    /// receiver closed) and the buffer is empty.
    ///
    /// Cancel-safe.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next value (see [`recv`](Self::recv)).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let r = self.shared.chan.poll_recv(cx);
        if let Poll::Ready(Some(_)) = r {
            self.shared.sem.release(1);
        }
        r
    }

    /// Takes the next value if one is buffered.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is buffered,
    /// [`TryRecvError::Disconnected`] if nothing is buffered and no sender is
    /// left (or the receiver closed).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let v = self.shared.chan.try_recv()?;
        self.shared.sem.release(1);
        Ok(v)
    }

    /// Closes the channel for sending: waiting and later sends fail, values
    /// already buffered can still be received. After `close`, `recv`
    /// returns `None` once the buffer is empty (values sent later through
    /// permits reserved before the close stay reachable with `try_recv`).
    pub fn close(&mut self) {
        self.shared.sem.close();
        self.shared.chan.close_rx();
    }

    /// Whether the channel is closed (receiver closed, or no sender left).
    pub fn is_closed(&self) -> bool {
        self.shared.chan.is_rx_closed() || self.shared.chan.sender_count() == 0
    }

    /// Values buffered right now.
    pub fn len(&self) -> usize {
        self.shared.chan.len()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free slots right now.
    pub fn capacity(&self) -> usize {
        self.shared.sem.available_permits()
    }

    /// The capacity the channel was made with.
    pub fn max_capacity(&self) -> usize {
        self.shared.cap
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.sem.close();
        self.shared.chan.drop_rx();
    }
}
