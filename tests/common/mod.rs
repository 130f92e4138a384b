//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ringbolt::buf::{IoBuf, IoBufMut};

/// A heap buffer that counts its drops, to see when the runtime frees it.
#[derive(Debug)]
pub struct TrackedBuf {
    data: Vec<u8>,
    drops: Arc<AtomicUsize>,
}

impl TrackedBuf {
    pub fn new(cap: usize, drops: &Arc<AtomicUsize>) -> Self {
        TrackedBuf {
            data: Vec::with_capacity(cap),
            drops: drops.clone(),
        }
    }

    /// A buffer holding `data`.
    pub fn filled(data: &[u8], drops: &Arc<AtomicUsize>) -> Self {
        TrackedBuf {
            data: data.to_vec(),
            drops: drops.clone(),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for TrackedBuf {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: delegates to Vec<u8>, whose heap pointer is stable across moves of
// the TrackedBuf and valid for its capacity until the Vec is dropped.
unsafe impl IoBuf for TrackedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.data.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.data.len()
    }
    fn bytes_total(&self) -> usize {
        self.data.capacity()
    }
}

// SAFETY: as above; set_init forwards the caller's promise to the Vec.
unsafe impl IoBufMut for TrackedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.data.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // SAFETY: forwarded from the caller (bytes [0, pos) are initialised).
        unsafe { self.data.set_len(pos.max(self.data.len())) };
    }
}

/// A pipe: (read end, write end).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: pipe2 succeeded; both descriptors are new and owned by nobody.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Serialises tests of one binary that count process-wide resources.
pub static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Builds `builder` with the io_uring driver, for tests of the ring itself;
/// `None` (after saying so) where the host refuses io_uring (seccomp,
/// `kernel.io_uring_disabled`, an old kernel), so the test is skipped.
pub fn uring(builder: ringbolt::Builder) -> Option<ringbolt::Runtime> {
    match builder.driver(ringbolt::Driver::IoUring).build() {
        Ok(rt) => Some(rt),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::Unsupported
            ) =>
        {
            eprintln!("skipped: io_uring is refused here: {e}");
            None
        }
        Err(e) => panic!("io_uring runtime: {e}"),
    }
}

/// RSS of this process, in bytes.
pub fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Raises RLIMIT_NOFILE to at least `want`; false if it cannot.
pub fn raise_nofile(want: u64) -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid rlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return false;
    }
    if lim.rlim_cur >= want {
        return true;
    }
    if lim.rlim_max < want {
        return false;
    }
    lim.rlim_cur = want;
    // SAFETY: a valid rlimit, within the hard limit.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 }
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// A 64-bit linear congruential generator (Knuth's MMIX constants): a
/// fixed, seedable sequence for tests that shuffle or pick at random.
#[derive(Debug, Clone)]
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Lcg(seed)
    }

    /// The next value; its high bits are the most random.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
        self.0
    }
}

/// A connected (client, server) pair through `listener`.
pub async fn pair(
    listener: &ringbolt::net::TcpListener,
) -> (ringbolt::net::TcpStream, ringbolt::net::TcpStream) {
    let addr = listener.local_addr().unwrap();
    let connect = ringbolt::spawn(async move { ringbolt::net::TcpStream::connect(addr).await });
    let (server, _) = listener.accept().await.unwrap();
    (connect.await.unwrap().unwrap(), server)
}

/// A connected (client, server) pair through a listener of its own on
/// 127.0.0.1.
pub async fn connected_pair() -> (ringbolt::net::TcpStream, ringbolt::net::TcpStream) {
    let listener = ringbolt::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap();
    pair(&listener).await
}

/// A runtime per driver, each from `configure(Builder::new())`: the
/// thread-pool driver always, io_uring where the host allows it (see
/// [`uring`]).
pub fn runtimes(
    configure: impl Fn(ringbolt::Builder) -> ringbolt::Builder,
) -> Vec<(ringbolt::Driver, ringbolt::Runtime)> {
    let pool = configure(ringbolt::Builder::new())
        .driver(ringbolt::Driver::ThreadPool)
        .build()
        .unwrap();
    let mut v = vec![(ringbolt::Driver::ThreadPool, pool)];
    if let Some(rt) = uring(configure(ringbolt::Builder::new())) {
        v.push((ringbolt::Driver::IoUring, rt));
    }
    v
}

/// The ring of this worker, or `None` after saying that only the fallback
/// runs here.
pub fn ring_or_note(test: &str) -> Option<ringbolt_runtime::bufring::BufRing> {
    let ring = ringbolt_runtime::bufring::BufRing::current();
    if ring.is_none() {
        eprintln!(
            "{test}: no buffer ring here (thread-pool driver or multishot off): fallback only"
        );
    }
    ring
}

/// Closes `stream` with SO_LINGER 0: the peer gets a reset.
pub fn reset(stream: ringbolt::net::TcpStream) {
    let std = stream.into_std().unwrap();
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    use std::os::fd::AsRawFd;
    // SAFETY: a valid socket and a valid `linger` of the given size.
    let r = unsafe {
        libc::setsockopt(
            std.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
    drop(std);
}

/// A second handle on the same connection (a dup'd descriptor), so that
/// one task can write while another reads.
pub trait Dup {
    /// The dup'd handle.
    fn as_raw_fd_dup(&self) -> ringbolt::net::TcpStream;
}

impl Dup for ringbolt::net::TcpStream {
    fn as_raw_fd_dup(&self) -> ringbolt::net::TcpStream {
        use std::os::fd::AsFd;
        let fd = self.as_fd().try_clone_to_owned().unwrap();
        ringbolt::net::TcpStream::from_std(std::net::TcpStream::from(fd)).unwrap()
    }
}

/// Waits until `cond` holds, giving the worker turns (1 ms sleeps), at most
/// 10 s; returns whether it held. It returns as soon as `cond` holds: the
/// bound only matters on a machine too loaded to run the runtime's threads
/// promptly, where a fixed sleep would make a test flaky.
pub async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(10) {
        if cond() {
            return true;
        }
        ringbolt::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    cond()
}

/// A `tracing` subscriber that keeps the text (`field=value ...`) of every
/// event at `level` or more severe.
pub struct Logged {
    pub level: tracing::Level,
    pub lines: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Logged {
    /// Keeps warnings and errors.
    pub fn warnings(lines: &Arc<std::sync::Mutex<Vec<String>>>) -> Logged {
        Logged {
            level: tracing::Level::WARN,
            lines: lines.clone(),
        }
    }
}

struct Text(String);

impl tracing::field::Visit for Text {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0 += &format!("{}={value:?} ", field.name());
    }
}

impl tracing::Subscriber for Logged {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        // Levels order by verbosity: ERROR < WARN < INFO.
        if *event.metadata().level() <= self.level {
            let mut text = Text(String::new());
            event.record(&mut text);
            self.lines.lock().unwrap().push(text.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
