//! The blocking pool: threads for the calls that cannot be asynchronous.
//!
//! One pool per runtime, shared by its workers. A job is a task (the same
//! allocation and [`JoinHandle`] as any other task) whose future runs the
//! closure in one poll; its schedule function queues it here. The pool
//! starts a thread when a job arrives and no thread is idle, up to
//! `max_threads`; an idle thread leaves after `keep_alive`. When the runtime
//! shuts down, jobs not started yet are cancelled and running ones finish
//! on their detached threads.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

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
    max_threads: usize,
    keep_alive: Duration,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Runnable>,
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
                max_threads: max_threads.max(1),
                keep_alive,
            }),
        }
    }

    /// Runs `f` on the pool.
    pub(crate) fn spawn<F, T>(&self, f: F, meta: TaskMeta) -> JoinHandle<T>
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
            .spawn(move |_| job, move |r| inner.push(r));
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
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(self: &Arc<Self>, runnable: Runnable) {
        let mut st = self.lock();
        if st.shutdown {
            drop(st);
            drop(runnable);
            return;
        }
        st.queue.push_back(runnable);
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
            if let Some(job) = st.queue.pop_front() {
                drop(st);
                if job.metadata().is_aborted() {
                    drop(job);
                } else {
                    // The job's future catches the closure's panic itself.
                    let _ = catch_unwind(AssertUnwindSafe(|| job.run()));
                }
                st = self.lock();
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
