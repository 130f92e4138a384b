//! ringbolt-sync.
