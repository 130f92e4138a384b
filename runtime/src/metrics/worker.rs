//! One worker's metrics: counters any thread can read, and histograms the
//! worker records locally and publishes for other threads.

use std::cell::RefCell;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::counter::Counter;

/// Opcodes tracked one by one (every IORING_OP_* below this number).
pub(crate) const OPCODES: usize = 64;

/// Polls and ops: one in `SAMPLE` is timed into the histograms.
pub(crate) const SAMPLE: u64 = 16;

/// Counters of one worker (written by its thread only).
#[derive(Debug)]
pub(crate) struct WorkerCounters {
    pub(crate) tasks_spawned: Counter,
    pub(crate) tasks_finished: Counter,
    pub(crate) polls: Counter,
    pub(crate) slow_polls: Counter,
    pub(crate) loop_iterations: Counter,
    pub(crate) ring_enters: Counter,
    pub(crate) ops_submitted: Counter,
    pub(crate) ops_completed: Counter,
    pub(crate) ops_cancelled: Counter,
    pub(crate) ops_in_flight: Counter,
    pub(crate) ops_blocking: Counter,
    pub(crate) sq_full: Counter,
    pub(crate) cq_overflows: Counter,
    pub(crate) cq_dropped: Counter,
    pub(crate) submitted_by_op: [Counter; OPCODES],
    pub(crate) completed_by_op: [Counter; OPCODES],
    pub(crate) cancelled_by_op: [Counter; OPCODES],
}

impl Default for WorkerCounters {
    fn default() -> Self {
        WorkerCounters {
            tasks_spawned: Counter::default(),
            tasks_finished: Counter::default(),
            polls: Counter::default(),
            slow_polls: Counter::default(),
            loop_iterations: Counter::default(),
            ring_enters: Counter::default(),
            ops_submitted: Counter::default(),
            ops_completed: Counter::default(),
            ops_cancelled: Counter::default(),
            ops_in_flight: Counter::default(),
            ops_blocking: Counter::default(),
            sq_full: Counter::default(),
            cq_overflows: Counter::default(),
            cq_dropped: Counter::default(),
            submitted_by_op: std::array::from_fn(|_| Counter::default()),
            completed_by_op: std::array::from_fn(|_| Counter::default()),
            cancelled_by_op: std::array::from_fn(|_| Counter::default()),
        }
    }
}

/// The histograms of one worker, in nanoseconds.
#[derive(Debug, Clone)]
pub(crate) struct Histograms {
    pub(crate) poll_ns: Histogram<u64>,
    pub(crate) loop_busy_ns: Histogram<u64>,
    pub(crate) op_latency_ns: Vec<Option<Histogram<u64>>>,
}

fn new_histogram() -> Histogram<u64> {
    // 1 ns to 1 hour, 2 significant digits (values within 1 %): 4,608
    // counts, 37 KB. With 3 digits each histogram is 270 KB, and the copy
    // that `publish` makes every 100 ms cost a busy echo server about 100
    // instructions per request (callgrind).
    Histogram::new_with_bounds(1, 3_600_000_000_000, 2).expect("valid histogram bounds")
}

impl Histograms {
    fn new() -> Self {
        Histograms {
            poll_ns: new_histogram(),
            loop_busy_ns: new_histogram(),
            op_latency_ns: vec![None; OPCODES],
        }
    }
}

/// Record a duration, saturating at the histogram's bound.
fn record(h: &mut Histogram<u64>, d: Duration) {
    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
    h.saturating_record(ns);
}

/// The metrics of one worker.
#[derive(Debug)]
pub(crate) struct WorkerMetrics {
    pub(crate) counters: WorkerCounters,
    /// Histograms and timing on (the default); off, nothing is timed.
    pub(crate) timing: bool,
    /// Polls longer than this are reported; `None`: not checked.
    pub(crate) slow_poll: Option<Duration>,
    /// The worker's thread (see [`thread_token`]): the only one that
    /// touches the `RefCell`s.
    owner: usize,
    local: RefCell<Option<Histograms>>,
    published: Mutex<Option<Histograms>>,
    last_publish: RefCell<Option<Instant>>,
}

// SAFETY: every method that touches the `RefCell` fields first checks that
// it runs on `owner`, the worker's thread (and does nothing otherwise);
// other threads only read the atomics in `counters` and the
// `Mutex`-protected `published` snapshot.
unsafe impl Sync for WorkerMetrics {}
// SAFETY: as above: moving the value between threads before it is shared
// is harmless (histograms and counters are plain data).
unsafe impl Send for WorkerMetrics {}

thread_local! {
    static TOKEN: u8 = const { 0 };
}

/// A number unique to the calling thread among live threads (the address
/// of a thread-local), cheaper to get than `thread::current().id()`, which
/// clones an `Arc`.
fn thread_token() -> usize {
    TOKEN.with(|t| std::ptr::from_ref(t) as usize)
}

impl WorkerMetrics {
    /// Metrics owned by the calling thread.
    pub(crate) fn new(timing: bool, slow_poll: Option<Duration>) -> Self {
        WorkerMetrics {
            counters: WorkerCounters::default(),
            timing,
            slow_poll,
            owner: thread_token(),
            local: RefCell::new(timing.then(Histograms::new)),
            published: Mutex::new(None),
            last_publish: RefCell::new(None),
        }
    }

    /// Whether poll number `n` is one of the sampled ones.
    #[inline]
    pub(crate) fn sample(&self, n: u64) -> bool {
        self.timing && n % SAMPLE == 0
    }

    fn on_owner(&self) -> bool {
        thread_token() == self.owner
    }

    /// Records one sampled poll's duration (worker thread only).
    pub(crate) fn record_poll(&self, d: Duration) {
        if !self.on_owner() {
            return;
        }
        if let Some(h) = self.local.borrow_mut().as_mut() {
            record(&mut h.poll_ns, d);
        }
    }

    /// Records the busy part of one loop iteration (worker thread only).
    pub(crate) fn record_loop_busy(&self, d: Duration) {
        if !self.on_owner() {
            return;
        }
        if let Some(h) = self.local.borrow_mut().as_mut() {
            record(&mut h.loop_busy_ns, d);
        }
    }

    /// Records one sampled op's latency, submission to completion.
    pub(crate) fn record_op(&self, opcode: u8, d: Duration) {
        if !self.on_owner() {
            return;
        }
        if let Some(h) = self.local.borrow_mut().as_mut() {
            if let Some(slot) = h.op_latency_ns.get_mut(usize::from(opcode)) {
                record(slot.get_or_insert_with(new_histogram), d);
            }
        }
    }

    /// Copies the local histograms for other threads, at most every 100 ms
    /// unless `force` (worker thread only).
    pub(crate) fn publish(&self, force: bool) {
        if !self.timing || !self.on_owner() {
            return;
        }
        let now = Instant::now();
        let mut last = self.last_publish.borrow_mut();
        if !force && last.is_some_and(|t| now.duration_since(t) < Duration::from_millis(100)) {
            return;
        }
        *last = Some(now);
        let copy = self.local.borrow().clone();
        *self.published.lock().unwrap_or_else(|e| e.into_inner()) = copy;
    }

    /// The histograms: live on the worker's own thread, else the last
    /// published copy.
    pub(crate) fn histograms(&self) -> Option<Histograms> {
        if self.on_owner() {
            self.local.borrow().clone()
        } else {
            self.published
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        }
    }
}
