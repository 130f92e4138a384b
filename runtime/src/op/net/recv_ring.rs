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
//! [`RingRecv::read_chunk`] takes the front chunk out of the queue whole
//! instead, in its ring buffer (a [`RecvBuf`], which gives the buffer back
//! when dropped): no copy, but the buffer stays out of the ring while the
//! caller holds it.
//!
//! # Who delivers the chunks
//!
//! The op is a streaming multishot op ([`crate::op::streaming`]) bound to
//! the ring (worker) that armed it. The driver hands each of its CQEs to
//! this receiver's shared state as it reaps them: the chunk's buffer is
//! claimed and queued there and every waiting reader is woken, on
//! whichever worker it runs (a reader elsewhere is woken through its
//! worker's remote queue). A read never polls the driver: it takes the
//! spin lock (`crate::spin`), copies what is queued, or registers its
//! waker and waits. The op is re-armed by the next read that finds the
//! queue empty and the op ended, on that read's worker, so a stream
//! handed to a task on another worker follows it once the old op has
//! ended. Dropping the receiver cancels an armed op.
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
//! Where a ring has no buffer ring (multishot switched off, an old kernel)
//! and nothing is queued or armed, a read is a plain IORING_OP_RECV into
//! the caller's buffer. One such receive runs at a time: if its future is
//! dropped and the kernel's completion beats the cancellation, the bytes
//! it got are queued here (see [`recv_salvage`](super::recv_salvage)) and
//! the next read returns them first, so a dropped read loses nothing on
//! this path either.
//!
//! Under the thread-pool driver a read is a `recv(2)` without blocking on
//! the worker, which waits in the worker's readiness table when the socket
//! is empty (see `op::ready`). Nothing is in flight while it waits, so a
//! dropped read leaves the bytes in the socket and needs no salvage; the
//! future drives the call itself, with no op, box or descriptor clone.
//!
//! The queue is bounded by the ring: a connection that receives faster
//! than it is read can hold every buffer of its worker's ring, and the
//! other connections' receives then end with `ENOBUFS` until it reads.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use io_uring::cqueue;

use super::ready_io::{drive_ready, recv_ready};
use super::recv_multi::RecvMulti;
use super::recv_salvage::{fill, Got, Salvage, Salvaged};
use super::{Recv, RecvMsg, READ_CHUNK_FALLBACK};
use crate::buf::{BufResult, IoBufMut, RecvBuf};
use crate::bufring::BufRing;
use crate::driver::Sink;
use crate::fd::SharedFd;
use crate::op::ready;
use crate::op::{cqe_result, streaming, Op};
use crate::spin::{SpinGuard, SpinLock};
use crate::task::raw::wake_local_by_ref;

/// The read side of a stream socket: multishot receives into the worker's
/// buffer ring where available, plain receives otherwise. See the
/// module docs. `Send + Sync`; one per socket.
pub struct RingRecv {
    shared: Arc<Shared>,
    /// The socket is TCP: under the thread-pool driver a short receive
    /// shows that it drained the socket (see [`RingRecv::tcp`]).
    tcp: bool,
}

struct Shared {
    state: SpinLock<State>,
}

#[derive(Default)]
struct State {
    /// The armed op: the worker whose ring it is on and its slab key
    /// there. Kept after the op ended (`ended`) until the slot is released.
    op: Option<(u64, usize)>,
    /// A read is submitting the op (the lock is not held meanwhile).
    arming: bool,
    /// The op's last CQE (without IORING_CQE_F_MORE) was delivered.
    ended: bool,
    /// The ring the op selects from.
    ring: Option<BufRing>,
    queue: VecDeque<Item>,
    eof: bool,
    /// The last op ended with ENOBUFS: re-arm once a buffer is back.
    enobufs: bool,
    /// The current op delivered data (an EINVAL then is the socket's).
    received_any: bool,
    /// The reader that waited last, kept across wake-ups: when it is a
    /// task of the op's worker, a delivery wakes it by reference, so
    /// waiting again clones nothing (two atomic operations fewer per read).
    direct: Option<Waker>,
    /// `direct` waits for the next CQE (set by its pending read, cleared by
    /// the wake: a reader that went on to other work is not woken again).
    direct_waiting: bool,
    /// Other readers waiting for the op's next CQE (woken by value).
    readers: Vec<Waker>,
    /// A plain receive is in flight, its future possibly dropped: nothing
    /// else receives until it is over (see `recv_salvage`).
    plain: bool,
}

enum Item {
    /// `len` bytes received into buffer `bid` of the state's ring (claimed
    /// from it), read up to `off`.
    Data {
        bid: u16,
        len: u32,
        off: u32,
    },
    /// Bytes a plain receive got after its future was dropped, read up
    /// to `off`.
    Owned {
        data: Vec<u8>,
        off: usize,
    },
    Err(io::Error),
    Eof,
}

/// Takes bytes into the caller's buffers; returns how many it took.
type Copy<'c> = dyn FnMut(&[u8]) -> usize + 'c;

/// What a read takes from the queue.
enum Take<'a, 'c> {
    /// Nothing: it only asks whether a read would be ready.
    Probe,
    /// Bytes, copied into the caller's buffers.
    Copy(&'a mut Copy<'c>),
    /// The front chunk itself, handed out in its ring buffer.
    Chunk(&'a mut Option<RecvBuf>),
}

/// What a poll of the ring path found.
enum Outcome {
    Done(io::Result<usize>),
    /// No ring here and nothing queued or armed: use a plain receive.
    Fallback,
    /// A thread-pool worker and nothing queued: receive by readiness
    /// (`ready_io::recv_ready`), which leaves nothing in flight when
    /// dropped.
    Ready,
}

impl Sink for Shared {
    fn deliver(&self, res: i32, flags: u32, wakers: &mut Vec<Waker>) {
        let mut st = self.lock();
        st.complete(cqe_result(res), flags);
        if !cqueue::more(flags) {
            st.ended = true;
        }
        if std::mem::take(&mut st.direct_waiting) {
            if let Some(d) = &st.direct {
                // A task of this worker is queued at once (no user code
                // runs); any other waker is woken after the reap.
                if !wake_local_by_ref(d) {
                    wakers.push(d.clone());
                }
            }
        }
        wakers.append(&mut st.readers);
    }
}

impl Salvage<Got> for Shared {
    fn salvaged(&self, got: io::Result<Got>) {
        let item = match got {
            // The end of the stream: it stays in the socket.
            Ok(got) if got.bytes.is_empty() => return,
            Ok(got) => Item::Owned {
                data: got.bytes,
                off: 0,
            },
            Err(e) => Item::Err(e),
        };
        self.lock().queue.push_back(item);
    }

    fn finished(&self) {
        let readers = {
            let mut st = self.lock();
            st.plain = false;
            let mut readers = std::mem::take(&mut st.readers);
            if std::mem::take(&mut st.direct_waiting) {
                readers.extend(st.direct.clone());
            }
            readers
        };
        // Outside the lock: a waker may be user code.
        for r in readers {
            r.wake();
        }
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
        RingRecv {
            shared: Arc::new(Shared {
                state: SpinLock::new(State::default()),
            }),
            tcp: false,
        }
    }

    /// An idle receiver for a TCP socket. Under the thread-pool driver, a
    /// TCP receive that gets fewer bytes than it asked for has emptied the
    /// socket's queue (it stops short otherwise only at an urgent mark or
    /// the end, which the socket reports), so the next read waits for the
    /// socket without trying first, as tokio does: one `recv(2)` per
    /// message instead of two. A Unix stream socket may stop short before
    /// a message that carries descriptors, so [`RingRecv::new`] reads
    /// always try first.
    pub fn tcp() -> Self {
        let mut recv = RingRecv::new();
        recv.tcp = true;
        recv
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
        let mut copy = |src: &[u8]| {
            let n = fill(&mut buf, filled, src);
            filled += n;
            n
        };
        let outcome = poll_fn(|cx| self.poll_inner(cx, fd, &mut Take::Copy(&mut copy))).await;
        match outcome {
            Outcome::Done(res) => (res, buf),
            Outcome::Fallback => {
                let recv = Recv::new(fd.clone(), buf, 0);
                let done = Op::new(Salvaged::new(recv, self.shared.clone())).await;
                let buf = done.data.into_inner().into_buf(&done.result);
                (done.result.map(|n| n as usize), buf)
            }
            Outcome::Ready => {
                let (res, buf) = recv_ready(fd, buf, self.tcp).await;
                (res.map(|n| n as usize), buf)
            }
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
        let mut copy = |src: &[u8]| {
            let mut taken = 0;
            while taken < src.len() && idx < bufs.len() {
                let b = &mut bufs[idx];
                let room = b.bytes_total() - off;
                if room == 0 {
                    idx += 1;
                    off = 0;
                    continue;
                }
                let n = fill(b, off, &src[taken..]);
                off += n;
                taken += n;
            }
            taken
        };
        let outcome = poll_fn(|cx| self.poll_inner(cx, fd, &mut Take::Copy(&mut copy))).await;
        match outcome {
            Outcome::Done(res) => (res, bufs),
            Outcome::Fallback => {
                let recv = RecvMsg::new(fd.clone(), bufs, false, 0);
                let done = Op::new(Salvaged::new(recv, self.shared.clone())).await;
                let (bufs, _, _) = done.data.into_inner().into_parts(&done.result);
                (done.result.map(|n| n as usize), bufs)
            }
            Outcome::Ready => {
                let mut recv = RecvMsg::new(fd.clone(), bufs, false, 0);
                let res = drive_ready(&mut recv).await;
                let (bufs, _, _) = recv.into_parts(&res);
                (res.map(|n| n as usize), bufs)
            }
        }
    }

    /// Receives the next chunk without copying it: the bytes queued first
    /// (the rest of a chunk a read took part of), else the next chunk to
    /// arrive, in the ring buffer the kernel put it in. `None` is the end
    /// of the stream. Where buffer rings are unavailable it is a plain
    /// receive into a new `Vec` ([`recv_chunk`](super::recv_chunk)).
    ///
    /// # Errors
    ///
    /// As [`read`](RingRecv::read).
    pub async fn read_chunk(&self, fd: &SharedFd) -> io::Result<Option<RecvBuf>> {
        let mut chunk = None;
        let outcome = poll_fn(|cx| self.poll_inner(cx, fd, &mut Take::Chunk(&mut chunk))).await;
        match outcome {
            Outcome::Done(Ok(_)) => Ok(chunk),
            Outcome::Done(Err(e)) => Err(e),
            // Boxed: this future lives in the caller's task, touched on
            // every request, and the plain receive's op is most of its size.
            Outcome::Fallback => Box::pin(self.read_chunk_plain(fd)).await,
            Outcome::Ready => {
                let (res, buf) =
                    recv_ready(fd, Vec::with_capacity(READ_CHUNK_FALLBACK), self.tcp).await;
                Ok((res? > 0).then(|| RecvBuf::from(buf)))
            }
        }
    }

    /// `read_chunk` without a buffer ring: one plain receive into a new
    /// vector.
    async fn read_chunk_plain(&self, fd: &SharedFd) -> io::Result<Option<RecvBuf>> {
        let buf = Vec::with_capacity(READ_CHUNK_FALLBACK);
        let recv = Recv::new(fd.clone(), buf, 0);
        let done = Op::new(Salvaged::new(recv, self.shared.clone())).await;
        let buf = done.data.into_inner().into_buf(&done.result);
        Ok((done.result? > 0).then(|| RecvBuf::from(buf)))
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
        match poll_fn(|cx| self.poll_inner(cx, fd, &mut Take::Probe)).await {
            Outcome::Done(_) => Ok(()),
            // (A probe is never told `Ready`.)
            Outcome::Fallback | Outcome::Ready => {
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
                Item::Owned { data, off } => data.len() - off,
                _ => 0,
            })
            .sum()
    }

    /// Whether a multishot receive is armed.
    pub fn is_armed(&self) -> bool {
        let st = self.shared.lock();
        st.arming || (st.op.is_some() && !st.ended)
    }

    /// The core: queued data first, then waiting for the armed op's next
    /// chunk, then arming on this worker's ring, else the fallback. `take`
    /// says what a ready read takes from the queue. The lock is never
    /// held across a driver call: a submission may reap, which delivers
    /// into this very state.
    fn poll_inner(
        &self,
        cx: &mut Context<'_>,
        fd: &SharedFd,
        take: &mut Take<'_, '_>,
    ) -> Poll<Outcome> {
        // A unit of the coop budget for a result only: the fallback is not
        // one (the plain receive's own op spends the unit for its result).
        std::task::ready!(crate::task::coop::poll_proceed(cx));
        let polled = self.poll_queue(cx, fd, take);
        if matches!(polled, Poll::Ready(Outcome::Done(_))) {
            crate::task::coop::spend();
        }
        polled
    }

    fn poll_queue(
        &self,
        cx: &mut Context<'_>,
        fd: &SharedFd,
        take: &mut Take<'_, '_>,
    ) -> Poll<Outcome> {
        let mut st = self.shared.lock();
        loop {
            if let Some(res) = st.take_ready(take) {
                return Poll::Ready(Outcome::Done(res));
            }
            if st.arming || (st.op.is_some() && !st.ended) {
                // The driver delivers the next chunk and wakes us.
                st.wait(cx.waker());
                return Poll::Pending;
            }
            if let Some((worker, key)) = st.op.take() {
                // The op ended: free its slot, then re-arm.
                drop(st);
                streaming::release(worker, key);
                st = self.shared.lock();
                continue;
            }
            if st.plain {
                // A dropped plain receive is still in flight: what it got
                // comes first.
                st.wait(cx.waker());
                return Poll::Pending;
            }
            let Some(ring) = BufRing::current() else {
                if matches!(take, Take::Probe) {
                    return Poll::Ready(Outcome::Fallback);
                }
                if ready::on_pool_worker() {
                    return Poll::Ready(Outcome::Ready);
                }
                // Until the plain receive is over (`Salvage::finished`).
                st.plain = true;
                return Poll::Ready(Outcome::Fallback);
            };
            if st.enobufs {
                if ring.poll_available(cx).is_pending() {
                    return Poll::Pending;
                }
                ring.note_rearm();
                st.enobufs = false;
            }
            st.set_ring(ring.clone());
            st.received_any = false;
            st.ended = false;
            st.arming = true;
            // Registered first: a CQE reaped during the submission (a full
            // SQ flushes and reaps) wakes us.
            st.wait(cx.waker());
            drop(st);
            let sink: Arc<dyn Sink> = self.shared.clone();
            let armed = streaming::submit(RecvMulti::new(fd.clone(), ring), sink);
            st = self.shared.lock();
            st.arming = false;
            match armed {
                Ok(op) => st.op = Some(op),
                Err(e) => {
                    // Other readers that waited for this arming try again.
                    let mut readers = std::mem::take(&mut st.readers);
                    if std::mem::take(&mut st.direct_waiting) {
                        readers.extend(st.direct.clone());
                    }
                    drop(st);
                    for r in readers {
                        r.wake();
                    }
                    return Poll::Ready(Outcome::Done(Err(e)));
                }
            }
        }
    }
}

impl Drop for RingRecv {
    fn drop(&mut self) {
        // Cancels an armed op (its later chunks go back to the ring) or
        // frees the slot of an ended one. The driver drops its handle on
        // the shared state then; queued chunks go back with the state.
        let op = self.shared.lock().op.take();
        if let Some((worker, key)) = op {
            streaming::release(worker, key);
        }
    }
}

impl State {
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

    /// The result of a read if one is ready: queued bytes (as `take` says),
    /// else a queued error or the end of the stream.
    fn take_ready(&mut self, take: &mut Take<'_, '_>) -> Option<io::Result<usize>> {
        let copy = match take {
            Take::Probe => return (!self.queue.is_empty() || self.eof).then_some(Ok(0)),
            Take::Chunk(out) => return self.take_chunk(out),
            Take::Copy(copy) => copy,
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
                Item::Owned { data, off } => {
                    let src = &data[*off..];
                    let n = copy(src);
                    let full = n < src.len();
                    *off += n;
                    total += n;
                    if *off == data.len() {
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

    /// The front chunk, handed out whole in its ring buffer (`out`), else
    /// a queued error or the end of the stream.
    fn take_chunk(&mut self, out: &mut Option<RecvBuf>) -> Option<io::Result<usize>> {
        loop {
            let Some(item) = self.queue.pop_front() else {
                return self.eof.then_some(Ok(0));
            };
            match item {
                Item::Data { bid, len, off } => {
                    let Some(ring) = self.ring.as_ref() else {
                        // As in take_ready: never the case.
                        continue;
                    };
                    // SAFETY: `complete` claimed the buffer from this ring;
                    // the item is popped, so only the RecvBuf recycles it.
                    // `off <= len` (reads advance `off` up to `len`).
                    let chunk = unsafe { RecvBuf::from_ring(ring.clone(), bid, off, len) };
                    let n = chunk.len();
                    *out = Some(chunk);
                    return Some(Ok(n));
                }
                Item::Owned { mut data, off } => {
                    data.drain(..off);
                    let n = data.len();
                    *out = Some(RecvBuf::from(data));
                    return Some(Ok(n));
                }
                Item::Err(e) => return Some(Err(e)),
                Item::Eof => {
                    self.eof = true;
                    return Some(Ok(0));
                }
            }
        }
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

    /// Registers `waker` to be woken by the next delivery: as the direct
    /// reader (kept, no clone when it waits again) unless another direct
    /// reader is waiting, then in the list.
    fn wait(&mut self, waker: &Waker) {
        match &self.direct {
            Some(d) if d.will_wake(waker) => {}
            Some(_) if self.direct_waiting => {
                self.add_reader(waker);
                return;
            }
            _ => self.direct = Some(waker.clone()),
        }
        self.direct_waiting = true;
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
            .field("tcp", &self.tcp)
            .field("op", &st.op)
            .field("arming", &st.arming)
            .field("ended", &st.ended)
            .field("enobufs", &st.enobufs)
            .field("queued_items", &st.queue.len())
            .field("eof", &st.eof)
            .field("reader_waiting", &st.direct_waiting)
            .field("other_readers", &st.readers.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;
    use std::task::Poll;

    use super::super::recv_salvage::poll_once;
    use super::*;
    use crate::op::OpCode;

    #[test]
    fn bytes_a_dropped_plain_receive_got_come_first() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = SharedFd::new(OwnedFd::from(a));
        let recv = RingRecv::new();
        // A plain receive is in flight, its future dropped: a read waits.
        recv.shared.lock().plain = true;
        let mut op = Salvaged::new(
            Recv::new(fd.clone(), b"salvaged".to_vec(), 0),
            recv.shared.clone(),
        );
        assert!(poll_once(recv.read(&fd, Vec::with_capacity(4))).is_pending());
        // Its completion (8 bytes) arrives after all and the op ends.
        op.orphan_completed(8, 0);
        drop(op);
        assert_eq!(recv.queued(), 8);
        // The next reads get those bytes, in order, without any I/O (no
        // runtime here to do any).
        let Poll::Ready((Ok(4), buf)) = poll_once(recv.read(&fd, Vec::with_capacity(4))) else {
            panic!("the salvaged bytes were not read first");
        };
        assert_eq!(buf, b"salv");
        let Poll::Ready(Ok(Some(chunk))) = poll_once(recv.read_chunk(&fd)) else {
            panic!("the rest of the salvaged bytes were not handed out");
        };
        assert_eq!(&chunk[..], b"aged");
        assert_eq!(recv.queued(), 0);
    }

    #[test]
    fn a_dropped_plain_receive_that_failed_reports_its_error_once() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = SharedFd::new(OwnedFd::from(a));
        let recv = RingRecv::new();
        let mut op = Salvaged::new(
            Recv::new(fd.clone(), Vec::with_capacity(8), 0),
            recv.shared.clone(),
        );
        // Our own cancellation took nothing: nothing is queued.
        op.orphan_completed(-libc::ECANCELED, 0);
        assert_eq!(recv.shared.lock().queue.len(), 0);
        op.orphan_completed(-libc::ECONNRESET, 0);
        drop(op);
        let Poll::Ready((Err(e), _)) = poll_once(recv.read(&fd, Vec::with_capacity(4))) else {
            panic!("the salvaged error was not reported");
        };
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    }
}
