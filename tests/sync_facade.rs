//! `ringbolt::sync` through the facade: the asyncio examples in Rust, run
//! on tokio's executor (the primitives are executor-agnostic) and on plain
//! OS threads.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use ringbolt::sync::{mpsc, CancellationToken, Mutex, Semaphore};

struct Unpark(std::thread::Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[derive(Default)]
struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Polls a boxed future by hand with a counting waker.
fn poll_once<F: Future + ?Sized>(f: Pin<&mut F>, count: &Arc<Count>) -> Poll<F::Output> {
    let waker = Waker::from(count.clone());
    f.poll(&mut Context::from_waker(&waker))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

#[test]
fn hundred_tasks_increment_a_counter_under_a_mutex() {
    rt().block_on(async {
        let m = Arc::new(Mutex::new(0u32));
        let inside = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..100)
            .map(|_| {
                let (m, inside) = (m.clone(), inside.clone());
                tokio::spawn(async move {
                    let mut g = m.lock().await;
                    assert_eq!(inside.fetch_add(1, SeqCst), 0, "two tasks inside");
                    let v = *g;
                    tokio::task::yield_now().await;
                    *g = v + 1;
                    inside.fetch_sub(1, SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(*m.lock().await, 100);
    });
}

#[test]
fn semaphore_of_three_is_never_exceeded_by_twenty_tasks() {
    rt().block_on(async {
        let sem = Arc::new(Semaphore::new(3));
        let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let hs: Vec<_> = (0..20)
            .map(|_| {
                let (sem, now, max) = (sem.clone(), now.clone(), max.clone());
                tokio::spawn(async move {
                    let _p = sem.acquire_owned().await.unwrap();
                    max.fetch_max(now.fetch_add(1, SeqCst) + 1, SeqCst);
                    tokio::task::yield_now().await;
                    tokio::task::yield_now().await;
                    now.fetch_sub(1, SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        assert!(max.load(SeqCst) <= 3);
        assert_eq!(sem.available_permits(), 3);
    });
}

#[test]
fn bounded_channel_of_four_makes_the_fifth_send_wait() {
    let (tx, mut rx) = mpsc::channel(4);
    for i in 0..4 {
        tx.try_send(i).unwrap();
    }
    let count = Arc::new(Count::default());
    let mut fifth = Box::pin(tx.send(4));
    assert!(poll_once(fifth.as_mut(), &count).is_pending());
    assert!(poll_once(fifth.as_mut(), &count).is_pending());
    assert_eq!(count.0.load(SeqCst), 0);
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(count.0.load(SeqCst), 1, "the recv woke the sender");
    assert!(matches!(
        poll_once(fifth.as_mut(), &count),
        Poll::Ready(Ok(()))
    ));
}

#[test]
fn producer_and_consumer_of_ten_thousand_items_in_order() {
    rt().block_on(async {
        let (tx, mut rx) = mpsc::channel(4);
        tokio::spawn(async move {
            for i in 0..10_000u32 {
                tx.send(i).await.unwrap();
            }
        });
        let mut expect = 0;
        while let Some(v) = rx.recv().await {
            assert_eq!(v, expect);
            expect += 1;
        }
        assert_eq!(expect, 10_000);
    });
}

#[test]
fn token_trees_and_drop_guard() {
    let parent = CancellationToken::new();
    let a = parent.child_token();
    let b = parent.child_token();
    let b1 = b.child_token();
    b.cancel();
    assert!(b1.is_cancelled());
    assert!(!parent.is_cancelled() && !a.is_cancelled());
    let waiter = std::thread::spawn({
        let a = a.clone();
        move || block_on(a.cancelled_owned())
    });
    {
        let _guard = parent.clone().drop_guard();
    }
    waiter.join().unwrap();
    assert!(parent.is_cancelled() && a.is_cancelled());
    let t = CancellationToken::new();
    let kept = t.clone().drop_guard().disarm();
    assert!(!kept.is_cancelled());
}

#[test]
fn mutex_across_os_threads() {
    let m = Arc::new(Mutex::new(0u32));
    let ts: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    block_on(async { *m.lock().await += 1 });
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(*block_on(m.lock()), 4000);
}

#[test]
fn dropped_waiters_lose_no_wake_up() {
    let m = Mutex::new(());
    let g = m.try_lock().unwrap();
    let (ca, cb, cc) = (
        Arc::new(Count::default()),
        Arc::new(Count::default()),
        Arc::new(Count::default()),
    );
    let mut pending = Box::pin(m.lock());
    let mut notified = Box::pin(m.lock());
    let mut last = Box::pin(m.lock());
    assert!(poll_once(pending.as_mut(), &ca).is_pending());
    assert!(poll_once(notified.as_mut(), &cb).is_pending());
    assert!(poll_once(last.as_mut(), &cc).is_pending());
    drop(pending); // dropped while still queued
    drop(g);
    assert_eq!(cb.0.load(SeqCst), 1, "lock handed to the next waiter");
    drop(notified); // dropped after being granted the lock
    assert_eq!(cc.0.load(SeqCst), 1, "and passed on again");
    assert!(poll_once(last.as_mut(), &cc).is_ready());

    let sem = Semaphore::new(0);
    let (c1, c2) = (Arc::new(Count::default()), Arc::new(Count::default()));
    let mut first = Box::pin(sem.acquire());
    let mut second = Box::pin(sem.acquire());
    assert!(poll_once(first.as_mut(), &c1).is_pending());
    assert!(poll_once(second.as_mut(), &c2).is_pending());
    sem.add_permits(1);
    drop(first);
    assert_eq!(c2.0.load(SeqCst), 1);
    assert!(matches!(
        poll_once(second.as_mut(), &c2),
        Poll::Ready(Ok(_))
    ));
}
