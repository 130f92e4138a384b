//! Workers by id, for the rare paths that reach a worker from another
//! thread without holding its handle (an op dropped on a foreign thread,
//! a streaming receive released from another worker).

use std::sync::{Arc, Mutex, Weak};

use super::shared::{Remote, Shared};
use crate::driver::Orphan;

static WORKERS: Mutex<Vec<(u64, Weak<Shared>)>> = Mutex::new(Vec::new());

/// Records a live worker.
pub(crate) fn register(shared: &Arc<Shared>) {
    let mut w = WORKERS.lock().unwrap_or_else(|e| e.into_inner());
    w.retain(|(_, s)| s.strong_count() > 0);
    w.push((shared.id, Arc::downgrade(shared)));
}

/// Forgets a worker whose driver has shut down.
pub(crate) fn unregister(id: u64) {
    let mut w = WORKERS.lock().unwrap_or_else(|e| e.into_inner());
    w.retain(|(i, s)| *i != id && s.strong_count() > 0);
}

fn lookup(id: u64) -> Option<Arc<Shared>> {
    let w = WORKERS.lock().unwrap_or_else(|e| e.into_inner());
    w.iter()
        .find(|(i, _)| *i == id)
        .and_then(|(_, s)| s.upgrade())
}

/// Hands the data of an op dropped on a foreign thread to its worker, which
/// keeps it until the CQE. When the worker is gone its shutdown has reaped
/// every CQE, so the kernel is done with the data and it is dropped here.
pub(crate) fn send_orphan(worker: u64, key: usize, data: Box<dyn Orphan>) {
    match lookup(worker) {
        Some(shared) => shared.push(Remote::Orphan { key, data }),
        None => drop(data),
    }
}

/// Releases fixed-file slot `slot` of worker `worker`'s ring (its socket
/// was closed elsewhere). Nothing to do when the worker is gone: its ring
/// and its table are closed.
pub(crate) fn release_file(worker: u64, slot: u32) {
    if let Some(shared) = lookup(worker) {
        shared.push(Remote::ReleaseFile(slot));
    }
}
