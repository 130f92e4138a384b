//! Contract tests: barrier event.
#![cfg(not(loom))]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;

use common::{block_on, multi_thread, Probe};
use ringbolt_sync::{Barrier, Event};

#[test]
fn barrier_releases_all_with_one_leader_per_round() {
    multi_thread().block_on(async {
        let b = Arc::new(Barrier::new(5));
        let leaders = Arc::new(AtomicUsize::new(0));
        for _round in 0..3 {
            let hs: Vec<_> = (0..5)
                .map(|_| {
                    let (b, leaders) = (b.clone(), leaders.clone());
                    tokio::spawn(async move {
                        if b.wait().await.is_leader() {
                            leaders.fetch_add(1, SeqCst);
                        }
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }
        assert_eq!(leaders.load(SeqCst), 3);
    });
}

#[test]
fn barrier_waits_for_the_last() {
    let b = Barrier::new(3);
    let mut a = Probe::new(b.wait());
    let mut c = Probe::new(b.wait());
    assert!(a.is_pending());
    assert!(c.is_pending());
    assert!(block_on(b.wait()).is_leader());
    assert!(matches!(a.poll(), Poll::Ready(r) if !r.is_leader()));
    assert!(matches!(c.poll(), Poll::Ready(r) if !r.is_leader()));
}

#[test]
fn event_set_wakes_all_and_clear_resets() {
    let e = Event::new();
    let mut a = Probe::new(e.wait());
    let mut b = Probe::new(e.wait());
    assert!(a.is_pending());
    assert!(b.is_pending());
    e.set();
    e.clear();
    assert_eq!(
        a.poll(),
        Poll::Ready(()),
        "woken by set, even if cleared since"
    );
    assert_eq!(b.poll(), Poll::Ready(()));
    let mut c = Probe::new(e.wait());
    assert!(c.is_pending(), "cleared");
    e.set();
    assert!(e.is_set());
    assert_eq!(Probe::new(e.wait()).poll(), Poll::Ready(()));
    assert_eq!(c.poll(), Poll::Ready(()));
}

#[test]
fn event_across_threads() {
    let e = Arc::new(Event::new());
    let ts: Vec<_> = (0..4)
        .map(|_| {
            let e = e.clone();
            std::thread::spawn(move || block_on(e.wait()))
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(10));
    e.set();
    for t in ts {
        t.join().unwrap();
    }
}
