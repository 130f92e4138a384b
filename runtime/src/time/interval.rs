//! [`interval`]: a periodic tick.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::sleep::{far_future, later, sleep_until, Sleep};

/// What an [`Interval`] does when ticks were missed (the task was late).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks at once, one per `tick()` call, to catch up
    /// (tokio's default).
    #[default]
    Burst,
    /// Restart the schedule from now: the next tick is one period after the
    /// late one.
    Delay,
    /// Skip the missed ticks: the next tick is the next multiple of the
    /// period on the original schedule.
    Skip,
}

/// Ticks every `period`, the first tick completing at once.
///
/// # Panics
///
/// If `period` is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// ringbolt_runtime::run(async {
///     let mut every = ringbolt_runtime::time::interval(Duration::from_millis(5));
///     let first = every.tick().await;
///     let second = every.tick().await;
///     assert!(second - first >= Duration::from_millis(5));
/// });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
///
/// If `period` is zero.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(period > Duration::ZERO, "interval period must be non-zero");
    Interval {
        sleep: sleep_until(start),
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// A periodic timer: see [`interval`].
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        let after = |t: Instant| later(t, self.period);
        let next = match self.missed {
            MissedTickBehavior::Burst => after(scheduled),
            MissedTickBehavior::Delay if now > after(scheduled) => after(now),
            MissedTickBehavior::Skip if now > after(scheduled) => {
                let behind = (now - scheduled).as_nanos() / self.period.as_nanos();
                let steps = u32::try_from(behind + 1).unwrap_or(u32::MAX);
                self.period
                    .checked_mul(steps)
                    .and_then(|d| scheduled.checked_add(d))
                    .unwrap_or_else(far_future)
            }
            _ => after(scheduled),
        };
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep.reset(later(Instant::now(), self.period));
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The behaviour for missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets the behaviour for missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }
}

use std::future::Future as _;
