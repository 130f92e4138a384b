//! The ring's fixed-file table: sockets used often on this ring are
//! registered in it, so that their ops name a table slot
//! (IOSQE_FIXED_FILE) and the kernel skips the per-op descriptor lookup and
//! reference count (`fget`/`fput`, about 3 % of an echo server's CPU).
//!
//! The table is created sparse on first use, sized by RLIMIT_NOFILE (the
//! kernel's limit for it) and capped at [`MAX_SLOTS`]. A slot holds a
//! reference to the socket until it is released, so
//! [`SharedFd`](crate::fd::SharedFd) releases its slot before (or as) it
//! closes the descriptor; slots are reused only after the release.

use std::os::fd::RawFd;

use io_uring::IoUring;

/// Most slots per ring.
const MAX_SLOTS: u32 = 16 * 1024;

#[derive(Debug, Default)]
enum State {
    /// Not created yet.
    #[default]
    Unset,
    /// Created; `free` holds the unused slots.
    Ready,
    /// The kernel refused the table (before Linux 5.19, or no room):
    /// every op uses plain descriptors.
    Unavailable,
}

/// The slots of one ring's fixed-file table.
#[derive(Debug, Default)]
pub(crate) struct FileTable {
    state: State,
    free: Vec<u32>,
}

impl FileTable {
    /// Registers `fd` in a free slot; `None` if the table is unavailable
    /// or full (the caller then uses the plain descriptor).
    pub(crate) fn register(&mut self, ring: &IoUring, fd: RawFd) -> Option<u32> {
        if matches!(self.state, State::Unset) {
            self.create(ring);
        }
        if !matches!(self.state, State::Ready) {
            return None;
        }
        let slot = self.free.pop()?;
        match ring.submitter().register_files_update(slot, &[fd]) {
            Ok(_) => Some(slot),
            Err(_) => {
                self.free.push(slot);
                None
            }
        }
    }

    /// Empties `slot` (the kernel drops its reference to the socket) and
    /// makes it reusable.
    pub(crate) fn release(&mut self, ring: &IoUring, slot: u32) {
        match ring.submitter().register_files_update(slot, &[-1]) {
            Ok(_) => self.free.push(slot),
            // The slot is not reused (it still holds the socket).
            Err(e) => {
                tracing::error!(
                    slot,
                    error = %e,
                    "ringbolt: could not release a fixed-file slot; the socket it holds \
                     stays open until the ring closes"
                );
            }
        }
    }

    fn create(&mut self, ring: &IoUring) {
        let slots = nofile_limit().clamp(0, u64::from(MAX_SLOTS)) as u32;
        let made = slots > 0 && ring.submitter().register_files_sparse(slots).is_ok();
        if made {
            self.state = State::Ready;
            self.free = (0..slots).rev().collect();
        } else {
            self.state = State::Unavailable;
        }
    }
}

/// The soft RLIMIT_NOFILE (the kernel refuses larger tables).
fn nofile_limit() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the valid struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return 0;
    }
    rl.rlim_cur
}
