//! [`GroupError`]: every failure of a task group, together (Python's
//! `ExceptionGroup`).

use std::any::Any;
use std::error::Error;
use std::fmt;

use crate::task::JoinError;

/// Why [`TaskGroup::join`](super::TaskGroup::join) gave no results: every
/// error the children returned, every panic, and how many children were
/// cancelled.
///
/// Children cancelled because a sibling failed count as neither errors nor
/// panics (they are in [`GroupError::cancelled`]). A group can fail with no
/// error and no panic: when it was cancelled from outside
/// ([`TaskGroup::cancel`](super::TaskGroup::cancel), or the parent token of
/// [`TaskGroup::with_parent`](super::TaskGroup::with_parent)).
///
/// Iterating over a `GroupError` gives the errors `E`, in the order the
/// children finished.
///
/// # Examples
///
/// ```
/// use ringbolt_runtime::group::TaskGroup;
/// ringbolt_runtime::run(async {
///     let mut g = TaskGroup::new();
///     g.spawn(async { Err::<(), _>("disk full") });
///     g.spawn(async { Err("network down") });
///     let err = g.join().await.unwrap_err();
///     let mut errors: Vec<&str> = err.into_iter().collect();
///     errors.sort();
///     assert_eq!(errors, ["disk full", "network down"]);
/// });
/// ```
pub struct GroupError<E> {
    errors: Vec<E>,
    panics: Vec<JoinError>,
    cancelled: usize,
}

impl<E> GroupError<E> {
    pub(super) fn new() -> Self {
        GroupError {
            errors: Vec::new(),
            panics: Vec::new(),
            cancelled: 0,
        }
    }

    pub(super) fn push_error(&mut self, e: E) {
        self.errors.push(e);
    }

    /// Records a `JoinError`: a panic or a cancellation.
    pub(super) fn push_join_error(&mut self, e: JoinError) {
        if e.is_panic() {
            self.panics.push(e);
        } else {
            self.cancelled += 1;
        }
    }

    /// Whether anything went wrong at all (an error, a panic, or a child
    /// cancelled).
    pub(super) fn is_empty(&self) -> bool {
        self.errors.is_empty() && self.panics.is_empty() && self.cancelled == 0
    }

    /// The errors returned by children, in the order they finished.
    pub fn errors(&self) -> &[E] {
        &self.errors
    }

    /// The errors returned by children, by value.
    pub fn into_errors(self) -> Vec<E> {
        self.errors
    }

    /// How many children panicked.
    pub fn panics(&self) -> usize {
        self.panics.len()
    }

    /// The panics, as [`JoinError`]s (their `Display` shows the message).
    pub fn panic_errors(&self) -> &[JoinError] {
        &self.panics
    }

    /// The panic payloads, to re-raise one with
    /// [`std::panic::resume_unwind`].
    pub fn into_panics(self) -> Vec<Box<dyn Any + Send + 'static>> {
        self.panics
            .into_iter()
            .filter_map(|e| e.try_into_panic().ok())
            .collect()
    }

    /// How many children were cancelled before they finished (because a
    /// sibling failed, or the group was cancelled).
    pub fn cancelled(&self) -> usize {
        self.cancelled
    }
}

impl<E> IntoIterator for GroupError<E> {
    type Item = E;
    type IntoIter = std::vec::IntoIter<E>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

impl<'a, E> IntoIterator for &'a GroupError<E> {
    type Item = &'a E;
    type IntoIter = std::slice::Iter<'a, E>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task group failed: {}, {}",
            plural(self.errors.len(), "error"),
            plural(self.panics.len(), "panic")
        )?;
        if self.cancelled > 0 {
            write!(f, ", {} cancelled", self.cancelled)?;
        }
        for e in &self.errors {
            write!(f, "; {e}")?;
        }
        for p in &self.panics {
            write!(f, "; {p}")?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug> fmt::Debug for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupError")
            .field("errors", &self.errors)
            .field("panics", &self.panics)
            .field("cancelled", &self.cancelled)
            .finish()
    }
}

impl<E: Error + 'static> Error for GroupError<E> {
    /// The first error, if any child returned one.
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.errors.first().map(|e| e as &(dyn Error + 'static))
    }
}
