//! Structured concurrency: [`TaskGroup`] (asyncio's `TaskGroup`), and the
//! gathering functions [`join_all`] and [`try_join_all`] (asyncio's
//! `gather`).
//!
//! # The rules of a group
//!
//! - **Children start at once.** [`TaskGroup::spawn`] is [`spawn`] plus
//!   bookkeeping: the child runs whether or not anyone joins yet.
//! - **Results in spawn order.** [`TaskGroup::join`] gives `Vec<T>` in the
//!   order the children were spawned, whatever order they finished in.
//! - **The first failure cancels the siblings.** A child that returns `Err`
//!   or panics fires the group's [token](TaskGroup::token) as it ends, and
//!   every other child stops: each is dropped at its next suspension, which
//!   cancels its in-flight io_uring operations (their buffers are freed
//!   once the kernel's completion is reaped, see [`Op`](crate::op::Op)).
//!   This happens at once, whether or not the group is being joined yet:
//!   every child watches the token. The group still **waits for every
//!   child**, then reports every error and panic that happened, also two
//!   raised at once, in one [`GroupError`]. Children cancelled this way
//!   count as neither errors nor panics.
//! - **No child outlives its group.** `join` returns only when every child
//!   has finished. Dropping a group that was not joined (or dropping the
//!   `join` future, e.g. when a [`timeout`](crate::time::timeout) around it
//!   expires) fires the token and aborts every child that still runs. An
//!   aborted child is dropped at its next suspension: one that is in the
//!   middle of a poll (on another worker) finishes that poll first, and its
//!   destructors run on its own worker shortly after the drop.
//!
//! # Nesting
//!
//! A group created inside a child of another group lives in that child's
//! future. When the outer group aborts the child, the worker drops its
//! future, the inner group is dropped with it, and the inner group aborts
//! its own children: cancellation reaches the whole subtree with no extra
//! wiring. Create the inner group with [`TaskGroup::with_parent`] to also
//! link the tokens, so that code that watches the inner token (instead of
//! being aborted) sees the outer cancellation at once.
//!
//! `TaskGroup::new()` does **not** find a parent group by itself: that would
//! need an ambient "current group" set around every poll of every child,
//! and a group moved into an unrelated task would silently inherit a
//! cancellation scope. Linking is explicit.
//!
//! # Compared with asyncio
//!
//! | asyncio | ringbolt |
//! |---|---|
//! | `async with asyncio.TaskGroup() as tg:` | `let mut g = TaskGroup::new();` ... `g.join().await` |
//! | `tg.create_task(coro)` | `g.spawn(fut)` (`fut` returns `Result<T, E>`) |
//! | `except* ValueError as eg:` | `Err(e) => for err in e { .. }` ([`GroupError`]) |
//! | `asyncio.gather(*aws)` | [`join_all`] (or `join!` for a fixed set) |
//!
//! [`spawn`]: crate::spawn

mod child;
mod error;
mod fail_fast;
mod gather;

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;

use futures_util::stream::{FuturesUnordered, Stream};
use ringbolt_sync::CancellationToken;

use child::Child;
pub use error::GroupError;
use fail_fast::{Ended, FailFast};
pub use gather::{join_all, try_join_all, JoinAll, TryJoinAll};

/// A set of child tasks that succeed or fail together (asyncio's
/// `TaskGroup`, trio's nursery).
///
/// Every child returns `Result<T, E>`; [`join`](TaskGroup::join) gives all
/// the `T`s in spawn order, or a [`GroupError`] with every `E` and panic.
/// See the [module docs](self) for the rules.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ringbolt_runtime::group::TaskGroup;
/// use ringbolt_runtime::time::sleep;
///
/// ringbolt_runtime::run(async {
///     let mut g = TaskGroup::new();
///     for i in 0..3u64 {
///         g.spawn(async move {
///             sleep(Duration::from_millis(30 - 10 * i)).await; // finish in reverse
///             Ok::<_, std::io::Error>(i * 10)
///         });
///     }
///     assert_eq!(g.join().await.unwrap(), [0, 10, 20]);
/// });
/// ```
///
/// The first failure cancels the others:
///
/// ```
/// use std::time::{Duration, Instant};
/// use ringbolt_runtime::group::TaskGroup;
/// use ringbolt_runtime::time::sleep;
///
/// ringbolt_runtime::run(async {
///     let start = Instant::now();
///     let mut g = TaskGroup::new();
///     g.spawn(async {
///         sleep(Duration::from_secs(10)).await;
///         Ok(())
///     });
///     g.spawn(async { Err("bad input") });
///     let err = g.join().await.unwrap_err();
///     assert_eq!(err.errors(), ["bad input"]);
///     assert_eq!(err.cancelled(), 1);
///     assert!(start.elapsed() < Duration::from_secs(1));
/// });
/// ```
#[must_use = "a TaskGroup aborts its children when dropped; join it"]
pub struct TaskGroup<T, E> {
    children: FuturesUnordered<Child<T, E>>,
    spawned: usize,
    token: CancellationToken,
}

impl<T, E> TaskGroup<T, E> {
    /// An empty group with a fresh token.
    pub fn new() -> Self {
        Self::with_token(CancellationToken::new())
    }

    /// An empty group whose token is a [child](CancellationToken::child_token)
    /// of `parent`: cancelling `parent` cancels the group (its token fires
    /// and its children stop at their next suspension).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::group::TaskGroup;
    /// use ringbolt_sync::CancellationToken;
    /// ringbolt_runtime::run(async {
    ///     let shutdown = CancellationToken::new();
    ///     let mut g = TaskGroup::with_parent(&shutdown);
    ///     let token = g.token();
    ///     g.spawn(async move {
    ///         token.cancelled().await;
    ///         Ok::<_, ()>("stopped")
    ///     });
    ///     shutdown.cancel();
    ///     assert!(g.token().is_cancelled());
    ///     // The child stops before it runs: the group failed.
    ///     assert_eq!(g.join().await.unwrap_err().cancelled(), 1);
    /// });
    /// ```
    pub fn with_parent(parent: &CancellationToken) -> Self {
        Self::with_token(parent.child_token())
    }

    fn with_token(token: CancellationToken) -> Self {
        TaskGroup {
            children: FuturesUnordered::new(),
            spawned: 0,
            token,
        }
    }

    /// Spawns a child task (with [`spawn`](crate::spawn)); it starts at once.
    ///
    /// If the group is already cancelled, the child is aborted before it
    /// first runs.
    ///
    /// # Panics
    ///
    /// When called outside a ringbolt runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F)
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let handle = crate::task::spawn(FailFast::new(future, self.token.clone()));
        self.push(handle);
    }

    /// Spawns a child that need not be `Send`, on this thread (with
    /// [`spawn_local`](crate::spawn_local)).
    ///
    /// # Panics
    ///
    /// When called outside a ringbolt runtime.
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F)
    where
        F: Future<Output = Result<T, E>> + 'static,
        T: 'static,
        E: 'static,
    {
        let handle = crate::task::spawn_local(FailFast::new(future, self.token.clone()));
        self.push(handle);
    }

    fn push(&mut self, handle: crate::JoinHandle<Ended<T, E>>) {
        if self.token.is_cancelled() {
            handle.abort();
        }
        self.children.push(Child::new(self.spawned, handle));
        self.spawned += 1;
    }

    /// The group's cancellation token: it fires when the group cancels
    /// (first failure, [`cancel`](TaskGroup::cancel), drop before the end,
    /// or the parent token of [`with_parent`](TaskGroup::with_parent)).
    /// Give it to children that should stop cooperatively, or use it as the
    /// parent of a nested group.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Cancels the group: fires the token and aborts every child still
    /// running. [`join`](TaskGroup::join) then returns a [`GroupError`]
    /// (unless every child had already finished with `Ok`).
    pub fn cancel(&self) {
        self.token.cancel();
        self.abort_all();
    }

    fn abort_all(&self) {
        for child in self.children.iter() {
            child.abort();
        }
    }

    /// How many children were spawned into the group.
    pub fn len(&self) -> usize {
        self.spawned
    }

    /// Whether no child was spawned yet.
    pub fn is_empty(&self) -> bool {
        self.spawned == 0
    }

    /// Waits for every child; their results in spawn order.
    ///
    /// # Errors
    ///
    /// A [`GroupError`] if any child returned `Err`, panicked, or was
    /// cancelled (the first failure cancels the others; all errors and
    /// panics are kept).
    pub async fn join(mut self) -> Result<Vec<T>, GroupError<E>> {
        let mut results: Vec<Option<T>> =
            std::iter::repeat_with(|| None).take(self.spawned).collect();
        let mut failure = GroupError::new();
        let token = self.token.clone();
        let mut cancelled = pin!(token.cancelled());
        let mut aborted = false;
        poll_fn(|cx| loop {
            if !aborted && cancelled.as_mut().poll(cx).is_ready() {
                self.cancel();
                aborted = true;
            }
            match Pin::new(&mut self.children).poll_next(cx) {
                Poll::Ready(Some((index, outcome))) => {
                    match outcome {
                        Ok(Ok(value)) => {
                            if let Some(slot) = results.get_mut(index) {
                                *slot = Some(value);
                            }
                        }
                        Ok(Err(e)) => failure.push_error(e),
                        Err(e) => failure.push_join_error(e),
                    }
                    if !aborted && !failure.is_empty() {
                        self.cancel();
                        aborted = true;
                    }
                }
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        })
        .await;
        if failure.is_empty() {
            Ok(results.into_iter().flatten().collect())
        } else {
            Err(failure)
        }
    }
}

impl<T, E> Default for TaskGroup<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> Drop for TaskGroup<T, E> {
    /// Aborts the children that still run, and fires the token if there
    /// were any (a joined group has none left, so its token is untouched).
    fn drop(&mut self) {
        if !self.children.is_empty() {
            self.cancel();
        }
    }
}

impl<T, E> fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("spawned", &self.spawned)
            .field("unjoined", &self.children.len())
            .field("cancelled", &self.token.is_cancelled())
            .finish()
    }
}
