//! The thread-pool driver's wait: with no ring, an idle worker sleeps in
//! `epoll_wait` on its wake-up eventfd and on the sockets its tasks wait
//! for (see [`Readiness`]), with the next timer deadline as the timeout.
//! Socket operations run on the worker once their socket is ready; every
//! other operation runs its synchronous equivalent on the blocking pool and
//! reports back through a task waker, which signals that eventfd.

use std::io;
use std::os::fd::RawFd;
use std::task::Waker;
use std::time::Duration;

use super::readiness::Readiness;

/// The wait of a worker without a ring.
#[derive(Debug)]
pub(crate) struct PoolDriver {
    pub(crate) readiness: Readiness,
}

impl PoolDriver {
    /// `eventfd` must stay open as long as the driver lives.
    pub(crate) fn new(eventfd: RawFd) -> io::Result<Self> {
        Ok(PoolDriver {
            readiness: Readiness::new(eventfd)?,
        })
    }

    /// One turn of the worker's loop: sleeps until the eventfd is
    /// signalled, a waited-for socket is ready or `timeout` passes (`None`:
    /// no limit) when `wait` is set; otherwise only collects the sockets
    /// that are ready, and makes no system call when no task waits for
    /// one. Wakers of ready sockets go on `wakers`. Returns whether the
    /// eventfd fired (and resets it).
    pub(crate) fn turn(
        &mut self,
        wait: bool,
        timeout: Option<Duration>,
        wakers: &mut Vec<Waker>,
    ) -> io::Result<bool> {
        if wait {
            self.readiness.wait(timeout, wakers)
        } else if self.readiness.len() > 0 {
            self.readiness.wait(Some(Duration::ZERO), wakers)
        } else {
            Ok(false)
        }
    }
}
