//! Runtime metrics: per-worker counters (readable from any thread at any
//! time) and `hdrhistogram` histograms of poll time, loop busy time and op
//! latency by opcode; slow-poll detection.
//!
//! Cost model: counters are single-writer relaxed stores (a plain add);
//! one poll, one loop iteration and one op in [`SAMPLE`](worker::SAMPLE) is
//! timed with the precise clock; every task poll ends with one read of the
//! coarse monotonic clock (vDSO, a few ns), compared with the read that
//! ended the poll before it in the same batch, to catch slow polls.
//! `Builder::metrics(false)` (or `RINGBOLT_METRICS=off`) switches the
//! timing off; the counters stay.

pub(crate) mod counter;
pub(crate) mod worker;

use std::time::Duration;

/// A cheap monotonic clock with the kernel tick's resolution (1–4 ms):
/// good enough to see a poll that takes 100 ms.
#[inline]
pub(crate) fn coarse_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec on the stack for the kernel (vDSO) to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
