//! The benchmark's data: files created once under `target/bench-data/`,
//! page-cache warming and the residency check (`mincore`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use crate::common::SplitMix64;

/// Size of each file of the `readfile-1m` workload.
pub(crate) const SMALL_FILE_SIZE: usize = 1 << 20;
/// Number of files of the `readfile-1m` workload.
pub(crate) const SMALL_FILES: usize = 256;

/// Where the benchmark keeps its files.
#[derive(Debug)]
pub(crate) struct Dirs {
    /// Cargo's target directory.
    pub(crate) target: PathBuf,
    /// `target/bench-data`.
    pub(crate) data: PathBuf,
}

impl Dirs {
    /// The target directory of this build (`CARGO_TARGET_DIR` or the one
    /// holding this executable), and `bench-data` in it.
    pub(crate) fn new() -> io::Result<Dirs> {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                // target/<profile>/deps/disk-<hash>
                let exe = std::env::current_exe().ok()?;
                exe.ancestors()
                    .find(|p| p.join("CACHEDIR.TAG").exists())
                    .map(Path::to_path_buf)
            })
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target")));
        let data = target.join("bench-data");
        fs::create_dir_all(&data)?;
        Ok(Dirs { target, data })
    }
}

/// Pseudo-random, never-zero bytes (so no file system stores them sparse
/// or compressed).
fn fill(rng: &mut SplitMix64, buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let v = rng.next_u64() | 0x0101_0101_0101_0101;
        chunk.copy_from_slice(&v.to_le_bytes()[..chunk.len()]);
    }
}

/// Creates `path` with `size` bytes of pseudo-random data unless it exists
/// with that size already.
pub(crate) fn ensure_file(path: &Path, size: u64, note: &dyn Fn(&str)) -> io::Result<()> {
    if fs::metadata(path).is_ok_and(|m| m.len() == size) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    note(&format!(
        "creating {} ({} MiB of pseudo-random data, once)...",
        path.display(),
        size >> 20
    ));
    let tmp = path.with_extension("partial");
    let mut f = File::create(&tmp)?;
    let mut rng = SplitMix64::new(size);
    let mut buf = vec![0u8; 8 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        fill(&mut rng, &mut buf[..n]);
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.sync_all()?;
    fs::rename(&tmp, path)
}

/// Creates the [`SMALL_FILES`] files of the `readfile-1m` workload in `dir`
/// unless they exist.
pub(crate) fn ensure_small_files(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut rng = SplitMix64::new(0xF11E);
    let mut buf = vec![0u8; SMALL_FILE_SIZE];
    for i in 0..SMALL_FILES {
        let p = dir.join(format!("f{i:04}.bin"));
        if fs::metadata(&p).is_ok_and(|m| m.len() == SMALL_FILE_SIZE as u64) {
            continue;
        }
        fill(&mut rng, &mut buf);
        fs::write(&p, &buf)?;
    }
    Ok(())
}

/// The files of a directory, sorted (the `readfile-1m` list).
pub(crate) fn list_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    v.sort();
    Ok(v)
}

/// Empties (and creates) `dir`: the logs of `append-fsync` start empty in
/// every measurement.
pub(crate) fn reset_dir(dir: &Path) -> io::Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)
}

/// The fraction of `path`'s pages in the page cache (`mincore`).
pub(crate) fn resident_fraction(path: &Path) -> io::Result<f64> {
    let file = File::open(path)?;
    let len = file.metadata()?.len() as usize;
    if len == 0 {
        return Ok(1.0);
    }
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let pages = len.div_ceil(page);
    // SAFETY: a fresh read-only shared mapping of a file we hold open; no
    // Rust reference to the mapped memory is ever made (mincore only looks
    // at the page tables), and it is unmapped below.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            std::os::fd::AsRawFd::as_raw_fd(&file),
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let mut vec = vec![0u8; pages];
    // SAFETY: `addr..addr + len` is the mapping made above, page-aligned;
    // `vec` holds one byte per page of it, as mincore requires.
    let rc = unsafe { libc::mincore(addr, len, vec.as_mut_ptr()) };
    let err = io::Error::last_os_error();
    // SAFETY: unmaps exactly the mapping made above, which nothing uses any
    // more.
    unsafe { libc::munmap(addr, len) };
    if rc != 0 {
        return Err(err);
    }
    let resident = vec.iter().filter(|&&b| b & 1 != 0).count();
    Ok(resident as f64 / pages as f64)
}

/// Brings `path` into the page cache (reads it, unless `mincore` says all
/// of it is resident) and returns the resident fraction measured after.
pub(crate) fn warm(path: &Path) -> io::Result<f64> {
    let before = resident_fraction(path)?;
    if before < 1.0 {
        let f = File::open(path)?;
        let mut buf = vec![0u8; 4 << 20];
        let mut pos = 0u64;
        loop {
            let n = f.read_at(&mut buf, pos)?;
            if n == 0 {
                break;
            }
            pos += n as u64;
        }
    }
    resident_fraction(path)
}

/// [`warm`] for every file of `dir`; returns the smallest resident
/// fraction.
pub(crate) fn warm_dir(dir: &Path) -> io::Result<f64> {
    let mut min = 1.0f64;
    for p in list_files(dir)? {
        min = min.min(warm(&p)?);
    }
    Ok(min)
}

/// The file system holding `path`: type and device from /proc/mounts
/// (longest mount point that contains it).
pub(crate) fn fs_description(path: &Path) -> String {
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut mounts = String::new();
    if File::open("/proc/mounts")
        .and_then(|mut f| f.read_to_string(&mut mounts))
        .is_err()
    {
        return "unknown".into();
    }
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let mut it = line.split_whitespace();
        let (Some(dev), Some(mnt), Some(fstype)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if path.starts_with(mnt) && best.as_ref().is_none_or(|(l, _)| mnt.len() >= *l) {
            best = Some((mnt.len(), format!("{fstype} on {dev} (mounted at {mnt})")));
        }
    }
    best.map_or_else(|| "unknown".into(), |(_, d)| d)
}

/// Opens the O_DIRECT write target for `seqwrite-128k-direct` (no
/// truncation: the blocks exist already, so writes overwrite them).
pub(crate) fn open_std(path: &Path, direct: bool, write: bool) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut o = OpenOptions::new();
    o.read(!write).write(write);
    if direct {
        o.custom_flags(libc::O_DIRECT);
    }
    o.open(path)
}
