//! Contract tests: oneshot.
#![cfg(not(loom))]
mod common;

use std::task::Poll;

use common::{block_on, Probe};
use ringbolt_sync::oneshot::{self, error::TryRecvError};

#[test]
fn send_then_receive() {
    let (tx, rx) = oneshot::channel();
    let mut rx = Probe::new(rx);
    assert!(rx.is_pending());
    assert!(tx.send(5).is_ok());
    assert_eq!(rx.woken(), 1);
    assert_eq!(rx.poll(), Poll::Ready(Ok(5)));
}

#[test]
fn send_to_dropped_receiver_gives_value_back() {
    let (tx, rx) = oneshot::channel();
    assert!(!tx.is_closed());
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(String::from("x")), Err(String::from("x")));
}

#[test]
fn dropped_sender_is_an_error() {
    let (tx, rx) = oneshot::channel::<u8>();
    drop(tx);
    assert!(block_on(rx).is_err());
}

#[test]
fn try_recv_and_close() {
    let (tx, mut rx) = oneshot::channel();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));

    let (mut tx, mut rx) = oneshot::channel::<u8>();
    let mut closed = Probe::new(async move {
        tx.closed().await;
        tx
    });
    assert!(closed.is_pending());
    rx.close();
    assert_eq!(closed.woken(), 1);
    let Poll::Ready(tx) = closed.poll() else {
        panic!("closed() must complete")
    };
    assert_eq!(tx.send(3), Err(3));
}

#[test]
fn across_threads() {
    for i in 0..200 {
        let (tx, rx) = oneshot::channel();
        let t = std::thread::spawn(move || tx.send(i).unwrap());
        assert_eq!(block_on(rx), Ok(i));
        t.join().unwrap();
    }
}
