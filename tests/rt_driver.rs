//! Driver choice, the thread-pool driver, and forced feature fallbacks.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{pipe, TrackedBuf};
use ringbolt::op::{Op, Read};
use ringbolt::{Builder, Driver, Feature, SharedFd};

const READ: u8 = 22; // IORING_OP_READ

#[test]
fn driver_names_parse() {
    assert_eq!(Driver::parse("uring").unwrap(), Driver::IoUring);
    assert_eq!(Driver::parse("threadpool").unwrap(), Driver::ThreadPool);
    assert_eq!(Driver::parse("auto").unwrap(), Driver::Auto);
    assert_eq!(
        Driver::parse("epoll").unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
    assert_eq!(
        Feature::parse_list("minimal,opcode:read,opcode:21").unwrap(),
        vec![
            Feature::TaskrunFlags,
            Feature::ExtArg,
            Feature::Multishot,
            Feature::Opcode(22),
            Feature::Opcode(21)
        ]
    );
    assert!(Feature::parse("warp_drive").is_err());
}

#[test]
fn the_driver_kind_is_reported() {
    let rt = Builder::new().driver(Driver::ThreadPool).build().unwrap();
    assert_eq!(rt.driver_kind(), Driver::ThreadPool);
    if let Some(rt) = common::uring(Builder::new()) {
        assert_eq!(rt.driver_kind(), Driver::IoUring);
    }
    let rt = Builder::new().build().unwrap();
    assert_ne!(rt.driver_kind(), Driver::Auto);
}

#[test]
fn the_thread_pool_driver_runs_ops_timers_and_tasks() {
    let rt = Builder::new().driver(Driver::ThreadPool).build().unwrap();
    rt.block_on(async {
        ringbolt::op::nop().await.unwrap();
        let (rx, tx) = pipe();
        std::io::Write::write_all(&mut std::fs::File::from(tx), b"pool").unwrap();
        let done = Op::new(Read::new(
            SharedFd::new(rx),
            Vec::with_capacity(8),
            u64::MAX,
        ))
        .await;
        let n = done.result.unwrap();
        assert_eq!(&done.data.into_buf(Ok(n))[..], b"pool");
        let t = Instant::now();
        ringbolt::time::sleep(Duration::from_millis(15)).await;
        assert!(t.elapsed() >= Duration::from_millis(15));
        let h = ringbolt::spawn(async { ringbolt::op::nop().await.is_ok() });
        assert!(h.await.unwrap());
    });
    let m = rt.metrics();
    assert_eq!(m.ring_enters, 0);
    assert_eq!(m.ops_blocking, 3);
}

#[test]
fn a_pool_op_dropped_while_running_frees_its_buffer_when_it_ends() {
    let rt = Builder::new().driver(Driver::ThreadPool).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let (rx, tx) = pipe();
        let op = Op::new(Read::new(
            SharedFd::new(rx),
            TrackedBuf::new(8, &drops),
            u64::MAX,
        ));
        // The read starts on a pool thread and blocks: nothing to read.
        assert!(ringbolt::time::timeout(Duration::from_millis(20), op)
            .await
            .is_err());
        assert_eq!(drops.load(Ordering::SeqCst), 0, "freed while the read runs");
        // The read returns (EOF); its uncollected result is released.
        drop(tx);
        for _ in 0..200 {
            if drops.load(Ordering::SeqCst) == 1 {
                break;
            }
            ringbolt::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_pool_op_dropped_before_it_started_never_runs() {
    let rt = Builder::new()
        .driver(Driver::ThreadPool)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        // Occupy the only pool thread.
        let busy = ringbolt::spawn_blocking(|| std::thread::sleep(Duration::from_millis(50)));
        let (rx, _tx) = pipe();
        let op = Op::new(Read::new(
            SharedFd::new(rx),
            TrackedBuf::new(8, &drops),
            u64::MAX,
        ));
        assert!(ringbolt::time::timeout(Duration::from_millis(5), op)
            .await
            .is_err());
        busy.await.unwrap();
        // Had the read started it would block forever (the writer is
        // alive); it is dropped unstarted instead.
        for _ in 0..200 {
            if drops.load(Ordering::SeqCst) == 1 {
                break;
            }
            ringbolt::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_switched_off_opcode_runs_on_the_pool_with_the_same_result() {
    let Some(rt) = common::uring(Builder::new().disable(Feature::Opcode(READ))) else {
        return;
    };
    rt.block_on(async {
        assert!(!ringbolt::op::ring_supports(READ));
        let (rx, tx) = pipe();
        std::io::Write::write_all(&mut std::fs::File::from(tx), b"fallback").unwrap();
        let done = Op::new(Read::new(
            SharedFd::new(rx),
            Vec::with_capacity(16),
            u64::MAX,
        ))
        .await;
        let n = done.result.unwrap();
        assert_eq!(&done.data.into_buf(Ok(n))[..], b"fallback");
        ringbolt::op::nop().await.unwrap();
    });
    let m = rt.metrics();
    assert_eq!(m.ops_blocking, 1, "the read: {m:?}");
    assert_eq!(m.ops_submitted, 1, "the nop: {m:?}");
}

#[test]
fn timers_work_without_ext_arg() {
    let Some(rt) = common::uring(Builder::new().disable(Feature::ExtArg)) else {
        return;
    };
    rt.block_on(async {
        for ms in [1u64, 5, 20] {
            let t = Instant::now();
            ringbolt::time::sleep(Duration::from_millis(ms)).await;
            let took = t.elapsed();
            assert!(took >= Duration::from_millis(ms));
            assert!(took < Duration::from_millis(ms + 1000), "{took:?}");
        }
        // A long timeout armed first, then a shorter sleep: the shorter one
        // must not wait for the longer.
        let long = ringbolt::spawn(ringbolt::time::sleep(Duration::from_millis(300)));
        ringbolt::yield_now().await;
        let t = Instant::now();
        ringbolt::time::sleep(Duration::from_millis(10)).await;
        assert!(t.elapsed() < Duration::from_millis(250));
        long.await.unwrap();
    });
}

#[test]
fn multishot_falls_back_to_single_shot_when_switched_off() {
    let Some(rt) = common::uring(Builder::new().disable(Feature::Multishot)) else {
        return;
    };
    rt.block_on(async {
        assert!(!ringbolt::op::multishot_supported());
    });
    if std::env::var_os("RINGBOLT_DISABLE").is_none() {
        if let Some(rt) = common::uring(Builder::new()) {
            rt.block_on(async {
                assert!(ringbolt::op::multishot_supported());
            });
        }
    }
}

#[test]
fn a_plain_ring_without_taskrun_flags_works() {
    let Some(rt) = common::uring(Builder::new().disable(Feature::TaskrunFlags)) else {
        return;
    };
    assert_eq!(rt.ring_setup(), "none");
    rt.block_on(async {
        let hs: Vec<_> = (0..100)
            .map(|_| ringbolt::spawn(ringbolt::op::nop()))
            .collect();
        for h in hs {
            h.await.unwrap().unwrap();
        }
    });
}
