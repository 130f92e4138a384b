//! Figures for provided buffer rings, not assertions: run with
//!
//! ```text
//! cargo test --release --test net_bufring_measure -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - memory (RSS growth) of 10,000 idle server connections, each with a
//!   pending read: plain receives (a 16 KiB buffer per read, written once
//!   as a real server's reused buffer would be), the buffer ring with
//!   `readable()` (no buffer while idle), and the buffer ring with a
//!   pending `read` (the caller's buffer is still held: the control);
//! - echo throughput, one connection and 64, ring vs plain.
//!
//! The 10,000 client sockets live in a child process (this binary again,
//! `BUFRING_MEASURE_CLIENT=addr,count`), so the server process needs only
//! 10,000 descriptors.

mod common;

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ringbolt::buf::IoBuf;
use ringbolt::net::{TcpListener, TcpStream};
use ringbolt::{Builder, Feature};
use ringbolt_runtime::bufring::BufRing;

const IDLE: usize = 10_000;
const BUF: usize = 16 * 1024;

/// The child: connects `count` sockets, says "ready", waits for a line,
/// writes one byte on each, then waits for stdin to close.
#[test]
#[ignore = "helper process of the idle-memory measurements"]
fn measure_client_child() {
    let Ok(spec) = std::env::var("BUFRING_MEASURE_CLIENT") else {
        return;
    };
    let (addr, count) = spec.split_once(',').unwrap();
    let addr: SocketAddr = addr.parse().unwrap();
    let count: usize = count.parse().unwrap();
    assert!(
        common::raise_nofile(count as u64 + 100),
        "child: RLIMIT_NOFILE"
    );
    let conns: Vec<_> = (0..count)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    println!("ready");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let stdin = std::io::stdin();
    stdin.lock().read_line(&mut line).unwrap();
    for mut c in &conns {
        c.write_all(b"x").unwrap();
    }
    line.clear();
    let _ = stdin.lock().read_line(&mut line);
}

#[derive(Clone, Copy, Debug)]
enum Idle {
    /// Multishot off: a plain receive into a 16 KiB buffer per connection.
    Plain,
    /// Buffer ring, waiting with `readable()`.
    RingReadable,
    /// Buffer ring, waiting in `read(16 KiB buffer)`.
    RingRead,
}

fn idle_memory(mode: Idle) {
    if !common::raise_nofile(IDLE as u64 + 200) {
        eprintln!("skipped: RLIMIT_NOFILE cannot be raised to {}", IDLE + 200);
        return;
    }
    let mut builder = Builder::new();
    if matches!(mode, Idle::Plain) {
        builder = builder.disable(Feature::Multishot);
    }
    let rt = builder.build().unwrap();
    rt.block_on(async move {
        let ring = BufRing::current();
        if !matches!(mode, Idle::Plain) && ring.is_none() {
            eprintln!("skipped: no buffer ring here");
            return;
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "measure_client_child",
                "--ignored",
                "--nocapture",
            ])
            .env("BUFRING_MEASURE_CLIENT", format!("{addr},{IDLE}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut streams = Vec::with_capacity(IDLE);
        for _ in 0..IDLE {
            streams.push(listener.accept().await.unwrap().0);
        }
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.starts_with("ready") {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                panic!("child ended early");
            }
        }
        ringbolt::time::sleep(Duration::from_millis(100)).await;
        let before = common::rss();
        let t0 = Instant::now();
        let waits: Vec<_> = streams
            .into_iter()
            .map(|s| {
                ringbolt::spawn(async move {
                    let n = match mode {
                        Idle::RingReadable => {
                            s.readable().await.unwrap();
                            let (n, _) = s.read(vec![1u8; BUF]).await;
                            n.unwrap()
                        }
                        Idle::Plain | Idle::RingRead => {
                            let (n, _) = s.read(vec![1u8; BUF]).await;
                            n.unwrap()
                        }
                    };
                    assert_eq!(n, 1);
                })
            })
            .collect();
        ringbolt::time::sleep(Duration::from_millis(300)).await;
        let idle = common::rss();
        let arm = t0.elapsed();
        child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
        child.stdin.as_mut().unwrap().flush().unwrap();
        for w in waits {
            w.await.unwrap();
        }
        drop(child.stdin.take());
        child.wait().unwrap();
        let grown = idle.saturating_sub(before);
        println!(
            "idle memory {mode:?}: {IDLE} connections with a pending read: RSS +{:.1} MiB \
             ({:.0} B per connection; set up in {arm:?}){}",
            grown as f64 / (1 << 20) as f64,
            grown as f64 / IDLE as f64,
            ring.map(|r| format!(
                "; ring {} x {} B = {} KiB, {} in use",
                r.entries(),
                r.buf_size(),
                usize::from(r.entries()) * r.buf_size() as usize / 1024,
                r.in_use()
            ))
            .unwrap_or_default()
        );
    });
}

#[test]
#[ignore = "measurement"]
fn measure_idle_memory_plain() {
    idle_memory(Idle::Plain);
}

#[test]
#[ignore = "measurement"]
fn measure_idle_memory_ring_readable() {
    idle_memory(Idle::RingReadable);
}

#[test]
#[ignore = "measurement"]
fn measure_idle_memory_ring_read() {
    idle_memory(Idle::RingRead);
}

/// Echo round trips of `msg` bytes on `conns` connections for `secs`:
/// server and clients on one worker.
fn echo_throughput(label: &str, builder: Builder, conns: usize, msg: usize, secs: f64) {
    let rt = builder.build().unwrap();
    rt.block_on(async move {
        let ring = BufRing::current().is_some();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        for _ in 0..conns {
            let c = ringbolt::spawn(async move { TcpStream::connect(addr).await.unwrap() });
            let (s, _) = listener.accept().await.unwrap();
            let c = c.await.unwrap();
            c.set_nodelay(true).unwrap();
            s.set_nodelay(true).unwrap();
            ringbolt::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let (n, b) = s.read(buf).await;
                    let n = match n {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let (res, b) = s.write_all(b.slice(..n)).await;
                    buf = b.into_inner();
                    if res.is_err() {
                        break;
                    }
                }
            });
            clients.push(c);
        }
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let t0 = Instant::now();
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|c| {
                ringbolt::spawn(async move {
                    let mut out = vec![7u8; msg];
                    let mut inb = vec![0u8; 64 * 1024];
                    let mut rounds = 0u64;
                    while Instant::now() < deadline {
                        let (res, o) = c.write_all(out).await;
                        out = o;
                        res.unwrap();
                        let mut got = 0;
                        while got < msg {
                            let (n, b) = c.read(inb).await;
                            inb = b;
                            got += n.unwrap();
                        }
                        rounds += 1;
                    }
                    rounds
                })
            })
            .collect();
        let mut rounds = 0;
        for t in tasks {
            rounds += t.await.unwrap();
        }
        let el = t0.elapsed().as_secs_f64();
        println!(
            "echo {label} (ring path: {ring}): {conns} conn x {msg} B: {:.0} round trips/s, {:.0} MiB/s each way",
            rounds as f64 / el,
            (rounds as f64 * msg as f64) / el / (1 << 20) as f64
        );
    });
}

#[test]
#[ignore = "measurement"]
fn measure_echo_throughput() {
    for (conns, msg) in [(1, 64usize), (1, 16 * 1024), (64, 64), (64, 16 * 1024)] {
        echo_throughput("buffer ring", Builder::new(), conns, msg, 2.0);
        echo_throughput(
            "plain recv",
            Builder::new().disable(Feature::Multishot),
            conns,
            msg,
            2.0,
        );
    }
}
