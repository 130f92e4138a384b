//! Where `spawn` puts a task when a runtime has several workers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::shared::Shared;

/// Where [`spawn`](crate::spawn) places a `Send` task when the runtime has
/// more than one worker. `spawn_local` always stays on its thread, and
/// [`Runtime::spawn_on`](crate::Runtime::spawn_on) names the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpawnPolicy {
    /// Spread tasks over the workers in turn (the default): an accept loop
    /// on one worker that spawns a task per connection uses every worker.
    /// A task spawned onto another worker costs a cross-thread hand-off.
    #[default]
    RoundRobin,
    /// Keep each task on the worker that spawned it (thread-per-core: pair
    /// it with one `SO_REUSEPORT` listener per worker). Spawns from outside
    /// any worker still go round-robin.
    Local,
}

/// The workers of one runtime, shared by all of them.
#[derive(Debug)]
pub(crate) struct Placement {
    workers: OnceLock<Vec<Arc<Shared>>>,
    next: AtomicUsize,
    policy: SpawnPolicy,
}

impl Placement {
    pub(crate) fn new(policy: SpawnPolicy) -> Self {
        Placement {
            workers: OnceLock::new(),
            next: AtomicUsize::new(0),
            policy,
        }
    }

    /// Records the workers once they have all started.
    pub(crate) fn set_workers(&self, workers: Vec<Arc<Shared>>) {
        let _ = self.workers.set(workers);
    }

    /// The workers (empty until they have all started).
    pub(crate) fn workers(&self) -> &[Arc<Shared>] {
        self.workers.get().map_or(&[], Vec::as_slice)
    }

    /// The worker a task spawned from worker `from` (`None`: from outside
    /// the runtime) goes to; `None` means `from` itself.
    pub(crate) fn pick(&self, from: Option<u64>) -> Option<Arc<Shared>> {
        let workers = self.workers();
        if workers.len() < 2 || (self.policy == SpawnPolicy::Local && from.is_some()) {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % workers.len();
        let target = &workers[i];
        (Some(target.id) != from).then(|| target.clone())
    }
}
