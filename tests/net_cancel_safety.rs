//! A socket operation whose future is dropped consumes nothing, under both
//! drivers: the bytes, datagram or connection it would have taken are there
//! for the next call, and no thread stays blocked in the socket.
//!
//! Under io_uring the dropped op is cancelled in the kernel, and when the
//! kernel completes it anyway (an op dropped with its SQE still in the
//! queue is issued before its cancel) what it got is kept for the next
//! call: the random-cancel tests below lost bytes, datagrams and
//! connections before that. Under the thread-pool driver the socket op
//! waits for readiness on the worker's epoll and runs only once the socket
//! is ready, so there is nothing to cancel; these tests failed there when
//! each socket op was a blocking call on a pool thread.

mod common;

use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ringbolt::buf::BufResult;
use ringbolt::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use ringbolt::time::timeout;
use ringbolt::{Builder, Driver, Feature, Runtime};

/// How long a call gets to show that it waits.
const SHORT: Duration = Duration::from_millis(20);
/// How long a call that should complete gets before the test fails.
const LONG: Duration = Duration::from_secs(5);

fn runtimes() -> Vec<(Driver, Runtime)> {
    common::runtimes(|b| b)
}

#[test]
fn a_dropped_read_takes_no_bytes() {
    for (driver, rt) in runtimes() {
        rt.block_on(async {
            let (client, server) = common::connected_pair().await;
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

/// The runtimes a random-cancel echo runs on: both drivers, and io_uring
/// once more without multishot receives, where stream reads are plain
/// receives that the kernel may complete after their future is dropped.
fn echo_runtimes() -> Vec<(&'static str, Runtime)> {
    let mut v = vec![(
        "thread-pool",
        Builder::new()
            .driver(Driver::ThreadPool)
            .workers(2)
            .build()
            .unwrap(),
    )];
    let uring = || Builder::new().driver(Driver::IoUring).workers(2);
    if let Ok(rt) = uring().build() {
        v.push(("io_uring", rt));
    }
    if let Ok(rt) = uring().disable(Feature::Multishot).build() {
        v.push(("io_uring, plain receives", rt));
    }
    v
}

#[test]
fn reads_cancelled_at_random_lose_and_repeat_nothing() {
    for (label, rt) in echo_runtimes() {
        rt.block_on(async {
            random_cancel_echo(&rt, label, tcp_pairs().await).await;
        });
    }
}

/// The fixed-order case the random cancels rarely hit: bytes already wait
/// in the socket, and every read is dropped right after its first poll
/// (`timeout(ZERO, ..)` polls the read, then finds its deadline passed).
/// Under io_uring a plain receive's SQE is then still in the submission
/// queue: the kernel issues it before its cancel and it completes with
/// the bytes, which the next read must get, once and in order.
#[test]
fn reads_dropped_before_submission_lose_and_repeat_nothing() {
    const MESSAGES: u32 = 200;
    for (label, rt) in echo_runtimes() {
        rt.block_on(async {
            let (client, server) = common::connected_pair().await;
            let (mut got, mut dropped) = (Vec::new(), 0);
            for i in 0..MESSAGES {
                let (res, _) = client.write_all(i.to_le_bytes().to_vec()).await;
                res.unwrap();
                match timeout(Duration::ZERO, server.read(Vec::with_capacity(64))).await {
                    Ok((res, buf)) => {
                        let n = res.unwrap();
                        got.extend_from_slice(&buf[..n]);
                    }
                    Err(_) => dropped += 1,
                }
            }
            let all = MESSAGES as usize * 4;
            while got.len() < all {
                let (res, buf) = timeout(LONG, server.read(Vec::with_capacity(4096)))
                    .await
                    .unwrap_or_else(|_| panic!("{label}: {} of {all} bytes came", got.len()));
                let n = res.unwrap();
                assert!(n > 0, "{label}: end of stream after {} bytes", got.len());
                got.extend_from_slice(&buf[..n]);
            }
            let want: Vec<u8> = (0..MESSAGES).flat_map(u32::to_le_bytes).collect();
            assert!(got == want, "{label}: bytes lost, repeated or reordered");
            if label == "io_uring, plain receives" {
                // A read that finds bytes salvaged from the one before
                // completes at once; the others submit a receive, which
                // never completes within its first poll, and are dropped.
                assert!(dropped >= MESSAGES / 2, "{label}: {dropped} dropped");
            }
        });
    }
}

/// As above with `read_chunk`: under the thread-pool driver a chunk read
/// waits on the socket's readiness with a buffer of its own, and under
/// io_uring without multishot receives it is a plain receive that the
/// kernel may complete after its future is dropped.
#[test]
fn chunk_reads_cancelled_at_random_lose_and_repeat_nothing() {
    for (label, rt) in echo_runtimes() {
        rt.block_on(async {
            let pairs = tcp_pairs().await;
            let pairs = pairs.into_iter().map(|(c, s)| (Chunked(c), Chunked(s)));
            random_cancel_echo(&rt, label, pairs.collect()).await;
        });
    }
}

#[test]
fn unix_reads_cancelled_at_random_lose_and_repeat_nothing() {
    for (label, rt) in echo_runtimes() {
        rt.block_on(async {
            let pairs = (0..ECHO_CONNS)
                .map(|_| UnixStream::pair().unwrap())
                .collect();
            random_cancel_echo(&rt, label, pairs).await;
        });
    }
}

#[test]
fn datagram_receives_cancelled_at_random_lose_nothing() {
    // A paced sender and a receiver whose every receive races a short
    // timer: every datagram arrives once, in order (loopback neither drops
    // nor reorders at this pace).
    const DATAGRAMS: u32 = 1500;
    for (label, rt) in echo_runtimes() {
        rt.block_on(async {
            let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let (to, from) = (rx.local_addr().unwrap(), tx.local_addr().unwrap());
            let sent_all = Arc::new(AtomicBool::new(false));
            let done = sent_all.clone();
            let sender = ringbolt::spawn(async move {
                for i in 0..DATAGRAMS {
                    let (res, _) = tx.send_to(i.to_le_bytes().to_vec(), to).await;
                    res.unwrap();
                    if i % 8 == 0 {
                        ringbolt::time::sleep(Duration::from_micros(200)).await;
                    }
                }
                done.store(true, Ordering::Release);
            });
            let (mut got, mut cancelled, mut lcg) = (Vec::new(), 0, common::Lcg::new(1));
            while got.len() < DATAGRAMS as usize {
                let turn = lcg.next();
                let wait = Duration::from_micros((turn >> 33) % 1500);
                let recv = rx.recv_from(Vec::with_capacity(8));
                // Once all are sent, the rest must come without waiting long.
                let wait = match sent_all.load(Ordering::Acquire) {
                    true if cancelled % 2 == 1 => LONG,
                    _ => wait,
                };
                match timeout(wait, recv).await {
                    Err(_) if wait == LONG => {
                        panic!("{label}: {} of {DATAGRAMS} datagrams arrived", got.len())
                    }
                    Err(_) => cancelled += 1,
                    Ok((res, buf)) => {
                        let (n, sender) = res.unwrap();
                        assert_eq!((n, sender), (4, from), "{label}");
                        got.push(u32::from_le_bytes(buf[..4].try_into().unwrap()));
                    }
                }
            }
            sender.await.unwrap();
            assert!(
                got.iter().copied().eq(0..DATAGRAMS),
                "{label}: datagrams lost or repeated"
            );
            assert!(cancelled > 0, "{label}: no receive was cancelled");
        });
    }
}

#[test]
fn accepts_cancelled_at_random_lose_no_connection() {
    // Connections wait in the backlog, each having sent its number; an
    // accept loop races every accept against a short timer, a quarter of
    // which expire at once (under io_uring the accept is then dropped with
    // its SQE not even submitted, and the kernel may still complete it):
    // every connection is accepted once.
    const CONNECTS: u32 = 300;
    for (label, rt) in echo_runtimes() {
        rt.block_on(async {
            let (listener, _clients) = numbered_backlog(CONNECTS).await;
            let (mut got, mut cancelled, mut lcg) = (Vec::new(), 0, common::Lcg::new(7));
            while got.len() < CONNECTS as usize {
                let turn = lcg.next();
                let wait = match turn >> 62 {
                    0 => Duration::ZERO,
                    _ => Duration::from_micros((turn >> 33) % 1500),
                };
                match timeout(wait, listener.accept()).await {
                    Err(_) => cancelled += 1,
                    Ok(res) => read_number(&res.unwrap().0, label, &mut got).await,
                }
                assert!(
                    cancelled < 5_000,
                    "{label}: {} of {CONNECTS} connections accepted",
                    got.len()
                );
            }
            assert_each_once(got, CONNECTS, label);
            // Under the thread-pool driver an accept with a connection
            // waiting completes in its first poll, before any timer.
            assert!(
                cancelled > 0 || label == "thread-pool",
                "{label}: no accept was cancelled"
            );
            assert!(timeout(SHORT, listener.accept()).await.is_err(), "{label}");
        });
    }
}

#[test]
fn incoming_streams_dropped_at_random_lose_no_connection() {
    // As above, through `incoming()`: its multishot accept takes in every
    // connection waiting in the backlog at once, so each stream dropped
    // after a few items (or while its next item is pending) leaves
    // connections accepted and not yet yielded. The next stream, or a
    // plain accept, hands them out: every connection arrives once.
    const CONNECTS: u32 = 300;
    for (label, rt) in echo_runtimes() {
        rt.block_on(async {
            let (listener, _clients) = numbered_backlog(CONNECTS).await;
            let (mut got, mut dropped, mut lcg) = (Vec::new(), 0, common::Lcg::new(11));
            while got.len() < CONNECTS as usize {
                let turn = lcg.next();
                let take = (turn >> 60) % 4;
                let server = if take == 3 {
                    // Now and then a plain accept takes one (a lost
                    // connection shows here: the backlog is empty).
                    let accepted = timeout(LONG, listener.accept()).await;
                    let accepted = accepted.unwrap_or_else(|_| {
                        panic!("{label}: {} of {CONNECTS} connections accepted", got.len())
                    });
                    Some(accepted.unwrap().0)
                } else {
                    let mut incoming = listener.incoming();
                    let mut last = None;
                    for _ in 0..=take {
                        if let Some(s) = last.take() {
                            read_number(&s, label, &mut got).await;
                        }
                        match timeout(Duration::ZERO, incoming.next()).await {
                            Ok(item) => last = Some(item.unwrap().unwrap()),
                            Err(_) => break,
                        }
                    }
                    dropped += 1;
                    last
                };
                if let Some(s) = server {
                    read_number(&s, label, &mut got).await;
                }
                assert!(
                    dropped < 20_000,
                    "{label}: {} of {CONNECTS} connections accepted",
                    got.len()
                );
            }
            assert_each_once(got, CONNECTS, label);
            assert!(timeout(SHORT, listener.accept()).await.is_err(), "{label}");
        });
    }
}

/// A listener with `n` connections waiting in its backlog, connection
/// `i` having sent `i` (4 bytes); the clients are kept open.
async fn numbered_backlog(n: u32) -> (TcpListener, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut clients = Vec::new();
    for i in 0..n {
        let s = TcpStream::connect(addr).await.unwrap();
        let (res, _) = s.write_all(i.to_le_bytes().to_vec()).await;
        res.unwrap();
        clients.push(s);
    }
    (listener, clients)
}

/// Every number below `n` was received exactly once.
fn assert_each_once(mut got: Vec<u32>, n: u32, label: &str) {
    got.sort_unstable();
    assert!(
        got.iter().copied().eq(0..n),
        "{label}: connections lost or repeated"
    );
}

/// Reads the 4-byte number a test client sent on `server` into `got`.
async fn read_number(server: &TcpStream, label: &str, got: &mut Vec<u32>) {
    let (n, buf) = server.read(Vec::with_capacity(4)).await;
    assert_eq!(n.unwrap(), 4, "{label}");
    got.push(u32::from_le_bytes(buf[..4].try_into().unwrap()));
}

const ECHO_CONNS: usize = 16;

/// `ECHO_CONNS` connected (client, server) TCP pairs.
async fn tcp_pairs() -> Vec<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut pairs = Vec::new();
    for _ in 0..ECHO_CONNS {
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        pairs.push((client, server));
    }
    pairs
}
const ECHO_BYTES: usize = 20_000;

/// Echo servers whose every read races a short timer, on two workers:
/// whatever the timer cancels, the byte stream that comes back is the one
/// sent, in order. `pairs` are (client, server) streams.
async fn random_cancel_echo<S: EchoStream>(rt: &Runtime, label: &str, pairs: Vec<(S, S)>) {
    let cancelled = Arc::new(AtomicUsize::new(0));
    let mut servers = Vec::new();
    let mut clients = Vec::new();
    let mut conns = Vec::new();
    for (c, (client, server)) in pairs.into_iter().enumerate() {
        let (client, server) = (Arc::new(client), Arc::new(server));
        let progress = Arc::new(Progress::default());
        conns.push((client.clone(), server.clone(), progress.clone()));
        let cancelled = cancelled.clone();
        let seen = progress.clone();
        servers.push(ringbolt::spawn(async move {
            let mut lcg = common::Lcg::new(c as u64);
            loop {
                // 0–3 ms: many reads are cancelled before or while bytes
                // arrive.
                let turn = lcg.next();
                let wait = Duration::from_micros((turn >> 33) % 3000);
                match timeout(wait, server.read(Vec::with_capacity(97))).await {
                    Err(_) => {
                        cancelled.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok((Ok(0), _)) => return,
                    Ok((res, buf)) => {
                        let n = res.unwrap();
                        seen.server_read.fetch_add(n, Ordering::Relaxed);
                        let (res, _) = server.write_all(buf[..n].to_vec()).await;
                        res.unwrap();
                        seen.server_echoed.fetch_add(n, Ordering::Relaxed);
                    }
                }
            }
        }));
        clients.push(ringbolt::spawn(async move {
            let sent: Vec<u8> = (0..ECHO_BYTES).map(|i| (i * 7 + c) as u8).collect();
            let writer = async {
                for chunk in sent.chunks(333) {
                    let (res, _) = client.write_all(chunk.to_vec()).await;
                    res.unwrap();
                    let sent = &progress.client_sent;
                    sent.fetch_add(chunk.len(), Ordering::Relaxed);
                    ringbolt::time::sleep(Duration::from_micros(200)).await;
                }
            };
            let reader = async {
                let mut got = Vec::with_capacity(ECHO_BYTES);
                while got.len() < ECHO_BYTES {
                    let (n, buf) = client.read(Vec::with_capacity(4096)).await;
                    let n = n.unwrap();
                    assert!(n > 0, "the echo ended early");
                    got.extend_from_slice(&buf[..n]);
                    progress.client_got.fetch_add(n, Ordering::Relaxed);
                }
                got
            };
            let ((), got) = ringbolt::join!(writer, reader);
            assert!(got == sent, "connection {c}: the echo differs");
            client.shutdown_write().await.unwrap();
        }));
    }
    for h in clients {
        match timeout(Duration::from_secs(30), h).await {
            Ok(res) => res.unwrap(),
            // Say where the bytes stopped: in which task, in which socket's
            // kernel queue, in which receiver's state.
            Err(_) => panic!(
                "{label}: an echo stalled\n{}\n{:#?}",
                stall_report(&conns),
                rt.metrics()
            ),
        }
    }
    for h in servers {
        h.await.unwrap();
    }
    assert!(
        cancelled.load(Ordering::Relaxed) > 0,
        "{label}: no read was cancelled"
    );
}

/// The stream calls the random-cancel echo makes, for TCP and Unix
/// streams alike.
trait EchoStream: AsRawFd + std::fmt::Debug + Send + Sync + 'static {
    fn read(&self, buf: Vec<u8>) -> impl Future<Output = BufResult<usize, Vec<u8>>> + Send;
    fn write_all(&self, buf: Vec<u8>) -> impl Future<Output = BufResult<(), Vec<u8>>> + Send;
    fn shutdown_write(&self) -> impl Future<Output = io::Result<()>> + Send;
}

impl EchoStream for TcpStream {
    fn read(&self, buf: Vec<u8>) -> impl Future<Output = BufResult<usize, Vec<u8>>> + Send {
        TcpStream::read(self, buf)
    }
    fn write_all(&self, buf: Vec<u8>) -> impl Future<Output = BufResult<(), Vec<u8>>> + Send {
        TcpStream::write_all(self, buf)
    }
    fn shutdown_write(&self) -> impl Future<Output = io::Result<()>> + Send {
        self.shutdown(std::net::Shutdown::Write)
    }
}

impl EchoStream for UnixStream {
    fn read(&self, buf: Vec<u8>) -> impl Future<Output = BufResult<usize, Vec<u8>>> + Send {
        UnixStream::read(self, buf)
    }
    fn write_all(&self, buf: Vec<u8>) -> impl Future<Output = BufResult<(), Vec<u8>>> + Send {
        UnixStream::write_all(self, buf)
    }
    fn shutdown_write(&self) -> impl Future<Output = io::Result<()>> + Send {
        self.shutdown(std::net::Shutdown::Write)
    }
}

/// A TCP stream whose reads are `read_chunk`s: the chunk comes back as the
/// read's buffer, whatever the capacity asked for.
#[derive(Debug)]
struct Chunked(TcpStream);

impl AsRawFd for Chunked {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

impl EchoStream for Chunked {
    async fn read(&self, buf: Vec<u8>) -> BufResult<usize, Vec<u8>> {
        match self.0.read_chunk().await {
            Ok(Some(chunk)) => {
                let bytes = chunk.into_vec();
                (Ok(bytes.len()), bytes)
            }
            Ok(None) => (Ok(0), buf),
            Err(e) => (Err(e), buf),
        }
    }
    fn write_all(&self, buf: Vec<u8>) -> impl Future<Output = BufResult<(), Vec<u8>>> + Send {
        self.0.write_all(buf)
    }
    fn shutdown_write(&self) -> impl Future<Output = io::Result<()>> + Send {
        self.0.shutdown(std::net::Shutdown::Write)
    }
}

/// How far one echo connection got, counted by its two tasks.
#[derive(Default)]
struct Progress {
    client_sent: AtomicUsize,
    server_read: AtomicUsize,
    server_echoed: AtomicUsize,
    client_got: AtomicUsize,
}

type Conn<S> = (Arc<S>, Arc<S>, Arc<Progress>);

/// One line per connection: the tasks' counts, the bytes waiting in each
/// socket's kernel receive and send queues, and each stream's state.
fn stall_report<S: EchoStream>(conns: &[Conn<S>]) -> String {
    fn queued(fd: i32, request: libc::c_ulong) -> i64 {
        let mut n: libc::c_int = 0;
        // SAFETY: SIOCINQ/SIOCOUTQ write one int into `n`, which lives
        // across the call; `fd` is an open socket (its stream is alive).
        match unsafe { libc::ioctl(fd, request, &mut n) } {
            0 => i64::from(n),
            _ => -1,
        }
    }
    let mut out = String::new();
    for (c, (client, server, p)) in conns.iter().enumerate() {
        let (cfd, sfd) = (client.as_raw_fd(), server.as_raw_fd());
        out += &format!(
            "conn {c}: client sent {} got {}; server read {} echoed {}; \
             kernel queues: server in {} out {}, client in {} out {}\n  \
             client {client:?}\n  server {server:?}\n",
            p.client_sent.load(Ordering::Relaxed),
            p.client_got.load(Ordering::Relaxed),
            p.server_read.load(Ordering::Relaxed),
            p.server_echoed.load(Ordering::Relaxed),
            queued(sfd, libc::FIONREAD),
            queued(sfd, libc::TIOCOUTQ),
            queued(cfd, libc::FIONREAD),
            queued(cfd, libc::TIOCOUTQ),
        );
    }
    out
}
