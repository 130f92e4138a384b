//! Loom models of the oneshot channel and `Notify`.
#![cfg(loom)]

use std::sync::Arc;

use loom::future::block_on;
use loom::thread;
use ringbolt_sync::{oneshot, Notify};

/// Exhaustive by default (each model takes well under a minute); set
/// `LOOM_MAX_PREEMPTIONS=2` to bound it.
fn model(f: impl Fn() + Sync + Send + 'static) {
    loom::model(f);
}

#[test]
fn send_and_receive_across_threads() {
    model(|| {
        let (tx, rx) = oneshot::channel();
        let t = thread::spawn(move || tx.send(7).unwrap());
        assert_eq!(block_on(rx), Ok(7));
        t.join().unwrap();
    });
}

#[test]
fn send_races_receiver_drop() {
    model(|| {
        let (tx, rx) = oneshot::channel::<Arc<()>>();
        let v = Arc::new(());
        let v2 = v.clone();
        let t = thread::spawn(move || tx.send(v2).is_ok());
        drop(rx);
        let _sent = t.join().unwrap();
        // Whichever way it went, the value was dropped exactly once.
        assert_eq!(Arc::strong_count(&v), 1);
    });
}

#[test]
fn sender_drop_wakes_receiver() {
    model(|| {
        let (tx, rx) = oneshot::channel::<u8>();
        let t = thread::spawn(move || drop(tx));
        assert!(block_on(rx).is_err());
        t.join().unwrap();
    });
}

#[test]
fn closed_wakes_sender() {
    model(|| {
        let (mut tx, mut rx) = oneshot::channel::<u8>();
        let t = thread::spawn(move || {
            block_on(tx.closed());
        });
        rx.close();
        t.join().unwrap();
    });
}

#[test]
fn notify_one_is_not_lost() {
    model(|| {
        let n = Arc::new(Notify::new());
        let n2 = n.clone();
        let t = thread::spawn(move || block_on(n2.notified()));
        n.notify_one();
        t.join().unwrap();
    });
}
