//! Loom model of the bounded mpsc channel: capacity handoff and wake-ups.
#![cfg(loom)]

use loom::future::block_on;
use loom::thread;
use ringbolt_sync::mpsc;

/// Exhaustive by default (each model takes well under a minute); set
/// `LOOM_MAX_PREEMPTIONS=2` to bound it.
fn model(f: impl Fn() + Sync + Send + 'static) {
    loom::model(f);
}

#[test]
fn send_waits_for_room_and_order_holds() {
    model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let t = thread::spawn(move || {
            block_on(async {
                tx.send(1).await.unwrap();
                tx.send(2).await.unwrap();
            })
        });
        assert_eq!(block_on(rx.recv()), Some(1));
        assert_eq!(block_on(rx.recv()), Some(2));
        assert_eq!(block_on(rx.recv()), None);
        t.join().unwrap();
    });
}

#[test]
fn receiver_drop_fails_a_waiting_sender() {
    model(|| {
        let (tx, rx) = mpsc::channel(1);
        tx.try_send(0).unwrap();
        let t = thread::spawn(move || block_on(tx.send(1)).is_err());
        drop(rx);
        assert!(t.join().unwrap());
    });
}
