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
//! Each fd with waiters is registered with `EPOLLONESHOT` for the union of
//! its waiters' events; the kernel disables it after one report, and the
//! waiters left over (a writer, when the report was for readers) re-arm it.
//! A new waiter always re-arms (`EPOLL_CTL_MOD`, else `ADD`): the table is
//! never trusted about what the kernel holds, because a closed fd's
//! registration disappears with it and its number may come back as another
//! socket. A registration left behind by a waiter that went away only
//! causes a spurious wake-up, after which the operation is simply tried
//! again. Oneshot registrations are level-triggered: arming an fd that is
//! already ready reports it at once, so no wake-up is lost between the
//! failed attempt and the registration.
//!
//! A waiter is named by its slab key and a generation, so that a future
//! holding the token of a waiter that fired cannot mistake a newer waiter
//! in the same slot for its own.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::task::Waker;
use std::time::Duration;

use slab::Slab;

use crate::sys::cvt;

/// The `epoll_event` data of the worker's wake-up eventfd (fds are
/// non-negative, so no socket has it).
const WAKE_TOKEN: u64 = u64::MAX;

/// Events reported to every waiter of an fd, whatever it waits for.
const ALWAYS: u32 = (libc::EPOLLERR | libc::EPOLLHUP) as u32;

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
    /// The waiters of each fd (slab keys).
    /// Indexed by fd number (small, dense integers). A list keeps its
    /// capacity once empty, so that a wait allocates nothing.
    by_fd: Vec<Vec<usize>>,
    next_generation: u64,
    events: Vec<libc::epoll_event>,
}

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
        })
    }

    /// Waiters registered now.
    pub(crate) fn len(&self) -> usize {
        self.waiters.len()
    }

    /// Registers `waker` to be woken when `fd` reports one of `events`
    /// (or an error or hang-up).
    ///
    /// # Errors
    ///
    /// `epoll_ctl`'s: `EPERM` for an fd epoll cannot watch (a regular
    /// file), `EBADF` for a closed one, `ENOMEM`/`ENOSPC` at the limits.
    pub(crate) fn register(
        &mut self,
        fd: RawFd,
        events: u32,
        waker: Waker,
    ) -> io::Result<WaitToken> {
        if fd < 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        self.next_generation += 1;
        let generation = self.next_generation;
        let key = self.waiters.insert(Waiter {
            fd,
            events,
            waker,
            generation,
        });
        let slot = fd as usize;
        if slot >= self.by_fd.len() {
            self.by_fd.resize_with(slot + 1, Vec::new);
        }
        self.by_fd[slot].push(key);
        if let Err(e) = self.arm(fd) {
            // The waker is the caller's own clone: nothing of another task
            // is dropped inside the caller's borrow.
            drop(self.remove_key(key));
            return Err(e);
        }
        Ok(WaitToken { key, generation })
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
    /// fired). Its fd stays armed; a later report finds no waiter and is
    /// dropped. Gives back the waiter's waker, for the caller to drop once
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

    /// `fd` reported `revents`: wakes and removes the waiters it concerns,
    /// and re-arms it for the others.
    fn fire(&mut self, fd: RawFd, revents: u32, wakers: &mut Vec<Waker>) {
        let Some(keys) = self.by_fd.get_mut(fd as usize) else {
            return;
        };
        let waiters = &mut self.waiters;
        keys.retain(|&key| {
            let w = &waiters[key];
            if revents & (w.events | ALWAYS) != 0 {
                wakers.push(waiters.remove(key).waker);
                false
            } else {
                true
            }
        });
        if keys.is_empty() {
            return;
        }
        if let Err(e) = self.arm(fd) {
            // The fd cannot be watched any more (closed under us): its
            // waiters try their call again and see the error themselves.
            tracing::debug!(fd, error = %e, "ringbolt: re-arming a socket's readiness failed");
            for key in std::mem::take(&mut self.by_fd[fd as usize]) {
                wakers.push(self.waiters.remove(key).waker);
            }
        }
    }

    /// Arms `fd` once for the union of its waiters' events.
    fn arm(&self, fd: RawFd) -> io::Result<()> {
        let interest = self
            .by_fd
            .get(fd as usize)
            .into_iter()
            .flatten()
            .fold(0, |acc, &key| acc | self.waiters[key].events);
        let mut ev = libc::epoll_event {
            events: interest | libc::EPOLLONESHOT as u32,
            u64: fd as u64,
        };
        let epfd = self.epoll.as_raw_fd();
        // SAFETY: `ev` is a valid epoll_event on the stack.
        let modified = cvt(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_MOD, fd, &mut ev) });
        match modified {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                // SAFETY: as above.
                cvt(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) }).map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }

    /// Removes waiter `key`; its waker.
    fn remove_key(&mut self, key: usize) -> Waker {
        let w = self.waiters.remove(key);
        if let Some(keys) = self.by_fd.get_mut(w.fd as usize) {
            keys.retain(|&k| k != key);
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
