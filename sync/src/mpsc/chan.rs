//! The queue both mpsc flavours share: a `VecDeque` behind a `std` mutex,
//! the receiver's waker, and the sender count.
//!
//! An uncontended push or pop is one uncontended mutex lock (a CAS) and, once
//! the deque has grown to its working size, no allocation. Capacity (for the
//! bounded flavour) is a [`Semaphore`](crate::Semaphore) outside this type.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use crate::loom::{lock, AtomicUsize, Mutex, Ordering};
use crate::notify::Notify;
use crate::wait_list::set_waker;

use super::error::TryRecvError;

pub(super) struct Chan<T> {
    state: Mutex<State<T>>,
    senders: AtomicUsize,
    /// Woken when the receiver closes or is dropped (`Sender::closed`).
    pub(super) rx_closed_notify: Notify,
}

struct State<T> {
    queue: VecDeque<T>,
    rx_waker: Option<Waker>,
    /// Every sender is gone.
    tx_closed: bool,
    /// The receiver called `close`.
    rx_closed: bool,
    /// The receiver was dropped: pushes are refused.
    rx_dropped: bool,
}

impl<T> Chan<T> {
    pub(super) fn new(initial_capacity: usize) -> Self {
        Chan {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(initial_capacity),
                rx_waker: None,
                tx_closed: false,
                rx_closed: false,
                rx_dropped: false,
            }),
            senders: AtomicUsize::new(1),
            rx_closed_notify: Notify::new(),
        }
    }

    /// Enqueues `value` unless the receiver is dropped (or, with
    /// `refuse_if_closed`, closed); wakes the receiver.
    pub(super) fn push(&self, value: T, refuse_if_closed: bool) -> Result<(), T> {
        let waker = {
            let mut s = lock(&self.state);
            if s.rx_dropped || (refuse_if_closed && s.rx_closed) {
                return Err(value);
            }
            s.queue.push_back(value);
            s.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    pub(super) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut s = lock(&self.state);
        if let Some(v) = s.queue.pop_front() {
            return Poll::Ready(Some(v));
        }
        if s.tx_closed || s.rx_closed {
            return Poll::Ready(None);
        }
        set_waker(&mut s.rx_waker, cx.waker());
        Poll::Pending
    }

    pub(super) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut s = lock(&self.state);
        match s.queue.pop_front() {
            Some(v) => Ok(v),
            None if s.tx_closed || s.rx_closed => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    pub(super) fn len(&self) -> usize {
        lock(&self.state).queue.len()
    }

    pub(super) fn is_rx_closed(&self) -> bool {
        let s = lock(&self.state);
        s.rx_closed || s.rx_dropped
    }

    /// The receiver's `close`: no new sends, buffered values stay.
    pub(super) fn close_rx(&self) {
        lock(&self.state).rx_closed = true;
        self.rx_closed_notify.notify_waiters();
    }

    /// The receiver's drop: refuse pushes and drop what is buffered
    /// (outside the lock: values' destructors are user code). Returns how
    /// many values were dropped.
    pub(super) fn drop_rx(&self) -> usize {
        let queue = {
            let mut s = lock(&self.state);
            s.rx_closed = true;
            s.rx_dropped = true;
            std::mem::take(&mut s.queue)
        };
        self.rx_closed_notify.notify_waiters();
        let n = queue.len();
        drop(queue);
        n
    }

    pub(super) fn add_sender(&self) {
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops one sender; the last one wakes the receiver.
    pub(super) fn drop_sender(&self) {
        if self.senders.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let waker = {
            let mut s = lock(&self.state);
            s.tx_closed = true;
            s.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    pub(super) fn sender_count(&self) -> usize {
        self.senders.load(Ordering::Relaxed)
    }
}
