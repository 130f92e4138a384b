//! [`RingFd`]: how the loop names its ring to `io_uring_enter`.
//!
//! A ring's own descriptor can be registered in the calling thread's table
//! of registered rings (IORING_REGISTER_RING_FDS, Linux 5.18). An enter
//! that passes the table index with IORING_ENTER_REGISTERED_RING spares the
//! kernel the descriptor-table lookup and, in a process with more than one
//! thread (a runtime always has its blocking pool), the reference count
//! taken and dropped on the ring's `struct file` around every call.
//!
//! The io-uring crate keeps such a registration only in the `Submitter`
//! value that made it, and `IoUring::submitter` builds a new one per call,
//! so the index is kept here and the enter is made here.
//!
//! The table belongs to the thread that registered, which is the thread
//! that owns the driver: a worker builds its ring on its own thread and
//! never leaves it (the runtime, whose worker 0 is the building thread, is
//! `!Send`). The registration holds a reference to the ring, so it is
//! undone when the driver drops (else the ring would outlive its runtime
//! until the thread exits, and a thread's 16 slots would run out). An
//! enter that the kernel refuses through the index (`EBADF` or `EINVAL`:
//! a table that is not this thread's) falls back to the descriptor for
//! good.

use std::cell::Cell;
use std::io;
use std::os::fd::RawFd;

use io_uring::EnterFlags;

/// IORING_REGISTER_RING_FDS (include/uapi/linux/io_uring.h).
const REGISTER_RING_FDS: libc::c_uint = 20;
/// IORING_UNREGISTER_RING_FDS.
const UNREGISTER_RING_FDS: libc::c_uint = 21;

/// `struct io_uring_rsrc_update`, the argument of IORING_REGISTER_RING_FDS.
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

/// The ring's descriptor and, once registered, its index in this thread's
/// table of registered rings.
#[derive(Debug)]
pub(crate) struct RingFd {
    fd: RawFd,
    index: Cell<Option<u32>>,
}

impl RingFd {
    /// Registers `fd` (a ring's descriptor, which must outlive this value)
    /// for the calling thread. A kernel without registered rings leaves
    /// enters on the plain descriptor, which works the same, a little
    /// slower.
    pub(crate) fn register(fd: RawFd) -> RingFd {
        let mut up = RsrcUpdate {
            // Any free slot; the kernel writes the one it took here.
            offset: u32::MAX,
            resv: 0,
            data: fd as u64,
        };
        // SAFETY: `up` is a valid io_uring_rsrc_update that outlives the
        // call, and the count says there is one of it; the kernel writes
        // only its `offset` field.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                fd,
                REGISTER_RING_FDS,
                &mut up as *mut RsrcUpdate,
                1 as libc::c_uint,
            )
        };
        let index = (ret == 1).then_some(up.offset);
        RingFd {
            fd,
            index: Cell::new(index),
        }
    }

    /// Whether enters name the ring by its registered index.
    #[cfg(test)]
    pub(crate) fn is_registered(&self) -> bool {
        self.index.get().is_some()
    }

    /// One `io_uring_enter(2)`: submits `to_submit` SQEs and, with
    /// `EnterFlags::GETEVENTS` in `flags`, waits for `min_complete` CQEs.
    /// Returns the number of SQEs the kernel consumed.
    ///
    /// # Safety
    ///
    /// `flags` and `arg` must agree as `io_uring_enter(2)` requires: with
    /// EXT_ARG, `arg` points to a valid `io_uring_getevents_arg`; without,
    /// to a valid `sigset_t` or is `None`.
    pub(crate) unsafe fn enter<T>(
        &self,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
        arg: Option<&T>,
    ) -> io::Result<usize> {
        let arg_ptr = arg.map_or(std::ptr::null(), |a| (a as *const T).cast::<libc::c_void>());
        let size = std::mem::size_of::<T>();
        loop {
            let (target, flags) = match self.index.get() {
                Some(i) => (
                    i as libc::c_long,
                    flags | EnterFlags::REGISTERED_RING.bits(),
                ),
                None => (self.fd as libc::c_long, flags),
            };
            // SAFETY: the kernel reads `size` bytes at `arg_ptr` only as the
            // caller's contract makes valid; `target` is this ring's
            // registered index (with REGISTERED_RING) or its open descriptor.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_io_uring_enter,
                    target,
                    to_submit,
                    min_complete,
                    flags,
                    arg_ptr,
                    size,
                )
            };
            if ret >= 0 {
                return Ok(ret as usize);
            }
            let e = io::Error::last_os_error();
            if self.index.get().is_some()
                && matches!(e.raw_os_error(), Some(libc::EBADF) | Some(libc::EINVAL))
            {
                // Not this thread's table (EINVAL from a thread that never
                // used io_uring): name the ring by its descriptor. An
                // EINVAL of bad arguments comes back from that enter too.
                self.index.set(None);
                continue;
            }
            return Err(e);
        }
    }
}

impl Drop for RingFd {
    fn drop(&mut self) {
        let Some(index) = self.index.get() else {
            return;
        };
        let mut up = RsrcUpdate {
            offset: index,
            resv: 0,
            data: 0,
        };
        // SAFETY: as in `register`; the kernel only reads `up`. Failing (on
        // a thread whose table this is not) leaves the slot to the thread's
        // exit, which is all that can be done.
        unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                self.fd,
                UNREGISTER_RING_FDS,
                &mut up as *mut RsrcUpdate,
                1 as libc::c_uint,
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use io_uring::{opcode, IoUring};

    use super::*;

    /// Submits one NOP through `fd` and waits for its CQE.
    fn nop_round_trip(ring: &mut IoUring, fd: &RingFd) {
        let nop = opcode::Nop::new().build().user_data(7);
        // SAFETY: a NOP points at no memory.
        unsafe { ring.submission().push(&nop).expect("SQ has room") };
        let flags = EnterFlags::GETEVENTS.bits();
        // SAFETY: no argument, plain GETEVENTS.
        let submitted = unsafe { fd.enter::<libc::sigset_t>(1, 1, flags, None) }.expect("enter");
        assert_eq!(submitted, 1);
        let cqe = ring.completion().next().expect("the NOP completed");
        assert_eq!((cqe.user_data(), cqe.result()), (7, 0));
    }

    #[test]
    fn enters_through_the_registered_index_on_its_thread() {
        let mut ring = IoUring::new(4).expect("io_uring");
        let fd = RingFd::register(ring.as_raw_fd());
        // Every kernel this runs on has registered rings (5.18+).
        assert!(fd.is_registered());
        nop_round_trip(&mut ring, &fd);
        nop_round_trip(&mut ring, &fd);
        assert!(fd.is_registered(), "the index stays in use on its thread");
    }

    #[test]
    fn a_dropped_registration_frees_its_slot() {
        // A thread has 16 slots: 40 rings one after the other each get
        // one only if every drop gives its slot back.
        for _ in 0..40 {
            let mut ring = IoUring::new(4).expect("io_uring");
            let fd = RingFd::register(ring.as_raw_fd());
            assert!(fd.is_registered());
            nop_round_trip(&mut ring, &fd);
        }
    }

    #[test]
    fn a_dropped_driver_frees_its_slot() {
        // As above, through the driver: its registration is undone before
        // its ring's descriptor closes (undoing it needs the descriptor).
        let eventfd = crate::sys::eventfd().expect("eventfd");
        for _ in 0..40 {
            let metrics =
                std::sync::Arc::new(crate::metrics::worker::WorkerMetrics::new(false, None));
            let driver = super::super::Driver::new(
                &super::super::RingConfig::default(),
                eventfd.as_raw_fd(),
                metrics,
            )
            .expect("a driver");
            assert!(driver.ring_fd.is_registered());
        }
    }

    #[test]
    fn another_thread_falls_back_to_the_descriptor() {
        let mut ring = IoUring::new(4).expect("io_uring");
        let fd = RingFd::register(ring.as_raw_fd());
        assert!(fd.is_registered());
        std::thread::spawn(move || {
            // This thread's table has no such ring: the enter is refused
            // through the index and made again through the descriptor.
            nop_round_trip(&mut ring, &fd);
            assert!(!fd.is_registered());
            nop_round_trip(&mut ring, &fd);
        })
        .join()
        .expect("the enters worked");
    }
}
