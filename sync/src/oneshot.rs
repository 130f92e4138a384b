//! A channel for one value.
//!
//! # Examples
//!
//! ```
//! use ringbolt_sync::oneshot;
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (tx, rx) = oneshot::channel();
//! tokio::spawn(async move { tx.send(3).unwrap() });
//! assert_eq!(rx.await, Ok(3));
//! # });
//! ```

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::loom::{lock, Mutex};
use crate::wait_list::set_waker;

/// Errors of the oneshot channel.
pub mod error {
    use std::fmt;

    /// The sender was dropped without sending.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RecvError(pub(crate) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl std::error::Error for RecvError {}

    /// Why [`Receiver::try_recv`](super::Receiver::try_recv) failed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum TryRecvError {
        /// No value yet.
        Empty,
        /// The sender was dropped without sending, or the value was taken.
        Closed,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

use error::{RecvError, TryRecvError};

struct Inner<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    value: Option<T>,
    /// The sender sent or was dropped.
    tx_done: bool,
    /// The receiver closed or was dropped.
    rx_closed: bool,
    rx_waker: Option<Waker>,
    tx_waker: Option<Waker>,
}

/// Makes a oneshot channel.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: Mutex::new(State {
            value: None,
            tx_done: false,
            rx_closed: false,
            rx_waker: None,
            tx_waker: None,
        }),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner: Some(inner) },
    )
}

/// Sends the single value.
///
/// # Cancel safety
///
/// `closed().await` is cancel-safe.
pub struct Sender<T> {
    inner: Option<Arc<Inner<T>>>,
}

/// Receives the single value; a `Future` of `Result<T, RecvError>`.
///
/// # Cancel safety
///
/// Awaiting `&mut Receiver` is cancel-safe: the value stays in the channel
/// until a poll returns it.
pub struct Receiver<T> {
    inner: Option<Arc<Inner<T>>>,
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

impl<T> Sender<T> {
    /// Sends `value`, waking the receiver.
    ///
    /// # Errors
    ///
    /// Gives `value` back if the receiver was dropped or closed.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let Some(inner) = self.inner.take() else {
            return Err(value);
        };
        let waker = {
            let mut s = lock(&inner.state);
            if s.rx_closed {
                s.tx_done = true;
                return Err(value);
            }
            s.value = Some(value);
            s.tx_done = true;
            s.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Whether the receiver was dropped or closed.
    pub fn is_closed(&self) -> bool {
        match &self.inner {
            Some(i) => lock(&i.state).rx_closed,
            None => true,
        }
    }

    /// Waits until the receiver is dropped or closed. Cancel-safe.
    pub async fn closed(&mut self) {
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Polls for the receiver being dropped or closed.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inner) = &self.inner else {
            return Poll::Ready(());
        };
        let mut s = lock(&inner.state);
        if s.rx_closed {
            return Poll::Ready(());
        }
        set_waker(&mut s.tx_waker, cx.waker());
        Poll::Pending
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let waker = {
            let mut s = lock(&inner.state);
            s.tx_done = true;
            s.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it is there.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if not sent yet, [`TryRecvError::Closed`] if
    /// the sender is gone without sending or the value was already taken.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let Some(inner) = &self.inner else {
            return Err(TryRecvError::Closed);
        };
        let mut s = lock(&inner.state);
        if let Some(v) = s.value.take() {
            drop(s);
            self.inner = None;
            return Ok(v);
        }
        if s.tx_done {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Stops the sender from sending; a value sent before still arrives.
    pub fn close(&mut self) {
        let Some(inner) = &self.inner else { return };
        let waker = {
            let mut s = lock(&inner.state);
            s.rx_closed = true;
            s.tx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Whether the sender is gone (sent or dropped) or the value was taken.
    pub fn is_terminated(&self) -> bool {
        match &self.inner {
            Some(i) => {
                let s = lock(&i.state);
                s.tx_done && s.value.is_none()
            }
            None => true,
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(inner) = &this.inner else {
            return Poll::Ready(Err(RecvError(())));
        };
        let mut s = lock(&inner.state);
        if let Some(v) = s.value.take() {
            drop(s);
            this.inner = None;
            return Poll::Ready(Ok(v));
        }
        if s.tx_done {
            drop(s);
            this.inner = None;
            return Poll::Ready(Err(RecvError(())));
        }
        set_waker(&mut s.rx_waker, cx.waker());
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let (waker, value) = {
            let mut s = lock(&inner.state);
            s.rx_closed = true;
            (s.tx_waker.take(), s.value.take())
        };
        drop(value);
        if let Some(w) = waker {
            w.wake();
        }
    }
}
