//! Dropping the runtime with ops, timers and blocking jobs in flight.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{open_fds, pipe, Logged, TrackedBuf};
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

/// Spawns a `spawn_blocking` closure on `rt` that sleeps `nap` and then
/// sets the returned flag; returns once the closure is running.
fn running_closure(rt: &Runtime, nap: Duration) -> Arc<AtomicUsize> {
    let state = Arc::new(AtomicUsize::new(0));
    let s = state.clone();
    rt.block_on(async move {
        drop(ringbolt::spawn_blocking(move || {
            s.store(1, Ordering::SeqCst);
            std::thread::sleep(nap);
            s.store(2, Ordering::SeqCst);
        }));
        while state.load(Ordering::SeqCst) == 0 {
            ringbolt::time::sleep(Duration::from_millis(1)).await;
        }
        state
    })
}

#[test]
fn runtime_drop_waits_for_running_blocking_closures() {
    let _serial = common::serial();
    let rt = Runtime::new().unwrap();
    let state = running_closure(&rt, Duration::from_millis(300));
    drop(rt);
    // The closure's side effect is complete once the drop returns, as with
    // tokio's runtime and asyncio's default executor.
    assert_eq!(state.load(Ordering::SeqCst), 2);
}

#[test]
fn shutdown_timeout_bounds_the_wait_and_background_skips_it() {
    let _serial = common::serial();
    let warnings = Arc::new(std::sync::Mutex::new(Vec::new()));
    tracing::subscriber::with_default(Logged::warnings(&warnings), || {
        let rt = Runtime::new().unwrap();
        let state = running_closure(&rt, Duration::from_secs(3));
        let t = Instant::now();
        rt.shutdown_timeout(Duration::from_millis(100));
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(100), "waited {took:?}");
        assert!(took < Duration::from_secs(2), "waited {took:?}");
        assert_eq!(
            state.load(Ordering::SeqCst),
            1,
            "still running on its thread"
        );
    });
    let said = std::mem::take(&mut *warnings.lock().unwrap());
    assert!(
        said.iter().any(|w| w.contains("shutdown_timeout")),
        "a limit that passed is reported: {said:?}"
    );

    tracing::subscriber::with_default(Logged::warnings(&warnings), || {
        let rt = Runtime::new().unwrap();
        let state = running_closure(&rt, Duration::from_secs(3));
        let t = Instant::now();
        rt.shutdown_background();
        assert!(t.elapsed() < Duration::from_secs(2));
        assert_eq!(
            state.load(Ordering::SeqCst),
            1,
            "still running on its thread"
        );
    });
    let said = warnings.lock().unwrap();
    assert!(
        !said.iter().any(|w| w.contains("spawn_blocking")),
        "not waiting was asked for: {said:?}"
    );
}

#[test]
fn blocking_closures_not_started_are_cancelled_not_waited_for() {
    let _serial = common::serial();
    let rt = Builder::new().max_blocking_threads(1).build().unwrap();
    let state = running_closure(&rt, Duration::from_secs(1));
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    // Spawned from inside the runtime; the handle is awaited on another.
    let queued = rt.block_on(async move {
        let handle = ringbolt::spawn_blocking(move || {
            r.store(1, Ordering::SeqCst);
        });
        Some(handle)
    });
    drop(rt);
    assert_eq!(
        state.load(Ordering::SeqCst),
        2,
        "the running one was waited for"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 0, "the queued one never ran");
    let rt = Runtime::new().unwrap();
    let queued = queued.expect("a handle");
    assert!(rt.block_on(queued).unwrap_err().is_cancelled());
}

#[test]
fn a_pool_read_that_blocks_does_not_hold_up_the_drop() {
    let _serial = common::serial();
    // Under the thread-pool driver a pipe read is a read(2) on the pool,
    // which no one can interrupt; its future was dropped with its task.
    let rt = Builder::new()
        .driver(ringbolt::Driver::ThreadPool)
        .build()
        .unwrap();
    let (rx, tx) = pipe();
    let drops = Arc::new(AtomicUsize::new(0));
    let buf = TrackedBuf::new(64, &drops);
    rt.block_on(async move {
        ringbolt::spawn(async move {
            Op::new(Read::new(SharedFd::new(rx), buf, u64::MAX)).await;
        });
        ringbolt::time::sleep(Duration::from_millis(50)).await;
    });
    assert_eq!(
        rt.metrics().blocking_threads,
        1,
        "the read runs on the pool"
    );
    // The writer closes after 3 s whatever happens, so that a drop that
    // waited for the read would end (and fail the check below), not hang.
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        drop(tx);
    });
    let t = Instant::now();
    drop(rt);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "drop took {:?}",
        t.elapsed()
    );
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "the read still holds its buffer"
    );
    // The read ends with the writer, on its own thread, and frees its buffer.
    closer.join().unwrap();
    let t = Instant::now();
    while drops.load(Ordering::SeqCst) == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the read's buffer was never freed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
