//! [`IoVecs`]: the boxed iovec array of a vectored read or write.

use std::fmt;

/// An iovec array on the heap, so that the kernel's pointer to it stays
/// valid when the op that owns it moves.
pub(super) struct IoVecs(Box<[libc::iovec]>);

// SAFETY: the iovecs are plain (pointer, length) pairs describing buffers
// owned by the same op; sending the array to another thread together with
// the op sends those buffers with it (the buffers are `Send`), and nothing
// dereferences the pointers except the kernel or the op's own blocking call.
unsafe impl Send for IoVecs {}

impl IoVecs {
    /// Collects the iovecs.
    pub(super) fn new(iovecs: impl Iterator<Item = libc::iovec>) -> Self {
        IoVecs(iovecs.collect())
    }

    /// Pointer to the first iovec (stable while `self` lives).
    pub(super) fn as_ptr(&self) -> *const libc::iovec {
        self.0.as_ptr()
    }

    /// The number of iovecs, as the SQE's and `preadv2`'s counts want it.
    pub(super) fn len(&self) -> u32 {
        self.0.len().min(u32::MAX as usize) as u32
    }
}

impl fmt::Debug for IoVecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoVecs")
            .field("count", &self.0.len())
            .finish()
    }
}
