//! The worker that runs on this thread, if any.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use super::Worker;

thread_local! {
    static CURRENT: Cell<*const Worker> = const { Cell::new(std::ptr::null()) };
    /// The workers created on this thread (their rings belong to it), also
    /// reachable when none is current (worker 0 between two `block_on`s).
    static OWNED: RefCell<Vec<Weak<Worker>>> = const { RefCell::new(Vec::new()) };
}

/// Records that `worker` (just created) belongs to this thread.
pub(crate) fn own(worker: &Rc<Worker>) {
    let _ = OWNED.try_with(|o| {
        let mut o = o.borrow_mut();
        o.retain(|w| w.strong_count() > 0);
        o.push(Rc::downgrade(worker));
    });
}

/// Runs `f` with worker `id` if it belongs to this thread (current or
/// not); `None` otherwise.
pub(crate) fn with_owned<R>(id: u64, f: impl FnOnce(&Worker) -> R) -> Option<R> {
    if with_current(|w| w.id == id).unwrap_or(false) {
        return with_current(f);
    }
    let worker = OWNED
        .try_with(|o| {
            o.borrow()
                .iter()
                .filter_map(Weak::upgrade)
                .find(|w| w.id == id)
        })
        .ok()
        .flatten()?;
    Some(f(&worker))
}

/// Runs `f` with this thread's worker; `None` outside a runtime.
pub(crate) fn with_current<R>(f: impl FnOnce(&Worker) -> R) -> Option<R> {
    let ptr = CURRENT.with(Cell::get);
    if ptr.is_null() {
        return None;
    }
    // SAFETY: a non-null pointer was stored by `enter`, whose guard holds an `Rc` to the worker for
    // as long as the pointer stays set, and it is reset when the guard drops; the cell is
    // thread-local, so no other thread sees it. Only shared references are handed out.
    Some(f(unsafe { &*ptr }))
}

/// The id of this thread's worker, if any.
pub(crate) fn current_id() -> Option<u64> {
    with_current(|w| w.id)
}

/// Makes `worker` this thread's current worker until the guard drops.
pub(crate) fn enter(worker: Rc<Worker>) -> EnterGuard {
    let prev = CURRENT.with(|c| c.replace(Rc::as_ptr(&worker)));
    EnterGuard {
        prev,
        _worker: worker,
    }
}

/// Restores the previous current worker on drop.
pub(crate) struct EnterGuard {
    prev: *const Worker,
    _worker: Rc<Worker>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.prev));
    }
}
