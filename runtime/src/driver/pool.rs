//! The thread-pool driver's wait: with no ring, an idle worker sleeps in
//! `poll(2)` on its wake-up eventfd, with the next timer deadline as the
//! timeout. Operations run their synchronous equivalents on the blocking
//! pool and report back through task wakers, which signal that eventfd.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// The wait of a worker without a ring.
#[derive(Debug)]
pub(crate) struct PoolDriver {
    eventfd: RawFd,
    pub(crate) parks: u64,
}

impl PoolDriver {
    /// `eventfd` must stay open as long as the driver lives.
    pub(crate) fn new(eventfd: RawFd) -> Self {
        PoolDriver { eventfd, parks: 0 }
    }

    /// Sleeps until the eventfd is signalled or `timeout` passes (`None`:
    /// no limit). Returns whether the eventfd fired (and resets it).
    pub(crate) fn park(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        self.parks += 1;
        let ms = match timeout {
            None => -1,
            // Round up so the wait never ends before the deadline.
            Some(t) => t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
        };
        let mut pfd = libc::pollfd {
            fd: self.eventfd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd on the stack.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        if n == 0 || pfd.revents & libc::POLLIN == 0 {
            return Ok(false);
        }
        let mut buf = 0u64;
        // SAFETY: reads 8 bytes into a u64 on the stack; the eventfd is
        // readable, so this does not block.
        unsafe { libc::read(self.eventfd, (&mut buf as *mut u64).cast(), 8) };
        Ok(true)
    }
}
