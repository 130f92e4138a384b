//! Contract tests: mutex.
#![cfg(not(loom))]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;

use common::{block_on, current_thread, multi_thread, yield_now, Probe};
use ringbolt_sync::{Mutex, RwLock};

fn counter_100(rt: tokio::runtime::Runtime) {
    rt.block_on(async {
        let m = Arc::new(Mutex::new(0u64));
        let inside = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for _ in 0..100 {
            let (m, inside) = (m.clone(), inside.clone());
            hs.push(tokio::spawn(async move {
                let mut g = m.lock().await;
                assert_eq!(inside.fetch_add(1, SeqCst), 0, "two tasks inside the lock");
                let v = *g;
                yield_now().await;
                *g = v + 1;
                inside.fetch_sub(1, SeqCst);
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(*m.lock().await, 100);
    });
}

#[test]
fn hundred_tasks_increment_under_lock_current_thread() {
    counter_100(current_thread());
}

#[test]
fn hundred_tasks_increment_under_lock_multi_thread() {
    counter_100(multi_thread());
}

#[test]
fn fifo_order_and_try_lock_does_not_jump_the_queue() {
    let m = Mutex::new(Vec::new());
    let g = m.try_lock().unwrap();
    let mut waiters: Vec<_> = (0..5)
        .map(|i| {
            let m = &m;
            Probe::new(async move { m.lock().await.push(i) })
        })
        .collect();
    for w in &mut waiters {
        assert!(w.is_pending());
    }
    drop(g);
    assert!(m.try_lock().is_err(), "lock was handed to the first waiter");
    // Poll in reverse each round: only the granted head can finish.
    let mut done = [false; 5];
    for round in 0..5 {
        for (i, w) in waiters.iter_mut().enumerate().rev() {
            if !done[i] && w.poll().is_ready() {
                done[i] = true;
                assert_eq!(i, round, "waiters finish in FIFO order");
            }
        }
    }
    assert!(done.iter().all(|d| *d));
    assert_eq!(*m.try_lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn dropping_a_pending_lock_future_loses_nothing() {
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let mut a = Probe::new(m.lock());
    let mut b = Probe::new(m.lock());
    assert!(a.is_pending());
    assert!(b.is_pending());
    drop(a);
    drop(g);
    assert_eq!(b.woken(), 1, "next waiter woken");
    assert!(matches!(b.poll(), Poll::Ready(_)));
}

#[test]
fn dropping_a_granted_lock_future_passes_the_lock_on() {
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let mut a = Probe::new(m.lock());
    let mut b = Probe::new(m.lock());
    assert!(a.is_pending());
    assert!(b.is_pending());
    drop(g);
    assert_eq!(a.woken(), 1);
    assert_eq!(b.woken(), 0);
    drop(a); // granted but never observed
    assert_eq!(b.woken(), 1, "lock passed on to b");
    let Poll::Ready(g) = b.poll() else {
        panic!("b must get the lock")
    };
    drop(g);
    assert!(m.try_lock().is_ok());
}

#[test]
fn owned_guards_and_into_inner() {
    let m = Arc::new(Mutex::new(String::from("a")));
    let mut g = block_on(m.clone().lock_owned());
    g.push('b');
    assert!(m.clone().try_lock_owned().is_err());
    drop(g);
    let g = m.clone().try_lock_owned().unwrap();
    assert_eq!(&*g, "ab");
    drop(g);
    assert_eq!(Arc::try_unwrap(m).unwrap().into_inner(), "ab");
}

#[test]
fn lock_across_os_threads() {
    let m = Arc::new(Mutex::new(0u64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..2000 {
                    block_on(async { *m.lock().await += 1 });
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*m.try_lock().unwrap(), 8000);
}

#[test]
fn rwlock_readers_share_writers_exclude_and_queue_fairly() {
    let l = RwLock::new(1);
    let r1 = l.try_read().unwrap();
    let r2 = block_on(l.read());
    assert_eq!(*r1 + *r2, 2);
    assert!(l.try_write().is_err());
    let mut w = Probe::new(async { *l.write().await += 1 });
    assert!(w.is_pending());
    // A writer is queued: new readers wait behind it (fair).
    assert!(l.try_read().is_err());
    let mut r3 = Probe::new(async { *l.read().await });
    assert!(r3.is_pending());
    drop(r1);
    assert!(w.is_pending());
    drop(r2);
    assert_eq!(w.poll(), Poll::Ready(()));
    assert_eq!(r3.poll(), Poll::Ready(2));
    drop((w, r3));
    assert_eq!(*l.try_write().unwrap(), 2);
    assert_eq!(l.into_inner(), 2);
}

#[test]
fn rwlock_across_tasks() {
    multi_thread().block_on(async {
        let l = Arc::new(RwLock::new(0u64));
        let mut hs = Vec::new();
        for i in 0..50 {
            let l = l.clone();
            hs.push(tokio::spawn(async move {
                if i % 5 == 0 {
                    let mut g = l.write().await;
                    let v = *g;
                    yield_now().await;
                    *g = v + 1;
                } else {
                    let g = l.read().await;
                    let v = *g;
                    yield_now().await;
                    assert_eq!(*g, v, "value changed under a read guard");
                }
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(*l.read().await, 10);
    });
}
