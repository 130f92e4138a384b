//! Contract tests: cancellation token.
#![cfg(not(loom))]
mod common;

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::{block_on, current_thread, Probe};
use ringbolt_sync::CancellationToken;

#[test]
fn parent_cancels_children_not_the_other_way() {
    let root = CancellationToken::new();
    let a = root.child_token();
    let b = root.child_token();
    let a1 = a.child_token();
    a.cancel();
    assert!(a.is_cancelled() && a1.is_cancelled());
    assert!(!root.is_cancelled() && !b.is_cancelled());
    let mut wait_b = Probe::new(b.cancelled());
    assert!(wait_b.is_pending());
    root.cancel();
    assert!(b.is_cancelled());
    assert_eq!(wait_b.woken(), 1);
    assert_eq!(wait_b.poll(), Poll::Ready(()));
    assert!(
        root.child_token().is_cancelled(),
        "children of a cancelled token start cancelled"
    );
}

#[test]
fn clones_share_one_token() {
    let t = CancellationToken::new();
    let c = t.clone();
    let mut w = Probe::new(c.clone().cancelled_owned());
    assert!(w.is_pending());
    t.cancel();
    assert!(c.is_cancelled());
    assert_eq!(w.poll(), Poll::Ready(()));
}

#[test]
fn dropping_a_middle_token_keeps_grandchildren_linked() {
    let root = CancellationToken::new();
    let mid = root.child_token();
    let leaf = mid.child_token();
    drop(mid);
    root.cancel();
    assert!(leaf.is_cancelled(), "grandchild is handed up to root");
}

#[test]
fn many_dropped_children_then_cancel() {
    let root = CancellationToken::new();
    for _ in 0..10_000 {
        let c = root.child_token();
        let _gc = c.child_token();
    }
    let kept = root.child_token();
    root.cancel();
    assert!(kept.is_cancelled());
}

#[test]
fn drop_guard_cancels_and_disarm_does_not() {
    let t = CancellationToken::new();
    let g = t.clone().drop_guard();
    let t2 = g.disarm();
    assert!(!t.is_cancelled());
    {
        let _g = t2.drop_guard();
    }
    assert!(t.is_cancelled());
}

#[test]
fn run_until_cancelled() {
    current_thread().block_on(async {
        let t = CancellationToken::new();
        assert_eq!(t.run_until_cancelled(async { 7 }).await, Some(7));
        let t2 = t.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            t2.cancel();
        });
        let r = t.run_until_cancelled(std::future::pending::<()>()).await;
        assert_eq!(r, None);
        assert_eq!(
            t.run_until_cancelled(async { 1 }).await,
            None,
            "checks cancellation first"
        );
    });
}

#[test]
fn cancel_from_another_thread_wakes_waiters() {
    let t = CancellationToken::new();
    let children: Vec<_> = (0..4).map(|_| t.child_token()).collect();
    let threads: Vec<_> = children
        .into_iter()
        .map(|c| std::thread::spawn(move || block_on(c.cancelled_owned())))
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    t.cancel();
    for th in threads {
        th.join().unwrap();
    }
}

#[test]
fn concurrent_drop_and_cancel_across_threads() {
    for _ in 0..200 {
        let root = Arc::new(CancellationToken::new());
        let mids: Vec<_> = (0..4).map(|_| root.child_token()).collect();
        let leaves: Vec<_> = mids.iter().map(|m| m.child_token()).collect();
        let r = root.clone();
        let canceller = std::thread::spawn(move || r.cancel());
        let dropper = std::thread::spawn(move || drop(mids));
        canceller.join().unwrap();
        dropper.join().unwrap();
        for l in &leaves {
            assert!(l.is_cancelled());
        }
    }
}
