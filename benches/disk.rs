//! Placeholder replaced by the disk benchmark.
fn main() {}
