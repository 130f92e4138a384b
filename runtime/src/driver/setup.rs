//! Ring creation: setup flags tried from the best to the plainest, the
//! kernel probe, and errors that name the likely cause.

use std::io;

use io_uring::{IoUring, Probe};

use super::feature::Disabled;

/// What the builder asks of a ring.
#[derive(Debug, Clone)]
pub(crate) struct RingConfig {
    /// Submission queue entries (a power of two).
    pub(crate) sq_entries: u32,
    /// Completion queue entries; `None` lets the kernel pick (2 × SQ).
    pub(crate) cq_entries: Option<u32>,
    /// Features switched off (taskrun flags, EXT_ARG, multishot, opcodes).
    pub(crate) disabled: Disabled,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            sq_entries: 256,
            cq_entries: None,
            disabled: Disabled::default(),
        }
    }
}

/// Kernel features found at start-up.
#[derive(Debug)]
pub(crate) struct Features {
    /// The setup flags the ring was created with, as text for reports.
    pub(crate) setup: &'static str,
    /// IORING_SETUP_DEFER_TASKRUN is on: completions are posted only while
    /// this thread enters the ring with GETEVENTS.
    pub(crate) defer_taskrun: bool,
    /// IORING_FEAT_EXT_ARG: a wait can carry its own timeout.
    pub(crate) ext_arg: bool,
    /// Multishot accept/recv (Linux 5.19+), unless switched off.
    pub(crate) multishot: bool,
    /// Features switched off by configuration.
    pub(crate) disabled: Disabled,
    /// IORING_FEAT_NODROP: completions are never dropped on CQ overflow.
    #[allow(dead_code)] // reported with the features; the driver needs no branch on it
    pub(crate) nodrop: bool,
    /// Opcodes the kernel supports.
    pub(crate) probe: Option<Probe>,
}

impl Features {
    /// Whether ops with `opcode` go to the ring: the kernel knows it and it
    /// is not switched off. Without a probe (kernels before 5.6) every
    /// opcode is assumed present and errors come from the CQE.
    pub(crate) fn supports(&self, opcode: u8) -> bool {
        !self.disabled.opcode(opcode) && self.probe.as_ref().is_none_or(|p| p.is_supported(opcode))
    }
}

/// Creates a ring with the best setup flags this kernel accepts.
pub(crate) fn build_ring(cfg: &RingConfig) -> io::Result<(IoUring, Features)> {
    type Attempt = (&'static str, fn(&mut io_uring::Builder));
    let attempts: &[Attempt] = if !cfg.disabled.taskrun {
        &[
            ("SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG", |b| {
                b.setup_single_issuer()
                    .setup_defer_taskrun()
                    .setup_taskrun_flag();
            }),
            ("SINGLE_ISSUER|COOP_TASKRUN|TASKRUN_FLAG", |b| {
                b.setup_single_issuer()
                    .setup_coop_taskrun()
                    .setup_taskrun_flag();
            }),
            ("COOP_TASKRUN", |b| {
                b.setup_coop_taskrun();
            }),
            ("none", |_| {}),
        ]
    } else {
        &[("none", |_| {})]
    };
    let mut last_err = None;
    for (i, (name, apply)) in attempts.iter().enumerate() {
        let mut builder = IoUring::builder();
        builder.setup_clamp();
        if let Some(cq) = cfg.cq_entries {
            builder.setup_cqsize(cq);
        }
        apply(&mut builder);
        match builder.build(cfg.sq_entries) {
            Ok(ring) => {
                let mut probe = Probe::new();
                let probe = ring
                    .submitter()
                    .register_probe(&mut probe)
                    .ok()
                    .map(|()| probe);
                let params = ring.params();
                let features = Features {
                    setup: name,
                    defer_taskrun: i == 0,
                    ext_arg: params.is_feature_ext_arg() && !cfg.disabled.ext_arg,
                    multishot: kernel_at_least(5, 19) && !cfg.disabled.multishot,
                    disabled: cfg.disabled.clone(),
                    nodrop: params.is_feature_nodrop(),
                    probe,
                };
                return Ok((ring, features));
            }
            // EINVAL: this kernel does not know one of the flags; try fewer.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && i + 1 < attempts.len() => {
                last_err = Some(e);
            }
            Err(e) => return Err(explain(e)),
        }
    }
    Err(explain(last_err.unwrap_or_else(|| {
        io::Error::from_raw_os_error(libc::EINVAL)
    })))
}

/// Turns an `io_uring_setup` failure into an error that names the cause.
/// The kind of the original error is kept.
fn explain(e: io::Error) -> io::Error {
    let why = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "io_uring is not permitted here: a seccomp profile (Docker's and containerd's \
             default ones block it) or the sysctl kernel.io_uring_disabled (set it to 0) \
             refuses io_uring_setup"
        }
        Some(libc::ENOSYS) => {
            "this kernel has no io_uring (Linux 5.11 or newer is needed; 6.1 or newer is best)"
        }
        Some(libc::ENOMEM) => {
            "the ring could not be allocated: on kernels before 5.12 ring memory counts against \
             RLIMIT_MEMLOCK (raise `ulimit -l`) or ask for fewer ring entries"
        }
        Some(libc::EMFILE) | Some(libc::ENFILE) => {
            "no file descriptor left for the ring (EMFILE/ENFILE)"
        }
        _ => "io_uring_setup failed",
    };
    io::Error::new(e.kind(), format!("ringbolt: {why} ({e})"))
}

/// Whether the running kernel's release is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    // SAFETY: utsname is plain data; uname fills it.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return false;
    }
    let release: String = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let maj: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let min: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (maj, min) >= (major, minor)
}
