//! [`Incoming`]: the connections accepted on a listener, as a stream.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use ringbolt_runtime::op::net::AcceptStream;

/// The connections accepted on a [`TcpListener`](crate::TcpListener) or
/// [`UnixListener`](crate::UnixListener), made by their `incoming()`.
///
/// A `futures_core::Stream` of `io::Result<S>` that never ends by itself;
/// [`next`](Incoming::next) awaits one item without any stream helper
/// crate. Backed by one multishot accept where the kernel has it (the
/// kernel accepts each connection as it arrives, no SQE per connection),
/// single-shot accepts otherwise.
///
/// Dropping it cancels the accept and loses no connection: those its
/// multishot accept took in but did not yield go back to the listener,
/// whose next [`accept`](crate::TcpListener::accept) or `incoming()`
/// hands them out (they are closed with the listener if none does).
///
/// An error does not end the stream. After `EMFILE` or `ENFILE` (no
/// descriptor left) the next accept fails at once again until a
/// descriptor is freed, while the connections wait in the listen backlog:
/// pause before the next [`next`](Incoming::next) (a short
/// [`sleep`](ringbolt_runtime::time::sleep)) instead of retrying in a
/// loop, which would only burn a core, as with tokio's listeners.
pub struct Incoming<S> {
    inner: AcceptStream,
    make: fn(OwnedFd) -> S,
}

impl<S> Incoming<S> {
    pub(crate) fn new(inner: AcceptStream, make: fn(OwnedFd) -> S) -> Self {
        Incoming { inner, make }
    }

    /// Waits for the next connection. Always `Some`: the `Option` is the
    /// shape of a stream's item.
    ///
    /// # Errors
    ///
    /// The item is an error when an accept fails (`EMFILE`, ...); the
    /// stream goes on after it.
    pub async fn next(&mut self) -> Option<io::Result<S>> {
        Some(poll_fn(|cx| self.poll_accept(cx)).await)
    }

    /// Polls for the next connection.
    ///
    /// # Panics
    ///
    /// When polled on a thread other than the one it was first polled on
    /// (the accept is bound to that thread's ring).
    #[track_caller]
    pub fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<S>> {
        self.inner.poll_accept(cx).map(|r| r.map(self.make))
    }

    /// Whether a multishot accept serves the stream (false on kernels
    /// before 5.19, where it falls back to single-shot accepts).
    pub fn is_multishot(&self) -> bool {
        self.inner.is_multishot()
    }
}

impl<S> Stream for Incoming<S> {
    type Item = io::Result<S>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<S>>> {
        self.get_mut().poll_accept(cx).map(Some)
    }
}

impl<S> fmt::Debug for Incoming<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("inner", &self.inner)
            .finish()
    }
}
