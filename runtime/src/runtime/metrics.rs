//! [`RuntimeMetrics`]: a snapshot of the runtime's counters and histograms.

use hdrhistogram::Histogram;

/// A snapshot of a runtime: totals over all workers, each worker's own
/// counters, counts and latency per opcode, and timing histograms.
///
/// Counters are totals since the runtime started unless marked "now".
/// Worker 0's histograms are live; the other workers publish theirs when
/// they go idle and at least every ~4,096 loop iterations (at most every
/// 100 ms), so they may lag slightly.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Tasks spawned (blocking jobs excluded).
    pub tasks_spawned: u64,
    /// Tasks alive now: spawned and not yet finished or dropped.
    pub tasks_alive: u64,
    /// Task polls (an aborted task dropped instead of polled counts too).
    pub polls: u64,
    /// Polls longer than the slow-poll threshold (each also reported
    /// through `tracing` with the task's name and spawn location).
    pub slow_polls: u64,
    /// Event-loop iterations.
    pub loop_iterations: u64,
    /// Calls to `io_uring_enter` (0 under the thread-pool driver).
    pub ring_enters: u64,
    /// Operations submitted to a ring.
    pub ops_submitted: u64,
    /// Operations whose last completion was reaped.
    pub ops_completed: u64,
    /// Operations whose future was dropped before completion (cancelled in
    /// the kernel with ASYNC_CANCEL; their data freed after the CQE).
    pub ops_cancelled: u64,
    /// Operations in flight in the rings now (as of each worker's last
    /// loop iteration).
    pub ops_in_flight: u64,
    /// Operations run on the blocking pool: every operation but the socket
    /// ones (which wait for readiness in epoll) under the thread-pool
    /// driver; under io_uring, those whose opcode the kernel lacks (or that
    /// were switched off) — the fallbacks taken.
    pub ops_blocking: u64,
    /// Pushes that found the submission queue full and flushed it first.
    pub sq_full: u64,
    /// Times a worker found completions waiting in the kernel's overflow
    /// list (its CQ was full; nothing is lost with IORING_FEAT_NODROP).
    pub cq_overflows: u64,
    /// Completions the kernel dropped (0 on kernels with IORING_FEAT_NODROP).
    pub cq_dropped: u64,
    /// Blocking-pool threads alive now.
    pub blocking_threads: u64,
    /// Blocking jobs waiting for a thread now.
    pub blocking_queue_depth: u64,
    /// Each worker's counters, worker 0 first.
    pub workers: Vec<WorkerStats>,
    /// Submitted, completed and cancelled operations per opcode (all
    /// workers), for the opcodes used.
    pub ops_by_opcode: Vec<OpCounts>,
    /// Duration of one task poll, in nanoseconds (one poll in 16 sampled;
    /// `None` with `Builder::metrics(false)`). Like every histogram here,
    /// it spans 1 ns to 1 hour with 2 significant digits (values within
    /// 1 %).
    pub poll_time_ns: Option<Histogram<u64>>,
    /// Busy part of one loop iteration (running tasks, up to the ring
    /// wait), in nanoseconds (one iteration in 16 sampled).
    pub loop_busy_ns: Option<Histogram<u64>>,
    /// Latency of operations from submission to completion, per opcode, in
    /// nanoseconds (one op in 16 sampled).
    pub op_latency_ns: Vec<OpLatency>,
}

/// One worker's counters (see [`RuntimeMetrics`] for their meaning).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// The worker's index (0: the thread that built the runtime).
    pub index: usize,
    /// Tasks spawned onto this worker.
    pub tasks_spawned: u64,
    /// Tasks alive on this worker now.
    pub tasks_alive: u64,
    /// Task polls.
    pub polls: u64,
    /// Polls over the slow-poll threshold.
    pub slow_polls: u64,
    /// Event-loop iterations.
    pub loop_iterations: u64,
    /// Calls to `io_uring_enter`.
    pub ring_enters: u64,
    /// Operations submitted.
    pub ops_submitted: u64,
    /// Operations completed.
    pub ops_completed: u64,
    /// Operations cancelled.
    pub ops_cancelled: u64,
    /// Operations in flight now.
    pub ops_in_flight: u64,
    /// Operations run on the blocking pool.
    pub ops_blocking: u64,
    /// SQ-full flushes.
    pub sq_full: u64,
    /// CQ overflows seen.
    pub cq_overflows: u64,
    /// Completions dropped by the kernel.
    pub cq_dropped: u64,
}

/// Operation counts for one opcode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpCounts {
    /// The `IORING_OP_*` number.
    pub opcode: u8,
    /// Its name (`"read"`, `"openat"`, ...).
    pub name: &'static str,
    /// Submitted to a ring.
    pub submitted: u64,
    /// Completed.
    pub completed: u64,
    /// Cancelled (future dropped first).
    pub cancelled: u64,
}

/// The latency histogram of one opcode.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OpLatency {
    /// The `IORING_OP_*` number.
    pub opcode: u8,
    /// Its name.
    pub name: &'static str,
    /// Submission-to-completion time in nanoseconds (sampled).
    pub latency_ns: Histogram<u64>,
}

impl RuntimeMetrics {
    /// The counts of the opcode named `name` (`"read"`, `"nop"`, ...).
    pub fn op(&self, name: &str) -> Option<&OpCounts> {
        self.ops_by_opcode.iter().find(|o| o.name == name)
    }
}
