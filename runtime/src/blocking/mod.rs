//! The blocking pool: threads for the calls that cannot be asynchronous.
//!
//! One pool per runtime, shared by its workers. A job is a task (the same
//! allocation and [`JoinHandle`] as any other task) whose future runs the
//! closure in one poll; its schedule function queues it here. The pool
//! starts a thread when a job arrives and no thread is idle, up to
//! `max_threads`; an idle thread leaves after `keep_alive`.
//!
//! When the runtime shuts down, jobs not started yet are cancelled, and the
//! runtime's drop waits for the closures of `spawn_blocking` that are
//! running (as tokio's runtime and asyncio's default executor do): their
//! side effects, a file written say, are complete when the drop returns
//! (see [`BlockingPool::wait_for_closures`]). The blocking path of an I/O
//! op ([`BlockingPool::spawn_op`]) is not waited for: its future was
//! dropped with its task, so nobody can see its result, and the call may
//! block for as long as the descriptor does (a pipe, a terminal, a
//! `connect`); it finishes on its detached thread.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::task::{JoinError, JoinHandle, Runnable, TaskMeta};

/// The shared pool.
#[derive(Debug)]
pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    cond: Condvar,
    /// Signalled when the last running closure of `spawn_blocking` ends.
    closures_done: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

#[derive(Debug, Default)]
struct State {
    /// Jobs not started yet, each with whether it is a `spawn_blocking`
    /// closure (`true`) or an op's blocking path.
    queue: VecDeque<(Runnable, bool)>,
    /// `spawn_blocking` closures a thread is running now.
    running_closures: usize,
    threads: usize,
    idle: usize,
    /// Wake-ups handed to idle threads and not consumed yet.
    notified: usize,
    shutdown: bool,
    /// Why the last thread start failed (its kind and text), if one did.
    spawn_error: Option<(std::io::ErrorKind, String)>,
}

impl BlockingPool {
    /// A pool of at most `max_threads` (≥ 1) threads.
    pub(crate) fn new(max_threads: usize, keep_alive: Duration) -> Self {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                cond: Condvar::new(),
                closures_done: Condvar::new(),
                max_threads: max_threads.max(1),
                keep_alive,
            }),
        }
    }

    /// Runs `f`, a closure of `spawn_blocking`, on the pool; the runtime's
    /// drop waits for it once it runs.
    pub(crate) fn spawn<F, T>(&self, f: F, meta: TaskMeta) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_as(f, meta, true)
    }

    /// Runs `f`, the blocking path of an I/O op, on the pool; the
    /// runtime's drop does not wait for it (see the module docs).
    pub(crate) fn spawn_op<F, T>(&self, f: F, meta: TaskMeta) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_as(f, meta, false)
    }

    fn spawn_as<F, T>(&self, f: F, meta: TaskMeta, closure: bool) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let id = meta.id;
        let inner = self.inner.clone();
        let job = async move {
            catch_unwind(AssertUnwindSafe(f)).map_err(|payload| JoinError::panic(id, payload))
        };
        let (runnable, task) = async_task::Builder::new()
            .metadata(meta)
            .spawn(move |_| job, move |r| inner.push(r, closure));
        let waker = runnable.waker();
        runnable.schedule();
        JoinHandle::blocking(task, waker)
    }

    /// Threads alive now.
    pub(crate) fn threads(&self) -> usize {
        self.inner.lock().threads
    }

    /// Jobs waiting for a thread.
    pub(crate) fn queue_depth(&self) -> usize {
        self.inner.lock().queue.len()
    }

    /// The error for a job that was cancelled before any thread ran it:
    /// the pool shut down, or it could not start a thread (then with that
    /// failure's kind and reason, e.g. `WouldBlock` for `EAGAIN` under a
    /// pids limit).
    pub(crate) fn unavailable(&self) -> std::io::Error {
        let st = self.inner.lock();
        match &st.spawn_error {
            Some((kind, why)) if !st.shutdown => std::io::Error::new(
                *kind,
                format!("ringbolt: no blocking-pool thread could run this operation: {why}"),
            ),
            _ => std::io::Error::other(
                "ringbolt: the blocking pool shut down before this operation ran",
            ),
        }
    }

    /// Cancels the jobs not started yet and lets idle threads leave.
    pub(crate) fn shutdown(&self) {
        let queued = {
            let mut st = self.inner.lock();
            st.shutdown = true;
            std::mem::take(&mut st.queue)
        };
        self.inner.cond.notify_all();
        drop(queued);
    }

    /// After [`shutdown`](BlockingPool::shutdown): waits until no closure
    /// of `spawn_blocking` is running, for at most `limit` (`None`: for as
    /// long as they run). `false` if some still ran when the limit passed;
    /// they go on on their threads.
    pub(crate) fn wait_for_closures(&self, limit: Option<Duration>) -> bool {
        let deadline = limit.map(|l| Instant::now() + l);
        let mut st = self.inner.lock();
        while st.running_closures > 0 {
            st = match deadline {
                None => self
                    .inner
                    .closures_done
                    .wait(st)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.inner
                        .closures_done
                        .wait_timeout(st, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        true
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(self: &Arc<Self>, runnable: Runnable, closure: bool) {
        let mut st = self.lock();
        if st.shutdown {
            drop(st);
            drop(runnable);
            return;
        }
        st.queue.push_back((runnable, closure));
        if st.idle > st.notified {
            st.notified += 1;
            drop(st);
            self.cond.notify_one();
        } else if st.threads < self.max_threads {
            st.threads += 1;
            drop(st);
            let inner = self.clone();
            let spawned = std::thread::Builder::new()
                .name("ringbolt-blocking".into())
                .spawn(move || inner.run());
            if let Err(e) = spawned {
                let mut st = self.lock();
                st.threads -= 1;
                st.spawn_error = Some((e.kind(), format!("could not start a thread ({e})")));
                let orphaned = if st.threads == 0 {
                    std::mem::take(&mut st.queue)
                } else {
                    VecDeque::new()
                };
                drop(st);
                tracing::error!("ringbolt: could not start a blocking-pool thread: {e}");
                // With no thread to run them, the queued jobs are cancelled
                // (their handles report a cancellation, and I/O ops the
                // error of `unavailable`) rather than lost.
                drop(orphaned);
            }
        }
    }

    fn run(self: Arc<Self>) {
        let mut st = self.lock();
        loop {
            if let Some((job, closure)) = st.queue.pop_front() {
                // Counted under the lock that took it off the queue, so a
                // shutdown that finds the queue empty sees it running.
                if closure {
                    st.running_closures += 1;
                }
                drop(st);
                if job.metadata().is_aborted() {
                    drop(job);
                } else {
                    // The job's future catches the closure's panic itself.
                    let _ = catch_unwind(AssertUnwindSafe(|| job.run()));
                }
                st = self.lock();
                if closure {
                    st.running_closures -= 1;
                    if st.running_closures == 0 {
                        self.closures_done.notify_all();
                    }
                }
                continue;
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            let (guard, res) = self
                .cond
                .wait_timeout(st, self.keep_alive)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
            st.idle -= 1;
            if st.notified > 0 {
                st.notified -= 1;
            } else if res.timed_out() && st.queue.is_empty() {
                break;
            }
        }
        st.threads -= 1;
    }
}
