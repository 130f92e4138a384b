//! IORING_OP_POLL_ADD: waits until a descriptor is ready; `poll(2)` when
//! run synchronously. With `multishot`, one SQE reports every readiness
//! event until cancelled (use it with [`MultiOp`](super::MultiOp)).

use std::io;

use io_uring::{opcode, squeue, types};

use super::OpCode;
use crate::fd::SharedFd;

/// Waits for `events` (`libc::POLLIN`, `libc::POLLOUT`, ...) on a descriptor.
#[derive(Debug)]
pub struct PollAdd {
    fd: SharedFd,
    events: u32,
    multishot: bool,
}

impl PollAdd {
    /// A one-shot poll: completes once with the ready events.
    pub fn new(fd: SharedFd, events: u32) -> Self {
        PollAdd {
            fd,
            events,
            multishot: false,
        }
    }

    /// A multishot poll: one completion per readiness event.
    pub fn multishot(fd: SharedFd, events: u32) -> Self {
        PollAdd {
            fd,
            events,
            multishot: true,
        }
    }
}

// SAFETY: a POLL_ADD SQE points to no memory; the fd is kept open by the
// SharedFd clone held here.
unsafe impl OpCode for PollAdd {
    fn multishot(&self) -> bool {
        self.multishot
    }

    fn sqe(&mut self) -> squeue::Entry {
        opcode::PollAdd::new(types::Fd(self.fd.as_raw_fd()), self.events)
            .multi(self.multishot)
            .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: self.events as libc::c_short,
            revents: 0,
        };
        loop {
            // SAFETY: `pfd` is one valid pollfd on the stack.
            match crate::sys::cvt(unsafe { libc::poll(&mut pfd, 1, -1) }) {
                Ok(_) => return Ok(pfd.revents as u16 as u32),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn blocking_repeats(&self) -> bool {
        self.multishot
    }

    fn readiness(&self) -> Option<(&SharedFd, u32)> {
        Some((&self.fd, self.events))
    }

    /// `poll(2)` without waiting: `WouldBlock` when none of the events is
    /// there yet.
    fn run_nonblocking(&mut self) -> io::Result<u32> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: self.events as libc::c_short,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd on the stack.
        match crate::sys::cvt(unsafe { libc::poll(&mut pfd, 1, 0) })? {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            _ => Ok(pfd.revents as u16 as u32),
        }
    }
}
