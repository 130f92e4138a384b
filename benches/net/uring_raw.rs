//! Raw io_uring pieces shared by the io_uring echo client and the
//! hand-written io_uring echo server: an mmap'd provided buffer ring and
//! ring setup. Built on the `io-uring` crate alone (no ringbolt), so these
//! programs measure the kernel path, not a runtime.

use std::io;
use std::ptr::NonNull;

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

/// An anonymous mapping (page-aligned, zeroed), unmapped on drop.
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Mapping> {
        // SAFETY: an anonymous private mapping with no address hint touches
        // no existing memory; the result is checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mapping { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// A provided buffer ring: `entries` buffers of `buf_size` bytes.
pub(crate) struct BufRing {
    ring: Mapping,
    bufs: Mapping,
    entries: u16,
    buf_size: usize,
    tail: u16,
}

impl BufRing {
    /// Maps `entries` (a power of two) buffers of `buf_size` bytes and
    /// their ring, every buffer in the ring.
    pub(crate) fn new(entries: u16, buf_size: usize) -> io::Result<BufRing> {
        let ring = Mapping::new(usize::from(entries) * std::mem::size_of::<BufRingEntry>())?;
        let bufs = Mapping::new(usize::from(entries) * buf_size)?;
        let mut br = BufRing {
            ring,
            bufs,
            entries,
            buf_size,
            tail: 0,
        };
        for bid in 0..entries {
            br.push(bid);
        }
        br.publish();
        Ok(br)
    }

    /// Registers the ring as buffer group `bgid` of `ring`.
    ///
    /// # Safety
    ///
    /// `self` must outlive the registration: be dropped after `ring`, or
    /// leaked while an op that selects from it may still write.
    pub(crate) unsafe fn register(&self, ring: &IoUring, bgid: u16) -> io::Result<()> {
        // SAFETY: the ring mapping is page-aligned and holds `entries`
        // entries; the caller keeps it (and the buffers) alive.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                self.ring.ptr.as_ptr() as u64,
                self.entries,
                bgid,
                0,
            )
        }
    }

    /// Buffer `bid` with its first `len` bytes.
    ///
    /// # Safety
    ///
    /// The kernel must be done writing buffer `bid` (a CQE named it) and
    /// must not get it back (`push`) while the slice is in use.
    pub(crate) unsafe fn get(&self, bid: u16, len: usize) -> &[u8] {
        let len = len.min(self.buf_size);
        let at = usize::from(bid % self.entries) * self.buf_size;
        // SAFETY: `at + len` lies inside `bufs`; the caller guarantees that
        // the kernel does not write the buffer meanwhile.
        unsafe { std::slice::from_raw_parts(self.bufs.ptr.as_ptr().add(at), len) }
    }

    /// Puts buffer `bid` at the ring's tail (visible after `publish`).
    pub(crate) fn push(&mut self, bid: u16) {
        let base = self.ring.ptr.as_ptr().cast::<BufRingEntry>();
        let slot = usize::from(self.tail & (self.entries - 1));
        // SAFETY: `slot` < entries, inside the ring mapping; the slot at the
        // tail is outside the kernel's window until `publish` moves the tail.
        let e = unsafe { &mut *base.add(slot) };
        // SAFETY: `bid` < entries, so the buffer lies inside `bufs`.
        let addr = unsafe { self.bufs.ptr.as_ptr().add(usize::from(bid) * self.buf_size) };
        e.set_addr(addr as u64);
        e.set_len(self.buf_size as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes the buffers pushed so far visible to the kernel.
    pub(crate) fn publish(&mut self) {
        let base = self.ring.ptr.as_ptr().cast::<BufRingEntry>();
        // SAFETY: entry 0's `resv` field is the ring's tail, a 2-byte
        // aligned u16 that the kernel reads atomically; only this thread
        // writes it.
        let tail = unsafe { &*BufRingEntry::tail(base).cast::<std::sync::atomic::AtomicU16>() };
        // Release: the entries written before are visible to the kernel's
        // acquire load of the tail.
        tail.store(self.tail, std::sync::atomic::Ordering::Release);
    }
}

/// A ring with SINGLE_ISSUER + DEFER_TASKRUN where the kernel has them.
pub(crate) fn build_ring(entries: u32) -> io::Result<IoUring> {
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(entries * 4)
        .build(entries)
        .or_else(|_| IoUring::builder().setup_cqsize(entries * 4).build(entries))
}
