//! Bad builder values and refused ring setups give clear errors.

use std::io::ErrorKind;
use std::sync::{Arc, Mutex};

mod common;

use common::Logged;
use ringbolt::{Builder, Driver};

#[test]
fn invalid_ring_sizes_are_invalid_input() {
    for n in [0u32, 3, 100, 65536] {
        let e = Builder::new().ring_entries(n).build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{n}");
        assert!(e.to_string().contains("ring_entries"), "{e}");
    }
    let e = Builder::new()
        .ring_entries(64)
        .cq_entries(32)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = Builder::new().max_blocking_threads(0).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn valid_settings_build() {
    for n in [1u32, 2, 8, 4096] {
        let rt = Builder::new().ring_entries(n).build().unwrap();
        assert_eq!(rt.block_on(async { n }), n);
    }
    let Some(rt) = common::uring(Builder::new().taskrun_flags(false)) else {
        return;
    };
    assert_eq!(rt.ring_setup(), "none");
    rt.block_on(ringbolt::op::nop()).unwrap();
}

/// With `kernel.io_uring_disabled = 2` the setup is refused: the error
/// keeps its kind and names the cause. Changes a system-wide setting for a
/// moment, so it runs only when RINGBOLT_SYSCTL_TESTS=1 (CI sets it, with
/// --test-threads=1: a parallel test would see the knob too) and
/// only as root.
#[test]
fn a_refused_setup_names_the_cause() {
    const KNOB: &str = "/proc/sys/kernel/io_uring_disabled";
    if std::env::var("RINGBOLT_SYSCTL_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: set RINGBOLT_SYSCTL_TESTS=1 (as root) to run");
        return;
    }
    let Ok(old) = std::fs::read_to_string(KNOB) else {
        eprintln!("skipped: {KNOB} not readable");
        return;
    };
    if std::fs::write(KNOB, "2").is_err() {
        eprintln!("skipped: {KNOB} not writable");
        return;
    }
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let forced = Builder::new().driver(Driver::IoUring).build();
    let (auto, auto2) = tracing::subscriber::with_default(Logged::warnings(&warnings), || {
        (
            Builder::new().driver(Driver::Auto).build(),
            Builder::new().driver(Driver::Auto).build(),
        )
    });
    std::fs::write(KNOB, old.trim()).unwrap();
    // Auto says once, naming the cause and the fix.
    let warnings = warnings.lock().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("io_uring_disabled"), "{}", warnings[0]);
    assert!(
        warnings[0].contains("thread-pool driver"),
        "{}",
        warnings[0]
    );
    assert_eq!(auto2.unwrap().driver_kind(), Driver::ThreadPool);
    let e = forced.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("io_uring_disabled"), "{e}");
    // Auto falls back to the thread pool, and I/O still works.
    let rt = auto.unwrap();
    assert_eq!(rt.driver_kind(), Driver::ThreadPool);
    rt.block_on(ringbolt::op::nop()).unwrap();
    assert_eq!(rt.metrics().ops_blocking, 1);
}
