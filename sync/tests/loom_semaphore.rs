//! Loom models of the semaphore: its CAS fast path, the FIFO waiter queue,
//! partial grants, and cancelled waiters passing their permits on. `Mutex`,
//! `RwLock` and the bounded mpsc channel are this semaphore.
#![cfg(loom)]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use loom::future::block_on;
use loom::thread;
use ringbolt_sync::{Mutex, Semaphore};

/// Exhaustive by default (each model takes well under a minute); set
/// `LOOM_MAX_PREEMPTIONS=2` to bound it.
fn model(f: impl Fn() + Sync + Send + 'static) {
    loom::model(f);
}

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

#[test]
fn two_threads_one_permit() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let s2 = sem.clone();
        let t = thread::spawn(move || {
            let _p = block_on(s2.acquire()).unwrap();
        });
        {
            let _p = block_on(sem.acquire()).unwrap();
        }
        t.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn partial_grant_completes_with_a_later_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let s2 = sem.clone();
        let t = thread::spawn(move || {
            block_on(s2.acquire_many(2)).unwrap().forget();
        });
        sem.add_permits(1);
        t.join().unwrap();
        assert_eq!(sem.available_permits(), 0);
    });
}

#[test]
fn dropped_pending_acquire_passes_permits_on() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.clone().try_acquire_owned().unwrap();
        let s2 = sem.clone();
        // A waiter that gives up after one poll, racing with the release.
        let quitter = thread::spawn(move || {
            let waker = Waker::from(Arc::new(Noop));
            let mut cx = Context::from_waker(&waker);
            let mut fut = pin!(s2.acquire());
            if let Poll::Ready(p) = fut.as_mut().poll(&mut cx) {
                drop(p);
            }
        });
        let s3 = sem.clone();
        let waiter = thread::spawn(move || {
            let _p = block_on(s3.acquire()).unwrap();
        });
        drop(held);
        quitter.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(sem.available_permits(), 1, "no permit lost");
    });
}

#[test]
fn close_wakes_waiters() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s2 = sem.clone();
        let t = thread::spawn(move || block_on(s2.acquire()).is_err());
        sem.close();
        assert!(t.join().unwrap());
    });
}

#[test]
fn mutex_increments_are_not_lost() {
    model(|| {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let t = thread::spawn(move || {
            *block_on(m2.lock()) += 1;
        });
        *block_on(m.lock()) += 1;
        t.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 2);
    });
}
