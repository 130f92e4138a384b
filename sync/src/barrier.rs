//! A barrier: `n` tasks wait until all have arrived.

use std::fmt;

use crate::loom::{lock, Mutex};
use crate::notify::Notify;

/// Lets `n` tasks wait for each other; the last to arrive is the leader.
///
/// The barrier resets after each round, so it can be reused.
///
/// # Cancel safety
///
/// `wait` is **not** cancel-safe once polled, as in tokio: a task that
/// arrived counts toward the round even if its future is then dropped.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use ringbolt_sync::Barrier;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let b = Arc::new(Barrier::new(2));
/// let b2 = b.clone();
/// let h = tokio::spawn(async move { b2.wait().await.is_leader() });
/// let me = b.wait().await.is_leader();
/// assert!(me ^ h.await.unwrap(), "exactly one leader");
/// # });
/// ```
pub struct Barrier {
    n: usize,
    state: Mutex<State>,
    notify: Notify,
}

#[derive(Debug)]
struct State {
    arrived: usize,
    generation: u64,
}

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone, Copy)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this task was the last to arrive (exactly one per round).
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}

impl Barrier {
    /// A barrier for `n` tasks (`0` is treated as `1`).
    pub fn new(n: usize) -> Self {
        Barrier {
            n: n.max(1),
            state: Mutex::new(State {
                arrived: 0,
                generation: 0,
            }),
            notify: Notify::new(),
        }
    }

    /// Waits until `n` tasks have called `wait` in this round.
    ///
    /// Not cancel-safe once polled (see the type docs).
    pub async fn wait(&self) -> BarrierWaitResult {
        let notified = {
            let mut s = lock(&self.state);
            s.arrived += 1;
            if s.arrived == self.n {
                s.arrived = 0;
                s.generation += 1;
                drop(s);
                self.notify.notify_waiters();
                return BarrierWaitResult(true);
            }
            // Created under the lock, so before the leader's
            // `notify_waiters` for this round.
            self.notify.notified()
        };
        notified.await;
        BarrierWaitResult(false)
    }
}
