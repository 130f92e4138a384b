//! The runtime says once per process, through `tracing`, which driver it
//! uses. One test in its own binary: the announcement is process-wide.

mod common;

use std::sync::{Arc, Mutex};

use common::Logged;
use ringbolt::{Builder, Driver};

#[test]
fn the_driver_is_announced_once() {
    let said = Arc::new(Mutex::new(Vec::new()));
    let kinds = tracing::subscriber::with_default(
        Logged {
            level: tracing::Level::INFO,
            lines: said.clone(),
        },
        || {
            let a = Builder::new().driver(Driver::Auto).build().unwrap();
            let b = Builder::new().driver(Driver::Auto).build().unwrap();
            (a.driver_kind(), b.driver_kind())
        },
    );
    assert_eq!(kinds.0, kinds.1);
    let said = said.lock().unwrap();
    let about: Vec<&String> = said.iter().filter(|t| t.contains("driver")).collect();
    assert_eq!(about.len(), 1, "{said:?}");
    let name = match kinds.0 {
        Driver::IoUring => "io_uring driver",
        _ => "thread-pool driver",
    };
    assert!(about[0].contains(name), "{}", about[0]);
}
