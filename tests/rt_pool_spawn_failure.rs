//! When the blocking pool cannot start a thread (a pids limit, no memory
//! for a stack), the thread-pool driver's I/O fails with that error instead
//! of panicking, and the runtime keeps running.
//!
//! Its own binary without the test harness: the failure is provoked with
//! `RUST_MIN_STACK`, which std reads once, at the first thread it starts,
//! so it must be set before any thread exists.

use std::io;
use std::time::Duration;

fn main() {
    // A stack no machine can map: every new thread fails to start.
    std::env::set_var("RUST_MIN_STACK", (1u64 << 46).to_string());
    let rt = ringbolt::Builder::new()
        .driver(ringbolt::Driver::ThreadPool)
        .build()
        .expect("the thread-pool driver starts no thread of its own");
    rt.block_on(async {
        let path = std::env::temp_dir().join(format!("ringbolt-nopool-{}", std::process::id()));
        for _ in 0..2 {
            let err = ringbolt::fs::write(&path, b"x").await.unwrap_err();
            assert_ne!(err.kind(), io::ErrorKind::Other, "{err}");
            assert!(
                err.to_string().contains("could not start a thread"),
                "{err}"
            );
        }
        // Calls that run as blocking tasks fail too, with an error.
        let err = ringbolt::fs::canonicalize(".").await.unwrap_err();
        assert!(err.to_string().contains("did not run"), "{err}");
        // Timers and tasks go on.
        ringbolt::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(ringbolt::spawn(async { 7 }).await.unwrap(), 7);
    });
    println!("rt_pool_spawn_failure: ok");
}
