//! [`sleep`] and [`sleep_until`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::wheel::TimerKey;
use crate::executor::context;

/// Waits until `duration` has elapsed.
///
/// # Panics
///
/// When polled outside a ringbolt runtime.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// ringbolt_runtime::run(async {
///     let start = Instant::now();
///     ringbolt_runtime::time::sleep(Duration::from_millis(20)).await;
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(later(Instant::now(), duration))
}

/// Waits until `deadline`.
///
/// # Panics
///
/// When polled outside a ringbolt runtime.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        entry: None,
    }
}

/// `t + duration`, or the far future where that overflows
/// (`Duration::MAX`, say): such a deadline never comes.
pub(crate) fn later(t: Instant, duration: Duration) -> Instant {
    t.checked_add(duration).unwrap_or_else(far_future)
}

/// About 30 years from now: "never" for a timer.
pub(crate) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

/// The future returned by [`sleep`] and [`sleep_until`]. Dropping it
/// removes its timer.
#[derive(Debug)]
#[must_use = "a Sleep does nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    /// The worker and key of the registered timer.
    entry: Option<(u64, TimerKey)>,
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline (the sleep becomes pending again if it is later).
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel();
        self.deadline = deadline;
    }

    fn cancel(&mut self) {
        if let Some((worker, key)) = self.entry.take() {
            context::with_current(|w| {
                if w.id == worker {
                    w.timers.borrow_mut().remove(key);
                }
            });
        }
    }
}

impl Future for Sleep {
    type Output = ();

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        std::task::ready!(crate::task::coop::poll_proceed(cx));
        if Instant::now() >= this.deadline {
            this.cancel();
            crate::task::coop::spend();
            return Poll::Ready(());
        }
        let deadline = this.deadline;
        let registered = context::with_current(|w| {
            let mut timers = w.timers.borrow_mut();
            match this.entry {
                Some((worker, key)) if worker == w.id => {
                    // Re-register only if the waker changed.
                    match timers.get_mut(key) {
                        Some(waker) => {
                            if !waker.will_wake(cx.waker()) {
                                waker.clone_from(cx.waker());
                            }
                            key
                        }
                        None => timers.insert(deadline, cx.waker().clone()),
                    }
                }
                _ => timers.insert(deadline, cx.waker().clone()),
            }
            .pipe(|key| (w.id, key))
        });
        match registered {
            Some(entry) => {
                this.entry = Some(entry);
                Poll::Pending
            }
            None => panic!(
                "ringbolt::time::sleep must be polled inside a ringbolt runtime \
                 (ringbolt::run or Runtime::block_on)"
            ),
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}
impl<T> Pipe for T {}
