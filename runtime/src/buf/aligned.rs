//! [`AlignedBuf`]: a zeroed heap buffer with a chosen alignment, for `O_DIRECT`.

use std::alloc::{self, Layout};
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};

use super::io_buf::{IoBuf, IoBufMut};

/// A heap buffer whose start is aligned to a chosen power of two, for files
/// opened with `O_DIRECT` (whose buffers, offsets and lengths must usually be
/// multiples of the device's logical block size, often 512 or 4096 bytes).
///
/// The buffer has a fixed capacity, allocated and zeroed up front, and a
/// length `len <= capacity`: it dereferences to its first `len` bytes, a write
/// sends those, and a read fills it from the start up to its capacity and
/// sets `len` to at least the number of bytes read, like a `Vec<u8>`.
///
/// Every byte of the capacity is always initialised (zeroed at allocation,
/// and only ever overwritten with initialised bytes), which is why
/// [`set_len`](AlignedBuf::set_len) is safe. Unsafe code writing through
/// [`IoBufMut::stable_mut_ptr`] must therefore write initialised bytes only,
/// as the kernel does.
///
/// # Examples
///
/// ```
/// use ringbolt_runtime::buf::{AlignedBuf, IoBuf};
///
/// let mut buf = AlignedBuf::new(4096, 4096)?;
/// assert_eq!(buf.stable_ptr() as usize % 4096, 0);
/// assert_eq!(buf.len(), 4096);
/// assert!(buf.iter().all(|&b| b == 0));
/// buf[..5].copy_from_slice(b"hello");
/// assert_eq!(&buf[..5], b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct AlignedBuf {
    /// Start of the allocation; for capacity 0, a dangling pointer whose
    /// address is the alignment.
    ptr: NonNull<u8>,
    /// Number of bytes the buffer dereferences to; `len <= layout.size()`.
    len: usize,
    /// Capacity (`size`) and alignment; the allocation was made with exactly
    /// this layout when `size > 0`, and all `size` bytes are initialised.
    layout: Layout,
}

// SAFETY: an `AlignedBuf` owns its allocation exclusively, like a
// `Box<[u8]>`: the raw pointer is never shared with another value, so moving
// the buffer to another thread moves sole access with it.
unsafe impl Send for AlignedBuf {}

// SAFETY: `&AlignedBuf` only allows reads of the memory (all mutation goes
// through `&mut self`), so sharing references across threads is as safe as
// sharing a `&[u8]`.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// Allocates a zeroed buffer of `len` bytes whose start is aligned to
    /// `align`; its length and capacity are both `len`.
    ///
    /// `len` may be 0: nothing is allocated, and the (dangling) pointer is
    /// still aligned.
    ///
    /// # Errors
    ///
    /// - [`io::ErrorKind::InvalidInput`] if `align` is not a power of two
    ///   (0 is not), or if `len` rounded up to `align` exceeds `isize::MAX`.
    /// - [`io::ErrorKind::OutOfMemory`] if the allocation fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::AlignedBuf;
    ///
    /// let buf = AlignedBuf::new(1024, 512)?;
    /// assert_eq!((buf.len(), buf.capacity(), buf.align()), (1024, 1024, 512));
    /// assert_eq!(buf.as_slice().as_ptr() as usize % 512, 0);
    ///
    /// let err = AlignedBuf::new(1024, 3).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(len: usize, align: usize) -> io::Result<AlignedBuf> {
        let mut buf = AlignedBuf::with_capacity(len, align)?;
        buf.len = len;
        Ok(buf)
    }

    /// Allocates a zeroed buffer of capacity `capacity` whose start is aligned
    /// to `align`, with length 0: ready for a read that fills it from the
    /// start.
    ///
    /// # Errors
    ///
    /// As for [`AlignedBuf::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::{AlignedBuf, IoBuf};
    ///
    /// let buf = AlignedBuf::with_capacity(8192, 4096)?;
    /// assert!(buf.is_empty());
    /// assert_eq!((buf.bytes_init(), buf.bytes_total()), (0, 8192));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_capacity(capacity: usize, align: usize) -> io::Result<AlignedBuf> {
        if !align.is_power_of_two() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "AlignedBuf: alignment {align} is not a power of two; \
                     use the device's logical block size, such as 512 or 4096"
                ),
            ));
        }
        let layout = Layout::from_size_align(capacity, align).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "AlignedBuf: capacity {capacity} rounded up to alignment {align} \
                     exceeds isize::MAX"
                ),
            )
        })?;
        let ptr = if capacity == 0 {
            dangling(align)
        } else {
            // SAFETY: the layout has a non-zero size, as `alloc_zeroed`
            // requires.
            let raw = unsafe { alloc::alloc_zeroed(layout) };
            NonNull::new(raw).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!("AlignedBuf: could not allocate {capacity} bytes aligned to {align}"),
                )
            })?
        };
        Ok(AlignedBuf {
            ptr,
            len: 0,
            layout,
        })
    }

    /// Returns the number of bytes the buffer holds: what it dereferences to
    /// and what a write sends.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::AlignedBuf;
    ///
    /// assert_eq!(AlignedBuf::new(512, 512)?.len(), 512);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns `true` if the length is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::AlignedBuf;
    ///
    /// assert!(AlignedBuf::with_capacity(512, 512)?.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Returns the capacity: the fixed number of bytes allocated, which a
    /// read can fill.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::AlignedBuf;
    ///
    /// assert_eq!(AlignedBuf::with_capacity(4096, 512)?.capacity(), 4096);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.layout.size()
    }

    /// Returns the alignment of the buffer's start.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::AlignedBuf;
    ///
    /// assert_eq!(AlignedBuf::new(0, 4096)?.align(), 4096);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn align(&self) -> usize {
        self.layout.align()
    }

    /// Sets the length to `len`, shrinking or growing it within the capacity.
    /// Bytes that become part of the buffer keep their contents: zero, or
    /// what was last written there.
    ///
    /// # Panics
    ///
    /// If `len > self.capacity()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::AlignedBuf;
    ///
    /// let mut buf = AlignedBuf::with_capacity(4096, 4096)?;
    /// buf.set_len(512);
    /// assert_eq!(&buf[..], &[0u8; 512][..]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn set_len(&mut self, len: usize) {
        assert!(
            len <= self.capacity(),
            "AlignedBuf::set_len: length {len} exceeds the capacity {}; \
             allocate a larger buffer",
            self.capacity()
        );
        self.len = len;
    }

    /// Returns the buffer's `len` bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::AlignedBuf;
    ///
    /// assert_eq!(AlignedBuf::new(3, 8)?.as_slice(), &[0, 0, 0]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is non-null and aligned (for capacity 0 it is dangling and `len` is 0);
        // when the capacity is non-zero it points to an allocation of `capacity() >= len` bytes,
        // all initialised, that this buffer owns and only mutates through `&mut self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Returns the buffer's `len` bytes, mutably.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::AlignedBuf;
    ///
    /// let mut buf = AlignedBuf::new(3, 8)?;
    /// buf.as_mut_slice().copy_from_slice(b"abc");
    /// assert_eq!(&buf[..], b"abc");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; in addition the allocation is owned by
        // this buffer alone and `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

/// A non-null pointer whose address is `align`: aligned, and valid for
/// zero-sized accesses, which is all an empty buffer makes.
fn dangling(align: usize) -> NonNull<u8> {
    // SAFETY: `align` is a power of two, so at least 1, and the pointer is
    // not null.
    unsafe { NonNull::new_unchecked(ptr::null_mut::<u8>().wrapping_add(align)) }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.layout.size() != 0 {
            // SAFETY: with a non-zero size, `ptr` was returned by
            // `alloc_zeroed(self.layout)` (or `alloc` with the same layout in
            // `clone`) and has not been freed: the buffer owns it alone.
            unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) };
        }
    }
}

impl Clone for AlignedBuf {
    /// Allocates a buffer with the same length, capacity, alignment and
    /// contents.
    ///
    /// # Panics
    ///
    /// Aborts through [`std::alloc::handle_alloc_error`] if the allocation
    /// fails, like `Vec`'s `clone`.
    fn clone(&self) -> AlignedBuf {
        let ptr = if self.layout.size() == 0 {
            self.ptr
        } else {
            // SAFETY: the layout has a non-zero size.
            let raw = unsafe { alloc::alloc(self.layout) };
            let Some(ptr) = NonNull::new(raw) else {
                alloc::handle_alloc_error(self.layout)
            };
            // SAFETY: both regions are `layout.size()` bytes, valid (source for reads, destination
            // for writes) and distinct allocations; every source byte is initialised, so the whole
            // new allocation becomes initialised, as `AlignedBuf` requires.
            unsafe {
                ptr::copy_nonoverlapping(self.ptr.as_ptr(), ptr.as_ptr(), self.layout.size())
            };
            ptr
        };
        AlignedBuf {
            ptr,
            len: self.len,
            layout: self.layout,
        }
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .field("align", &self.align())
            .finish()
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsMut<[u8]> for AlignedBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl PartialEq for AlignedBuf {
    /// Compares the contents (the first `len` bytes), like `Vec`; capacity
    /// and alignment are not compared.
    fn eq(&self, other: &AlignedBuf) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for AlignedBuf {}

// SAFETY: `ptr` is non-null and, when the capacity is non-zero, the start of
// a heap allocation of `capacity()` initialised bytes that the buffer owns;
// the heap memory does not move when the `AlignedBuf` value moves, and only
// `&mut self` methods (and drop) change the memory or `len`, never the
// pointer or the capacity; `len <= capacity()` is kept by every method.
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len
    }

    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: the allocation is writable and owned by this buffer alone (clones
// get their own), `stable_mut_ptr` returns the same pointer as `stable_ptr`,
// and `set_init` only grows `len`, to at most `pos <= capacity()`.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        // All of the capacity is initialised anyway; the caller's promise
        // `pos <= bytes_total()` keeps `len <= capacity()`.
        if self.len < pos {
            self.len = pos;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::IoBuf;

    fn assert_aligned(buf: &AlignedBuf, align: usize) {
        assert_eq!(buf.stable_ptr() as usize % align, 0, "{buf:?}");
        assert_eq!(buf.as_slice().as_ptr() as usize % align, 0);
        assert!(!buf.stable_ptr().is_null());
    }

    #[test]
    fn send_sync_unpin() {
        fn assert_traits<T: Send + Sync + Unpin + 'static>() {}
        assert_traits::<AlignedBuf>();
    }

    #[test]
    fn alignment_and_zeroed() {
        for &align in &[1usize, 2, 8, 512, 4096, 65536] {
            for &len in &[1usize, 100, 512, 4096, 12288] {
                let buf = AlignedBuf::new(len, align).unwrap();
                assert_aligned(&buf, align);
                assert_eq!((buf.len(), buf.capacity(), buf.align()), (len, len, align));
                assert_eq!((buf.bytes_init(), buf.bytes_total()), (len, len));
                assert!(buf.iter().all(|&b| b == 0));
            }
        }
    }

    #[test]
    fn with_capacity_starts_empty_and_fills_from_start() {
        let mut buf = AlignedBuf::with_capacity(4096, 512).unwrap();
        assert_aligned(&buf, 512);
        assert!(buf.is_empty());
        assert_eq!((buf.bytes_init(), buf.bytes_total()), (0, 4096));
        // A read of 10 bytes, as the kernel would do it.
        // SAFETY: 10 <= bytes_total(); the bytes are written before set_init.
        unsafe {
            buf.stable_mut_ptr().write_bytes(0xAB, 10);
            buf.set_init(10);
        }
        assert_eq!(buf.len(), 10);
        assert_eq!(&buf[..], &[0xAB; 10]);
        // set_init never shrinks.
        // SAFETY: 3 <= bytes_total(); all bytes are initialised.
        unsafe { buf.set_init(3) };
        assert_eq!(buf.len(), 10);
    }

    #[test]
    fn zero_len_is_ok() {
        for &align in &[1usize, 512, 4096] {
            let buf = AlignedBuf::new(0, align).unwrap();
            assert_aligned(&buf, align);
            assert!(buf.is_empty());
            assert_eq!((buf.capacity(), buf.bytes_total()), (0, 0));
            assert_eq!(buf.as_slice(), &[] as &[u8]);
            let c = buf.clone();
            assert_eq!(c, buf);
            assert_eq!(c.align(), align);
        }
        let mut buf = AlignedBuf::with_capacity(0, 4096).unwrap();
        buf.set_len(0);
        assert!(buf.as_mut_slice().is_empty());
    }

    #[test]
    fn set_len_within_capacity() {
        let mut buf = AlignedBuf::with_capacity(1024, 512).unwrap();
        buf.set_len(1024);
        assert_eq!(buf.len(), 1024);
        assert!(buf.iter().all(|&b| b == 0));
        buf[0] = 1;
        buf.set_len(0);
        assert!(buf.is_empty());
        buf.set_len(1);
        assert_eq!(&buf[..], &[1]);
    }

    #[test]
    #[should_panic(expected = "length 1025 exceeds the capacity 1024")]
    fn set_len_past_capacity_panics() {
        AlignedBuf::with_capacity(1024, 512).unwrap().set_len(1025);
    }

    #[test]
    fn invalid_align_is_invalid_input() {
        for &align in &[0usize, 3, 6, 4097, usize::MAX] {
            let err = AlignedBuf::new(512, align).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "align {align}");
            assert!(err.to_string().contains("power of two"), "{err}");
            let err = AlignedBuf::with_capacity(0, align).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn oversized_is_invalid_input() {
        let err = AlignedBuf::new(usize::MAX - 100, 4096).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("isize::MAX"), "{err}");
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri stops on huge allocations instead of failing them"
    )]
    fn too_large_to_allocate_is_out_of_memory() {
        // Within Layout's limits but far beyond any machine's address space.
        let err = AlignedBuf::new(isize::MAX as usize - 8191, 4096).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
    }

    #[test]
    fn clone_is_equal_and_separate() {
        let mut buf = AlignedBuf::with_capacity(8192, 4096).unwrap();
        buf.set_len(4);
        buf.copy_from_slice(b"data");
        let mut c = buf.clone();
        assert_eq!(c, buf);
        assert_eq!(c.as_slice(), b"data");
        assert_eq!((c.len(), c.capacity(), c.align()), (4, 8192, 4096));
        assert_aligned(&c, 4096);
        assert_ne!(c.stable_ptr(), buf.stable_ptr());
        c[0] = b'D';
        assert_eq!(buf.as_slice(), b"data");
        assert_ne!(c, buf);
    }

    #[test]
    fn moved_value_keeps_stable_ptr() {
        let mut buf = AlignedBuf::new(4096, 4096).unwrap();
        let p = buf.stable_ptr();
        assert_eq!(buf.stable_mut_ptr() as *const u8, p);
        let boxed = Box::new(buf);
        assert_eq!(boxed.stable_ptr(), p);
        let back = *boxed;
        assert_eq!(back.stable_ptr(), p);
        let (addr, back) = std::thread::spawn(move || (back.stable_ptr() as usize, back))
            .join()
            .unwrap();
        assert_eq!(addr, p as usize);
        assert_eq!(back.stable_ptr(), p);
    }

    #[test]
    fn slice_of_aligned_buf() {
        let buf = AlignedBuf::with_capacity(4096, 4096).unwrap();
        let p = buf.stable_ptr();
        let mut s = buf.slice(..512);
        assert_eq!(s.stable_ptr(), p);
        assert_eq!((s.bytes_init(), s.bytes_total()), (0, 512));
        // SAFETY: 512 <= bytes_total(); the bytes are written first.
        unsafe {
            s.stable_mut_ptr().write_bytes(7, 512);
            s.set_init(512);
        }
        let buf = s.into_inner();
        assert_eq!(buf.len(), 512);
        assert!(buf.iter().all(|&b| b == 7));
    }

    #[test]
    fn debug_shows_shape() {
        let buf = AlignedBuf::new(16, 512).unwrap();
        assert_eq!(
            format!("{buf:?}"),
            "AlignedBuf { len: 16, capacity: 16, align: 512 }"
        );
    }
}
