//! ringbolt-runtime.
