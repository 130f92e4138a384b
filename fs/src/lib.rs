//! ringbolt-fs.
