//! Detached ops (`op::submit_detached`): the completion gets the result
//! and the data once, also when it submits again and the worker reuses the
//! op's box.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{eventually, uring, TrackedBuf};
use ringbolt::op::{submit_detached, Nop, Write};
use ringbolt::{Builder, SharedFd};

/// Submits a detached nop whose completion records its result and, while
/// `left` is above zero, submits the next one from inside the completion.
fn chain(left: usize, results: Arc<Mutex<Vec<i64>>>) {
    let submitted = submit_detached(Nop::new(), move |res, _nop| {
        results.lock().unwrap().push(res.map_or(-1, i64::from));
        if left > 0 {
            chain(left - 1, results);
        }
    });
    assert!(submitted.is_ok(), "the ring takes a detached nop");
}

#[test]
fn each_detached_op_completes_once_with_its_result() {
    let Some(rt) = uring(Builder::new()) else {
        return;
    };
    rt.block_on(async {
        let results = Arc::new(Mutex::new(Vec::new()));
        // Many at once (their boxes come back together), then again, so
        // the second round runs on kept boxes.
        for round in 1..=2 {
            for _ in 0..300 {
                let results = results.clone();
                let submitted = submit_detached(Nop::new(), move |res, _nop| {
                    results.lock().unwrap().push(res.map_or(-1, i64::from));
                });
                assert!(submitted.is_ok());
            }
            assert!(eventually(|| results.lock().unwrap().len() >= 300 * round).await);
        }
        ringbolt::yield_now().await;
        let results = results.lock().unwrap();
        assert_eq!(results.len(), 600, "no completion ran twice");
        assert!(results.iter().all(|&r| r == 0), "a nop completes with 0");
    });
}

#[test]
fn a_completion_may_submit_the_next_detached_op() {
    let Some(rt) = uring(Builder::new()) else {
        return;
    };
    rt.block_on(async {
        let results = Arc::new(Mutex::new(Vec::new()));
        chain(99, results.clone());
        assert!(eventually(|| results.lock().unwrap().len() >= 100).await);
        ringbolt::yield_now().await;
        let results = results.lock().unwrap();
        assert_eq!(results.len(), 100);
        assert!(results.iter().all(|&r| r == 0));
    });
}

#[test]
fn a_detached_write_hands_its_buffer_back_after_the_kernel_is_done() {
    let Some(rt) = uring(Builder::new()) else {
        return;
    };
    let drops = Arc::new(AtomicUsize::new(0));
    let (rx, tx) = common::pipe();
    rt.block_on(async {
        let tx = SharedFd::new(tx);
        let written = Arc::new(AtomicUsize::new(0));
        for i in 0..50u8 {
            let buf = TrackedBuf::filled(&[i; 4], &drops);
            let written = written.clone();
            let write = Write::new(tx.clone(), buf, u64::MAX);
            let submitted = submit_detached(write, move |res, write| {
                assert_eq!(res.unwrap(), 4);
                assert_eq!(write.into_buf().bytes(), &[i; 4]);
                written.fetch_add(1, Ordering::SeqCst);
            });
            assert!(submitted.is_ok());
        }
        assert!(eventually(|| written.load(Ordering::SeqCst) == 50).await);
    });
    assert_eq!(
        drops.load(Ordering::SeqCst),
        50,
        "every buffer dropped once"
    );
    let mut got = vec![0u8; 200];
    let n = std::io::Read::read(&mut std::fs::File::from(rx), &mut got).unwrap();
    assert_eq!(n, 200, "every byte reached the pipe");
}

#[test]
fn without_a_ring_the_op_comes_back_untouched() {
    let rt = Builder::new()
        .driver(ringbolt::Driver::ThreadPool)
        .build()
        .unwrap();
    rt.block_on(async {
        let ran = Arc::new(AtomicUsize::new(0));
        let seen = ran.clone();
        let back = submit_detached(Nop::new(), move |_, _| {
            seen.fetch_add(1, Ordering::SeqCst);
        });
        let Err((_nop, done)) = back else {
            panic!("no ring takes it under the thread-pool driver");
        };
        drop(done);
        assert_eq!(ran.load(Ordering::SeqCst), 0, "the completion never ran");
    });
    assert!(
        submit_detached(Nop::new(), |_, _| {}).is_err(),
        "outside a runtime"
    );
}

#[test]
fn a_multishot_op_is_not_taken_as_a_detached_op() {
    // Its completion would see only the last CQE: every connection a
    // multishot accept took before it would be leaked. (Only a ring takes
    // detached ops at all.)
    let Some(rt) = uring(Builder::new()) else {
        return;
    };
    rt.block_on(async {
        let (rx, _tx) = common::pipe();
        let poll = ringbolt::op::PollAdd::multishot(SharedFd::new(rx), libc::POLLIN as u32);
        assert!(submit_detached(poll, |_, _| {}).is_err());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let accept = ringbolt::op::net::AcceptMulti::new(SharedFd::new(listener.into()));
        assert!(submit_detached(accept, |_, _| {}).is_err());
        // A one-shot op still goes through the ring.
        assert!(submit_detached(Nop::new(), |_, _| {}).is_ok());
    });
}
