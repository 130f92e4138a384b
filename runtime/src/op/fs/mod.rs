//! File-system operations (openat, statx, fsync, ...), used by `ringbolt-fs`.
