//! Reads and writes with registered buffers ([`FixedBufPool`](crate::FixedBufPool)).

use ringbolt_runtime::buf::{BufResult, IoBuf};
use ringbolt_runtime::op::fs::{read_fixed, write_fixed, FixedBuf};

use crate::file::File;

impl File {
    /// Reads into a registered buffer from its start up to its capacity,
    /// at `pos` (`READ_FIXED`: the kernel skips mapping the buffer for each
    /// read). On a worker other than the pool's, a plain read is made.
    ///
    /// # Errors
    ///
    /// As for [`File::read_at`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_fs::{File, FixedBufPool};
    ///
    /// ringbolt_runtime::run(async {
    ///     let path = std::env::temp_dir().join(format!("ringbolt-fixed-doc-{}", std::process::id()));
    ///     let pool = FixedBufPool::new(2, 4096)?;
    ///     let file = File::options().read(true).write(true).create(true).open(&path).await?;
    ///     let mut buf = pool.try_get().unwrap();
    ///     buf.copy_from_slice(b"registered");
    ///     let (res, buf) = file.write_fixed_at(buf, 0).await;
    ///     assert_eq!(res?, 10);
    ///     drop(buf);
    ///     let (res, buf) = file.read_fixed_at(pool.get().await, 0).await;
    ///     assert_eq!(res?, 10);
    ///     assert_eq!(&buf[..], b"registered");
    ///     ringbolt_fs::remove_file(&path).await
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn read_fixed_at(&self, buf: FixedBuf, pos: u64) -> BufResult<usize, FixedBuf> {
        let pos = match self.offset(pos, false) {
            Ok(pos) => pos,
            Err(e) => return (Err(e), buf),
        };
        if let Some(align) = self.direct {
            if let Err(e) = align.check(buf.stable_ptr() as usize, buf.bytes_total(), pos) {
                return (Err(e), buf);
            }
        }
        let (res, buf) = read_fixed(self.fd.clone(), buf, pos).await;
        (res.map(|n| n as usize), buf)
    }

    /// Writes a registered buffer's bytes at `pos` (at the end for a file
    /// opened for appending) with `WRITE_FIXED`; returns the number of
    /// bytes written, which may be fewer. On a worker other than the
    /// pool's, a plain write is made.
    ///
    /// # Errors
    ///
    /// As for [`File::write_at`].
    pub async fn write_fixed_at(&self, buf: FixedBuf, pos: u64) -> BufResult<usize, FixedBuf> {
        let pos = match self.offset(pos, true) {
            Ok(pos) => pos,
            Err(e) => return (Err(e), buf),
        };
        if let Some(align) = self.direct {
            if let Err(e) = align.check(buf.stable_ptr() as usize, buf.bytes_init(), pos) {
                return (Err(e), buf);
            }
        }
        let (res, buf) = write_fixed(self.fd.clone(), buf, pos).await;
        (res.map(|n| n as usize), buf)
    }
}
