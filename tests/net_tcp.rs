//! TCP through the facade: echo, many clients, half-close, incoming(),
//! refused connections, timeouts, spawned tasks, std conversions.

mod common;

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use ringbolt::buf::IoBuf;
use ringbolt::net::{ListenOptions, TcpListener, TcpStream};

/// Accepts forever, echoing every connection in its own spawned task.
async fn echo_server(listener: TcpListener) {
    let mut incoming = listener.incoming();
    while let Some(conn) = incoming.next().await {
        let Ok(stream) = conn else { continue };
        ringbolt::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let (n, b) = stream.read(buf).await;
                let n = match n {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let (res, b) = stream.write_all(b.slice(..n)).await;
                buf = b.into_inner();
                if res.is_err() {
                    return;
                }
            }
        });
    }
}

/// Reads exactly `len` bytes.
async fn read_exact(stream: &TcpStream, len: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let (n, buf) = stream.read(Vec::with_capacity(len - out.len())).await;
        match n? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            _ => out.extend_from_slice(&buf),
        }
    }
    Ok(out)
}

/// A deterministic pseudo-random payload (xorshift).
fn payload(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

async fn start_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    ringbolt::spawn(echo_server(listener));
    addr
}

#[test]
fn one_mib_random_payload_echoes_byte_exact() {
    ringbolt::run(async {
        let addr = start_echo().await;
        let client = Arc::new(TcpStream::connect(addr).await.unwrap());
        let data = payload(1 << 20, 0x9E37_79B9_7F4A_7C15);
        let expected = data.clone();
        // Write and read concurrently: the echo would stall on full socket
        // buffers otherwise.
        let writer = ringbolt::spawn({
            let client = client.clone();
            async move {
                let (res, _) = client.write_all(data).await;
                res
            }
        });
        let got = read_exact(&client, expected.len()).await.unwrap();
        writer.await.unwrap().unwrap();
        assert!(got == expected, "echoed payload differs");
    });
}

#[test]
fn two_hundred_clients_ten_messages_each() {
    ringbolt::run(async {
        let addr = start_echo().await;
        let mut clients = Vec::new();
        for c in 0..200u32 {
            clients.push(ringbolt::spawn(async move {
                let stream = TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                for m in 0..10u32 {
                    let msg = format!("client {c} message {m}").into_bytes();
                    let (res, msg) = stream.write_all(msg).await;
                    res?;
                    let got = read_exact(&stream, msg.len()).await?;
                    assert_eq!(got, msg);
                }
                io::Result::Ok(())
            }));
        }
        for c in clients {
            c.await.unwrap().unwrap();
        }
    });
}

#[test]
fn half_close_reads_zero_and_writes_still_work() {
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();

        let (res, _) = client.write_all(b"request".to_vec()).await;
        res.unwrap();
        client.shutdown(Shutdown::Write).await.unwrap();

        assert_eq!(read_exact(&server, 7).await.unwrap(), b"request");
        let (n, _) = server.read(Vec::with_capacity(16)).await;
        assert_eq!(
            n.unwrap(),
            0,
            "the peer's shutdown(Write) reads as end of stream"
        );

        // The other direction still works.
        let (res, _) = server.write_all(b"response".to_vec()).await;
        res.unwrap();
        drop(server);
        assert_eq!(read_exact(&client, 8).await.unwrap(), b"response");
        let (n, _) = client.read(Vec::with_capacity(16)).await;
        assert_eq!(n.unwrap(), 0);
    });
}

#[test]
fn incoming_yields_several_connections() {
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut incoming = listener.incoming();
        assert_eq!(incoming.is_multishot(), ringbolt::op::multishot_supported());
        let mut clients = Vec::new();
        for _ in 0..5 {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        let mut peers = Vec::new();
        for _ in 0..5 {
            let s = incoming.next().await.unwrap().unwrap();
            peers.push(s.peer_addr().unwrap());
        }
        let mut locals: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        locals.sort();
        peers.sort();
        assert_eq!(locals, peers);
    });
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
    });
}

#[test]
fn connect_timeout_succeeds_in_time() {
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(s.peer_addr().unwrap(), addr);
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, s.local_addr().unwrap());
    });
}

#[test]
fn a_spawned_task_does_socket_io() {
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = ringbolt::spawn(async move {
            let (s, _) = listener.accept().await?;
            let (res, _) = s.write_all(b"from a spawned task".to_vec()).await;
            res
        });
        let client = ringbolt::spawn(async move {
            let s = TcpStream::connect(addr).await?;
            read_exact(&s, 19).await
        });
        server.await.unwrap().unwrap();
        assert_eq!(client.await.unwrap().unwrap(), b"from a spawned task");
    });
}

#[test]
fn vectored_io_and_options() {
    ringbolt::run(async {
        let listener = TcpListener::bind_with(
            "127.0.0.1:0",
            &ListenOptions::new().reuse_port(true).backlog(16),
        )
        .await
        .unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        client.set_nodelay(false).unwrap();
        assert!(!client.nodelay().unwrap());

        let (n, bufs) = client
            .writev(vec![b"ab".to_vec(), b"cde".to_vec(), b"f".to_vec()])
            .await;
        assert_eq!(n.unwrap(), 6);
        assert_eq!(bufs.len(), 3);
        let got = read_exact(&server, 6).await.unwrap();
        assert_eq!(got, b"abcdef");

        let (res, _) = server.write_all(b"0123456789".to_vec()).await;
        res.unwrap();
        // Wait until all ten bytes are there, then read them into two buffers.
        let mut total = 0;
        let mut parts = Vec::new();
        while total < 10 {
            let (n, bufs) = client
                .readv(vec![Vec::with_capacity(4), Vec::with_capacity(16)])
                .await;
            total += n.unwrap();
            parts.extend(bufs.into_iter().flatten());
        }
        assert_eq!(parts, b"0123456789");
    });
}

#[test]
fn write_zc_sends_and_returns_the_buffer() {
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let data = payload(256 * 1024, 7);
        let reader = ringbolt::spawn(async move { read_exact(&server, 256 * 1024).await });
        let mut sent = 0;
        let mut buf = data.clone();
        while sent < buf.len() {
            let end = buf.len();
            let (n, slice) = client.write_zc(buf.slice(sent..end)).await;
            sent += n.unwrap();
            buf = slice.into_inner();
        }
        assert_eq!(buf, data, "the buffer comes back intact");
        assert_eq!(reader.await.unwrap().unwrap(), data);
    });
}

#[test]
fn std_conversions_round_trip() {
    ringbolt::run(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let listener = TcpListener::from_std(std_listener).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::from_std(std::net::TcpStream::connect(addr).unwrap()).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let std_server = server.into_std().unwrap();
        let (res, _) = client.write_all(b"x".to_vec()).await;
        res.unwrap();
        let mut b = [0u8; 1];
        io::Read::read_exact(&mut &std_server, &mut b).unwrap();
        assert_eq!(&b, b"x");
        let std_listener = listener.into_std().unwrap();
        assert_eq!(std_listener.local_addr().unwrap(), addr);
        // Blocking again, as std expects (the thread-pool driver's accept
        // and connect switch sockets to non-blocking mode).
        let std_client = client.into_std().unwrap();
        for fd in [std_listener.as_raw_fd(), std_client.as_raw_fd()] {
            // SAFETY: F_GETFL on an open descriptor takes no memory arguments.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
            assert_eq!(flags & libc::O_NONBLOCK, 0);
        }
    });
}

#[test]
fn a_connected_stream_converts_to_a_blocking_std_stream() {
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (_server, _) = listener.accept().await.unwrap();
        let std_client = client.into_std().unwrap();
        // SAFETY: F_GETFL on an open descriptor takes no memory arguments.
        let flags = unsafe { libc::fcntl(std_client.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0);
    });
}

/// A listener's `Incoming` still accepting after the listener itself went
/// to std (`into_std` sets the socket, which both share, back to blocking):
/// under the thread-pool driver its next accept must switch the socket to
/// non-blocking mode again rather than block its worker in `accept4`.
#[test]
fn an_incoming_that_outlives_into_std_does_not_block_its_worker() {
    for driver in [ringbolt::Driver::ThreadPool, ringbolt::Driver::IoUring] {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        // On a thread of its own: if the worker blocked, the test fails
        // below instead of hanging.
        std::thread::spawn(move || {
            let builder = ringbolt::Builder::new().workers(1);
            let rt = match driver {
                ringbolt::Driver::IoUring => common::uring(builder),
                _ => Some(builder.driver(driver).build().unwrap()),
            };
            let Some(rt) = rt else {
                let _ = done_tx.send(());
                return;
            };
            rt.block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let mut incoming = listener.incoming();
                let _first = std::net::TcpStream::connect(addr).unwrap();
                incoming.next().await.unwrap().unwrap();
                let std_listener = listener.into_std().unwrap();
                // Nothing to accept: the accept waits, the timer fires.
                let waited = ringbolt::time::timeout(Duration::from_millis(50), incoming.next());
                assert!(waited.await.is_err(), "{driver:?}: nothing was pending");
                // And it still takes the next connection.
                let second = std::net::TcpStream::connect(addr).unwrap();
                let conn = incoming.next().await.unwrap().unwrap();
                assert_eq!(conn.peer_addr().unwrap(), second.local_addr().unwrap());
                drop(std_listener);
            });
            let _ = done_tx.send(());
        });
        let finished = done_rx.recv_timeout(Duration::from_secs(10));
        assert!(finished.is_ok(), "{driver:?}: the worker blocked in accept");
    }
}
