//! Dropping the runtime with ops, timers and blocking jobs in flight.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{open_fds, pipe, TrackedBuf};
use ringbolt::op::{Op, Read};
use ringbolt::{Builder, Runtime, SharedFd};

#[test]
fn runtime_drop_with_work_in_flight_returns_and_frees_everything() {
    // Counts process-wide descriptors: no other test of this file may run.
    let _serial = common::serial();
    let fds_before = open_fds();
    let drops = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    // Ring ops in flight are what this test is about.
    let Some(rt) = common::uring(Builder::new()) else {
        return;
    };
    let writers = rt.block_on(async {
        let mut writers = Vec::new();
        for _ in 0..100 {
            let (rx, tx) = pipe();
            let buf = TrackedBuf::new(64, &drops);
            ringbolt::spawn(async move {
                Op::new(Read::new(SharedFd::new(rx), buf, u64::MAX)).await;
            });
            writers.push(tx);
        }
        for _ in 0..100 {
            ringbolt::spawn(ringbolt::time::sleep(Duration::from_secs(3600)));
        }
        for _ in 0..8 {
            let started = started.clone();
            drop(ringbolt::spawn_blocking(move || {
                started.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_secs(2));
            }));
        }
        // Let the reads reach the kernel and the blocking jobs start.
        ringbolt::time::sleep(Duration::from_millis(50)).await;
        writers
    });
    assert!(rt.metrics().ops_in_flight >= 100);
    assert_eq!(drops.load(Ordering::SeqCst), 0);

    let t = Instant::now();
    drop(rt);
    let took = t.elapsed();
    assert!(took < Duration::from_secs(5), "runtime drop took {took:?}");
    assert_eq!(drops.load(Ordering::SeqCst), 100, "every buffer freed");
    drop(writers);
    assert_eq!(open_fds(), fds_before, "no descriptor leaked");
}

#[test]
fn tasks_are_cancelled_at_shutdown_and_their_handles_say_so() {
    let _serial = common::serial();
    let rt = Runtime::new().unwrap();
    let handle = rt.spawn(async {
        ringbolt::time::sleep(Duration::from_secs(3600)).await;
        1
    });
    // Let it start and go to sleep.
    rt.block_on(ringbolt::time::sleep(Duration::from_millis(5)));
    drop(rt);
    let rt2 = Runtime::new().unwrap();
    let err = rt2.block_on(handle).unwrap_err();
    assert!(err.is_cancelled());
}
