//! The default echo load generator: one thread driving every connection
//! through one io_uring, written straight on the `io-uring` crate (no
//! runtime, no task system), so that it costs less CPU per request than any
//! server under test and the server, not the client, sets the pace.
//!
//! Why not a tokio client: with two cores shared by client and server, a
//! tokio current_thread client costs about as much per request as the
//! servers do, so it saturates its core first and every server measures
//! the same requests/s (see `--client tokio`, kept for comparison).
//!
//! How it works: the sockets are registered as fixed files; each connection
//! keeps one multishot receive armed (buffers from one provided buffer
//! ring); a round trip is a SEND of the message, then receives until the
//! whole echo is back, then the next SEND. All SENDs of a loop iteration go
//! to the kernel in the iteration's single `io_uring_enter`, which also
//! waits for the next completion. Latency is measured from the iteration
//! that queued the SEND to the iteration that saw the last byte of its echo
//! (one clock read per iteration, not per request).

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd as _;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use io_uring::types::{CancelBuilder, Fixed};
use io_uring::{cqueue, opcode, squeue, IoUring};

use crate::client::EchoRun;
use crate::uring_raw::{build_ring, BufRing};

/// How long one connect may take before the run is abandoned.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);
/// How long the cancelled receives get to report their last completion.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);
/// The buffer group of the receive buffers.
const BGID: u16 = 0;
/// Size of every receive buffer.
const RECV_BUF: usize = 4096;

/// What a CQE's `user_data` names: the connection index, shifted, and the
/// kind of op in the low bits.
const SEND: u64 = 0;
const RECV: u64 = 1;
const CANCEL: u64 = 2;

fn tag(conn: usize, kind: u64) -> u64 {
    ((conn as u64) << 2) | kind
}

/// One connection's state.
struct Conn {
    /// Bytes of the current message sent so far.
    sent: usize,
    /// Bytes of the current echo received so far.
    received: usize,
    /// When the current message was queued.
    started: Instant,
    /// The multishot receive is armed (its last CQE has not come).
    recv_armed: bool,
    /// A SEND is in flight.
    send_in_flight: bool,
    /// The peer closed or an op failed: the connection is out of the run.
    dead: bool,
}

/// The phase of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Warmup,
    Measure,
    Stop,
}

/// Runs `connections` ping-pong connections of `msg_size`-byte messages
/// against `addr`: `warmup`, then `measure`. `at_start` and `at_end` run at
/// the two edges of the measured interval.
pub(crate) fn run_echo(
    addr: SocketAddr,
    connections: usize,
    msg_size: usize,
    warmup: Duration,
    measure: Duration,
    at_start: &mut dyn FnMut(),
    at_end: &mut dyn FnMut(),
) -> io::Result<EchoRun> {
    let mut streams = Vec::with_capacity(connections);
    for _ in 0..connections {
        let s = TcpStream::connect_timeout(&addr, CONNECT_LIMIT)?;
        s.set_nodelay(true)?;
        streams.push(s);
    }
    let entries = (connections * 2).next_power_of_two().clamp(64, 4096) as u32;
    let mut ring = build_ring(entries)?;
    let fds: Vec<i32> = streams.iter().map(|s| s.as_raw_fd()).collect();
    ring.submitter().register_files(&fds)?;
    let buf_entries = (connections * 4).next_power_of_two().clamp(64, 32768) as u16;
    let mut bufs = BufRing::new(buf_entries, RECV_BUF)?;
    // SAFETY: the ring mapping is page-aligned, holds `buf_entries` entries
    // and outlives the registration: it is dropped after the io_uring
    // (which unregisters it) or leaked if receives are still armed.
    unsafe { bufs.register(&ring, BGID)? };

    let message = vec![0xA5u8; msg_size];
    let now = Instant::now();
    let mut conns: Vec<Conn> = (0..connections)
        .map(|_| Conn {
            sent: 0,
            received: 0,
            started: now,
            recv_armed: false,
            send_in_flight: false,
            dead: false,
        })
        .collect();
    let mut hist =
        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).map_err(io::Error::other)?;
    let mut pending: Vec<squeue::Entry> = Vec::with_capacity(connections * 2);
    for (i, c) in conns.iter_mut().enumerate() {
        pending.push(recv_sqe(i));
        c.recv_armed = true;
        pending.push(send_sqe(i, &message, 0));
        c.send_in_flight = true;
    }

    let warmup_end = now + warmup;
    let measure_end = warmup_end + measure;
    let mut phase = Phase::Warmup;
    let (mut requests, mut errors) = (0u64, 0usize);
    let mut t_measure = now;
    let mut cpu0 = Duration::ZERO;
    let mut elapsed = Duration::ZERO;
    let mut client_cpu = Duration::ZERO;
    let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(entries as usize * 4);

    while phase != Phase::Stop {
        submit(&mut ring, &mut pending)?;
        match ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR | libc::EBUSY | libc::ETIME)
                ) => {}
            Err(e) => return Err(e),
        }
        cqes.extend(
            ring.completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        let now = Instant::now();
        let mut recycled = false;
        for (ud, res, flags) in cqes.drain(..) {
            let i = (ud >> 2) as usize;
            match ud & 3 {
                SEND => {
                    let c = &mut conns[i];
                    c.send_in_flight = false;
                    if res <= 0 {
                        c.dead = true;
                        errors += 1;
                        continue;
                    }
                    c.sent += res as usize;
                    if c.sent < msg_size {
                        pending.push(send_sqe(i, &message, c.sent));
                        c.send_in_flight = true;
                    }
                }
                RECV => {
                    let c = &mut conns[i];
                    if let Some(bid) = cqueue::buffer_select(flags) {
                        bufs.push(bid);
                        recycled = true;
                    }
                    if !cqueue::more(flags) {
                        c.recv_armed = false;
                    }
                    if res == -libc::ENOBUFS {
                        // The buffers come back below; re-arm then.
                    } else if res <= 0 {
                        if !c.dead && phase != Phase::Stop {
                            errors += 1;
                        }
                        c.dead = true;
                        continue;
                    } else {
                        c.received += res as usize;
                        if c.received >= msg_size {
                            if phase == Phase::Measure {
                                let ns = now.duration_since(c.started).as_nanos() as u64;
                                hist.saturating_record(ns.max(1));
                                requests += 1;
                            }
                            c.received -= msg_size;
                            c.sent = 0;
                            c.started = now;
                            pending.push(send_sqe(i, &message, 0));
                            c.send_in_flight = true;
                        }
                    }
                    if !c.recv_armed && !c.dead {
                        pending.push(recv_sqe(i));
                        c.recv_armed = true;
                    }
                }
                _ => {}
            }
        }
        if recycled {
            bufs.publish();
        }
        match phase {
            Phase::Warmup if now >= warmup_end => {
                phase = Phase::Measure;
                at_start();
                cpu0 = crate::common::thread_cpu_time();
                t_measure = Instant::now();
            }
            Phase::Measure if now >= measure_end => {
                elapsed = t_measure.elapsed();
                client_cpu = crate::common::thread_cpu_time().saturating_sub(cpu0);
                at_end();
                phase = Phase::Stop;
            }
            _ => {}
        }
        if conns.iter().all(|c| c.dead) {
            break;
        }
    }
    if phase != Phase::Stop {
        return Err(io::Error::other("every connection failed before the end"));
    }
    if errors > 0 {
        eprintln!("  client: {errors} connection(s) ended with an error");
    }
    let drained = drain(&mut ring, &mut conns);
    if !drained {
        // The kernel may still write into the receive buffers or read the
        // message: leak them rather than free memory in use.
        std::mem::forget(bufs);
        std::mem::forget(message);
    }
    drop(ring);
    drop(streams);
    Ok(EchoRun {
        requests,
        elapsed,
        hist,
        client_cpu,
    })
}

fn send_sqe(i: usize, message: &[u8], from: usize) -> squeue::Entry {
    let rest = &message[from..];
    opcode::Send::new(Fixed(i as u32), rest.as_ptr(), rest.len() as u32)
        .build()
        .user_data(tag(i, SEND))
}

fn recv_sqe(i: usize) -> squeue::Entry {
    opcode::RecvMulti::new(Fixed(i as u32), BGID)
        .build()
        .user_data(tag(i, RECV))
}

/// Pushes the queued SQEs, submitting whenever the SQ is full.
fn submit(ring: &mut IoUring, pending: &mut Vec<squeue::Entry>) -> io::Result<()> {
    for sqe in pending.drain(..) {
        loop {
            // SAFETY: every SQE points to the message (alive until after the
            // drain in `run_echo`, leaked if that fails) or selects from the
            // buffer ring (likewise).
            if unsafe { ring.submission().push(&sqe) }.is_ok() {
                break;
            }
            ring.submit()?;
        }
    }
    Ok(())
}

/// Cancels every op and waits for their last completions; whether every
/// op ended.
fn drain(ring: &mut IoUring, conns: &mut [Conn]) -> bool {
    let cancel = opcode::AsyncCancel2::new(CancelBuilder::any())
        .build()
        .user_data(CANCEL);
    // SAFETY: a cancel SQE points to no memory.
    if unsafe { ring.submission().push(&cancel) }.is_err() && ring.submit().is_err() {
        return false;
    }
    let deadline = Instant::now() + DRAIN_LIMIT;
    while conns.iter().any(|c| c.recv_armed || c.send_in_flight) {
        if Instant::now() >= deadline {
            return false;
        }
        let ts = io_uring::types::Timespec::from(Duration::from_millis(100));
        let args = io_uring::types::SubmitArgs::new().timespec(&ts);
        if let Err(e) = ring.submitter().submit_with_args(1, &args) {
            if !matches!(
                e.raw_os_error(),
                Some(libc::EINTR | libc::ETIME | libc::EBUSY)
            ) {
                return false;
            }
        }
        for c in ring.completion() {
            let ud = c.user_data();
            let i = (ud >> 2) as usize;
            match ud & 3 {
                SEND => conns[i].send_in_flight = false,
                RECV if !cqueue::more(c.flags()) => conns[i].recv_armed = false,
                _ => {}
            }
        }
    }
    true
}
