//! Loom models of `CancellationToken`: waking waiters, and cancelling a
//! parent while children are dropped concurrently.
#![cfg(loom)]

use loom::future::block_on;
use loom::thread;
use ringbolt_sync::CancellationToken;

/// Exhaustive by default (each model takes well under a minute); set
/// `LOOM_MAX_PREEMPTIONS=2` to bound it.
fn model(f: impl Fn() + Sync + Send + 'static) {
    loom::model(f);
}

#[test]
fn cancel_wakes_a_waiter_on_another_thread() {
    model(|| {
        let t = CancellationToken::new();
        let child = t.child_token();
        let th = thread::spawn(move || block_on(child.cancelled()));
        t.cancel();
        th.join().unwrap();
    });
}

#[test]
fn cancel_parent_while_dropping_middle_node() {
    model(|| {
        let root = CancellationToken::new();
        let mid = root.child_token();
        let leaf = mid.child_token();
        let th = thread::spawn(move || drop(mid));
        root.cancel();
        th.join().unwrap();
        assert!(leaf.is_cancelled());
    });
}

#[test]
fn drop_child_while_parent_drops() {
    model(|| {
        let root = CancellationToken::new();
        let mid = root.child_token();
        let leaf = mid.child_token();
        let th = thread::spawn(move || drop(leaf));
        drop(mid);
        th.join().unwrap();
        let late = root.child_token();
        root.cancel();
        assert!(late.is_cancelled());
    });
}
