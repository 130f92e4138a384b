//! Time: sleeps, timeouts and intervals on the worker's timer wheel.
//!
//! Each worker owns a hierarchical timer wheel (millisecond slots, O(1)
//! insert and cancel). Its earliest deadline becomes the timeout of the
//! worker's wait on the ring, so an idle worker sleeps in one
//! `io_uring_enter` until the first timer or the first completion, whichever
//! comes first. Deadlines are rounded up to the next millisecond: a timer
//! never fires early.

mod interval;
mod sleep;
mod timeout;
pub(crate) mod wheel;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use std::time::Instant;
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
