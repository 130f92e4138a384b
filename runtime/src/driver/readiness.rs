//! Socket readiness for the thread-pool driver: an epoll instance per
//! worker, on which the worker also sleeps.
//!
//! Without a ring, a socket operation is tried at once on the worker,
//! without blocking (`MSG_DONTWAIT`, a non-blocking listener). When it
//! would block, its future registers a *waiter* here: the fd and the poll
//! events it waits for. The worker's wait (`epoll_wait`, with its wake-up
//! eventfd in the same set) reports the fd ready, the waiter is removed
//! and its task woken, and the operation is tried again. This is how tokio
//! and mio drive sockets. Compared with a blocking call on a pool thread it
//! keeps no thread per pending operation (an idle connection costs a
//! waiter, not a thread) and a dropped future consumes nothing: the bytes
//! or connection stay in the socket for the next call.
//!
//! # Registrations
//!
//! A socket is registered once, the first time one of its operations
//! waits, edge-triggered (`EPOLLET`) for every event a waiter may want,
//! and stays registered until it is closed (which removes the
//! registration with it): as in tokio and mio, a wait costs no
//! `epoll_ctl`. The kernel reports the socket on every wake-up of its wait
//! queue that matches (new bytes, room to write, a connection, an error);
//! a report wakes the waiters it concerns and is dropped if none does. No
//! wake-up is lost: a waiter is registered right after its operation
//! failed with `EAGAIN`, on the worker's thread, with no `epoll_wait` in
//! between, so whatever makes the socket ready after that failure is a
//! new report; and the first registration of a socket reports it at once
//! if it is ready already.
//!
//! The table is indexed by fd number, and the kernel reuses a closed fd's
//! number for the next socket. So each entry records the identity of the
//! descriptor it registered ([`SharedFd::identity`], unique for the life
//! of the process): a waiter for another descriptor under the same number
//! registers its own socket first. A registration that outlives its
//! descriptor (the socket stays open through a duplicate, e.g. after
//! `into_std`) can still report under the old number; that only wakes a
//! waiter spuriously, and its operation is tried again.
//!
//! # Short reads
//!
//! A TCP receive that got fewer bytes than it asked for left the socket's
//! receive queue empty (a Unix stream socket may stop short before a
//! message with descriptors or other credentials, so it is never noted). The table notes that for the registered
//! descriptor, and the next receive registers its waiter without trying
//! (an attempt could only fail with `EAGAIN`); any read-side report
//! clears the note, whether or not a waiter takes it. Once the socket has
//! reported the end of its read side (`EPOLLRDHUP`, a hang-up, an error)
//! or urgent data (`EPOLLPRI`: a receive stops short at its mark), it is
//! never noted again: those are states the receive keeps meeting, and no
//! later report would announce them. So an echo or a
//! request-response server makes one `recv(2)` per message instead of
//! two, as with tokio, which clears a socket's readiness after a short
//! read.
//!
//! A waiter is named by its slab key and a generation, so that a future
//! holding the token of a waiter that fired cannot mistake a newer waiter
//! in the same slot for its own.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::task::Waker;
use std::time::Duration;

use slab::Slab;

use crate::fd::SharedFd;
use crate::sys::cvt;

/// The `epoll_event` data of the worker's wake-up eventfd (fds are
/// non-negative, so no socket has it).
const WAKE_TOKEN: u64 = u64::MAX;

/// Events reported to every waiter of an fd, whatever it waits for.
const ALWAYS: u32 = (libc::EPOLLERR | libc::EPOLLHUP) as u32;

/// What a socket is registered for: every event a waiter may wait for,
/// edge-triggered (see the module docs).
const INTEREST: u32 =
    (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLPRI | libc::EPOLLET) as u32;

/// Names one registered waiter (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitToken {
    key: usize,
    generation: u64,
}

#[derive(Debug)]
struct Waiter {
    fd: RawFd,
    /// `EPOLLIN`, `EPOLLOUT`, ... (as `poll(2)`'s `POLLIN`, `POLLOUT`,
    /// which have the same values).
    events: u32,
    waker: Waker,
    generation: u64,
}

/// The readiness table and the epoll instance of one worker.
#[derive(Debug)]
pub(crate) struct Readiness {
    epoll: OwnedFd,
    /// The worker's wake-up eventfd (owned by the worker's shared state).
    wake_fd: RawFd,
    waiters: Slab<Waiter>,
    /// The registration and waiters of each fd, indexed by fd number
    /// (small, dense integers).
    by_fd: Vec<FdEntry>,
    next_generation: u64,
    events: Vec<libc::epoll_event>,
    /// Wakers of waiters left behind under an fd number that another
    /// descriptor now has, woken at the next wait.
    stale: Vec<Waker>,
}

/// One fd number's registration and waiters.
#[derive(Debug, Default)]
struct FdEntry {
    /// The [`SharedFd::identity`] of the descriptor registered under this
    /// number (0: none yet).
    identity: u64,
    /// Its waiters (slab keys). The list keeps its capacity once empty, so
    /// that a wait allocates nothing.
    keys: Vec<usize>,
    /// A receive on the registered descriptor found it drained (it took
    /// less than it asked for) and no read-side report came since: the
    /// next receive can wait without trying (see [`Readiness::read_drained`]).
    read_drained: bool,
    /// The registration reported the end of the peer's sending side, a
    /// hang-up, an error or urgent data: a state, not an event. A receive
    /// returns the end (0) or the error however often it is asked, and
    /// stops short at an urgent mark with bytes behind it, while no report
    /// is due any more; so no receive is taken to have drained the socket
    /// from then on.
    no_drain_notes: bool,
}

/// The events whose report may mean new bytes (or an end or error) to read.
const READ_SIDE: u32 = READABLE | ALWAYS | libc::EPOLLPRI as u32;

/// The events after which a short receive proves nothing (see
/// `FdEntry::no_drain_notes`).
const NO_DRAIN_NOTES: u32 =
    (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLPRI) as u32;

impl Readiness {
    /// An epoll instance with `wake_fd` (the worker's eventfd, which must
    /// stay open as long as this lives) in its set.
    pub(crate) fn new(wake_fd: RawFd) -> io::Result<Self> {
        // SAFETY: no memory arguments.
        let epfd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `epfd` was just returned by epoll_create1 and nobody else owns it.
        let epoll = unsafe { OwnedFd::from_raw_fd(epfd) };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: WAKE_TOKEN,
        };
        // SAFETY: `ev` is a valid epoll_event on the stack; both fds are open.
        cvt(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, wake_fd, &mut ev) })?;
        Ok(Readiness {
            epoll,
            wake_fd,
            waiters: Slab::new(),
            by_fd: Vec::new(),
            next_generation: 0,
            events: Vec::with_capacity(256),
            stale: Vec::new(),
        })
    }

    /// Waiters registered now.
    pub(crate) fn len(&self) -> usize {
        self.waiters.len()
    }

    /// Registers `waker` to be woken when `fd` reports one of `events`
    /// (or an error or hang-up). Call it only right after an operation on
    /// `fd` failed for want of those events (see the module docs).
    ///
    /// # Errors
    ///
    /// `epoll_ctl`'s, when `fd` is registered for the first time: `EPERM`
    /// for an fd epoll cannot watch (a regular file), `EBADF` for a closed
    /// one, `ENOMEM`/`ENOSPC` at the limits.
    pub(crate) fn register(
        &mut self,
        fd: &SharedFd,
        events: u32,
        waker: Waker,
    ) -> io::Result<WaitToken> {
        let raw = fd.as_raw_fd();
        if raw < 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        let slot = raw as usize;
        if slot >= self.by_fd.len() {
            self.by_fd.resize_with(slot + 1, FdEntry::default);
        }
        let identity = fd.identity();
        if self.by_fd[slot].identity != identity {
            self.add(raw)?;
            let entry = &mut self.by_fd[slot];
            entry.identity = identity;
            entry.read_drained = false;
            entry.no_drain_notes = false;
            // Waiters of the number's earlier descriptor (their futures
            // went away on another thread): woken, to find out.
            for key in std::mem::take(&mut entry.keys) {
                self.stale.push(self.waiters.remove(key).waker);
            }
        }
        self.next_generation += 1;
        let generation = self.next_generation;
        let key = self.waiters.insert(Waiter {
            fd: raw,
            events,
            waker,
            generation,
        });
        self.by_fd[slot].keys.push(key);
        Ok(WaitToken { key, generation })
    }

    /// Notes that a receive on `fd` has just drained it: it got bytes, but
    /// fewer than it asked for, so the socket's receive queue was empty
    /// when it returned. Whatever arrives after that is a new report. Only
    /// a registered descriptor is noted (an unregistered one gets no
    /// reports to clear the note).
    pub(crate) fn note_read_drained(&mut self, fd: &SharedFd) {
        if let Some(entry) = self.entry_of(fd) {
            entry.read_drained = !entry.no_drain_notes;
        }
    }

    /// Whether `fd` is known to have nothing to read: a receive drained it,
    /// no read-side report came since, and the socket never reported the
    /// end of its read side, an error or urgent data (states that no later
    /// report announces again). Its next receive then registers
    /// its waiter without trying, as tokio does after a short read: the
    /// attempt could only fail with `EAGAIN`. That is sound because the
    /// note is cleared by any report that could mean bytes, and a report
    /// is due for everything that arrived after the draining receive: the
    /// registration is edge-triggered, and its reports are taken only by
    /// this table's `wait`, which clears the note.
    pub(crate) fn read_drained(&mut self, fd: &SharedFd) -> bool {
        self.entry_of(fd).is_some_and(|e| e.read_drained)
    }

    /// The entry of `fd` if this very descriptor is registered.
    fn entry_of(&mut self, fd: &SharedFd) -> Option<&mut FdEntry> {
        let raw = fd.as_raw_fd();
        let entry = self.by_fd.get_mut(usize::try_from(raw).ok()?)?;
        (entry.identity != 0 && entry.identity == fd.identity()).then_some(entry)
    }

    /// Whether the waiter is still waiting; if so, it keeps `waker` (the
    /// latest one of its future), and the waker it replaced goes into
    /// `replaced`, for the caller to drop once its borrow of the table has
    /// ended (dropping a waker may drop a task, whose own waits then
    /// cancel through the same table).
    pub(crate) fn still_waiting(
        &mut self,
        token: WaitToken,
        waker: &Waker,
        replaced: &mut Option<Waker>,
    ) -> bool {
        match self.waiters.get_mut(token.key) {
            Some(w) if w.generation == token.generation => {
                if !w.waker.will_wake(waker) {
                    *replaced = Some(std::mem::replace(&mut w.waker, waker.clone()));
                }
                true
            }
            _ => false,
        }
    }

    /// Forgets a waiter whose future went away (nothing if it already
    /// fired). Its fd stays registered; a later report finds no waiter and
    /// is dropped. Gives back the waiter's waker, for the caller to drop once
    /// its borrow of the table has ended (see `still_waiting`).
    #[must_use = "drop the waker after the table's borrow ends"]
    pub(crate) fn cancel(&mut self, token: WaitToken) -> Option<Waker> {
        self.waiters
            .get(token.key)
            .is_some_and(|w| w.generation == token.generation)
            .then(|| self.remove_key(token.key))
    }

    /// Waits up to `timeout` (`None`: no limit; zero: only looks) for ready
    /// fds, removing their waiters and pushing their wakers on `wakers`.
    /// Returns whether the wake-up eventfd fired (it is reset then).
    pub(crate) fn wait(
        &mut self,
        timeout: Option<Duration>,
        wakers: &mut Vec<Waker>,
    ) -> io::Result<bool> {
        let ms = match timeout {
            None => -1,
            // Rounded up, so the wait never ends before the deadline.
            Some(t) => t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
        };
        wakers.append(&mut self.stale);
        self.events.clear();
        let cap = self.events.capacity();
        // SAFETY: the vector is empty with room for `cap` (> 0) events: the
        // kernel writes at most that many into its spare capacity, and
        // `set_len` below covers only the ones it wrote.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                self.events.as_mut_ptr(),
                cap.min(i32::MAX as usize) as i32,
                ms,
            )
        };
        let n = match cvt(n) {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(false),
            Err(e) => return Err(e),
        };
        // SAFETY: epoll_wait initialised the first `n <= cap` entries.
        unsafe { self.events.set_len(n) };
        let mut woke = false;
        for i in 0..n {
            let (token, revents) = (self.events[i].u64, self.events[i].events);
            if token == WAKE_TOKEN {
                woke = true;
                reset_eventfd(self.wake_fd);
                continue;
            }
            self.fire(token as RawFd, revents, wakers);
        }
        Ok(woke)
    }

    /// `fd` reported `revents`: wakes and removes the waiters it concerns;
    /// the others wait for a later report.
    fn fire(&mut self, fd: RawFd, revents: u32, wakers: &mut Vec<Waker>) {
        let Some(entry) = self.by_fd.get_mut(fd as usize) else {
            return;
        };
        if revents & READ_SIDE != 0 {
            entry.read_drained = false;
        }
        if revents & NO_DRAIN_NOTES != 0 {
            entry.no_drain_notes = true;
        }
        let waiters = &mut self.waiters;
        entry.keys.retain(|&key| {
            let w = &waiters[key];
            if revents & (w.events | ALWAYS) != 0 {
                wakers.push(waiters.remove(key).waker);
                false
            } else {
                true
            }
        });
    }

    /// Registers `fd` with the epoll instance (see the module docs); a
    /// registration the kernel still holds for the same open socket under
    /// this number (`EEXIST`) is kept.
    fn add(&self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: INTEREST,
            u64: fd as u64,
        };
        // SAFETY: `ev` is a valid epoll_event on the stack.
        let added = cvt(unsafe {
            libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev)
        });
        match added {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Removes waiter `key`; its waker.
    fn remove_key(&mut self, key: usize) -> Waker {
        let w = self.waiters.remove(key);
        if let Some(entry) = self.by_fd.get_mut(w.fd as usize) {
            entry.keys.retain(|&k| k != key);
        }
        w.waker
    }
}

/// The poll events of a read-side wait (`POLLIN`, with the hang-up of the
/// peer's sending side).
pub(crate) const READABLE: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;

/// The poll events of a write-side wait.
pub(crate) const WRITABLE: u32 = libc::EPOLLOUT as u32;

/// Resets an eventfd that epoll reported readable.
fn reset_eventfd(fd: RawFd) {
    let mut buf = 0u64;
    // SAFETY: reads 8 bytes into a u64 on the stack; the eventfd is
    // readable, so this does not block.
    unsafe { libc::read(fd, (&mut buf as *mut u64).cast(), 8) };
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    use super::*;

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A table with an eventfd of its own (returned, to keep it open).
    fn table() -> (Readiness, OwnedFd) {
        // SAFETY: no memory arguments.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        assert!(efd >= 0);
        // SAFETY: just created, owned by nobody else.
        let efd = unsafe { OwnedFd::from_raw_fd(efd) };
        (Readiness::new(efd.as_raw_fd()).unwrap(), efd)
    }

    /// The registrations `/proc/self/fdinfo` lists for the table's epoll
    /// instance: (fd number, event mask).
    fn registered(t: &Readiness) -> Vec<(i32, u32)> {
        let info =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", t.epoll.as_raw_fd())).unwrap();
        info.lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                (it.next()? == "tfd:").then_some(())?;
                let fd = it.next()?.parse().ok()?;
                (it.next()? == "events:").then_some(())?;
                let mask = u32::from_str_radix(it.next()?, 16).ok()?;
                Some((fd, mask))
            })
            .filter(|&(fd, _)| fd != t.wake_fd)
            .collect()
    }

    fn waker() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count::default());
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn a_socket_is_registered_once_and_stays_registered_across_reports() {
        let (mut t, _efd) = table();
        let (a, mut b) = UnixStream::pair().unwrap();
        let a = SharedFd::new(OwnedFd::from(a));
        let (count, w) = waker();
        for round in 1..=3 {
            t.register(&a, READABLE, w.clone()).unwrap();
            b.write_all(b"x").unwrap();
            let mut wakers = Vec::new();
            t.wait(Some(Duration::from_secs(5)), &mut wakers).unwrap();
            wakers.drain(..).for_each(Waker::wake);
            assert_eq!(count.0.load(Ordering::SeqCst), round);
            assert_eq!(t.len(), 0, "the woken waiter is removed");
            // One registration, edge-triggered, still there after reports.
            let regs = registered(&t);
            assert_eq!(regs.len(), 1, "{regs:?}");
            assert_eq!(regs[0].0, a.as_raw_fd());
            assert_ne!(regs[0].1 & libc::EPOLLET as u32, 0, "{regs:?}");
        }
    }

    #[test]
    fn a_socket_ready_before_its_first_wait_is_reported_at_once() {
        let (mut t, _efd) = table();
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"already there").unwrap();
        let a = SharedFd::new(OwnedFd::from(a));
        let (count, w) = waker();
        t.register(&a, READABLE, w).unwrap();
        let mut wakers = Vec::new();
        t.wait(Some(Duration::from_secs(5)), &mut wakers).unwrap();
        wakers.drain(..).for_each(Waker::wake);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_new_socket_under_a_closed_ones_number_is_registered_for_itself() {
        let (mut t, _efd) = table();
        let (a, _a_peer) = UnixStream::pair().unwrap();
        let a = SharedFd::new(OwnedFd::from(a));
        let number = a.as_raw_fd();
        let (_, w) = waker();
        let token = t.register(&a, READABLE, w).unwrap();
        drop(t.cancel(token));
        // Closing the socket removes the kernel's registration; the next
        // socket gets the same number (the lowest free one).
        drop(a);
        let (b, mut b_peer) = UnixStream::pair().unwrap();
        let b = SharedFd::new(OwnedFd::from(b));
        if b.as_raw_fd() != number {
            // Another test's thread took the number meanwhile: the case is
            // not reached this time, but the new socket must still be
            // reported.
            eprintln!("fd {number} was taken by another thread");
        }
        let (count, w) = waker();
        t.register(&b, READABLE, w).unwrap();
        b_peer.write_all(b"x").unwrap();
        let mut wakers = Vec::new();
        t.wait(Some(Duration::from_secs(5)), &mut wakers).unwrap();
        wakers.drain(..).for_each(Waker::wake);
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "the new socket was never reported"
        );
    }

    #[test]
    fn a_drained_note_lasts_until_a_read_side_report() {
        let (mut t, _efd) = table();
        let (a, mut b) = UnixStream::pair().unwrap();
        let a = SharedFd::new(OwnedFd::from(a));
        // Not registered yet: no report would ever clear a note.
        t.note_read_drained(&a);
        assert!(!t.read_drained(&a), "noted before its registration");
        let (_, w) = waker();
        let token = t.register(&a, READABLE, w).unwrap();
        drop(t.cancel(token));
        t.note_read_drained(&a);
        assert!(t.read_drained(&a));
        // A wait that reports nothing for the socket keeps the note.
        let mut wakers = Vec::new();
        t.wait(Some(Duration::ZERO), &mut wakers).unwrap();
        assert!(t.read_drained(&a), "cleared with no report");
        // Bytes arrive: the report clears it, though no waiter takes it.
        b.write_all(b"x").unwrap();
        t.wait(Some(Duration::from_secs(5)), &mut wakers).unwrap();
        assert!(!t.read_drained(&a), "still noted after a read-side report");
        assert!(wakers.is_empty());
    }

    #[test]
    fn a_drained_note_belongs_to_its_descriptor() {
        let (mut t, _efd) = table();
        let (a, _a_peer) = UnixStream::pair().unwrap();
        let a = SharedFd::new(OwnedFd::from(a));
        let number = a.as_raw_fd();
        let (_, w) = waker();
        let token = t.register(&a, READABLE, w.clone()).unwrap();
        drop(t.cancel(token));
        t.note_read_drained(&a);
        assert!(t.read_drained(&a));
        drop(a);
        // The next socket gets the closed one's number (the lowest free).
        let (b, _b_peer) = UnixStream::pair().unwrap();
        let b = SharedFd::new(OwnedFd::from(b));
        if b.as_raw_fd() != number {
            eprintln!("fd {number} was taken by another thread");
        }
        assert!(
            !t.read_drained(&b),
            "the old descriptor's note carried over"
        );
        let token = t.register(&b, READABLE, w).unwrap();
        drop(t.cancel(token));
        assert!(
            !t.read_drained(&b),
            "a new registration starts without a note"
        );
    }

    #[test]
    fn a_socket_whose_read_side_was_reported_closed_is_never_noted_drained() {
        let (mut t, _efd) = table();
        let (a, b) = UnixStream::pair().unwrap();
        let a = SharedFd::new(OwnedFd::from(a));
        let (_, w) = waker();
        let token = t.register(&a, READABLE, w).unwrap();
        drop(t.cancel(token));
        b.shutdown(std::net::Shutdown::Write).unwrap();
        let mut wakers = Vec::new();
        t.wait(Some(Duration::from_secs(5)), &mut wakers).unwrap();
        // A receive now returns 0 at once, however short it is.
        t.note_read_drained(&a);
        assert!(!t.read_drained(&a), "noted after the end was reported");
    }
}
