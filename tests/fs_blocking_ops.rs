//! The synchronous equivalents (`run_blocking`) of the file-system ops,
//! which the blocking pool runs when the kernel lacks an opcode: each does
//! what its SQE does, with the same result convention. (This kernel may
//! have every opcode, so they are called directly here.)

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use ringbolt::op::fs::{
    Fallocate, Fsync, Ftruncate, LinkAt, MkDirAt, OpenAt, Readv, RenameAt, Statx, StatxTarget,
    SymlinkAt, SyncFileRange, UnlinkAt, Writev,
};
use ringbolt::op::OpCode;
use ringbolt::SharedFd;

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn fd_is_open(fd: u32) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok()
}

#[test]
fn synchronous_equivalents_match_the_ops() {
    let tmp =
        TempDir(std::env::temp_dir().join(format!("ringbolt-fs-sync-ops-{}", std::process::id())));
    std::fs::create_dir_all(&tmp.0).unwrap();
    let path = tmp.0.join("f");

    // openat; a result nobody collects is closed by orphan_completed.
    let mut open = OpenAt::new(c(&path), libc::O_RDWR | libc::O_CREAT, 0o644);
    let raw = open.run_blocking().unwrap();
    assert!(fd_is_open(raw));
    open.orphan_completed(raw as i32, 0);
    assert!(!fd_is_open(raw));
    let err = OpenAt::new(c(&tmp.0.join("missing")), libc::O_RDONLY, 0)
        .run_blocking()
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));

    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let fd = SharedFd::new(OwnedFd::from(file));

    // writev / readv.
    let mut w = Writev::new(fd.clone(), vec![b"abc".to_vec(), b"defgh".to_vec()], 2);
    assert_eq!(w.run_blocking().unwrap(), 8);
    assert_eq!(std::fs::read(&path).unwrap(), b"\0\0abcdefgh");
    let mut r = Readv::new(
        fd.clone(),
        vec![Vec::with_capacity(3), Vec::with_capacity(10)],
        1,
    );
    let n = r.run_blocking();
    assert_eq!(*n.as_ref().unwrap(), 9);
    let bufs = r.into_bufs(n);
    assert_eq!(bufs[0], b"\0ab");
    assert_eq!(bufs[1], b"cdefgh");

    // fsync, fdatasync, sync_file_range, fallocate, ftruncate.
    assert_eq!(Fsync::new(fd.clone(), false).run_blocking().unwrap(), 0);
    assert_eq!(Fsync::new(fd.clone(), true).run_blocking().unwrap(), 0);
    let flags = libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    assert_eq!(
        SyncFileRange::new(fd.clone(), 0, 0, flags)
            .run_blocking()
            .unwrap(),
        0
    );
    assert_eq!(
        Fallocate::new(fd.clone(), 0, 8192, 0)
            .run_blocking()
            .unwrap(),
        0
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 8192);
    assert_eq!(Ftruncate::new(fd.clone(), 5).run_blocking().unwrap(), 0);
    assert_eq!(std::fs::read(&path).unwrap(), b"\0\0abc");

    // statx by descriptor and by path.
    let mut st = Statx::new(StatxTarget::Fd(fd.clone()), libc::STATX_BASIC_STATS);
    st.run_blocking().unwrap();
    assert_eq!(st.into_statx().stx_size, 5);
    let target = StatxTarget::Path {
        path: c(&tmp.0),
        follow: true,
    };
    let mut st = Statx::new(target, libc::STATX_BASIC_STATS);
    st.run_blocking().unwrap();
    assert_eq!(
        u32::from(st.into_statx().stx_mode) & libc::S_IFMT,
        libc::S_IFDIR
    );

    // mkdirat, symlinkat, linkat, renameat, unlinkat.
    let dir = tmp.0.join("d");
    MkDirAt::new(c(&dir), 0o755).run_blocking().unwrap();
    assert!(dir.is_dir());
    let err = MkDirAt::new(c(&dir), 0o755).run_blocking().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
    let soft = tmp.0.join("soft");
    SymlinkAt::new(c(Path::new("f")), c(&soft))
        .run_blocking()
        .unwrap();
    assert_eq!(std::fs::read_link(&soft).unwrap(), Path::new("f"));
    let hard = tmp.0.join("hard");
    LinkAt::new(c(&path), c(&hard)).run_blocking().unwrap();
    assert_eq!(std::fs::read(&hard).unwrap(), b"\0\0abc");
    let moved = dir.join("moved");
    RenameAt::new(c(&hard), c(&moved), 0)
        .run_blocking()
        .unwrap();
    assert!(!hard.exists() && moved.exists());
    UnlinkAt::new(c(&moved), false).run_blocking().unwrap();
    UnlinkAt::new(c(&dir), true).run_blocking().unwrap();
    assert!(!dir.exists());
    let err = UnlinkAt::new(c(&dir), true).run_blocking().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
}
