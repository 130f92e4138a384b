//! [`Runtime`], [`Builder`] and [`run`].

mod builder;
mod kind;
mod metrics;
mod workers;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

pub use crate::executor::placement::SpawnPolicy;
pub use builder::Builder;
pub use kind::Driver;
pub use metrics::{OpCounts, OpLatency, RuntimeMetrics, WorkerStats};

use crate::blocking::BlockingPool;
use crate::driver::{opcode_name, RingConfig};
use crate::executor::placement::Placement;
use crate::executor::{context, spawn_onto, MainWaker, Worker};
use crate::task::{JoinHandle, TaskMeta};
use workers::{Spec, WorkerThread};

/// A ringbolt runtime: one worker (a ring, an executor, a timer wheel) on
/// the thread that created it, `workers(n) - 1` more on threads of their
/// own (thread-per-core, no work stealing), and a blocking pool.
///
/// The runtime is `!Send`: worker 0's ring belongs to this thread
/// (io_uring's SINGLE_ISSUER). Tasks and I/O types are `Send`, and wakers
/// work from any thread. A task stays on the worker it was spawned on.
///
/// Dropping the runtime cancels every task, waits for the kernel to finish
/// their in-flight operations (so no buffer is freed while the kernel may
/// write it), cancels blocking jobs not started yet, waits for the
/// [`spawn_blocking`](crate::spawn_blocking) closures that are running (as
/// tokio's runtime and asyncio's default executor do, so that what they
/// write is written when the drop returns), and returns.
/// [`shutdown_timeout`](Runtime::shutdown_timeout) bounds that last wait
/// and [`shutdown_background`](Runtime::shutdown_background) skips it.
#[derive(Debug)]
pub struct Runtime {
    worker: Rc<Worker>,
    threads: Vec<WorkerThread>,
    placement: Arc<Placement>,
    blocking: Arc<BlockingPool>,
    kind: Driver,
    /// How the drop waits for running `spawn_blocking` closures.
    blocking_wait: BlockingWait,
}

/// How a runtime's shutdown waits for the `spawn_blocking` closures that
/// are running.
#[derive(Debug, Clone, Copy)]
enum BlockingWait {
    /// Until they return (the drop).
    Whole,
    /// At most this long, with a warning if some still run
    /// ([`Runtime::shutdown_timeout`]).
    UpTo(Duration),
    /// Not at all ([`Runtime::shutdown_background`]).
    No,
}

impl Runtime {
    /// A runtime with the default configuration.
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    fn with_config(
        cfg: &RingConfig,
        driver: Driver,
        opts: &builder::WorkerOptions,
        max_blocking: usize,
        keep_alive: Duration,
    ) -> io::Result<Runtime> {
        let blocking = Arc::new(BlockingPool::new(max_blocking, keep_alive));
        let placement = Arc::new(Placement::new(opts.policy));
        if opts.pin {
            workers::pin_to_cpu(0);
        }
        let new_worker = |ring: Option<&RingConfig>| {
            Worker::new(ring, blocking.clone(), placement.clone(), opts.metrics)
        };
        let (worker, kind) = match driver {
            Driver::ThreadPool => {
                let worker = new_worker(None)?;
                announce_once(|| {
                    tracing::info!(
                        "ringbolt uses the thread-pool driver, as configured (file calls run \
                         on the blocking pool, sockets wait for readiness in epoll)"
                    );
                });
                (worker, Driver::ThreadPool)
            }
            Driver::IoUring => (new_worker(Some(cfg))?, Driver::IoUring),
            Driver::Auto => match new_worker(Some(cfg)) {
                Ok(w) => (w, Driver::IoUring),
                Err(e) if kind::is_refusal(&e) => {
                    warn_fallback_once(&e);
                    (new_worker(None)?, Driver::ThreadPool)
                }
                Err(e) => return Err(e),
            },
        };
        if kind == Driver::IoUring {
            let setup = worker.ring().map(|r| r.borrow().features().setup);
            announce_once(|| {
                tracing::info!(
                    "ringbolt uses the io_uring driver (ring setup flags: {})",
                    setup.unwrap_or("none")
                );
            });
        }
        let worker = Rc::new(worker);
        crate::executor::context::own(&worker);
        let mut threads = Vec::with_capacity(opts.workers - 1);
        for index in 1..opts.workers {
            let spec = Spec {
                index,
                ring: (kind == Driver::IoUring).then(|| cfg.clone()),
                blocking: blocking.clone(),
                placement: placement.clone(),
                pin: opts.pin,
                metrics: opts.metrics,
            };
            match WorkerThread::start(spec) {
                Ok(t) => threads.push(t),
                Err(e) => {
                    for t in &threads {
                        t.signal_stop();
                    }
                    for mut t in threads {
                        t.join();
                    }
                    let _guard = context::enter(worker.clone());
                    worker.shutdown();
                    return Err(e);
                }
            }
        }
        let mut all = vec![worker.shared.clone()];
        all.extend(threads.iter().map(|t| t.shared.clone()));
        placement.set_workers(all);
        Ok(Runtime {
            worker,
            threads,
            placement,
            blocking,
            kind,
            blocking_wait: BlockingWait::Whole,
        })
    }

    /// The number of workers (threads with a ring and an executor).
    pub fn worker_count(&self) -> usize {
        1 + self.threads.len()
    }

    /// Spawns a task on worker `index` (0 is the thread that created the
    /// runtime); it stays there.
    ///
    /// # Panics
    ///
    /// If `index >= worker_count()`.
    #[track_caller]
    pub fn spawn_on<F>(&self, index: usize, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = TaskMeta::new(None, std::panic::Location::caller());
        let workers = self.placement.workers();
        assert!(
            index < workers.len(),
            "Runtime::spawn_on: worker {index} does not exist (the runtime has {})",
            workers.len()
        );
        if index == 0 {
            self.worker.spawn_here(future, meta)
        } else {
            spawn_onto(&workers[index], future, meta)
        }
    }

    /// The driver that actually runs: [`Driver::IoUring`] or
    /// [`Driver::ThreadPool`] (never `Auto`).
    pub fn driver_kind(&self) -> Driver {
        self.kind
    }

    /// Shuts the runtime down as its drop does, but waits at most `limit`
    /// for the [`spawn_blocking`](crate::spawn_blocking) closures that are
    /// running; those still running then go on on their own threads (they
    /// cannot be interrupted). The wait for the kernel's in-flight
    /// operations is not shortened: that one keeps memory safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let rt = ringbolt_runtime::Runtime::new()?;
    /// rt.block_on(async {
    ///     // A closure that outlives the program's interest in it.
    ///     drop(ringbolt_runtime::spawn_blocking(|| {
    ///         std::thread::sleep(Duration::from_secs(5))
    ///     }));
    ///     ringbolt_runtime::time::sleep(Duration::from_millis(20)).await;
    /// });
    /// let t = Instant::now();
    /// rt.shutdown_timeout(Duration::from_millis(50));
    /// assert!(t.elapsed() < Duration::from_secs(5));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_timeout(mut self, limit: Duration) {
        self.blocking_wait = BlockingWait::UpTo(limit);
    }

    /// Shuts the runtime down as its drop does, without waiting for the
    /// [`spawn_blocking`](crate::spawn_blocking) closures that are running;
    /// they go on on their own threads.
    pub fn shutdown_background(mut self) {
        self.blocking_wait = BlockingWait::No;
    }

    /// Runs `future` to completion on this thread, together with every task
    /// spawned on this runtime; returns its output. The future need not be
    /// `Send`.
    ///
    /// # Panics
    ///
    /// When called from inside a ringbolt runtime (nesting would block the
    /// outer one), and when the ring fails in a way that leaves it unusable.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        if context::current_id().is_some() {
            panic!(
                "ringbolt: cannot start a runtime from within a runtime; \
                 await the future or spawn it instead"
            );
        }
        let _guard = context::enter(self.worker.clone());
        let main = Arc::new(MainWaker::new(self.worker.shared.clone()));
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if main.woken.swap(false, Ordering::AcqRel) {
                if let std::task::Poll::Ready(out) =
                    crate::task::coop::with_budget(|| future.as_mut().poll(&mut cx))
                {
                    return out;
                }
            }
            self.worker.tick(&main.woken);
        }
    }

    /// Spawns a task on this runtime, on the worker the [`SpawnPolicy`]
    /// picks. Tasks on worker 0 run while [`Runtime::block_on`] drives it;
    /// the other workers run on their own.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = TaskMeta::new(None, std::panic::Location::caller());
        self.worker.spawn(future, meta)
    }

    /// The setup flags the ring was created with (for reports), e.g.
    /// `"SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG"`.
    pub fn ring_setup(&self) -> &'static str {
        match self.worker.ring() {
            Some(ring) => ring.borrow().features().setup,
            None => "no ring (thread-pool driver)",
        }
    }

    /// A snapshot of the runtime's counters.
    pub fn metrics(&self) -> RuntimeMetrics {
        let mut m = RuntimeMetrics {
            blocking_threads: self.blocking.threads() as u64,
            blocking_queue_depth: self.blocking.queue_depth() as u64,
            ..RuntimeMetrics::default()
        };
        let mut by_op: Vec<OpCounts> = Vec::new();
        for (index, shared) in self.placement.workers().iter().enumerate() {
            let c = &shared.metrics.counters;
            let finished = c.tasks_finished.get();
            let w = WorkerStats {
                index,
                tasks_spawned: c.tasks_spawned.get(),
                tasks_alive: c.tasks_spawned.get().saturating_sub(finished),
                polls: c.polls.get(),
                slow_polls: c.slow_polls.get(),
                loop_iterations: c.loop_iterations.get(),
                ring_enters: c.ring_enters.get(),
                ops_submitted: c.ops_submitted.get(),
                ops_completed: c.ops_completed.get(),
                ops_cancelled: c.ops_cancelled.get(),
                // Worker 0 is this thread's: read its ring live.
                ops_in_flight: match (index, self.worker.ring()) {
                    (0, Some(ring)) => ring.borrow().in_flight() as u64,
                    _ => c.ops_in_flight.get(),
                },
                ops_blocking: c.ops_blocking.get(),
                sq_full: c.sq_full.get(),
                cq_overflows: c.cq_overflows.get(),
                cq_dropped: c.cq_dropped.get(),
            };
            m.tasks_spawned += w.tasks_spawned;
            m.tasks_alive += w.tasks_alive;
            m.polls += w.polls;
            m.slow_polls += w.slow_polls;
            m.loop_iterations += w.loop_iterations;
            m.ring_enters += w.ring_enters;
            m.ops_submitted += w.ops_submitted;
            m.ops_completed += w.ops_completed;
            m.ops_cancelled += w.ops_cancelled;
            m.ops_in_flight += w.ops_in_flight;
            m.ops_blocking += w.ops_blocking;
            m.sq_full += w.sq_full;
            m.cq_overflows += w.cq_overflows;
            m.cq_dropped += w.cq_dropped;
            m.workers.push(w);
            for op in 0..c.submitted_by_op.len() {
                let (s, d, x) = (
                    c.submitted_by_op[op].get(),
                    c.completed_by_op[op].get(),
                    c.cancelled_by_op[op].get(),
                );
                if s + d + x == 0 {
                    continue;
                }
                let opcode = op as u8;
                let entry = match by_op.iter_mut().position(|o| o.opcode == opcode) {
                    Some(i) => &mut by_op[i],
                    None => {
                        by_op.push(OpCounts {
                            opcode,
                            name: opcode_name(opcode),
                            ..OpCounts::default()
                        });
                        by_op.last_mut().expect("just pushed")
                    }
                };
                entry.submitted += s;
                entry.completed += d;
                entry.cancelled += x;
            }
            if let Some(h) = shared.metrics.histograms() {
                merge(&mut m.poll_time_ns, &h.poll_ns);
                merge(&mut m.loop_busy_ns, &h.loop_busy_ns);
                for (op, lat) in h.op_latency_ns.iter().enumerate() {
                    let Some(lat) = lat else { continue };
                    let opcode = op as u8;
                    match m.op_latency_ns.iter_mut().find(|o| o.opcode == opcode) {
                        Some(o) => {
                            let _ = o.latency_ns.add(lat);
                        }
                        None => m.op_latency_ns.push(OpLatency {
                            opcode,
                            name: opcode_name(opcode),
                            latency_ns: lat.clone(),
                        }),
                    }
                }
            }
        }
        by_op.sort_by_key(|o| o.opcode);
        m.ops_by_opcode = by_op;
        m
    }
}

/// Adds `h` into `into`.
fn merge(into: &mut Option<hdrhistogram::Histogram<u64>>, h: &hdrhistogram::Histogram<u64>) {
    match into {
        Some(acc) => {
            let _ = acc.add(h);
        }
        None => *into = Some(h.clone()),
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for t in &self.threads {
            t.signal_stop();
        }
        for t in &mut self.threads {
            t.join();
        }
        let _guard = context::enter(self.worker.clone());
        self.worker.shutdown();
        self.blocking.shutdown();
        match self.blocking_wait {
            BlockingWait::Whole => {
                self.blocking.wait_for_closures(None);
            }
            BlockingWait::UpTo(limit) => {
                if !self.blocking.wait_for_closures(Some(limit)) {
                    tracing::warn!(
                        "ringbolt: shutdown_timeout({limit:?}) passed while spawn_blocking \
                         closures still ran; they go on on their own threads"
                    );
                }
            }
            BlockingWait::No => {}
        }
    }
}

/// Runs `future` on a new runtime on this thread and returns its output:
/// the counterpart of Python's `asyncio.run`.
///
/// # Panics
///
/// If the runtime cannot start (see [`Builder::build`] for the causes), or
/// when called from inside a runtime.
///
/// # Examples
///
/// ```
/// let answer = ringbolt_runtime::run(async { 42 });
/// assert_eq!(answer, 42);
/// ```
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    let rt =
        Runtime::new().unwrap_or_else(|e| panic!("ringbolt::run: cannot start the runtime: {e}"));
    rt.block_on(future)
}

/// Says once per process which driver the runtimes use: `say` runs for
/// the first runtime built (after a fallback's warning, nothing more).
fn announce_once(say: impl FnOnce()) {
    ANNOUNCED.call_once(say);
}

/// Whether the driver was announced (see [`announce_once`]).
static ANNOUNCED: std::sync::Once = std::sync::Once::new();

/// Says once per process that `Driver::Auto` fell back to the thread pool.
fn warn_fallback_once(e: &io::Error) {
    // Its own `Once`: a fallback is warned about even after an earlier
    // runtime announced io_uring. It also stands for the announcement.
    announce_once(|| {});
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            "{e}; ringbolt falls back to the thread-pool driver (file calls run on the \
             blocking pool, sockets wait for readiness in epoll). To use io_uring, allow io_uring_setup in the seccomp profile \
             (e.g. docker --security-opt seccomp=unconfined) or set kernel.io_uring_disabled=0; \
             set RINGBOLT_DRIVER=threadpool to choose the thread pool explicitly"
        );
    });
}
