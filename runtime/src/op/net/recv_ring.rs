//! [`RingRecv`]: the read side of a stream socket over the worker's
//! provided buffer ring, with a plain IORING_OP_RECV fallback.
//!
//! # How a read works
//!
//! The first read arms a multishot receive ([`RecvMulti`]) on the ring of
//! the worker it runs on, selecting from that worker's
//! [`BufRing`](crate::bufring::BufRing). From then on every chunk the
//! kernel receives lands in a ring buffer and is queued here by its
//! buffer id (claimed from the ring, with its length and read offset); a
//! read copies queued bytes into the
//! caller's buffer (as many as fit, from as many chunks as are queued) and
//! gives a buffer back to the ring as soon as it is read to its end. What
//! does not fit stays queued for the next read: nothing is lost or
//! duplicated. A pending read holds only the caller's buffer, and
//! [`RingRecv::readable`] waits for data with no buffer at all.
//!
//! # Who drives the multishot op
//!
//! The op is bound to the ring (worker) that armed it, but reads may come
//! from tasks on any worker. A reader on the op's worker pumps the op
//! inline (moves its new CQEs into the queue); when it is the only reader
//! waiting, it registers its own task's waker with the op, so a CQE wakes
//! it directly (the common case: one task per connection). Otherwise the
//! op's waker is the receiver's own *pump*, which the driver wakes on the
//! op's worker (in the loop, outside every driver borrow) and which moves
//! the new CQEs into the queue and wakes every waiting reader, wherever it
//! runs. A reader on another worker queues its waker and wakes the pump,
//! which then runs on the op's worker (through that worker's remote queue)
//! and registers itself with the op. The state sits behind a spin lock
//! (`crate::spin`: one atomic operation per read on the usual path). The op
//! is re-armed by the next read that finds the queue empty and the op
//! ended — on that read's worker, so a stream handed to a task on another
//! worker follows it once the old op has ended.
//!
//! # Ends
//!
//! - A CQE without IORING_CQE_F_MORE ends the op; the next read that needs
//!   data re-arms.
//! - `ENOBUFS` (the ring is dry; the data stays in the socket): the next
//!   read waits until a buffer is back in the ring, then re-arms (counted
//!   by `BufRing::enobufs_rearms`).
//! - 0 bytes: end of stream, queued after the data; every read after it
//!   returns 0.
//! - An error is queued after the data before it and returned once; a
//!   buffer the CQE carried is recycled.
//! - `EINVAL` before any data: the kernel lacks multishot receives (before
//!   6.0); the ring is marked and reads use plain receives.
//!
//! Where buffer rings are unavailable (the thread-pool driver, multishot
//! switched off, an old kernel) and nothing is queued or armed, a read is a
//! plain IORING_OP_RECV into the caller's buffer, as before.
//!
//! The queue is bounded by the ring: a connection that receives faster
//! than it is read can hold every buffer of its worker's ring, and the
//! other connections' receives then end with `ENOBUFS` until it reads.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};

use io_uring::cqueue;

use super::recv_multi::RecvMulti;
use crate::buf::{BufResult, IoBufMut};
use crate::bufring::BufRing;
use crate::executor::{context, registry};
use crate::fd::SharedFd;
use crate::op::MultiOp;
use crate::spin::{SpinGuard, SpinLock};

/// The read side of a stream socket: multishot receives into the worker's
/// buffer ring where available, plain receives otherwise. See the
/// module docs. `Send + Sync`; one per socket.
pub struct RingRecv {
    shared: Arc<Shared>,
}

struct Shared {
    state: SpinLock<State>,
    /// The waker of the multishot op (a [`Pump`]).
    pump: Waker,
}

#[derive(Default)]
struct State {
    op: Option<MultiOp<RecvMulti>>,
    /// The worker whose ring the op was submitted to.
    worker: u64,
    /// The ring the op selects from.
    ring: Option<BufRing>,
    queue: VecDeque<Item>,
    eof: bool,
    /// The last op ended with ENOBUFS: re-arm once a buffer is back.
    enobufs: bool,
    /// The current op delivered data (an EINVAL then is the socket's).
    received_any: bool,
    readers: Vec<Waker>,
    /// The waker a lone local reader registered with the op itself; the
    /// pump, when it takes over as the op's waker, wakes it too.
    direct: Option<Waker>,
    /// The op's registered waker is the pump.
    pump_armed: bool,
}

enum Item {
    /// `len` bytes received into buffer `bid` of the state's ring (claimed
    /// from it), read up to `off`.
    Data {
        bid: u16,
        len: u32,
        off: u32,
    },
    Err(io::Error),
    Eof,
}

/// Takes bytes into the caller's buffers; returns how many it took.
type Copy<'c> = dyn FnMut(&[u8]) -> usize + 'c;

/// What a poll of the ring path found.
enum Outcome {
    Done(io::Result<usize>),
    /// No ring here and nothing queued or armed: use a plain receive.
    Fallback,
}

/// The multishot op's waker: moves CQEs into the queue on the op's worker.
struct Pump(Weak<Shared>);

impl Wake for Pump {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        let readers = {
            let mut st = shared.lock();
            if st.op.is_some() && context::current_id() != Some(st.worker) {
                // Only the op's worker can poll it: run there.
                let worker = st.worker;
                drop(st);
                registry::wake_on(worker, shared.pump.clone());
                return;
            }
            // The pump becomes the op's waker: a reader that had the op
            // wake it directly is woken by the pump from now on.
            if let Some(d) = st.direct.take() {
                st.add_reader(&d);
            }
            let progress = st.pump(&shared.pump, true);
            if !progress && st.op.is_some() {
                // Nothing new (a reader on another worker asked for the
                // pump): the readers wait for the op's next CQE.
                return;
            }
            std::mem::take(&mut st.readers)
        };
        for r in readers {
            r.wake();
        }
        // May drop the receiver (if its owner went away meanwhile), which
        // parks the op in the driver: fine here, outside driver borrows.
        drop(shared);
    }
}

impl Default for RingRecv {
    fn default() -> Self {
        RingRecv::new()
    }
}

impl RingRecv {
    /// An idle receiver: nothing is armed until the first read.
    pub fn new() -> Self {
        let shared = Arc::new_cyclic(|weak: &Weak<Shared>| Shared {
            state: SpinLock::new(State::default()),
            pump: Waker::from(Arc::new(Pump(weak.clone()))),
        });
        RingRecv { shared }
    }

    /// Reads into `buf`, from its start up to its capacity: the bytes
    /// queued (or, if none, the next that arrive), or a plain receive where
    /// buffer rings are unavailable. 0 is the end of the stream (or a
    /// buffer without capacity).
    ///
    /// # Errors
    ///
    /// The receive's error (`ECONNRESET`, ...), after the data received
    /// before it; the buffer comes back too.
    pub async fn read<B: IoBufMut + Send>(&self, fd: &SharedFd, mut buf: B) -> BufResult<usize, B> {
        let total = buf.bytes_total();
        if total == 0 {
            return (Ok(0), buf);
        }
        let mut filled = 0;
        let outcome = poll_fn(|cx| {
            self.poll_inner(
                cx,
                fd,
                Some(&mut |src: &[u8]| {
                    let n = src.len().min(total - filled);
                    // SAFETY: `filled + n <= bytes_total()`, so the copy stays inside the buffer's
                    // memory (IoBufMut contract), which `src` (a ring buffer) does not overlap; the
                    // bytes written are initialised, so `set_init` may cover them.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            src.as_ptr(),
                            buf.stable_mut_ptr().add(filled),
                            n,
                        );
                        buf.set_init(filled + n);
                    }
                    filled += n;
                    n
                }),
            )
        })
        .await;
        match outcome {
            Outcome::Done(res) => (res, buf),
            Outcome::Fallback => super::recv(fd.clone(), buf, 0).await,
        }
    }

    /// Reads into the buffers in order (each from its start up to its
    /// capacity), like [`read`](RingRecv::read); the plain path is one
    /// RECVMSG.
    ///
    /// # Errors
    ///
    /// As [`read`](RingRecv::read).
    pub async fn readv<B: IoBufMut + Send>(
        &self,
        fd: &SharedFd,
        mut bufs: Vec<B>,
    ) -> BufResult<usize, Vec<B>> {
        if bufs.iter().all(|b| b.bytes_total() == 0) {
            return (Ok(0), bufs);
        }
        let (mut idx, mut off) = (0usize, 0usize);
        let outcome = poll_fn(|cx| {
            self.poll_inner(
                cx,
                fd,
                Some(&mut |src: &[u8]| {
                    let mut taken = 0;
                    while taken < src.len() && idx < bufs.len() {
                        let b = &mut bufs[idx];
                        let room = b.bytes_total() - off;
                        if room == 0 {
                            idx += 1;
                            off = 0;
                            continue;
                        }
                        let n = room.min(src.len() - taken);
                        // SAFETY: `off + n <= bytes_total()` of this buffer (IoBufMut contract:
                        // valid, writable, not overlapping the ring buffer `src`); the bytes
                        // written are initialised.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                src.as_ptr().add(taken),
                                b.stable_mut_ptr().add(off),
                                n,
                            );
                            b.set_init(off + n);
                        }
                        off += n;
                        taken += n;
                    }
                    taken
                }),
            )
        })
        .await;
        match outcome {
            Outcome::Done(res) => (res, bufs),
            Outcome::Fallback => super::recv_vectored(fd.clone(), bufs).await,
        }
    }

    /// Waits until a read would not wait: bytes are queued, the stream
    /// ended, or an error is pending. On the buffer-ring path this holds no
    /// buffer (an idle connection costs no receive memory); elsewhere it is
    /// a one-shot IORING_OP_POLL_ADD for `POLLIN`.
    ///
    /// # Errors
    ///
    /// The poll's error.
    pub async fn readable(&self, fd: &SharedFd) -> io::Result<()> {
        match poll_fn(|cx| self.poll_inner(cx, fd, None)).await {
            Outcome::Done(_) => Ok(()),
            Outcome::Fallback => {
                let events = (libc::POLLIN | libc::POLLRDHUP) as u32;
                crate::op::Op::new(crate::op::PollAdd::new(fd.clone(), events))
                    .await
                    .result
                    .map(|_| ())
            }
        }
    }

    /// Bytes received and not read yet.
    pub fn queued(&self) -> usize {
        let st = self.shared.lock();
        st.queue
            .iter()
            .map(|i| match i {
                Item::Data { len, off, .. } => (len - off) as usize,
                _ => 0,
            })
            .sum()
    }

    /// Whether a multishot receive is armed.
    pub fn is_armed(&self) -> bool {
        self.shared.lock().op.is_some()
    }

    /// The core: queued data first, then the armed op (pumped inline on its
    /// worker), then arming on this worker's ring, else the fallback.
    /// `copy` takes bytes into the caller's buffers and says how many it
    /// took; `None` only asks whether a read would be ready.
    fn poll_inner(
        &self,
        cx: &mut Context<'_>,
        fd: &SharedFd,
        mut copy: Option<&mut Copy<'_>>,
    ) -> Poll<Outcome> {
        let me = context::current_id();
        let mut st = self.shared.lock();
        loop {
            if let Some(res) = st.take_ready(copy.as_deref_mut()) {
                return Poll::Ready(Outcome::Done(res));
            }
            if st.op.is_some() {
                if me != Some(st.worker) {
                    // The op is on another worker's ring: its pump moves
                    // the CQEs and wakes us.
                    st.add_reader(cx.waker());
                    if !st.pump_armed {
                        drop(st);
                        self.shared.pump.wake_by_ref();
                    }
                    return Poll::Pending;
                }
                // A lone reader has the op wake it directly; with other
                // readers waiting, the pump stays the op's waker.
                let alone = st.readers.is_empty();
                if alone && !st.direct.as_ref().is_some_and(|d| d.will_wake(cx.waker())) {
                    st.direct = Some(cx.waker().clone());
                }
                let waker = if alone { cx.waker() } else { &self.shared.pump };
                if st.pump(waker, !alone) {
                    continue;
                }
                if !alone {
                    st.add_reader(cx.waker());
                }
                return Poll::Pending;
            }
            let Some(ring) = BufRing::current() else {
                return Poll::Ready(Outcome::Fallback);
            };
            if st.enobufs {
                if ring.poll_available(cx).is_pending() {
                    st.add_reader(cx.waker());
                    return Poll::Pending;
                }
                ring.note_rearm();
                st.enobufs = false;
            }
            st.op = Some(MultiOp::new(RecvMulti::new(fd.clone(), ring.clone())));
            st.worker = ring.worker();
            st.set_ring(ring);
            st.received_any = false;
            st.pump_armed = false;
            // The next turn pumps the op, which submits it.
        }
    }
}

impl State {
    /// Polls the op with `waker` (the pump's, or a lone local reader's)
    /// and queues what it yields.
    /// Returns whether anything changed (an item queued, the op ended).
    /// Must run on the op's worker.
    /// `is_pump` says whether `waker` is the pump's.
    fn pump(&mut self, waker: &Waker, is_pump: bool) -> bool {
        let mut cx = Context::from_waker(waker);
        let mut progress = false;
        while let Some(op) = self.op.as_mut() {
            match op.poll_next_completion(&mut cx) {
                Poll::Pending => {
                    self.pump_armed = is_pump;
                    break;
                }
                Poll::Ready(None) => {
                    self.op = None;
                    progress = true;
                }
                Poll::Ready(Some((res, flags))) => {
                    self.complete(res, flags);
                    progress = true;
                }
            }
        }
        progress
    }

    /// One CQE of the multishot op.
    fn complete(&mut self, res: io::Result<u32>, flags: u32) {
        let Some(ring) = self.ring.as_ref() else {
            return;
        };
        let bid = cqueue::buffer_select(flags);
        let more = cqueue::more(flags);
        match res {
            Ok(0) => {
                if let Some(bid) = bid {
                    // SAFETY: the bid comes from this CQE of an op that
                    // selects from `ring`, and each CQE is seen once.
                    unsafe { ring.give_back(bid) };
                }
                self.queue.push_back(Item::Eof);
            }
            Ok(n) => {
                self.received_any = true;
                let item = match bid {
                    // SAFETY: the bid comes from this CQE of an op that
                    // selects from `ring`, and each CQE is seen once.
                    Some(bid) => match unsafe { ring.claim(bid, n) } {
                        Ok(()) => Item::Data {
                            bid,
                            len: n,
                            off: 0,
                        },
                        Err(e) => Item::Err(e),
                    },
                    None => Item::Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "ringbolt: a buffer-select receive completed without a buffer",
                    )),
                };
                self.queue.push_back(item);
            }
            Err(e) => {
                if let Some(bid) = bid {
                    // SAFETY: as above.
                    unsafe { ring.give_back(bid) };
                }
                match e.raw_os_error() {
                    Some(libc::ENOBUFS) => {
                        ring.note_enobufs();
                        if !more {
                            self.enobufs = true;
                        }
                    }
                    Some(libc::EINVAL) if !self.received_any && !more => ring.mark_refused(),
                    _ => self.queue.push_back(Item::Err(e)),
                }
            }
        }
    }

    /// The result of a read if one is ready: queued bytes (as many as
    /// `copy` takes), else a queued error or the end of the stream.
    fn take_ready<'c>(&mut self, copy: Option<&mut Copy<'c>>) -> Option<io::Result<usize>> {
        let Some(copy) = copy else {
            return (!self.queue.is_empty() || self.eof).then_some(Ok(0));
        };
        let mut total = 0;
        while let Some(front) = self.queue.front_mut() {
            match front {
                Item::Data { bid, len, off } => {
                    let Some(ring) = self.ring.as_ref() else {
                        // Data items always belong to the state's ring
                        // (`Drop for State` and the re-arm keep it so).
                        self.queue.pop_front();
                        continue;
                    };
                    // SAFETY: the item's buffer was claimed from this ring
                    // by `complete` and is recycled only below, after the
                    // slice's last use.
                    let src = unsafe { &ring.bytes(*bid, *len)[*off as usize..] };
                    let n = copy(src);
                    let full = n < src.len();
                    // `n <= src.len() <= len`, a u32.
                    *off += n as u32;
                    total += n;
                    if *off == *len {
                        // Read to its end: back to the ring.
                        ring.recycle(*bid);
                        self.queue.pop_front();
                    }
                    if full {
                        break;
                    }
                }
                // Data before an error or the end goes out first.
                _ if total > 0 => break,
                Item::Err(_) => {
                    if let Some(Item::Err(e)) = self.queue.pop_front() {
                        return Some(Err(e));
                    }
                }
                Item::Eof => {
                    self.queue.pop_front();
                    self.eof = true;
                }
            }
        }
        if total > 0 {
            return Some(Ok(total));
        }
        self.eof.then_some(Ok(0))
    }

    /// Makes `ring` the one new chunks come from. Queued chunks belong to
    /// the ring they were claimed from: a re-arm happens only once the
    /// queue is empty, and should any chunk be left, it goes back to its
    /// own ring here, so no buffer is ever recycled to the wrong ring.
    fn set_ring(&mut self, ring: BufRing) {
        if let Some(old) = self.ring.take() {
            let stale = self.queue.len();
            self.queue.retain(|item| match item {
                Item::Data { bid, .. } => {
                    old.recycle(*bid);
                    false
                }
                _ => true,
            });
            debug_assert_eq!(stale, self.queue.len(), "re-armed with data queued");
        }
        self.ring = Some(ring);
    }

    fn add_reader(&mut self, waker: &Waker) {
        if !self.readers.iter().any(|w| w.will_wake(waker)) {
            self.readers.push(waker.clone());
        }
    }
}

impl Drop for State {
    fn drop(&mut self) {
        // Chunks received and never read go back to the ring.
        if let Some(ring) = &self.ring {
            for item in &self.queue {
                if let Item::Data { bid, .. } = item {
                    ring.recycle(*bid);
                }
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> SpinGuard<'_, State> {
        self.state.lock()
    }
}

impl fmt::Debug for RingRecv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("RingRecv")
            .field("armed", &st.op.is_some())
            .field("worker", &st.worker)
            .field("queued_items", &st.queue.len())
            .field("eof", &st.eof)
            .finish()
    }
}
