//! TaskGroup semantics, one rule per test: spawn order, first-failure
//! cancellation, error aggregation, panics, drop, nesting, tokens, timeouts.

mod common;

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::eventually;
use ringbolt::sync::{CancellationToken, Event};
use ringbolt::time::{sleep, timeout};
use ringbolt::{GroupError, TaskGroup};

/// Sets its flag when dropped: shows that an aborted child's future was
/// dropped (and so its I/O cancelled).
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

/// A child that would sleep for 10 s, holding `flag` until it is dropped.
async fn sleeper(flag: Arc<AtomicBool>) -> Result<u32, String> {
    let _guard = DropFlag(flag);
    sleep(Duration::from_secs(10)).await;
    Ok(0)
}

#[test]
fn results_come_in_spawn_order_when_children_finish_in_reverse() {
    ringbolt::run(async {
        let finished = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut g = TaskGroup::new();
        for i in 0..5u64 {
            let finished = finished.clone();
            g.spawn(async move {
                sleep(Duration::from_millis(5 * (5 - i))).await;
                finished.lock().unwrap().push(i);
                Ok::<_, String>(i * 100)
            });
        }
        assert_eq!(g.len(), 5);
        assert_eq!(g.join().await.unwrap(), [0, 100, 200, 300, 400]);
        assert_eq!(*finished.lock().unwrap(), [4, 3, 2, 1, 0]);
    });
}

#[test]
fn an_empty_group_joins_to_an_empty_vec() {
    ringbolt::run(async {
        let g: TaskGroup<(), ()> = TaskGroup::new();
        assert!(g.is_empty());
        assert_eq!(g.join().await.unwrap(), Vec::<()>::new());
    });
}

#[test]
fn first_error_cancels_a_ten_second_sleeper() {
    ringbolt::run(async {
        let start = Instant::now();
        let dropped = flag();
        let mut g = TaskGroup::new();
        let token = g.token();
        g.spawn(sleeper(dropped.clone()));
        g.spawn(async {
            sleep(Duration::from_millis(10)).await;
            Err("boom".to_string())
        });
        let err = g.join().await.unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "join took {:?}",
            start.elapsed()
        );
        assert_eq!(err.errors(), ["boom".to_string()]);
        assert_eq!(err.panics(), 0);
        assert_eq!(
            err.cancelled(),
            1,
            "the sleeper counts as cancelled, not failed"
        );
        assert!(
            dropped.load(Ordering::SeqCst),
            "join returned before the sleeper was dropped"
        );
        assert!(
            token.is_cancelled(),
            "the group token fires on the first failure"
        );
    });
}

#[test]
fn a_failure_cancels_the_siblings_before_anyone_joins() {
    ringbolt::run(async {
        let dropped = flag();
        let mut g = TaskGroup::new();
        let token = g.token();
        g.spawn(sleeper(dropped.clone()));
        g.spawn(async { Err("bad input".to_string()) });
        // Nobody joins yet: the failure alone fires the token and stops the
        // sleeper at its suspension.
        assert!(
            eventually(|| dropped.load(Ordering::SeqCst)).await,
            "the sibling still runs while the group is not joined"
        );
        assert!(token.is_cancelled(), "the token fires on the failure");
        let start = Instant::now();
        let err = g.join().await.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(err.errors(), ["bad input".to_string()]);
        assert_eq!(err.cancelled(), 1);
    });
}

#[test]
fn a_panic_cancels_the_siblings_before_anyone_joins() {
    ringbolt::run(async {
        let dropped = flag();
        let mut g = TaskGroup::new();
        let token = g.token();
        g.spawn(sleeper(dropped.clone()));
        g.spawn(async {
            ringbolt::yield_now().await;
            panic!("child exploded");
        });
        assert!(
            eventually(|| dropped.load(Ordering::SeqCst)).await,
            "the sibling still runs after the panic"
        );
        assert!(token.is_cancelled());
        let err = g.join().await.unwrap_err();
        assert_eq!((err.panics(), err.cancelled()), (1, 1));
    });
}

#[test]
fn a_parent_cancellation_stops_the_children_before_anyone_joins() {
    ringbolt::run(async {
        let parent = CancellationToken::new();
        let dropped = flag();
        let mut g = TaskGroup::with_parent(&parent);
        g.spawn(sleeper(dropped.clone()));
        sleep(Duration::from_millis(5)).await;
        assert!(!dropped.load(Ordering::SeqCst), "the child runs meanwhile");
        parent.cancel();
        assert!(
            eventually(|| dropped.load(Ordering::SeqCst)).await,
            "the child still runs after its parent token fired"
        );
        assert_eq!(g.join().await.unwrap_err().cancelled(), 1);
    });
}

#[test]
fn a_cooperative_child_woken_by_the_token_may_still_finish() {
    // A child that watches the token is polled once more when it fires:
    // it reaches its next suspension only if it does not finish first.
    ringbolt::run(async {
        let mut g = TaskGroup::new();
        let token = g.token();
        g.spawn(async move {
            token.cancelled().await;
            Ok::<_, &str>("wound down")
        });
        g.spawn(async {
            sleep(Duration::from_millis(5)).await;
            Err("stop")
        });
        let err = g.join().await.unwrap_err();
        assert_eq!(err.errors(), ["stop"]);
        assert_eq!(err.cancelled(), 0, "the watcher finished on its own");
    });
}

#[test]
fn a_successful_join_leaves_the_token_alone() {
    ringbolt::run(async {
        let mut g = TaskGroup::new();
        let token = g.token();
        g.spawn(async { Ok::<_, ()>(1) });
        assert_eq!(g.join().await.unwrap(), [1]);
        assert!(!token.is_cancelled());
    });
}

#[test]
fn two_errors_at_once_are_both_reported() {
    ringbolt::run(async {
        let go = Arc::new(Event::new());
        let mut g = TaskGroup::new();
        for name in ["left", "right"] {
            let go = go.clone();
            g.spawn(async move {
                go.wait().await;
                Err::<(), _>(name)
            });
        }
        g.spawn(sleeper_unit());
        go.set();
        let err = g.join().await.unwrap_err();
        let mut errors = err.errors().to_vec();
        errors.sort();
        assert_eq!(errors, ["left", "right"]);
        assert_eq!(err.cancelled(), 1);
        let text = err.to_string();
        assert!(
            text.contains("2 errors") && text.contains("left") && text.contains("right"),
            "{text}"
        );
    });
}

async fn sleeper_unit() -> Result<(), &'static str> {
    sleep(Duration::from_secs(10)).await;
    Ok(())
}

#[test]
fn errors_iterate_by_value_and_by_reference() {
    ringbolt::run(async {
        let mut g = TaskGroup::new();
        g.spawn(async { Err::<(), _>(std::io::Error::other("a")) });
        g.spawn(async { Err(std::io::Error::other("b")) });
        let err: GroupError<std::io::Error> = g.join().await.unwrap_err();
        assert_eq!((&err).into_iter().count(), 2);
        // std Error: usable as a boxed error, source is the first error.
        let source = std::error::Error::source(&err).map(|s| s.to_string());
        assert!(matches!(source.as_deref(), Some("a" | "b")));
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
        let err = boxed.downcast::<GroupError<std::io::Error>>().unwrap();
        let mut msgs: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
        msgs.sort();
        assert_eq!(msgs, ["a", "b"]);
    });
}

#[test]
fn a_panic_is_counted_its_payload_kept_and_the_worker_keeps_going() {
    ringbolt::run(async {
        let dropped = flag();
        let mut g = TaskGroup::new();
        g.spawn(sleeper(dropped.clone()));
        g.spawn(async {
            ringbolt::yield_now().await;
            panic!("child exploded");
        });
        let err = g.join().await.unwrap_err();
        assert_eq!(err.panics(), 1);
        assert!(err.errors().is_empty());
        assert_eq!(err.cancelled(), 1);
        assert!(dropped.load(Ordering::SeqCst));
        assert!(err.panic_errors()[0].to_string().contains("child exploded"));
        let payloads = err.into_panics();
        assert_eq!(payloads.len(), 1);
        assert_eq!(payloads[0].downcast_ref::<&str>(), Some(&"child exploded"));

        // The worker survived: it still runs tasks and groups.
        assert_eq!(ringbolt::spawn(async { 5 }).await.unwrap(), 5);
        let mut g = TaskGroup::new();
        g.spawn(async { Ok::<_, ()>(6) });
        assert_eq!(g.join().await.unwrap(), [6]);
    });
}

#[test]
fn errors_and_panics_are_reported_together() {
    ringbolt::run(async {
        let mut g = TaskGroup::new();
        g.spawn(async { Err::<(), _>("failed") });
        g.spawn(async { panic!("panicked") });
        let err = g.join().await.unwrap_err();
        assert_eq!(err.errors(), ["failed"]);
        assert_eq!(err.panics(), 1);
        assert_eq!(err.cancelled(), 0);
    });
}

#[test]
fn dropping_an_unjoined_group_aborts_its_children() {
    ringbolt::run(async {
        let flags: Vec<_> = (0..10).map(|_| flag()).collect();
        let mut g = TaskGroup::new();
        for f in &flags {
            g.spawn(sleeper(f.clone()));
        }
        let token = g.token();
        // Let every child start and block in its sleep.
        sleep(Duration::from_millis(5)).await;
        assert!(flags.iter().all(|f| !f.load(Ordering::SeqCst)));
        drop(g);
        assert!(token.is_cancelled());
        assert!(
            eventually(|| flags.iter().all(|f| f.load(Ordering::SeqCst))).await,
            "a child of a dropped group is still alive"
        );
    });
}

#[test]
fn children_see_the_group_token_fire() {
    ringbolt::run(async {
        let saw_it = Arc::new(AtomicUsize::new(0));
        let mut g = TaskGroup::new();
        for _ in 0..3 {
            let token = g.token();
            let saw_it = saw_it.clone();
            g.spawn(async move {
                // Cooperative: react to the token (here before any abort,
                // since a token wake-up and the abort land in one tick).
                token.cancelled().await;
                saw_it.fetch_add(1, Ordering::SeqCst);
                Ok::<(), &str>(())
            });
        }
        let token = g.token();
        let outside = ringbolt::spawn(async move {
            token.cancelled().await;
        });
        g.spawn(async {
            sleep(Duration::from_millis(5)).await;
            Err("stop")
        });
        let err = g.join().await.unwrap_err();
        assert_eq!(err.errors(), ["stop"]);
        // An outside task watching the token was woken as well.
        timeout(Duration::from_secs(1), outside)
            .await
            .unwrap()
            .unwrap();
    });
}

#[test]
fn cancel_aborts_children_and_join_reports_it() {
    ringbolt::run(async {
        let flags: Vec<_> = (0..3).map(|_| flag()).collect();
        let mut g = TaskGroup::new();
        for f in &flags {
            g.spawn(sleeper(f.clone()));
        }
        sleep(Duration::from_millis(2)).await;
        g.cancel();
        let start = Instant::now();
        let err = g.join().await.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(
            (err.errors().len(), err.panics(), err.cancelled()),
            (0, 0, 3)
        );
        assert!(flags.iter().all(|f| f.load(Ordering::SeqCst)));
    });
}

#[test]
fn spawning_into_a_cancelled_group_aborts_the_child_before_it_runs() {
    ringbolt::run(async {
        let ran = Arc::new(AtomicBool::new(false));
        let mut g = TaskGroup::new();
        g.cancel();
        let r = ran.clone();
        g.spawn(async move {
            r.store(true, Ordering::SeqCst);
            Ok::<_, ()>(())
        });
        assert_eq!(g.join().await.unwrap_err().cancelled(), 1);
        assert!(!ran.load(Ordering::SeqCst));
    });
}

#[test]
fn nested_group_children_are_aborted_when_the_outer_group_fails() {
    ringbolt::run(async {
        let inner_flags: Vec<_> = (0..4).map(|_| flag()).collect();
        let inner_started = Arc::new(Event::new());
        let mut outer = TaskGroup::new();
        {
            let inner_flags = inner_flags.clone();
            let started = inner_started.clone();
            // No link between the groups: the inner group is dropped with
            // the aborted outer child, and its drop aborts its children.
            outer.spawn(async move {
                let mut inner = TaskGroup::new();
                for f in &inner_flags {
                    inner.spawn(sleeper(f.clone()));
                }
                started.set();
                inner
                    .join()
                    .await
                    .map(|v| v.len() as u32)
                    .map_err(|e| e.to_string())
            });
        }
        outer.spawn(async move {
            inner_started.wait().await;
            sleep(Duration::from_millis(5)).await;
            Err("outer failure".to_string())
        });
        let start = Instant::now();
        let err = outer.join().await.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(err.errors(), ["outer failure".to_string()]);
        assert_eq!(err.cancelled(), 1);
        assert!(
            eventually(|| inner_flags.iter().all(|f| f.load(Ordering::SeqCst))).await,
            "a grandchild outlived the cancelled outer group"
        );
    });
}

#[test]
fn with_parent_links_tokens_down_the_tree() {
    ringbolt::run(async {
        let mut outer: TaskGroup<(), String> = TaskGroup::new();
        let outer_token = outer.token();
        let (tx, rx) = ringbolt::sync::oneshot::channel();
        outer.spawn(async move {
            let mut inner: TaskGroup<(), String> = TaskGroup::with_parent(&outer_token);
            let token = inner.token();
            let _ = tx.send(token.clone());
            inner.spawn(async move {
                token.cancelled().await;
                Ok(())
            });
            inner.join().await.map(|_| ()).map_err(|e| e.to_string())
        });
        let inner_token = rx.await.unwrap();
        assert!(!inner_token.is_cancelled());
        outer.cancel();
        assert!(
            inner_token.is_cancelled(),
            "the inner token is a child of the outer one"
        );
        assert!(outer.join().await.is_err());
    });
}

#[test]
fn with_parent_cancellation_aborts_a_joining_group() {
    ringbolt::run(async {
        let parent = CancellationToken::new();
        let dropped = flag();
        let mut g = TaskGroup::with_parent(&parent);
        g.spawn(sleeper(dropped.clone()));
        let p = parent.clone();
        ringbolt::spawn(async move {
            sleep(Duration::from_millis(10)).await;
            p.cancel();
        });
        let start = Instant::now();
        let err = g.join().await.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(err.cancelled(), 1);
        assert!(dropped.load(Ordering::SeqCst));
    });
}

#[test]
fn timeout_around_join_aborts_the_group() {
    ringbolt::run(async {
        let flags: Vec<_> = (0..5).map(|_| flag()).collect();
        let mut g = TaskGroup::new();
        for f in &flags {
            g.spawn(sleeper(f.clone()));
        }
        let token = g.token();
        let start = Instant::now();
        assert!(timeout(Duration::from_millis(20), g.join()).await.is_err());
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(token.is_cancelled());
        assert!(eventually(|| flags.iter().all(|f| f.load(Ordering::SeqCst))).await);

        // And a group that finishes in time is unaffected.
        let mut g = TaskGroup::new();
        g.spawn(async { Ok::<_, ()>(1) });
        assert_eq!(
            timeout(Duration::from_secs(1), g.join())
                .await
                .unwrap()
                .unwrap(),
            [1]
        );
    });
}

#[test]
fn spawn_local_children_may_be_not_send() {
    ringbolt::run(async {
        let shared = Rc::new(std::cell::Cell::new(0));
        let mut g = TaskGroup::new();
        for i in 1..=3 {
            let shared = shared.clone();
            g.spawn_local(async move {
                ringbolt::yield_now().await;
                shared.set(shared.get() + i);
                Ok::<_, ()>(i)
            });
        }
        assert_eq!(g.join().await.unwrap(), [1, 2, 3]);
        assert_eq!(shared.get(), 6);
    });
}

#[test]
fn a_group_is_send_when_its_results_are() {
    fn assert_send<T: Send>(_: &T) {}
    ringbolt::run(async {
        let mut g = TaskGroup::new();
        g.spawn(async { Ok::<_, String>(1u8) });
        assert_send(&g);
        let fut = g.join();
        assert_send(&fut);
        // The whole group can be joined from another task.
        let h = ringbolt::spawn(fut);
        assert_eq!(h.await.unwrap().unwrap(), [1]);
    });
}

#[test]
fn many_children_join_quickly() {
    ringbolt::run(async {
        let mut g = TaskGroup::new();
        for i in 0..10_000u32 {
            g.spawn(async move {
                if i % 7 == 0 {
                    ringbolt::yield_now().await;
                }
                Ok::<_, ()>(i)
            });
        }
        let out = g.join().await.unwrap();
        assert_eq!(out.len(), 10_000);
        assert!(out.iter().enumerate().all(|(i, v)| i as u32 == *v));
    });
}
