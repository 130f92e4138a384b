//! File I/O through `ringbolt::fs`: positional reads and writes, open
//! options, vectored I/O, sync, length, metadata, concurrency.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ringbolt::fs::{self, File, OpenOptions};

/// A unique temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "ringbolt-{tag}-{}-{n}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// xorshift64*: deterministic pseudo-random numbers without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn std_read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn random_writes_at_random_offsets_match_std() {
    let tmp = TempDir::new("fs-random");
    let path = tmp.join("data");
    ringbolt::run(async {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(&path)
            .await
            .unwrap();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut model = Vec::new();
        for _ in 0..200 {
            let off = (rng.next() % 300_000) as usize;
            let len = 1 + (rng.next() % 20_000) as usize;
            let data = rng.bytes(len);
            if model.len() < off + len {
                model.resize(off + len, 0);
            }
            model[off..off + len].copy_from_slice(&data);
            let (res, back) = file.write_all_at(data, off as u64).await;
            res.unwrap();
            assert_eq!(back.len(), len);
        }
        assert_eq!(std_read(&path), model);
        // Read back at random offsets through the ring.
        for _ in 0..100 {
            let off = (rng.next() % model.len() as u64) as usize;
            let len = 1 + (rng.next() % 50_000) as usize;
            let (res, buf) = file.read_at(Vec::with_capacity(len), off as u64).await;
            let n = res.unwrap();
            let want = &model[off..(off + len).min(model.len())];
            assert_eq!(n, want.len());
            assert_eq!(&buf[..], want);
        }
        // A zeroed Vec takes up to its length too.
        let (res, buf) = file.read_at(vec![0xFFu8; 10], 5).await;
        assert_eq!(res.unwrap(), 10);
        assert_eq!(&buf[..], &model[5..15]);
        file.close().await.unwrap();
    });
}

#[test]
fn read_exact_at_past_eof_is_unexpected_eof() {
    let tmp = TempDir::new("fs-eof");
    let path = tmp.join("f");
    std::fs::write(&path, b"0123456789").unwrap();
    ringbolt::run(async {
        let file = File::open(&path).await.unwrap();
        let (res, buf) = file.read_exact_at(vec![0u8; 4], 6).await;
        res.unwrap();
        assert_eq!(buf, b"6789");
        let (res, buf) = file.read_exact_at(vec![0u8; 8], 6).await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(&buf[..4], b"6789");
        let (res, _) = file.read_exact_at(Vec::with_capacity(1), 100).await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        // At EOF a plain read returns 0.
        let (res, buf) = file.read_at(Vec::with_capacity(16), 10).await;
        assert_eq!(res.unwrap(), 0);
        assert!(buf.is_empty());
    });
}

#[test]
fn write_all_at_and_sync_all_then_std_reads() {
    let tmp = TempDir::new("fs-sync");
    let path = tmp.join("f");
    ringbolt::run(async {
        let file = File::create(&path).await.unwrap();
        let data = Rng(7).bytes(3 << 20);
        let (res, data) = file.write_all_at(data, 0).await;
        res.unwrap();
        file.sync_all().await.unwrap();
        file.sync_data().await.unwrap();
        file.sync_range(0, 0).await.unwrap();
        assert_eq!(std_read(&path), data);
        // A zero-length write is fine and writes nothing.
        let (res, _) = file.write_all_at(Vec::new(), 0).await;
        res.unwrap();
        file.close().await.unwrap();
    });
}

#[test]
fn append_mode_writes_at_the_end() {
    let tmp = TempDir::new("fs-append");
    let path = tmp.join("log");
    std::fs::write(&path, b"start;").unwrap();
    ringbolt::run(async {
        let file = OpenOptions::new().append(true).open(&path).await.unwrap();
        for i in 0..3 {
            // The position is ignored: appends go to the end.
            let (res, _) = file.write_all_at(format!("line{i};").into_bytes(), 0).await;
            res.unwrap();
        }
        let (res, _) = file
            .writev_at(vec![b"v1".to_vec(), b"v2;".to_vec()], 0)
            .await;
        assert_eq!(res.unwrap(), 5);
        file.close().await.unwrap();
    });
    assert_eq!(std_read(&path), b"start;line0;line1;line2;v1v2;");
}

#[test]
fn offsets_beyond_i64_max_are_refused_not_taken_as_the_file_position() {
    let tmp = TempDir::new("fs-offset");
    let path = tmp.join("f");
    std::fs::write(&path, b"hello world").unwrap();
    ringbolt::run(async {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .await
            .unwrap();
        for pos in [u64::MAX, i64::MAX as u64 + 1] {
            let (res, buf) = file.read_at(Vec::with_capacity(5), pos).await;
            assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            assert!(buf.is_empty(), "nothing was read");
            let (res, _) = file.read_exact_at(vec![0; 5], pos).await;
            assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            let (res, _) = file.readv_at(vec![Vec::with_capacity(5)], pos).await;
            assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            let (res, _) = file.write_at(b"XX".to_vec(), pos).await;
            assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            let (res, _) = file.write_all_at(b"YY".to_vec(), pos).await;
            assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            let (res, _) = file.writev_at(vec![b"ZZ".to_vec()], pos).await;
            assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }
        file.close().await.unwrap();
    });
    assert_eq!(std_read(&path), b"hello world", "the file is untouched");
}

#[test]
fn open_options_errors_and_create_new() {
    let tmp = TempDir::new("fs-open");
    let path = tmp.join("f");
    ringbolt::run(async {
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .unwrap();
        drop(f);
        let err = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(err.raw_os_error(), Some(libc::EEXIST));

        let err = File::open(tmp.join("missing")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));

        let err = File::open(tmp.join("bad\0name")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = fs::metadata("nul\0").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = fs::rename(&path, "x\0y").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

        // No access mode, or create without write: EINVAL, like std.
        let err = OpenOptions::new().open(&path).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = OpenOptions::new()
            .read(true)
            .create(true)
            .open(&path)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

        // Writing a read-only file fails with EBADF and the buffer comes back.
        std::fs::write(&path, b"abc").unwrap();
        let file = File::open(&path).await.unwrap();
        let (res, buf) = file.write_at(b"zz".to_vec(), 0).await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EBADF));
        assert_eq!(buf, b"zz");

        // truncate(true) empties; mode is applied to new files.
        let file = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), 0);
        let f2 = OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o600)
            .open(tmp.join("private"))
            .await
            .unwrap();
        let meta = f2.metadata().await.unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    });
}

#[test]
fn readv_writev_round_trip() {
    let tmp = TempDir::new("fs-vec");
    let path = tmp.join("f");
    ringbolt::run(async {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(&path)
            .await
            .unwrap();
        let bufs = vec![b"hello ".to_vec(), b"vectored ".to_vec(), b"world".to_vec()];
        let (res, bufs) = file.writev_at(bufs, 3).await;
        assert_eq!(res.unwrap(), 20);
        assert_eq!(bufs[1], b"vectored ");
        assert_eq!(&std_read(&path)[3..], b"hello vectored world");

        let bufs = vec![Vec::with_capacity(4), vec![0u8; 6], Vec::with_capacity(100)];
        let (res, bufs) = file.readv_at(bufs, 3).await;
        assert_eq!(res.unwrap(), 20);
        assert_eq!(bufs[0], b"hell");
        assert_eq!(bufs[1], b"o vect");
        assert_eq!(bufs[2], b"ored world");
    });
}

#[test]
fn set_len_fallocate_and_metadata() {
    let tmp = TempDir::new("fs-len");
    let path = tmp.join("f");
    ringbolt::run(async {
        let before = std::time::SystemTime::now() - std::time::Duration::from_secs(5);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(&path)
            .await
            .unwrap();
        file.set_len(12345).await.unwrap();
        let meta = file.metadata().await.unwrap();
        assert_eq!(meta.len(), 12345);
        assert!(meta.is_file() && !meta.is_dir() && !meta.is_symlink());
        assert!(meta.modified().unwrap() >= before);
        assert!(meta.accessed().is_ok());
        file.set_len(10).await.unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 10);

        file.fallocate(0, 1 << 20, 0).await.unwrap();
        let meta = fs::metadata(&path).await.unwrap();
        assert_eq!(meta.len(), 1 << 20);
        assert!(meta.blocks() * 512 >= 1 << 20);

        let dir = fs::metadata(&tmp.0).await.unwrap();
        assert!(dir.is_dir() && !dir.is_file());
        let err = fs::metadata(tmp.join("nope")).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));

        // set_len on a read-only file: the kernel's EINVAL.
        let ro = File::open(&path).await.unwrap();
        assert!(ro.set_len(0).await.is_err());
    });
}

#[test]
fn many_concurrent_reads_from_spawned_tasks() {
    let tmp = TempDir::new("fs-conc");
    let path = tmp.join("f");
    let data = Rng(42).bytes(1 << 20);
    std::fs::write(&path, &data).unwrap();
    let data = Arc::new(data);
    ringbolt::run(async {
        let file = Arc::new(File::open(&path).await.unwrap());
        let mut handles = Vec::new();
        for t in 0..16u64 {
            let file = file.clone();
            let data = data.clone();
            handles.push(ringbolt::spawn(async move {
                let mut rng = Rng(t + 1);
                for _ in 0..50 {
                    let off = (rng.next() % (1 << 20)) as usize;
                    let len = 1 + (rng.next() % 8192) as usize;
                    let (res, buf) = file.read_at(Vec::with_capacity(len), off as u64).await;
                    let n = res.unwrap();
                    assert_eq!(&buf[..], &data[off..off + n]);
                    assert_eq!(n, len.min(data.len() - off));
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
}

#[test]
fn read_of_a_large_file_equals_std() {
    let tmp = TempDir::new("fs-large");
    let path = tmp.join("big");
    let data = Rng(3).bytes(20 << 20);
    std::fs::write(&path, &data).unwrap();
    let small = tmp.join("small");
    std::fs::write(&small, b"tiny").unwrap();
    let empty = tmp.join("empty");
    std::fs::write(&empty, b"").unwrap();
    ringbolt::run(async {
        let got = fs::read(&path).await.unwrap();
        assert!(got == data, "fs::read differs from the data written");
        assert_eq!(fs::read(&small).await.unwrap(), b"tiny");
        assert!(fs::read(&empty).await.unwrap().is_empty());
        // A file whose statx size is 0 but which has content.
        let status = fs::read("/proc/self/status").await.unwrap();
        assert!(status.starts_with(b"Name:"));
        // An odd size, not a multiple of the chunk.
        let odd = tmp.join("odd");
        fs::write(&odd, &data[..(3 << 20) + 17]).await.unwrap();
        assert_eq!(fs::read(&odd).await.unwrap(), &data[..(3 << 20) + 17]);
    });
}

#[test]
fn file_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<File>();
    assert_send_sync::<OpenOptions>();
    assert_send_sync::<fs::Metadata>();
    assert_send_sync::<fs::DirEntry>();
}

#[test]
fn reading_a_file_larger_than_memory_is_an_error_not_an_abort() {
    // Needs an allocator that refuses 1 TiB: the kernel's default
    // overcommit heuristic (0) or strict accounting (2) with less memory.
    let overcommit = std::fs::read_to_string("/proc/sys/vm/overcommit_memory").unwrap_or_default();
    if !matches!(overcommit.trim(), "0" | "2") {
        return eprintln!("skipped: vm.overcommit_memory is {}", overcommit.trim());
    }
    let tmp = TempDir::new("fs-huge");
    let path = tmp.join("sparse");
    let f = std::fs::File::create(&path).unwrap();
    if let Err(e) = f.set_len(1 << 40) {
        return eprintln!("skipped: no sparse 1 TiB file here: {e}");
    }
    drop(f);
    ringbolt::run(async {
        let err = fs::read(&path).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{err}");
        // The runtime goes on.
        fs::write(tmp.join("small"), b"ok").await.unwrap();
        assert_eq!(fs::read(tmp.join("small")).await.unwrap(), b"ok");
    });
}
