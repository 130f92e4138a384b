//! Descriptors: an aborted open leaks no fd, dropping a File closes its fd
//! exactly once, `close().await` reports success. One test function, so
//! that no other test of this binary opens descriptors meanwhile.

use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;

use ringbolt::fs::{self, File};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Lets the runtime reap late completions (orphaned opens close their fd).
async fn settle() {
    ringbolt::time::sleep(Duration::from_millis(100)).await;
}

#[test]
fn descriptors_are_closed_exactly_once() {
    let dir = std::env::temp_dir().join(format!("ringbolt-fs-fds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f");
    std::fs::write(&path, b"some content").unwrap();
    ringbolt::run(async {
        aborted_opens_leak_nothing(&path).await;
        dropped_opens_leak_nothing(&path).await;
        drop_closes_once(&path).await;
        close_returns_ok(&path).await;
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn aborted_opens_leak_nothing(path: &Path) {
    settle().await;
    let before = open_fds();
    let mut handles = Vec::new();
    for _ in 0..100 {
        let path = path.to_path_buf();
        handles.push(ringbolt::spawn(async move {
            let file = File::open(&path).await.unwrap();
            // Keep the file a while, so that some aborts hit an open file.
            ringbolt::time::sleep(Duration::from_secs(60)).await;
            drop(file);
        }));
    }
    // Let every task submit its open, then abort them all mid-flight.
    ringbolt::yield_now().await;
    for (i, h) in handles.iter().enumerate() {
        h.abort();
        if i % 10 == 0 {
            ringbolt::yield_now().await;
        }
    }
    for h in handles {
        assert!(h.await.unwrap_err().is_cancelled());
    }
    settle().await;
    assert_eq!(open_fds(), before, "aborted opens leaked descriptors");
}

async fn dropped_opens_leak_nothing(path: &Path) {
    let before = open_fds();
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    for _ in 0..100 {
        let mut open = Box::pin(File::open(path));
        // One poll submits the openat; dropping the future orphans it.
        // On the ring this is always pending; a pool thread may finish first.
        let _ = open.as_mut().poll(&mut cx);
        drop(open);
    }
    // Some dropped after the CQE arrived but before it was collected.
    for _ in 0..20 {
        let mut open = Box::pin(File::open(path));
        // On the ring this is always pending; a pool thread may finish first.
        let _ = open.as_mut().poll(&mut cx);
        ringbolt::time::sleep(Duration::from_millis(2)).await;
        drop(open);
    }
    settle().await;
    assert_eq!(open_fds(), before, "dropped opens leaked descriptors");
}

async fn drop_closes_once(path: &Path) {
    let before = open_fds();
    let file = File::open(path).await.unwrap();
    assert_eq!(open_fds(), before + 1);
    // A read in flight when the file is dropped keeps the fd open until it
    // completes; then the fd is closed.
    let (res, buf) = file.read_at(Vec::with_capacity(4), 0).await;
    assert_eq!(res.unwrap(), 4);
    assert_eq!(buf, b"some");
    {
        let mut read = pin!(file.read_at(Vec::with_capacity(4), 0));
        let waker = Waker::noop();
        let _ = read.as_mut().poll(&mut Context::from_waker(waker));
    }
    drop(file);
    settle().await;
    assert_eq!(open_fds(), before, "dropping a File did not close its fd");

    // Another file gets the number back; a second close of the old File
    // would close it under our feet, so it must stay usable.
    let other = File::open(path).await.unwrap();
    settle().await;
    let (res, buf) = other.read_at(Vec::with_capacity(12), 0).await;
    assert_eq!(res.unwrap(), 12);
    assert_eq!(buf, b"some content");
    assert_eq!(open_fds(), before + 1);
    drop(other);
    assert_eq!(open_fds(), before);
}

async fn close_returns_ok(path: &Path) {
    let before = open_fds();
    let file = File::open(path).await.unwrap();
    file.close().await.unwrap();
    assert_eq!(open_fds(), before);
    let file = File::create(path.with_extension("new")).await.unwrap();
    let (res, _) = file.write_all_at(b"abc".to_vec(), 0).await;
    res.unwrap();
    file.close().await.unwrap();
    assert_eq!(open_fds(), before);
    assert_eq!(fs::read(path.with_extension("new")).await.unwrap(), b"abc");
    fs::remove_file(path.with_extension("new")).await.unwrap();
    assert_eq!(open_fds(), before);
}
