//! The [`IoBuf`] and [`IoBufMut`] traits and their implementations for
//! standard and `bytes` types.

use std::ops::RangeBounds;

use super::slice::{resolve_range, Slice};

/// A buffer the kernel can read from (the source of a write or send) while
/// the runtime owns it.
///
/// An operation takes the buffer by value, passes [`stable_ptr`] and
/// [`bytes_init`] to the kernel, and gives the buffer back when the operation
/// completes. In between, the operation's future may be moved or dropped
/// while the kernel still reads the memory, so the memory must not move with
/// the value.
///
/// Implemented for `Vec<u8>`, `Box<[u8]>`, [`bytes::Bytes`],
/// [`bytes::BytesMut`], `&'static [u8]`, `&'static str`, [`AlignedBuf`] and
/// [`Slice<B>`].
///
/// # Safety
///
/// An implementor promises, for every value `buf` of the type:
///
/// 1. `buf.stable_ptr()` is non-null and points to a region of
///    `buf.bytes_total()` bytes that is valid for reads (it may dangle if
///    `bytes_total()` is 0), and the first `buf.bytes_init()` bytes of it are
///    initialised.
/// 2. `buf.bytes_init() <= buf.bytes_total()`.
/// 3. The pointer, the two counts, and the validity and contents of the
///    memory stay the same while `buf` is moved, and while it is only used
///    through shared references, until `buf` is dropped or mutated (through
///    a `&mut` reference, or through the pointer returned by
///    [`IoBufMut::stable_mut_ptr`]). In particular, moving `buf` does not free, reallocate
///    or copy the memory: storage inline in the value (such as `[u8; N]`)
///    does not qualify. [`IoBufMut::stable_mut_ptr`] and
///    [`IoBufMut::set_init`] take `&mut self` but must not change the pointer
///    or `bytes_total()`; `set_init` may only grow `bytes_init()`.
/// 4. Nothing else writes to the first `buf.bytes_init()` bytes while `buf`
///    is alive and not mutated through `&mut`: memory shared with other values
///    (like that of [`bytes::Bytes`] clones) is only ever read.
///
/// Unsafe code, the runtime included, may rely on all four points.
///
/// [`stable_ptr`]: IoBuf::stable_ptr
/// [`bytes_init`]: IoBuf::bytes_init
/// [`AlignedBuf`]: super::AlignedBuf
///
/// # Examples
///
/// ```
/// use ringbolt_runtime::buf::IoBuf;
///
/// let mut v = Vec::with_capacity(16);
/// v.extend_from_slice(b"abc");
/// assert_eq!(v.bytes_init(), 3); // what a write sends
/// assert_eq!(v.bytes_total(), 16); // what a read can fill
/// assert_eq!(v.stable_ptr(), v.as_ptr());
/// ```
pub unsafe trait IoBuf: Unpin + 'static {
    /// Returns a pointer to the start of the buffer's memory, which stays the
    /// same when the buffer is moved.
    ///
    /// The first [`bytes_init`](IoBuf::bytes_init) bytes behind it are
    /// initialised; [`bytes_total`](IoBuf::bytes_total) bytes are valid.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::IoBuf;
    ///
    /// let v = b"abc".to_vec();
    /// let p = v.stable_ptr();
    /// let moved = Box::new(v);
    /// assert_eq!(moved.stable_ptr(), p);
    /// ```
    fn stable_ptr(&self) -> *const u8;

    /// Returns the number of initialised bytes at the start of the buffer:
    /// what a write sends. For a `Vec<u8>` this is its length.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::IoBuf;
    ///
    /// assert_eq!(b"abc".to_vec().bytes_init(), 3);
    /// ```
    fn bytes_init(&self) -> usize;

    /// Returns the total number of bytes of the buffer, initialised or not:
    /// how many a read can fill. For a `Vec<u8>` this is its capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::IoBuf;
    ///
    /// let v: Vec<u8> = Vec::with_capacity(64);
    /// assert_eq!(v.bytes_total(), 64);
    /// ```
    fn bytes_total(&self) -> usize;

    /// Turns the buffer into a [`Slice`] of the bytes in `range`, which is
    /// relative to the start of the buffer and may reach up to
    /// [`bytes_total`](IoBuf::bytes_total) (past the initialised bytes).
    ///
    /// An operation given the slice reads into or writes from that part only.
    /// [`Slice::into_inner`] gives the whole buffer back.
    ///
    /// A slice used for reading should start at or before the end of the
    /// initialised bytes, see [`Slice`]'s `set_init`.
    ///
    /// # Panics
    ///
    /// If the range starts after it ends or ends after `bytes_total()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::IoBuf;
    ///
    /// let mut v = Vec::with_capacity(8);
    /// v.extend_from_slice(b"hello");
    /// let s = v.slice(1..);
    /// assert_eq!((s.begin(), s.end()), (1, 8));
    /// assert_eq!(&s[..], b"ello");
    /// let v = s.into_inner();
    /// assert_eq!(v, b"hello");
    /// ```
    #[track_caller]
    fn slice(self, range: impl RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        let (begin, end) = resolve_range(&range, self.bytes_total());
        Slice::new(self, begin, end)
    }
}

/// A buffer the kernel can write into (the destination of a read or receive)
/// while the runtime owns it.
///
/// A read fills the buffer from [`stable_mut_ptr`] up to
/// [`bytes_total`](IoBuf::bytes_total) bytes, then the runtime calls
/// [`set_init`] with the number of bytes read.
///
/// Code that writes through [`stable_mut_ptr`] must write only initialised
/// bytes (the kernel always does): some implementations, such as
/// [`AlignedBuf`], rely on their whole capacity staying initialised.
///
/// Implemented for `Vec<u8>`, `Box<[u8]>`, [`bytes::BytesMut`],
/// [`AlignedBuf`] and [`Slice<B>`] where `B: IoBufMut`.
///
/// # Safety
///
/// On top of the promises of [`IoBuf`], an implementor promises, for every
/// value `buf` of the type:
///
/// 1. `buf.stable_mut_ptr()` returns the same address as `buf.stable_ptr()`,
///    and the region of `buf.bytes_total()` bytes behind it is valid for
///    writes.
/// 2. That region is owned by `buf` alone: no other value, clone or alias
///    reads or writes it while `buf` is alive. (So `bytes::Bytes`, whose
///    memory is shared, is not `IoBufMut`.)
/// 3. [`set_init`] keeps the pointer and `bytes_total()` unchanged, never
///    makes `bytes_init()` smaller, and never makes it cover bytes other than
///    those already initialised and those its caller vouches for.
///
/// [`stable_mut_ptr`]: IoBufMut::stable_mut_ptr
/// [`set_init`]: IoBufMut::set_init
/// [`AlignedBuf`]: super::AlignedBuf
///
/// # Examples
///
/// ```
/// use ringbolt_runtime::buf::{IoBuf, IoBufMut};
///
/// let mut v: Vec<u8> = Vec::with_capacity(4);
/// // SAFETY: 2 <= bytes_total() == 4, and both bytes are written (hence
/// // initialised) before `set_init(2)`.
/// unsafe {
///     v.stable_mut_ptr().write_bytes(7, 2);
///     v.set_init(2);
/// }
/// assert_eq!(v, [7, 7]);
/// ```
pub unsafe trait IoBufMut: IoBuf {
    /// Returns a pointer to the start of the buffer's memory for writing;
    /// the same address as [`stable_ptr`](IoBuf::stable_ptr).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::{IoBuf, IoBufMut};
    ///
    /// let mut v = vec![0u8; 4];
    /// assert_eq!(v.stable_mut_ptr() as *const u8, v.stable_ptr());
    /// ```
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Marks the first `pos` bytes of the buffer as initialised, after a read
    /// filled them: afterwards [`bytes_init`](IoBuf::bytes_init) is at least
    /// `pos` (it never shrinks). For a `Vec<u8>` this sets the length to
    /// `max(len, pos)`.
    ///
    /// The exception is a [`Slice`] that starts past the initialised part of
    /// its buffer: it cannot mark its bytes without also marking the gap
    /// before them, so it marks nothing (see [`Slice`]). Unsafe code must not
    /// rely on `bytes_init() >= pos` after this call.
    ///
    /// # Safety
    ///
    /// The caller promises that
    ///
    /// - `pos <= self.bytes_total()`, and
    /// - the first `pos` bytes of the buffer (from
    ///   [`stable_mut_ptr`](IoBufMut::stable_mut_ptr)) are initialised, for
    ///   example because the kernel reported that it wrote them.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::{IoBuf, IoBufMut};
    ///
    /// let mut v = b"abcd".to_vec();
    /// // SAFETY: the first 2 bytes are initialised, 2 <= capacity.
    /// unsafe { v.set_init(2) };
    /// assert_eq!(v.len(), 4); // never shrinks
    /// ```
    unsafe fn set_init(&mut self, pos: usize);
}

// ---- Vec<u8> ---------------------------------------------------------------

// SAFETY: a Vec's heap buffer (or, for capacity 0, its non-null dangling
// pointer) does not move when the Vec is moved; it is valid for `capacity()`
// bytes of which the first `len()` are initialised, `len() <= capacity()`, and
// only `&mut` methods (reserve, shrink, ...) reallocate or change it.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: a Vec uniquely owns its allocation, which is valid for writes of
// `capacity()` bytes at `as_mut_ptr()` (== `as_ptr()`); `set_init` only ever
// grows `len` to a `pos` the caller vouches for and never reallocates.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        if self.len() < pos {
            // SAFETY: the caller promises `pos <= bytes_total() == capacity()`
            // and that the first `pos` bytes are initialised, which is exactly
            // `Vec::set_len`'s contract.
            unsafe { self.set_len(pos) };
        }
    }
}

// ---- Box<[u8]> -------------------------------------------------------------

// SAFETY: a boxed slice's heap memory (or dangling non-null pointer when
// empty) does not move with the box; all `len()` bytes are initialised, so
// `bytes_init() == bytes_total()`, and it is only changed through `&mut`.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: the box uniquely owns its `len()` writable bytes; `set_init` does
// nothing because all bytes are already initialised.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }

    unsafe fn set_init(&mut self, _pos: usize) {}
}

// ---- bytes::BytesMut -------------------------------------------------------

// SAFETY: a BytesMut's storage is on the heap (shared or vec-backed), does not
// move when the handle is moved, is valid for `capacity()` bytes of which the
// first `len()` are initialised, and only `&mut` methods change it.
unsafe impl IoBuf for bytes::BytesMut {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: a BytesMut has unique access to its `capacity()` bytes (handles
// split from the same allocation own disjoint ranges), writable at
// `as_mut_ptr()` (== `as_ptr()`); `set_init` only grows `len`.
unsafe impl IoBufMut for bytes::BytesMut {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        // `self.as_mut_ptr()` would come from a `&mut [u8]` of only `len()`
        // bytes, so writing past `len()` through it is undefined behaviour.
        // `spare_capacity_mut` covers `[len, capacity)`; with the length
        // briefly at 0, that is the whole buffer, and the pointer derived from
        // it may write all of it. Setting the length does not touch the
        // memory, so the pointer stays valid after the length is restored.
        let len = self.len();
        // SAFETY: 0 <= capacity() and claims no byte initialised.
        unsafe { self.set_len(0) };
        let ptr = self.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        // SAFETY: restores the length the buffer had a moment ago: its bytes
        // are still initialised, nothing wrote to them in between.
        unsafe { self.set_len(len) };
        ptr
    }

    unsafe fn set_init(&mut self, pos: usize) {
        if self.len() < pos {
            // SAFETY: the caller promises `pos <= bytes_total() == capacity()`
            // and that the first `pos` bytes are initialised, which is
            // `BytesMut::set_len`'s contract.
            unsafe { self.set_len(pos) };
        }
    }
}

// ---- read-only buffers -----------------------------------------------------

// SAFETY: a Bytes points to immutable heap or static memory that stays alive
// and in place as long as the handle does; all `len()` bytes are initialised
// and never written, even by clones sharing them.
unsafe impl IoBuf for bytes::Bytes {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: static memory never moves or is freed; a shared `&'static [u8]`
// guarantees the bytes are initialised and not written while it exists.
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: as for `&'static [u8]`: the string's bytes are static, initialised
// and immutable.
unsafe impl IoBuf for &'static str {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};

    /// Writes `data` at the buffer's start the way the kernel would, then
    /// marks it initialised.
    fn fill<B: IoBufMut>(buf: &mut B, data: &[u8]) {
        assert!(data.len() <= buf.bytes_total());
        // SAFETY: `data.len() <= bytes_total()` (asserted), so the write stays
        // in the writable region, and the bytes are initialised by it.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), buf.stable_mut_ptr(), data.len());
            buf.set_init(data.len());
        }
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn send_sync() {
        assert_send_sync::<Vec<u8>>();
        assert_send_sync::<Box<[u8]>>();
        assert_send_sync::<Bytes>();
        assert_send_sync::<BytesMut>();
        assert_send_sync::<&'static [u8]>();
        assert_send_sync::<&'static str>();
    }

    #[test]
    fn vec_with_capacity_fills_from_start_up_to_capacity() {
        let mut v: Vec<u8> = Vec::with_capacity(16);
        assert_eq!(v.bytes_total(), 16);
        assert_eq!(v.bytes_init(), 0);
        assert_eq!(v.stable_ptr(), v.as_ptr());
        assert_eq!(v.stable_mut_ptr(), v.as_mut_ptr());

        fill(&mut v, b"hello");
        assert_eq!(v.len(), 5);
        assert_eq!(v, b"hello");
        assert_eq!(v.bytes_init(), 5);
        assert_eq!(v.bytes_total(), 16);

        // A full-capacity read.
        fill(&mut v, &[9; 16]);
        assert_eq!(v, [9; 16]);
    }

    #[test]
    fn vec_set_init_never_shrinks() {
        let mut v = vec![1u8, 2, 3, 4, 5];
        // SAFETY: the first 2 bytes are initialised; 2 <= capacity.
        unsafe { v.set_init(2) };
        assert_eq!(v.len(), 5);
        // SAFETY: as above, with 0.
        unsafe { v.set_init(0) };
        assert_eq!(v, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn vec_zeroed_reads_up_to_len() {
        let mut v = vec![0u8; 8];
        assert_eq!(v.bytes_total(), v.capacity());
        assert!(v.bytes_total() >= 8);
        assert_eq!(v.bytes_init(), 8);
        fill(&mut v, b"ab");
        assert_eq!(v, b"ab\0\0\0\0\0\0");
    }

    #[test]
    fn empty_vec() {
        let v: Vec<u8> = Vec::new();
        assert!(!v.stable_ptr().is_null());
        assert_eq!((v.bytes_init(), v.bytes_total()), (0, 0));
    }

    #[test]
    fn vec_pointer_survives_moves() {
        let mut v: Vec<u8> = Vec::with_capacity(32);
        v.extend_from_slice(b"xyz");
        let p = v.stable_ptr();
        let boxed = Box::new(v);
        assert_eq!(boxed.stable_ptr(), p);
        let mut back = *boxed;
        assert_eq!(back.stable_ptr(), p);
        assert_eq!(back.stable_mut_ptr() as *const u8, p);
        let moved = std::thread::spawn(move || (back.stable_ptr() as usize, back))
            .join()
            .unwrap();
        assert_eq!(moved.0, p as usize);
        assert_eq!(moved.1, b"xyz");
    }

    #[test]
    fn boxed_slice() {
        let mut b: Box<[u8]> = vec![1u8, 2, 3].into_boxed_slice();
        let p = b.as_ptr();
        assert_eq!(b.stable_ptr(), p);
        assert_eq!((b.bytes_init(), b.bytes_total()), (3, 3));
        fill(&mut b, &[7]);
        assert_eq!(&*b, &[7, 2, 3]);
        assert_eq!(b.bytes_init(), 3);
        let moved = Box::new(b);
        assert_eq!(moved.stable_ptr(), p);

        let empty: Box<[u8]> = Box::new([]);
        assert_eq!((empty.bytes_init(), empty.bytes_total()), (0, 0));
        assert!(!empty.stable_ptr().is_null());
    }

    #[test]
    fn bytes_mut() {
        let mut b = BytesMut::with_capacity(64);
        b.extend_from_slice(b"ab");
        assert_eq!(b.bytes_init(), 2);
        assert_eq!(b.bytes_total(), b.capacity());
        assert!(b.bytes_total() >= 64);
        assert_eq!(b.stable_ptr(), b.as_ptr());
        fill(&mut b, b"hello");
        assert_eq!(&b[..], b"hello");
        // SAFETY: the first byte is initialised.
        unsafe { b.set_init(1) };
        assert_eq!(b.len(), 5);
        let p = b.stable_ptr();
        assert_eq!(b.stable_mut_ptr() as *const u8, p);
        assert_eq!(b.len(), 5);
        let moved = Box::new(b);
        assert_eq!(moved.stable_ptr(), p);

        // A read into an empty BytesMut fills it from the start up to its
        // capacity (writing past `len()` through the pointer is allowed).
        let mut b = BytesMut::with_capacity(8);
        let total = b.bytes_total();
        let data = vec![5u8; total];
        fill(&mut b, &data);
        assert_eq!(&b[..], &data[..]);
        let mut s = BytesMut::with_capacity(8).slice(..);
        fill(&mut s, b"abc");
        s[0] = b'A';
        assert_eq!(&s.into_inner()[..], b"Abc");
    }

    #[test]
    fn bytes_and_statics() {
        let b = Bytes::from(b"shared".to_vec());
        assert_eq!(b.stable_ptr(), b.as_ptr());
        assert_eq!((b.bytes_init(), b.bytes_total()), (6, 6));
        let c = b.clone();
        assert_eq!(c.stable_ptr(), b.stable_ptr());

        let s: &'static [u8] = b"static";
        assert_eq!(s.stable_ptr(), s.as_ptr());
        assert_eq!((s.bytes_init(), s.bytes_total()), (6, 6));

        let t: &'static str = "héllo";
        assert_eq!(t.stable_ptr(), t.as_ptr());
        assert_eq!((t.bytes_init(), t.bytes_total()), (6, 6));
    }
}
