//! join!, try_join!, join_all, try_join_all and select! through the facade.

mod common;

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::{pipe, TrackedBuf};
use ringbolt::op::{Op, Read};
use ringbolt::time::{sleep, timeout};
use ringbolt::{Runtime, SharedFd};

type BoxedTry = Pin<Box<dyn Future<Output = Result<u32, String>>>>;

/// Counts its drops.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future that is ready at once and logs that it was polled.
fn logged<'a>(log: &'a RefCell<Vec<u32>>, id: u32) -> impl Future<Output = u32> + 'a {
    poll_fn(move |_| {
        log.borrow_mut().push(id);
        Poll::Ready(id)
    })
}

/// Ready at its 50th poll; wakes itself on every other.
fn spin(count: &Cell<u32>) -> impl Future<Output = ()> + '_ {
    poll_fn(move |cx: &mut Context<'_>| {
        count.set(count.get() + 1);
        if count.get() == 50 {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

/// A future that never completes, holding a drop counter.
async fn forever(drops: Arc<AtomicUsize>) -> u32 {
    let _d = Dropped(drops);
    std::future::pending::<()>().await;
    0
}

#[test]
fn join_runs_futures_concurrently_and_keeps_their_order() {
    ringbolt::run(async {
        let start = Instant::now();
        let (a, b, c) = ringbolt::join!(
            async {
                sleep(Duration::from_millis(30)).await;
                "a"
            },
            async {
                sleep(Duration::from_millis(10)).await;
                2
            },
            async { 3.5 },
        );
        assert_eq!((a, b, c), ("a", 2, 3.5));
        assert!(
            start.elapsed() < Duration::from_millis(55),
            "{:?}",
            start.elapsed()
        );
        let (only,) = ringbolt::join!(async { 1 });
        assert_eq!(only, 1);
    });
}

#[test]
fn join_biased_polls_in_written_order_and_fair_rotates() {
    ringbolt::run(async {
        let log = RefCell::new(Vec::new());
        ringbolt::join!(biased; logged(&log, 1), logged(&log, 2), logged(&log, 3));
        assert_eq!(*log.borrow(), [1, 2, 3]);

        // Fair mode: two futures that each need many polls both progress
        // on every wake-up of the join.
        let polls = (Cell::new(0u32), Cell::new(0u32));
        ringbolt::join!(spin(&polls.0), spin(&polls.1));
        assert_eq!((polls.0.get(), polls.1.get()), (50, 50));
    });
}

#[test]
fn try_join_returns_the_first_error_and_drops_the_rest() {
    ringbolt::run(async {
        let ok: Result<(u8, &str), String> =
            ringbolt::try_join!(async { Ok(1) }, async { Ok("x") });
        assert_eq!(ok.unwrap(), (1, "x"));

        let drops = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let d = drops.clone();
        let r: Result<(u32, u32), String> =
            ringbolt::try_join!(async move { Ok(forever(d).await) }, async {
                sleep(Duration::from_millis(5)).await;
                Err("failed".to_string())
            },);
        assert_eq!(r.unwrap_err(), "failed");
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the pending future was not dropped"
        );
    });
}

#[test]
fn join_all_and_try_join_all() {
    ringbolt::run(async {
        let futs = (0..20u64).map(|i| async move {
            sleep(Duration::from_millis(20 - i)).await;
            i
        });
        assert_eq!(ringbolt::join_all(futs).await, (0..20).collect::<Vec<_>>());

        let ok = ringbolt::try_join_all((0..3).map(|i| async move { Ok::<_, String>(i) }));
        assert_eq!(ok.await.unwrap(), [0, 1, 2]);

        let drops = Arc::new(AtomicUsize::new(0));
        let futs: Vec<BoxedTry> = vec![
            Box::pin({
                let d = drops.clone();
                async move { Ok(forever(d).await) }
            }),
            Box::pin(async { Err("no".to_string()) }),
        ];
        assert_eq!(ringbolt::try_join_all(futs).await.unwrap_err(), "no");
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn timeout_around_join_all_is_wait_for_around_gather() {
    ringbolt::run(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let futs = (0..10).map(|_| forever(drops.clone()));
        let start = Instant::now();
        assert!(timeout(Duration::from_millis(10), ringbolt::join_all(futs))
            .await
            .is_err());
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(
            drops.load(Ordering::SeqCst),
            10,
            "every gathered future is dropped"
        );

        let quick = (0..10).map(|i| async move { i });
        let all = timeout(Duration::from_secs(1), ringbolt::join_all(quick))
            .await
            .unwrap();
        assert_eq!(all.len(), 10);
    });
}

#[test]
fn select_drops_the_loser_and_its_in_flight_read_is_released() {
    let rt = Runtime::new().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let (rx, tx) = pipe();
        let fd = SharedFd::new(rx);
        let read = Op::new(Read::new(fd.clone(), TrackedBuf::new(32, &drops), u64::MAX));
        let outcome = ringbolt::select! {
            done = read => done.result.map(|n| n as usize).map_err(|e| e.to_string()),
            _ = sleep(Duration::from_millis(10)) => Err("timer".to_string()),
        };
        assert_eq!(outcome, Err("timer".to_string()));
        let released = || rt.metrics().ops_in_flight == 0 && drops.load(Ordering::SeqCst) == 1;
        if rt.driver_kind() == ringbolt::Driver::IoUring {
            // Cancelled in the kernel: released with the pipe still open.
            assert!(rt.metrics().ops_cancelled >= 1, "{:?}", rt.metrics());
            settle(&released).await;
            assert!(
                released(),
                "the loser's read was not released: {:?}",
                rt.metrics()
            );
        }
        // The thread-pool driver cannot interrupt a blocked read(2): EOF
        // ends it, and then its buffer is freed too.
        drop(tx);
        settle(&released).await;
        assert!(released(), "the loser's buffer was never freed");
    });
}

/// Gives the worker turns until `cond` holds (at most 1 s).
async fn settle(cond: &dyn Fn() -> bool) {
    let start = Instant::now();
    while !cond() && start.elapsed() < Duration::from_secs(1) {
        sleep(Duration::from_millis(1)).await;
    }
}

#[test]
fn select_biased_always_takes_the_first_ready_branch() {
    ringbolt::run(async {
        for _ in 0..100 {
            let w = ringbolt::select! {
                biased;
                a = async { 1 } => a,
                b = async { 2 } => b,
            };
            assert_eq!(w, 1);
        }
    });
}

#[test]
fn select_fair_mode_picks_every_ready_branch_sometimes() {
    ringbolt::run(async {
        let mut wins = [0u32; 3];
        for _ in 0..300 {
            let w = ringbolt::select! {
                a = async { 0 } => a,
                b = async { 1 } => b,
                c = async { 2 } => c,
            };
            wins[w] += 1;
        }
        assert!(wins.iter().all(|&n| n > 30), "{wins:?}");
    });
}

#[test]
fn select_preconditions_disable_branches_without_polling_them() {
    ringbolt::run(async {
        let polled = Cell::new(false);
        let watch = poll_fn(|_| {
            polled.set(true);
            Poll::Ready(1)
        });
        let w = ringbolt::select! {
            v = watch, if false => v,
            v = async { 2 } => v,
        };
        assert_eq!(w, 2);
        assert!(!polled.get(), "a disabled branch was polled");

        let all_off = ringbolt::select! {
            v = async { 1 }, if 1 > 2 => v,
            else => 99,
        };
        assert_eq!(all_off, 99);
    });
}

#[test]
fn select_pattern_mismatch_disables_the_branch_and_else_runs_last() {
    ringbolt::run(async {
        // The first branch finishes first but does not match: the second
        // one still wins.
        let w = ringbolt::select! {
            biased;
            Some(v) = async { None::<u32> } => v,
            v = async {
                ringbolt::yield_now().await;
                7
            } => v,
        };
        assert_eq!(w, 7);

        let nothing = ringbolt::select! {
            Some(v) = async { None::<u32> } => v,
            Ok(v) = async { Err::<u32, ()>(()) } => v,
            else => 0,
        };
        assert_eq!(nothing, 0);
    });
}

#[test]
#[should_panic(expected = "all branches are disabled")]
fn select_without_else_panics_when_every_branch_is_disabled() {
    ringbolt::run(async {
        let _: u32 = ringbolt::select! {
            Some(v) = async { None::<u32> } => v,
        };
    });
}

#[test]
fn select_handlers_can_break_await_and_use_borrowed_values() {
    ringbolt::run(async {
        let (tx, mut rx) = ringbolt::sync::mpsc::unbounded_channel::<u32>();
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        drop(tx);
        let mut sum = 0;
        let mut rounds = 0;
        loop {
            rounds += 1;
            ringbolt::select! {
                // `mut` binding; the handler awaits and uses `rx`, which the
                // (already dropped) branch future borrowed.
                Some(mut v) = rx.recv() => {
                    v += 1;
                    ringbolt::yield_now().await;
                    sum += v;
                    let _still_usable = &mut rx;
                    if v == 3 {
                        continue;
                    }
                }
                else => break,
            }
        }
        assert_eq!(sum, 1 + 2 + 3 + 4 + 5);
        let len = ringbolt::select! {
            ref s = async { String::from("abc") } => s.len(),
        };
        assert_eq!(len, 3);
        assert_eq!(rounds, 6);
    });
}

#[test]
fn select_over_many_branches() {
    ringbolt::run(async {
        let w = ringbolt::select! {
            biased;
            v = std::future::pending::<u32>() => v,
            v = std::future::pending::<u32>() => v,
            v = std::future::pending::<u32>() => v,
            v = std::future::pending::<u32>() => v,
            v = std::future::pending::<u32>() => v,
            v = std::future::pending::<u32>() => v,
            v = std::future::pending::<u32>() => v,
            v = async { 8u32 } => v,
            v = std::future::pending::<u32>() => v,
        };
        assert_eq!(w, 8);
    });
}
