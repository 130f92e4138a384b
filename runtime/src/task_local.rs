//! Task-local values: [`task_local!`](crate::task_local!), [`LocalKey`] and
//! [`TaskLocalFuture`] (Python's `contextvars`, tokio's `task_local!`).
//!
//! A task-local value is set for the extent of a future with
//! [`LocalKey::scope`] (or of a closure with [`LocalKey::sync_scope`]) and
//! read inside it with [`LocalKey::with`] / [`LocalKey::try_with`] /
//! [`LocalKey::get`]. Two tasks with different values interleaving on one
//! worker each see their own.
//!
//! # How it works
//!
//! Like tokio: each key is a `std` thread-local `RefCell<Option<T>>`. The
//! [`TaskLocalFuture`] returned by `scope` owns the value; around each poll
//! of the inner future (and around its drop) it swaps the value into the
//! thread-local and back out afterwards. Between polls the value lives in
//! the future, so the task may move to another thread between polls.
//!
//! # Not inherited by spawned tasks (unlike `contextvars`)
//!
//! In Python, `asyncio.create_task` *copies* the current context into the
//! new task, so a `ContextVar` set by the parent is visible in the child. A
//! ringbolt task spawned inside a scope does **not** see the scope's value
//! (as in tokio): the value belongs to the future that was wrapped, not to
//! the thread or to the tasks it spawns. Pass the value explicitly:
//!
//! ```
//! ringbolt_runtime::task_local! {
//!     static REQUEST_ID: u64;
//! }
//!
//! ringbolt_runtime::run(REQUEST_ID.scope(7, async {
//!     // Not inherited: the child is outside every scope.
//!     let child = ringbolt_runtime::spawn(async { REQUEST_ID.try_with(|id| *id).is_err() });
//!     assert!(child.await.unwrap());
//!
//!     // Explicit: read the value here, open a scope in the child.
//!     let id = REQUEST_ID.get();
//!     let child = ringbolt_runtime::spawn(REQUEST_ID.scope(id, async { REQUEST_ID.get() }));
//!     assert_eq!(child.await.unwrap(), 7);
//! }));
//! ```

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread;

/// Declares task-local keys of type [`LocalKey`], with tokio's syntax.
///
/// Each `static NAME: T;` becomes a `static NAME: LocalKey<T>` (visibility
/// and attributes are kept). See [`LocalKey`] for setting and reading it.
///
/// # Examples
///
/// ```
/// ringbolt_runtime::task_local! {
///     /// The id of the request being served.
///     pub static REQUEST_ID: u64;
///     static USER: String;
/// }
///
/// ringbolt_runtime::run(async {
///     REQUEST_ID
///         .scope(42, USER.scope("ada".to_string(), async {
///             assert_eq!(REQUEST_ID.get(), 42);
///             USER.with(|u| assert_eq!(u, "ada"));
///         }))
///         .await;
///     assert!(REQUEST_ID.try_with(|_| ()).is_err());
/// });
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_inner {
    ($(#[$attr:meta])* $vis:vis $name:ident, $t:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::task_local::LocalKey<$t> = {
            ::std::thread_local! {
                static __RINGBOLT_KEY: ::std::cell::RefCell<::std::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            $crate::task_local::LocalKey { inner: __RINGBOLT_KEY }
        };
    };
}

/// A key for task-local values, declared with
/// [`task_local!`](crate::task_local!).
///
/// The value is set for the extent of a future ([`scope`](LocalKey::scope))
/// or a closure ([`sync_scope`](LocalKey::sync_scope)); nested scopes
/// shadow outer ones and restore them when they end.
pub struct LocalKey<T: 'static> {
    #[doc(hidden)]
    pub inner: thread::LocalKey<RefCell<Option<T>>>,
}

impl<T: 'static> LocalKey<T> {
    /// Runs `future` with the key set to `value`; the value is dropped with
    /// the returned future.
    ///
    /// # Examples
    ///
    /// ```
    /// ringbolt_runtime::task_local! { static DEPTH: u32; }
    /// ringbolt_runtime::run(async {
    ///     let inner = DEPTH.scope(1, async {
    ///         let before = DEPTH.get();
    ///         let nested = DEPTH.scope(2, async { DEPTH.get() }).await;
    ///         (before, nested, DEPTH.get())
    ///     });
    ///     assert_eq!(inner.await, (1, 2, 1));
    /// });
    /// ```
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            local: self,
            slot: Some(value),
            future: Some(future),
        }
    }

    /// Runs the closure `f` with the key set to `value`, and returns its
    /// result.
    ///
    /// # Panics
    ///
    /// When called inside [`with`](LocalKey::with) of the same key (the
    /// value is borrowed), or while the thread is being torn down.
    ///
    /// # Examples
    ///
    /// ```
    /// ringbolt_runtime::task_local! { static LEVEL: &'static str; }
    /// assert_eq!(LEVEL.sync_scope("debug", || LEVEL.get()), "debug");
    /// ```
    #[track_caller]
    pub fn sync_scope<F, R>(&'static self, value: T, f: F) -> R
    where
        F: FnOnce() -> R,
    {
        let mut slot = Some(value);
        match self.scope_inner(&mut slot, f) {
            Ok(r) => r,
            Err(e) => e.panic(),
        }
    }

    /// Swaps `slot` into the thread-local, runs `f`, and swaps it back (also
    /// if `f` panics).
    fn scope_inner<F, R>(&'static self, slot: &mut Option<T>, f: F) -> Result<R, ScopeError>
    where
        F: FnOnce() -> R,
    {
        struct Restore<'a, T: 'static> {
            local: &'static LocalKey<T>,
            slot: &'a mut Option<T>,
        }

        impl<T: 'static> Drop for Restore<'_, T> {
            fn drop(&mut self) {
                // The borrow cannot be held here: `with` borrows only inside
                // its closure, which has returned. If the thread-local is
                // gone (thread teardown) the value stays where it is.
                let _ = self.local.inner.try_with(|cell| {
                    if let Ok(mut current) = cell.try_borrow_mut() {
                        std::mem::swap(self.slot, &mut *current);
                    }
                });
            }
        }

        self.inner
            .try_with(|cell| {
                cell.try_borrow_mut()
                    .map(|mut current| std::mem::swap(slot, &mut *current))
                    .map_err(|_| ScopeError::Borrowed)
            })
            .map_err(|_| ScopeError::Destroyed)??;
        let restore = Restore { local: self, slot };
        let r = f();
        drop(restore);
        Ok(r)
    }

    /// Calls `f` with a reference to the value of the innermost scope.
    ///
    /// # Panics
    ///
    /// Outside any scope of this key (use [`try_with`](LocalKey::try_with)
    /// to get an error instead), as tokio does.
    #[track_caller]
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        match self.try_with(f) {
            Ok(r) => r,
            Err(_) => panic!(
                "task-local value accessed outside its scope: wrap the future in \
                 `KEY.scope(value, future)` (spawned tasks do not inherit it)"
            ),
        }
    }

    /// Calls `f` with a reference to the value of the innermost scope.
    ///
    /// # Errors
    ///
    /// [`AccessError`] outside any scope of this key (for example in a task
    /// spawned from inside a scope: values are not inherited).
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        let result = self.inner.try_with(|cell| {
            // The shared borrow is held while `f` runs: a `scope` of the
            // same key inside `f` panics instead of swapping the value
            // away from under the reference.
            let current = cell.try_borrow().ok()?;
            Some(f(current.as_ref()?))
        });
        match result {
            Ok(Some(r)) => Ok(r),
            _ => Err(AccessError { _private: () }),
        }
    }
}

impl<T: Clone + 'static> LocalKey<T> {
    /// A clone of the value of the innermost scope.
    ///
    /// # Panics
    ///
    /// Outside any scope of this key, like [`with`](LocalKey::with).
    #[track_caller]
    pub fn get(&'static self) -> T {
        self.with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("LocalKey { .. }")
    }
}

/// Why a scope could not be entered.
enum ScopeError {
    /// The value is borrowed by a `with` call of the same key.
    Borrowed,
    /// The thread-local was destroyed (thread teardown).
    Destroyed,
}

impl ScopeError {
    #[track_caller]
    fn panic(self) -> ! {
        match self {
            ScopeError::Borrowed => panic!(
                "cannot enter a task-local scope while the task-local value is borrowed \
                 (inside `with` of the same key)"
            ),
            ScopeError::Destroyed => {
                panic!("cannot enter a task-local scope while the thread is being torn down")
            }
        }
    }
}

/// The error of [`LocalKey::try_with`] outside a scope of the key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError {
    _private: (),
}

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessError")
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set (outside its scope)")
    }
}

impl Error for AccessError {}

/// A future with a task-local value set around each of its polls: the
/// future returned by [`LocalKey::scope`].
///
/// The inner future is also dropped inside the scope, so its destructors
/// can read the value.
#[must_use = "a TaskLocalFuture does nothing unless awaited"]
pub struct TaskLocalFuture<T: 'static, F> {
    local: &'static LocalKey<T>,
    /// The value while the inner future is not being polled.
    slot: Option<T>,
    /// `None` once the inner future has completed (it is dropped then).
    /// Structurally pinned (the type is `Unpin` only when `F` is).
    future: Option<F>,
}

impl<T: 'static, F> TaskLocalFuture<T, F> {
    /// Takes the value out, if the future has not started yet or has
    /// completed (the value is inside the thread-local only during a poll).
    pub fn take_value(self: Pin<&mut Self>) -> Option<T> {
        // SAFETY: `slot` is not structurally pinned (it is moved in and out
        // of the thread-local on every poll); `future` is not touched.
        let this = unsafe { self.get_unchecked_mut() };
        this.slot.take()
    }
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: it is only ever dropped
        // in place (assigned `None`) and never moved out; `slot` and `local`
        // are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let future = &mut this.future;
        let polled = this.local.scope_inner(&mut this.slot, || {
            let fut = future.as_mut()?;
            // SAFETY: see above: `fut` lives in the pinned `TaskLocalFuture`
            // and is never moved; it is dropped in place below.
            let poll = unsafe { Pin::new_unchecked(fut) }.poll(cx);
            if poll.is_ready() {
                // Drop the finished future inside the scope.
                *future = None;
            }
            Some(poll)
        });
        match polled {
            Ok(Some(poll)) => poll,
            Ok(None) => panic!("TaskLocalFuture polled after completion"),
            Err(e) => e.panic(),
        }
    }
}

impl<T: 'static, F> Drop for TaskLocalFuture<T, F> {
    fn drop(&mut self) {
        if self.future.is_some() {
            let future = &mut self.future;
            // Drop the inner future in place, inside the scope. If the scope
            // cannot be entered (thread teardown), it is dropped outside it
            // with the other fields.
            let _ = self.local.scope_inner(&mut self.slot, || *future = None);
        }
    }
}

impl<T: 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalFuture")
            .field("value_set", &self.slot.is_some())
            .field("completed", &self.future.is_none())
            .finish()
    }
}
