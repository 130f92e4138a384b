//! [`Slice`]: an owned view of part of a buffer.

use std::fmt;
use std::ops::{Bound, Deref, DerefMut, RangeBounds};

use super::io_buf::{IoBuf, IoBufMut};

/// An owned view of the bytes `[begin, end)` of a buffer, made by
/// [`IoBuf::slice`].
///
/// An operation given a `Slice` reads into or writes from that part of the
/// buffer only: the slice's byte 0 is the buffer's byte `begin`. A write sends
/// the initialised bytes of the range; a read fills it from `begin` up to
/// `end`. [`into_inner`](Slice::into_inner) gives the whole buffer back.
///
/// The slice dereferences to its initialised bytes.
///
/// # Reading into a slice: the gap rule
///
/// A read marks its bytes initialised with [`IoBufMut::set_init`], and a
/// buffer can only record "the first `n` bytes are initialised" (a `Vec`'s
/// length). So `set_init(pos)` on a slice marks the buffer's first
/// `begin + pos` bytes initialised, which is sound only if the bytes before
/// `begin` already were. Therefore:
///
/// - if `begin <= buffer.bytes_init()` (the slice starts inside, or right at
///   the end of, the initialised part), `set_init(pos)` calls
///   `buffer.set_init(begin + pos)`: for a `Vec`, its length becomes
///   `max(len, begin + pos)`;
/// - otherwise there would be an uninitialised gap `[bytes_init, begin)`, and
///   `set_init` marks **nothing**: the bytes read land in the buffer's memory,
///   but the buffer's [`bytes_init`](IoBuf::bytes_init) (and the slice's)
///   stay unchanged, so they cannot be seen through safe code.
///
/// To read into the middle of a buffer, initialise it up to the slice's start
/// first, for instance with `vec![0; n]` or `Vec::resize`. Appending reads
/// (`buf.slice(buf.len()..)`) always satisfy the rule.
///
/// All of `Slice`'s counts are taken against the buffer's current
/// [`bytes_total`](IoBuf::bytes_total), so a buffer that shrank through
/// [`get_mut`](Slice::get_mut) yields a shorter (possibly empty) slice, never
/// an out-of-bounds one.
///
/// # Examples
///
/// ```
/// use ringbolt_runtime::buf::{IoBuf, IoBufMut};
///
/// let mut v = Vec::with_capacity(8);
/// v.extend_from_slice(b"abc");
///
/// // An appending read: the slice starts where the initialised bytes end.
/// let mut tail = v.slice(3..);
/// assert_eq!(tail.bytes_total(), 5);
/// // SAFETY: 2 <= tail.bytes_total(), and both bytes are written first.
/// unsafe {
///     tail.stable_mut_ptr().copy_from_nonoverlapping(b"de".as_ptr(), 2);
///     tail.set_init(2);
/// }
/// assert_eq!(&tail[..], b"de");
/// let v = tail.into_inner();
/// assert_eq!(v, b"abcde");
/// ```
pub struct Slice<T> {
    buf: T,
    begin: usize,
    end: usize,
}

impl<T> Slice<T> {
    /// Makes a slice; `begin <= end <= buf.bytes_total()` was checked by
    /// [`resolve_range`].
    pub(super) fn new(buf: T, begin: usize, end: usize) -> Slice<T> {
        Slice { buf, begin, end }
    }

    /// Returns the offset in the buffer at which the slice starts.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::IoBuf;
    ///
    /// assert_eq!(vec![0u8; 8].slice(2..5).begin(), 2);
    /// ```
    pub fn begin(&self) -> usize {
        self.begin
    }

    /// Returns the offset in the buffer at which the slice ends (exclusive).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::IoBuf;
    ///
    /// assert_eq!(vec![0u8; 8].slice(2..5).end(), 5);
    /// ```
    pub fn end(&self) -> usize {
        self.end
    }

    /// Returns a reference to the whole underlying buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::IoBuf;
    ///
    /// let s = b"hello".to_vec().slice(1..3);
    /// assert_eq!(s.get_ref(), b"hello");
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.buf
    }

    /// Returns a mutable reference to the whole underlying buffer.
    ///
    /// If the buffer's [`bytes_total`](IoBuf::bytes_total) shrinks through it,
    /// the slice shrinks with it (see [`Slice`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::IoBuf;
    ///
    /// let mut s = b"hello".to_vec().slice(1..3);
    /// s.get_mut()[1] = b'a';
    /// assert_eq!(&s[..], b"al");
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.buf
    }

    /// Returns the whole underlying buffer, ending the slice.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::buf::IoBuf;
    ///
    /// let v = b"hello".to_vec();
    /// assert_eq!(v.slice(1..3).into_inner(), b"hello");
    /// ```
    pub fn into_inner(self) -> T {
        self.buf
    }
}

impl<T: IoBuf> Slice<T> {
    /// The offset of the slice's start, clamped to the buffer's current
    /// `bytes_total()` so that the pointer arithmetic stays in bounds.
    fn offset(&self) -> usize {
        self.begin.min(self.buf.bytes_total())
    }
}

impl<T: fmt::Debug> fmt::Debug for Slice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slice")
            .field("buf", &self.buf)
            .field("begin", &self.begin)
            .field("end", &self.end)
            .finish()
    }
}

// SAFETY: with `t = buf.bytes_total()`, `i = buf.bytes_init() <= t` and
// `o = min(begin, t)`: the pointer is `buf.stable_ptr() + o`, in bounds of the
// buffer's region (one past its end at most) and hence non-null;
// `bytes_total() = min(t, end) - begin` (saturating) is 0 when `begin > t`, and
// otherwise at most `t - begin`, so the slice's region lies inside the
// buffer's; `bytes_init() = min(i, end) - begin` (saturating) is at most
// `bytes_total()` and covers only bytes below `i`, which are initialised. All
// of it is computed from the buffer's values and the fixed `begin`/`end`, so
// it is as stable across moves, and as free of foreign writes, as the
// buffer's (`T: IoBuf`). `Slice<T>` is `Unpin + 'static` because `T` is.
unsafe impl<T: IoBuf> IoBuf for Slice<T> {
    fn stable_ptr(&self) -> *const u8 {
        // `wrapping_add` gives the same pointer as `add` here, because the
        // offset is at most the buffer's `bytes_total()`.
        self.buf.stable_ptr().wrapping_add(self.offset())
    }

    fn bytes_init(&self) -> usize {
        self.buf
            .bytes_init()
            .min(self.end)
            .saturating_sub(self.begin)
    }

    fn bytes_total(&self) -> usize {
        self.buf
            .bytes_total()
            .min(self.end)
            .saturating_sub(self.begin)
    }
}

// SAFETY: `stable_mut_ptr` is `buf.stable_mut_ptr()` (== `buf.stable_ptr()`
// for `T: IoBufMut`) plus the same offset as `stable_ptr`, so the addresses
// agree, and the slice's region is a part of the buffer's, which is writable
// and owned by `buf` alone, hence by the slice alone. `set_init` only calls
// `buf.set_init`, which keeps the pointer and `bytes_total()` and never
// shrinks `bytes_init()`; it does so only when that marks nothing but
// initialised bytes (see the SAFETY comment inside).
unsafe impl<T: IoBufMut> IoBufMut for Slice<T> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        let offset = self.offset();
        // As in `stable_ptr`, the offset is in bounds of the buffer's region.
        self.buf.stable_mut_ptr().wrapping_add(offset)
    }

    /// Marks the slice's first `pos` bytes initialised, if the slice starts
    /// at or before the end of the buffer's initialised bytes; otherwise does
    /// nothing (the gap rule, see [`Slice`]).
    ///
    /// # Safety
    ///
    /// As for [`IoBufMut::set_init`]: `pos <= self.bytes_total()`, and the
    /// slice's first `pos` bytes are initialised.
    unsafe fn set_init(&mut self, pos: usize) {
        if self.begin <= self.buf.bytes_init() {
            // `begin <= buf.bytes_init() <= buf.bytes_total()`, so
            // `self.bytes_total() == min(buf.bytes_total(), end) - begin` and
            // the caller's `pos <= self.bytes_total()` gives
            // `begin + pos <= buf.bytes_total()` (no overflow).
            // SAFETY: bytes `[0, begin)` are initialised (`begin <= bytes_init`),
            // and `[begin, begin + pos)` are the slice's first `pos`, vouched for.
            unsafe { self.buf.set_init(self.begin + pos) };
        }
    }
}

impl<T: IoBuf> Deref for Slice<T> {
    type Target = [u8];

    /// The slice's initialised bytes.
    fn deref(&self) -> &[u8] {
        let len = self.bytes_init();
        if len == 0 {
            return &[];
        }
        // By the `IoBuf` promises of `Slice<T>` (derived from `T`'s),
        // `stable_ptr()` is non-null and valid for reads of `bytes_init()`
        // initialised bytes inside one allocation.
        // SAFETY: nothing writes them while the slice is not mutated, and the
        // shared borrow of `self` rules out mutation for the returned lifetime.
        unsafe { std::slice::from_raw_parts(self.stable_ptr(), len) }
    }
}

impl<T: IoBufMut> DerefMut for Slice<T> {
    /// The slice's initialised bytes, mutably.
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = self.bytes_init();
        if len == 0 {
            return &mut [];
        }
        // SAFETY: as in `deref`, the `len` bytes at the pointer are valid and initialised; by the
        // `IoBufMut` promises they are writable and owned by this slice alone, and the `&mut self`
        // borrow makes the returned reference the only access for its lifetime.
        unsafe { std::slice::from_raw_parts_mut(self.stable_mut_ptr(), len) }
    }
}

/// Resolves `range` against a buffer of `total` bytes into `(begin, end)`.
///
/// # Panics
///
/// If the range starts after it ends, ends after `total`, or its bounds
/// overflow `usize`.
#[track_caller]
pub(super) fn resolve_range(range: &impl RangeBounds<usize>, total: usize) -> (usize, usize) {
    let begin = match range.start_bound() {
        Bound::Included(&n) => n,
        Bound::Excluded(&n) => match n.checked_add(1) {
            Some(n) => n,
            None => panic!("buffer slice: range start {n} (excluded) overflows usize"),
        },
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&n) => match n.checked_add(1) {
            Some(n) => n,
            None => panic!("buffer slice: range end {n} (included) overflows usize"),
        },
        Bound::Excluded(&n) => n,
        Bound::Unbounded => total,
    };
    if end > total {
        panic!(
            "buffer slice: range end {end} is out of bounds for a buffer of bytes_total() {total}; \
             keep the range within 0..{total}"
        );
    }
    if begin > total {
        panic!(
            "buffer slice: range start {begin} is out of bounds for a buffer of bytes_total() \
             {total}; keep the range within 0..{total}"
        );
    }
    if begin > end {
        panic!("buffer slice: range starts at {begin} but ends at {end}; use a range with start <= end");
    }
    (begin, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::ops::Bound;

    /// Writes `data` at the start of `buf`, as a read would, then calls
    /// `set_init(data.len())`.
    fn fill<B: IoBufMut>(buf: &mut B, data: &[u8]) {
        assert!(data.len() <= buf.bytes_total());
        // SAFETY: the write stays within `bytes_total()` (asserted) of the
        // writable region, and initialises the bytes passed to `set_init`.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), buf.stable_mut_ptr(), data.len());
            buf.set_init(data.len());
        }
    }

    fn hello_world() -> Vec<u8> {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"hello world");
        v
    }

    #[test]
    fn send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Slice<Vec<u8>>>();
        assert_send_sync::<Slice<Bytes>>();
    }

    #[test]
    fn offsets_and_counts() {
        let v = hello_world();
        let base = v.as_ptr();

        let s = v.slice(6..);
        assert_eq!((s.begin(), s.end()), (6, 16));
        assert_eq!(s.stable_ptr(), base.wrapping_add(6));
        assert_eq!(s.bytes_init(), 5);
        assert_eq!(s.bytes_total(), 10);
        assert_eq!(&s[..], b"world");
        let v = s.into_inner();
        assert_eq!(v.as_ptr(), base);

        let s = v.slice(..3);
        assert_eq!((s.begin(), s.end()), (0, 3));
        assert_eq!((s.bytes_init(), s.bytes_total()), (3, 3));
        assert_eq!(&s[..], b"hel");
        let v = s.into_inner();

        let s = v.slice(2..=4);
        assert_eq!((s.begin(), s.end()), (2, 5));
        assert_eq!(&s[..], b"llo");
        let v = s.into_inner();

        // Entirely past the initialised bytes: nothing initialised.
        let s = v.slice(12..16);
        assert_eq!((s.bytes_init(), s.bytes_total()), (0, 4));
        assert!(s.is_empty());
        let v = s.into_inner();

        let s = v.slice((Bound::Excluded(0), Bound::Excluded(2)));
        assert_eq!((s.begin(), s.end()), (1, 2));
        let v = s.into_inner();

        // Empty slices at either end are fine.
        assert_eq!(v.slice(16..).bytes_total(), 0);
        assert_eq!(hello_world().slice(0..0).bytes_total(), 0);
    }

    #[test]
    fn get_ref_get_mut_into_inner() {
        let mut s = hello_world().slice(6..11);
        assert_eq!(s.get_ref(), b"hello world");
        s.get_mut()[6] = b'W';
        assert_eq!(&s[..], b"World");
        s[1] = b'O';
        assert_eq!(s.into_inner(), b"hello WOrld");
    }

    #[test]
    fn read_only_buffers() {
        let s = Bytes::from_static(b"abcdef").slice(1..4);
        assert_eq!(&s[..], b"bcd");
        assert_eq!((s.bytes_init(), s.bytes_total()), (3, 3));

        let s = "héllo".slice(1..3);
        assert_eq!(&s[..], "é".as_bytes());

        let st: &'static [u8] = b"xyz";
        let s = st.slice(..);
        assert_eq!(s.stable_ptr(), st.as_ptr());
        assert_eq!(&s[..], b"xyz");
    }

    #[test]
    fn slice_of_slice() {
        let v = hello_world();
        let base = v.as_ptr();
        let s = v.slice(2..14).slice(4..6);
        assert_eq!(s.stable_ptr(), base.wrapping_add(6));
        assert_eq!(&s[..], b"wo");
        assert_eq!(s.into_inner().into_inner(), b"hello world");
    }

    #[test]
    fn slice_pointer_survives_moves() {
        let s = hello_world().slice(3..);
        let p = s.stable_ptr();
        let boxed = Box::new(s);
        assert_eq!(boxed.stable_ptr(), p);
        let back = *boxed;
        assert_eq!(back.stable_ptr(), p);
    }

    #[test]
    #[should_panic(expected = "out of bounds for a buffer of bytes_total() 16")]
    fn end_past_total_panics() {
        let _ = hello_world().slice(0..17);
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn start_past_total_panics() {
        let _ = hello_world().slice(17..);
    }

    #[test]
    #[should_panic(expected = "range starts at 5 but ends at 3")]
    #[allow(clippy::reversed_empty_ranges)]
    fn reversed_range_panics() {
        let _ = hello_world().slice(5..3);
    }

    #[test]
    #[should_panic(expected = "overflows usize")]
    fn inclusive_end_overflow_panics() {
        let _ = hello_world().slice(0..=usize::MAX);
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn read_only_slice_past_len_panics() {
        let _ = Bytes::from_static(b"abc").slice(..4);
    }

    #[test]
    fn set_init_appending_read_extends_vec() {
        // begin == bytes_init: no gap.
        let v = hello_world();
        let mut s = v.slice(11..);
        assert_eq!(s.bytes_total(), 5);
        fill(&mut s, b"!!!");
        assert_eq!(s.bytes_init(), 3);
        assert_eq!(&s[..], b"!!!");
        assert_eq!(s.into_inner(), b"hello world!!!");
    }

    #[test]
    fn set_init_inside_initialised_part() {
        // begin < bytes_init, read ends before len: len unchanged.
        let mut s = hello_world().slice(2..);
        fill(&mut s, b"LL");
        assert_eq!(s.get_ref().len(), 11);
        assert_eq!(s.into_inner(), b"heLLo world");

        // begin < bytes_init, read ends past len: len grows to begin + pos.
        let mut s = hello_world().slice(8..);
        fill(&mut s, b"RLD!!");
        assert_eq!(s.bytes_init(), 5);
        assert_eq!(s.into_inner(), b"hello woRLD!!");
    }

    #[test]
    fn set_init_with_gap_marks_nothing() {
        // Vec with len 0: slicing at 4 leaves the gap [0, 4) uninitialised.
        let mut s = Vec::<u8>::with_capacity(16).slice(4..12);
        fill(&mut s, b"abc");
        assert_eq!(s.bytes_init(), 0);
        assert!(s.is_empty());
        let v = s.into_inner();
        assert_eq!(v.len(), 0);

        // Once initialised up to the slice's start, the same read counts.
        let mut v = v;
        v.resize(4, 0);
        let mut s = v.slice(4..12);
        fill(&mut s, b"abc");
        assert_eq!(s.bytes_init(), 3);
        assert_eq!(s.into_inner(), b"\0\0\0\0abc");
    }

    #[test]
    fn set_init_on_fully_initialised_buffer() {
        let b: Box<[u8]> = vec![0u8; 8].into_boxed_slice();
        let mut s = b.slice(6..);
        assert_eq!((s.bytes_init(), s.bytes_total()), (2, 2));
        fill(&mut s, b"zz");
        assert_eq!(&*s.into_inner(), b"\0\0\0\0\0\0zz");
    }

    #[test]
    fn buffer_shrunk_through_get_mut_clamps() {
        let mut s = Vec::<u8>::with_capacity(16).slice(4..12);
        s.get_mut().shrink_to_fit();
        assert_eq!(s.get_ref().capacity(), 0);
        assert_eq!((s.bytes_init(), s.bytes_total()), (0, 0));
        assert!(!s.stable_ptr().is_null());
        assert!(!s.stable_mut_ptr().is_null());
        assert!(s.is_empty());
        // SAFETY: pos 0 <= bytes_total() 0; nothing to vouch for.
        unsafe { s.set_init(0) };
        assert_eq!(s.get_ref().len(), 0);

        let mut s = hello_world().slice(8..16);
        s.get_mut().truncate(9);
        s.get_mut().shrink_to_fit();
        assert_eq!((s.bytes_init(), s.bytes_total()), (1, 1));
        assert_eq!(&s[..], b"r");
    }
}
