//! Contract tests: watch broadcast.
#![cfg(not(loom))]
mod common;

use std::task::Poll;

use common::{block_on, current_thread, Probe};
use ringbolt_sync::broadcast::{self, error::RecvError};
use ringbolt_sync::watch;

#[test]
fn watch_changed_and_borrow() {
    let (tx, mut rx) = watch::channel(0);
    assert!(!rx.has_changed().unwrap());
    let mut rx2 = rx.clone();
    let mut c = Probe::new(async move {
        rx2.changed().await.unwrap();
        *rx2.borrow_and_update()
    });
    assert!(c.is_pending());
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert_eq!(c.poll(), Poll::Ready(2), "sees the latest value");
    assert!(rx.has_changed().unwrap());
    assert!(rx.borrow().has_changed());
    assert_eq!(*rx.borrow_and_update(), 2);
    assert!(!rx.has_changed().unwrap());
    tx.send_modify(|v| *v += 10);
    assert_eq!(*tx.borrow(), 12);
    assert!(!tx.send_if_modified(|_| false));
    drop(tx);
    assert!(block_on(rx.changed()).is_ok(), "unseen value first");
    assert!(block_on(rx.changed()).is_err());
}

#[test]
fn watch_send_fails_without_receivers() {
    let (tx, rx) = watch::channel(1);
    let rx2 = tx.subscribe();
    drop(rx);
    assert!(tx.send(2).is_ok());
    drop(rx2);
    assert!(tx.is_closed());
    assert_eq!(tx.send(3).unwrap_err().0, 3);
    block_on(tx.closed());
}

#[test]
fn broadcast_every_receiver_gets_every_value() {
    current_thread().block_on(async {
        let (tx, mut a) = broadcast::channel(100); // `a` reads only after all sends
        let mut b = tx.subscribe();
        let h = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Ok(v) = b.recv().await {
                got.push(v);
            }
            got
        });
        for i in 0..100 {
            tx.send(i).unwrap();
            tokio::task::yield_now().await;
        }
        drop(tx);
        let mut got = Vec::new();
        loop {
            match a.recv().await {
                Ok(v) => got.push(v),
                Err(RecvError::Closed) => break,
                Err(RecvError::Lagged(n)) => panic!("lagged {n}"),
            }
        }
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        assert_eq!(h.await.unwrap(), got);
    });
}

#[test]
fn broadcast_lagged_receiver_is_told_how_many_it_missed() {
    let (tx, mut rx) = broadcast::channel(4);
    for i in 0..10 {
        assert_eq!(tx.send(i).unwrap(), 1);
    }
    assert_eq!(block_on(rx.recv()), Err(RecvError::Lagged(6)));
    for i in 6..10 {
        assert_eq!(block_on(rx.recv()), Ok(i));
    }
    let mut r = Probe::new(async move { rx.recv().await });
    assert!(r.is_pending());
    tx.send(10).unwrap();
    assert_eq!(r.woken(), 1);
    assert_eq!(r.poll(), Poll::Ready(Ok(10)));
}

#[test]
fn broadcast_send_without_receivers_fails() {
    let (tx, rx) = broadcast::channel::<u8>(2);
    drop(rx);
    assert_eq!(tx.send(1).unwrap_err().0, 1);
    let _rx = tx.subscribe();
    assert_eq!(tx.send(2), Ok(1));
}
