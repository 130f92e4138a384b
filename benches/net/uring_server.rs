//! `raw-uring`: an echo server written by hand on the `io-uring` crate, no
//! runtime, no tasks: the floor for the CPU an io_uring echo server spends
//! per request on this kernel (the role fio plays in the disk bench).
//!
//! One thread, one ring (SINGLE_ISSUER + DEFER_TASKRUN where available):
//! multishot accept; each connection is registered as a fixed file and
//! keeps one multishot receive armed over a provided buffer ring; a
//! received chunk is sent back straight from its ring buffer (no copy),
//! which returns to the ring when the SEND completes; at most one SEND in
//! flight per connection (the rest queue in order). One `io_uring_enter`
//! per loop iteration submits everything and waits.

use std::collections::VecDeque;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

use io_uring::types::{Fd, Fixed};
use io_uring::{cqueue, opcode, squeue};

use crate::uring_raw::{build_ring, BufRing};

/// Most connections served at once (the fixed-file table's size).
const MAX_CONNS: usize = 4096;
const BGID: u16 = 0;
const RECV_BUF: usize = 16 * 1024;
const BUFS: u16 = 4096;

const ACCEPT: u64 = 0;
const RECV: u64 = 1;
const SEND: u64 = 2;

fn tag(conn: usize, kind: u64) -> u64 {
    ((conn as u64) << 2) | kind
}

#[derive(Default)]
struct Conn {
    fd: Option<OwnedFd>,
    /// Chunks to send back, in order: (buffer id, bytes sent, length).
    out: VecDeque<(u16, usize, usize)>,
    send_in_flight: bool,
    recv_armed: bool,
    closing: bool,
}

/// Serves echo on `listener` until the process is killed.
pub(crate) fn serve_echo(listener: TcpListener) -> io::Result<()> {
    let mut ring = build_ring(4096)?;
    ring.submitter().register_files_sparse(MAX_CONNS as u32)?;
    let mut bufs = BufRing::new(BUFS, RECV_BUF)?;
    // SAFETY: `bufs` lives until this function returns, which it only does
    // on an error after which the process exits; it is leaked below then.
    unsafe { bufs.register(&ring, BGID)? };
    let mut conns: Vec<Conn> = (0..MAX_CONNS).map(|_| Conn::default()).collect();
    let mut free: Vec<usize> = (0..MAX_CONNS).rev().collect();
    let mut pending: Vec<squeue::Entry> = Vec::with_capacity(1024);
    let accept = opcode::AcceptMulti::new(Fd(listener.as_raw_fd()))
        .build()
        .user_data(tag(0, ACCEPT));
    pending.push(accept.clone());
    let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(16 * 1024);
    let mut run = || -> io::Result<()> {
        loop {
            for sqe in pending.drain(..) {
                // SAFETY: SENDs point into `bufs` (their buffer is held out of
                // the ring until the SEND completes); the rest point to no memory.
                while unsafe { ring.submission().push(&sqe) }.is_err() {
                    if let Err(e) = ring.submit() {
                        break_on(&e)?;
                    }
                }
            }
            if let Err(e) = ring.submit_and_wait(1) {
                break_on(&e)?;
            }
            cqes.extend(
                ring.completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            let mut recycled = false;
            for (ud, res, flags) in cqes.drain(..) {
                let i = (ud >> 2) as usize;
                match ud & 3 {
                    ACCEPT => {
                        if !cqueue::more(flags) {
                            pending.push(accept.clone());
                        }
                        if res < 0 {
                            continue;
                        }
                        // SAFETY: a successful accept CQE carries a new fd that
                        // nothing else owns.
                        let fd = unsafe { OwnedFd::from_raw_fd(res) };
                        let Some(slot) = free.pop() else {
                            continue; // table full: the fd closes here
                        };
                        set_nodelay(&fd);
                        if ring
                            .submitter()
                            .register_files_update(slot as u32, &[fd.as_raw_fd()])
                            .is_err()
                        {
                            free.push(slot);
                            continue;
                        }
                        conns[slot] = Conn {
                            fd: Some(fd),
                            recv_armed: true,
                            ..Conn::default()
                        };
                        pending.push(recv_sqe(slot));
                    }
                    RECV => {
                        let c = &mut conns[i];
                        if !cqueue::more(flags) {
                            c.recv_armed = false;
                        }
                        let bid = cqueue::buffer_select(flags);
                        if res > 0 {
                            if let Some(bid) = bid {
                                c.out.push_back((bid, 0, res as usize));
                            }
                        } else {
                            if let Some(bid) = bid {
                                bufs.push(bid);
                                recycled = true;
                            }
                            if res != -libc::ENOBUFS {
                                c.closing = true;
                            }
                        }
                        if !c.recv_armed && !c.closing {
                            pending.push(recv_sqe(i));
                            c.recv_armed = true;
                        }
                        start_send(&mut conns[i], i, &bufs, &mut pending);
                    }
                    SEND => {
                        let c = &mut conns[i];
                        c.send_in_flight = false;
                        if let Some(front) = c.out.front_mut() {
                            if res > 0 {
                                front.1 += res as usize;
                            } else {
                                c.closing = true;
                                front.1 = front.2;
                            }
                            if front.1 >= front.2 {
                                let (bid, _, _) = *front;
                                c.out.pop_front();
                                bufs.push(bid);
                                recycled = true;
                            }
                        }
                        if c.closing {
                            for (bid, _, _) in c.out.drain(..) {
                                bufs.push(bid);
                                recycled = true;
                            }
                        }
                        start_send(&mut conns[i], i, &bufs, &mut pending);
                    }
                    _ => {}
                }
                let c = &mut conns[i];
                if ud & 3 != ACCEPT
                    && c.closing
                    && !c.recv_armed
                    && !c.send_in_flight
                    && c.fd.is_some()
                {
                    // Both ops are done: free the slot and close the socket.
                    for (bid, _, _) in c.out.drain(..) {
                        bufs.push(bid);
                        recycled = true;
                    }
                    let _ = ring.submitter().register_files_update(i as u32, &[-1]);
                    c.fd = None;
                    c.closing = false;
                    free.push(i);
                }
            }
            if recycled {
                bufs.publish();
            }
        }
    };
    let res = run();
    // Only reached on an error; the kernel may still use the buffers.
    std::mem::forget(bufs);
    res
}

/// `Ok` for the errors a wait may return normally, else the error.
fn break_on(e: &io::Error) -> io::Result<()> {
    match e.raw_os_error() {
        Some(libc::EINTR | libc::EBUSY | libc::ETIME | libc::EAGAIN) => Ok(()),
        _ => Err(io::Error::new(e.kind(), e.to_string())),
    }
}

fn recv_sqe(i: usize) -> squeue::Entry {
    opcode::RecvMulti::new(Fixed(i as u32), BGID)
        .build()
        .user_data(tag(i, RECV))
}

/// Sends the connection's next queued chunk unless a SEND is in flight.
fn start_send(c: &mut Conn, i: usize, bufs: &BufRing, pending: &mut Vec<squeue::Entry>) {
    if c.send_in_flight || c.closing {
        return;
    }
    let Some(&(bid, sent, len)) = c.out.front() else {
        return;
    };
    // SAFETY: the CQE that named `bid` is processed, and the buffer stays
    // out of the ring until this SEND completes.
    let data = unsafe { bufs.get(bid, len) };
    let rest = &data[sent..];
    pending.push(
        opcode::Send::new(Fixed(i as u32), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(tag(i, SEND)),
    );
    c.send_in_flight = true;
}

fn set_nodelay(fd: &OwnedFd) {
    let one: libc::c_int = 1;
    // SAFETY: a valid socket fd and a c_int option value of the right size.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}
