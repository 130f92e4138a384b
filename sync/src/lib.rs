//! Runtime-agnostic async synchronization primitives and cancellation tokens.
//!
//! Everything here is built from `std` atomics, `std` mutexes and
//! [`core::task::Waker`]s only, so it works under any executor, with no
//! runtime at all, and across OS threads. Names and signatures follow
//! `tokio::sync` wherever the concept is the same.
//!
//! # Fast paths and waiter queues
//!
//! An uncontended lock, permit or send is an atomic operation (a CAS on a
//! state word, or an uncontended `std::sync::Mutex`, itself one CAS to lock
//! and one swap to unlock) and allocates nothing. Tasks that have to wait go
//! into a FIFO waiter queue (`wait_list`), a slab behind a `std` mutex that
//! is only touched on the slow path; wakers are always woken after the lock
//! is released, so no executor code runs under our locks.
//!
//! # Cancel safety
//!
//! Every waiting future is cancel-safe unless its docs say otherwise:
//! dropping it before completion gives nothing away, and if it had already
//! been granted the lock, permits or a notification, it passes them on to
//! the next waiter so no wake-up is lost. Each type documents the details.
//!
//! # Model checking
//!
//! The `loom` module picks `std` or `loom` primitives, so
//! `RUSTFLAGS="--cfg loom" cargo test -p ringbolt-sync --release --test 'loom_*'`
//! model-checks the real code.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]

mod loom;
mod wait_list;

mod barrier;
mod cancellation_token;
mod event;
mod mutex;
mod notify;
mod rwlock;
mod semaphore;

pub mod broadcast;
pub mod mpsc;
pub mod oneshot;
pub mod watch;

pub use barrier::{Barrier, BarrierWaitResult};
pub use cancellation_token::{
    CancellationToken, DropGuard, WaitForCancellationFuture, WaitForCancellationFutureOwned,
};
pub use event::Event;
pub use mutex::{Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
