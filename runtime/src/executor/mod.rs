//! The executor: one worker per thread, running its tasks over its own ring.
//!
//! One loop iteration ([`Worker::tick`]):
//! 1. run up to [`BUDGET`] ready tasks from the local run queue;
//! 2. one `io_uring_enter`: submit every SQE the tasks pushed and — when no
//!    task is ready — wait for a completion, with the next timer deadline as
//!    the timeout;
//! 3. copy every CQE out, release the driver, wake the waiting tasks;
//! 4. fire expired timers.
//!
//! The budget keeps a task that wakes itself in a tight loop from starving
//! completions: after `BUDGET` polls the ring gets its turn.

pub(crate) mod context;
pub(crate) mod placement;
pub(crate) mod registry;
pub(crate) mod shared;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::blocking::BlockingPool;
use crate::driver::{Driver, PoolDriver, RingConfig};
use crate::metrics::worker::WorkerMetrics;
use crate::task::{Harness, JoinHandle, Runnable, TaskMeta};
use crate::time::wheel::Wheel;
use placement::Placement;
use shared::{Remote, Shared};

/// Tasks polled per loop iteration before the ring gets a turn.
pub(crate) const BUDGET: usize = 64;

/// How long shutdown waits for the kernel to finish cancelled operations.
const SHUTDOWN_IO_LIMIT: Duration = Duration::from_secs(10);

static NEXT_WORKER_ID: AtomicU64 = AtomicU64::new(1);

/// What a worker measures (from the builder).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MetricsConfig {
    /// Histograms and sampled timing on.
    pub(crate) timing: bool,
    /// Report polls longer than this (`None`: do not check).
    pub(crate) slow_poll: Option<Duration>,
}

/// How a worker does I/O.
// One per worker thread: its size does not matter, a Box would add a
// pointer chase to every op.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Io {
    /// Through its own io_uring.
    Uring(RefCell<Driver>),
    /// On the blocking pool (the thread-pool driver).
    Pool(RefCell<PoolDriver>),
}

/// One worker: a ring, a run queue, a timer wheel, and the tasks on them.
pub(crate) struct Worker {
    pub(crate) id: u64,
    pub(crate) io: Io,
    pub(crate) run_queue: RefCell<VecDeque<Runnable>>,
    pub(crate) timers: RefCell<Wheel<Waker>>,
    /// Wakers of tasks that are idle (returned `Pending`), so that shutdown
    /// can reach and cancel every task.
    pub(crate) tasks: RefCell<Slab<Waker>>,
    pub(crate) blocking: Arc<BlockingPool>,
    pub(crate) shared: Arc<Shared>,
    /// The runtime's workers, for placing spawned tasks.
    pub(crate) placement: Arc<Placement>,
    /// The worker's counters and histograms (also reachable through
    /// `shared` from other threads).
    pub(crate) metrics: Arc<WorkerMetrics>,
    /// Scratch space reused by every tick.
    wakers: RefCell<Vec<Waker>>,
    lent: RefCell<Vec<(usize, Waker)>>,
    remote: RefCell<Vec<Remote>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Creates the worker's wake-up eventfd and, with `cfg`, its ring;
    /// without, the worker uses the thread-pool driver.
    pub(crate) fn new(
        cfg: Option<&RingConfig>,
        blocking: Arc<BlockingPool>,
        placement: Arc<Placement>,
        metrics_cfg: MetricsConfig,
    ) -> io::Result<Worker> {
        let id = NEXT_WORKER_ID.fetch_add(1, Ordering::Relaxed);
        let metrics = Arc::new(WorkerMetrics::new(
            metrics_cfg.timing,
            metrics_cfg.slow_poll,
        ));
        let shared = Arc::new(Shared::new(id, crate::sys::eventfd()?, metrics.clone()));
        let io = match cfg {
            Some(cfg) => Io::Uring(RefCell::new(Driver::new(
                cfg,
                shared.eventfd(),
                metrics.clone(),
            )?)),
            None => Io::Pool(RefCell::new(PoolDriver::new(shared.eventfd()))),
        };
        registry::register(&shared);
        Ok(Worker {
            id,
            io,
            run_queue: RefCell::new(VecDeque::with_capacity(256)),
            timers: RefCell::new(Wheel::new(Instant::now())),
            tasks: RefCell::new(Slab::new()),
            blocking,
            shared,
            placement,
            metrics,
            wakers: RefCell::new(Vec::new()),
            lent: RefCell::new(Vec::new()),
            remote: RefCell::new(Vec::new()),
        })
    }

    /// The worker's ring, unless it runs the thread-pool driver.
    pub(crate) fn ring(&self) -> Option<&RefCell<Driver>> {
        match &self.io {
            Io::Uring(ring) => Some(ring),
            Io::Pool(_) => None,
        }
    }

    /// Spawns a `Send` future on the worker the placement policy picks.
    pub(crate) fn spawn<F>(&self, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.placement.pick(Some(self.id)) {
            None => self.spawn_here(future, meta),
            Some(target) => spawn_onto(&target, future, meta),
        }
    }

    /// Spawns a `Send` future on this worker.
    pub(crate) fn spawn_here<F>(&self, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = meta.homed(self.shared.clone());
        let (runnable, task) = async_task::Builder::new()
            .metadata(meta)
            .spawn(move |m| Harness::new(future, m), schedule);
        self.start(runnable, task)
    }

    /// Spawns a future that may be `!Send`; it never leaves this thread.
    pub(crate) fn spawn_local<F>(&self, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let meta = meta.homed(self.shared.clone());
        // async-task requires a `!Send` future's Runnable to be run and
        // dropped only on the thread that spawned it. The schedule function
        // sends every Runnable of this task to this worker (its local queue on
        // this thread, its remote queue from elsewhere), and only this worker,
        // on this thread, runs or drops queued Runnables; at shutdown it drops
        // every task on this thread before it closes its remote queue.
        // SAFETY: hence Runnables stay on this thread; the schedule function is
        // `Send + Sync + 'static` (a plain fn) and the future `'static`.
        let (runnable, task) = unsafe {
            async_task::Builder::new()
                .metadata(meta)
                .spawn_unchecked(move |m| Harness::new(future, m), schedule)
        };
        self.start(runnable, task)
    }

    fn start<T>(
        &self,
        runnable: Runnable,
        task: async_task::Task<Result<T, crate::task::JoinError>, TaskMeta>,
    ) -> JoinHandle<T> {
        self.metrics.counters.tasks_spawned.inc_shared();
        let waker = runnable.waker();
        self.run_queue.borrow_mut().push_back(runnable);
        JoinHandle::new(task, waker)
    }

    /// Runs one scheduled task (or drops it if it was aborted). A panic
    /// escaping the task (only possible from its future's `Drop`) is
    /// contained here: it never takes the worker down.
    fn run_task(&self, runnable: Runnable) {
        let counters = &self.metrics.counters;
        counters.polls.inc();
        let timed = self.metrics.sample(counters.polls.get()).then(Instant::now);
        let meta = runnable.metadata();
        let (id, location) = (meta.id, meta.location);
        let result = if runnable.metadata().is_aborted() {
            catch_unwind(AssertUnwindSafe(|| drop(runnable)))
        } else {
            catch_unwind(AssertUnwindSafe(|| {
                runnable.run();
            }))
        };
        if let Some(t) = timed {
            self.metrics.record_poll(t.elapsed());
        }
        if result.is_err() {
            tracing::error!(
                task.id = id,
                task.spawned_at = %location,
                "ringbolt: a task's destructor panicked; the panic was contained"
            );
        }
    }

    /// One loop iteration (see the module docs). `main_woken` is the flag of
    /// the future driven by `block_on`: when set, the ring is not waited on.
    pub(crate) fn tick(&self, main_woken: &AtomicBool) {
        let counters = &self.metrics.counters;
        counters.loop_iterations.inc();
        let timed = self
            .metrics
            .sample(counters.loop_iterations.get())
            .then(Instant::now);
        for _ in 0..BUDGET {
            let next = self.run_queue.borrow_mut().pop_front();
            match next {
                Some(runnable) => self.run_task(runnable),
                None => break,
            }
        }
        if self.shared.is_notified() {
            // Opportunistic: pick up remote work without waiting for the
            // eventfd read to complete (`notified` stays set until then).
            self.drain_remote();
        }

        let busy = !self.run_queue.borrow().is_empty() || main_woken.load(Ordering::Acquire);
        let mut timeout = None;
        if !busy {
            if let Some(deadline) = self.timers.borrow().next_deadline() {
                timeout = Some(deadline.saturating_duration_since(Instant::now()));
            }
        }
        let wait = !busy && timeout != Some(Duration::ZERO);
        if let Some(t) = timed {
            self.metrics.record_loop_busy(t.elapsed());
        }
        if wait || counters.loop_iterations.get() % 4096 == 0 {
            // About to sleep (or busy for long): let other threads see the
            // histograms (at most every 100 ms).
            self.metrics.publish(false);
        }

        let mut wakers = std::mem::take(&mut *self.wakers.borrow_mut());
        let mut lent = std::mem::take(&mut *self.lent.borrow_mut());
        let remote_wake = match &self.io {
            Io::Uring(ring) => {
                let (reaped, orphans) = {
                    let mut driver = ring.borrow_mut();
                    let wait = wait && !driver.has_deferred_wakes();
                    if let Err(e) = driver.enter(wait, timeout) {
                        // Only a broken ring gets here (EBADF, EFAULT...).
                        panic!("ringbolt: io_uring_enter failed: {e}");
                    }
                    let reaped = driver.reap(&mut wakers);
                    driver.take_lent(&mut lent);
                    (reaped, driver.take_finished_orphans())
                };
                drop(orphans);
                reaped.remote_wake
            }
            Io::Pool(pool) => {
                if wait {
                    pool.borrow_mut().park(timeout).unwrap_or_else(|e| {
                        panic!("ringbolt: poll on the wake-up eventfd failed: {e}")
                    })
                } else {
                    false
                }
            }
        };
        if remote_wake {
            self.shared.clear_notified();
            self.drain_remote();
        }
        for waker in wakers.drain(..) {
            waker.wake();
        }
        if let Some(ring) = self.ring() {
            for (key, waker) in lent.drain(..) {
                waker.wake_by_ref();
                // Woken outside the borrow (a waker may poll the driver).
                if let Ok(mut driver) = ring.try_borrow_mut() {
                    driver.return_waker(key, waker);
                }
            }
        }
        *self.lent.borrow_mut() = lent;
        self.fire_timers(&mut wakers);
        *self.wakers.borrow_mut() = wakers;
    }

    fn fire_timers(&self, wakers: &mut Vec<Waker>) {
        if self.timers.borrow().is_empty() {
            return;
        }
        let now = Instant::now();
        self.timers.borrow_mut().poll(now, |w| wakers.push(w));
        for waker in wakers.drain(..) {
            waker.wake();
        }
    }

    /// Moves remote messages into the local queue and the driver.
    fn drain_remote(&self) {
        let mut msgs = std::mem::take(&mut *self.remote.borrow_mut());
        self.shared.drain(&mut msgs);
        let mut orphans = Vec::new();
        let mut wakes = Vec::new();
        for msg in msgs.drain(..) {
            match msg {
                Remote::Task(r) => self.run_queue.borrow_mut().push_back(r),
                Remote::Wake(w) => wakes.push(w),
                Remote::ReleaseFile(slot) => {
                    if let Some(ring) = self.ring() {
                        ring.borrow_mut().release_file(slot);
                    }
                }
                Remote::Orphan { key, data } => match self.ring() {
                    Some(ring) => {
                        let mut driver = ring.borrow_mut();
                        driver.orphan(key, data);
                        orphans.append(&mut driver.take_finished_orphans());
                    }
                    None => orphans.push(data),
                },
            }
        }
        *self.remote.borrow_mut() = msgs;
        drop(orphans);
        // Woken outside every borrow: a pump polls the driver.
        for w in wakes {
            w.wake();
        }
    }

    /// Cancels every task (dropping its future on this thread, which cancels
    /// its in-flight ops), clears the timers, waits for the kernel to finish
    /// every op, and closes the remote queue. Must run with this worker
    /// entered as the current one.
    pub(crate) fn shutdown(&self) {
        for _ in 0..64 {
            let idle: Vec<Waker> = self.tasks.borrow().iter().map(|(_, w)| w.clone()).collect();
            for waker in idle {
                waker.wake();
            }
            self.drain_remote();
            let queued: Vec<Runnable> = self.run_queue.borrow_mut().drain(..).collect();
            if queued.is_empty() && self.tasks.borrow().is_empty() {
                break;
            }
            for runnable in queued {
                if catch_unwind(AssertUnwindSafe(|| drop(runnable))).is_err() {
                    tracing::error!("ringbolt: a task's destructor panicked during shutdown");
                }
            }
        }
        let timers = std::mem::replace(&mut *self.timers.borrow_mut(), Wheel::new(Instant::now()));
        drop(timers);
        let (done, orphans) = match self.ring() {
            Some(ring) => {
                let mut driver = ring.borrow_mut();
                let done = driver.cancel_all_and_wait(SHUTDOWN_IO_LIMIT);
                (done, driver.take_finished_orphans())
            }
            None => (true, Vec::new()),
        };
        drop(orphans);
        if done {
            registry::unregister(self.id);
            self.shared.close();
        } else {
            tracing::error!(
                "ringbolt: in-flight io_uring ops did not finish within {:?} of shutdown",
                SHUTDOWN_IO_LIMIT
            );
        }
    }
}

/// Spawns a `Send` future onto worker `target` from any thread: the task is
/// created with `target` as its home worker and queued there.
pub(crate) fn spawn_onto<F>(
    target: &Arc<Shared>,
    future: F,
    meta: TaskMeta,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    target.metrics.counters.tasks_spawned.inc_shared();
    let meta = meta.homed(target.clone());
    let (runnable, task) = async_task::Builder::new()
        .metadata(meta)
        .spawn(move |m| Harness::new(future, m), schedule);
    let waker = runnable.waker();
    runnable.schedule();
    JoinHandle::new(task, waker)
}

/// The schedule function of every worker task: its home worker's local
/// run queue when called on that worker's thread, its remote queue
/// otherwise. A plain fn (zero-sized): see [`TaskMeta::home`].
fn schedule(runnable: Runnable) {
    let Some(home) = runnable.metadata().home.as_ref() else {
        // Every worker task is spawned with a home; dropping the Runnable
        // would cancel the task, so it never gets here.
        unreachable!("ringbolt: a worker task without a home worker");
    };
    let home_id = home.id;
    let mut runnable = Some(runnable);
    context::with_current(|w| {
        if w.id == home_id {
            if let Some(r) = runnable.take() {
                w.run_queue.borrow_mut().push_back(r);
            }
        }
    });
    if let Some(r) = runnable {
        // The clone keeps the queue alive across the push, after which the
        // task (and its metadata) may already run and finish elsewhere.
        let home = r.metadata().home.clone();
        if let Some(home) = home {
            home.push(Remote::Task(r));
        }
    }
}

/// The waker of the future driven by `block_on`.
pub(crate) struct MainWaker {
    pub(crate) woken: AtomicBool,
    shared: Arc<Shared>,
}

impl MainWaker {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        MainWaker {
            woken: AtomicBool::new(true),
            shared,
        }
    }
}

impl std::task::Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.woken.swap(true, Ordering::AcqRel) && context::current_id() != Some(self.shared.id)
        {
            self.shared.notify();
        }
    }
}
