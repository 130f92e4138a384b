//! Paths as the kernel takes them.

use std::ffi::CString;
use std::io;
use std::path::Path;

/// The NUL-terminated form of `path`; `InvalidInput` for a NUL byte.
pub(crate) fn cstr(path: &Path) -> io::Result<CString> {
    ringbolt_runtime::op::fs::path_to_cstring(path)
}
