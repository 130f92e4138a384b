//! No descriptor leaks: many accepts, dropped accept futures, dropped
//! `incoming()` streams. The tests count the sockets in /proc/self/fd, so
//! they take a lock: only one runs at a time in this binary.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use ringbolt::net::{ListenOptions, TcpListener, TcpStream};
use ringbolt::time::{sleep, timeout};

static FD_LOCK: Mutex<()> = Mutex::new(());

/// The sockets this process has open (the descriptors in /proc/self/fd
/// that link to `socket:[..]`): only sockets, since a runtime dropped by
/// an earlier test may still close its eventfd and epoll instance on a
/// thread of its blocking pool that has yet to leave.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

/// Lets cancelled ops complete (their SharedFd clones hold descriptors
/// until then), then checks the count is back to `baseline`.
async fn assert_back_to(baseline: usize) {
    for _ in 0..200 {
        if open_fds() == baseline {
            return;
        }
        sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(open_fds(), baseline, "descriptors leaked");
}

/// Whether the peer of `client` closed the connection (read 0 or reset)
/// within a while, rather than leaving it hanging.
async fn closed_by_peer(client: &TcpStream) -> bool {
    match timeout(Duration::from_secs(2), client.read(Vec::with_capacity(8))).await {
        Ok((Ok(0), _)) => true,
        Ok((Err(e), _)) => e.kind() == io::ErrorKind::ConnectionReset,
        _ => false,
    }
}

#[test]
fn a_thousand_accepts_leave_no_descriptor_behind() {
    let _g = FD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let baseline = open_fds();
        for _ in 0..1000 {
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            drop(server);
            drop(client);
        }
        assert_back_to(baseline).await;
    });
}

#[test]
fn a_dropped_accept_future_leaks_nothing() {
    let _g = FD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let baseline = open_fds();
        // The accept is submitted, then dropped by the timeout.
        assert!(timeout(Duration::from_millis(20), listener.accept())
            .await
            .is_err());
        ringbolt::op::nop().await.unwrap();

        // A connection after the drop is either still queued (a new accept
        // gets it) or was taken by the cancelled accept and closed.
        let client = TcpStream::connect(addr).await.unwrap();
        match timeout(Duration::from_millis(200), listener.accept()).await {
            Ok(accepted) => {
                let (server, _) = accepted.unwrap();
                let (res, _) = server.write_all(b"ok".to_vec()).await;
                res.unwrap();
                let (n, buf) = client.read(Vec::with_capacity(8)).await;
                assert_eq!(&buf[..n.unwrap()], b"ok");
            }
            Err(_) => assert!(closed_by_peer(&client).await),
        }
        drop(client);
        assert_back_to(baseline).await;
    });
}

#[test]
fn a_dropped_incoming_stream_leaks_nothing_and_hands_its_connections_on() {
    let _g = FD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let rt = ringbolt::Runtime::new().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let baseline = open_fds();
        let mut incoming = listener.incoming();
        let c1 = TcpStream::connect(addr).await.unwrap();
        let c2 = TcpStream::connect(addr).await.unwrap();
        let c3 = TcpStream::connect(addr).await.unwrap();
        // Take one; the multishot accept may have accepted the others.
        let s1 = incoming.next().await.unwrap().unwrap();
        sleep(Duration::from_millis(20)).await;
        drop(incoming);
        drop(s1);
        assert!(closed_by_peer(&c1).await);
        // The others were taken in by the multishot accept and queued on
        // the listener when the stream was dropped, or still wait in the
        // backlog: the next accepts hand them out either way.
        for c in [&c2, &c3] {
            let accepted = timeout(Duration::from_secs(5), listener.accept()).await;
            drop(
                accepted
                    .expect("a connection of the dropped stream was lost")
                    .unwrap(),
            );
            assert!(closed_by_peer(c).await);
        }
        drop((c1, c2, c3));
        assert_back_to(baseline).await;

        // A connection made after the drop is not accepted by anyone.
        let late = TcpStream::connect(addr).await.unwrap();
        let accepted = timeout(Duration::from_millis(200), listener.accept()).await;
        drop(accepted);
        drop(late);
        drop(listener);
        // Nothing holds the listener any more (under the thread-pool
        // driver the dropped accept was a readiness wait, not a call).
        assert_back_to(baseline - 1).await;
    });
}

#[test]
fn a_connect_that_times_out_releases_its_socket_at_once() {
    let _g = FD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let rt = ringbolt::Runtime::new().unwrap();
    rt.block_on(async {
        // A backlog of 0 and nobody accepting: once its accept queue is
        // full, the kernel drops further SYNs, so a connect stays pending.
        let opts = ListenOptions::new().backlog(0);
        let listener = TcpListener::bind_with("127.0.0.1:0", &opts).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let baseline = open_fds();
        let mut held = Vec::new();
        let mut timed_out = false;
        for _ in 0..8 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)).await {
                Ok(s) => held.push(s),
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
                    timed_out = true;
                    break;
                }
            }
        }
        assert!(timed_out, "the listener's queue never filled");
        // The timed-out connect's socket is closed now, not when its SYNs
        // give up minutes later (as when a pool thread ran connect(2)).
        assert_back_to(baseline + held.len()).await;
        drop(held);
        drop(listener);
    });
}
