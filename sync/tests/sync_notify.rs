//! Contract tests: notify.
#![cfg(not(loom))]
mod common;

use std::sync::Arc;
use std::task::Poll;

use common::{block_on, Probe};
use ringbolt_sync::Notify;

#[test]
fn notify_one_stores_one_permit() {
    let n = Notify::new();
    n.notify_one();
    n.notify_one();
    let mut a = Probe::new(n.notified());
    assert_eq!(a.poll(), Poll::Ready(()));
    let mut b = Probe::new(n.notified());
    assert!(b.is_pending(), "permits do not add up");
    n.notify_one();
    assert_eq!(b.woken(), 1);
    assert_eq!(b.poll(), Poll::Ready(()));
}

#[test]
fn notify_one_is_fifo() {
    let n = Notify::new();
    let mut a = Probe::new(n.notified());
    let mut b = Probe::new(n.notified());
    assert!(a.is_pending());
    assert!(b.is_pending());
    n.notify_one();
    assert_eq!((a.woken(), b.woken()), (1, 0));
    assert_eq!(a.poll(), Poll::Ready(()));
    assert!(b.is_pending());
}

#[test]
fn notify_waiters_wakes_created_futures_and_stores_nothing() {
    let n = Notify::new();
    let mut polled = Probe::new(n.notified());
    assert!(polled.is_pending());
    let mut unpolled = Probe::new(n.notified());
    n.notify_waiters();
    assert_eq!(polled.poll(), Poll::Ready(()));
    assert_eq!(unpolled.poll(), Poll::Ready(()), "created before the call");
    let mut later = Probe::new(n.notified());
    assert!(later.is_pending(), "notify_waiters stores no permit");
}

#[test]
fn dropped_notified_waiter_passes_notification_on() {
    let n = Notify::new();
    let mut a = Probe::new(n.notified());
    let mut b = Probe::new(n.notified());
    assert!(a.is_pending());
    assert!(b.is_pending());
    n.notify_one();
    drop(a);
    assert_eq!(b.woken(), 1);
    assert_eq!(b.poll(), Poll::Ready(()));
    // And with nobody left, it becomes the stored permit.
    let mut c = Probe::new(n.notified());
    assert!(c.is_pending());
    n.notify_one();
    drop(c);
    assert_eq!(Probe::new(n.notified()).poll(), Poll::Ready(()));
}

#[test]
fn notify_across_threads() {
    let n = Arc::new(Notify::new());
    let n2 = n.clone();
    let t = std::thread::spawn(move || {
        for _ in 0..1000 {
            block_on(n2.notified());
        }
    });
    let mut sent = 0;
    while !t.is_finished() {
        n.notify_one();
        sent += 1;
        std::thread::yield_now();
    }
    t.join().unwrap();
    assert!(sent >= 1000);
}
