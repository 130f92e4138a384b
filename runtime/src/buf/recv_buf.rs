//! [`RecvBuf`]: received bytes handed out where they landed, without a
//! copy.

use std::fmt;
use std::ops::Deref;

use crate::buf::IoBuf;
use crate::bufring::BufRing;

/// Bytes received on a stream, handed out in the buffer they arrived in:
/// a buffer of the worker's provided buffer ring (no copy), or, where the
/// stream reads without a ring, a `Vec<u8>` the receive filled.
///
/// It derefs to the bytes and implements [`IoBuf`], so it can be written
/// on to another socket or file as it is (an echo or a proxy copies
/// nothing in user space). Dropping it gives a ring buffer back to its
/// ring, on any thread: hold it only as long as needed, since every
/// buffer held is one the kernel cannot receive into (a ring of N
/// buffers serves at most N chunks held at once; past that, receives wait
/// until one comes back).
///
/// Made by `TcpStream::read_chunk` (and `RingRecv::read_chunk`).
///
/// # Examples
///
/// ```
/// use ringbolt_runtime::buf::RecvBuf;
///
/// let chunk = RecvBuf::from(b"hello".to_vec());
/// assert_eq!(&chunk[..], b"hello");
/// assert_eq!(chunk.len(), 5);
/// assert_eq!(chunk.into_vec(), b"hello");
/// ```
pub struct RecvBuf {
    inner: Inner,
}

enum Inner {
    /// Bytes `off..len` of buffer `bid` of `ring`, claimed from it (the
    /// kernel does not write it until it is recycled, in `Drop`).
    Ring {
        ring: BufRing,
        bid: u16,
        off: u32,
        len: u32,
    },
    /// A plain receive's buffer.
    Heap(Vec<u8>),
}

impl RecvBuf {
    /// Wraps bytes `off..len` of ring buffer `bid`, which the caller
    /// claimed; the `RecvBuf` now holds it and recycles it when dropped.
    ///
    /// # Safety
    ///
    /// `bid` is claimed from `ring` ([`BufRing::claim`] with at least
    /// `len` bytes) and not recycled, and nobody else will recycle it:
    /// ownership of the claim moves into the `RecvBuf`. `off <= len`.
    pub(crate) unsafe fn from_ring(ring: BufRing, bid: u16, off: u32, len: u32) -> RecvBuf {
        debug_assert!(off <= len);
        RecvBuf {
            inner: Inner::Ring {
                ring,
                bid,
                off,
                len,
            },
        }
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        match &self.inner {
            Inner::Ring { off, len, .. } => (len - off) as usize,
            Inner::Heap(v) => v.len(),
        }
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the bytes sit in a ring buffer (received without a copy)
    /// rather than in a `Vec`.
    pub fn is_ring_buffer(&self) -> bool {
        matches!(self.inner, Inner::Ring { .. })
    }

    /// The bytes as a `Vec<u8>`: the plain receive's own vector, or a copy
    /// of a ring buffer's bytes (the buffer goes back to its ring).
    pub fn into_vec(mut self) -> Vec<u8> {
        match &mut self.inner {
            Inner::Heap(v) => std::mem::take(v),
            Inner::Ring { .. } => self.to_vec(),
        }
    }
}

impl From<Vec<u8>> for RecvBuf {
    fn from(v: Vec<u8>) -> RecvBuf {
        RecvBuf {
            inner: Inner::Heap(v),
        }
    }
}

impl Deref for RecvBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.inner {
            Inner::Ring {
                ring,
                bid,
                off,
                len,
            } => {
                // SAFETY: this RecvBuf holds the claim on `bid` (from_ring's
                // contract) and recycles it only in Drop, after every borrow
                // of `self` has ended; `len` is within what the CQE reported.
                let all = unsafe { ring.bytes(*bid, *len) };
                &all[*off as usize..]
            }
            Inner::Heap(v) => v,
        }
    }
}

impl AsRef<[u8]> for RecvBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

// SAFETY: the bytes live in the ring's mapping (kept alive by the `BufRing`
// handle this value owns) or in the Vec's heap allocation; neither moves with
// the `RecvBuf`. The ring buffer is held (claimed), so the kernel does not
// write it until Drop recycles it, and nothing mutates it meanwhile (there
// is no `IoBufMut`). All `len()` bytes are initialised (the kernel wrote
// them; a Vec's length counts initialised bytes only).
unsafe impl IoBuf for RecvBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.deref().as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

impl Drop for RecvBuf {
    fn drop(&mut self) {
        if let Inner::Ring { ring, bid, .. } = &self.inner {
            // Back to the kernel: straight into the ring on its worker,
            // through the ring's remote list from any other thread.
            ring.recycle(*bid);
        }
    }
}

impl fmt::Debug for RecvBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvBuf")
            .field("len", &self.len())
            .field("ring_buffer", &self.is_ring_buffer())
            .finish()
    }
}
