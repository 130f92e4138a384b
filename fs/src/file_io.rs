//! Positional I/O on a [`File`]: reads and writes with owned buffers.

use std::io;

use ringbolt_runtime::buf::{BufResult, IoBuf, IoBufMut};
use ringbolt_runtime::op::fs::{submit, Readv, Writev};
use ringbolt_runtime::op::{Op, Read, Write};

use crate::file::File;

impl File {
    /// Reads into `buf`, from its start up to its capacity, at byte `pos`
    /// of the file; returns the number of bytes read (0 at the end of the
    /// file) and the buffer, whose length now covers them.
    ///
    /// # Errors
    ///
    /// The kernel's error; `InvalidInput` before submission for a `pos`
    /// beyond `i64::MAX`, or for a misaligned buffer, length or offset on an
    /// `O_DIRECT` file. The buffer comes back in every case.
    ///
    /// # Examples
    ///
    /// ```
    /// ringbolt_runtime::run(async {
    ///     let path = std::env::temp_dir().join(format!("ringbolt-read-at-{}", std::process::id()));
    ///     ringbolt_fs::write(&path, b"hello world").await?;
    ///     let file = ringbolt_fs::File::open(&path).await?;
    ///     let (res, buf) = file.read_at(Vec::with_capacity(5), 6).await;
    ///     assert_eq!((res?, &buf[..]), (5, &b"world"[..]));
    ///     ringbolt_fs::remove_file(&path).await
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn read_at<B: IoBufMut + Send>(&self, buf: B, pos: u64) -> BufResult<usize, B> {
        let pos = match self.offset(pos, false) {
            Ok(pos) => pos,
            Err(e) => return (Err(e), buf),
        };
        if let Some(align) = self.direct {
            if let Err(e) = align.check(buf.stable_ptr() as usize, buf.bytes_total(), pos) {
                return (Err(e), buf);
            }
        }
        let done = Op::new(Read::new(self.fd.clone(), buf, pos)).await;
        let (n, filled) = split(done.result);
        (n, done.data.into_buf(filled))
    }

    /// Reads exactly `buf.bytes_total()` bytes at `pos`, looping over short
    /// reads.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the file ends first (the buffer then holds what
    /// was read); otherwise as for [`File::read_at`].
    pub async fn read_exact_at<B: IoBufMut + Send>(&self, buf: B, pos: u64) -> BufResult<(), B> {
        let total = buf.bytes_total();
        let mut buf = buf;
        let mut filled = 0;
        while filled < total {
            let (res, slice) = self
                .read_at(buf.slice(filled..), pos.saturating_add(filled as u64))
                .await;
            buf = slice.into_inner();
            match res {
                Ok(0) => {
                    let e = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("file ended after {filled} of {total} bytes"),
                    );
                    return (Err(e), buf);
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Writes the initialised bytes of `buf` at byte `pos` (at the end of
    /// the file, whatever `pos`, for a file opened for appending); returns
    /// the number of bytes written, which may be fewer.
    ///
    /// # Errors
    ///
    /// The kernel's error; `InvalidInput` before submission for a `pos`
    /// beyond `i64::MAX` (unless appending), or for a misaligned buffer,
    /// length or offset on an `O_DIRECT` file.
    pub async fn write_at<B: IoBuf + Send>(&self, buf: B, pos: u64) -> BufResult<usize, B> {
        let pos = match self.offset(pos, true) {
            Ok(pos) => pos,
            Err(e) => return (Err(e), buf),
        };
        if let Some(align) = self.direct {
            if let Err(e) = align.check(buf.stable_ptr() as usize, buf.bytes_init(), pos) {
                return (Err(e), buf);
            }
        }
        let done = Op::new(Write::new(self.fd.clone(), buf, pos)).await;
        (done.result.map(|n| n as usize), done.data.into_buf())
    }

    /// Writes all initialised bytes of `buf` at `pos`, looping over short
    /// writes.
    ///
    /// # Errors
    ///
    /// `WriteZero` if a write writes nothing; otherwise as for
    /// [`File::write_at`].
    pub async fn write_all_at<B: IoBuf + Send>(&self, buf: B, pos: u64) -> BufResult<(), B> {
        let total = buf.bytes_init();
        let mut buf = buf;
        let mut written = 0;
        while written < total {
            let (res, slice) = self
                .write_at(
                    buf.slice(written..total),
                    pos.saturating_add(written as u64),
                )
                .await;
            buf = slice.into_inner();
            match res {
                Ok(0) => {
                    let e = io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("write returned 0 after {written} of {total} bytes"),
                    );
                    return (Err(e), buf);
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Reads into `bufs` in order (each from its start up to its capacity)
    /// at `pos`, with one `readv`; returns the total number of bytes read.
    ///
    /// # Errors
    ///
    /// As for [`File::read_at`] (`EINVAL` for more than 1024 buffers).
    pub async fn readv_at<B: IoBufMut + Send>(
        &self,
        bufs: Vec<B>,
        pos: u64,
    ) -> BufResult<usize, Vec<B>> {
        let pos = match self.offset(pos, false) {
            Ok(pos) => pos,
            Err(e) => return (Err(e), bufs),
        };
        if let Some(align) = self.direct {
            for b in &bufs {
                if let Err(e) = align.check(b.stable_ptr() as usize, b.bytes_total(), pos) {
                    return (Err(e), bufs);
                }
            }
        }
        let done = submit(Readv::new(self.fd.clone(), bufs, pos)).await;
        let (n, filled) = split(done.result);
        (n, done.data.into_bufs(filled))
    }

    /// Writes the initialised bytes of `bufs`, in order, at `pos` (at the
    /// end for a file opened for appending) with one `writev`; returns the
    /// total number of bytes written, which may be fewer.
    ///
    /// # Errors
    ///
    /// As for [`File::write_at`].
    pub async fn writev_at<B: IoBuf + Send>(
        &self,
        bufs: Vec<B>,
        pos: u64,
    ) -> BufResult<usize, Vec<B>> {
        let pos = match self.offset(pos, true) {
            Ok(pos) => pos,
            Err(e) => return (Err(e), bufs),
        };
        if let Some(align) = self.direct {
            for b in &bufs {
                if let Err(e) = align.check(b.stable_ptr() as usize, b.bytes_init(), pos) {
                    return (Err(e), bufs);
                }
            }
        }
        let done = submit(Writev::new(self.fd.clone(), bufs, pos)).await;
        (done.result.map(|n| n as usize), done.data.into_bufs())
    }
}

impl File {
    /// The offset an op at `pos` passes to the kernel: `u64::MAX` (the
    /// file's own position, which `O_APPEND` puts at the end) for a write
    /// on a file opened for appending, else `pos`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a `pos` beyond `i64::MAX`: the kernel's offsets
    /// are signed, and `u64::MAX` would silently read or write at the
    /// file's position instead.
    pub(crate) fn offset(&self, pos: u64, write: bool) -> io::Result<u64> {
        if write && self.append {
            return Ok(u64::MAX);
        }
        if pos > i64::MAX as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("file offset {pos} is beyond the largest one, i64::MAX"),
            ));
        }
        Ok(pos)
    }
}

/// A read's result for the caller, and the copy the op's `into_buf` takes
/// to set the buffer's length (only its `Ok` value matters there).
fn split(res: io::Result<u32>) -> (io::Result<usize>, io::Result<u32>) {
    match res {
        Ok(n) => (Ok(n as usize), Ok(n)),
        Err(e) => (Err(e), Err(io::ErrorKind::Other.into())),
    }
}
