//! A socket operation whose future is dropped consumes nothing, under both
//! drivers: the bytes, datagram or connection it would have taken are there
//! for the next call, and no thread stays blocked in the socket.
//!
//! Under io_uring the dropped op is cancelled in the kernel. Under the
//! thread-pool driver the socket op waits for readiness on the worker's
//! epoll and runs only once the socket is ready, so there is nothing to
//! cancel; these tests failed there when each socket op was a blocking
//! call on a pool thread.

use std::io::{Read, Write};
use std::time::Duration;

use ringbolt::net::{TcpListener, TcpStream, UdpSocket};
use ringbolt::time::timeout;
use ringbolt::{Builder, Driver, Runtime};

/// How long a call gets to show that it waits.
const SHORT: Duration = Duration::from_millis(20);
/// How long a call that should complete gets before the test fails.
const LONG: Duration = Duration::from_secs(5);

fn runtimes() -> Vec<(Driver, Runtime)> {
    let mut v = vec![(
        Driver::ThreadPool,
        Builder::new().driver(Driver::ThreadPool).build().unwrap(),
    )];
    if let Ok(rt) = Builder::new().driver(Driver::IoUring).build() {
        v.push((Driver::IoUring, rt));
    }
    v
}

async fn connected_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

#[test]
fn a_dropped_read_takes_no_bytes() {
    for (driver, rt) in runtimes() {
        rt.block_on(async {
            let (client, server) = connected_pair().await;
            for _ in 0..3 {
                let pending = server.read(Vec::with_capacity(64));
                assert!(timeout(SHORT, pending).await.is_err(), "{driver:?}");
            }
            let (res, _) = client.write_all(b"kept".to_vec()).await;
            res.unwrap();
            let (n, buf) = timeout(LONG, server.read(Vec::with_capacity(64)))
                .await
                .unwrap_or_else(|_| panic!("{driver:?}: the bytes were lost"));
            assert_eq!(&buf[..n.unwrap()], b"kept", "{driver:?}");
        });
    }
}

#[test]
fn a_dropped_accept_takes_no_connection() {
    for (driver, rt) in runtimes() {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            assert!(timeout(SHORT, listener.accept()).await.is_err());
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = timeout(LONG, listener.accept())
                .await
                .unwrap_or_else(|_| panic!("{driver:?}: the connection was lost"))
                .unwrap();
            let (res, _) = client.write_all(b"hi".to_vec()).await;
            res.unwrap();
            let (n, buf) = server.read(Vec::with_capacity(8)).await;
            assert_eq!(&buf[..n.unwrap()], b"hi", "{driver:?}");
        });
    }
}

#[test]
fn a_dropped_datagram_receive_takes_no_datagram() {
    for (driver, rt) in runtimes() {
        rt.block_on(async {
            let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            assert!(timeout(SHORT, rx.recv_from(Vec::with_capacity(64)))
                .await
                .is_err());
            let (res, _) = tx
                .send_to(b"dgram".to_vec(), rx.local_addr().unwrap())
                .await;
            res.unwrap();
            let (got, buf) = timeout(LONG, rx.recv_from(Vec::with_capacity(64)))
                .await
                .unwrap_or_else(|_| panic!("{driver:?}: the datagram was lost"));
            let (n, from) = got.unwrap();
            assert_eq!(&buf[..n], b"dgram", "{driver:?}");
            assert_eq!(from, tx.local_addr().unwrap());
        });
    }
}

#[test]
fn a_stream_dropped_with_a_read_pending_closes_at_once() {
    for (driver, rt) in runtimes() {
        // The peer is a std socket on its own thread: it sees EOF only if
        // the runtime's descriptor is really closed.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = std_listener.accept().unwrap();
            s.set_read_timeout(Some(LONG)).unwrap();
            let mut buf = [0u8; 8];
            s.read(&mut buf).map(|n| n == 0)
        });
        rt.block_on(async {
            let stream = TcpStream::connect(addr).await.unwrap();
            let reader = ringbolt::spawn(async move {
                let _ = stream.read(Vec::with_capacity(8)).await;
            });
            ringbolt::time::sleep(SHORT).await;
            reader.abort();
            assert!(reader.await.unwrap_err().is_cancelled());
        });
        let eof = peer.join().unwrap();
        assert!(
            matches!(eof, Ok(true)),
            "{driver:?}: the peer saw {eof:?}, not the end of the stream"
        );
    }
}

#[test]
fn idle_connections_hold_no_blocking_threads() {
    // More connections waiting to read than the pool has threads: each one
    // must still get its bytes. Under the old thread-pool driver the reads
    // beyond the second queued behind two that never ended.
    const CONNS: usize = 16;
    let rt = Builder::new()
        .driver(Driver::ThreadPool)
        .max_blocking_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        let mut readers = Vec::new();
        for _ in 0..CONNS {
            clients.push(std::net::TcpStream::connect(addr).unwrap());
            let (server, _) = listener.accept().await.unwrap();
            readers.push(ringbolt::spawn(async move {
                let (n, buf) = server.read(Vec::with_capacity(8)).await;
                buf[..n.unwrap()].to_vec()
            }));
        }
        ringbolt::time::sleep(SHORT).await;
        // Answer the last connection first.
        for (i, c) in clients.iter_mut().enumerate().rev() {
            c.write_all(&[i as u8]).unwrap();
        }
        for (i, r) in readers.into_iter().enumerate() {
            let got = timeout(LONG, r)
                .await
                .unwrap_or_else(|_| panic!("connection {i} never got its byte"));
            assert_eq!(got.unwrap(), vec![i as u8]);
        }
    });
    assert_eq!(rt.metrics().ops_blocking, 0, "a socket op used the pool");
}
