//! UDP and Unix-domain sockets through the facade.

use std::net::Shutdown;
use std::path::PathBuf;

use ringbolt::net::{UdpSocket, UnixDatagram, UnixListener, UnixStream};

/// A fresh directory for this test's socket files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "ringbolt-net-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn udp_send_to_recv_from_round_trip() {
    ringbolt::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (n, _) = a.send_to(b"ping".to_vec(), b.local_addr().unwrap()).await;
        assert_eq!(n.unwrap(), 4);
        let (res, buf) = b.recv_from(Vec::with_capacity(1500)).await;
        let (n, from) = res.unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(from, a.local_addr().unwrap());

        let (n, _) = b.send_to(b"pong".to_vec(), from).await;
        assert_eq!(n.unwrap(), 4);
        let (res, buf) = a.recv_from(vec![0u8; 2]).await;
        let (n, _) = res.unwrap();
        assert_eq!(n, 2, "a datagram longer than the buffer is truncated");
        assert_eq!(buf, b"po");
    });
}

#[test]
fn udp_connect_send_recv() {
    ringbolt::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        for i in 0..10u8 {
            let (n, _) = a.send(vec![i; 100]).await;
            assert_eq!(n.unwrap(), 100);
            let (n, buf) = b.recv(Vec::with_capacity(1500)).await;
            assert_eq!(n.unwrap(), 100);
            assert_eq!(buf, vec![i; 100]);
        }
    });
}

#[test]
fn unix_stream_round_trip_and_half_close() {
    let dir = TempDir::new("stream");
    let path = dir.0.join("echo.sock");
    ringbolt::run(async {
        let listener = UnixListener::bind(&path).await.unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        let server = ringbolt::spawn(async move {
            let (s, peer) = listener.accept().await.unwrap();
            assert!(peer.is_unnamed());
            let mut all = Vec::new();
            loop {
                let (n, buf) = s.read(Vec::with_capacity(1024)).await;
                if n.unwrap() == 0 {
                    break;
                }
                all.extend_from_slice(&buf);
            }
            let (res, _) = s.write_all(all).await;
            res.unwrap();
            s.shutdown(Shutdown::Both).await.unwrap();
        });
        let client = UnixStream::connect(&path).await.unwrap();
        assert_eq!(
            client.peer_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        let (res, _) = client.write_all(vec![7u8; 100_000]).await;
        res.unwrap();
        client.shutdown(Shutdown::Write).await.unwrap();
        let mut got = Vec::new();
        loop {
            let (n, buf) = client.read(Vec::with_capacity(8192)).await;
            if n.unwrap() == 0 {
                break;
            }
            got.extend_from_slice(&buf);
        }
        assert_eq!(got, vec![7u8; 100_000]);
        server.await.unwrap();
    });
    assert!(
        path.exists(),
        "the socket file is not removed automatically"
    );
}

#[test]
fn unix_bind_over_an_existing_file_is_addr_in_use() {
    let dir = TempDir::new("inuse");
    let path = dir.0.join("s.sock");
    ringbolt::run(async {
        let _l = UnixListener::bind(&path).await.unwrap();
        let err = UnixListener::bind(&path).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
        let err = UnixStream::connect(dir.0.join("missing"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        let err = UnixStream::connect("a\0b").await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    });
}

#[test]
fn unix_datagram_round_trips() {
    let dir = TempDir::new("dgram");
    let a_path = dir.0.join("a.sock");
    let b_path = dir.0.join("b.sock");
    ringbolt::run(async {
        let a = UnixDatagram::bind(&a_path).await.unwrap();
        let b = UnixDatagram::bind(&b_path).await.unwrap();
        let (n, _) = a.send_to(b"to b".to_vec(), &b_path).await;
        assert_eq!(n.unwrap(), 4);
        let (res, buf) = b.recv_from(Vec::with_capacity(64)).await;
        let (n, from) = res.unwrap();
        assert_eq!(&buf[..n], b"to b");
        assert_eq!(from.as_pathname(), Some(a_path.as_path()));

        // An unbound socket connected to `b`.
        let c = UnixDatagram::unbound().unwrap();
        c.connect(&b_path).await.unwrap();
        let (n, _) = c.send(b"from c".to_vec()).await;
        assert_eq!(n.unwrap(), 6);
        let (res, buf) = b.recv_from(Vec::with_capacity(64)).await;
        let (n, from) = res.unwrap();
        assert_eq!(&buf[..n], b"from c");
        assert!(from.is_unnamed());

        // A connected pair.
        let (x, y) = UnixDatagram::pair().unwrap();
        let (n, _) = x.send(b"pair".to_vec()).await;
        assert_eq!(n.unwrap(), 4);
        let (n, buf) = y.recv(Vec::with_capacity(64)).await;
        assert_eq!(&buf[..n.unwrap()], b"pair");
    });
}

#[test]
fn unix_incoming_and_pair() {
    let dir = TempDir::new("incoming");
    let path = dir.0.join("l.sock");
    ringbolt::run(async {
        let listener = UnixListener::bind(&path).await.unwrap();
        let mut incoming = listener.incoming();
        let _c1 = UnixStream::connect(&path).await.unwrap();
        let _c2 = UnixStream::connect(&path).await.unwrap();
        incoming.next().await.unwrap().unwrap();
        incoming.next().await.unwrap().unwrap();

        let (p, q) = UnixStream::pair().unwrap();
        let (n, _) = p.writev(vec![b"a".to_vec(), b"b".to_vec()]).await;
        assert_eq!(n.unwrap(), 2);
        let (n, buf) = q.read(Vec::with_capacity(4)).await;
        assert_eq!(&buf[..n.unwrap()], b"ab");
    });
}

#[test]
fn buffers_of_2_gib_and_more_move_part_instead_of_failing() {
    // The kernel refuses a socket op longer than INT_MAX; such buffers
    // are clamped, so the op moves what it can and says how much. Neither
    // buffer's pages are written (the sender's are the shared zero page).
    let rt = ringbolt::Builder::new().build().unwrap();
    rt.block_on(async {
        let (p, q) = UnixStream::pair().unwrap();
        let (n, _) = p.write(b"hello".to_vec()).await;
        assert_eq!(n.unwrap(), 5);
        let (n, buf) = q.read(Vec::with_capacity(1 << 31)).await;
        assert_eq!(&buf[..n.unwrap()], b"hello");
        // Under the thread-pool driver too, the send is non-blocking and
        // sends what the socket takes.
        let big = vec![0u8; (1 << 31) + 1];
        let (n, big) = p.write(big).await;
        let n = n.unwrap();
        assert!(n > 0 && n < big.len(), "sent {n}");
        let (got, buf) = q.read(Vec::with_capacity(4096)).await;
        let got = got.unwrap();
        assert!(got > 0 && buf.iter().all(|&b| b == 0));
    });
}

#[test]
fn unix_connect_to_a_full_backlog_is_resource_busy_with_the_kernel_error() {
    use std::os::fd::AsRawFd;
    // The readiness path's connect (the thread-pool driver): a Unix
    // listener whose backlog is full refuses at once (EAGAIN), and there is
    // no readiness to wait for, so the connect returns, as tokio's does.
    let rt = ringbolt::Builder::new()
        .driver(ringbolt::Driver::ThreadPool)
        .build()
        .unwrap();
    let dir = TempDir::new("backlog");
    let path = dir.0.join("sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    // Listening again sets the backlog: 0 takes one connection, no more.
    // SAFETY: a valid listening socket; listen has no memory arguments.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    rt.block_on(async {
        let first = UnixStream::connect(&path).await.unwrap();
        let err = UnixStream::connect(&path).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ResourceBusy, "{err}");
        assert!(err.to_string().contains("backlog is full"), "{err}");
        let source = err
            .get_ref()
            .and_then(|e| e.source())
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .expect("the kernel's error as the source");
        assert_eq!(source.raw_os_error(), Some(libc::EAGAIN));
        drop(first);
    });
}
