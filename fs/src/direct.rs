//! `O_DIRECT` alignment: what the kernel demands, learned from statx
//! (`STATX_DIOALIGN`), and the check made before submitting.

use std::io;

use ringbolt_runtime::op::fs::{statx, StatxTarget};
use ringbolt_runtime::SharedFd;

/// The alignment used when the kernel does not report one: a page, which
/// every block device's logical block size divides.
pub(crate) const FALLBACK_ALIGN: u32 = 4096;

/// Alignment rules for direct I/O on one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DioAlign {
    /// Buffers' start addresses must be multiples of this.
    pub(crate) mem: u32,
    /// File offsets and lengths must be multiples of this.
    pub(crate) offset: u32,
}

impl DioAlign {
    /// Asks the kernel (statx `STATX_DIOALIGN`, Linux 6.1) for the file's
    /// direct-I/O alignment; [`FALLBACK_ALIGN`] when it does not say.
    pub(crate) async fn query(fd: SharedFd) -> io::Result<DioAlign> {
        let stx = statx(StatxTarget::Fd(fd), libc::STATX_DIOALIGN).await?;
        let known = stx.stx_mask & libc::STATX_DIOALIGN != 0;
        let pick = |v: u32| {
            if known && v != 0 && v.is_power_of_two() {
                v
            } else {
                FALLBACK_ALIGN
            }
        };
        Ok(DioAlign {
            mem: pick(stx.stx_dio_mem_align),
            offset: pick(stx.stx_dio_offset_align),
        })
    }

    /// Checks a buffer at address `addr` of `len` bytes for an I/O at `pos`
    /// (`u64::MAX`: the file position, not checked).
    pub(crate) fn check(&self, addr: usize, len: usize, pos: u64) -> io::Result<()> {
        let (mem, off) = (self.mem as usize, u64::from(self.offset));
        if addr % mem != 0 {
            return Err(misaligned(format!(
                "buffer address {addr:#x} is not a multiple of {mem}; use AlignedBuf"
            )));
        }
        if len as u64 % off != 0 {
            return Err(misaligned(format!(
                "length {len} is not a multiple of {off}"
            )));
        }
        if pos != u64::MAX && pos % off != 0 {
            return Err(misaligned(format!(
                "file offset {pos} is not a multiple of {off}"
            )));
        }
        Ok(())
    }
}

fn misaligned(what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("O_DIRECT file: {what} (see File::dio_alignment)"),
    )
}
