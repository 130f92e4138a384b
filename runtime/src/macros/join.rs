//! `join!`: asyncio's `gather` over a fixed set of futures.

/// Runs several futures concurrently on this task and waits for all of
/// them; gives their outputs as a tuple (asyncio's `gather`, tokio's
/// `join!`).
///
/// The futures are polled in place (not spawned): they make progress only
/// while the `join!` is awaited, and are dropped with it. Each wake-up polls
/// the unfinished futures starting from a different one each time, so none
/// is starved; write `biased;` first to always poll in the order written.
/// Any expression implementing `IntoFuture` is accepted.
///
/// For a dynamic number of futures use [`join_all`](crate::join_all); to
/// stop at the first error, [`try_join!`](crate::try_join!).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ringbolt_runtime::time::sleep;
///
/// async fn work(name: &str, ms: u64) -> String {
///     sleep(Duration::from_millis(ms)).await;
///     format!("{name} finished")
/// }
///
/// ringbolt_runtime::run(async {
///     let start = std::time::Instant::now();
///     let (a, b) = ringbolt_runtime::join!(work("A", 30), work("B", 30));
///     assert_eq!((a.as_str(), b.as_str()), ("A finished", "B finished"));
///     assert!(start.elapsed() < Duration::from_millis(55)); // concurrent, not 60 ms
///
///     let (x, y, z) = ringbolt_runtime::join!(biased; async { 1 }, async { 2 }, async { 3 });
///     assert_eq!(x + y + z, 6);
/// });
/// ```
#[macro_export]
macro_rules! join {
    // All futures normalized: `( _ _ ) fut,` where the `_`s say how many
    // futures come before this one (a tuple pattern that skips them).
    (@{ biased = $biased:literal; ( $($total:tt)* ) $( ( $($skip:tt)* ) $e:expr, )* }) => {{
        const __RINGBOLT_COUNT: usize = $crate::__ringbolt_count!($($total)*);
        let mut __futures = ( $(
            (
                ::core::pin::pin!($crate::macros::support::IntoFuture::into_future($e)),
                $crate::__ringbolt_none!($($skip)*),
            ),
        )* );
        let mut __start: usize = 0;
        let __output = $crate::macros::support::poll_fn(|__cx| {
            let mut __pending = false;
            let mut __i = 0;
            while __i < __RINGBOLT_COUNT {
                let __index = $crate::macros::support::nth_from(__start, __i, __RINGBOLT_COUNT);
                __i += 1;
                $(
                    if __index == $crate::__ringbolt_count!($($skip)*) {
                        let ( $($skip,)* (__future, __slot), .. ) = &mut __futures;
                        if __slot.is_none() {
                            match $crate::macros::support::Future::poll(__future.as_mut(), __cx) {
                                $crate::macros::support::Poll::Ready(__value) => {
                                    *__slot = $crate::macros::support::Option::Some(__value);
                                }
                                $crate::macros::support::Poll::Pending => __pending = true,
                            }
                        }
                    }
                )*
            }
            if !$biased {
                __start = $crate::macros::support::nth_from(__start, 1, __RINGBOLT_COUNT);
            }
            if __pending {
                return $crate::macros::support::Poll::Pending;
            }
            $crate::macros::support::Poll::Ready(( $( {
                let ( $($skip,)* (_, __slot), .. ) = &mut __futures;
                $crate::macros::support::take(__slot)
            }, )* ))
        })
        .await;
        __output
    }};
    // One more future into the normalized list.
    (@{ biased = $biased:literal; ( $($count:tt)* ) $($acc:tt)* } $e:expr, $($rest:tt)*) => {
        $crate::join!(@{ biased = $biased; ( $($count)* _ ) $($acc)* ( $($count)* ) $e, } $($rest)*)
    };
    (biased; $($e:expr),+ $(,)?) => {
        $crate::join!(@{ biased = true; () } $($e,)+)
    };
    ($($e:expr),+ $(,)?) => {
        $crate::join!(@{ biased = false; () } $($e,)+)
    };
}
