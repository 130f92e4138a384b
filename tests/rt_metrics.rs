//! Runtime metrics: counters move by the expected amounts, histograms hold
//! samples, slow polls are reported once by name and spawn location.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{pipe, Logged};
use ringbolt::op::{Op, Read};
use ringbolt::{Builder, SharedFd};

#[test]
fn a_slow_poll_is_reported_once_by_name_and_location() {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let rt = Builder::new().build().unwrap();
    tracing::subscriber::with_default(Logged::warnings(&warnings), || {
        rt.block_on(async {
            let h = ringbolt::task::Builder::new().name("blocker").spawn(async {
                // Blocks the worker for 200 ms in one poll (the bug to find).
                std::thread::sleep(Duration::from_millis(200));
                ringbolt::yield_now().await;
                // A normal poll afterwards is not reported.
            });
            h.await.unwrap();
            // Well-behaved tasks are not reported.
            for _ in 0..100 {
                ringbolt::spawn(async { ringbolt::yield_now().await })
                    .await
                    .unwrap();
            }
        });
    });
    let warnings = warnings.lock().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("blocker"), "{}", warnings[0]);
    assert!(warnings[0].contains("rt_metrics.rs"), "{}", warnings[0]);
    assert_eq!(rt.metrics().slow_polls, 1);
}

/// Runs `f` inside a runtime with a subscriber that keeps the warnings,
/// and returns them.
fn warnings_of(f: impl std::future::Future<Output = ()>) -> Vec<String> {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let rt = Builder::new().build().unwrap();
    tracing::subscriber::with_default(Logged::warnings(&warnings), || rt.block_on(f));
    let w = warnings.lock().unwrap().clone();
    w
}

#[test]
fn a_fast_poll_right_after_a_slow_one_in_the_same_batch_is_not_reported() {
    let warnings = warnings_of(async {
        // Both are queued before the worker runs either: one batch.
        let slow = ringbolt::task::Builder::new()
            .name("blocker")
            .spawn(async { std::thread::sleep(Duration::from_millis(200)) });
        let quick = ringbolt::task::Builder::new().name("quick").spawn(async {
            for _ in 0..3 {
                ringbolt::yield_now().await;
            }
        });
        slow.await.unwrap();
        quick.await.unwrap();
    });
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("blocker"), "{}", warnings[0]);
}

#[test]
fn a_slow_cancellation_is_not_charged_to_the_next_poll() {
    struct SlowDrop;
    impl Drop for SlowDrop {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let warnings = warnings_of(async {
        let sleeper = ringbolt::spawn(async {
            let _guard = SlowDrop;
            std::future::pending::<()>().await;
        });
        // The sleeper is polled once.
        ringbolt::yield_now().await;
        // The cancellation (200 ms in the drop) and the quick task's poll
        // run in the same batch.
        sleeper.abort();
        let quick = ringbolt::task::Builder::new().name("quick").spawn(async {});
        quick.await.unwrap();
        assert!(sleeper.await.is_err());
    });
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn the_slow_poll_threshold_is_configurable() {
    let rt = Builder::new()
        .slow_poll_threshold(Duration::MAX)
        .build()
        .unwrap();
    rt.block_on(async {
        ringbolt::spawn(async { std::thread::sleep(Duration::from_millis(150)) })
            .await
            .unwrap();
    });
    assert_eq!(rt.metrics().slow_polls, 0);
}

#[test]
fn counters_move_by_the_expected_amounts() {
    let rt = Builder::new().build().unwrap();
    let before = rt.metrics();
    rt.block_on(async {
        let hs: Vec<_> = (0..10).map(|i| ringbolt::spawn(async move { i })).collect();
        for h in hs {
            h.await.unwrap();
        }
        for _ in 0..5 {
            ringbolt::op::nop().await.unwrap();
        }
    });
    let after = rt.metrics();
    assert_eq!(after.tasks_spawned - before.tasks_spawned, 10);
    assert_eq!(after.tasks_alive, 0);
    assert!(after.polls - before.polls >= 10);
    assert!(after.loop_iterations > before.loop_iterations);
    if rt.driver_kind() == ringbolt::Driver::IoUring {
        assert_eq!(after.ops_blocking, before.ops_blocking);
        assert_eq!(after.ops_submitted - before.ops_submitted, 5);
        assert_eq!(after.ops_completed - before.ops_completed, 5);
        let nop = after.op("nop").expect("nop counted");
        assert_eq!((nop.submitted, nop.completed, nop.cancelled), (5, 5, 0));
        assert!(after.ring_enters > before.ring_enters);
    } else {
        assert_eq!(after.ops_blocking - before.ops_blocking, 5);
    }
    assert_eq!(after.workers.len(), 1);
}

#[test]
fn cancellations_are_counted_by_opcode() {
    let Some(rt) = common::uring(Builder::new()) else {
        return;
    };
    rt.block_on(async {
        let mut keep = Vec::new();
        for _ in 0..3 {
            let (rx, tx) = pipe();
            keep.push(tx);
            let op = Op::new(Read::new(
                SharedFd::new(rx),
                Vec::with_capacity(8),
                u64::MAX,
            ));
            assert!(ringbolt::time::timeout(Duration::from_millis(2), op)
                .await
                .is_err());
        }
        ringbolt::time::sleep(Duration::from_millis(10)).await;
    });
    let m = rt.metrics();
    assert_eq!(m.ops_cancelled, 3);
    let read = m.op("read").expect("read counted");
    assert_eq!((read.submitted, read.completed, read.cancelled), (3, 3, 3));
    assert_eq!(m.ops_in_flight, 0);
}

#[test]
fn histograms_hold_the_recorded_samples() {
    let rt = Builder::new().build().unwrap();
    rt.block_on(async {
        for _ in 0..1_600 {
            ringbolt::op::nop().await.unwrap();
        }
        let hs: Vec<_> = (0..1_600)
            .map(|_| ringbolt::spawn(async { ringbolt::yield_now().await }))
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    let m = rt.metrics();
    let polls = m.poll_time_ns.as_ref().expect("poll histogram");
    // One poll in 16 is timed.
    assert!(
        polls.len() >= m.polls / 16 - 1,
        "{} of {}",
        polls.len(),
        m.polls
    );
    assert!(polls.max() > 0);
    let busy = m.loop_busy_ns.as_ref().expect("loop histogram");
    assert!(busy.len() >= m.loop_iterations / 16 - 1);
    if rt.driver_kind() == ringbolt::Driver::IoUring {
        let nop = m
            .op_latency_ns
            .iter()
            .find(|o| o.name == "nop")
            .expect("nop latency");
        assert!(
            nop.latency_ns.len() >= 1_600 / 16 - 1,
            "{}",
            nop.latency_ns.len()
        );
        assert!(nop.latency_ns.value_at_quantile(0.5) > 0);
    }

    let off = Builder::new().metrics(false).build().unwrap();
    off.block_on(ringbolt::op::nop()).unwrap();
    let m = off.metrics();
    assert!(m.poll_time_ns.is_none() && m.loop_busy_ns.is_none());
    assert!(m.op_latency_ns.is_empty());
    // (Not `loop_iterations`: under the thread-pool driver the pool thread
    // may finish the nop within `block_on`'s first poll, which then returns
    // before the loop ever turns.)
    assert_eq!(m.ops_submitted + m.ops_blocking, 1, "counters stay on");
}

#[test]
fn every_worker_is_reported() {
    let rt = Builder::new().workers(2).build().unwrap();
    rt.block_on(async {
        for _ in 0..20 {
            rt.spawn_on(1, async {
                for _ in 0..5 {
                    ringbolt::op::nop().await.unwrap();
                }
            })
            .await
            .unwrap();
        }
    });
    let m = rt.metrics();
    assert_eq!(m.workers.len(), 2);
    assert_eq!(m.workers[1].index, 1);
    assert_eq!(m.workers[1].tasks_spawned, 20);
    let w1_ops = m.workers[1].ops_submitted + m.workers[1].ops_blocking;
    assert_eq!(w1_ops, 100);
    assert_eq!(
        m.tasks_spawned,
        m.workers.iter().map(|w| w.tasks_spawned).sum::<u64>()
    );
}

#[test]
fn ops_in_flight_on_a_sleeping_worker_are_seen_from_another_thread() {
    let Some(rt) = common::uring(Builder::new().workers(2)) else {
        return;
    };
    let (rx, tx) = pipe();
    let rx = SharedFd::new(rx);
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    rt.block_on(async {
        let reader = rt.spawn_on(1, async move {
            started_tx.send(()).unwrap();
            let done = Op::new(Read::new(rx, Vec::with_capacity(8), u64::MAX)).await;
            done.result.unwrap()
        });
        started_rx.recv().unwrap();
        // Worker 1 submits the read and sleeps in io_uring_enter with
        // nothing else to do: the count must not wait for its next wake.
        let seen = || rt.metrics().workers[1].ops_in_flight;
        assert!(
            common::eventually(|| seen() == 1).await,
            "{:?}",
            rt.metrics().workers[1]
        );
        std::fs::File::from(tx).write_all(&[7]).unwrap();
        assert_eq!(reader.await.unwrap(), 1);
    });
}
