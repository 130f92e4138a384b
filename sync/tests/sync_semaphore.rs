//! Contract tests: semaphore.
#![cfg(not(loom))]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;

use common::{block_on, multi_thread, yield_now, Probe};
use ringbolt_sync::{Semaphore, TryAcquireError};

#[test]
fn three_permits_never_exceeded_among_twenty_tasks() {
    multi_thread().block_on(async {
        let sem = Arc::new(Semaphore::new(3));
        let now = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for _ in 0..20 {
            let (sem, now, max) = (sem.clone(), now.clone(), max.clone());
            hs.push(tokio::spawn(async move {
                let _p = sem.acquire().await.unwrap();
                let n = now.fetch_add(1, SeqCst) + 1;
                max.fetch_max(n, SeqCst);
                for _ in 0..3 {
                    yield_now().await;
                }
                now.fetch_sub(1, SeqCst);
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        assert!(max.load(SeqCst) <= 3, "max {}", max.load(SeqCst));
        assert_eq!(max.load(SeqCst), 3, "the three permits were used together");
        assert_eq!(sem.available_permits(), 3);
    });
}

#[test]
fn big_request_is_not_overtaken_by_later_small_ones() {
    let sem = Semaphore::new(1);
    let mut big = Probe::new(sem.acquire_many(3));
    let mut small = Probe::new(sem.acquire());
    assert!(
        big.is_pending(),
        "takes the 1 free permit, waits for 2 more"
    );
    assert_eq!(sem.available_permits(), 0);
    assert!(small.is_pending());
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    sem.add_permits(1);
    assert!(big.is_pending());
    assert!(small.is_pending());
    sem.add_permits(2); // 1 completes big, 1 goes to small
    assert_eq!(big.woken(), 1);
    assert_eq!(small.woken(), 1);
    let Poll::Ready(Ok(p)) = big.poll() else {
        panic!("big must be granted")
    };
    assert_eq!(p.num_permits(), 3);
    let Poll::Ready(Ok(s)) = small.poll() else {
        panic!("small must be granted")
    };
    drop((p, s));
    assert_eq!(sem.available_permits(), 4);
}

#[test]
fn dropping_a_partly_granted_waiter_returns_its_permits() {
    let sem = Semaphore::new(2);
    let mut big = Probe::new(sem.acquire_many(5));
    let mut next = Probe::new(sem.acquire_many(2));
    assert!(big.is_pending());
    assert!(next.is_pending());
    drop(big);
    assert_eq!(next.woken(), 1, "the 2 permits big held went to next");
    assert!(matches!(next.poll(), Poll::Ready(Ok(_))));
    drop(next);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn dropping_a_granted_waiter_passes_permits_on() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut a = Probe::new(sem.acquire());
    let mut b = Probe::new(sem.acquire());
    assert!(a.is_pending());
    assert!(b.is_pending());
    drop(held);
    assert_eq!(a.woken(), 1);
    drop(a);
    assert_eq!(b.woken(), 1);
    assert!(matches!(b.poll(), Poll::Ready(Ok(_))));
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn close_fails_waiters_and_new_acquires() {
    let sem = Semaphore::new(0);
    let mut w = Probe::new(sem.acquire());
    assert!(w.is_pending());
    sem.close();
    assert!(sem.is_closed());
    assert!(matches!(w.poll(), Poll::Ready(Err(_))));
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    assert!(block_on(sem.acquire()).is_err());
    sem.add_permits(2);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn forget_and_owned_permits() {
    let sem = Arc::new(Semaphore::new(2));
    sem.try_acquire().unwrap().forget();
    assert_eq!(sem.available_permits(), 1);
    let p = block_on(sem.clone().acquire_owned()).unwrap();
    assert!(sem.clone().try_acquire_owned().is_err());
    let t = std::thread::spawn(move || drop(p));
    t.join().unwrap();
    assert_eq!(sem.available_permits(), 1);
    assert_eq!(sem.forget_permits(5), 1);
    assert_eq!(sem.available_permits(), 0);
}

#[test]
fn permits_across_os_threads() {
    let sem = Arc::new(Semaphore::new(2));
    let now = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (sem, now) = (sem.clone(), now.clone());
            std::thread::spawn(move || {
                for _ in 0..500 {
                    block_on(async {
                        let _p = sem.acquire().await.unwrap();
                        assert!(now.fetch_add(1, SeqCst) < 2);
                        std::hint::spin_loop();
                        now.fetch_sub(1, SeqCst);
                    });
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(sem.available_permits(), 2);
}
