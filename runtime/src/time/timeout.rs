//! [`timeout`] and [`timeout_at`].

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::sleep::{later, sleep_until, Sleep};

/// Requires `future` to complete within `duration`, else gives
/// [`Elapsed`]. When the time is up the inner future is dropped, which
/// cancels its in-flight I/O (asyncio's `wait_for`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ringbolt_runtime::time::{sleep, timeout};
/// ringbolt_runtime::run(async {
///     assert_eq!(timeout(Duration::from_millis(50), async { 7 }).await, Ok(7));
///     assert!(timeout(Duration::from_millis(5), sleep(Duration::from_secs(10))).await.is_err());
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout_at(later(Instant::now(), duration), future)
}

/// Like [`timeout`], with an absolute deadline.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

/// The future returned by [`timeout`].
#[derive(Debug)]
#[must_use = "a Timeout does nothing unless awaited"]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Gives the wrapped future back.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned (never moved out while
        // pinned; `into_inner` takes `self` by value, so it is not pinned);
        // `sleep` is `Unpin` and is not treated as pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        let had_budget = crate::task::coop::has_budget();
        if let Poll::Ready(out) = future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        let sleep = Pin::new(&mut this.sleep);
        // An inner future that spent the whole budget must not keep the
        // deadline from being checked (it would do so on every poll, and
        // the timeout would never fire): then the timer is polled outside
        // the budget, as tokio does.
        let polled = if had_budget && !crate::task::coop::has_budget() {
            crate::task::coop::without_budget(|| sleep.poll(cx))
        } else {
            sleep.poll(cx)
        };
        match polled {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The error of a [`timeout`] whose deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for io::Error {
    fn from(e: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, e)
    }
}
