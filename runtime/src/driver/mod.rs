//! The io_uring driver: one ring per worker thread and the lifecycle of every
//! operation on it.
//!
//! # The op lifecycle
//!
//! An operation is a value implementing [`OpCode`](crate::op::OpCode) held
//! by an [`Op`](crate::op::Op) future. The first poll builds its SQE,
//! allocates a slot in this driver's [`Slab`] and uses the slot's key as the
//! SQE's `user_data`. From then on the slot says where the operation is:
//!
//! ```text
//!   poll ──► Waiting(waker) ──CQE──► Completed{res,flags} ──poll──► (slot freed, data returned)
//!               │
//!             drop of the Op before the CQE
//!               ▼
//!            Orphaned(data) ──CQE──► Orphan::complete(res) then data dropped, slot freed
//! ```
//!
//! Multishot ops take one of two shapes. A [`MultiOp`](crate::op::MultiOp)
//! (multishot accept) queues its CQEs in its slot until the stream that
//! owns it polls them. A streaming op ([`crate::op::streaming`], the
//! buffer-ring receive) hands each CQE to its `Sink` during the reap, so
//! its owner finds the chunk already in its own queue. After its last CQE
//! the slot stays `Completed` until the owner releases it. The driver
//! holds the op's data until then; a release before the last CQE makes the
//! slot `Orphaned` and cancels the op.
//!
//! # The invariant
//!
//! **Memory the kernel may still write is never freed.** The op's data
//! (buffers, paths, socket addresses) is owned by the `Op` future while it
//! waits. If the future is dropped before the CQE arrives, the data moves
//! into the slot (`Orphaned`), an `IORING_OP_ASYNC_CANCEL` is submitted for
//! the key, and the data is freed only when the op's own CQE is reaped. The
//! `OpCode` contract requires every pointer in an SQE to point into heap
//! memory owned by the op (or `'static` memory), so moving the data into the
//! slot does not move what the kernel sees.
//!
//! File descriptors that a late completion returns (an `openat` or `accept`
//! that finished after its future was dropped) are closed by
//! `Orphan::complete`, so every descriptor is closed exactly once.
//!
//! When the driver itself is dropped, every in-flight op is cancelled and the
//! driver waits for all of their CQEs before the ring is closed. Ops still
//! owned by live futures then hold data the kernel no longer references.
//!
//! # The loop's contract with the ring
//!
//! SQEs are only pushed into the submission queue by `Op` polls; they reach
//! the kernel in the single `io_uring_enter` of the next loop iteration,
//! which also waits for completions (with the next timer deadline as its
//! timeout, IORING_ENTER_EXT_ARG). A full SQ is flushed with an extra enter
//! and the push retried: no SQE is ever dropped. The CQ is drained in one
//! pass; the wakers are collected and woken only after the driver's borrow is
//! released, so no user code runs while the ring is borrowed.
//!
//! With IORING_SETUP_DEFER_TASKRUN (the default when the kernel has it) the
//! kernel posts completions only when this thread enters the ring with
//! GETEVENTS, so the loop enters even when it has nothing to submit whenever
//! the kernel's TASKRUN flag says work is pending.

mod feature;
mod files;
mod lifecycle;
mod pool;
mod readiness;
mod ring_fd;
mod setup;

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use io_uring::{opcode, squeue, types, EnterFlags, IoUring};
use slab::Slab;

pub use feature::Feature;
pub(crate) use feature::{opcode_name, Disabled};
pub(crate) use lifecycle::{DropLater, Lifecycle, Orphan, Sink};
pub(crate) use pool::PoolDriver;
pub(crate) use readiness::{Readiness, WaitToken, READABLE, WRITABLE};
pub(crate) use setup::{Features, RingConfig};

use crate::metrics::worker::WorkerMetrics;

/// `user_data` of the cancel SQEs: their CQEs carry nothing we need.
const CANCEL_KEY: u64 = u64::MAX;
/// `user_data` of the always-armed read of the wake-up eventfd.
const EVENTFD_KEY: u64 = u64::MAX - 1;
/// The longest a worker sleeps while its eventfd read is not armed.
const UNARMED_WAIT: Duration = Duration::from_millis(1);
/// `user_data` of the IORING_OP_TIMEOUT that bounds a wait on kernels (or
/// configurations) without IORING_FEAT_EXT_ARG.
const TIMEOUT_KEY: u64 = u64::MAX - 2;

/// The ring of one worker and the slab of its in-flight operations.
pub(crate) struct Driver {
    /// How enters name the ring (its registered index when the kernel has
    /// registered rings). Declared before `ring` so that it drops first:
    /// undoing the registration needs the ring's descriptor still open.
    ring_fd: ring_fd::RingFd,
    ring: IoUring,
    ops: Slab<Lifecycle>,
    /// Ops in the slab whose CQE has not arrived yet.
    in_flight: usize,
    features: Features,
    eventfd: RawFd,
    /// The eventfd read writes here; boxed so it never moves.
    eventfd_buf: Box<[u8; 8]>,
    eventfd_armed: bool,
    /// Deadline of the armed IORING_OP_TIMEOUT (waits without EXT_ARG).
    timeout_armed: Option<std::time::Instant>,
    /// Its timespec (the kernel copies it when the SQE is submitted).
    timeout_ts: Box<types::Timespec>,
    /// Scratch space for CQEs copied out of the ring.
    cqe_buf: Vec<(u64, i32, u32)>,
    /// Set by `cancel_all_and_wait`: the eventfd read is not re-armed.
    shutting_down: bool,
    /// Wakers collected by a reap done inside a push (SQ full); woken by
    /// the loop once the driver is no longer borrowed.
    pending_wakers: Vec<Waker>,
    /// Wakers taken from multishot ops by reaps, with the op's key: the
    /// loop wakes each by reference and hands it back (`return_waker`), so
    /// the op's next wait finds it in place and clones nothing (on a task
    /// waker, a clone and a wake by value are two atomic operations, a wake
    /// by reference one).
    lent: Vec<(usize, Waker)>,
    /// Data of orphaned ops that completed; dropped outside the borrow.
    finished_orphans: Vec<Box<dyn Orphan>>,
    /// The worker's metrics (counters and sampled op latencies).
    metrics: Arc<WorkerMetrics>,
    /// Opcode and (for sampled ops) submission time of each slab key.
    op_meta: Vec<(u8, Option<Instant>)>,
    /// Ops submitted so far (picks the sampled ones).
    op_seq: u64,
    /// The fixed-file table (sockets used often on this ring).
    files: files::FileTable,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("in_flight", &self.in_flight)
            .field("features", &self.features)
            .field("ops_submitted", &self.metrics.counters.ops_submitted.get())
            .finish_non_exhaustive()
    }
}

/// What one reap found.
#[derive(Debug, Default)]
pub(crate) struct Reaped {
    /// The wake-up eventfd fired: the remote queue has work.
    pub(crate) remote_wake: bool,
}

impl Driver {
    /// Creates the ring; `eventfd` is the worker's wake-up descriptor, which
    /// must stay open as long as the driver lives.
    pub(crate) fn new(
        cfg: &RingConfig,
        eventfd: RawFd,
        metrics: Arc<WorkerMetrics>,
    ) -> io::Result<Driver> {
        let (ring, features) = setup::build_ring(cfg)?;
        let ring_fd = ring_fd::RingFd::register(ring.as_raw_fd());
        let mut driver = Driver {
            ring_fd,
            ring,
            ops: Slab::with_capacity(cfg.sq_entries as usize),
            in_flight: 0,
            features,
            eventfd,
            eventfd_buf: Box::new([0; 8]),
            eventfd_armed: false,
            shutting_down: false,
            cqe_buf: Vec::new(),
            timeout_armed: None,
            timeout_ts: Box::new(types::Timespec::new()),
            pending_wakers: Vec::new(),
            lent: Vec::new(),
            finished_orphans: Vec::new(),
            metrics,
            op_meta: Vec::new(),
            op_seq: 0,
            files: files::FileTable::default(),
        };
        driver.arm_eventfd()?;
        Ok(driver)
    }

    /// The features found at start-up.
    pub(crate) fn features(&self) -> &Features {
        &self.features
    }

    /// Ops submitted whose completion has not been reaped.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Submits `sqe` for an op whose future waits with `waker`; returns the
    /// slab key. Nothing is pushed when an error is returned.
    ///
    /// # Safety
    ///
    /// Every buffer the SQE points to must stay valid (and, for the kernel's
    /// writes, exclusively owned) until the op's CQE is reaped, also when the
    /// future that owns it is dropped: the caller hands its data to
    /// [`Driver::orphan`] in that case.
    pub(crate) unsafe fn submit(&mut self, sqe: squeue::Entry, waker: Waker) -> io::Result<usize> {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.submit_as(sqe, Lifecycle::Waiting(waker)) }
    }

    /// Like [`Driver::submit`], for a multishot op whose CQEs queue up until
    /// collected by [`Driver::poll_multishot`].
    ///
    /// # Safety
    ///
    /// As for [`Driver::submit`], until the op's last CQE.
    pub(crate) unsafe fn submit_multishot(
        &mut self,
        sqe: squeue::Entry,
        waker: Waker,
    ) -> io::Result<usize> {
        let state = Lifecycle::Multishot {
            waker: Some(waker),
            results: std::collections::VecDeque::new(),
            done: false,
        };
        // SAFETY: forwarded from this function's contract.
        unsafe { self.submit_as(sqe, state) }
    }

    /// Submits a streaming multishot op: every CQE goes to `sink` as it is
    /// reaped; the driver keeps `data` (what the SQE points to) until the
    /// last CQE. The slot stays the caller's until it releases it with
    /// [`Driver::orphan`] (after the op ended, or to cancel it). On error
    /// nothing is pushed and `sink` and `data` are left in the finished
    /// orphans, to be dropped outside the borrow.
    ///
    /// # Safety
    ///
    /// Every buffer the SQE points to must be owned by `data` (or outlive
    /// the op by other means), as for [`Driver::submit`].
    pub(crate) unsafe fn submit_streaming(
        &mut self,
        sqe: squeue::Entry,
        sink: Arc<dyn Sink>,
        data: Box<dyn Orphan>,
    ) -> io::Result<usize> {
        // SAFETY: forwarded from this function's contract; the slot holds
        // `data` until the op's last CQE.
        unsafe { self.submit_as(sqe, Lifecycle::Streaming { sink, data }) }
    }

    /// Submits an op that has no future: its slot is `Orphaned` from the
    /// start, so the CQE goes to `data`'s [`Orphan::complete`] and `data`
    /// to the finished orphans. If the ring refuses the submission, `data`
    /// completes with that error at once.
    ///
    /// # Safety
    ///
    /// Every buffer the SQE points to must be owned by `data` (or outlive
    /// the op by other means), as for [`Driver::submit`].
    pub(crate) unsafe fn submit_detached(&mut self, sqe: squeue::Entry, data: Box<dyn Orphan>) {
        // SAFETY: forwarded from this function's contract; the slot holds
        // `data` until the op's CQE.
        if let Err(e) = unsafe { self.submit_as(sqe, Lifecycle::Orphaned(data)) } {
            // `submit_as` left the box in the finished orphans.
            if let Some(data) = self.finished_orphans.last_mut() {
                data.complete(-e.raw_os_error().unwrap_or(libc::EIO), 0);
            }
        }
    }

    /// # Safety
    ///
    /// As for [`Driver::submit`].
    unsafe fn submit_as(&mut self, sqe: squeue::Entry, state: Lifecycle) -> io::Result<usize> {
        let opcode = sqe.get_opcode() as u8;
        let key = self.ops.insert(state);
        let sqe = sqe.user_data(key as u64);
        // SAFETY: the caller guarantees the SQE's buffers outlive the op.
        if let Err(e) = unsafe { self.push(&sqe) } {
            match self.ops.remove(key) {
                Lifecycle::Streaming { sink, data } => {
                    self.finished_orphans.push(data);
                    self.finished_orphans.push(Box::new(DropLater(sink)));
                }
                // Dropped outside the borrow, like any orphan's data.
                Lifecycle::Orphaned(data) => self.finished_orphans.push(data),
                _ => {}
            }
            return Err(e);
        }
        self.in_flight += 1;
        self.op_seq += 1;
        let sampled = self.metrics.sample(self.op_seq).then(Instant::now);
        if self.op_meta.len() <= key {
            self.op_meta.resize(key + 1, (0, None));
        }
        self.op_meta[key] = (opcode, sampled);
        let c = &self.metrics.counters;
        c.ops_submitted.inc();
        if let Some(by_op) = c.submitted_by_op.get(usize::from(opcode)) {
            by_op.inc();
        }
        Ok(key)
    }

    /// Pushes an SQE, flushing the SQ (and reaping, if the kernel is busy)
    /// as often as needed to make room. Never drops the SQE.
    ///
    /// # Safety
    ///
    /// As for [`squeue::SubmissionQueue::push`]: the SQE's buffers must stay
    /// valid until its completion.
    unsafe fn push(&mut self, sqe: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: forwarded from this function's contract.
            if unsafe { self.ring.submission().push(sqe) }.is_ok() {
                return Ok(());
            }
            self.metrics.counters.sq_full.inc();
            self.flush()?;
        }
    }

    /// Submits what is queued now, without waiting; used when the SQ is full.
    fn flush(&mut self) -> io::Result<()> {
        loop {
            match self.enter_raw(0, None) {
                Ok(()) => return Ok(()),
                // The kernel could not take SQEs while its CQ overflow list is
                // non-empty: drain the CQ and try again.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    let mut wakers = std::mem::take(&mut self.pending_wakers);
                    self.reap(&mut wakers);
                    self.pending_wakers = wakers;
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => return Err(e),
            }
            if !self.ring.submission().is_full() {
                return Ok(());
            }
        }
    }

    /// One `io_uring_enter` that submits the SQ and reaps what the kernel has.
    /// `min_complete` 0 never blocks; 1 waits for a completion, at most
    /// `timeout` when given.
    fn enter_raw(&mut self, min_complete: u32, timeout: Option<Duration>) -> io::Result<()> {
        let to_submit = self.ring.submission().len() as u32;
        self.metrics.counters.ring_enters.inc();
        let flags = EnterFlags::GETEVENTS.bits();
        let res = match timeout {
            Some(t) if min_complete > 0 && self.features.ext_arg => {
                let ts = types::Timespec::from(t);
                let args = types::SubmitArgs::new().timespec(&ts);
                // SAFETY: `args` is a valid io_uring_getevents_arg (the crate's
                // SubmitArgs is repr(transparent) over it) that lives across
                // the call; EXT_ARG tells the kernel to read it as such.
                unsafe {
                    self.ring_fd.enter(
                        to_submit,
                        min_complete,
                        flags | EnterFlags::EXT_ARG.bits(),
                        Some(&args),
                    )
                }
            }
            // SAFETY: no argument pointer is passed; flags are plain GETEVENTS.
            _ => unsafe {
                self.ring_fd
                    .enter::<libc::sigset_t>(to_submit, min_complete, flags, None)
            },
        };
        res.map(|_| ())
    }

    /// The loop's one enter per iteration: submit everything queued and, when
    /// `wait`, sleep until a completion or `timeout`. Skips the syscall when
    /// there is nothing to submit, no waiting is wanted and the kernel has no
    /// deferred work for us.
    pub(crate) fn enter(&mut self, wait: bool, timeout: Option<Duration>) -> io::Result<()> {
        // Without its eventfd read armed (its re-arm failed), a sleeping
        // worker would not see wakes and spawns from other threads: sleep
        // briefly instead, and re-arm at the next reap.
        let timeout = if wait && !self.eventfd_armed && !self.shutting_down {
            Some(timeout.map_or(UNARMED_WAIT, |t| t.min(UNARMED_WAIT)))
        } else {
            timeout
        };
        let mut sq = self.ring.submission();
        sq.sync();
        let idle = sq.is_empty();
        let cq_overflow = sq.cq_overflow();
        let taskrun = sq.taskrun();
        drop(sq);
        if cq_overflow {
            self.metrics.counters.cq_overflows.inc();
        }
        let kernel_has_work = cq_overflow || (self.features.defer_taskrun && taskrun);
        if !wait && idle && !kernel_has_work {
            return Ok(());
        }
        if wait {
            // The count other threads read is otherwise set only after the
            // next reap: ops submitted just now would stay unseen for as
            // long as this worker sleeps.
            self.metrics
                .counters
                .ops_in_flight
                .set(self.in_flight as u64);
        }
        if wait && !self.features.ext_arg {
            if let Some(t) = timeout {
                self.arm_timeout(t);
            }
        }
        match self.enter_raw(u32::from(wait), timeout) {
            Ok(()) => Ok(()),
            Err(e) => match e.raw_os_error() {
                // Timed out, interrupted by a signal, or the CQ overflow list
                // must be drained first: all are normal here.
                Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN) => {
                    Ok(())
                }
                // The kernel dropped completions it could not allocate an
                // overflow entry for (reported once, then cleared): the
                // ring itself is fine. The kernel counts them in the CQ's
                // overflow field, which the reap copies to `cq_dropped`.
                Some(libc::EBADR) => Ok(()),
                _ => Err(e),
            },
        }
    }

    /// Copies every CQE out of the ring, updating the slots; wakers to wake
    /// are appended to `wakers` (woken by the caller after the driver borrow
    /// is released).
    pub(crate) fn reap(&mut self, wakers: &mut Vec<Waker>) -> Reaped {
        let mut reaped = Reaped::default();
        wakers.append(&mut self.pending_wakers);
        // Copy the CQEs out in one pass, then update the slots.
        let mut cqes = std::mem::take(&mut self.cqe_buf);
        let mut cq = self.ring.completion();
        cq.sync();
        let dropped = u64::from(cq.overflow());
        cqes.extend((&mut cq).map(|c| (c.user_data(), c.result(), c.flags())));
        drop(cq);
        for (user_data, res, flags) in cqes.drain(..) {
            match user_data {
                CANCEL_KEY => {}
                TIMEOUT_KEY => {
                    if res == -libc::ETIME {
                        self.timeout_armed = None;
                    }
                }
                EVENTFD_KEY => {
                    self.eventfd_armed = false;
                    reaped.remote_wake = true;
                }
                key => self.complete(key as usize, res, flags, wakers),
            }
        }
        self.cqe_buf = cqes;
        self.metrics.counters.cq_dropped.max(dropped);
        self.metrics
            .counters
            .ops_in_flight
            .set(self.in_flight as u64);
        if !self.eventfd_armed && !self.shutting_down {
            // A failure here leaves remote wakes to the next iteration's
            // re-arm; meanwhile `enter` bounds every wait by UNARMED_WAIT.
            let _ = self.arm_eventfd();
        }
        reaped
    }

    /// Records one CQE of op `key`. An op stays in flight until a CQE
    /// without IORING_CQE_F_MORE arrives.
    fn complete(&mut self, key: usize, res: i32, flags: u32, wakers: &mut Vec<Waker>) {
        let more = io_uring::cqueue::more(flags);
        if !self.ops.contains(key) {
            return;
        }
        if !more {
            self.in_flight -= 1;
            self.count_completion(key);
        }
        let Some(slot) = self.ops.get_mut(key) else {
            return;
        };
        match slot {
            Lifecycle::Waiting(_) if !more => {
                if let Lifecycle::Waiting(waker) =
                    std::mem::replace(slot, Lifecycle::Completed { res, flags })
                {
                    wakers.push(waker);
                }
            }
            // A single-shot op posting F_MORE (SEND_ZC's first CQE): keep
            // waiting for its last CQE, which is the one reported.
            Lifecycle::Waiting(_) => {}
            Lifecycle::Multishot {
                waker,
                results,
                done,
            } => {
                results.push_back((res, flags));
                *done = !more;
                if let Some(w) = waker.take() {
                    self.lent.push((key, w));
                }
            }
            Lifecycle::Streaming { sink, .. } => {
                sink.deliver(res, flags, wakers);
                if !more {
                    // Ended: the slot waits for its owner's release.
                    let ended = std::mem::replace(slot, Lifecycle::Completed { res, flags });
                    if let Lifecycle::Streaming { sink, data } = ended {
                        self.finished_orphans.push(data);
                        self.finished_orphans.push(Box::new(DropLater(sink)));
                    }
                }
            }
            Lifecycle::Orphaned(data) => {
                data.complete(res, flags);
                if !more {
                    if let Lifecycle::Orphaned(data) = self.ops.remove(key) {
                        self.finished_orphans.push(data);
                    }
                }
            }
            Lifecycle::Completed { .. } => {}
        }
    }

    /// Counts the last CQE of op `key`, and its latency if it was sampled.
    fn count_completion(&mut self, key: usize) {
        let c = &self.metrics.counters;
        c.ops_completed.inc();
        if let Some(&mut (opcode, ref mut sampled)) = self.op_meta.get_mut(key) {
            if let Some(by_op) = c.completed_by_op.get(usize::from(opcode)) {
                by_op.inc();
            }
            if let Some(t) = sampled.take() {
                self.metrics.record_op(opcode, t.elapsed());
            }
        }
    }

    /// Counts the cancellation of op `key`.
    fn count_cancel(&self, key: usize) {
        let c = &self.metrics.counters;
        c.ops_cancelled.inc();
        if let Some(&(opcode, _)) = self.op_meta.get(key) {
            if let Some(by_op) = c.cancelled_by_op.get(usize::from(opcode)) {
                by_op.inc();
            }
        }
    }

    /// Polls multishot op `key`: its next result, `None` once its last CQE
    /// was collected (the slot is then freed).
    pub(crate) fn poll_multishot(
        &mut self,
        key: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(i32, u32)>> {
        match self.ops.get_mut(key) {
            Some(Lifecycle::Multishot {
                waker,
                results,
                done,
            }) => {
                if let Some(r) = results.pop_front() {
                    return Poll::Ready(Some(r));
                }
                if *done {
                    self.ops.remove(key);
                    return Poll::Ready(None);
                }
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            _ => Poll::Ready(None),
        }
    }

    /// Whether a reap inside a push (SQ full) left wakers to wake: the loop
    /// must not block in the ring before waking them.
    pub(crate) fn has_deferred_wakes(&self) -> bool {
        !self.pending_wakers.is_empty() || !self.lent.is_empty()
    }

    /// Moves the multishot wakers lent out by reaps into `out`: the caller
    /// wakes each by reference, outside the driver borrow, then gives it
    /// back with [`Driver::return_waker`].
    pub(crate) fn take_lent(&mut self, out: &mut Vec<(usize, Waker)>) {
        out.append(&mut self.lent);
    }

    /// Puts a lent waker back into multishot op `key`, unless the op has
    /// meanwhile ended or registered another waker (then it is dropped).
    /// Only a multishot slot without a waker takes it. Should the key have
    /// been reused meanwhile by an op whose own waker is lent out in the
    /// same batch, that op gets this waker: harmless, since its next
    /// pending poll replaces a waker that does not `will_wake`, and its own
    /// waker is woken from the same batch (at worst one spurious wake).
    pub(crate) fn return_waker(&mut self, key: usize, lent: Waker) {
        if let Some(Lifecycle::Multishot {
            waker: slot @ None, ..
        }) = self.ops.get_mut(key)
        {
            *slot = Some(lent);
        }
    }

    /// Data of orphaned ops whose CQE arrived, to be dropped by the caller
    /// outside the driver borrow (a buffer's `Drop` may be user code).
    ///
    /// Called after every submission that may leave data behind, where the
    /// list is almost always empty: then it keeps its capacity (taking it
    /// would make the next reap grow the list again from nothing).
    pub(crate) fn take_finished_orphans(&mut self) -> Vec<Box<dyn Orphan>> {
        if self.finished_orphans.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut self.finished_orphans)
        }
    }

    /// [`take_finished_orphans`](Driver::take_finished_orphans) into `into`
    /// (the loop's reused vector), keeping this one's capacity.
    pub(crate) fn move_finished_orphans(&mut self, into: &mut Vec<Box<dyn Orphan>>) {
        into.append(&mut self.finished_orphans);
    }

    /// Polls the slot `key`: the result if the CQE arrived (the slot is
    /// freed), else the waker is updated.
    pub(crate) fn poll_op(&mut self, key: usize, cx: &mut Context<'_>) -> Poll<(i32, u32)> {
        match self.ops.get_mut(key) {
            Some(Lifecycle::Completed { res, flags }) => {
                let out = (*res, *flags);
                self.ops.remove(key);
                Poll::Ready(out)
            }
            Some(Lifecycle::Waiting(waker)) => {
                if !waker.will_wake(cx.waker()) {
                    waker.clone_from(cx.waker());
                }
                Poll::Pending
            }
            // An op's key is only freed by its own future or after its orphan
            // completed; reaching here means a key was misused.
            Some(
                Lifecycle::Orphaned(_) | Lifecycle::Multishot { .. } | Lifecycle::Streaming { .. },
            )
            | None => Poll::Ready((-libc::ECANCELED, 0)),
        }
    }

    /// The future of op `key` was dropped: keep `data` until the CQE arrives
    /// and ask the kernel to cancel the op. If the CQE already arrived the
    /// data is released at once.
    ///
    /// For a streaming op (`submit_streaming`) this is its owner's release:
    /// `data` is only a token (the slot holds the op's data). An op that
    /// ended is freed; an armed one is cancelled, its later CQEs going to
    /// its data's `Orphan::complete`, and the sink is let go at once.
    pub(crate) fn orphan(&mut self, key: usize, mut data: Box<dyn Orphan>) {
        let Some(slot) = self.ops.get_mut(key) else {
            self.finished_orphans.push(data);
            return;
        };
        match slot {
            Lifecycle::Completed { res, flags } => {
                let (res, flags) = (*res, *flags);
                self.ops.remove(key);
                data.complete(res, flags);
                self.finished_orphans.push(data);
            }
            Lifecycle::Multishot { results, done, .. } => {
                // Results nobody will collect (accepted fds, ring buffers)
                // are released now.
                for (res, flags) in results.drain(..) {
                    data.complete(res, flags);
                }
                if *done {
                    self.ops.remove(key);
                    self.finished_orphans.push(data);
                } else {
                    *slot = Lifecycle::Orphaned(data);
                    self.count_cancel(key);
                    self.cancel(key as u64);
                }
            }
            Lifecycle::Waiting(_) => {
                *slot = Lifecycle::Orphaned(data);
                self.count_cancel(key);
                self.cancel(key as u64);
            }
            Lifecycle::Streaming { .. } => {
                // Released while armed: the slot keeps the op's own data
                // until the last CQE; `data` (the owner's token) and the
                // sink are not needed any more.
                let armed = std::mem::replace(slot, Lifecycle::Completed { res: 0, flags: 0 });
                if let Lifecycle::Streaming { sink, data: own } = armed {
                    *slot = Lifecycle::Orphaned(own);
                    self.finished_orphans.push(Box::new(DropLater(sink)));
                }
                self.finished_orphans.push(data);
                self.count_cancel(key);
                self.cancel(key as u64);
            }
            Lifecycle::Orphaned(_) => self.finished_orphans.push(data),
        }
    }

    /// Submits an ASYNC_CANCEL for `user_data`. Best effort: if it cannot be
    /// queued the op still completes on its own and its data is kept until then.
    fn cancel(&mut self, user_data: u64) {
        let sqe = opcode::AsyncCancel::new(user_data)
            .build()
            .user_data(CANCEL_KEY);
        // SAFETY: an ASYNC_CANCEL SQE points to no memory.
        let _ = unsafe { self.push(&sqe) };
    }

    /// Bounds the coming wait with an IORING_OP_TIMEOUT (the fallback for
    /// kernels without EXT_ARG). One timeout is armed at a time; a later
    /// wait that needs an earlier deadline replaces it, one that can live
    /// with the armed deadline (an early wake-up is harmless) keeps it.
    fn arm_timeout(&mut self, after: Duration) {
        let deadline = std::time::Instant::now() + after;
        if self.timeout_armed.is_some_and(|armed| armed <= deadline) {
            return;
        }
        if self.timeout_armed.is_some() {
            let remove = opcode::TimeoutRemove::new(TIMEOUT_KEY)
                .build()
                .user_data(CANCEL_KEY);
            // SAFETY: a TIMEOUT_REMOVE SQE points to no memory.
            let _ = unsafe { self.push(&remove) };
        }
        *self.timeout_ts = types::Timespec::from(after);
        let sqe = opcode::Timeout::new(&*self.timeout_ts)
            .build()
            .user_data(TIMEOUT_KEY);
        // SAFETY: the timespec is a heap box owned by the driver; the kernel
        // copies it when the SQE is submitted (at the enter that follows
        // this push), and the box is not modified before that enter.
        if unsafe { self.push(&sqe) }.is_ok() {
            self.timeout_armed = Some(deadline);
        }
    }

    /// Arms the read of the wake-up eventfd.
    fn arm_eventfd(&mut self) -> io::Result<()> {
        let sqe = opcode::Read::new(types::Fd(self.eventfd), self.eventfd_buf.as_mut_ptr(), 8)
            .build()
            .user_data(EVENTFD_KEY);
        // SAFETY: `eventfd_buf` is a heap box owned by the driver; the driver
        // does not free it before this read's CQE (see `Drop`), and the
        // eventfd outlives the driver (the worker's contract in `new`).
        unsafe { self.push(&sqe)? };
        self.eventfd_armed = true;
        Ok(())
    }

    /// Cancels every in-flight op and waits (at most `limit`) for all of
    /// their completions. Returns whether everything completed.
    pub(crate) fn cancel_all_and_wait(&mut self, limit: Duration) -> bool {
        let keys: Vec<usize> = self
            .ops
            .iter()
            .filter(|(_, s)| {
                !matches!(
                    s,
                    Lifecycle::Completed { .. } | Lifecycle::Multishot { done: true, .. }
                )
            })
            .map(|(k, _)| k)
            .collect();
        for key in keys {
            self.cancel(key as u64);
        }
        self.shutting_down = true;
        if self.eventfd_armed {
            self.cancel(EVENTFD_KEY);
        }
        let deadline = std::time::Instant::now() + limit;
        let mut wakers = Vec::new();
        while self.in_flight > 0 || self.eventfd_armed {
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            let wait = (deadline - now).min(Duration::from_millis(100));
            if self.enter(true, Some(wait)).is_err() {
                return false;
            }
            self.reap(&mut wakers);
        }
        drop(wakers);
        true
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.cancel_all_and_wait(Duration::from_secs(10)) {
            // The kernel may still write into orphaned buffers and the
            // eventfd buffer: leak them rather than free memory in use.
            tracing::error!(
                in_flight = self.in_flight,
                "ringbolt: io_uring ops did not complete within 10 s of shutdown; \
                 their buffers are leaked"
            );
            std::mem::forget(std::mem::take(&mut self.ops));
            std::mem::forget(std::mem::replace(&mut self.eventfd_buf, Box::new([0; 8])));
        }
    }
}

// ---- fixed files (sockets) ----
// Hooks for `fd::SharedFd`, which registers a socket after a few ops on
// this ring and releases the slot when it closes.
impl Driver {
    /// Registers `fd` in this ring's fixed-file table: its slot, or `None`
    /// (no table, table full) to use the plain descriptor.
    pub(crate) fn register_file(&mut self, fd: RawFd) -> Option<u32> {
        self.files.register(&self.ring, fd)
    }

    /// Empties fixed-file slot `slot` (no op may use it any more).
    pub(crate) fn release_file(&mut self, slot: u32) {
        self.files.release(&self.ring, slot);
    }
}

// ---- fixed buffers (fs) ----
// Hooks for `op::fs::FixedBufPool` (registered buffers, READ_FIXED and
// WRITE_FIXED); nothing else in the driver depends on them.
impl Driver {
    /// Registers `iovecs` as this ring's fixed buffers (one table per ring:
    /// `EBUSY` if one is registered already).
    ///
    /// # Safety
    ///
    /// Every iovec must describe memory that stays valid (allocated, at the
    /// same address) until [`Driver::unregister_buffers`] succeeds or the
    /// ring is closed: READ_FIXED ops write into it through the kernel's
    /// own mapping.
    pub(crate) unsafe fn register_buffers(&mut self, iovecs: &[libc::iovec]) -> io::Result<()> {
        // SAFETY: the caller keeps the memory valid as long as the
        // registration lasts (this function's contract).
        unsafe { self.ring.submitter().register_buffers(iovecs) }
    }

    /// Unregisters this ring's fixed buffers; after `Ok`, the kernel no
    /// longer refers to their memory.
    pub(crate) fn unregister_buffers(&mut self) -> io::Result<()> {
        self.ring.submitter().unregister_buffers()
    }
}

// ---- provided buffer rings (net) ----
// Hooks for `bufring::BufRing` (IORING_REGISTER_PBUF_RING, used by
// multishot receives with IOSQE_BUFFER_SELECT); nothing else in the driver
// depends on them.
impl Driver {
    /// Registers the provided buffer ring at `ring_addr` (`entries`
    /// `io_uring_buf` entries, a power of two) as buffer group `bgid` of
    /// this ring (`EEXIST` if the group is taken).
    ///
    /// # Safety
    ///
    /// `ring_addr` must be page-aligned and point to `entries` × 16 bytes
    /// that stay mapped until [`Driver::unregister_buf_ring`] succeeds for
    /// `bgid` or the ring is closed, and every buffer the ring's entries
    /// name must stay valid while an op that selects from the group may
    /// write into it.
    pub(crate) unsafe fn register_buf_ring(
        &mut self,
        ring_addr: u64,
        entries: u16,
        bgid: u16,
    ) -> io::Result<()> {
        // SAFETY: the caller keeps the ring memory mapped as long as the
        // registration lasts (this function's contract).
        unsafe {
            self.ring
                .submitter()
                .register_buf_ring_with_flags(ring_addr, entries, bgid, 0)
        }
    }

    /// Unregisters buffer group `bgid`; after `Ok`, the kernel no longer
    /// refers to its ring.
    pub(crate) fn unregister_buf_ring(&mut self, bgid: u16) -> io::Result<()> {
        self.ring.submitter().unregister_buf_ring(bgid)
    }
}
