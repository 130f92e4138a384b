//! `try_join!`: `join!` that stops at the first error.

/// Runs several futures of `Result<_, E>` concurrently on this task;
/// gives `Ok` of the tuple of their values, or the first `Err` (tokio's
/// `try_join!`). On the first error the other futures are dropped, which
/// cancels their in-flight I/O.
///
/// All the futures must have the same error type. Polling is fair as in
/// [`join!`](crate::join!); write `biased;` first to poll in order.
///
/// # Examples
///
/// ```
/// use std::io;
/// use std::time::Duration;
///
/// async fn fetch(i: u32) -> io::Result<u32> {
///     Ok(i * 2)
/// }
/// async fn broken() -> io::Result<u32> {
///     Err(io::Error::other("broken"))
/// }
/// async fn slow() -> io::Result<u32> {
///     ringbolt_runtime::time::sleep(Duration::from_secs(10)).await;
///     Ok(0)
/// }
///
/// ringbolt_runtime::run(async {
///     assert_eq!(ringbolt_runtime::try_join!(fetch(1), fetch(2)).unwrap(), (2, 4));
///     // The error comes back at once; `slow` is dropped.
///     let err = ringbolt_runtime::try_join!(slow(), broken(), fetch(3)).unwrap_err();
///     assert_eq!(err.to_string(), "broken");
/// });
/// ```
#[macro_export]
macro_rules! try_join {
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
                                $crate::macros::support::Poll::Ready(::core::result::Result::Ok(__value)) => {
                                    *__slot = $crate::macros::support::Option::Some(__value);
                                }
                                $crate::macros::support::Poll::Ready(::core::result::Result::Err(__error)) => {
                                    return $crate::macros::support::Poll::Ready(
                                        ::core::result::Result::Err(__error),
                                    );
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
            $crate::macros::support::Poll::Ready(::core::result::Result::Ok(( $( {
                let ( $($skip,)* (_, __slot), .. ) = &mut __futures;
                $crate::macros::support::take(__slot)
            }, )* )))
        })
        .await;
        __output
    }};
    (@{ biased = $biased:literal; ( $($count:tt)* ) $($acc:tt)* } $e:expr, $($rest:tt)*) => {
        $crate::try_join!(@{ biased = $biased; ( $($count)* _ ) $($acc)* ( $($count)* ) $e, } $($rest)*)
    };
    (biased; $($e:expr),+ $(,)?) => {
        $crate::try_join!(@{ biased = true; () } $($e,)+)
    };
    ($($e:expr),+ $(,)?) => {
        $crate::try_join!(@{ biased = false; () } $($e,)+)
    };
}
