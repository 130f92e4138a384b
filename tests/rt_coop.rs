//! The coop budget: a task whose awaits are all ready at once still lets
//! the other tasks of its worker run (see `ringbolt::task::TASK_BUDGET`).
//! Each test runs on one worker under both drivers, with a loop that
//! would otherwise hold the worker for all of its iterations.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ringbolt::net::TcpListener;
use ringbolt::task::{consume_budget, unconstrained};
use ringbolt::time::{sleep, timeout};
use ringbolt::{Driver, Runtime};

/// More ready awaits than any number of budgets a test would need.
const SPINS: usize = 100_000;

fn runtimes() -> Vec<(Driver, Runtime)> {
    common::runtimes(|b| b.workers(1))
}

/// Spawns a task that sets a flag, then runs `spin` (given the flag) as
/// another task on the same worker: the number of awaits `spin` made
/// before it saw the flag, or `None` if it never did.
async fn spins_until_the_other_task_runs<F, Fut>(spin: F) -> Option<usize>
where
    F: FnOnce(Arc<AtomicBool>) -> Fut,
    Fut: Future<Output = Option<usize>> + Send + 'static,
{
    let flag = Arc::new(AtomicBool::new(false));
    let spinner = ringbolt::spawn(spin(flag.clone()));
    let setter = ringbolt::spawn(async move { flag.store(true, Ordering::SeqCst) });
    setter.await.unwrap();
    spinner.await.unwrap()
}

/// The spinning task saw the other task's flag, and did so after at most
/// a budget's worth of awaits (two, allowing for where the budget stood).
fn assert_yielded_within_a_budget(seen: Option<usize>, driver: Driver) {
    let spins = seen.unwrap_or_else(|| panic!("{driver:?}: the other task never ran"));
    assert!(
        spins <= 2 * ringbolt::task::TASK_BUDGET as usize,
        "{driver:?}: {spins} ready awaits before it yielded"
    );
}

#[test]
fn a_loop_of_ready_sleeps_yields_to_the_other_tasks() {
    for (driver, rt) in runtimes() {
        let seen = rt.block_on(spins_until_the_other_task_runs(|flag| async move {
            for i in 0..SPINS {
                if flag.load(Ordering::SeqCst) {
                    return Some(i);
                }
                sleep(Duration::ZERO).await;
                // A timeout that has expired before it starts: ready too.
                let _ = timeout(Duration::ZERO, std::future::pending::<()>()).await;
            }
            None
        }));
        assert_yielded_within_a_budget(seen, driver);
    }
}

#[test]
fn a_read_loop_on_a_full_socket_yields_to_the_other_tasks() {
    for (driver, rt) in runtimes() {
        let seen = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (client, server) = common::pair(&listener).await;
            let (res, _) = client.write_all(vec![7u8; 64 * 1024]).await;
            res.unwrap();
            // Let every byte arrive, and arm the receive with a first
            // read, so each read below is ready at once.
            sleep(Duration::from_millis(50)).await;
            let first = server.read_chunk().await.unwrap().unwrap();
            // Reads complete without waiting from the buffer ring's queue
            // and under the thread-pool driver (tried at once); a plain
            // receive on the ring waits for its completion every time.
            let at_once = first.is_ring_buffer() || driver == Driver::ThreadPool;
            drop(first);
            spins_until_the_other_task_runs(move |flag| async move {
                for i in 0..64 * 1024 {
                    if flag.load(Ordering::SeqCst) {
                        return Some(i);
                    }
                    let (n, _) = server.read(Vec::with_capacity(1)).await;
                    assert_eq!(n.unwrap(), 1);
                }
                None
            })
            .await
            .map(|spins| (spins, at_once))
        });
        let (spins, at_once) =
            seen.unwrap_or_else(|| panic!("{driver:?}: the other task never ran"));
        // Each read spends one unit, also where it falls back to a plain
        // receive (not one for the fallback and one for the receive).
        assert!(
            !at_once || spins > ringbolt::task::TASK_BUDGET as usize / 2 + 1,
            "{driver:?}: yielded after only {spins} reads"
        );
        assert_yielded_within_a_budget(Some(spins), driver);
    }
}

#[test]
fn consume_budget_lets_a_computation_yield() {
    for (driver, rt) in runtimes() {
        let seen = rt.block_on(spins_until_the_other_task_runs(|flag| async move {
            for i in 0..SPINS {
                if flag.load(Ordering::SeqCst) {
                    return Some(i);
                }
                consume_budget().await;
            }
            None
        }));
        assert_yielded_within_a_budget(seen, driver);
    }
}

#[test]
fn unconstrained_futures_do_not_yield_for_the_budget() {
    for (driver, rt) in runtimes() {
        let seen = rt.block_on(spins_until_the_other_task_runs(|flag| async move {
            // Several budgets' worth of ready sleeps in one poll: the
            // other task cannot run in between.
            unconstrained(async {
                for _ in 0..4 * ringbolt::task::TASK_BUDGET as usize {
                    sleep(Duration::ZERO).await;
                }
            })
            .await;
            Some(usize::from(flag.load(Ordering::SeqCst)))
        }));
        assert_eq!(seen, Some(0), "{driver:?}: the other task ran meanwhile");
    }
}

#[test]
fn a_timeout_fires_around_a_future_that_spends_every_budget() {
    for (driver, rt) in runtimes() {
        let res = rt.block_on(async {
            let spin = ringbolt::spawn(async {
                // Never finishes, and spends the whole budget on every poll.
                timeout(Duration::from_millis(20), async {
                    loop {
                        consume_budget().await;
                    }
                })
                .await
            });
            // A bound of our own, so that a broken timeout fails rather
            // than hangs: this task runs between the spinner's polls.
            timeout(Duration::from_secs(5), spin).await
        });
        let inner = res.unwrap_or_else(|_| panic!("{driver:?}: the timeout never fired"));
        assert!(inner.unwrap().is_err(), "{driver:?}: expected Elapsed");
    }
}

#[test]
fn a_loop_over_finished_join_handles_yields_to_the_other_tasks() {
    for (driver, rt) in runtimes() {
        let seen = rt.block_on(async {
            let handles: Vec<_> = (0..4 * ringbolt::task::TASK_BUDGET as usize)
                .map(|i| ringbolt::spawn(async move { i }))
                .collect();
            // Every child has finished: each await below is ready at once.
            sleep(Duration::from_millis(20)).await;
            spins_until_the_other_task_runs(|flag| async move {
                for (i, handle) in handles.into_iter().enumerate() {
                    if flag.load(Ordering::SeqCst) {
                        return Some(i);
                    }
                    assert_eq!(handle.await.unwrap(), i);
                }
                None
            })
            .await
        });
        assert_yielded_within_a_budget(seen, driver);
    }
}

#[test]
fn a_loop_over_a_backlog_of_connections_yields_to_the_other_tasks() {
    // Several budgets' worth of connections wait in the backlog, so each
    // accept of the stream (a multishot accept under io_uring) is ready at
    // once.
    let conns = 3 * ringbolt::task::TASK_BUDGET as usize;
    assert!(common::raise_nofile(4 * conns as u64 + 64), "RLIMIT_NOFILE");
    for (driver, rt) in runtimes() {
        let seen = rt.block_on(async {
            let opts = ringbolt::net::ListenOptions::new().backlog(2 * conns as u32);
            let listener = TcpListener::bind_with("127.0.0.1:0", &opts).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut incoming = listener.incoming();
            // Armed with a first accept, then the backlog fills.
            let first = std::net::TcpStream::connect(addr).unwrap();
            incoming.next().await.unwrap().unwrap();
            let clients: Vec<_> = (0..conns)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect();
            sleep(Duration::from_millis(50)).await;
            let seen = spins_until_the_other_task_runs(|flag| async move {
                for i in 0..conns {
                    if flag.load(Ordering::SeqCst) {
                        return Some(i);
                    }
                    incoming.next().await.unwrap().unwrap();
                }
                None
            })
            .await;
            drop((first, clients));
            seen
        });
        assert_yielded_within_a_budget(seen, driver);
    }
}

#[test]
fn a_read_chunk_loop_at_the_end_of_a_stream_yields_to_the_other_tasks() {
    for (driver, rt) in runtimes() {
        let seen = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (client, server) = common::pair(&listener).await;
            drop(client);
            // Every read below finds the end of the stream: at once under
            // the thread-pool driver (a non-blocking receive) and from the
            // buffer ring's queue.
            assert!(server.read_chunk().await.unwrap().is_none());
            spins_until_the_other_task_runs(move |flag| async move {
                for i in 0..SPINS {
                    if flag.load(Ordering::SeqCst) {
                        return Some(i);
                    }
                    assert!(server.read_chunk().await.unwrap().is_none());
                }
                None
            })
            .await
        });
        assert_yielded_within_a_budget(seen, driver);
    }
}
