//! Items used by the expansions of `join!`, `try_join!` and `select!`.
//! Not a public API.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

pub use std::future::{poll_fn, Future, IntoFuture};
pub use std::option::Option;
pub use std::task::Poll;

/// The output of a finished branch of `join!` (every branch is finished
/// when this is called).
pub fn take<T>(slot: &mut Option<T>) -> T {
    match slot.take() {
        Some(v) => v,
        None => unreachable!("join!: output taken twice"),
    }
}

/// The `i`-th of `n` branches when polling starts at `start` (a function,
/// not an expression in the expansion, so that lints about constant
/// arithmetic stay out of the caller's crate).
pub fn nth_from(start: usize, i: usize, n: usize) -> usize {
    (start + i) % n.max(1)
}

/// A number in `0..n` (`n > 0`), from a per-thread xorshift generator: the
/// branch `select!` polls first in its fair mode.
pub fn thread_rng_n(n: usize) -> usize {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(RandomState::new().build_hasher().finish() | 1);
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x % n.max(1) as u64) as usize
    })
}

/// Counts token trees, as a `usize` constant expression.
#[doc(hidden)]
#[macro_export]
macro_rules! __ringbolt_count {
    () => { 0usize };
    ($_head:tt $($tail:tt)*) => { 1usize + $crate::__ringbolt_count!($($tail)*) };
}

/// `None`, whatever the input (one per branch of a macro repetition).
#[doc(hidden)]
#[macro_export]
macro_rules! __ringbolt_none {
    ($($_t:tt)*) => {
        $crate::macros::support::Option::None
    };
}
