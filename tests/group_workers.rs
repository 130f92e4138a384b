//! TaskGroup and task-locals on a runtime with several workers: children
//! spread over threads are cancelled, joined and dropped just the same.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringbolt::time::sleep;
use ringbolt::{Builder, TaskGroup};

struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

ringbolt::task_local! {
    static WHO: usize;
}

#[test]
fn children_on_several_workers_join_in_order_and_cancel_together() {
    let rt = Builder::new().workers(4).build().unwrap();
    rt.block_on(async {
        let threads = Arc::new(Mutex::new(HashSet::new()));
        let mut g = TaskGroup::new();
        for i in 0..64usize {
            let threads = threads.clone();
            g.spawn(WHO.scope(i, async move {
                sleep(Duration::from_millis((64 - i as u64) % 7)).await;
                threads.lock().unwrap().insert(std::thread::current().id());
                Ok::<_, String>(WHO.get())
            }));
        }
        assert_eq!(g.join().await.unwrap(), (0..64).collect::<Vec<_>>());
        assert!(
            threads.lock().unwrap().len() >= 2,
            "children all ran on one thread"
        );

        let dropped = Arc::new(AtomicUsize::new(0));
        let mut g = TaskGroup::new();
        for _ in 0..32 {
            let d = Dropped(dropped.clone());
            g.spawn(async move {
                let _d = d;
                sleep(Duration::from_secs(10)).await;
                Ok(())
            });
        }
        g.spawn(async {
            sleep(Duration::from_millis(10)).await;
            Err("stop".to_string())
        });
        let start = Instant::now();
        let err = g.join().await.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(err.errors(), ["stop".to_string()]);
        assert_eq!(err.cancelled(), 32);
        assert_eq!(dropped.load(Ordering::SeqCst), 32);
    });
}

#[test]
fn dropping_a_group_aborts_children_on_other_workers() {
    let rt = Builder::new().workers(3).build().unwrap();
    rt.block_on(async {
        let dropped = Arc::new(AtomicUsize::new(0));
        let mut g: TaskGroup<(), ()> = TaskGroup::new();
        for _ in 0..30 {
            let d = Dropped(dropped.clone());
            g.spawn(async move {
                let _d = d;
                sleep(Duration::from_secs(10)).await;
                Ok(())
            });
        }
        sleep(Duration::from_millis(5)).await;
        drop(g);
        let start = Instant::now();
        while dropped.load(Ordering::SeqCst) < 30 && start.elapsed() < Duration::from_secs(1) {
            sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 30);
    });
}
