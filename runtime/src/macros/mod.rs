//! `join!`, `try_join!` and `select!` with tokio's syntax, and the hidden
//! items their expansions use.
//!
//! The macros are written here (macro_rules, no proc macro) rather than
//! re-exported from `futures-util`: futures' `select!` has another syntax
//! (it needs `FusedFuture`s and `select_biased!` for priority) and its
//! `join!` needs the `futures-macro` proc-macro crate. These poll the
//! futures **in place** on the calling task: each is pinned on the stack
//! with [`core::pin::pin!`] (no allocation, no `unsafe` in the expansion),
//! and dropped when the macro's expression ends.
//!
//! For a dynamic number of futures use
//! [`join_all`](crate::join_all) / [`try_join_all`](crate::try_join_all);
//! to run futures on other tasks, spawn them or use a
//! [`TaskGroup`](crate::TaskGroup).

mod join;
mod select;
#[doc(hidden)]
pub mod support;
mod try_join;
