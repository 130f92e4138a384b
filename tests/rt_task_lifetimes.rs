//! The task allocation's lifetime rules: a task's future is dropped on its
//! worker's thread whoever cancels it, its output is dropped exactly once
//! whether or not the handle takes it, and wakers may outlive the task and
//! the runtime, on any thread.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;
use std::time::Duration;

use ringbolt::time::sleep;

/// Counts its drops and records the thread of the last one.
struct Tracked {
    drops: Arc<AtomicUsize>,
    dropped_on: Arc<Mutex<Vec<ThreadId>>>,
}

impl Tracked {
    fn new(drops: &Arc<AtomicUsize>, on: &Arc<Mutex<Vec<ThreadId>>>) -> Self {
        Tracked {
            drops: drops.clone(),
            dropped_on: on.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        self.dropped_on
            .lock()
            .unwrap()
            .push(std::thread::current().id());
    }
}

fn counters() -> (Arc<AtomicUsize>, Arc<Mutex<Vec<ThreadId>>>) {
    (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    )
}

#[test]
fn outputs_are_dropped_exactly_once_taken_or_not() {
    let (drops, on) = counters();
    ringbolt::run(async {
        // Taken by awaiting the handle: dropped by the caller.
        let out = ringbolt::spawn({
            let t = Tracked::new(&drops, &on);
            async move { t }
        })
        .await
        .unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(out);
        assert_eq!(drops.load(Ordering::SeqCst), 1);

        // Handle dropped before the task finishes: dropped at completion.
        let (d2, o2) = (drops.clone(), on.clone());
        let h = ringbolt::spawn(async move {
            sleep(Duration::from_millis(5)).await;
            Tracked::new(&d2, &o2)
        });
        drop(h);
        assert!(common::eventually(|| drops.load(Ordering::SeqCst) == 2).await);

        // Finished, never awaited: dropped with the handle.
        let (d3, o3) = (drops.clone(), on.clone());
        let h = ringbolt::spawn(async move { Tracked::new(&d3, &o3) });
        while !h.is_finished() {
            ringbolt::task::yield_now().await;
        }
        assert_eq!(drops.load(Ordering::SeqCst), 2, "kept for the handle");
        drop(h);
        assert_eq!(drops.load(Ordering::SeqCst), 3);

        // Finished, handle dropped on another thread: dropped there, once.
        let (d4, o4) = (drops.clone(), on.clone());
        let h = ringbolt::spawn(async move { Tracked::new(&d4, &o4) });
        while !h.is_finished() {
            ringbolt::task::yield_now().await;
        }
        let other = std::thread::spawn(move || drop(h));
        let other_id = other.thread().id();
        other.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 4);
        assert_eq!(on.lock().unwrap().last(), Some(&other_id));
    });
    assert_eq!(drops.load(Ordering::SeqCst), 4);
}

#[test]
fn a_future_is_dropped_on_its_worker_whoever_cancels_it() {
    let (drops, on) = counters();
    let rt = ringbolt::Builder::new().workers(2).build().unwrap();
    let worker1 = rt.block_on(async {
        rt.spawn_on(1, async { std::thread::current().id() })
            .await
            .unwrap()
    });
    let main_id = std::thread::current().id();
    rt.block_on(async {
        // Aborted from a plain thread: dropped on worker 0 (this thread).
        let t = Tracked::new(&drops, &on);
        let h = ringbolt::spawn(async move {
            let _t = t;
            sleep(Duration::from_secs(10)).await;
        });
        sleep(Duration::from_millis(2)).await;
        let h = std::thread::spawn(move || {
            h.abort();
            h
        })
        .join()
        .unwrap();
        assert!(h.await.unwrap_err().is_cancelled());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(on.lock().unwrap()[0], main_id);

        // On worker 1, aborted from worker 0: dropped on worker 1.
        let t = Tracked::new(&drops, &on);
        let h = rt.spawn_on(1, async move {
            let _t = t;
            sleep(Duration::from_secs(10)).await;
        });
        sleep(Duration::from_millis(2)).await;
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        assert_eq!(on.lock().unwrap()[1], worker1);
    });
    // Idle at shutdown on worker 1, its handle long gone: dropped there.
    let t = Tracked::new(&drops, &on);
    drop(rt.spawn_on(1, async move {
        let _t = t;
        sleep(Duration::from_secs(10)).await;
    }));
    rt.block_on(sleep(Duration::from_millis(5)));
    drop(rt);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    assert_eq!(on.lock().unwrap()[2], worker1);
}

/// Pending until `woken` is set; leaves clones of its waker in `keep`.
struct KeepWakers {
    keep: Arc<Mutex<Vec<Waker>>>,
    polls: usize,
}

impl Future for KeepWakers {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.polls += 1;
        let mut keep = self.keep.lock().unwrap();
        keep.push(cx.waker().clone());
        if self.polls == 3 {
            return Poll::Ready(self.polls);
        }
        // Wakes itself, by reference and by value, from inside its poll.
        cx.waker().wake_by_ref();
        keep.push(cx.waker().clone());
        keep.pop().unwrap().wake();
        Poll::Pending
    }
}

#[test]
fn wakers_may_outlive_their_task_and_the_runtime_on_any_thread() {
    let keep = Arc::new(Mutex::new(Vec::new()));
    let rt = ringbolt::Builder::new().build().unwrap();
    let polls = rt.block_on(async {
        let h = ringbolt::spawn(KeepWakers {
            keep: keep.clone(),
            polls: 0,
        });
        h.await.unwrap()
    });
    assert_eq!(polls, 3, "each self-wake polls the task once more");
    let wakers = std::mem::take(&mut *keep.lock().unwrap());
    assert_eq!(wakers.len(), 3);
    // Wakes of a finished task do nothing, on the worker's thread...
    rt.block_on(async {
        for w in &wakers {
            w.wake_by_ref();
        }
    });
    drop(rt);
    // ...and on any thread once the runtime is gone; the last drop frees.
    std::thread::spawn(move || {
        let mut wakers = wakers;
        let last = wakers.pop().unwrap();
        for w in wakers {
            let by_value = w.clone();
            w.wake_by_ref();
            by_value.wake();
        }
        last.wake();
    })
    .join()
    .unwrap();
}

#[test]
fn many_tasks_woken_from_other_threads_all_finish() {
    ringbolt::run(async {
        let wakers: Arc<Mutex<Vec<Waker>>> = Arc::default();
        let done = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..200 {
            let (wakers, done) = (wakers.clone(), done.clone());
            handles.push(ringbolt::spawn(async move {
                let mut first = true;
                std::future::poll_fn(|cx| {
                    if first {
                        first = false;
                        wakers.lock().unwrap().push(cx.waker().clone());
                        Poll::Pending
                    } else {
                        Poll::Ready(())
                    }
                })
                .await;
                done.fetch_add(1, Ordering::SeqCst);
            }));
        }
        while wakers.lock().unwrap().len() < 200 {
            ringbolt::task::yield_now().await;
        }
        let all = std::mem::take(&mut *wakers.lock().unwrap());
        let threads: Vec<_> = all
            .chunks(50)
            .map(|c| {
                let c = c.to_vec();
                std::thread::spawn(move || c.into_iter().for_each(Waker::wake))
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(done.load(Ordering::SeqCst), 200);
    });
}
