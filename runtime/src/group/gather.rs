//! [`join_all`] and [`try_join_all`]: asyncio's `gather` over a dynamic
//! number of futures, polled in place on the calling task.
//!
//! These are `futures-util`'s implementations (for many futures they use a
//! `FuturesOrdered`, so each wake-up polls only the futures that were
//! woken, not all of them), under ringbolt's names and docs.

use std::future::Future;

pub use futures_util::future::{JoinAll, TryJoinAll};

/// Runs every future of `iter` concurrently on this task and gives their
/// outputs in order (asyncio's `gather`).
///
/// The futures are not spawned: they make progress only while the returned
/// future is polled, and are dropped with it (which cancels their in-flight
/// I/O). To run them in parallel on other workers, spawn them (or use a
/// [`TaskGroup`](super::TaskGroup)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// ringbolt_runtime::run(async {
///     let fetches = (0..5u64).map(|i| async move {
///         ringbolt_runtime::time::sleep(Duration::from_millis(5 * (5 - i))).await;
///         i * 2
///     });
///     assert_eq!(ringbolt_runtime::join_all(fetches).await, [0, 2, 4, 6, 8]);
/// });
/// ```
pub fn join_all<I>(iter: I) -> JoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    futures_util::future::join_all(iter)
}

/// Like [`join_all`] for futures of `Result`: all the `Ok` values in
/// order, or the first `Err`, at which point the other futures are
/// dropped.
///
/// # Errors
///
/// The first error any of the futures returns.
///
/// # Examples
///
/// ```
/// ringbolt_runtime::run(async {
///     let ok = (1..=3).map(|i| async move { Ok::<_, String>(i) });
///     assert_eq!(ringbolt_runtime::try_join_all(ok).await, Ok(vec![1, 2, 3]));
///     let parse = ["1", "x"].map(|s| async move { s.parse::<i32>() });
///     assert!(ringbolt_runtime::try_join_all(parse).await.is_err());
/// });
/// ```
pub fn try_join_all<I, T, E>(iter: I) -> TryJoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    futures_util::future::try_join_all(iter)
}
