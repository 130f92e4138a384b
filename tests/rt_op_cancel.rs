//! The op lifecycle's invariant: an op dropped in flight keeps its buffer
//! until its completion, and nothing leaks.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{pipe, TrackedBuf};
use ringbolt::op::{Op, Read};
use ringbolt::time::{sleep, timeout};
use ringbolt::{Builder, Runtime, SharedFd};

/// These tests check the ring's op lifecycle, so they pin the io_uring
/// driver whatever RINGBOLT_DRIVER says (tests/rt_driver.rs covers the pool).
fn ring() -> Option<Runtime> {
    common::uring(Builder::new())
}

#[test]
fn dropped_read_keeps_its_buffer_until_the_cqe() {
    let Some(rt) = ring() else { return };
    let drops = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let (rx, _tx) = pipe();
        let fd = SharedFd::new(rx);
        let op = Op::new(Read::new(fd, TrackedBuf::new(64, &drops), u64::MAX));
        // Submitted on the first poll, in the kernel after the next loop
        // iteration, dropped when the timeout fires: nothing to read.
        assert!(timeout(Duration::from_millis(5), op).await.is_err());
        assert_eq!(
            drops.load(Ordering::SeqCst),
            0,
            "the buffer was freed before the kernel's completion was reaped"
        );
        for _ in 0..100 {
            if drops.load(Ordering::SeqCst) == 1 {
                break;
            }
            sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the buffer was never freed"
        );
    });
    let m = rt.metrics();
    assert_eq!(m.ops_cancelled, 1);
    assert_eq!(m.ops_in_flight, 0);
}

#[test]
fn a_thousand_dropped_reads_leave_nothing_behind() {
    let Some(rt) = ring() else { return };
    let drops = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let (rx, tx) = pipe();
        let fd = SharedFd::new(rx);
        let mut ops = Vec::new();
        for _ in 0..1000 {
            ops.push(ringbolt::spawn(Op::new(Read::new(
                fd.clone(),
                TrackedBuf::new(16, &drops),
                u64::MAX,
            ))));
        }
        // Let every read reach the kernel, then cancel them all.
        sleep(Duration::from_millis(10)).await;
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        for h in &ops {
            h.abort();
        }
        for h in ops {
            assert!(h.await.unwrap_err().is_cancelled());
        }
        for _ in 0..200 {
            if drops.load(Ordering::SeqCst) == 1000 {
                break;
            }
            sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1000);
        drop(tx);
    });
    let m = rt.metrics();
    assert_eq!(m.ops_cancelled, 1000);
    assert_eq!(m.ops_in_flight, 0);
    assert_eq!(m.ops_submitted, m.ops_completed);
}

#[test]
fn a_read_that_completes_returns_the_data_and_the_buffer() {
    ringbolt::run(async {
        let (rx, tx) = pipe();
        let fd = SharedFd::new(rx);
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let f = std::fs::File::from(tx);
            std::io::Write::write_all(&mut &f, b"hello ring").unwrap();
        });
        let done = Op::new(Read::new(fd, Vec::with_capacity(64), u64::MAX)).await;
        let n = done.result.unwrap() as usize;
        let buf = done.data.into_buf(Ok(n as u32));
        assert_eq!(&buf[..], b"hello ring");
        writer.join().unwrap();
    });
}

#[test]
fn an_op_dropped_before_its_first_poll_submits_nothing() {
    let Some(rt) = ring() else { return };
    let drops = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let (rx, _tx) = pipe();
        let op = Op::new(Read::new(
            SharedFd::new(rx),
            TrackedBuf::new(8, &drops),
            u64::MAX,
        ));
        drop(op);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
    assert_eq!(rt.metrics().ops_submitted, 0);
}

#[test]
fn an_op_dropped_on_another_thread_is_parked_by_its_owner() {
    let Some(rt) = ring() else { return };
    let drops = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let (rx, _tx) = pipe();
        let mut op = Box::pin(Op::new(Read::new(
            SharedFd::new(rx),
            TrackedBuf::new(8, &drops),
            u64::MAX,
        )));
        // Submit it with one poll.
        std::future::poll_fn(|cx| {
            assert!(op.as_mut().poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        sleep(Duration::from_millis(2)).await;
        // Drop it on a foreign thread: the data goes back to this worker,
        // which keeps it until the cancellation's CQE.
        std::thread::spawn(move || drop(op)).join().unwrap();
        for _ in 0..200 {
            if drops.load(Ordering::SeqCst) == 1 {
                break;
            }
            sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
    assert_eq!(rt.metrics().ops_in_flight, 0);
    assert_eq!(rt.metrics().ops_cancelled, 1);
}

use std::future::Future as _;

/// Ops dropped at random points of their life (before submission, in the
/// kernel, after the CQE but before the poll): every buffer is freed exactly
/// once and nothing stays in flight.
#[test]
fn ops_dropped_at_random_points() {
    let Some(rt) = ring() else { return };
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..300 {
            let (rx, tx) = pipe();
            let fd = SharedFd::new(rx);
            let write_after = rand() % 4;
            let abort_after = rand() % 4;
            let buf = TrackedBuf::new(32, &drops);
            made.fetch_add(1, Ordering::SeqCst);
            let h =
                ringbolt::spawn(async move { Op::new(Read::new(fd, buf, u64::MAX)).await.result });
            let tx = std::fs::File::from(tx);
            for _ in 0..write_after {
                ringbolt::yield_now().await;
            }
            std::io::Write::write_all(&mut &tx, b"x").unwrap();
            for _ in 0..abort_after {
                ringbolt::yield_now().await;
            }
            h.abort();
            handles.push((h, tx));
        }
        for (h, _tx) in handles {
            match h.await {
                Ok(res) => assert_eq!(res.unwrap(), 1),
                Err(e) => assert!(e.is_cancelled()),
            }
        }
        for _ in 0..500 {
            if drops.load(Ordering::SeqCst) == made.load(Ordering::SeqCst) {
                break;
            }
            sleep(Duration::from_millis(1)).await;
        }
    });
    let m = rt.metrics();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        made.load(Ordering::SeqCst),
        "{m:?}"
    );
    assert_eq!(m.ops_in_flight, 0);
    assert_eq!(m.ops_submitted, m.ops_completed);
}
