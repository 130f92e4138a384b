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
//! completions: after `BUDGET` polls the ring gets its turn. A task whose
//! awaits are all ready at once does return from its poll too: each poll
//! has a budget of ready results (`task::coop`), after which ringbolt's
//! futures return `Pending` and the task goes to the back of the queue.

pub(crate) mod context;
pub(crate) mod placement;
pub(crate) mod registry;
pub(crate) mod shared;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::blocking::BlockingPool;
use crate::driver::{Driver, Orphan, PoolDriver, RingConfig};
use crate::metrics::coarse_now;
use crate::metrics::worker::WorkerMetrics;
use crate::op::shells::Shells;
use crate::task::raw::{self, NewTask, TaskHandle, TaskRef};
use crate::task::{JoinHandle, TaskMeta};
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
    /// Scheduled tasks (uncounted: `tasks` keeps them alive).
    pub(crate) run_queue: RefCell<VecDeque<TaskRef>>,
    pub(crate) timers: RefCell<Wheel<Waker>>,
    /// Every task of this worker that is not done yet (one counted
    /// reference each), so that queued tasks stay alive and shutdown can
    /// reach and cancel every task.
    pub(crate) tasks: RefCell<Slab<TaskHandle>>,
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
    orphans: RefCell<Vec<Box<dyn Orphan>>>,
    /// Emptied detached-op boxes, refilled by the next submissions.
    pub(crate) shells: RefCell<Shells>,
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
            None => Io::Pool(RefCell::new(PoolDriver::new(shared.eventfd())?)),
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
            orphans: RefCell::new(Vec::new()),
            shells: RefCell::new(Shells::default()),
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

    /// The worker's thread-pool driver, if it runs one.
    pub(crate) fn pool(&self) -> Option<&RefCell<PoolDriver>> {
        match &self.io {
            Io::Uring(_) => None,
            Io::Pool(pool) => Some(pool),
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
        self.spawn_local(future, meta)
    }

    /// Spawns a future that may be `!Send`; it never leaves this thread:
    /// only this worker polls or drops a task it registered.
    pub(crate) fn spawn_local<F>(&self, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let meta = meta.homed(self.shared.clone());
        let (task, join) = raw::allocate(future, meta);
        self.metrics.counters.tasks_spawned.inc_shared();
        let task = self.register(task);
        self.run_queue.borrow_mut().push_back(task);
        JoinHandle::from_task(join)
    }

    /// Adds a new task (scheduled, not queued yet) to the task list.
    fn register(&self, task: TaskHandle) -> TaskRef {
        let r = task.task_ref();
        r.set_key(self.tasks.borrow_mut().insert(task));
        r
    }

    /// Removes a done task from the task list, releasing the list's
    /// reference (`task` may be freed by this).
    fn unregister(&self, task: TaskRef) {
        let handle = self.tasks.borrow_mut().try_remove(task.key());
        self.metrics.counters.tasks_finished.inc();
        drop(handle);
    }

    /// Runs one scheduled task (or cancels it if it was aborted).
    ///
    /// `clock` is the coarse time at the end of the previous poll of this
    /// batch (`None` with slow-poll detection off): a poll's duration is
    /// the difference to the time at its end, so each poll reads the clock
    /// once rather than twice.
    fn run_task(&self, task: TaskRef, clock: &mut Option<Duration>) {
        let counters = &self.metrics.counters;
        counters.polls.inc();
        let timed = self.metrics.sample(counters.polls.get()).then(Instant::now);
        let done = if task.is_aborted() {
            // SAFETY: on this worker's thread, and the task is registered here.
            unsafe { task.cancel() };
            // A cancellation (the future's drop) is not a poll: restart the
            // clock after it.
            if let Some(prev) = clock.as_mut() {
                *prev = coarse_now();
            }
            true
        } else {
            // SAFETY: on this worker's thread; the task was just popped from
            // its queue and is registered here.
            let done = unsafe { task.poll(|t| self.run_queue.borrow_mut().push_back(t)) };
            if let (Some(limit), Some(prev)) = (self.metrics.slow_poll, clock.as_mut()) {
                let now = coarse_now();
                let took = now.saturating_sub(*prev);
                *prev = now;
                if took >= limit {
                    self.report_slow(task, took);
                }
            }
            done
        };
        if done {
            self.unregister(task);
        }
        if let Some(t) = timed {
            self.metrics.record_poll(t.elapsed());
        }
    }

    /// Reports a poll that held the worker for `took` (at least the
    /// threshold): a warning naming the task, and a count.
    #[cold]
    fn report_slow(&self, task: TaskRef, took: Duration) {
        let meta = &task.header().meta;
        self.metrics.counters.slow_polls.inc();
        tracing::warn!(
            task.id = meta.id,
            task.name = meta.name.as_deref().unwrap_or("<unnamed>"),
            task.spawned_at = %meta.location,
            poll_ms = took.as_millis() as u64,
            "ringbolt: task {} ({}) spawned at {} blocked its worker for {} ms in one poll; \
             move blocking work to spawn_blocking",
            meta.id,
            meta.name.as_deref().unwrap_or("unnamed"),
            meta.location,
            took.as_millis()
        );
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
        let mut clock = self.metrics.slow_poll.map(|_| coarse_now());
        for _ in 0..BUDGET {
            let next = self.run_queue.borrow_mut().pop_front();
            match next {
                Some(task) => self.run_task(task, &mut clock),
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
                let mut orphans = std::mem::take(&mut *self.orphans.borrow_mut());
                let reaped = {
                    let mut driver = ring.borrow_mut();
                    let wait = wait && !driver.has_deferred_wakes();
                    if let Err(e) = driver.enter(wait, timeout) {
                        // Only a broken ring gets here (EBADF, EFAULT...).
                        panic!("ringbolt: io_uring_enter failed: {e}");
                    }
                    let reaped = driver.reap(&mut wakers);
                    driver.take_lent(&mut lent);
                    driver.move_finished_orphans(&mut orphans);
                    reaped
                };
                // Finished outside the borrow (a buffer's `Drop` and a
                // detached op's completion are user code); the vector keeps
                // its capacity for the next tick.
                for orphan in orphans.drain(..) {
                    orphan.finish(&self.shells);
                }
                *self.orphans.borrow_mut() = orphans;
                reaped.remote_wake
            }
            Io::Pool(pool) => pool
                .borrow_mut()
                .turn(wait, timeout, &mut wakers)
                .unwrap_or_else(|e| panic!("ringbolt: epoll_wait failed: {e}")),
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
                Remote::Task(new) => {
                    let task = self.register(new.arrive());
                    self.run_queue.borrow_mut().push_back(task);
                }
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
        // Woken outside every borrow (a waker may be user code).
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
            self.drain_remote();
            let live: Vec<TaskRef> = self
                .tasks
                .borrow()
                .iter()
                .map(|(_, t)| t.task_ref())
                .filter(|t| !t.is_done())
                .collect();
            if live.is_empty() {
                break;
            }
            // A future's drop may wake or spawn tasks: the next round gets
            // those spawned; the woken ones are cancelled here anyway.
            for task in live {
                // SAFETY: on this worker's thread; registered, hence alive.
                unsafe { task.cancel() };
            }
        }
        // Uncounted references first, then the counted ones.
        self.run_queue.borrow_mut().clear();
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        self.metrics.counters.tasks_finished.add(tasks.len() as u64);
        drop(tasks);
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
    let (task, join) = NewTask::new(future, meta.homed(target.clone()));
    target.push(Remote::Task(task));
    JoinHandle::from_task(join)
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
