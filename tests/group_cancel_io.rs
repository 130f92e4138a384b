//! Cancelling a group reaches the kernel: 1,000 children blocked in pipe
//! reads are cancelled with ASYNC_CANCEL, every CQE is reaped, every buffer
//! freed and every descriptor closed.
//!
//! Alone in its binary (and serialised) because it counts the process's
//! open descriptors. Under the thread-pool driver (RINGBOLT_DRIVER=threadpool)
//! a blocked `read(2)` cannot be cancelled: there the tests check that the
//! group still joins at once and that everything is released once the
//! pipes reach EOF, but not the ring counters.

mod common;

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{eventually, open_fds, pipe, serial, TrackedBuf};
use ringbolt::op::{Op, Read};
use ringbolt::time::{sleep, timeout};
use ringbolt::{Driver, Runtime, SharedFd, TaskGroup};

const CHILDREN: usize = 1000;

/// Raises the soft descriptor limit to the hard one (each child has a pipe:
/// two descriptors) and says how many pipes the test may open.
fn pipes_allowed() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit; raising the soft limit up to the
        // hard one needs no privilege.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    }
    let budget = (lim.rlim_cur as usize).saturating_sub(open_fds() + 64) / 2;
    budget.clamp(1, CHILDREN)
}

/// Whether the reads go through io_uring (and so can be cancelled in the
/// kernel and show in the ring's counters).
fn uring(rt: &Runtime) -> bool {
    rt.driver_kind() == Driver::IoUring
}

/// A child blocked in a read of `fd` (nothing is ever written).
async fn blocked_read(fd: SharedFd, drops: Arc<AtomicUsize>) -> io::Result<usize> {
    let done = Op::new(Read::new(fd, TrackedBuf::new(64, &drops), u64::MAX)).await;
    done.result.map(|n| n as usize)
}

/// Spawns `CHILDREN` blocked readers into `g` (over as many pipes as the
/// descriptor limit allows) and waits until all their reads have started
/// (in the kernel, or on the blocking pool). Returns the write ends, which
/// keep the pipes open.
async fn spawn_readers(
    rt: &Runtime,
    g: &mut TaskGroup<usize, io::Error>,
    drops: &Arc<AtomicUsize>,
) -> Vec<std::os::fd::OwnedFd> {
    let pipes = pipes_allowed();
    let mut readers = Vec::with_capacity(pipes);
    let mut writers = Vec::with_capacity(pipes);
    for _ in 0..pipes {
        let (r, w) = pipe();
        readers.push(SharedFd::new(r));
        writers.push(w);
    }
    let before = ops_started(rt);
    for i in 0..CHILDREN {
        g.spawn(blocked_read(readers[i % pipes].clone(), drops.clone()));
    }
    drop(readers);
    wait_until_started(rt, before, drops).await;
    writers
}

/// Reads started so far: submitted to a ring (and not completed: none of
/// these completes before its pipe closes), or handed to the blocking pool.
fn ops_started(rt: &Runtime) -> u64 {
    let m = rt.metrics();
    if uring(rt) {
        m.ops_in_flight
    } else {
        m.ops_blocking
    }
}

/// Waits until all `CHILDREN` reads have started (`before`: the count
/// before they were spawned), so that each has its buffer, which the test
/// then counts back: a child cancelled before its first poll never makes
/// one. Sleeping a fixed time instead is not enough on a loaded machine.
async fn wait_until_started(rt: &Runtime, before: u64, drops: &Arc<AtomicUsize>) {
    assert!(
        eventually(|| ops_started(rt) >= before + CHILDREN as u64).await,
        "the reads never all started: {:?}",
        rt.metrics()
    );
    assert_eq!(drops.load(Ordering::SeqCst), 0, "a buffer was freed early");
}

/// After cancellation: every CQE reaped, every buffer dropped, every
/// descriptor closed.
async fn assert_released(rt: &Runtime, drops: &Arc<AtomicUsize>, baseline_fds: usize) {
    assert!(
        eventually(|| rt.metrics().ops_in_flight == 0 || !uring(rt)).await,
        "CQEs left unreaped: {:?}",
        rt.metrics()
    );
    assert!(
        eventually(|| drops.load(Ordering::SeqCst) == CHILDREN).await,
        "buffers dropped: {} of {CHILDREN}",
        drops.load(Ordering::SeqCst)
    );
    assert!(
        eventually(|| open_fds() == baseline_fds).await,
        "open descriptors: {} (baseline {baseline_fds})",
        open_fds()
    );
}

#[test]
fn a_failing_child_cancels_a_thousand_blocked_reads() {
    let _serial = serial();
    let rt = Runtime::new().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let baseline_fds = open_fds();
    rt.block_on(async {
        let mut g = TaskGroup::new();
        let writers = spawn_readers(&rt, &mut g, &drops).await;
        let cancelled_before = rt.metrics().ops_cancelled;

        g.spawn(async { Err(io::Error::other("one child fails")) });
        let start = Instant::now();
        let err = g.join().await.unwrap_err();
        let took = start.elapsed();
        assert!(took < Duration::from_secs(1), "join took {took:?}");
        assert_eq!(err.errors().len(), 1);
        assert_eq!(err.errors()[0].to_string(), "one child fails");
        assert_eq!(err.panics(), 0);
        assert_eq!(err.cancelled(), CHILDREN);
        assert!(
            !uring(&rt) || rt.metrics().ops_cancelled >= cancelled_before + CHILDREN as u64,
            "reads were not cancelled in the kernel: {:?}",
            rt.metrics()
        );

        drop(writers);
        assert_released(&rt, &drops, baseline_fds).await;
    });
    assert_eq!(rt.metrics().ops_in_flight, 0);
}

#[test]
fn a_timeout_around_join_cancels_a_thousand_blocked_reads() {
    let _serial = serial();
    let rt = Runtime::new().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let baseline_fds = open_fds();
    rt.block_on(async {
        let mut g = TaskGroup::new();
        let writers = spawn_readers(&rt, &mut g, &drops).await;
        let token = g.token();

        // asyncio.wait_for(tg-like gather, timeout): the join future, and
        // with it the group, is dropped when the deadline passes.
        let start = Instant::now();
        assert!(timeout(Duration::from_millis(20), g.join()).await.is_err());
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(token.is_cancelled());

        drop(writers);
        assert_released(&rt, &drops, baseline_fds).await;
    });
    assert_eq!(rt.metrics().ops_in_flight, 0);
}

#[test]
fn dropping_a_nested_group_cancels_the_reads_of_its_grandchildren() {
    let _serial = serial();
    let rt = Runtime::new().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let baseline_fds = open_fds();
    rt.block_on(async {
        let mut inner = TaskGroup::new();
        let writers = spawn_readers(&rt, &mut inner, &drops).await;
        // The inner group lives in a child of the outer group; the outer
        // group fails, aborts that child, and the inner group is dropped.
        let mut outer = TaskGroup::new();
        outer.spawn(async move {
            inner
                .join()
                .await
                .map(|v| v.len())
                .map_err(|e| e.to_string())
        });
        outer.spawn(async {
            sleep(Duration::from_millis(5)).await;
            Err("outer fails".to_string())
        });
        let start = Instant::now();
        let err = outer.join().await.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(err.errors(), ["outer fails".to_string()]);

        drop(writers);
        assert_released(&rt, &drops, baseline_fds).await;
    });
}

#[test]
fn reads_on_several_workers_are_cancelled_and_released() {
    let _serial = serial();
    let rt = ringbolt::Builder::new().workers(3).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let baseline_fds = open_fds();
    rt.block_on(async {
        let pipes = pipes_allowed();
        let mut writers = Vec::with_capacity(pipes);
        let mut readers = Vec::with_capacity(pipes);
        for _ in 0..pipes {
            let (r, w) = pipe();
            readers.push(SharedFd::new(r));
            writers.push(w);
        }
        // Children go round-robin over the workers: each read is submitted
        // to the ring of the worker that runs it.
        let mut g = TaskGroup::new();
        let before = ops_started(&rt);
        for i in 0..CHILDREN {
            g.spawn(blocked_read(readers[i % pipes].clone(), drops.clone()));
        }
        drop(readers);
        wait_until_started(&rt, before, &drops).await;
        g.spawn(async { Err(io::Error::other("stop")) });
        let start = Instant::now();
        let err = g.join().await.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(err.cancelled(), CHILDREN);
        drop(writers);
        assert!(
            eventually(|| drops.load(Ordering::SeqCst) == CHILDREN).await,
            "buffers dropped: {} of {CHILDREN}",
            drops.load(Ordering::SeqCst)
        );
        assert!(
            eventually(|| open_fds() == baseline_fds).await,
            "open descriptors: {} (baseline {baseline_fds})",
            open_fds()
        );
    });
}
