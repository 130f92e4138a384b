//! Path functions through `ringbolt::fs`: rename, remove, directories,
//! links, canonicalize, write/read, write_atomic.

use std::io;
use std::path::PathBuf;

use ringbolt::fs;

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

#[test]
fn rename_remove_and_write_read() {
    let tmp = TempDir::new("fs-rename");
    ringbolt::run(async {
        let a = tmp.join("a");
        let b = tmp.join("b");
        fs::write(&a, "first").await.unwrap();
        fs::write(&b, vec![1u8, 2, 3]).await.unwrap();
        fs::rename(&a, &b).await.unwrap();
        assert!(!a.exists());
        assert_eq!(fs::read(&b).await.unwrap(), b"first");
        let err = fs::rename(&a, &b).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));

        fs::remove_file(&b).await.unwrap();
        assert!(!b.exists());
        let err = fs::remove_file(&b).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        // remove_file on a directory fails; remove_dir on a file too.
        assert!(fs::remove_file(&tmp.0).await.is_err());
        fs::write(&a, "x").await.unwrap();
        let err = fs::remove_dir(&a).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR));
    });
}

#[test]
fn directories() {
    let tmp = TempDir::new("fs-dirs");
    ringbolt::run(async {
        let deep = tmp.join("a/b/c/d");
        fs::create_dir_all(&deep).await.unwrap();
        assert!(std::fs::metadata(&deep).unwrap().is_dir());
        // Existing: fine. Under a file: an error.
        fs::create_dir_all(&deep).await.unwrap();
        fs::create_dir_all(&tmp.0).await.unwrap();
        fs::write(tmp.join("file"), "x").await.unwrap();
        assert!(fs::create_dir_all(tmp.join("file/sub")).await.is_err());
        assert!(fs::create_dir_all(tmp.join("file")).await.is_err());

        let err = fs::create_dir(&deep).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        let err = fs::create_dir(tmp.join("x/y")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        fs::create_dir(tmp.join("x")).await.unwrap();

        let err = fs::remove_dir(tmp.join("a")).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTEMPTY));
        fs::remove_dir(&deep).await.unwrap();
        assert!(!deep.exists());

        let mut names: Vec<_> = fs::read_dir(&tmp.0)
            .await
            .unwrap()
            .into_iter()
            .map(|e| {
                assert_eq!(e.path(), tmp.0.join(e.file_name()));
                let ft = e.file_type().unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    ft.is_dir(),
                    ft.is_file(),
                )
            })
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                ("a".to_string(), true, false),
                ("file".to_string(), false, true),
                ("x".to_string(), true, false),
            ]
        );
        let entries = fs::read_dir(&tmp.0).await.unwrap();
        for e in &entries {
            let meta = e.metadata().await.unwrap();
            assert_eq!(meta.ino(), e.ino());
        }
        let err = fs::read_dir(tmp.join("missing")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    });
}

#[test]
fn links_and_canonicalize() {
    let tmp = TempDir::new("fs-links");
    ringbolt::run(async {
        let original = tmp.join("original");
        fs::write(&original, "linked").await.unwrap();

        let hard = tmp.join("hard");
        fs::hard_link(&original, &hard).await.unwrap();
        assert_eq!(fs::read(&hard).await.unwrap(), b"linked");
        assert_eq!(fs::metadata(&original).await.unwrap().nlink(), 2);
        let err = fs::hard_link(&original, &hard).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);

        let soft = tmp.join("soft");
        fs::symlink("original", &soft).await.unwrap();
        assert_eq!(
            std::fs::read_link(&soft).unwrap(),
            PathBuf::from("original")
        );
        assert_eq!(fs::read(&soft).await.unwrap(), b"linked");
        let meta = fs::symlink_metadata(&soft).await.unwrap();
        assert!(meta.is_symlink() && !meta.is_file());
        assert!(meta.file_type().is_symlink());
        let meta = fs::metadata(&soft).await.unwrap();
        assert!(meta.is_file() && !meta.is_symlink());

        let canon = fs::canonicalize(&soft).await.unwrap();
        assert_eq!(canon, std::fs::canonicalize(&original).unwrap());
        std::fs::create_dir(tmp.join("a")).unwrap();
        let canon = fs::canonicalize(tmp.join("a/../soft")).await.unwrap();
        assert_eq!(canon, std::fs::canonicalize(&original).unwrap());
        let err = fs::canonicalize(tmp.join("nope")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);

        // A dangling symlink: symlink_metadata works, metadata does not.
        fs::symlink("missing-target", tmp.join("dangling"))
            .await
            .unwrap();
        assert!(fs::symlink_metadata(tmp.join("dangling")).await.is_ok());
        let err = fs::metadata(tmp.join("dangling")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    });
}

#[test]
fn write_atomic_replaces_completely_and_leaves_no_temp_file() {
    let tmp = TempDir::new("fs-atomic");
    ringbolt::run(async {
        let path = tmp.join("config.toml");
        // New file.
        fs::write_atomic(&path, "a = 1\nb = 2\nc = 3\n")
            .await
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"a = 1\nb = 2\nc = 3\n");
        // Shorter content replaces the longer one completely.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        fs::write_atomic(&path, b"x").await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
        // The permissions of the replaced file are kept.
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        // Larger content, many times.
        for i in 0..20u8 {
            let data = vec![i; 100_000 + i as usize];
            fs::write_atomic(&path, &data).await.unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), data);
        }
        // No temporary file left behind.
        let names: Vec<_> = std::fs::read_dir(&tmp.0)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.toml")]);

        // Errors: a missing directory, a NUL byte, no file name.
        let err = fs::write_atomic(tmp.join("missing/f"), "x")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let err = fs::write_atomic(tmp.join("nul\0"), "x").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = fs::write_atomic("/", "x").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(std::fs::read_dir(&tmp.0).unwrap().count(), 1);
    });
}
