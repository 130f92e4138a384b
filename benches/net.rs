//! Placeholder replaced by the network benchmark.
fn main() {}
