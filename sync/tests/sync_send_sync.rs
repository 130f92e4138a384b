//! Compile-time checks that the public types are `Send`/`Sync` as tokio's.
#![cfg(not(loom))]

use ringbolt_sync::*;

fn send<T: Send>() {}
fn sync<T: Sync>() {}
fn send_sync<T: Send + Sync>() {}

#[test]
fn types_are_send_and_sync() {
    send_sync::<Mutex<u8>>();
    send_sync::<MutexGuard<'static, u8>>();
    send_sync::<OwnedMutexGuard<u8>>();
    send_sync::<RwLock<u8>>();
    send_sync::<RwLockReadGuard<'static, u8>>();
    send_sync::<RwLockWriteGuard<'static, u8>>();
    send_sync::<Semaphore>();
    send_sync::<SemaphorePermit<'static>>();
    send_sync::<OwnedSemaphorePermit>();
    send_sync::<Notify>();
    send_sync::<Notified<'static>>();
    send_sync::<Barrier>();
    send_sync::<Event>();
    send_sync::<CancellationToken>();
    send_sync::<DropGuard>();
    send_sync::<WaitForCancellationFuture<'static>>();
    send_sync::<WaitForCancellationFutureOwned>();
    send_sync::<mpsc::Sender<u8>>();
    send_sync::<mpsc::Receiver<u8>>();
    send_sync::<mpsc::UnboundedSender<u8>>();
    send_sync::<mpsc::UnboundedReceiver<u8>>();
    send_sync::<oneshot::Sender<u8>>();
    send_sync::<oneshot::Receiver<u8>>();
    send_sync::<watch::Sender<u8>>();
    send_sync::<watch::Receiver<u8>>();
    send_sync::<broadcast::Sender<u8>>();
    send_sync::<broadcast::Receiver<u8>>();
    // A Mutex makes a Send-only value shareable.
    sync::<Mutex<std::cell::Cell<u8>>>();
    send::<Mutex<std::cell::Cell<u8>>>();
}

#[test]
fn futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let m = Mutex::new(0);
    is_send(&m.lock());
    let s = Semaphore::new(1);
    is_send(&s.acquire());
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    is_send(&tx.send(1));
    is_send(&rx.recv());
    let t = CancellationToken::new();
    is_send(&t.cancelled());
    is_send(&t.run_until_cancelled(async {}));
}
