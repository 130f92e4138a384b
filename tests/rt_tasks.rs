//! Tasks: spawn, join, abort, panic, cross-thread wakes, the blocking pool.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use ringbolt::time::sleep;

#[test]
fn a_million_spawned_tasks_complete() {
    let sum = ringbolt::run(async {
        let mut hs = Vec::with_capacity(1_000_000);
        for i in 0..1_000_000u64 {
            hs.push(ringbolt::spawn(async move { i }));
        }
        let mut sum = 0u64;
        for h in hs {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 999_999 * 1_000_000 / 2);
}

#[test]
fn abort_cancels_a_sleeping_task_quickly() {
    ringbolt::run(async {
        let h = ringbolt::spawn(async {
            sleep(Duration::from_secs(10)).await;
            1
        });
        sleep(Duration::from_millis(5)).await;
        let t = Instant::now();
        h.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled());
        assert!(!err.is_panic());
        assert!(t.elapsed() < Duration::from_secs(1));
    });
}

#[test]
fn abort_before_first_poll_and_after_finish() {
    ringbolt::run(async {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let h = ringbolt::spawn(async move { r.store(true, Ordering::SeqCst) });
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        assert!(
            !ran.load(Ordering::SeqCst),
            "an aborted task must not start"
        );

        let h = ringbolt::spawn(async { 5 });
        while !h.is_finished() {
            ringbolt::yield_now().await;
        }
        h.abort();
        assert_eq!(h.await.unwrap(), 5, "a finished task keeps its output");
    });
}

#[test]
fn a_task_can_abort_itself() {
    ringbolt::run(async {
        let slot: Arc<Mutex<Option<ringbolt::JoinHandle<()>>>> = Arc::default();
        let s = slot.clone();
        let reached = Arc::new(AtomicBool::new(false));
        let r = reached.clone();
        let h = ringbolt::spawn(async move {
            ringbolt::yield_now().await;
            if let Some(me) = s.lock().unwrap().as_ref() {
                me.abort();
            }
            ringbolt::yield_now().await;
            r.store(true, Ordering::SeqCst);
        });
        *slot.lock().unwrap() = Some(h);
        for _ in 0..10 {
            ringbolt::yield_now().await;
        }
        let h = slot.lock().unwrap().take().unwrap();
        assert!(h.await.unwrap_err().is_cancelled());
        assert!(!reached.load(Ordering::SeqCst));
    });
}

#[test]
fn a_panicking_task_gives_a_join_error_and_the_worker_goes_on() {
    ringbolt::run(async {
        let n = std::hint::black_box(42);
        let h = ringbolt::spawn(async move {
            ringbolt::yield_now().await;
            panic!("boom {n}");
        });
        let err = h.await.unwrap_err();
        assert!(err.is_panic());
        assert!(err.to_string().contains("boom 42"), "{err}");
        let payload = err.into_panic();
        assert_eq!(payload.downcast_ref::<String>().unwrap(), "boom 42");
        // The worker still runs tasks and I/O.
        assert_eq!(ringbolt::spawn(async { 7 }).await.unwrap(), 7);
        ringbolt::op::nop().await.unwrap();
    });
}

#[test]
fn dropping_a_join_handle_detaches_the_task() {
    ringbolt::run(async {
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        drop(ringbolt::spawn(async move {
            sleep(Duration::from_millis(5)).await;
            d.store(true, Ordering::SeqCst);
        }));
        // Runs to its end with nobody holding its handle.
        assert!(common::eventually(|| done.load(Ordering::SeqCst)).await);
    });
}

#[test]
fn spawn_local_runs_non_send_futures() {
    ringbolt::run(async {
        let counter = Rc::new(Cell::new(0));
        let mut hs = Vec::new();
        for _ in 0..10 {
            let c = counter.clone();
            hs.push(ringbolt::spawn_local(async move {
                ringbolt::yield_now().await;
                c.set(c.get() + 1);
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(counter.get(), 10);
    });
}

/// A one-shot slot completed by another OS thread.
#[derive(Default)]
struct Slot {
    value: Mutex<(Option<u32>, Option<Waker>)>,
}

struct Wait(Arc<Slot>);

impl Future for Wait {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut g = self.0.value.lock().unwrap();
        match g.0.take() {
            Some(v) => Poll::Ready(v),
            None => {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

fn complete_from_thread(slot: Arc<Slot>, v: u32, after: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let w = {
            let mut g = slot.value.lock().unwrap();
            g.0 = Some(v);
            g.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    })
}

#[test]
fn a_wake_from_another_thread_reaches_a_spawned_task() {
    ringbolt::run(async {
        for i in 0..100 {
            let slot = Arc::new(Slot::default());
            let h = ringbolt::spawn(Wait(slot.clone()));
            let t = complete_from_thread(slot, i, Duration::from_micros(200));
            assert_eq!(h.await.unwrap(), i);
            t.join().unwrap();
        }
    });
}

#[test]
fn a_wake_from_another_thread_reaches_the_main_future() {
    ringbolt::run(async {
        let slot = Arc::new(Slot::default());
        let t = complete_from_thread(slot.clone(), 9, Duration::from_millis(20));
        // The worker is idle: it sleeps in the ring until the eventfd fires.
        assert_eq!(Wait(slot).await, 9);
        t.join().unwrap();
    });
}

#[test]
fn abort_from_another_thread() {
    ringbolt::run(async {
        let h = ringbolt::spawn(sleep(Duration::from_secs(10)));
        let h = Arc::new(h);
        let h2 = h.clone();
        std::thread::spawn(move || h2.abort()).join().unwrap();
        let h = Arc::into_inner(h).unwrap();
        assert!(h.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn a_busy_task_does_not_starve_timers_or_io() {
    ringbolt::run(async {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let spinner = ringbolt::spawn(async move {
            let mut n = 0u64;
            while !s.load(Ordering::SeqCst) {
                ringbolt::yield_now().await;
                n += 1;
            }
            n
        });
        let t = Instant::now();
        sleep(Duration::from_millis(20)).await;
        ringbolt::op::nop().await.unwrap();
        assert!(t.elapsed() < Duration::from_secs(2));
        stop.store(true, Ordering::SeqCst);
        assert!(spinner.await.unwrap() > 0);
    });
}

#[test]
fn named_tasks_and_ids() {
    ringbolt::run(async {
        let h = ringbolt::task::Builder::new()
            .name("conn")
            .spawn(async { 3 });
        let dbg = format!("{h:?}");
        assert!(dbg.contains("conn"), "{dbg}");
        let other = ringbolt::spawn(async {});
        assert_ne!(h.id(), other.id());
        assert_eq!(h.await.unwrap(), 3);
        other.await.unwrap();
    });
}

#[test]
fn spawn_blocking_runs_off_the_worker_and_survives_panics() {
    let rt = ringbolt::Builder::new()
        .max_blocking_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let worker = std::thread::current().id();
        let h = ringbolt::spawn_blocking(move || std::thread::current().id() != worker);
        assert!(h.await.unwrap());

        let err = ringbolt::spawn_blocking(|| -> u32 { panic!("blocking boom") })
            .await
            .unwrap_err();
        assert!(err.is_panic());

        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for i in 0..10 {
            let (running, peak) = (running.clone(), peak.clone());
            hs.push(ringbolt::spawn_blocking(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
                running.fetch_sub(1, Ordering::SeqCst);
                i
            }));
        }
        let mut total = 0;
        for h in hs {
            total += h.await.unwrap();
        }
        assert_eq!(total, 45);
        assert!(
            peak.load(Ordering::SeqCst) <= 2,
            "max_blocking_threads exceeded"
        );
    });
    assert!(rt.metrics().blocking_threads <= 2);
}

#[test]
fn blocking_threads_leave_after_keep_alive() {
    let rt = ringbolt::Builder::new()
        .thread_keep_alive(Duration::from_millis(20))
        .build()
        .unwrap();
    rt.block_on(async {
        ringbolt::spawn_blocking(|| ()).await.unwrap();
    });
    assert_eq!(rt.metrics().blocking_threads, 1);
    let t = Instant::now();
    while rt.metrics().blocking_threads > 0 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(rt.metrics().blocking_threads, 0);
}

#[test]
#[should_panic(expected = "cannot start a runtime from within a runtime")]
fn nested_block_on_panics_with_a_clear_message() {
    ringbolt::run(async {
        ringbolt::run(async {});
    });
}

#[test]
#[should_panic(expected = "must be called from inside a ringbolt runtime")]
fn spawn_outside_a_runtime_panics_with_a_clear_message() {
    drop(ringbolt::spawn(async {}));
}

#[test]
fn io_outside_a_runtime_is_an_error_not_a_panic() {
    let rt = ringbolt::Runtime::new().unwrap();
    // A future created and polled outside block_on (futures::executor-like).
    let fut = ringbolt::op::nop();
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(Err(e)) => assert!(e.to_string().contains("inside a ringbolt runtime")),
        other => panic!("expected an error, got {other:?}"),
    }
    drop(rt);
}

/// Panics when dropped.
struct Boom(Arc<AtomicUsize>);

impl Drop for Boom {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("output destructor");
    }
}

#[test]
fn a_panic_dropping_an_unclaimed_output_is_contained() {
    for workers in [1, 2] {
        let rt = ringbolt::Builder::new().workers(workers).build().unwrap();
        let dropped = Arc::new(AtomicUsize::new(0));
        let d = dropped.clone();
        let after = rt.block_on(async move {
            for _ in 0..4 {
                let d = d.clone();
                // Nobody claims the output: the runtime drops it.
                drop(ringbolt::spawn(async move { Boom(d) }));
            }
            assert!(common::eventually(|| d.load(Ordering::SeqCst) == 4).await);
            // The output is stored before the handle goes: the handle's drop
            // runs its destructor, and that panic is contained too.
            let boom = Boom(d.clone());
            let h = ringbolt::spawn(async move { boom });
            assert!(common::eventually(|| h.is_finished()).await);
            drop(h);
            assert_eq!(d.load(Ordering::SeqCst), 5);
            // The same for a finished `spawn_blocking` closure.
            let boom = Boom(d.clone());
            let h = ringbolt::spawn_blocking(move || boom);
            assert!(common::eventually(|| h.is_finished()).await);
            drop(h);
            assert_eq!(d.load(Ordering::SeqCst), 6);
            // The workers go on.
            let mut sum = 0;
            for i in 0..8u32 {
                sum += ringbolt::spawn(async move { i }).await.unwrap();
            }
            sum
        });
        assert_eq!(after, 28);
        assert_eq!(dropped.load(Ordering::SeqCst), 6);
    }
}
