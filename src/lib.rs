#![doc = include_str!("../README.md")]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

pub use ringbolt_fs as fs;
pub use ringbolt_net as net;
pub use ringbolt_runtime::{
    buf, bufring, op, run, spawn, spawn_blocking, spawn_local, task, time, yield_now, Builder,
    Driver, Feature, JoinError, JoinHandle, Runtime, RuntimeMetrics, SharedFd, SpawnPolicy,
};
pub use ringbolt_runtime::{
    group, join, join_all, select, task_local, try_join, try_join_all, GroupError, TaskGroup,
};
pub use ringbolt_sync as sync;

/// Signals: [`ctrl_c`](signal::ctrl_c) resolves when the process receives
/// SIGINT (for clean server shutdown).
pub mod signal {
    pub use ringbolt_runtime::op::net::ctrl_c;
}

#[doc = include_str!("../docs/asyncio.md")]
pub mod guide {}
