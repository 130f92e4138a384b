//! Thread-per-core workers: placement, cross-worker wakes and joins,
//! shutdown with work in flight, a two-worker echo server.

mod common;

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{pipe, TrackedBuf};
use ringbolt::net::{ListenOptions, TcpListener};
use ringbolt::op::{Op, Read};
use ringbolt::{Builder, SharedFd, SpawnPolicy};

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

#[test]
fn workers_are_counted_and_validated() {
    let rt = Builder::new().workers(3).build().unwrap();
    assert_eq!(rt.worker_count(), 3);
    let e = Builder::new().workers(0).build().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = Builder::new().workers(5000).build().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn round_robin_spreads_tasks_over_the_workers() {
    let rt = Builder::new().workers(2).build().unwrap();
    let names = rt.block_on(async {
        let hs: Vec<_> = (0..20)
            .map(|_| {
                ringbolt::spawn(async {
                    ringbolt::yield_now().await;
                    thread_name()
                })
            })
            .collect();
        let mut names = HashSet::new();
        for h in hs {
            names.insert(h.await.unwrap());
        }
        names
    });
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains("ringbolt-worker-1"), "{names:?}");
}

#[test]
fn the_local_policy_keeps_tasks_on_their_worker() {
    let rt = Builder::new()
        .workers(2)
        .spawn_policy(SpawnPolicy::Local)
        .build()
        .unwrap();
    let (outer, inner) = rt
        .block_on(rt.spawn_on(1, async {
            let inner = ringbolt::spawn(async { thread_name() }).await.unwrap();
            (thread_name(), inner)
        }))
        .unwrap();
    assert_eq!(outer, "ringbolt-worker-1");
    assert_eq!(inner, "ringbolt-worker-1");
}

#[test]
#[should_panic(expected = "worker 7 does not exist")]
fn spawn_on_a_missing_worker_panics_with_a_clear_message() {
    let rt = Builder::new().workers(2).build().unwrap();
    drop(rt.spawn_on(7, async {}));
}

#[test]
fn cross_worker_wakes_and_joins() {
    let rt = Builder::new().workers(2).build().unwrap();
    rt.block_on(async {
        // A task on worker 1 waits for a value sent from worker 0 and
        // answers; worker 0 waits for the answer and joins the task.
        for i in 0..200u32 {
            let (tx, rx) = ringbolt::sync::oneshot::channel::<u32>();
            let (tx2, rx2) = ringbolt::sync::oneshot::channel::<u32>();
            let remote = rt.spawn_on(1, async move {
                let v = rx.await.unwrap();
                tx2.send(v + 1).unwrap();
                thread_name()
            });
            ringbolt::yield_now().await;
            tx.send(i).unwrap();
            assert_eq!(rx2.await.unwrap(), i + 1);
            assert_eq!(remote.await.unwrap(), "ringbolt-worker-1");
        }
    });
}

#[test]
fn shutdown_with_work_in_flight_on_every_worker() {
    let drops = Arc::new(AtomicUsize::new(0));
    let rt = Builder::new().workers(2).build().unwrap();
    let mut writers = Vec::new();
    for w in 0..2 {
        for _ in 0..50 {
            let (rx, tx) = pipe();
            writers.push(tx);
            let buf = TrackedBuf::new(32, &drops);
            drop(rt.spawn_on(w, async move {
                let _ = Op::new(Read::new(SharedFd::new(rx), buf, u64::MAX)).await;
            }));
            drop(rt.spawn_on(w, ringbolt::time::sleep(Duration::from_secs(3600))));
        }
    }
    rt.block_on(ringbolt::time::sleep(Duration::from_millis(50)));
    let t = Instant::now();
    drop(rt);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // On io_uring the reads were cancelled and their buffers freed during
    // shutdown; on the thread pool they end when their pipes close.
    drop(writers);
    let deadline = Instant::now() + Duration::from_secs(5);
    while drops.load(Ordering::SeqCst) < 100 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(drops.load(Ordering::SeqCst), 100);
}

#[test]
fn a_two_worker_echo_server_with_a_listener_per_worker() {
    let rt = Builder::new()
        .workers(2)
        .spawn_policy(SpawnPolicy::Local)
        .build()
        .unwrap();
    // Reserve a port, then bind one SO_REUSEPORT listener per worker.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let served = Arc::new(Mutex::new(HashSet::new()));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    for w in 0..2 {
        let (addr, served, ready) = (addr.clone(), served.clone(), ready_tx.clone());
        drop(rt.spawn_on(w, async move {
            let opts = ListenOptions::new().reuse_port(true);
            let listener = TcpListener::bind_with(addr.as_str(), &opts).await.unwrap();
            ready.send(()).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let served = served.clone();
                ringbolt::spawn(async move {
                    served.lock().unwrap().insert(thread_name());
                    let mut buf = Vec::with_capacity(256);
                    loop {
                        let (n, b) = stream.read(buf).await;
                        let n = n.unwrap();
                        if n == 0 {
                            return;
                        }
                        let (r, b) = stream.write_all(b).await;
                        r.unwrap();
                        buf = b;
                        buf.clear();
                    }
                });
            }
        }));
    }
    rt.block_on(async {
        // Drive worker 0 while clients run on std threads.
        let clients = std::thread::spawn(move || {
            ready_rx.recv().unwrap();
            ready_rx.recv().unwrap();
            let mut ok = 0;
            for i in 0..64u32 {
                let mut s = std::net::TcpStream::connect(&addr).unwrap();
                let msg = format!("hello {i}");
                s.write_all(msg.as_bytes()).unwrap();
                let mut back = vec![0; msg.len()];
                s.read_exact(&mut back).unwrap();
                assert_eq!(back, msg.as_bytes());
                ok += 1;
            }
            ok
        });
        while !clients.is_finished() {
            ringbolt::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(clients.join().unwrap(), 64);
    });
    let served = served.lock().unwrap();
    assert!(!served.is_empty());
    // The kernel balances SO_REUSEPORT connections by hash: with 64
    // connections both workers serve some.
    assert_eq!(served.len(), 2, "{served:?}");
}
