//! Task notification with tokio's `Notify` semantics.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::{lock, AtomicUsize, Mutex, MutexGuard, Ordering};
use crate::wait_list::{Key, WaitList};

/// Wakes one waiting task, or all of them.
///
/// - [`notify_one`](Notify::notify_one) wakes the longest-waiting task; if
///   none waits, it stores a single permit that the next
///   [`notified`](Notify::notified)`().await` consumes at once (permits do
///   not add up).
/// - [`notify_waiters`](Notify::notify_waiters) wakes every task waiting
///   now, including `Notified` futures that were created but not yet polled;
///   it stores no permit.
///
/// # Cancel safety
///
/// `notified().await` is cancel-safe. Dropping a `Notified` that
/// `notify_one` had already picked passes the notification on to the next
/// waiter (or stores the permit), so no wake-up is lost.
///
/// # Examples
///
/// ```
/// use ringbolt_sync::Notify;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let n = Notify::new();
/// n.notify_one(); // stored as a permit
/// n.notified().await; // returns at once
/// # });
/// ```
pub struct Notify {
    /// How many times `notify_waiters` ran; changed only under `inner`.
    calls: AtomicUsize,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    permit: bool,
    waiters: WaitList<Notification>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notification {
    None,
    One,
    All,
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify").finish_non_exhaustive()
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl Notify {
    /// A `Notify` with no stored permit.
    pub fn new() -> Self {
        Notify {
            calls: AtomicUsize::new(0),
            inner: Mutex::new(Inner {
                permit: false,
                waiters: WaitList::new(),
            }),
        }
    }

    /// A future that completes when this `Notify` is notified.
    ///
    /// It counts as waiting for [`notify_waiters`](Self::notify_waiters)
    /// from the moment it is created; for [`notify_one`](Self::notify_one)
    /// from its first poll.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            st: NotifiedState::new(self),
        }
    }

    /// Wakes the longest-waiting task, or stores a permit if none waits.
    pub fn notify_one(&self) {
        let waker = Self::notify_one_locked(lock(&self.inner));
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn notify_one_locked(mut g: MutexGuard<'_, Inner>) -> Option<std::task::Waker> {
        match g.waiters.pop_front() {
            Some(key) => {
                let node = g.waiters.node_mut(key);
                node.data = Notification::One;
                node.waker.take()
            }
            None => {
                g.permit = true;
                None
            }
        }
    }

    /// Wakes every task waiting now. Stores no permit.
    pub fn notify_waiters(&self) {
        let mut wakers = crate::wait_list::WakeList::new();
        {
            let mut g = lock(&self.inner);
            self.calls.fetch_add(1, Ordering::SeqCst);
            g.waiters.drain(|node| {
                node.data = Notification::All;
                wakers.push(node.waker.take());
            });
        }
        wakers.wake_all();
    }
}

/// The state of a wait on a [`Notify`], apart from the borrow of it, so
/// owning futures (e.g. a token's `cancelled_owned`) can embed it.
#[derive(Debug)]
pub(crate) struct NotifiedState {
    calls: usize,
    key: Option<Key>,
    done: bool,
}

impl NotifiedState {
    pub(crate) fn new(notify: &Notify) -> Self {
        NotifiedState {
            calls: notify.calls.load(Ordering::SeqCst),
            key: None,
            done: false,
        }
    }

    pub(crate) fn poll(&mut self, notify: &Notify, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        let mut g = lock(&notify.inner);
        match self.key {
            None => {
                if notify.calls.load(Ordering::SeqCst) != self.calls {
                    self.done = true;
                    return Poll::Ready(());
                }
                if g.permit {
                    g.permit = false;
                    self.done = true;
                    return Poll::Ready(());
                }
                self.key = Some(
                    g.waiters
                        .push_back(Notification::None, Some(cx.waker().clone())),
                );
                Poll::Pending
            }
            Some(key) => {
                let node = g.waiters.node_mut(key);
                if node.is_linked() {
                    node.set_waker(cx.waker());
                    return Poll::Pending;
                }
                g.waiters.remove(key);
                self.key = None;
                self.done = true;
                Poll::Ready(())
            }
        }
    }

    /// Call from the owner's `Drop`.
    pub(crate) fn cancel(&mut self, notify: &Notify) {
        let Some(key) = self.key.take() else { return };
        let mut g = lock(&notify.inner);
        let node = g.waiters.remove(key);
        // Only `notify_one` writes `One`, and only while unlinking the node.
        if node.data == Notification::One {
            // We were picked by `notify_one` but will never observe it:
            // pass the notification on.
            if let Some(w) = Notify::notify_one_locked(g) {
                w.wake();
            }
        }
    }
}

/// Future returned by [`Notify::notified`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Notified<'a> {
    notify: &'a Notify,
    st: NotifiedState,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.st.poll(this.notify, cx)
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        self.st.cancel(self.notify);
    }
}
