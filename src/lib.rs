//! ringbolt facade.

pub use ringbolt_sync as sync;
