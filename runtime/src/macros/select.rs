//! `select!`: wait for the first of several futures, drop the others.

/// Waits on several futures at once and runs the handler of the first one
/// to complete; the others are dropped (tokio's `select!` syntax).
///
/// ```text
/// select! {
///     biased;                                   // optional: poll in order
///     <pattern> = <future> $(, if <condition>)? => <handler>,
///     ...
///     else => <expression>                      // optional, last
/// }
/// ```
///
/// 1. Every `if` condition is evaluated; a branch whose condition is false
///    is disabled (its future is still created, but never polled).
/// 2. The futures are created (any `IntoFuture`) and pinned in place; they
///    are polled in a random order on each wake-up (or in the written order
///    with `biased;`).
/// 3. When a future completes, its output is matched against the branch's
///    pattern. If it matches, **every future is dropped** (so the losers'
///    in-flight I/O is cancelled and their borrows end) and the handler
///    runs, with the pattern's bindings; its value is the value of the
///    `select!`. If it does not match, that branch is disabled and the
///    others keep going.
/// 4. When every branch is disabled, the `else` expression is the value.
///
/// Handlers run outside the polling loop: they may `.await`, `return`, or
/// `break`/`continue` an enclosing loop. At most 64 branches.
///
/// Patterns may bind by value, `mut`, `ref` or `ref mut`: a completed
/// output is checked against the pattern (in a match guard, which moves
/// nothing) before the handler binds it.
///
/// # Panics
///
/// When every branch is disabled and there is no `else` branch.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ringbolt_runtime::time::sleep;
///
/// ringbolt_runtime::run(async {
///     let (tx, mut rx) = ringbolt_sync::mpsc::channel::<u32>(4);
///     ringbolt_runtime::spawn(async move {
///         for i in 0..3 {
///             tx.send(i).await.unwrap();
///         }
///     });
///     let mut got = Vec::new();
///     loop {
///         ringbolt_runtime::select! {
///             Some(v) = rx.recv() => got.push(v),
///             // The channel closed: `None` does not match, the only branch
///             // is disabled.
///             else => break,
///         }
///     }
///     assert_eq!(got, [0, 1, 2]);
///
///     // A race against a timer: the loser is dropped.
///     let slow = sleep(Duration::from_secs(10));
///     let outcome = ringbolt_runtime::select! {
///         _ = slow => "slow",
///         _ = sleep(Duration::from_millis(5)) => "timer",
///     };
///     assert_eq!(outcome, "timer");
///
///     // `biased;` polls in order; `if` disables a branch.
///     let ready = true;
///     let winner = ringbolt_runtime::select! {
///         biased;
///         v = async { 1 }, if !ready => v,
///         v = async { 2 } => v,
///         v = async { 3 } => v,
///     };
///     assert_eq!(winner, 2);
/// });
/// ```
#[macro_export]
macro_rules! select {
    // Every branch normalized as `[ (_ _) pattern, future, condition, handler ]`
    // where the `_`s say how many branches come before it.
    (@final { biased = $biased:literal; ( $($total:tt)* )
        $( [ ( $($skip:tt)* ) $p:pat, $f:expr, $c:expr, $h:expr ] )*
    } else $else:expr) => {{
        const __RINGBOLT_BRANCHES: usize = $crate::__ringbolt_count!($($total)*);
        const _: () = ::core::assert!(
            __RINGBOLT_BRANCHES >= 1 && __RINGBOLT_BRANCHES <= 64,
            "select! takes 1 to 64 branches"
        );
        const __RINGBOLT_ALL: u64 = if __RINGBOLT_BRANCHES == 64 {
            u64::MAX
        } else {
            (1u64 << __RINGBOLT_BRANCHES) - 1
        };
        let mut __disabled: u64 = 0;
        $(
            if !$c {
                __disabled |= 1u64 << $crate::__ringbolt_count!($($skip)*);
            }
        )*
        let mut __outputs = ( $( $crate::__ringbolt_none!($($skip)*), )* );
        let __winner: $crate::macros::support::Option<usize> = {
            let mut __futures = ( $(
                ::core::pin::pin!($crate::macros::support::IntoFuture::into_future($f)),
            )* );
            let __winner = $crate::macros::support::poll_fn(|__cx| {
                if __disabled == __RINGBOLT_ALL {
                    return $crate::macros::support::Poll::Ready($crate::macros::support::Option::None);
                }
                let __start = if $biased {
                    0
                } else {
                    $crate::macros::support::thread_rng_n(__RINGBOLT_BRANCHES)
                };
                let mut __i = 0;
                while __i < __RINGBOLT_BRANCHES {
                    let __index = $crate::macros::support::nth_from(__start, __i, __RINGBOLT_BRANCHES);
                    __i += 1;
                    $(
                        if __index == $crate::__ringbolt_count!($($skip)*)
                            && __disabled & (1u64 << __index) == 0
                        {
                            let ( $($skip,)* __future, .. ) = &mut __futures;
                            if let $crate::macros::support::Poll::Ready(__value) =
                                $crate::macros::support::Future::poll(__future.as_mut(), __cx)
                            {
                                __disabled |= 1u64 << __index;
                                // Check the pattern without moving the value:
                                // bindings are by reference inside a guard,
                                // and a false guard moves nothing.
                                let mut __matched = false;
                                match __value {
                                    #[allow(unused_variables, unused_mut)]
                                    $p if {
                                        __matched = true;
                                        false
                                    } => ::core::unreachable!(),
                                    __value => {
                                        if __matched {
                                            let ( $($skip,)* __slot, .. ) = &mut __outputs;
                                            *__slot = $crate::macros::support::Option::Some(__value);
                                            return $crate::macros::support::Poll::Ready(
                                                $crate::macros::support::Option::Some(__index),
                                            );
                                        }
                                    }
                                }
                            }
                        }
                    )*
                }
                if __disabled == __RINGBOLT_ALL {
                    $crate::macros::support::Poll::Ready($crate::macros::support::Option::None)
                } else {
                    $crate::macros::support::Poll::Pending
                }
            })
            .await;
            __winner
        };
        // Every future is dropped by now; run the winner's handler.
        match __winner {
            $(
                $crate::macros::support::Option::Some(__index)
                    if __index == $crate::__ringbolt_count!($($skip)*) =>
                {
                    let ( $($skip,)* __slot, .. ) = &mut __outputs;
                    match __slot.take() {
                        $crate::macros::support::Option::Some($p) => $h,
                        #[allow(unreachable_patterns)]
                        _ => ::core::unreachable!(),
                    }
                }
            )*
            _ => $else,
        }
    }};

    // The end: with or without `else`.
    (@{ $($branches:tt)* } else => $else:expr $(,)?) => {
        $crate::select!(@final { $($branches)* } else $else)
    };
    (@{ $($branches:tt)* }) => {
        $crate::select!(@final { $($branches)* } else ::core::panic!(
            "select!: all branches are disabled and there is no else branch"
        ))
    };

    // One branch: with or without `if`, block or expression handler.
    (@{ biased = $b:literal; ( $($n:tt)* ) $($acc:tt)* }
        $p:pat = $f:expr, if $c:expr => $h:block, $($rest:tt)*) => {
        $crate::select!(@{ biased = $b; ( $($n)* _ ) $($acc)* [ ( $($n)* ) $p, $f, $c, $h ] } $($rest)*)
    };
    (@{ biased = $b:literal; ( $($n:tt)* ) $($acc:tt)* }
        $p:pat = $f:expr, if $c:expr => $h:block $($rest:tt)*) => {
        $crate::select!(@{ biased = $b; ( $($n)* _ ) $($acc)* [ ( $($n)* ) $p, $f, $c, $h ] } $($rest)*)
    };
    (@{ biased = $b:literal; ( $($n:tt)* ) $($acc:tt)* }
        $p:pat = $f:expr => $h:block, $($rest:tt)*) => {
        $crate::select!(@{ biased = $b; ( $($n)* _ ) $($acc)* [ ( $($n)* ) $p, $f, true, $h ] } $($rest)*)
    };
    (@{ biased = $b:literal; ( $($n:tt)* ) $($acc:tt)* }
        $p:pat = $f:expr => $h:block $($rest:tt)*) => {
        $crate::select!(@{ biased = $b; ( $($n)* _ ) $($acc)* [ ( $($n)* ) $p, $f, true, $h ] } $($rest)*)
    };
    (@{ biased = $b:literal; ( $($n:tt)* ) $($acc:tt)* }
        $p:pat = $f:expr, if $c:expr => $h:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@{ biased = $b; ( $($n)* _ ) $($acc)* [ ( $($n)* ) $p, $f, $c, $h ] } $($($rest)*)?)
    };
    (@{ biased = $b:literal; ( $($n:tt)* ) $($acc:tt)* }
        $p:pat = $f:expr => $h:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@{ biased = $b; ( $($n)* _ ) $($acc)* [ ( $($n)* ) $p, $f, true, $h ] } $($($rest)*)?)
    };

    // Entry points.
    (biased; $($t:tt)*) => {
        $crate::select!(@{ biased = true; () } $($t)*)
    };
    ($($t:tt)*) => {
        $crate::select!(@{ biased = false; () } $($t)*)
    };
}
