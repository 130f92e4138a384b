//! [`JoinHandle`] and [`JoinError`].

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::meta::TaskMeta;
use super::raw::TaskHandle;

/// An owned permission to await a task's output: a future of
/// `Result<T, JoinError>`.
///
/// Dropping the handle detaches the task (it keeps running), as in tokio;
/// call [`JoinHandle::abort`] to cancel it.
pub struct JoinHandle<T> {
    inner: Inner<T>,
    id: u64,
}

enum Inner<T> {
    /// A worker task (ours).
    Task {
        task: TaskHandle,
        _output: PhantomData<fn() -> T>,
    },
    /// A closure on the blocking pool (an async-task task).
    Blocking {
        task: Option<async_task::FallibleTask<Result<T, JoinError>, TaskMeta>>,
        /// The task's own waker: `abort` wakes the task so that the pool
        /// sees the abort flag.
        waker: Waker,
        /// The task's metadata, inside the task allocation.
        meta: NonNull<TaskMeta>,
    },
}

// SAFETY: `meta` points to the task's `TaskMeta`, which is `Sync` (plain data
// and an atomic); `TaskHandle` is `Send + Sync`; the output crosses threads
// only when `T` is `Send` (what async-task requires of its own handle).
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: as above; `&JoinHandle` only reads the metadata and the finished
// flag, and wakes.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    fn meta(&self) -> &TaskMeta {
        match &self.inner {
            Inner::Task { task, .. } => &task.header().meta,
            // SAFETY: the metadata lives in the task's allocation, which async-task frees only after
            // every handle is gone: this handle's waker (a reference to the task) lives as long as
            // `self`. It is never mutated except through its atomics.
            Inner::Blocking { meta, .. } => unsafe { meta.as_ref() },
        }
    }

    /// The handle of a worker task whose future's output is `T`.
    pub(crate) fn from_task(task: TaskHandle) -> Self {
        let id = task.header().meta.id;
        JoinHandle {
            inner: Inner::Task {
                task,
                _output: PhantomData,
            },
            id,
        }
    }

    /// The handle of a blocking-pool task.
    pub(crate) fn blocking(
        task: async_task::Task<Result<T, JoinError>, TaskMeta>,
        waker: Waker,
    ) -> Self {
        let id = task.metadata().id;
        let meta = NonNull::from(task.metadata());
        JoinHandle {
            inner: Inner::Blocking {
                task: Some(task.fallible()),
                waker,
                meta,
            },
            id,
        }
    }

    /// Cancels the task at its next suspension: its future is dropped on its
    /// own worker (cancelling its in-flight I/O) and awaiting this handle
    /// gives a [`JoinError`] for which `is_cancelled()` is true. A task that
    /// already finished keeps its output. For `spawn_blocking` tasks, only a
    /// closure that has not started yet is cancelled.
    pub fn abort(&self) {
        if self.is_finished() {
            return;
        }
        self.meta().abort();
        match &self.inner {
            Inner::Task { task, .. } => task.wake_by_ref(),
            Inner::Blocking { waker, .. } => waker.wake_by_ref(),
        }
    }

    /// Whether the task has finished (completed, panicked or cancelled).
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            // SAFETY: the handle was made for a task whose output is `T`.
            Inner::Task { task, .. } => unsafe { task.join::<T>() }.done,
            Inner::Blocking { task, .. } => task.as_ref().is_none_or(|t| t.is_finished()),
        }
    }

    /// A process-unique number identifying the task.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        super::coop::budgeted(cx, |cx| self.poll_output(cx))
    }
}

impl<T> JoinHandle<T> {
    fn poll_output(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        let id = self.id;
        match &mut self.inner {
            Inner::Task { task, .. } => {
                // SAFETY: the handle was made for a task whose output is `T`.
                let mut join = unsafe { task.join::<T>() };
                if let Some(out) = join.output.take() {
                    return Poll::Ready(out);
                }
                if join.done {
                    panic!("JoinHandle polled after completion");
                }
                match &mut join.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    slot => *slot = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Inner::Blocking { task, .. } => {
                let Some(t) = task.as_mut() else {
                    panic!("JoinHandle polled after completion");
                };
                match Pin::new(t).poll(cx) {
                    Poll::Ready(out) => {
                        *task = None;
                        Poll::Ready(out.unwrap_or_else(|| Err(JoinError::cancelled(id))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        match &mut self.inner {
            Inner::Task { task, .. } => {
                let (output, waker) = {
                    // SAFETY: the handle was made for a task whose output is `T`.
                    let mut join = unsafe { task.join::<T>() };
                    join.handle = false;
                    (join.output.take(), join.waker.take())
                };
                // Dropped here, on the handle's thread, outside the lock. The
                // task may have finished before the handle was dropped: its
                // output's destructor must not unwind out of `drop` either.
                drop(waker);
                if let Some(out) = output {
                    super::raw::drop_unclaimed(out, self.meta());
                }
            }
            Inner::Blocking { task, .. } => {
                if let Some(task) = task.take() {
                    // Read while `task` keeps the allocation (and so the
                    // metadata) alive.
                    let (id, location) = (self.id, self.meta().location);
                    // Detaching a finished task drops its output here; its
                    // destructor runs after async-task has released the task,
                    // so a panic from it is contained like any other.
                    super::raw::contain_unclaimed(id, location, || task.detach());
                }
            }
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("name", &self.meta().name)
            .field("spawned_at", &self.meta().location)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a task produced no output: it was cancelled, or it panicked.
pub struct JoinError {
    id: u64,
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic { payload: Payload, message: String },
}

/// A panic payload that is only ever reached by value (`into_panic`), which
/// makes sharing `&JoinError` between threads harmless.
struct Payload(Box<dyn Any + Send + 'static>);

// SAFETY: no method gives shared (`&`) access to the boxed payload; it is only
// moved out by value through `JoinError::into_panic(self)`. A `&Payload` is
// therefore useless to another thread, so `Payload` may be `Sync`.
unsafe impl Sync for Payload {}

impl JoinError {
    pub(crate) fn cancelled(id: u64) -> Self {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(id: u64, payload: Box<dyn Any + Send + 'static>) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "Box<dyn Any>".to_string()
        };
        JoinError {
            id,
            repr: Repr::Panic {
                payload: Payload(payload),
                message,
            },
        }
    }

    /// The task was cancelled (aborted, or dropped at runtime shutdown).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic { .. })
    }

    /// The panic payload, to resume the panic with
    /// `std::panic::resume_unwind`.
    ///
    /// # Panics
    ///
    /// If the error is not a panic (check [`JoinError::is_panic`] first).
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("JoinError::into_panic called on a cancellation; check is_panic() first")
    }

    /// The panic payload, or the error itself if it is a cancellation.
    ///
    /// # Errors
    ///
    /// Gives `self` back when the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic { payload, .. } => Ok(payload.0),
            Repr::Cancelled => Err(self),
        }
    }

    /// The id of the task that failed.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic { message, .. } => write!(f, "task {} panicked: {message}", self.id),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({})", self.id),
            Repr::Panic { message, .. } => {
                write!(f, "JoinError::Panic({}, {message:?})", self.id)
            }
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for io::Error {
    fn from(e: JoinError) -> io::Error {
        let kind = if e.is_cancelled() {
            io::ErrorKind::Interrupted
        } else {
            io::ErrorKind::Other
        };
        io::Error::new(kind, e)
    }
}
