//! The echo load generator: one implementation for every contender, on a
//! tokio current_thread runtime in the parent process.
//!
//! Each connection sends a message, waits for the whole echo, records the
//! round trip in one shared hdrhistogram, and repeats (ping-pong, one
//! message in flight per connection). Phases: connect everything, warm up
//! (nothing recorded), measure, stop. Every loop checks the phase after
//! each round trip; connections still stuck when the time is up are
//! abandoned with the runtime, so the run always ends by itself.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long one connect may take before the run is abandoned.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);
/// How long the connections get to finish their last round trip.
const STOP_LIMIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Warmup,
    Measure,
    Stop,
}

/// What one echo run measured.
#[derive(Debug)]
pub(crate) struct EchoRun {
    /// Round trips completed during the measured interval.
    pub(crate) requests: u64,
    /// Length of the measured interval.
    pub(crate) elapsed: Duration,
    /// Round-trip latencies in nanoseconds.
    pub(crate) hist: Histogram<u64>,
    /// CPU time the client (this thread) used during the interval.
    pub(crate) client_cpu: Duration,
}

struct Shared {
    phase: Cell<Phase>,
    requests: Cell<u64>,
    hist: RefCell<Histogram<u64>>,
}

/// Runs `connections` ping-pong connections of `msg_size`-byte messages
/// against `addr`: `warmup`, then `measure`. `at_start` and `at_end` run at
/// the two edges of the measured interval (the caller snapshots the
/// server's CPU time there).
pub(crate) fn run_echo(
    addr: SocketAddr,
    connections: usize,
    msg_size: usize,
    warmup: Duration,
    measure: Duration,
    at_start: &mut dyn FnMut(),
    at_end: &mut dyn FnMut(),
) -> io::Result<EchoRun> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let shared = Rc::new(Shared {
        phase: Cell::new(Phase::Warmup),
        requests: Cell::new(0),
        hist: RefCell::new(
            Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(io::Error::other)?,
        ),
    });
    let out = local.block_on(&rt, async {
        let mut streams = Vec::with_capacity(connections);
        for _ in 0..connections {
            let s = tokio::time::timeout(CONNECT_LIMIT, TcpStream::connect(addr))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
            s.set_nodelay(true)?;
            streams.push(s);
        }
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|s| tokio::task::spawn_local(connection(s, msg_size, shared.clone())))
            .collect();
        tokio::time::sleep(warmup).await;

        shared.phase.set(Phase::Measure);
        at_start();
        let cpu0 = crate::common::thread_cpu_time();
        let t0 = Instant::now();
        tokio::time::sleep(measure).await;
        shared.phase.set(Phase::Stop);
        let elapsed = t0.elapsed();
        let client_cpu = crate::common::thread_cpu_time().saturating_sub(cpu0);
        at_end();

        let mut errors = 0usize;
        let deadline = tokio::time::Instant::now() + STOP_LIMIT;
        for t in tasks {
            match tokio::time::timeout_at(deadline, t).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(_))) | Ok(Err(_)) => errors += 1,
                Err(_) => break, // stuck: abandoned with the runtime
            }
        }
        if errors > 0 {
            eprintln!("  client: {errors} connection(s) ended with an error");
        }
        Ok::<_, io::Error>((elapsed, client_cpu))
    });
    let (elapsed, client_cpu) = out?;
    drop(local);
    drop(rt);
    let shared = Rc::try_unwrap(shared)
        .map_err(|_| io::Error::other("client tasks still hold the shared state"))?;
    Ok(EchoRun {
        requests: shared.requests.get(),
        elapsed,
        hist: shared.hist.into_inner(),
        client_cpu,
    })
}

/// One ping-pong connection, until the phase says stop.
async fn connection(mut stream: TcpStream, msg_size: usize, shared: Rc<Shared>) -> io::Result<()> {
    let out = vec![0xA5u8; msg_size];
    let mut back = vec![0u8; msg_size];
    loop {
        if shared.phase.get() == Phase::Stop {
            return Ok(());
        }
        let t0 = Instant::now();
        stream.write_all(&out).await?;
        stream.read_exact(&mut back).await?;
        if shared.phase.get() == Phase::Measure {
            let ns = t0.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
            shared.hist.borrow_mut().saturating_record(ns.max(1));
            shared.requests.set(shared.requests.get() + 1);
        }
    }
}
