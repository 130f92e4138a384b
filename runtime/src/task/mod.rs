//! Tasks: spawning, joining, aborting, naming.
//!
//! A task is one allocation (see `raw.rs`): a header (reference count,
//! scheduling bits, vtable and the runtime's `TaskMeta`:
//! id, name, spawn location, abort flag, home worker), the join slot, and
//! the future.
//!
//! A task stays on the worker it was spawned on. Its waker is `Send + Sync`:
//! a wake on the worker's thread pushes the task to the local run queue
//! with no atomic operation, a wake from any other thread goes to the
//! worker's remote queue and signals the worker's eventfd. `abort` sets the
//! flag and wakes the task; the worker drops an aborted task's future
//! instead of polling it, on its own thread, so the task's in-flight I/O is
//! cancelled through the `Op` drop path. Closures of the blocking pool are
//! `async-task` tasks run by the pool's threads.

pub(crate) mod coop;
mod join;
mod meta;
pub(crate) mod raw;
mod yield_now;

use std::future::Future;
use std::panic::Location;

pub use crate::task_local::{AccessError, LocalKey, TaskLocalFuture};
pub use coop::{consume_budget, unconstrained, Unconstrained, TASK_BUDGET};
pub use join::{JoinError, JoinHandle};
pub(crate) use meta::TaskMeta;
pub use yield_now::yield_now;

use crate::executor::context;

/// A scheduled closure of the blocking pool.
pub(crate) type Runnable = async_task::Runnable<TaskMeta>;

#[track_caller]
fn current_worker_missing(what: &str) -> ! {
    panic!(
        "ringbolt::{what} must be called from inside a ringbolt runtime \
         (ringbolt::run or Runtime::block_on)"
    )
}

/// Spawns a `Send` future as a new task on the current worker.
///
/// The task starts running at the worker's next turn, concurrently with the
/// caller; await the [`JoinHandle`] for its output.
///
/// # Panics
///
/// When called outside a ringbolt runtime.
///
/// # Examples
///
/// ```
/// ringbolt_runtime::run(async {
///     let h = ringbolt_runtime::spawn(async { 6 * 7 });
///     assert_eq!(h.await.unwrap(), 42);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let location = Location::caller();
    context::with_current(|w| w.spawn(future, TaskMeta::new(None, location)))
        .unwrap_or_else(|| current_worker_missing("spawn"))
}

/// Spawns a future that need not be `Send` on this thread's worker; it
/// never leaves this thread.
///
/// # Panics
///
/// When called outside a ringbolt runtime.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// ringbolt_runtime::run(async {
///     let shared = Rc::new(5);
///     let s = shared.clone();
///     let h = ringbolt_runtime::spawn_local(async move { *s + 1 });
///     assert_eq!(h.await.unwrap(), 6);
/// });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let location = Location::caller();
    context::with_current(|w| w.spawn_local(future, TaskMeta::new(None, location)))
        .unwrap_or_else(|| current_worker_missing("spawn_local"))
}

/// Runs a blocking closure on the runtime's blocking pool and returns a
/// handle to its result. Use it for calls that cannot be made asynchronous
/// (CPU-heavy work, libraries that block).
///
/// A closure that panics gives a [`JoinError`] with `is_panic()`; the pool
/// keeps working. `abort` only cancels a closure that has not started.
///
/// # Panics
///
/// When called outside a ringbolt runtime.
///
/// # Examples
///
/// ```
/// ringbolt_runtime::run(async {
///     let h = ringbolt_runtime::spawn_blocking(|| std::thread::current().name().map(String::from));
///     assert_eq!(h.await.unwrap().as_deref(), Some("ringbolt-blocking"));
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let location = Location::caller();
    context::with_current(|w| w.blocking.spawn(f, TaskMeta::new(None, location)))
        .unwrap_or_else(|| current_worker_missing("spawn_blocking"))
}

/// Configures a task before spawning it (its name shows in diagnostics).
///
/// ```
/// ringbolt_runtime::run(async {
///     let h = ringbolt_runtime::task::Builder::new().name("conn").spawn(async { 1 });
///     assert_eq!(h.await.unwrap(), 1);
/// });
/// ```
#[derive(Debug, Default)]
pub struct Builder<'a> {
    name: Option<&'a str>,
}

impl<'a> Builder<'a> {
    /// A builder with no name set.
    pub fn new() -> Self {
        Builder { name: None }
    }

    /// Names the task.
    pub fn name(mut self, name: &'a str) -> Self {
        self.name = Some(name);
        self
    }

    #[track_caller]
    fn meta(&self) -> TaskMeta {
        TaskMeta::new(self.name.map(Into::into), Location::caller())
    }

    /// Spawns a `Send` future, like [`spawn`].
    ///
    /// # Panics
    ///
    /// When called outside a ringbolt runtime.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = self.meta();
        context::with_current(|w| w.spawn(future, meta))
            .unwrap_or_else(|| current_worker_missing("task::Builder::spawn"))
    }

    /// Spawns a future on this thread, like [`spawn_local`].
    ///
    /// # Panics
    ///
    /// When called outside a ringbolt runtime.
    #[track_caller]
    pub fn spawn_local<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let meta = self.meta();
        context::with_current(|w| w.spawn_local(future, meta))
            .unwrap_or_else(|| current_worker_missing("task::Builder::spawn_local"))
    }

    /// Runs a blocking closure, like [`spawn_blocking`].
    ///
    /// # Panics
    ///
    /// When called outside a ringbolt runtime.
    #[track_caller]
    pub fn spawn_blocking<F, T>(self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let meta = self.meta();
        context::with_current(|w| w.blocking.spawn(f, meta))
            .unwrap_or_else(|| current_worker_missing("task::Builder::spawn_blocking"))
    }
}
