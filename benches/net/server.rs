//! The servers under test, run in their own process (`--serve CONTENDER
//! WORKLOAD`): an echo server and a minimal HTTP/1.1 "hello" server, each
//! written once for ringbolt and once for tokio in the same shape.
//!
//! The server binds 127.0.0.1:0, prints `PORT <n>` on stdout and serves
//! until it is killed or its stdin closes (so it never outlives the parent).
//! Commands on stdin, one per line: `M` marks the start of the measured
//! interval, `R` prints `METRICS {json}` with the deltas of the ringbolt
//! runtime's counters since the mark (worker 0 only; `{}` for tokio).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, BufRead as _};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use crate::common::Record;
use crate::{Contender, ServerKind};

/// Read buffer of every echo connection (reused for the whole connection).
const ECHO_BUF: usize = 16 * 1024;
/// Largest request head the HTTP server accepts before it gives up.
const MAX_HEAD: usize = 16 * 1024;

/// The answer to every keep-alive request.
pub(crate) const HELLO: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
/// The request the io_uring client sends when it drives `http-hello`
/// (`--ab ... --client uring`): the request wrk sends by default, without
/// the port in `Host`.
pub(crate) const HELLO_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
const HELLO_CLOSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Runs the server `contender` / `kind` until killed (or stdin closes).
pub(crate) fn serve(contender: Contender, kind: ServerKind) -> io::Result<()> {
    if contender == Contender::RawUring {
        return raw_uring_server(kind);
    }
    let control = Control::start();
    match contender {
        Contender::Ringbolt => ringbolt_server(1, false, kind, &control),
        Contender::Ringbolt2 => ringbolt_server(2, false, kind, &control),
        Contender::Ringbolt2Rr => ringbolt_server(2, true, kind, &control),
        Contender::TokioCt => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            tokio_server(&rt, kind, &control)
        }
        Contender::TokioMt => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            tokio_server(&rt, kind, &control)
        }
        Contender::RawUring => unreachable!("served above"),
    }
}

/// The hand-written io_uring echo server (`net/uring_server.rs`); its loop
/// owns the main thread, so a plain thread answers the control commands.
fn raw_uring_server(kind: ServerKind) -> io::Result<()> {
    if kind != ServerKind::Echo {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "raw-uring serves echo only",
        ));
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    print_port(listener.local_addr()?.port());
    std::thread::spawn(|| {
        for line in io::stdin().lock().lines() {
            match line {
                Ok(l) if l.trim() == "R" => println!("METRICS {{}}"),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        std::process::exit(0);
    });
    crate::uring_server::serve_echo(listener)
}

// ---------------------------------------------------------------------------
// Control channel (stdin)

/// Commands read from stdin by a helper thread, handed to the runtime's
/// main future through a waker (no polling, no cost while measuring).
#[derive(Clone)]
struct Control(Arc<Mutex<(VecDeque<char>, Option<Waker>)>>);

impl Control {
    fn start() -> Control {
        let ctl = Control(Arc::new(Mutex::new((VecDeque::new(), None))));
        let c2 = ctl.clone();
        std::thread::spawn(move || {
            let stdin = io::stdin();
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                if let Some(cmd) = line.trim().chars().next() {
                    let mut g = c2.0.lock().unwrap_or_else(|e| e.into_inner());
                    g.0.push_back(cmd);
                    if let Some(w) = g.1.take() {
                        w.wake();
                    }
                }
            }
            // The parent is gone or done with us.
            std::process::exit(0);
        });
        ctl
    }

    async fn next(&self) -> char {
        poll_fn(|cx| {
            let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
            match g.0.pop_front() {
                Some(c) => Poll::Ready(c),
                None => {
                    g.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

fn print_port(port: u16) {
    println!("PORT {port}");
}

// ---------------------------------------------------------------------------
// ringbolt

/// A ringbolt server with `workers` workers: one SO_REUSEPORT listener
/// per worker and `SpawnPolicy::Local`, or (`round_robin`) one listener on
/// worker 0 whose accept loop spreads tasks with `SpawnPolicy::RoundRobin`.
fn ringbolt_server(
    workers: usize,
    round_robin: bool,
    kind: ServerKind,
    control: &Control,
) -> io::Result<()> {
    use ringbolt::net::{ListenOptions, TcpListener};

    let policy = if round_robin {
        ringbolt::SpawnPolicy::RoundRobin
    } else {
        ringbolt::SpawnPolicy::Local
    };
    let rt = ringbolt::Builder::new()
        .workers(workers)
        .spawn_policy(policy)
        .build()?;
    rt.block_on(async {
        let listeners_wanted = if round_robin { 1 } else { workers };
        // One listener per worker; with 2 workers they share the port
        // through SO_REUSEPORT and the kernel spreads the connections.
        let opts = ListenOptions::new().reuse_port(listeners_wanted > 1);
        let first = TcpListener::bind_with("127.0.0.1:0", &opts).await?;
        let addr = first.local_addr()?;
        let mut listeners = vec![first];
        for _ in 1..listeners_wanted {
            listeners.push(TcpListener::bind_with(addr, &opts).await?);
        }
        for (i, listener) in listeners.into_iter().enumerate() {
            rt.spawn_on(i, ringbolt_accept_loop(listener, kind));
        }
        print_port(addr.port());
        let mut mark = rt.metrics();
        loop {
            match control.next().await {
                'M' => mark = rt.metrics(),
                'R' => println!("METRICS {}", metrics_delta(&mark, &rt.metrics()).to_json()),
                _ => {}
            }
        }
    })
}

/// The deltas of the counters that explain the cost of a request.
fn metrics_delta(a: &ringbolt::RuntimeMetrics, b: &ringbolt::RuntimeMetrics) -> Record {
    let mut r = Record::new();
    r.num(
        "loop_iterations",
        (b.loop_iterations - a.loop_iterations) as f64,
    )
    .num("ring_enters", (b.ring_enters - a.ring_enters) as f64)
    .num("polls", (b.polls - a.polls) as f64)
    .num("ops_submitted", (b.ops_submitted - a.ops_submitted) as f64)
    .num("ops_completed", (b.ops_completed - a.ops_completed) as f64)
    .num("sq_full", (b.sq_full - a.sq_full) as f64);
    r
}

/// Accepts connections and starts one task per connection (on this worker
/// with `SpawnPolicy::Local`, spread over the workers with `RoundRobin`).
async fn ringbolt_accept_loop(listener: ringbolt::net::TcpListener, kind: ServerKind) {
    if let Ok(spec) = std::env::var("RINGBOLT_NET_BUFRING") {
        let mut it = spec.split(',').map(|v| v.trim().parse::<u32>());
        if let (Some(Ok(n)), Some(Ok(size))) = (it.next(), it.next()) {
            if let Err(e) = ringbolt_runtime::bufring::BufRing::install(n as u16, size) {
                eprintln!("net bench server: RINGBOLT_NET_BUFRING={spec}: {e}");
            }
        }
    }
    let mut incoming = listener.incoming();
    while let Some(next) = incoming.next().await {
        match next {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                ringbolt::spawn(async move {
                    let res = match kind {
                        ServerKind::Echo => ringbolt_echo(stream).await,
                        ServerKind::Http => ringbolt_http(stream).await,
                    };
                    report_conn_error(res);
                });
            }
            Err(e) => eprintln!("net bench server: accept error: {e}"),
        }
    }
}

/// Echoes until the peer closes: each chunk is written back from the ring
/// buffer it was received into (`read_chunk`), so nothing is copied in
/// user space; the buffer goes back to the ring once sent. The send is
/// queued behind (`write_behind`): the task goes straight on to its next
/// read instead of waking up once more for the send's completion.
async fn ringbolt_echo(stream: ringbolt::net::TcpStream) -> io::Result<()> {
    while let Some(chunk) = stream.read_chunk().await? {
        stream.write_behind(chunk).await?;
    }
    stream.flush().await
}

/// HTTP/1.1 keep-alive: answers every complete request with "hello".
/// Requests are parsed where they were received (the ring buffer of the
/// chunk) unless part of one is pending from an earlier chunk; only an
/// incomplete rest is copied, into `pending`. Replies are queued behind
/// (`write_behind`), as in the echo server.
async fn ringbolt_http(stream: ringbolt::net::TcpStream) -> io::Result<()> {
    let mut pending: Vec<u8> = Vec::with_capacity(4096);
    while let Some(chunk) = stream.read_chunk().await? {
        let in_place = pending.is_empty();
        if !in_place {
            pending.extend_from_slice(&chunk);
        }
        let mut done = 0;
        loop {
            let input = if in_place {
                &chunk[done..]
            } else {
                &pending[done..]
            };
            match answer(input) {
                Answer::Reply { len, reply, close } => {
                    done += len;
                    stream.write_behind(reply).await?;
                    if close {
                        return stream.flush().await;
                    }
                }
                Answer::More => break,
            }
        }
        keep_rest(&mut pending, in_place, &chunk, done);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// tokio

fn tokio_server(
    rt: &tokio::runtime::Runtime,
    kind: ServerKind,
    control: &Control,
) -> io::Result<()> {
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        tokio::spawn(tokio_accept_loop(listener, kind));
        print_port(port);
        loop {
            if control.next().await == 'R' {
                println!("METRICS {{}}");
            }
        }
    })
}

async fn tokio_accept_loop(listener: tokio::net::TcpListener, kind: ServerKind) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let res = match kind {
                        ServerKind::Echo => tokio_echo(stream).await,
                        ServerKind::Http => tokio_http(stream).await,
                    };
                    report_conn_error(res);
                });
            }
            Err(e) => eprintln!("net bench server: accept error: {e}"),
        }
    }
}

/// Echoes until the peer closes, reusing one buffer.
async fn tokio_echo(mut stream: tokio::net::TcpStream) -> io::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let mut buf = vec![0u8; ECHO_BUF];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// HTTP/1.1 keep-alive: answers every complete request with "hello".
/// Requests are parsed in the read buffer unless part of one is pending
/// from an earlier read; only an incomplete rest is copied, into
/// `pending` (the same shape as the ringbolt server).
async fn tokio_http(mut stream: tokio::net::TcpStream) -> io::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let mut pending: Vec<u8> = Vec::with_capacity(4096);
    let mut buf = vec![0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        let chunk = &buf[..n];
        let in_place = pending.is_empty();
        if !in_place {
            pending.extend_from_slice(chunk);
        }
        let mut done = 0;
        loop {
            let input = if in_place {
                &chunk[done..]
            } else {
                &pending[done..]
            };
            match answer(input) {
                Answer::Reply { len, reply, close } => {
                    done += len;
                    stream.write_all(reply).await?;
                    if close {
                        return Ok(());
                    }
                }
                Answer::More => break,
            }
        }
        keep_rest(&mut pending, in_place, chunk, done);
    }
}

// ---------------------------------------------------------------------------
// Shared by both runtimes

fn report_conn_error(res: io::Result<()>) {
    if let Err(e) = res {
        if !matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ) {
            eprintln!("net bench server: connection error: {e}");
        }
    }
}

/// What to send for the bytes at the start of the input.
enum Answer {
    /// `len` bytes make a request (or a malformed one: then `reply` is the
    /// 400 and `close` is set).
    Reply {
        len: usize,
        reply: &'static [u8],
        close: bool,
    },
    /// Need more bytes.
    More,
}

/// The answer to the request at the start of `input`: "hello" (with
/// `Connection: close` when the client asked), 400 for a malformed or
/// oversized head.
fn answer(input: &[u8]) -> Answer {
    match parse(input) {
        Parsed::Request { len, keep_alive } => Answer::Reply {
            len,
            reply: if keep_alive { HELLO } else { HELLO_CLOSE },
            close: !keep_alive,
        },
        Parsed::Partial if input.len() <= MAX_HEAD => Answer::More,
        Parsed::Partial | Parsed::Bad => Answer::Reply {
            len: input.len(),
            reply: BAD_REQUEST,
            close: true,
        },
    }
}

/// Keeps the unanswered rest of the input for the next read: the chunk's
/// tail is copied into `pending` (parsed in place), or the answered head
/// of `pending` is dropped.
fn keep_rest(pending: &mut Vec<u8>, in_place: bool, chunk: &[u8], done: usize) {
    if in_place {
        pending.extend_from_slice(&chunk[done..]);
    } else {
        pending.drain(..done);
    }
}

/// What to do with the bytes received so far.
enum Parsed {
    /// `len` bytes of head (and body) make one request.
    Request { len: usize, keep_alive: bool },
    /// Need more bytes.
    Partial,
    /// Malformed.
    Bad,
}

/// Parses one request head with httparse (the same code for both runtimes).
fn parse(buf: &[u8]) -> Parsed {
    if buf.is_empty() {
        return Parsed::Partial;
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(head_len)) => {
            let mut keep_alive = req.version == Some(1);
            let mut body_len = 0usize;
            for h in req.headers.iter() {
                if h.name.eq_ignore_ascii_case("connection") {
                    if h.value.eq_ignore_ascii_case(b"close") {
                        keep_alive = false;
                    } else if h.value.eq_ignore_ascii_case(b"keep-alive") {
                        keep_alive = true;
                    }
                } else if h.name.eq_ignore_ascii_case("content-length") {
                    match std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                    {
                        Some(n) => body_len = n,
                        None => return Parsed::Bad,
                    }
                }
            }
            if buf.len() < head_len + body_len {
                return Parsed::Partial;
            }
            Parsed::Request {
                len: head_len + body_len,
                keep_alive,
            }
        }
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Err(_) => Parsed::Bad,
    }
}
