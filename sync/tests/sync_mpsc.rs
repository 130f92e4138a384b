//! Contract tests: mpsc.
#![cfg(not(loom))]
mod common;

use std::sync::Arc;
use std::task::Poll;

use common::{block_on, current_thread, multi_thread, Probe};
use ringbolt_sync::mpsc::{
    self,
    error::{TryRecvError, TrySendError},
};

#[test]
fn fifth_send_into_a_channel_of_four_waits_until_a_recv() {
    let (tx, mut rx) = mpsc::channel(4);
    for i in 0..4 {
        assert_eq!(Probe::new(tx.send(i)).poll(), Poll::Ready(Ok(())));
    }
    let mut fifth = Probe::new(tx.send(4));
    assert!(fifth.is_pending());
    assert!(fifth.is_pending(), "still pending without a recv");
    assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(fifth.woken(), 1);
    assert_eq!(fifth.poll(), Poll::Ready(Ok(())));
    let got: Vec<_> = (0..4).map(|_| rx.try_recv().unwrap()).collect();
    assert_eq!(got, vec![1, 2, 3, 4]);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn ten_thousand_items_in_order_current_thread() {
    current_thread().block_on(async {
        let (tx, mut rx) = mpsc::channel(16);
        let p = tokio::spawn(async move {
            for i in 0..10_000u32 {
                tx.send(i).await.unwrap();
            }
        });
        let mut expect = 0;
        while let Some(v) = rx.recv().await {
            assert_eq!(v, expect);
            expect += 1;
        }
        assert_eq!(expect, 10_000);
        p.await.unwrap();
    });
}

#[test]
fn many_producers_across_threads() {
    multi_thread().block_on(async {
        let (tx, mut rx) = mpsc::channel(8);
        for p in 0..4u32 {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in 0..2_500u32 {
                    tx.send((p, i)).await.unwrap();
                }
            });
        }
        drop(tx);
        let mut last = [None::<u32>; 4];
        let mut n = 0;
        while let Some((p, i)) = rx.recv().await {
            assert!(
                last[p as usize].is_none_or(|l| l + 1 == i),
                "per-producer order"
            );
            last[p as usize] = Some(i);
            n += 1;
        }
        assert_eq!(n, 10_000);
    });
}

#[test]
fn reserve_permit_and_close() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let permit = block_on(tx.reserve()).unwrap();
    assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
    permit.send(7);
    assert_eq!(rx.try_recv(), Ok(7));
    let permit = tx.try_reserve().unwrap();
    drop(permit);
    assert_eq!(tx.capacity(), 1, "dropped permit returns its slot");
    tx.try_send(1).unwrap();
    let mut waiting = Probe::new(tx.send(2));
    assert!(waiting.is_pending());
    rx.close();
    assert!(matches!(waiting.poll(), Poll::Ready(Err(_))));
    assert!(tx.is_closed());
    assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    assert_eq!(
        block_on(rx.recv()),
        Some(1),
        "buffered values survive close"
    );
    assert_eq!(block_on(rx.recv()), None);
}

#[test]
fn recv_returns_none_when_senders_are_gone_and_send_errs_when_rx_is_gone() {
    let (tx, mut rx) = mpsc::channel(2);
    let tx2 = tx.clone();
    let mut r = Probe::new(async move { (rx.recv().await, rx.recv().await) });
    assert!(r.is_pending());
    tx2.try_send(5).unwrap();
    drop(tx2);
    assert!(r.is_pending());
    drop(tx);
    assert_eq!(r.poll(), Poll::Ready((Some(5), None)));

    let (tx, rx) = mpsc::channel(2);
    drop(rx);
    assert_eq!(block_on(tx.send(1)).unwrap_err().0, 1);
    block_on(tx.closed());
}

#[test]
fn dropped_send_future_passes_its_slot_on() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let mut a = Probe::new(tx.send(1));
    let mut b = Probe::new(tx.send(2));
    assert!(a.is_pending());
    assert!(b.is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(a.woken(), 1);
    drop(a); // granted a slot, never used it
    assert_eq!(b.woken(), 1);
    assert_eq!(b.poll(), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn unbounded_in_order_and_closed() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    for i in 0..10_000 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.len(), 10_000);
    for i in 0..10_000 {
        assert_eq!(rx.try_recv(), Ok(i));
    }
    let mut r = Probe::new(async move {
        let v = rx.recv().await;
        (v, rx)
    });
    assert!(r.is_pending());
    tx.send(42).unwrap();
    assert_eq!(r.woken(), 1);
    let Poll::Ready((Some(42), mut rx)) = r.poll() else {
        panic!("expected 42")
    };
    rx.close();
    assert!(tx.send(1).is_err());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn ping_pong_across_os_threads() {
    let (tx_a, mut rx_a) = mpsc::channel::<u32>(1);
    let (tx_b, mut rx_b) = mpsc::channel::<u32>(1);
    let t = std::thread::spawn(move || {
        block_on(async move {
            while let Some(v) = rx_a.recv().await {
                tx_b.send(v + 1).await.unwrap();
            }
        })
    });
    block_on(async {
        let mut v = 0;
        for _ in 0..2_000 {
            tx_a.send(v).await.unwrap();
            v = rx_b.recv().await.unwrap();
        }
        assert_eq!(v, 2_000);
    });
    drop(tx_a);
    t.join().unwrap();
    let _ = Arc::new(());
}
