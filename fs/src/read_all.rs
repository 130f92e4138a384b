//! Reading a whole file: large chunks, several reads in flight.

use std::collections::VecDeque;
use std::io;

use ringbolt_runtime::buf::IoBuf;

use crate::file::File;
use crate::window::Window;

/// Bytes per read.
const CHUNK: usize = 1 << 20;
/// Reads in flight at once.
const IN_FLIGHT: usize = 4;
/// Bytes per read past the size statx reported (files that grow, or that
/// report size 0 like those in /proc).
const TAIL: usize = 64 * 1024;

/// Reads all of `file`: the size statx reports, in [`CHUNK`]-byte reads
/// with [`IN_FLIGHT`] of them in flight, then whatever follows until a read
/// returns 0.
pub(crate) async fn read_all(file: &File) -> io::Result<Vec<u8>> {
    let size = usize::try_from(file.metadata().await?.len()).map_err(|_| too_large())?;
    if size <= CHUNK {
        return read_small(file, size).await;
    }
    let mut out = zeroed(size)?;
    let mut todo: VecDeque<(usize, usize)> = (0..size)
        .step_by(CHUNK)
        .map(|off| (off, CHUNK.min(size - off)))
        .collect();
    // The end of the file, if a read found it before `size`.
    let mut eof = size;
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut window = Window::new();
    loop {
        while window.len() < IN_FLIGHT {
            let Some((off, len)) = todo.pop_front() else {
                break;
            };
            if off >= eof {
                continue;
            }
            let mut buf = spare.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK));
            buf.clear();
            window.push(async move {
                let (res, slice) = file.read_at(buf.slice(..len), off as u64).await;
                (off, len, res, slice.into_inner())
            });
        }
        let Some((off, len, res, buf)) = window.next().await else {
            break;
        };
        match res {
            Ok(0) => eof = eof.min(off),
            Ok(n) => {
                out[off..off + n].copy_from_slice(&buf[..n]);
                if n < len {
                    todo.push_front((off + n, len - n));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => todo.push_front((off, len)),
            Err(e) => return Err(e),
        }
        spare.push(buf);
    }
    out.truncate(eof);
    loop {
        let (res, buf) = file
            .read_at(Vec::with_capacity(TAIL), out.len() as u64)
            .await;
        match res {
            Ok(0) => return Ok(out),
            Ok(_) => out.extend_from_slice(&buf),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A file that fits one chunk: one read straight into the result, asking
/// one byte more than the reported size so that a short read proves the end
/// of the file (no zero-fill, no copy, no extra read). If the byte is there
/// the file grew, and the rest is read until a read returns 0.
async fn read_small(file: &File, size: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(size + 1);
    loop {
        let (res, b) = file.read_at(buf, 0).await;
        buf = b;
        match res {
            Ok(n) if n <= size => return Ok(buf),
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.clear(),
            Err(e) => return Err(e),
        }
    }
    loop {
        let (res, more) = file
            .read_at(Vec::with_capacity(TAIL), buf.len() as u64)
            .await;
        match res {
            Ok(0) => return Ok(buf),
            Ok(_) => buf.extend_from_slice(&more),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The error for a file that does not fit in memory.
fn too_large() -> io::Error {
    io::Error::new(io::ErrorKind::OutOfMemory, "file too large for memory")
}

/// `size` zero bytes, or `OutOfMemory` when they cannot be allocated
/// (`vec![0; size]` alone would abort the process instead).
fn zeroed(size: usize) -> io::Result<Vec<u8>> {
    // A probe first: `try_reserve_exact` reports a failed allocation. Its
    // pages are never touched, so it costs little more than a map and an
    // unmap; `vec!` then gets zeroed pages from the allocator without
    // writing them, which a `resize` would.
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(size).map_err(|_| too_large())?;
    drop(probe);
    Ok(vec![0u8; size])
}
