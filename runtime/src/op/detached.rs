//! Detached ops: submitted to the ring and left to run on their own.
//!
//! A detached op has no future. The driver holds its data from the
//! submission to the CQE, exactly as it holds the data of an op whose
//! future was dropped (the slot is `Orphaned` from the start, and nothing
//! cancels it). When the CQE is reaped, the completion function gets the
//! result and the data back. It runs once the driver borrow is released,
//! on the ring's thread, so it may drop buffers, take locks and wake tasks.
//!
//! This is what write-behind sends are made of: the task that queued the
//! send goes on at once instead of waiting for the send's CQE and being
//! polled a second time for it.

use std::cell::RefCell;
use std::io;

use super::shells::Shells;
use super::{cqe_result, OpCode};
use crate::driver::Orphan;
use crate::executor::context;

/// Submits `data` to this thread's ring without a future: `done` gets the
/// result and the data once the kernel is done with them (see the module
/// docs for where it runs).
///
/// The op reaches the kernel with the loop's next `io_uring_enter`, like
/// every op. It is not cancelled by anything but the runtime's shutdown,
/// which completes it with `ECANCELED` (or `done` sees whatever the kernel
/// answered first).
///
/// # Errors
///
/// Gives `data` and `done` back, untouched, when no ring here takes the
/// opcode: outside a runtime, under the thread-pool driver, or on a kernel
/// without it. The caller then performs the op some other way (awaiting
/// an [`Op`](super::Op), say). A multishot op ([`OpCode::multishot`]) is
/// given back too: `done` sees one result, so the items of every CQE but
/// the last (accepted descriptors, say) would be lost; run it as a
/// [`MultiOp`](super::MultiOp).
///
/// If the ring refuses the submission (only a broken ring does), `done`
/// is called with that error.
pub fn submit_detached<T, F>(data: T, done: F) -> Result<(), (T, F)>
where
    T: OpCode,
    F: FnOnce(io::Result<u32>, T) + Send + 'static,
{
    if data.multishot() {
        return Err((data, done));
    }
    let mut parts = Some((data, done));
    let submitted = context::with_current(|w| {
        let ring = w.ring()?;
        let (mut data, done) = parts.take()?;
        // Built before the driver is borrowed: it may register the fd.
        let sqe = data.sqe();
        let finished = {
            let mut driver = ring.borrow_mut();
            if !driver.features().supports(sqe.get_opcode() as u8) {
                parts = Some((data, done));
                return None;
            }
            // An emptied box of this type if the worker kept one (see
            // `shells`), else a new one.
            let kept: Option<Box<Detached<T, F>>> =
                w.shells.try_borrow_mut().ok().and_then(|mut s| s.take());
            let detached = match kept {
                // Field by field: the old (empty) value needs no drop.
                Some(mut shell) => {
                    shell.data = Some(data);
                    shell.done = Some(done);
                    shell.res = None;
                    shell
                }
                None => Box::new(Detached {
                    data: Some(data),
                    done: Some(done),
                    res: None,
                }),
            };
            // A refused submission leaves the box in the finished orphans
            // with the error recorded; it is dropped (and `done` called)
            // below, outside the borrow.
            // SAFETY: the OpCode contract makes every pointer in the SQE
            // point into heap memory owned by `data`, which the driver
            // holds in the op's slot until its CQE.
            unsafe { driver.submit_detached(sqe, detached) };
            driver.take_finished_orphans()
        };
        drop(finished);
        Some(())
    })
    .flatten();
    match (submitted, parts) {
        (Some(()), _) => Ok(()),
        (None, Some(parts)) => Err(parts),
        (None, None) => unreachable!("the op is either submitted or given back"),
    }
}

/// A detached op's data and completion function, kept in its slot.
struct Detached<T, F: FnOnce(io::Result<u32>, T)> {
    data: Option<T>,
    done: Option<F>,
    /// The CQE's result, once it arrived.
    res: Option<i32>,
}

impl<T: OpCode, F> Orphan for Detached<T, F>
where
    F: FnOnce(io::Result<u32>, T) + Send + 'static,
{
    // Inside the driver borrow: only record the result; `done` runs when
    // the driver drops the box, outside the borrow.
    fn complete(&mut self, res: i32, _flags: u32) {
        self.res = Some(res);
    }

    // Outside the borrow: the emptied box goes back to the worker first, so
    // that `done` submitting again (a short send's rest) can reuse it.
    fn finish(mut self: Box<Self>, shells: &RefCell<Shells>) {
        let parts = (self.data.take(), self.done.take());
        let res = self.res.take().unwrap_or(-libc::ECANCELED);
        if let Ok(mut shells) = shells.try_borrow_mut() {
            shells.put(self);
        }
        if let (Some(data), Some(done)) = parts {
            done(cqe_result(res), data);
        }
    }
}

impl<T, F: FnOnce(io::Result<u32>, T)> Drop for Detached<T, F> {
    fn drop(&mut self) {
        if let (Some(data), Some(done)) = (self.data.take(), self.done.take()) {
            // Every slot gets its CQE (or, refused, the ring's error)
            // before the driver drops it; a driver whose shutdown gives up
            // waiting leaks its slots instead. So no result here would be
            // a slot dropped without one: report the op as cancelled.
            let res = self.res.unwrap_or(-libc::ECANCELED);
            done(cqe_result(res), data);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::op::Nop;

    static DONE: AtomicUsize = AtomicUsize::new(0);

    fn done(res: io::Result<u32>, _nop: Nop) {
        assert_eq!(res.unwrap(), 0);
        DONE.fetch_add(1, Ordering::SeqCst);
    }

    type Done = fn(io::Result<u32>, Nop);

    fn kept() -> usize {
        context::with_current(|w| w.shells.borrow().kept::<Detached<Nop, Done>>()).unwrap()
    }

    async fn until_done(n: usize) {
        for _ in 0..10_000 {
            if DONE.load(Ordering::SeqCst) >= n {
                return;
            }
            crate::yield_now().await;
        }
        panic!("the detached nop never completed");
    }

    #[test]
    fn a_finished_box_is_kept_and_the_next_submission_refills_it() {
        let rt = match crate::Builder::new().driver(crate::Driver::IoUring).build() {
            Ok(rt) => rt,
            Err(e) => return eprintln!("skipped: no io_uring here: {e}"),
        };
        rt.block_on(async {
            assert_eq!(kept(), 0);
            assert!(submit_detached(Nop::new(), done as Done).is_ok());
            until_done(1).await;
            assert_eq!(kept(), 1, "the finished op's box is kept");
            assert!(submit_detached(Nop::new(), done as Done).is_ok());
            assert_eq!(kept(), 0, "the next submission took it");
            until_done(2).await;
            assert_eq!(kept(), 1, "and it came back");
        });
    }
}
