//! O_DIRECT through `ringbolt::fs`: aligned reads and writes with
//! `AlignedBuf`, and misaligned buffers, offsets and lengths refused with
//! `InvalidInput` before submission. Skipped (with a note) where the temp
//! directory's file system refuses O_DIRECT.

use std::io;
use std::path::PathBuf;

use ringbolt::buf::{AlignedBuf, IoBuf};
use ringbolt::fs::{File, OpenOptions};

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn open_direct(path: &std::path::Path) -> Option<File> {
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .await;
    match opened {
        Ok(f) => Some(f),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            println!(
                "note: skipping O_DIRECT test, the temp dir's file system refuses O_DIRECT ({e})"
            );
            None
        }
        Err(e) => panic!("open with O_DIRECT: {e}"),
    }
}

#[test]
fn direct_io_aligned_round_trip_and_misaligned_refused() {
    let tmp =
        TempDir(std::env::temp_dir().join(format!("ringbolt-fs-direct-{}", std::process::id())));
    std::fs::create_dir_all(&tmp.0).unwrap();
    let path = tmp.0.join("direct");
    ringbolt::run(async {
        let Some(file) = open_direct(&path).await else {
            return;
        };
        assert!(file.is_direct());
        let (mem, off) = file.dio_alignment().await.unwrap();
        assert!(
            mem.is_power_of_two() && off.is_power_of_two(),
            "{mem} {off}"
        );
        let align = mem.max(off);
        println!("dio alignment: memory {mem}, offset {off}");

        // Aligned write then read back.
        let mut out = AlignedBuf::new(4 * align, align).unwrap();
        for (i, b) in out.iter_mut().enumerate() {
            *b = (i * 7 % 251) as u8;
        }
        let (res, out) = file.write_all_at(out, align as u64).await;
        res.unwrap();
        file.sync_data().await.unwrap();
        let back = AlignedBuf::with_capacity(4 * align, align).unwrap();
        let (res, back) = file.read_exact_at(back, align as u64).await;
        res.unwrap();
        assert!(back == out);
        let std_data = std::fs::read(&path).unwrap();
        assert_eq!(&std_data[align..], &out[..]);

        // Misaligned offset, length, buffer: InvalidInput, buffer returned.
        let (res, buf) = file
            .read_at(AlignedBuf::new(align, align).unwrap(), 1)
            .await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(buf.len(), align);
        let (res, _) = file
            .read_at(AlignedBuf::with_capacity(align + 1, align).unwrap(), 0)
            .await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let (res, _) = file.write_at(AlignedBuf::new(100, align).unwrap(), 0).await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        // A buffer starting one byte past an aligned address.
        let (res, _) = file
            .read_at(
                AlignedBuf::new(2 * align, align)
                    .unwrap()
                    .slice(1..align + 1),
                0,
            )
            .await;
        let err = res.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(err.raw_os_error(), None, "refused before submission");
        // A Vec is (almost never) aligned to the block size.
        let v = vec![0u8; align + 1];
        let misaligned = v.slice(1..);
        if misaligned.stable_ptr() as usize % mem != 0 {
            let (res, _) = file.write_at(misaligned, 0).await;
            assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }
        // Vectored I/O is checked too.
        let (res, _) = file
            .readv_at(
                vec![
                    AlignedBuf::with_capacity(align, align).unwrap(),
                    AlignedBuf::with_capacity(3, align).unwrap(),
                ],
                0,
            )
            .await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let (res, bufs) = file
            .readv_at(
                vec![
                    AlignedBuf::with_capacity(align, align).unwrap(),
                    AlignedBuf::with_capacity(align, align).unwrap(),
                ],
                align as u64,
            )
            .await;
        assert_eq!(res.unwrap(), 2 * align);
        assert_eq!(&bufs[0][..], &out[..align]);
        assert_eq!(&bufs[1][..], &out[align..2 * align]);
        file.close().await.unwrap();

        // A file opened without O_DIRECT is not checked.
        let plain = File::open(&path).await.unwrap();
        assert!(!plain.is_direct());
        let (res, _) = plain.read_at(Vec::with_capacity(3), 1).await;
        assert_eq!(res.unwrap(), 3);
    });
}
