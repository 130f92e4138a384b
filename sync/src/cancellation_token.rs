//! Cancellation tokens: a tree of flags that fire once, parent to children.
//!
//! # Design
//!
//! Each token is an `Arc<TreeNode>`. A node holds its `cancelled` flag, a
//! [`Notify`] for `cancelled().await`, a count of the handles
//! (`CancellationToken` clones) pointing at it, and, behind a mutex, its
//! parent and children. Parent and child point at each other with `Arc`s;
//! the cycle is broken when either side goes away:
//!
//! - cancelling a node takes its children list, detaches each child
//!   (`parent = None`) and cancels it (iteratively, so a deep chain cannot
//!   overflow the stack);
//! - when the last handle to a node is dropped, the node removes itself from
//!   its parent's list (swap-remove, fixing the moved sibling's index) and
//!   hands its own children to its parent, so a long-lived parent does not
//!   collect dead children.
//!
//! Lock order: a parent before its child; siblings only while holding their
//! common parent. Never more than one lock is held while cancelling.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::loom::{lock, AtomicBool, AtomicUsize, Mutex, Ordering};
use crate::notify::{NotifiedState, Notify};

struct TreeNode {
    cancelled: AtomicBool,
    handles: AtomicUsize,
    notify: Notify,
    inner: Mutex<Inner>,
}

struct Inner {
    parent: Option<Arc<TreeNode>>,
    /// Index of this node in `parent.children`; valid while `parent` is set
    /// and the parent is not cancelled. Changed only under the parent's lock.
    parent_idx: usize,
    children: Vec<Arc<TreeNode>>,
}

impl TreeNode {
    fn new(parent: Option<Arc<TreeNode>>, parent_idx: usize, cancelled: bool) -> Arc<Self> {
        Arc::new(TreeNode {
            cancelled: AtomicBool::new(cancelled),
            handles: AtomicUsize::new(1),
            notify: Notify::new(),
            inner: Mutex::new(Inner {
                parent,
                parent_idx,
                children: Vec::new(),
            }),
        })
    }
}

/// Cancels `node` and its whole subtree.
fn cancel(node: &Arc<TreeNode>) {
    let mut stack = {
        let mut g = lock(&node.inner);
        if node.cancelled.load(Ordering::Relaxed) {
            return;
        }
        node.cancelled.store(true, Ordering::SeqCst);
        std::mem::take(&mut g.children)
    };
    node.notify.notify_waiters();
    while let Some(child) = stack.pop() {
        {
            let mut g = lock(&child.inner);
            g.parent = None;
            if child.cancelled.load(Ordering::Relaxed) {
                continue;
            }
            child.cancelled.store(true, Ordering::SeqCst);
            stack.append(&mut g.children);
        }
        child.notify.notify_waiters();
    }
}

/// Unhooks `node`, whose last handle is gone, from the tree.
fn remove(node: &Arc<TreeNode>) {
    loop {
        let parent = lock(&node.inner).parent.clone();
        match parent {
            None => {
                let mut g = lock(&node.inner);
                if g.parent.is_some() {
                    // Cannot happen (a parent is never re-attached to a node
                    // without handles), but retrying is always correct.
                    continue;
                }
                let children = std::mem::take(&mut g.children);
                drop(g);
                for c in children {
                    lock(&c.inner).parent = None;
                }
                return;
            }
            Some(parent) => {
                let mut pg = lock(&parent.inner);
                let mut g = lock(&node.inner);
                match &g.parent {
                    Some(p) if Arc::ptr_eq(p, &parent) => {}
                    // Our parent changed (it was dropped and handed us up,
                    // or cancelled) between the two locks: start over.
                    _ => continue,
                }
                if parent.cancelled.load(Ordering::Relaxed) {
                    // The canceller owns the children list and will detach
                    // and cancel us; nothing of ours is in `pg.children`.
                    return;
                }
                let idx = g.parent_idx;
                pg.children.swap_remove(idx);
                if let Some(moved) = pg.children.get(idx) {
                    lock(&moved.inner).parent_idx = idx;
                }
                g.parent = None;
                for c in std::mem::take(&mut g.children) {
                    {
                        let mut cg = lock(&c.inner);
                        cg.parent = Some(parent.clone());
                        cg.parent_idx = pg.children.len();
                    }
                    pg.children.push(c);
                }
                return;
            }
        }
    }
}

/// A token that signals cancellation to every task holding a clone.
///
/// Clones share one token. [`child_token`](Self::child_token) makes a token
/// that is cancelled when its parent is, but whose own cancellation does not
/// reach the parent. A dropped child leaves no trace in its parent.
///
/// # Cancel safety
///
/// `cancelled().await` and `cancelled_owned().await` are cancel-safe: they
/// consume nothing, so dropping one and calling again loses nothing.
///
/// # Examples
///
/// ```
/// use ringbolt_sync::CancellationToken;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let parent = CancellationToken::new();
/// let child = parent.child_token();
/// child.cancel();
/// assert!(!parent.is_cancelled());
/// let grandchild = parent.child_token();
/// parent.cancel();
/// grandchild.cancelled().await;
/// assert_eq!(parent.run_until_cancelled(async { 1 }).await, None);
/// # });
/// ```
pub struct CancellationToken {
    node: Arc<TreeNode>,
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("is_cancelled", &self.is_cancelled())
            .finish()
    }
}

impl Default for CancellationToken {
    fn default() -> Self {
        CancellationToken::new()
    }
}

impl Clone for CancellationToken {
    fn clone(&self) -> Self {
        self.node.handles.fetch_add(1, Ordering::Relaxed);
        CancellationToken {
            node: self.node.clone(),
        }
    }
}

impl Drop for CancellationToken {
    fn drop(&mut self) {
        if self.node.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            remove(&self.node);
        }
    }
}

impl CancellationToken {
    /// A new, uncancelled root token.
    pub fn new() -> Self {
        CancellationToken {
            node: TreeNode::new(None, 0, false),
        }
    }

    /// A token cancelled when this one is (already cancelled if this one is).
    pub fn child_token(&self) -> CancellationToken {
        let mut g = lock(&self.node.inner);
        if self.node.cancelled.load(Ordering::Relaxed) {
            return CancellationToken {
                node: TreeNode::new(None, 0, true),
            };
        }
        let child = TreeNode::new(Some(self.node.clone()), g.children.len(), false);
        g.children.push(child.clone());
        CancellationToken { node: child }
    }

    /// Cancels this token and all its descendants, and wakes their waiters.
    /// Calling it again does nothing.
    pub fn cancel(&self) {
        cancel(&self.node);
    }

    /// Whether this token was cancelled (directly or through an ancestor).
    pub fn is_cancelled(&self) -> bool {
        self.node.cancelled.load(Ordering::SeqCst)
    }

    /// Completes once the token is cancelled (at once if it already is).
    ///
    /// Cancel-safe.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        WaitForCancellationFuture {
            token: self,
            st: NotifiedState::new(&self.node.notify),
        }
    }

    /// Like [`cancelled`](Self::cancelled) but owns a clone of the token, so
    /// the future is `'static`.
    pub fn cancelled_owned(self) -> WaitForCancellationFutureOwned {
        let st = NotifiedState::new(&self.node.notify);
        WaitForCancellationFutureOwned { token: self, st }
    }

    /// A guard that cancels this token when dropped (unless disarmed).
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }

    /// Runs `fut` until it completes (`Some(output)`) or the token is
    /// cancelled (`None`, and `fut` is dropped). Cancellation is checked
    /// first on every poll.
    pub async fn run_until_cancelled<F: Future>(&self, fut: F) -> Option<F::Output> {
        let mut fut = pin!(fut);
        let mut cancelled = pin!(self.cancelled());
        poll_fn(|cx| {
            if cancelled.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            fut.as_mut().poll(cx).map(Some)
        })
        .await
    }

    /// [`run_until_cancelled`](Self::run_until_cancelled) owning the token.
    pub async fn run_until_cancelled_owned<F: Future>(self, fut: F) -> Option<F::Output> {
        self.run_until_cancelled(fut).await
    }
}

fn poll_cancelled(node: &TreeNode, st: &mut NotifiedState, cx: &mut Context<'_>) -> Poll<()> {
    loop {
        if node.cancelled.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        // `st` was created before the flag check above, and `cancel` sets
        // the flag before `notify_waiters`, so a cancel we missed completes
        // `st`.
        if st.poll(&node.notify, cx).is_pending() {
            return Poll::Pending;
        }
        *st = NotifiedState::new(&node.notify);
    }
}

/// Future returned by [`CancellationToken::cancelled`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct WaitForCancellationFuture<'a> {
    token: &'a CancellationToken,
    st: NotifiedState,
}

impl Future for WaitForCancellationFuture<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        poll_cancelled(&this.token.node, &mut this.st, cx)
    }
}

impl Drop for WaitForCancellationFuture<'_> {
    fn drop(&mut self) {
        self.st.cancel(&self.token.node.notify);
    }
}

/// Future returned by [`CancellationToken::cancelled_owned`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct WaitForCancellationFutureOwned {
    token: CancellationToken,
    st: NotifiedState,
}

impl Future for WaitForCancellationFutureOwned {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        poll_cancelled(&this.token.node, &mut this.st, cx)
    }
}

impl Drop for WaitForCancellationFutureOwned {
    fn drop(&mut self) {
        self.st.cancel(&self.token.node.notify);
    }
}

/// Cancels its token when dropped, unless [`disarm`](Self::disarm)ed.
#[must_use = "dropping the guard cancels the token at once"]
#[derive(Debug)]
pub struct DropGuard {
    token: Option<CancellationToken>,
}

impl DropGuard {
    /// Gives the token back without cancelling it.
    pub fn disarm(mut self) -> CancellationToken {
        match self.token.take() {
            Some(t) => t,
            None => unreachable!("a DropGuard holds its token until dropped or disarmed"),
        }
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(t) = &self.token {
            t.cancel();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn children(t: &CancellationToken) -> usize {
        lock(&t.node.inner).children.len()
    }

    #[test]
    fn dropped_children_leave_the_parents_list() {
        let root = CancellationToken::new();
        let keep: Vec<_> = (0..10).map(|_| root.child_token()).collect();
        for _ in 0..1000 {
            let c = root.child_token();
            let c2 = c.clone();
            drop(c);
            assert_eq!(children(&root), 11);
            drop(c2);
        }
        assert_eq!(children(&root), 10);
        // Drop out of order: swap-remove must keep indices right.
        let mut keep = keep;
        keep.remove(3);
        keep.remove(0);
        keep.remove(5);
        assert_eq!(children(&root), 7);
        for k in &keep {
            let idx = lock(&k.node.inner).parent_idx;
            assert!(Arc::ptr_eq(&lock(&root.node.inner).children[idx], &k.node));
        }
        // A dropped middle node hands its children up.
        let mid = root.child_token();
        let leaves: Vec<_> = (0..3).map(|_| mid.child_token()).collect();
        drop(mid);
        assert_eq!(children(&root), 10);
        drop(leaves);
        drop(keep);
        assert_eq!(children(&root), 0);
        // Cancelled nodes release their children.
        let c = root.child_token();
        let _gc = c.child_token();
        root.cancel();
        assert_eq!(children(&root), 0);
        assert_eq!(children(&c), 0);
    }
}
