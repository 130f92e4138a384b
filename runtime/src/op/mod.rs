//! Operations: one type per io_uring opcode, and the [`Op`] future that
//! carries one through the driver.
//!
//! An operation owns everything the kernel reads or writes (buffers, paths,
//! socket addresses) and gives it back with the result. Each operation type
//! lives in its own file with its SQE builder and its synchronous equivalent
//! (used when the kernel lacks the opcode, and by the thread-pool driver).
//!
//! Ops are submitted lazily: the first poll pushes the SQE into the ring of
//! the thread polling it, and the op stays bound to that ring. The SQE
//! reaches the kernel with the loop's next `io_uring_enter`, together with
//! every other op pushed in the same iteration.

mod blocking;
mod close;
mod detached;
pub mod fs;
mod multi;
pub mod net;
mod nop;
mod poll;
mod read;
mod ready;
pub(crate) mod shells;
pub(crate) mod streaming;
mod write;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use io_uring::squeue;

use crate::driver::Orphan;
use crate::executor::{context, registry};

pub use close::{close, Close};
pub use detached::submit_detached;
pub use multi::MultiOp;
pub use nop::Nop;
pub use poll::PollAdd;
pub use read::Read;
pub use write::Write;

/// The most bytes one read, write, send or receive moves: the kernel's
/// `MAX_RW_COUNT` (`INT_MAX` rounded down to a page). Longer buffers are
/// clamped to it, so the op moves part and returns how much (a socket op
/// with a longer length fails with `EINVAL` instead).
pub(crate) const MAX_RW: usize = 0x7fff_f000;

/// One io_uring operation: its SQE and its synchronous equivalent.
///
/// # Safety
///
/// Implementors promise that:
/// - every pointer placed in the SQE built by [`OpCode::sqe`] points into
///   memory owned by `self` on the heap (or `'static` memory), which stays
///   valid, at the same address and — for memory the kernel writes — not
///   accessed by anyone else while `self` lives, **also when `self` is
///   moved** (the driver moves an op's data into its slab when the future is
///   dropped early);
/// - [`OpCode::run_blocking`] does what the SQE does, with the same result
///   convention, so that either path gives the caller the same answer.
pub unsafe trait OpCode: Send + Unpin + 'static {
    /// Builds the SQE (without `user_data`, which the driver sets). Called
    /// once, on the ring's thread, just before the push.
    fn sqe(&mut self) -> squeue::Entry;

    /// Performs the operation synchronously (on a blocking-pool thread):
    /// the non-negative result a CQE would carry, or the error.
    fn run_blocking(&mut self) -> io::Result<u32>;

    /// Called when the op completed after its future was dropped, with the
    /// result nobody collected. Ops whose result is a new resource (a file
    /// descriptor from `openat` or `accept`) release it here.
    fn orphan_completed(&mut self, res: i32, flags: u32) {
        let _ = (res, flags);
    }

    /// For ops used as a [`MultiOp`] without a ring (thread-pool driver, or
    /// multishot switched off): whether the stream repeats `run_blocking`
    /// for every item (multishot accept, recv, poll) or yields one result
    /// and ends (an op whose later CQEs are only notifications, like
    /// SEND_ZC). Default: one result.
    fn blocking_repeats(&self) -> bool {
        false
    }

    /// For a socket op under the thread-pool driver: the descriptor (its
    /// [`SharedFd`](crate::fd::SharedFd), whose identity the worker's
    /// readiness table registers) and the poll events (`POLLIN`,
    /// `POLLOUT`, ...) it waits for, when it can run on
    /// the worker without blocking ([`OpCode::run_nonblocking`]) once the
    /// socket is ready. Such an op holds no pool thread while it waits, and
    /// dropping its future consumes nothing. Default: `None`, the op runs
    /// [`OpCode::run_blocking`] on the blocking pool.
    fn readiness(&self) -> Option<(&crate::fd::SharedFd, u32)> {
        None
    }

    /// For an op with [`OpCode::readiness`]: the operation attempted
    /// without blocking (`MSG_DONTWAIT`, a non-blocking socket), on the
    /// worker's thread. `WouldBlock` when it has to wait for the socket.
    /// Default: [`OpCode::run_blocking`].
    fn run_nonblocking(&mut self) -> io::Result<u32> {
        self.run_blocking()
    }

    /// Whether the op is multishot: it posts a CQE per item (each one a
    /// new descriptor, for an accept) until a last one. Such an op runs as
    /// a [`MultiOp`], which sees every CQE; an [`Op`] of it, which would
    /// see only the last one, fails before submission with `InvalidInput`.
    /// Default: no.
    fn multishot(&self) -> bool {
        false
    }
}

/// Whether ops with `opcode` go through this thread's ring (the kernel
/// has the opcode and it is not switched off). `false` under the
/// thread-pool driver and outside a runtime.
pub fn ring_supports(opcode: u8) -> bool {
    context::with_current(|w| {
        w.ring()
            .is_some_and(|r| r.borrow().features().supports(opcode))
    })
    .unwrap_or(false)
}

/// Whether multishot ops (accept, recv) go through this thread's ring
/// (Linux 5.19+, not switched off). `false` under the thread-pool driver
/// and outside a runtime: use single-shot ops then.
pub fn multishot_supported() -> bool {
    context::with_current(|w| w.ring().is_some_and(|r| r.borrow().features().multishot))
        .unwrap_or(false)
}

/// The outcome of an [`Op`]: the result, the CQE flags and the op's data.
#[derive(Debug)]
pub struct Completion<T> {
    /// The CQE's result: a non-negative value, or the error it encodes
    /// (with its errno). An error without an errno (`raw_os_error()` is
    /// `None`) means the op never reached the kernel: no runtime on this
    /// thread, or the ring refused the submission.
    pub result: io::Result<u32>,
    /// The CQE's flags (`IORING_CQE_F_*`).
    pub flags: u32,
    /// The operation's data, given back.
    pub data: T,
}

/// Turns a CQE result into `io::Result`: the one place where a negative
/// result becomes an error, keeping its errno.
#[inline]
pub(crate) fn cqe_result(res: i32) -> io::Result<u32> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as u32)
    }
}

/// Keeps an orphaned op's data in the driver until its CQE.
struct Parked<T>(T);

impl<T: OpCode> Orphan for Parked<T> {
    fn complete(&mut self, res: i32, flags: u32) {
        self.0.orphan_completed(res, flags);
    }
}

#[derive(Debug)]
enum State<T: OpCode> {
    Unsubmitted,
    Submitted {
        worker: u64,
        key: usize,
    },
    Blocking(blocking::BlockingJob<T>),
    /// A socket op of the thread-pool driver, run on the worker once its
    /// socket is ready.
    Ready(ready::ReadyWait),
    Done,
}

/// Where an op goes: the ring (with its slab key), the blocking pool, or
/// (a socket op under the thread-pool driver) the worker's readiness table.
enum Route<T: OpCode> {
    Ring(u64, usize),
    Pool(blocking::BlockingJob<T>),
    Ready,
}

/// Submits `data` on this thread's worker: to its ring when the ring takes
/// the opcode, else — a socket op under the thread-pool driver — to the
/// readiness path, else to the blocking pool (`data` is taken then).
/// `None` outside a runtime.
fn route<T: OpCode>(
    data: &mut Option<T>,
    cx: &mut Context<'_>,
    multishot: bool,
) -> Option<io::Result<Route<T>>> {
    context::with_current(|w| {
        if let Some(ring) = w.ring() {
            let op = data.as_mut()?;
            let sqe = op.sqe();
            let mut driver = ring.borrow_mut();
            if driver.features().supports(sqe.get_opcode() as u8)
                && (!multishot || driver.features().multishot)
            {
                let waker = cx.waker().clone();
                // The OpCode contract makes every pointer in the SQE point into
                // heap memory owned by `data`.
                // SAFETY: `data` stays in the future until its last CQE is
                // collected; a future dropped first parks it in the driver until then.
                let key = unsafe {
                    if multishot {
                        driver.submit_multishot(sqe, waker)
                    } else {
                        driver.submit(sqe, waker)
                    }
                };
                return Some(key.map(|key| Route::Ring(w.id, key)));
            }
        }
        if w.pool().is_some() && data.as_ref()?.readiness().is_some() {
            return Some(Ok(Route::Ready));
        }
        let op = data.take()?;
        Some(Ok(Route::Pool(blocking::BlockingJob::start(w, op))))
    })
    .flatten()
}

/// Starts `data` on the blocking pool of this thread's worker (`None`
/// outside a runtime, or without data).
fn start_blocking<T: OpCode>(data: &mut Option<T>) -> Option<blocking::BlockingJob<T>> {
    context::with_current(|w| data.take().map(|d| blocking::BlockingJob::start(w, d))).flatten()
}

/// A future that submits one operation and resolves to its [`Completion`].
///
/// Dropping it before completion is always safe: the data is parked in the
/// driver and freed only after the kernel is done with it, and the kernel is
/// asked to cancel the operation. Polling it on a thread other than the one
/// whose ring it was submitted to is a misuse and panics.
#[derive(Debug)]
#[must_use = "an Op does nothing until awaited"]
pub struct Op<T: OpCode> {
    data: Option<T>,
    state: State<T>,
}

impl<T: OpCode> Op<T> {
    /// Wraps an operation; nothing is submitted until the first poll.
    pub fn new(data: T) -> Self {
        Op {
            data: Some(data),
            state: State::Unsubmitted,
        }
    }

    // Inlined so that the completion is built in place: out of line, the
    // `io::Result` the caller had just stored was loaded back whole, a
    // store-forwarding stall that `perf` put at a tenth of the echo
    // server's user cycles.
    #[inline(always)]
    fn finish(&mut self, result: io::Result<u32>, flags: u32) -> Poll<Completion<T>> {
        self.state = State::Done;
        let data = self.data.take().expect("Op polled after completion");
        Poll::Ready(Completion {
            result,
            flags,
            data,
        })
    }
}

impl<T: OpCode> Future for Op<T> {
    type Output = Completion<T>;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Completion<T>> {
        // The budget by hand, not through a closure: the caller's location
        // reaches `poll_op`'s panics.
        std::task::ready!(crate::task::coop::poll_proceed(cx));
        let polled = self.get_mut().poll_op(cx);
        if polled.is_ready() {
            crate::task::coop::spend();
        }
        polled
    }
}

impl<T: OpCode> Op<T> {
    #[track_caller]
    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Completion<T>> {
        let this = self;
        loop {
            match &mut this.state {
                State::Unsubmitted => {
                    match &this.data {
                        None => panic!("Op polled after completion"),
                        Some(data) if data.multishot() => {
                            let e = io::Error::new(
                                io::ErrorKind::InvalidInput,
                                "ringbolt: a multishot op runs as a MultiOp, not an Op \
                                 (an Op would drop every CQE but its last)",
                            );
                            return this.finish(Err(e), 0);
                        }
                        Some(_) => {}
                    }
                    match route(&mut this.data, cx, false) {
                        Some(Ok(Route::Ring(worker, key))) => {
                            this.state = State::Submitted { worker, key };
                            return Poll::Pending;
                        }
                        Some(Ok(Route::Pool(job))) => this.state = State::Blocking(job),
                        Some(Ok(Route::Ready)) => this.state = State::Ready(Default::default()),
                        Some(Err(e)) => return this.finish(Err(not_submitted(e)), 0),
                        None => return this.finish(Err(no_runtime()), 0),
                    }
                }
                State::Submitted { worker, key } => {
                    let (worker, key) = (*worker, *key);
                    let polled = context::with_current(|w| {
                        (w.id == worker)
                            .then(|| w.ring().map(|r| r.borrow_mut().poll_op(key, cx)))
                            .flatten()
                    });
                    return match polled {
                        Some(Some(Poll::Ready((res, flags)))) => {
                            this.finish(cqe_result(res), flags)
                        }
                        Some(Some(Poll::Pending)) => Poll::Pending,
                        _ => panic!(
                            "ringbolt: an I/O operation was polled on a thread other than the \
                             one whose ring it was submitted to; keep each I/O future on the \
                             task that started it (tasks never migrate between workers)"
                        ),
                    };
                }
                State::Blocking(job) => {
                    return match job.poll(cx) {
                        Poll::Ready(done) => {
                            this.state = State::Done;
                            Poll::Ready(done)
                        }
                        Poll::Pending => Poll::Pending,
                    };
                }
                State::Ready(wait) => {
                    let data = this.data.as_mut().expect("Op polled after completion");
                    match wait.poll(data, cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(ready::Step::Done(res)) => return this.finish(res, 0),
                        Poll::Ready(ready::Step::Unwatchable) => {
                            this.state = match start_blocking(&mut this.data) {
                                Some(job) => State::Blocking(job),
                                None => return this.finish(Err(no_runtime()), 0),
                            };
                        }
                    }
                }
                State::Done => panic!("Op polled after completion"),
            }
        }
    }
}

impl<T: OpCode> Drop for Op<T> {
    fn drop(&mut self) {
        // A blocking job is dropped with the state (see BlockingJob's Drop).
        let State::Submitted { worker, key } = self.state else {
            return;
        };
        let Some(data) = self.data.take() else {
            return;
        };
        park(worker, key, Box::new(Parked(data)));
    }
}

/// Hands the data of an op whose future was dropped before its last CQE to
/// the driver that owns the op: directly on its thread, through its remote
/// queue from another one. If the owner is gone, its shutdown already reaped
/// every CQE, so the kernel no longer uses the data and it is dropped here.
fn park(worker: u64, key: usize, parked: Box<dyn Orphan>) {
    let local = context::with_current(|w| w.id == worker).unwrap_or(false);
    if local {
        let orphans = context::with_current(|w| {
            w.ring().map(|ring| {
                let mut driver = ring.borrow_mut();
                driver.orphan(key, parked);
                driver.take_finished_orphans()
            })
        });
        // Dropped outside the driver borrow: a buffer's Drop is user code.
        drop(orphans);
    } else {
        registry::send_orphan(worker, key, parked);
    }
}

/// Wraps a submission failure so that it carries no errno: the op did not
/// reach the kernel (see [`Completion::result`]).
fn not_submitted(e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("ringbolt: the ring refused the submission: {e}"),
    )
}

/// The error of an op awaited outside any ringbolt runtime.
pub(crate) fn no_runtime() -> io::Error {
    io::Error::other(
        "ringbolt: I/O must run inside a ringbolt runtime (ringbolt::run, Runtime::block_on)",
    )
}

/// A future that submits a no-op through the ring and completes when its
/// CQE arrives: the cost of one round trip through the ring.
///
/// # Errors
///
/// Only if the ring refuses the submission.
pub async fn nop() -> io::Result<()> {
    Op::new(Nop::new()).await.result.map(|_| ())
}
