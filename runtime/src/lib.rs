//! ringbolt-runtime: the io_uring driver, executor, tasks, timers and
//! blocking pool of ringbolt.
//!
//! Most users depend on the facade crate `ringbolt`, which re-exports this
//! crate's public items. See the `driver` module docs (in the source) for
//! the op lifecycle and the invariant the whole runtime keeps: memory the
//! kernel may still write is never freed.

#![deny(unsafe_op_in_unsafe_fn)]

mod blocking;
pub mod buf;
pub mod bufring;
mod driver;
mod executor;
mod fd;
pub mod group;
#[doc(hidden)]
pub mod macros;
mod metrics;
pub mod op;
mod runtime;
mod spin;
mod sys;
pub mod task;
pub mod task_local;
pub mod time;

pub use driver::Feature;
pub use fd::{SendGate, SharedFd};
pub use group::{join_all, try_join_all, GroupError, TaskGroup};
pub use runtime::{
    run, Builder, Driver, OpCounts, OpLatency, Runtime, RuntimeMetrics, SpawnPolicy, WorkerStats,
};
pub use task::{spawn, spawn_blocking, spawn_local, yield_now, JoinError, JoinHandle};
