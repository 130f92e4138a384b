//! The worker threads of a runtime built with `workers(n)`, n > 1.
//!
//! Worker 0 is the thread that created the runtime (it runs `block_on`);
//! workers 1..n each run on a thread of their own, with their own ring,
//! executor and timer wheel, until the runtime is dropped. Tasks never move
//! between workers; wakes and spawns from other threads go through each
//! worker's remote queue and eventfd.

use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use crate::blocking::BlockingPool;
use crate::driver::RingConfig;
use crate::executor::placement::Placement;
use crate::executor::shared::Shared;
use crate::executor::{context, MetricsConfig, Worker};

/// Never set: worker threads have no `block_on` future.
static NO_MAIN: AtomicBool = AtomicBool::new(false);

/// One extra worker thread.
#[derive(Debug)]
pub(crate) struct WorkerThread {
    pub(crate) shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What a worker thread needs to start.
pub(crate) struct Spec {
    pub(crate) index: usize,
    pub(crate) ring: Option<RingConfig>,
    pub(crate) blocking: Arc<BlockingPool>,
    pub(crate) placement: Arc<Placement>,
    pub(crate) pin: bool,
    pub(crate) metrics: MetricsConfig,
}

impl WorkerThread {
    /// Starts worker `spec.index` on a new thread and waits until its ring
    /// is up (or its creation failed).
    pub(crate) fn start(spec: Spec) -> io::Result<WorkerThread> {
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("ringbolt-worker-{}", spec.index))
            .spawn(move || {
                if spec.pin {
                    pin_to_cpu(spec.index);
                }
                let worker = match Worker::new(
                    spec.ring.as_ref(),
                    spec.blocking,
                    spec.placement,
                    spec.metrics,
                ) {
                    Ok(w) => {
                        let w = Rc::new(w);
                        crate::executor::context::own(&w);
                        w
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let _ = tx.send(Ok(worker.shared.clone()));
                let _guard = context::enter(worker.clone());
                while !stop2.load(Ordering::Acquire) {
                    worker.tick(&NO_MAIN);
                }
                worker.shutdown();
            })?;
        match rx.recv() {
            Ok(Ok(shared)) => Ok(WorkerThread {
                shared,
                stop,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(io::Error::other(
                    "ringbolt: a worker thread died while starting",
                ))
            }
        }
    }

    /// Asks the worker to shut down (it cancels its tasks and waits for its
    /// ring), without waiting.
    pub(crate) fn signal_stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.shared.notify_always();
    }

    /// Waits for the worker thread to finish its shutdown.
    pub(crate) fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Pins the calling thread to CPU `index` modulo the CPUs it may use. Best
/// effort: a failure leaves the thread unpinned.
pub(crate) fn pin_to_cpu(index: usize) {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET/sched_* only touch
    // the set on our stack, and pid 0 means the calling thread.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) != 0 {
            return;
        }
        let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &allowed))
            .collect();
        if cpus.is_empty() {
            return;
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpus[index % cpus.len()], &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}
