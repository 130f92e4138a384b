//! Optional ring features that can be switched off, so that every fallback
//! path runs (and is tested) on a kernel that has them all.

use std::io;

/// An io_uring feature the runtime uses when the kernel has it. Switching
/// one off (with [`Builder::disable`](crate::Builder::disable) or the
/// `RINGBOLT_DISABLE` environment variable) makes the runtime take the
/// fallback it takes on kernels without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// The setup flags SINGLE_ISSUER, DEFER_TASKRUN and COOP_TASKRUN;
    /// fallback: a plain ring. (`taskrun`)
    TaskrunFlags,
    /// IORING_FEAT_EXT_ARG, a wait with its own timeout; fallback: an
    /// IORING_OP_TIMEOUT submitted before the wait. (`ext_arg`)
    ExtArg,
    /// Multishot accept and receive; fallback: one single-shot op per
    /// result. (`multishot`)
    Multishot,
    /// One opcode (`IORING_OP_*` number); fallback: its synchronous
    /// equivalent on the blocking pool. (`opcode:N` or `opcode:NAME`)
    Opcode(u8),
}

/// Names accepted by `opcode:NAME`.
const OPCODE_NAMES: &[(&str, u8)] = &[
    ("nop", 0),
    ("readv", 1),
    ("writev", 2),
    ("fsync", 3),
    ("read_fixed", 4),
    ("write_fixed", 5),
    ("poll_add", 6),
    ("sync_file_range", 8),
    ("sendmsg", 9),
    ("recvmsg", 10),
    ("timeout", 11),
    ("timeout_remove", 12),
    ("async_cancel", 14),
    ("accept", 13),
    ("connect", 16),
    ("fallocate", 17),
    ("openat", 18),
    ("close", 19),
    ("statx", 21),
    ("read", 22),
    ("write", 23),
    ("send", 26),
    ("recv", 27),
    ("renameat", 35),
    ("unlinkat", 36),
    ("mkdirat", 37),
    ("symlinkat", 38),
    ("linkat", 39),
    ("shutdown", 34),
    ("socket", 45),
    ("send_zc", 47),
    ("read_multishot", 49),
    ("ftruncate", 55),
];

/// The name of an opcode (`"other"` for one without a name here).
pub(crate) fn opcode_name(n: u8) -> &'static str {
    OPCODE_NAMES
        .iter()
        .find(|(_, c)| *c == n)
        .map_or("other", |(s, _)| *s)
}

impl Feature {
    /// Parses one name: `taskrun`, `ext_arg`, `multishot`, `opcode:N` or
    /// `opcode:NAME` (e.g. `opcode:statx`).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an unknown name.
    pub fn parse(name: &str) -> io::Result<Feature> {
        let name = name.trim();
        match name {
            "taskrun" => return Ok(Feature::TaskrunFlags),
            "ext_arg" => return Ok(Feature::ExtArg),
            "multishot" => return Ok(Feature::Multishot),
            _ => {}
        }
        if let Some(op) = name.strip_prefix("opcode:") {
            if let Ok(n) = op.parse::<u8>() {
                return Ok(Feature::Opcode(n));
            }
            if let Some((_, n)) = OPCODE_NAMES.iter().find(|(s, _)| *s == op) {
                return Ok(Feature::Opcode(*n));
            }
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "ringbolt: unknown feature {name:?} (expected taskrun, ext_arg, multishot, \
                 minimal, opcode:N or opcode:NAME)"
            ),
        ))
    }

    /// Parses a comma-separated list, as in `RINGBOLT_DISABLE`; `minimal`
    /// stands for `taskrun,ext_arg,multishot`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an unknown name.
    pub fn parse_list(list: &str) -> io::Result<Vec<Feature>> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name == "minimal" {
                out.extend([Feature::TaskrunFlags, Feature::ExtArg, Feature::Multishot]);
            } else {
                out.push(Feature::parse(name)?);
            }
        }
        Ok(out)
    }
}

/// The set of switched-off features.
#[derive(Debug, Clone, Default)]
pub(crate) struct Disabled {
    pub(crate) taskrun: bool,
    pub(crate) ext_arg: bool,
    pub(crate) multishot: bool,
    opcodes: [u64; 4],
}

impl Disabled {
    pub(crate) fn insert(&mut self, f: Feature) {
        match f {
            Feature::TaskrunFlags => self.taskrun = true,
            Feature::ExtArg => self.ext_arg = true,
            Feature::Multishot => self.multishot = true,
            Feature::Opcode(n) => self.opcodes[usize::from(n / 64)] |= 1 << (n % 64),
        }
    }

    pub(crate) fn opcode(&self, n: u8) -> bool {
        self.opcodes[usize::from(n / 64)] & (1 << (n % 64)) != 0
    }
}
