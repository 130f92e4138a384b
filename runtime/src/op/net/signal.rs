//! [`ctrl_c`]: waits for SIGINT through the ring.
//!
//! The first call installs a process-wide SIGINT handler whose only action
//! is an async-signal-safe `write(2)` to an eventfd; [`ctrl_c`] reads that
//! eventfd with an IORING_OP_READ. A handler (rather than a `signalfd` with
//! SIGINT blocked) works whichever thread the kernel delivers the signal to,
//! including blocking-pool threads started before the first call.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;

use crate::fd::SharedFd;
use crate::op::{Op, Read};

/// The eventfd the handler writes to (-1 before installation).
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

/// The installed eventfd, or the errno that installing failed with.
static EVENTFD: OnceLock<Result<SharedFd, i32>> = OnceLock::new();

/// The SIGINT handler: adds 1 to the eventfd. Only async-signal-safe calls
/// (`write`), and `errno` is preserved for the interrupted code.
extern "C" fn on_sigint(_signal: libc::c_int) {
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    // SAFETY: `__errno_location` returns this thread's errno slot, valid for
    // the thread's lifetime; it is restored below so the interrupted code
    // sees its own errno.
    let saved = unsafe { *libc::__errno_location() };
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a valid u64 on the stack to an eventfd that
    // is never closed (it is kept in a static). A failure (counter overflow)
    // only loses a redundant wake.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
}

/// Creates the eventfd and installs the handler, once per process.
fn install() -> Result<SharedFd, i32> {
    // SAFETY: eventfd takes no pointers.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    // SAFETY: `raw` was just returned by eventfd and is owned by nobody else.
    let fd = SharedFd::new(unsafe { OwnedFd::from_raw_fd(raw) });
    WRITE_FD.store(raw, Ordering::Relaxed);
    // SAFETY: a zeroed `sigaction` is a valid value (empty mask, no flags);
    // the handler field is then set to a function with the signature the
    // kernel calls without SA_SIGINFO.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action` is a valid sigaction; the old action is not wanted.
    let r = unsafe { libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut()) };
    if r != 0 {
        WRITE_FD.store(-1, Ordering::Relaxed);
        return Err(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    Ok(fd)
}

/// Completes when the process receives SIGINT (Ctrl-C in a terminal).
///
/// The first call replaces SIGINT's disposition for the whole process, for
/// good: from then on Ctrl-C no longer terminates the program, it completes
/// the pending `ctrl_c()` futures' reads instead (as with tokio's
/// `ctrl_c`). A SIGINT that arrives while nobody waits is remembered and
/// completes the next call at once. Each SIGINT completes one waiting call
/// (concurrent callers share one counter; have one task wait and broadcast,
/// e.g. with a `CancellationToken`).
///
/// # Errors
///
/// If the eventfd cannot be created or the handler cannot be installed, or
/// the read through the ring fails.
///
/// # Examples
///
/// ```no_run
/// ringbolt_runtime::run(async {
///     ringbolt_runtime::op::net::ctrl_c().await?;
///     println!("bye");
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let fd = match EVENTFD.get_or_init(install) {
        Ok(fd) => fd.clone(),
        Err(errno) => return Err(io::Error::from_raw_os_error(*errno)),
    };
    let done = Op::new(Read::new(fd, Vec::with_capacity(8), u64::MAX)).await;
    done.result.map(|_| ())
}
