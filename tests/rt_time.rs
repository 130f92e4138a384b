//! Timers: order, cancellation, timeout, interval.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use ringbolt::time::{interval, sleep, sleep_until, timeout, MissedTickBehavior};

#[test]
fn timers_fire_in_deadline_order() {
    ringbolt::run(async {
        let order = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        // Deadlines 2 ms apart, spawned in a shuffled order.
        let mut idx: Vec<u64> = (0..40).collect();
        let mut lcg = common::Lcg::new(12345);
        for i in (1..idx.len()).rev() {
            idx.swap(i, (lcg.next() >> 33) as usize % (i + 1));
        }
        let mut hs = Vec::new();
        for i in idx {
            let order = order.clone();
            hs.push(ringbolt::spawn(async move {
                let deadline = start + Duration::from_millis(5 + 2 * i);
                sleep_until(deadline).await;
                assert!(Instant::now() >= deadline, "fired early");
                order.lock().unwrap().push(i);
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        let order = order.lock().unwrap();
        assert_eq!(*order, (0..40).collect::<Vec<_>>());
    });
}

struct CountWakes(AtomicUsize);

impl Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_dropped_sleep_never_fires() {
    ringbolt::run(async {
        let counter = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut s = Box::pin(sleep(Duration::from_millis(5)));
        assert!(s
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        drop(s);
        sleep(Duration::from_millis(30)).await;
        assert_eq!(
            counter.0.load(Ordering::SeqCst),
            0,
            "a dropped sleep woke its task"
        );

        // The same sleep, kept, wakes exactly once.
        let mut s = Box::pin(sleep(Duration::from_millis(5)));
        assert!(s
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        sleep(Duration::from_millis(30)).await;
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(s.as_mut().poll(&mut Context::from_waker(&waker)).is_ready());
    });
}

#[test]
fn sleep_waits_at_least_its_duration() {
    ringbolt::run(async {
        for ms in [0u64, 1, 3, 17] {
            let t = Instant::now();
            sleep(Duration::from_millis(ms)).await;
            assert!(t.elapsed() >= Duration::from_millis(ms));
        }
    });
}

#[test]
fn timeout_passes_results_and_cancels_on_expiry() {
    ringbolt::run(async {
        assert_eq!(
            timeout(Duration::from_millis(100), async { 3 }).await,
            Ok(3)
        );
        let t = Instant::now();
        let r = timeout(Duration::from_millis(10), sleep(Duration::from_secs(10))).await;
        let e = r.unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(1));
        let io: std::io::Error = e.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
        // The inner future is dropped at expiry (its in-flight I/O cancelled).
        struct Flag(Arc<AtomicUsize>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let f = Flag(dropped.clone());
        let _ = timeout(Duration::from_millis(5), async move {
            let _f = f;
            sleep(Duration::from_secs(10)).await;
        })
        .await;
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn interval_ticks_on_schedule() {
    ringbolt::run(async {
        let mut iv = interval(Duration::from_millis(10));
        let first = iv.tick().await;
        let mut last = first;
        for _ in 0..5 {
            let t = iv.tick().await;
            assert_eq!(t - last, Duration::from_millis(10));
            assert!(Instant::now() >= t);
            last = t;
        }
        assert!(Instant::now() - first >= Duration::from_millis(50));

        // Skip: after a long stall, the next tick is on the original grid.
        let mut iv = interval(Duration::from_millis(10));
        iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let start = iv.tick().await;
        std::thread::sleep(Duration::from_millis(35));
        let t = iv.tick().await;
        let next = iv.tick().await;
        assert_eq!((next - start).as_millis() % 10, 0);
        assert!(next > t);
    });
}

#[test]
fn many_timers_cancelled_and_fired() {
    ringbolt::run(async {
        let fired = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for i in 0..10_000u64 {
            let fired = fired.clone();
            hs.push(ringbolt::spawn(async move {
                sleep(Duration::from_millis(i % 20)).await;
                fired.fetch_add(1, Ordering::SeqCst);
            }));
        }
        // Abort every other one.
        for (i, h) in hs.iter().enumerate() {
            if i % 2 == 1 {
                h.abort();
            }
        }
        let mut cancelled = 0;
        for h in hs {
            if h.await.is_err() {
                cancelled += 1;
            }
        }
        assert_eq!(fired.load(Ordering::SeqCst) + cancelled, 10_000);
        assert!(cancelled >= 4_000);
    });
}

#[test]
fn an_interval_of_duration_max_ticks_once_and_then_never() {
    ringbolt::run(async {
        let mut iv = interval(Duration::MAX);
        iv.tick().await; // the first tick is at once
        let next = timeout(Duration::from_millis(20), iv.tick()).await;
        assert!(next.is_err(), "a second tick came");
        iv.reset();
        let next = timeout(Duration::from_millis(5), iv.tick()).await;
        assert!(next.is_err(), "a tick came after reset");
    });
}
