//! Provided buffer rings (IORING_REGISTER_PBUF_RING): a pool of receive
//! buffers that the kernel picks from when data arrives, shared by every
//! connection of a worker.
//!
//! # Why
//!
//! With a plain IORING_OP_RECV every pending read owns its buffer while it
//! waits: 10,000 idle connections with a 16 KiB read each pin 160 MiB. With
//! a buffer ring, a multishot receive (IORING_OP_RECV with
//! IORING_RECV_MULTISHOT and IOSQE_BUFFER_SELECT) waits with no buffer at
//! all; the kernel takes one from the ring only when bytes arrive, and the
//! CQE says which one (`IORING_CQE_F_BUFFER`, the buffer id in the upper 16
//! bits of the flags). The memory is the ring's fixed pool, whatever the
//! number of connections.
//!
//! # Layout
//!
//! One [`BufRing`] per worker, created lazily by [`BufRing::current`] on the
//! first buffer-ring read (default: [`DEFAULT_ENTRIES`] buffers of
//! [`DEFAULT_BUF_SIZE`] bytes), or explicitly with [`BufRing::install`].
//! Two anonymous mappings (page-aligned, so only touched pages count in the
//! RSS): the ring of `entries` × 16-byte `io_uring_buf {addr, len, bid,
//! resv}` entries, whose tail is the `resv` field of entry 0
//! ([`io_uring::types::BufRingEntry::tail`]), and the buffers,
//! `entries × buf_size` bytes, buffer `bid` at `bid × buf_size`. Each ring
//! gets its own buffer-group id, registered with the worker's ring through
//! the driver hook (`Driver::register_buf_ring`).
//!
//! # Ownership of a buffer
//!
//! A buffer is the kernel's while it sits between the kernel's head and our
//! tail. A CQE that names it hands it to us: the receiver claims it
//! (`BufRing::claim`, which marks it held), reads it in place, and gives it
//! back once read to its end (`BufRing::recycle`): the entry at
//! `tail & mask` is written, then the new tail is published with a `Release` store (the kernel reads it with an
//! acquire load). A bitmap of the buffers we hold turns a double recycle
//! into a no-op. Buffers that CQEs carry with an error result (ENOBUFS
//! never does, others may) and those of CQEs nobody collects (a receive
//! orphaned by a dropped stream) are recycled the same way.
//!
//! The tail, the entries and the bitmap belong to the ring's worker:
//! buffers are taken there (CQEs are reaped there) and, on that thread,
//! given back with no lock and no atomic read-modify-write — on the
//! request path of a server every locked instruction shows. A receiver's
//! queue dropped on any other thread puts its buffers on
//! a mutex-protected list instead, which the worker drains into the ring
//! at its next recycle or wait for a buffer; a receiver waiting for
//! the dry ring is woken by either.
//!
//! # Lifetime of the memory
//!
//! The memory is freed when the last handle goes: the worker's registry
//! entry, every receive op that selects from the ring (each holds a
//! [`BufRing`] until its last CQE, also when orphaned in the driver), and
//! every receiver holding buffers of it. So no op that may still write into a buffer exists
//! when it is freed. Before freeing, the ring is unregistered when this
//! runs on its worker with the driver free; otherwise (thread exit, another
//! thread) the group stays registered until the ring closes, which is
//! harmless: no op can name the group any more (its id is never reused on
//! this process' rings), and the kernel holds its own pin on the ring's
//! pages and never writes them. If the driver's shutdown gives up on ops
//! that did not complete, their data, with the handle, is leaked, and so
//! is the memory: it is never freed while the kernel may write it.
//!
//! # Running dry
//!
//! When every buffer is held (received, not yet read), the kernel ends the
//! multishot receive with `ENOBUFS`; the data stays in the socket. The
//! receiver re-arms once a buffer is back ([`BufRing::poll_available`]),
//! counted by [`BufRing::enobufs_rearms`], so nothing is lost and nothing
//! is duplicated.
//!
//! A ring the runtime sized itself (the one [`BufRing::current`] creates)
//! also grows: once it has run dry, the next receive armed on the worker
//! installs a ring twice as large (up to [`MAX_AUTO_ENTRIES`] buffers) and
//! makes it current. With DEFER_TASKRUN the kernel fills a buffer for every
//! connection that received in one `io_uring_enter`, so a server with more
//! busy connections than buffers would otherwise end and re-arm receives
//! on every loop iteration. Receives still armed on the old ring move over
//! as they re-arm, and the old ring is freed with its last user. A ring
//! made with [`BufRing::install`] keeps the size it was given.

use std::cell::{RefCell, UnsafeCell};
use std::fmt;
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use io_uring::types::BufRingEntry;

use crate::executor::context;

/// Buffers in a ring created by [`BufRing::current`].
pub const DEFAULT_ENTRIES: u16 = 256;
/// Bytes per buffer of a ring created by [`BufRing::current`].
pub const DEFAULT_BUF_SIZE: u32 = 16 * 1024;
/// The most buffers a ring created by [`BufRing::current`] grows to when
/// it runs dry (see the module docs).
pub const MAX_AUTO_ENTRIES: u16 = 2048;

/// The next buffer-group id to try; ids are never reused in a process, so
/// a group left registered (see the module docs) is never named again.
static NEXT_BGID: AtomicU16 = AtomicU16::new(0x4200);

/// An `io_uring_buf`, written through raw pointers (the kernel reads the
/// ring concurrently, so no `&mut` to an entry is ever made).
#[repr(C)]
struct RawEntry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

const _: () = assert!(std::mem::size_of::<RawEntry>() == std::mem::size_of::<BufRingEntry>());
const _: () = assert!(std::mem::size_of::<RawEntry>() == 16);

/// A per-worker pool of receive buffers registered as a provided buffer
/// ring. Cloning gives another handle to the same ring; `Send + Sync`.
///
/// See the [module docs](self) for the protocol.
#[derive(Clone)]
pub struct BufRing {
    inner: Arc<Inner>,
}

struct Inner {
    /// The worker whose ring holds the registration.
    worker: u64,
    bgid: u16,
    entries: u16,
    buf_size: u32,
    ring: Mapping,
    bufs: Mapping,
    /// The tail and the held buffers: only ever touched on the owning
    /// worker's thread (see [`Inner::owned`]), so with no atomic operation.
    owned: UnsafeCell<Owned>,
    /// Buffers given back on other threads, and receivers waiting for one.
    remote: Mutex<Remote>,
    /// `remote.bids` may hold buffers: the owner drains them (set and
    /// cleared under the `remote` lock; read by the owner without it).
    remote_pending: AtomicBool,
    /// Someone waits in `remote.waiters` (same protocol).
    waiting: AtomicBool,
    /// `owned.held_count`, for other threads (written by the owner only).
    held_mirror: AtomicUsize,
    enobufs: AtomicU64,
    rearms: AtomicU64,
    /// The kernel refused multishot receives (EINVAL before any data:
    /// kernels before 6.0); receivers use plain receives then.
    refused: AtomicBool,
    /// Sized by the runtime (made by `current`), not by the user: it is
    /// replaced by one twice as large when it runs dry.
    auto: bool,
    /// It ran dry: the next `current` installs a larger ring.
    grow: AtomicBool,
}

/// The owner's side of the ring.
struct Owned {
    /// Our tail: entries published to the kernel so far (wrapping).
    tail: u16,
    /// Buffers handed to us by CQEs and not yet recycled.
    held: Vec<bool>,
    held_count: usize,
}

/// What other threads hand to the owner.
#[derive(Default)]
struct Remote {
    /// Buffers recycled on other threads, not yet back in the ring.
    bids: Vec<u16>,
    /// Receivers waiting for a buffer to come back (after ENOBUFS).
    waiters: Vec<Waker>,
}

/// An anonymous private mapping.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Mapping> {
        // SAFETY: an anonymous private mapping at an address of the
        // kernel's choice touches no existing memory.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mapping { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `Mapping::new` with this length
        // and is unmapped once; its owner (`Inner`) drops it only when the
        // kernel can no longer write it (see the module docs).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

// SAFETY: the ring entries and the tail are only written by the owning
// worker's thread (through `owned`, which `Inner::owned` hands out only
// there), a buffer only by the kernel or read through a holder that has
// exclusive use of it while the kernel does not own it; everything else is
// immutable, atomic or under the `remote` mutex.
unsafe impl Send for Inner {}
// SAFETY: as for `Send`.
unsafe impl Sync for Inner {}

/// The worker's ring, created on first use.
enum Local {
    Empty,
    Ring(u64, BufRing),
    /// Registration failed on this worker: plain receives.
    Unavailable(u64),
}

thread_local! {
    static LOCAL: RefCell<Local> = const { RefCell::new(Local::Empty) };
}

impl BufRing {
    /// The buffer ring of this thread's worker, created (with the default
    /// size) and registered on first use. `None` when buffer-ring receives
    /// are not available here: outside a runtime, under the thread-pool
    /// driver, with multishot ops switched off or missing
    /// ([`Feature::Multishot`](crate::Feature::Multishot)), with
    /// IORING_OP_RECV switched off, or when the kernel refused the
    /// registration (before 5.19) or multishot receives (before 6.0).
    pub fn current() -> Option<BufRing> {
        let id = context::current_id()?;
        let found = LOCAL
            .try_with(|l| match &*l.borrow() {
                Local::Ring(w, r) if *w == id => Some(Some(r.clone())),
                Local::Unavailable(w) if *w == id => Some(None),
                _ => None,
            })
            .ok()?;
        let ring = match found {
            Some(Some(r)) if r.inner.grow.swap(false, Ordering::Relaxed) => {
                // Ran dry: receives re-armed from now on use a ring twice
                // as large; those still on the old one move over as they
                // re-arm, and the old ring goes with its last user.
                let entries = r.inner.entries.saturating_mul(2).min(MAX_AUTO_ENTRIES);
                match Self::install_as(entries, r.inner.buf_size, true) {
                    Ok(grown) => {
                        // Receivers waiting for a buffer of the old ring
                        // re-arm on the new one.
                        r.inner.wake_waiters();
                        Some(grown)
                    }
                    Err(_) => Some(r),
                }
            }
            Some(r) => r,
            None => {
                let made = if usable_here() {
                    Self::install_as(DEFAULT_ENTRIES, DEFAULT_BUF_SIZE, true).ok()
                } else {
                    None
                };
                if made.is_none() {
                    let old = LOCAL.try_with(|l| l.replace(Local::Unavailable(id))).ok();
                    drop(old);
                }
                made
            }
        }?;
        if ring.inner.refused.load(Ordering::Relaxed) || !usable_here() {
            return None;
        }
        Some(ring)
    }

    /// Creates a ring of `entries` buffers of `buf_size` bytes, registers
    /// it with this thread's worker's ring and makes it the worker's
    /// current ring (what [`BufRing::current`] returns). Receives armed
    /// before keep the ring they started with, which lives until they are
    /// done.
    ///
    /// # Errors
    ///
    /// - `InvalidInput` unless `entries` is a power of two from 1 to 32768
    ///   and `buf_size` from 1 byte to 1 GiB (and the whole pool fits the
    ///   address space).
    /// - `Unsupported` outside a runtime or under the thread-pool driver.
    /// - The kernel's error for the registration (`EINVAL` before 5.19).
    pub fn install(entries: u16, buf_size: u32) -> io::Result<BufRing> {
        Self::install_as(entries, buf_size, false)
    }

    /// [`BufRing::install`]; `auto`: a ring sized by the runtime, which
    /// grows when it runs dry.
    fn install_as(entries: u16, buf_size: u32, auto: bool) -> io::Result<BufRing> {
        if !entries.is_power_of_two() || entries > 32768 || buf_size == 0 || buf_size > 1 << 30 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "BufRing: {entries} buffers of {buf_size} bytes; use a power of two from 1 to \
                     32768 buffers of 1 byte to 1 GiB"
                ),
            ));
        }
        let pool = usize::from(entries)
            .checked_mul(buf_size as usize)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "BufRing: too large"))?;
        let ring = Mapping::new(usize::from(entries) * std::mem::size_of::<RawEntry>())?;
        let bufs = Mapping::new(pool)?;
        let (worker, bgid) = context::with_current(|w| {
            let Some(driver) = w.ring() else {
                return Err(unsupported());
            };
            let mut driver = driver.try_borrow_mut().map_err(|_| {
                io::Error::other("BufRing: the driver is busy; create the ring from a task")
            })?;
            let mut last = io::Error::other("BufRing: no free buffer-group id");
            for _ in 0..16 {
                let bgid = NEXT_BGID.fetch_add(1, Ordering::Relaxed);
                // The ring mapping is page-aligned (mmap), `entries` × 16
                // bytes, and its tail is 0: the kernel sees an empty ring.
                // SAFETY: it moves into `Inner`, which unmaps it only after
                // unregistering or once no op can use the group (module docs).
                match unsafe { driver.register_buf_ring(ring.ptr.as_ptr() as u64, entries, bgid) } {
                    Ok(()) => return Ok((w.id, bgid)),
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => last = e,
                    Err(e) => return Err(e),
                }
            }
            Err(last)
        })
        .unwrap_or_else(|| Err(unsupported()))?;
        let ring = BufRing {
            inner: Arc::new(Inner {
                worker,
                bgid,
                entries,
                buf_size,
                ring,
                bufs,
                owned: UnsafeCell::new(Owned {
                    tail: 0,
                    held: vec![true; usize::from(entries)],
                    held_count: usize::from(entries),
                }),
                remote: Mutex::new(Remote::default()),
                remote_pending: AtomicBool::new(false),
                waiting: AtomicBool::new(false),
                held_mirror: AtomicUsize::new(usize::from(entries)),
                enobufs: AtomicU64::new(0),
                rearms: AtomicU64::new(0),
                refused: AtomicBool::new(false),
                auto,
                grow: AtomicBool::new(false),
            }),
        };
        // Every buffer starts out held by us; hand them all to the kernel.
        for bid in 0..entries {
            ring.recycle(bid);
        }
        let old = LOCAL
            .try_with(|l| l.replace(Local::Ring(worker, ring.clone())))
            .ok();
        drop(old);
        Ok(ring)
    }

    /// The buffer-group id the ring is registered under.
    pub fn bgid(&self) -> u16 {
        self.inner.bgid
    }

    /// The number of buffers.
    pub fn entries(&self) -> u16 {
        self.inner.entries
    }

    /// The size of each buffer.
    pub fn buf_size(&self) -> u32 {
        self.inner.buf_size
    }

    /// The id of the worker whose ring holds the registration.
    pub fn worker(&self) -> u64 {
        self.inner.worker
    }

    /// Buffers received into and not yet given back (queued in
    /// receivers). Buffers named by CQEs the worker has not
    /// processed yet are not counted.
    pub fn in_use(&self) -> usize {
        let remote = self.inner.lock_remote();
        self.inner
            .held_mirror
            .load(Ordering::Relaxed)
            .saturating_sub(remote.bids.len())
    }

    /// Buffers in the ring, available to the kernel:
    /// `entries() - in_use()`.
    pub fn available(&self) -> usize {
        usize::from(self.inner.entries) - self.in_use()
    }

    /// How many receives ended with `ENOBUFS` (the ring ran dry).
    pub fn enobufs(&self) -> u64 {
        self.inner.enobufs.load(Ordering::Relaxed)
    }

    /// How many receives were re-armed after ending with `ENOBUFS`.
    pub fn enobufs_rearms(&self) -> u64 {
        self.inner.rearms.load(Ordering::Relaxed)
    }

    /// Marks buffer `bid`, which a CQE reported holding `len` received
    /// bytes, as ours: the caller reads it with [`BufRing::bytes`] and gives
    /// it back with [`BufRing::recycle`], holding a handle to the ring
    /// meanwhile (a receiver's queue does this for its chunks).
    ///
    /// # Safety
    ///
    /// `bid` must come from the flags of a CQE of an op that selected from
    /// this ring (`cqueue::buffer_select`), and that CQE's buffer must not
    /// have been claimed already: the kernel must be done with the buffer.
    ///
    /// # Errors
    ///
    /// `InvalidData` if `bid` or `len` is out of range, or the buffer is
    /// held already (it is not recycled then); `InvalidInput` when called
    /// on another thread than the ring's worker (where its CQEs are).
    pub(crate) unsafe fn claim(&self, bid: u16, len: u32) -> io::Result<()> {
        let inner = &*self.inner;
        if bid >= inner.entries || len > inner.buf_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("BufRing: CQE names buffer {bid} with {len} bytes"),
            ));
        }
        // CQEs are reaped on the ring's worker, so that is where a buffer
        // is claimed.
        // SAFETY: no other `owned` borrow is live: this function makes no
        // call that takes one while it holds this one.
        let Some(owned) = (unsafe { inner.owned() }) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "BufRing: buffers are taken on the ring's own worker",
            ));
        };
        if std::mem::replace(&mut owned.held[usize::from(bid)], true) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("BufRing: buffer {bid} reported twice"),
            ));
        }
        owned.held_count += 1;
        inner.held_mirror.store(owned.held_count, Ordering::Relaxed);
        Ok(())
    }

    /// The first `len` bytes of buffer `bid`.
    ///
    /// # Safety
    ///
    /// The caller holds the buffer (claimed with [`BufRing::claim`] and not
    /// recycled since, so the kernel does not write it), `len` is at most
    /// what the CQE reported, and the slice is dropped before the buffer
    /// is recycled.
    pub(crate) unsafe fn bytes(&self, bid: u16, len: u32) -> &[u8] {
        let inner = &self.inner;
        debug_assert!(bid < inner.entries && len <= inner.buf_size);
        let off = usize::from(bid) * inner.buf_size as usize;
        // `claim` checked `bid < entries` and `len <= buf_size`, and the
        // mapping lives as long as `self`.
        // SAFETY: the range lies in the buffer mapping; the caller holds the
        // buffer, so the kernel does not write it while the slice lives.
        unsafe { std::slice::from_raw_parts(inner.bufs.ptr.as_ptr().add(off), len as usize) }
    }

    /// Gives buffer `bid` back to the kernel (a CQE carried it but nobody
    /// will read it: an error result, an orphaned op; or its reader is
    /// done). A buffer not held is left alone. On the ring's worker the
    /// buffer goes straight back into the ring; from any other thread it is
    /// queued for the worker, which puts it back at its next recycle or
    /// wait for a buffer.
    pub(crate) fn recycle(&self, bid: u16) {
        let inner = &*self.inner;
        if bid >= inner.entries {
            return;
        }
        // SAFETY: no other `owned` borrow is live (none is taken below
        // while this one is used).
        match unsafe { inner.owned() } {
            Some(owned) => {
                inner.put_back(owned, bid);
                if inner.remote_pending.load(Ordering::Relaxed) {
                    inner.drain_remote(owned);
                }
                inner.held_mirror.store(owned.held_count, Ordering::Relaxed);
                if inner.waiting.load(Ordering::Relaxed) {
                    inner.wake_waiters();
                }
            }
            None => {
                let waiters = {
                    let mut remote = inner.lock_remote();
                    remote.bids.push(bid);
                    inner.remote_pending.store(true, Ordering::Relaxed);
                    inner.waiting.store(false, Ordering::Relaxed);
                    std::mem::take(&mut remote.waiters)
                };
                // The woken receivers run on the owner, which drains.
                for w in waiters {
                    w.wake();
                }
            }
        }
    }

    /// Gives back buffer `bid` of a CQE whose bytes nobody will read (an
    /// end of stream or error that carried a buffer, a completion of an op
    /// orphaned before it was collected). The kernel took the buffer out of
    /// the ring when it posted the CQE, but nobody claimed it, so it is
    /// claimed here and recycled at once. Call it on the ring's worker
    /// (where CQEs are reaped); elsewhere the buffer cannot be claimed and
    /// stays out of the ring.
    ///
    /// # Safety
    ///
    /// As for [`BufRing::claim`]: `bid` comes from a CQE of an op that
    /// selected from this ring, and that CQE's buffer was not taken yet.
    pub(crate) unsafe fn give_back(&self, bid: u16) {
        // SAFETY: forwarded from this function's contract; 0 bytes are
        // always within the buffer.
        if unsafe { self.claim(bid, 0) }.is_ok() {
            self.recycle(bid);
        }
    }

    /// Ready when at least one buffer is in the ring; else `cx` is woken
    /// when one comes back. Only the ring's worker can tell (the ring is
    /// consumed there); elsewhere this is always ready.
    pub fn poll_available(&self, cx: &mut Context<'_>) -> Poll<()> {
        let inner = &*self.inner;
        // SAFETY: no other `owned` borrow is live (none is taken below
        // while this one is used).
        let Some(owned) = (unsafe { inner.owned() }) else {
            return Poll::Ready(());
        };
        let mut remote = inner.lock_remote();
        if !remote.bids.is_empty() {
            for bid in std::mem::take(&mut remote.bids) {
                inner.put_back(owned, bid);
            }
            inner.remote_pending.store(false, Ordering::Relaxed);
            inner.held_mirror.store(owned.held_count, Ordering::Relaxed);
        }
        if owned.held_count < usize::from(inner.entries) {
            return Poll::Ready(());
        }
        // Registered under the lock a remote recycle takes, so its wake
        // cannot be missed; a local recycle sees `waiting` (set on this
        // very thread) and wakes.
        if !remote.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            remote.waiters.push(cx.waker().clone());
        }
        inner.waiting.store(true, Ordering::Relaxed);
        Poll::Pending
    }

    /// Counts a receive that ended with `ENOBUFS`.
    pub(crate) fn note_enobufs(&self) {
        let inner = &self.inner;
        inner.enobufs.fetch_add(1, Ordering::Relaxed);
        if inner.auto && inner.entries < MAX_AUTO_ENTRIES {
            inner.grow.store(true, Ordering::Relaxed);
        }
    }

    /// Counts a re-arm after `ENOBUFS`.
    pub(crate) fn note_rearm(&self) {
        self.inner.rearms.fetch_add(1, Ordering::Relaxed);
    }

    /// Records that the kernel refused a multishot receive on this ring
    /// (before Linux 6.0): [`BufRing::current`] returns `None` from now on.
    pub(crate) fn mark_refused(&self) {
        self.inner.refused.store(true, Ordering::Relaxed);
    }

    /// Whether `self` and `other` are the same ring.
    pub fn ptr_eq(&self, other: &BufRing) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// Whether this thread's worker can arm buffer-ring receives.
fn usable_here() -> bool {
    crate::op::multishot_supported() && crate::op::ring_supports(io_uring::opcode::RecvMulti::CODE)
}

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "BufRing: buffer rings need a ringbolt worker with an io_uring driver",
    )
}

impl Inner {
    /// The owner's state, when called on the ring's worker; `None` on any
    /// other thread.
    ///
    /// # Safety
    ///
    /// The caller must not hold another borrow from this function (the
    /// `&mut` is unique only if each caller finishes with it before the
    /// next call, which holds since the owner is a single thread and no
    /// caller re-enters while holding it).
    #[allow(clippy::mut_from_ref)]
    unsafe fn owned(&self) -> Option<&mut Owned> {
        if context::current_id() != Some(self.worker) {
            return None;
        }
        // SAFETY: worker ids are unique and a worker is current only on the
        // one thread it belongs to, so only that thread gets here; the
        // caller guarantees no other borrow is live.
        Some(unsafe { &mut *self.owned.get() })
    }

    /// Writes buffer `bid` at the tail and publishes it to the kernel,
    /// unless it is not held (a second recycle of it is a no-op).
    fn put_back(&self, owned: &mut Owned, bid: u16) {
        if !std::mem::replace(&mut owned.held[usize::from(bid)], false) {
            return;
        }
        owned.held_count -= 1;
        let base = self.ring.ptr.as_ptr().cast::<RawEntry>();
        let mask = self.entries - 1;
        let slot = usize::from(owned.tail & mask);
        let addr = self.bufs.ptr.as_ptr() as u64 + u64::from(bid) * u64::from(self.buf_size);
        // `slot` < entries, inside the ring mapping. Only addr, len and
        // bid are written, through raw pointers: entry 0's `resv` is the
        // tail, which the kernel reads concurrently.
        // SAFETY: the slot at the tail is outside the kernel's head..tail
        // window until the tail store below; only the owner (this thread,
        // holding `owned`) writes entries.
        unsafe {
            let e = base.add(slot);
            std::ptr::addr_of_mut!((*e).addr).write(addr);
            std::ptr::addr_of_mut!((*e).len).write(self.buf_size);
            std::ptr::addr_of_mut!((*e).bid).write(bid);
        }
        owned.tail = owned.tail.wrapping_add(1);
        // The ring base is page-aligned and valid (see above); `tail` gives
        // the address of entry 0's `resv` field, a u16 at offset 14.
        let entry0 = base.cast::<BufRingEntry>();
        // SAFETY: that u16 is 2-byte aligned; only the owner writes it and
        // the kernel reads it atomically.
        let tail = unsafe { &*BufRingEntry::tail(entry0).cast::<AtomicU16>() };
        // Release: the entry written above is visible to the kernel's
        // acquire load of the tail.
        tail.store(owned.tail, Ordering::Release);
    }

    /// Puts the buffers recycled on other threads back into the ring.
    fn drain_remote(&self, owned: &mut Owned) {
        let bids = {
            let mut remote = self.lock_remote();
            self.remote_pending.store(false, Ordering::Relaxed);
            std::mem::take(&mut remote.bids)
        };
        for bid in bids {
            self.put_back(owned, bid);
        }
    }

    /// Wakes the receivers waiting for a buffer (one is back).
    fn wake_waiters(&self) {
        let waiters = {
            let mut remote = self.lock_remote();
            self.waiting.store(false, Ordering::Relaxed);
            std::mem::take(&mut remote.waiters)
        };
        for w in waiters {
            w.wake();
        }
    }

    fn lock_remote(&self) -> MutexGuard<'_, Remote> {
        self.remote.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // No op selecting from this ring exists any more (each holds a
        // handle until its last CQE), so the kernel writes none of its
        // buffers. Unregister where possible, so the kernel drops its pin
        // on the ring's pages now rather than when the ring closes.
        let _ = context::with_current(|w| {
            if w.id == self.worker {
                if let Some(ring) = w.ring() {
                    if let Ok(mut driver) = ring.try_borrow_mut() {
                        let _ = driver.unregister_buf_ring(self.bgid);
                    }
                }
            }
        });
        // The mappings are unmapped by their own drops.
    }
}

impl fmt::Debug for BufRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufRing")
            .field("worker", &self.inner.worker)
            .field("bgid", &self.inner.bgid)
            .field("entries", &self.inner.entries)
            .field("buf_size", &self.inner.buf_size)
            .field("in_use", &self.in_use())
            .finish()
    }
}
