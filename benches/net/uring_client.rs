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
//!
//! [`EchoLoad`] holds the connections, in groups (one per server: the
//! `--ab` mode opens the same number of connections to two servers on the
//! one ring) and drives one group at a time for a given length, then either
//! returns with the round trips under way left running ([`End::Continue`],
//! what `run_echo` uses between its warm-up and its measured interval) or
//! stops sending and waits for every echo under way ([`End::Quiesce`]),
//! which leaves that server idle.

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
/// How long the echoes under way may take to come back once the sends
/// stopped ([`End::Quiesce`]) before the run is abandoned.
const QUIESCE_LIMIT: Duration = Duration::from_secs(5);
/// The longest single wait in the ring while quiescing, so that the limit
/// above is checked.
const WAIT_SLICE: Duration = Duration::from_millis(100);
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
    /// The group (server) the connection belongs to.
    group: usize,
    /// Bytes of the current message sent so far.
    sent: usize,
    /// Bytes of the current echo received so far.
    received: usize,
    /// When the current message was queued.
    started: Instant,
    /// A round trip is under way: its message is queued or sent and its
    /// echo not yet complete.
    busy: bool,
    /// The multishot receive is armed (its last CQE has not come).
    recv_armed: bool,
    /// A SEND is in flight.
    send_in_flight: bool,
    /// The peer closed or an op failed: the connection is out of the run.
    dead: bool,
}

/// How a [`EchoLoad::drive`] call ends when its time is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Return at once; the round trips under way stay under way and
    /// continue in the next `drive` of the same group.
    Continue,
    /// Start no new round trip and return once every round trip under way
    /// in the group has its whole echo back (the server is then idle).
    Quiesce,
}

/// What one [`EchoLoad::drive`] call measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Drive {
    /// Round trips completed during the call.
    pub(crate) requests: u64,
    /// From the call's start to its end (with [`End::Quiesce`]: to the last
    /// echo received).
    pub(crate) elapsed: Duration,
}

/// Ping-pong connections to one or more echo servers, all on one io_uring:
/// `connections` per server, one group per server (group `g` talks to
/// `addrs[g]`). Only the group being [driven](EchoLoad::drive) sends; the
/// other groups' connections stay open and silent (their multishot
/// receives armed), so their servers sit idle.
pub(crate) struct EchoLoad {
    ring: IoUring,
    /// `None` once leaked (see `Drop`); dropped after `ring`.
    bufs: Option<BufRing>,
    /// What every round trip sends.
    message: Vec<u8>,
    /// Bytes of the answer that end a round trip (the message's length
    /// for an echo).
    reply_len: usize,
    conns: Vec<Conn>,
    /// SQEs waiting for the next submit.
    pending: Vec<squeue::Entry>,
    cqes: Vec<(u64, i32, u32)>,
    /// Connections that ended with an error so far.
    errors: usize,
    /// The sockets; dropped after the ring, which holds them as fixed
    /// files.
    _streams: Vec<TcpStream>,
}

impl std::fmt::Debug for EchoLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoLoad")
            .field("connections", &self.conns.len())
            .field("message_len", &self.message.len())
            .field("reply_len", &self.reply_len)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl EchoLoad {
    /// Opens `connections` connections to each of `addrs` (TCP_NODELAY),
    /// registers them as fixed files and arms a multishot receive on each;
    /// every round trip sends a `msg_size`-byte message and waits for its
    /// echo.
    pub(crate) fn connect(
        addrs: &[SocketAddr],
        connections: usize,
        msg_size: usize,
    ) -> io::Result<EchoLoad> {
        Self::connect_with(addrs, connections, vec![0xA5u8; msg_size], msg_size)
    }

    /// As [`connect`](EchoLoad::connect), for a request-reply protocol
    /// whose replies all have one length: every round trip sends `message`
    /// and ends once `reply_len` bytes came back (an HTTP request and its
    /// fixed response, say).
    pub(crate) fn connect_with(
        addrs: &[SocketAddr],
        connections: usize,
        message: Vec<u8>,
        reply_len: usize,
    ) -> io::Result<EchoLoad> {
        if message.is_empty() || reply_len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a round trip needs a message and a reply of at least one byte",
            ));
        }
        let total = connections * addrs.len();
        let mut streams = Vec::with_capacity(total);
        let mut groups = Vec::with_capacity(total);
        for (g, addr) in addrs.iter().enumerate() {
            for _ in 0..connections {
                let s = TcpStream::connect_timeout(addr, CONNECT_LIMIT)
                    .map_err(|e| io::Error::new(e.kind(), format!("connect to {addr}: {e}")))?;
                s.set_nodelay(true)?;
                streams.push(s);
                groups.push(g);
            }
        }
        let entries = (total * 2).next_power_of_two().clamp(64, 4096) as u32;
        let ring = build_ring(entries)?;
        let fds: Vec<i32> = streams.iter().map(|s| s.as_raw_fd()).collect();
        ring.submitter()
            .register_files(&fds)
            .map_err(|e| io::Error::new(e.kind(), format!("register {total} files: {e}")))?;
        let buf_entries = (total * 4).next_power_of_two().clamp(64, 32768) as u16;
        let bufs = BufRing::new(buf_entries, RECV_BUF)?;
        // `EchoLoad` drops the buffers after the io_uring (which unregisters
        // them), or leaks them if receives may still be armed.
        // SAFETY: the mapping is page-aligned, holds `buf_entries` entries
        // and outlives the registration (see above).
        unsafe { bufs.register(&ring, BGID)? };
        let now = Instant::now();
        let conns = groups
            .into_iter()
            .map(|group| Conn {
                group,
                sent: 0,
                received: 0,
                started: now,
                busy: false,
                recv_armed: true,
                send_in_flight: false,
                dead: false,
            })
            .collect();
        Ok(EchoLoad {
            pending: (0..total).map(recv_sqe).collect(),
            cqes: Vec::with_capacity(entries as usize * 4),
            ring,
            bufs: Some(bufs),
            message,
            reply_len,
            conns,
            errors: 0,
            _streams: streams,
        })
    }

    /// Connections that ended with an error so far.
    pub(crate) fn errors(&self) -> usize {
        self.errors
    }

    /// Runs group `group`'s connections for `length`: every idle live
    /// connection of the group starts a round trip, and each completed
    /// echo starts the next, until the time is up; then as `end` says.
    /// Latencies go to `hist` when given.
    pub(crate) fn drive(
        &mut self,
        group: usize,
        length: Duration,
        end: End,
        mut hist: Option<&mut Histogram<u64>>,
    ) -> io::Result<Drive> {
        let start = Instant::now();
        let deadline = start + length;
        for i in 0..self.conns.len() {
            let c = &self.conns[i];
            if c.group == group && !c.dead && !c.busy {
                self.start_round_trip(i, start);
            }
        }
        let mut sending = true;
        let mut requests = 0u64;
        let mut quiesce_limit = None;
        loop {
            if !self.in_group(group).any(|c| !c.dead) {
                return Err(io::Error::other(format!(
                    "every connection of group {group} failed"
                )));
            }
            self.submit_pending()?;
            if sending {
                wait_one(&mut self.ring, None)?;
            } else {
                wait_one(&mut self.ring, Some(WAIT_SLICE))?;
            }
            let now = Instant::now();
            requests += self.complete(group, sending, now, hist.as_deref_mut());
            if sending && now >= deadline {
                if end == End::Continue {
                    return Ok(Drive {
                        requests,
                        elapsed: now.duration_since(start),
                    });
                }
                sending = false;
                quiesce_limit = Some(now + QUIESCE_LIMIT);
            }
            if !sending {
                if !self.in_group(group).any(|c| c.busy && !c.dead) {
                    return Ok(Drive {
                        requests,
                        elapsed: now.duration_since(start),
                    });
                }
                if quiesce_limit.is_some_and(|l| now >= l) {
                    let left = self.in_group(group).filter(|c| c.busy && !c.dead).count();
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "group {group}: {left} echo(es) still missing {QUIESCE_LIMIT:?} after the sends stopped"
                        ),
                    ));
                }
            }
        }
    }

    /// The connections of `group`.
    fn in_group(&self, group: usize) -> impl Iterator<Item = &Conn> {
        self.conns.iter().filter(move |c| c.group == group)
    }

    /// Queues the SEND of a new message on connection `i`.
    fn start_round_trip(&mut self, i: usize, now: Instant) {
        let c = &mut self.conns[i];
        c.busy = true;
        c.sent = 0;
        c.started = now;
        c.send_in_flight = true;
        self.pending.push(send_sqe(i, &self.message, 0));
    }

    /// Pushes the queued SQEs, submitting whenever the SQ is full.
    fn submit_pending(&mut self) -> io::Result<()> {
        for sqe in self.pending.drain(..) {
            loop {
                // SAFETY: every SQE points to the message (alive until the
                // drain in `Drop`, leaked if that fails) or selects from
                // the buffer ring (likewise).
                if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                    break;
                }
                self.ring.submit()?;
            }
        }
        Ok(())
    }

    /// Handles the completions that came; returns the round trips of
    /// `group` completed. Completed connections of `group` start their
    /// next round trip while `sending`; the others go idle.
    fn complete(
        &mut self,
        group: usize,
        sending: bool,
        now: Instant,
        mut hist: Option<&mut Histogram<u64>>,
    ) -> u64 {
        self.cqes.extend(
            self.ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        let msg_size = self.message.len();
        let reply_len = self.reply_len;
        let mut requests = 0;
        let mut recycled = false;
        let mut cqes = std::mem::take(&mut self.cqes);
        for (ud, res, flags) in cqes.drain(..) {
            let i = (ud >> 2) as usize;
            match ud & 3 {
                SEND => {
                    let c = &mut self.conns[i];
                    c.send_in_flight = false;
                    if res <= 0 {
                        if !c.dead {
                            self.errors += 1;
                        }
                        c.dead = true;
                        continue;
                    }
                    c.sent += res as usize;
                    if c.sent < msg_size {
                        self.pending.push(send_sqe(i, &self.message, c.sent));
                        c.send_in_flight = true;
                    }
                }
                RECV => {
                    if let Some(bid) = cqueue::buffer_select(flags) {
                        if let Some(bufs) = self.bufs.as_mut() {
                            bufs.push(bid);
                        }
                        recycled = true;
                    }
                    let c = &mut self.conns[i];
                    if !cqueue::more(flags) {
                        c.recv_armed = false;
                    }
                    if res == -libc::ENOBUFS {
                        // The buffers come back below; re-arm then.
                    } else if res <= 0 {
                        if !c.dead {
                            self.errors += 1;
                        }
                        c.dead = true;
                        continue;
                    } else {
                        c.received += res as usize;
                        if c.received >= reply_len {
                            if c.group == group {
                                requests += 1;
                                if let Some(h) = hist.as_deref_mut() {
                                    let ns = now.duration_since(c.started).as_nanos() as u64;
                                    h.saturating_record(ns.max(1));
                                }
                            }
                            c.received -= reply_len;
                            c.busy = false;
                            if sending && c.group == group {
                                self.start_round_trip(i, now);
                            }
                        }
                    }
                    let c = &mut self.conns[i];
                    if !c.recv_armed && !c.dead {
                        self.pending.push(recv_sqe(i));
                        c.recv_armed = true;
                    }
                }
                _ => {}
            }
        }
        self.cqes = cqes;
        if recycled {
            if let Some(bufs) = self.bufs.as_mut() {
                bufs.publish();
            }
        }
        requests
    }
}

impl Drop for EchoLoad {
    fn drop(&mut self) {
        if !drain(&mut self.ring, &mut self.conns) {
            // The kernel may still write into the receive buffers or read
            // the message: leak them rather than free memory in use.
            std::mem::forget(self.bufs.take());
            std::mem::forget(std::mem::take(&mut self.message));
        }
    }
}

/// Enters the ring to submit and wait for one completion, for at most
/// `limit` when given; interruptions and timeouts are not errors.
fn wait_one(ring: &mut IoUring, limit: Option<Duration>) -> io::Result<()> {
    let res = match limit {
        None => ring.submit_and_wait(1).map(drop),
        Some(limit) => {
            let ts = io_uring::types::Timespec::from(limit);
            let args = io_uring::types::SubmitArgs::new().timespec(&ts);
            ring.submitter().submit_with_args(1, &args).map(drop)
        }
    };
    match res {
        Err(e)
            if !matches!(
                e.raw_os_error(),
                Some(libc::EINTR | libc::EBUSY | libc::ETIME)
            ) =>
        {
            Err(io::Error::new(e.kind(), format!("io_uring_enter: {e}")))
        }
        _ => Ok(()),
    }
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
    let mut load = EchoLoad::connect(&[addr], connections, msg_size)?;
    let mut hist =
        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).map_err(io::Error::other)?;
    load.drive(0, warmup, End::Continue, None)?;
    at_start();
    let cpu0 = crate::common::thread_cpu_time();
    let run = load.drive(0, measure, End::Continue, Some(&mut hist))?;
    let client_cpu = crate::common::thread_cpu_time().saturating_sub(cpu0);
    at_end();
    if load.errors() > 0 {
        eprintln!(
            "  client: {} connection(s) ended with an error",
            load.errors()
        );
    }
    Ok(EchoRun {
        requests: run.requests,
        elapsed: run.elapsed,
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
