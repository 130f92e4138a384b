//! Owned I/O buffers.
//!
//! # Why buffers are passed by value
//!
//! With io_uring the kernel reads from or writes into a buffer *after* the
//! call that submitted the operation has returned, and possibly after the
//! future driving it has been moved or dropped. A borrowed `&mut [u8]` cannot
//! express that: the borrow would end while the kernel still holds the
//! pointer. So every I/O operation takes **ownership** of its buffer and hands
//! it back together with the result, as a [`BufResult`]:
//!
//! ```text
//! file.read_at(buf, pos).await -> (io::Result<usize>, buf)
//! ```
//!
//! The buffer comes back on error too, so it can be reused. If an operation is
//! cancelled while the kernel still uses the buffer, the runtime keeps the
//! buffer alive until the completion arrives and frees it then.
//!
//! Because the operation (a future) may be moved while the kernel holds the
//! pointer, a buffer's memory must not move with the value: [`IoBuf`] and
//! [`IoBufMut`] are `unsafe` traits whose implementors promise exactly that
//! (heap storage such as `Vec<u8>` qualifies, an inline `[u8; N]` does not).
//!
//! # How reads fill a buffer
//!
//! Reads fill a buffer **from its start, up to its capacity**
//! ([`IoBuf::bytes_total`]), and then mark the bytes read as initialised with
//! [`IoBufMut::set_init`], which for a `Vec<u8>` sets its length to at least
//! the number of bytes read. So `vec![0u8; n]` and `Vec::with_capacity(n)` both
//! take up to `n` bytes. Writes send the initialised bytes
//! ([`IoBuf::bytes_init`]), which for a `Vec<u8>` is its length.
//!
//! To read into or write from part of a buffer, take a [`Slice`] of it with
//! [`IoBuf::slice`]; [`Slice::into_inner`] gives the whole buffer back.
//!
//! For `O_DIRECT` files, whose buffers must be aligned to the device's block
//! size, use [`AlignedBuf`].
//!
//! # Examples
//!
//! What a read operation does with the buffer it owns, with a memory copy
//! standing in for the kernel:
//!
//! ```
//! use ringbolt_runtime::buf::{BufResult, IoBuf, IoBufMut};
//!
//! fn fake_read<B: IoBufMut>(mut buf: B, data: &[u8]) -> BufResult<usize, B> {
//!     let n = data.len().min(buf.bytes_total());
//!     // SAFETY: `stable_mut_ptr` is valid for writes of `bytes_total() >= n`
//!     // bytes, and the `n` bytes written are initialised before `set_init(n)`.
//!     unsafe {
//!         std::ptr::copy_nonoverlapping(data.as_ptr(), buf.stable_mut_ptr(), n);
//!         buf.set_init(n);
//!     }
//!     (Ok(n), buf)
//! }
//!
//! // An empty Vec with capacity 8 takes up to 8 bytes, from its start.
//! let (res, buf) = fake_read(Vec::with_capacity(8), b"hello");
//! assert_eq!(res.unwrap(), 5);
//! assert_eq!(buf, b"hello");
//!
//! // Reading into the tail of a buffer: slice it, then take it back.
//! let (res, slice) = fake_read(buf.slice(5..), b", world");
//! assert_eq!(res.unwrap(), 3); // only 3 bytes of capacity were left
//! let buf = slice.into_inner();
//! assert_eq!(buf, b"hello, w");
//! ```

mod aligned;
mod io_buf;
mod recv_buf;
mod slice;

pub use aligned::AlignedBuf;
pub use io_buf::{IoBuf, IoBufMut};
pub use recv_buf::RecvBuf;
pub use slice::Slice;

/// The result of an operation that owned a buffer: the I/O result and the
/// buffer, which comes back whether the operation succeeded or not.
///
/// # Examples
///
/// ```
/// use ringbolt_runtime::buf::BufResult;
///
/// let r: BufResult<usize, Vec<u8>> = (Ok(3), b"abc".to_vec());
/// let (res, buf) = r;
/// assert_eq!(res.unwrap(), buf.len());
/// ```
pub type BufResult<T, B> = (std::io::Result<T>, B);
