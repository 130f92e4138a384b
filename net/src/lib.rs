//! ringbolt-net.
