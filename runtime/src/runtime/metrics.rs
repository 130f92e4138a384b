//! [`RuntimeMetrics`]: a snapshot of the runtime's counters.

/// Counters of a runtime at one instant. All counts are totals since the
/// runtime started, except the gauges marked "now".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Tasks spawned on the worker (blocking jobs excluded).
    pub tasks_spawned: u64,
    /// Tasks polled (including aborted tasks dropped instead of polled).
    pub polls: u64,
    /// Event-loop iterations.
    pub loop_iterations: u64,
    /// Calls to `io_uring_enter` (0 under the thread-pool driver).
    pub ring_enters: u64,
    /// Operations submitted to the ring.
    pub ops_submitted: u64,
    /// Operation completions reaped.
    pub ops_completed: u64,
    /// Operations whose future was dropped before completion (cancelled in
    /// the kernel with ASYNC_CANCEL).
    pub ops_cancelled: u64,
    /// Operations in flight in the ring now.
    pub ops_in_flight: u64,
    /// Operations run on the blocking pool: every operation under the
    /// thread-pool driver; under io_uring, those whose opcode the kernel
    /// lacks (or that were switched off).
    pub ops_blocking: u64,
    /// Pushes that found the submission queue full and flushed it first.
    pub sq_full: u64,
    /// Times the kernel held completions in its overflow list (CQ full).
    pub cq_overflows: u64,
    /// Completions the kernel dropped (0 on kernels with IORING_FEAT_NODROP).
    pub cq_dropped: u64,
    /// Blocking-pool threads alive now.
    pub blocking_threads: u64,
    /// Blocking jobs waiting for a thread now.
    pub blocking_queue_depth: u64,
}
