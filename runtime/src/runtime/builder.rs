//! [`Builder`]: runtime configuration, validated before anything starts.

use std::io;
use std::time::Duration;

use super::{Driver, Runtime, SpawnPolicy};
use crate::driver::{Disabled, Feature, RingConfig};
use crate::executor::MetricsConfig;

/// The largest submission queue the kernel accepts.
const MAX_RING_ENTRIES: u32 = 32768;
/// The largest completion queue the kernel accepts.
const MAX_CQ_ENTRIES: u32 = 2 * MAX_RING_ENTRIES;

/// Configures and builds a [`Runtime`].
///
/// ```
/// let rt = ringbolt_runtime::Builder::new()
///     .ring_entries(64)
///     .max_blocking_threads(16)
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    ring_entries: u32,
    cq_entries: Option<u32>,
    max_blocking_threads: usize,
    keep_alive: Duration,
    driver: Driver,
    disabled: Vec<Feature>,
    workers: usize,
    policy: SpawnPolicy,
    pin: bool,
    metrics: bool,
    slow_poll: Option<Duration>,
}

/// Worker settings, validated.
#[derive(Debug, Clone)]
pub(crate) struct WorkerOptions {
    pub(crate) workers: usize,
    pub(crate) policy: SpawnPolicy,
    pub(crate) pin: bool,
    pub(crate) metrics: MetricsConfig,
}

/// The most workers a runtime may have.
const MAX_WORKERS: usize = 1024;

impl Default for Builder {
    fn default() -> Self {
        Builder {
            ring_entries: 256,
            cq_entries: None,
            max_blocking_threads: 512,
            keep_alive: Duration::from_secs(10),
            driver: Driver::Auto,
            disabled: Vec::new(),
            workers: 1,
            policy: SpawnPolicy::default(),
            pin: false,
            metrics: true,
            slow_poll: Some(Duration::from_millis(100)),
        }
    }
}

impl Builder {
    /// The default configuration: 256 ring entries, up to 512 blocking
    /// threads kept 10 s when idle.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of workers: threads with their own ring and executor
    /// (default 1; at most 1024). Worker 0 is the thread that builds the
    /// runtime; the others run on threads of their own until it is dropped.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Where `spawn` places tasks when there are several workers (default
    /// [`SpawnPolicy::RoundRobin`]).
    pub fn spawn_policy(mut self, policy: SpawnPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Pins worker `i` to the `i`-th CPU this process may use (worker 0 is
    /// the building thread, which is pinned too). Default false.
    pub fn pin_workers(mut self, pin: bool) -> Self {
        self.pin = pin;
        self
    }

    /// Whether to time polls, loop iterations and ops into the metrics'
    /// histograms (default true; one in 16 is sampled). Counters are always
    /// kept. `RINGBOLT_METRICS=off` also switches timing off.
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    /// A task whose single poll takes longer than this is reported through
    /// `tracing` (a warning with its name and spawn location) and counted in
    /// [`RuntimeMetrics::slow_polls`](crate::RuntimeMetrics::slow_polls)
    /// (default 100 ms; `Duration::MAX` switches the check off). The clock
    /// used has the kernel tick's resolution (1–4 ms).
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Self {
        self.slow_poll = (threshold != Duration::MAX).then_some(threshold);
        self
    }

    /// Submission queue entries of each worker's ring: a power of two from
    /// 1 to 32768 (default 256). Ops beyond it are not refused: a full queue
    /// is flushed to the kernel and the push retried.
    pub fn ring_entries(mut self, n: u32) -> Self {
        self.ring_entries = n;
        self
    }

    /// Completion queue entries: a power of two at least `ring_entries` and
    /// at most 65536 (default: twice `ring_entries`). Completions beyond it
    /// wait in the kernel's overflow list (IORING_FEAT_NODROP), never lost.
    pub fn cq_entries(mut self, n: u32) -> Self {
        self.cq_entries = Some(n);
        self
    }

    /// The most threads the blocking pool starts (default 512, at least 1).
    pub fn max_blocking_threads(mut self, n: usize) -> Self {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for work before it exits
    /// (default 10 s).
    pub fn thread_keep_alive(mut self, d: Duration) -> Self {
        self.keep_alive = d;
        self
    }

    /// Whether to try the ring setup flags SINGLE_ISSUER, DEFER_TASKRUN and
    /// COOP_TASKRUN (default true; they are used only if the kernel has
    /// them). Switch off to measure or test the plain ring; the same as
    /// `disable(Feature::TaskrunFlags)`.
    pub fn taskrun_flags(mut self, on: bool) -> Self {
        if on {
            self.disabled.retain(|f| *f != Feature::TaskrunFlags);
        } else {
            self.disabled.push(Feature::TaskrunFlags);
        }
        self
    }

    /// The I/O driver (default [`Driver::Auto`]: io_uring, or the thread
    /// pool where io_uring is refused; `RINGBOLT_DRIVER` overrides `Auto`).
    pub fn driver(mut self, driver: Driver) -> Self {
        self.driver = driver;
        self
    }

    /// Switches off a ring feature so that its fallback runs (for tests and
    /// measurements); see [`Feature`]. The `RINGBOLT_DISABLE` environment
    /// variable (a comma-separated list such as `multishot,ext_arg` or
    /// `minimal`) adds to these.
    pub fn disable(mut self, feature: Feature) -> Self {
        self.disabled.push(feature);
        self
    }

    fn validate(&self) -> io::Result<RingConfig> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        let n = self.ring_entries;
        if n == 0 || !n.is_power_of_two() || n > MAX_RING_ENTRIES {
            return Err(invalid(format!(
                "ringbolt: ring_entries must be a power of two from 1 to {MAX_RING_ENTRIES}, got {n}"
            )));
        }
        if let Some(cq) = self.cq_entries {
            if cq < n || !cq.is_power_of_two() || cq > MAX_CQ_ENTRIES {
                return Err(invalid(format!(
                    "ringbolt: cq_entries must be a power of two from ring_entries ({n}) \
                     to {MAX_CQ_ENTRIES}, got {cq}"
                )));
            }
        }
        if self.workers == 0 || self.workers > MAX_WORKERS {
            return Err(invalid(format!(
                "ringbolt: workers must be from 1 to {MAX_WORKERS}, got {}",
                self.workers
            )));
        }
        if self.max_blocking_threads == 0 {
            return Err(invalid(
                "ringbolt: max_blocking_threads must be at least 1".to_string(),
            ));
        }
        let mut disabled = Disabled::default();
        for f in &self.disabled {
            disabled.insert(*f);
        }
        if let Ok(list) = std::env::var("RINGBOLT_DISABLE") {
            for f in Feature::parse_list(&list)? {
                disabled.insert(f);
            }
        }
        Ok(RingConfig {
            sq_entries: n,
            cq_entries: self.cq_entries,
            disabled,
        })
    }

    /// Builds the runtime on this thread.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an invalid setting (also an unknown name in
    /// `RINGBOLT_DRIVER` or `RINGBOLT_DISABLE`). With [`Driver::IoUring`],
    /// the ring setup's error, with a message naming the likely cause (a
    /// seccomp profile or `kernel.io_uring_disabled` for EPERM, an old
    /// kernel for ENOSYS, the memlock limit for ENOMEM); with
    /// [`Driver::Auto`] those causes select the thread-pool driver instead.
    pub fn build(self) -> io::Result<Runtime> {
        let cfg = self.validate()?;
        let driver = match self.driver {
            Driver::Auto => match std::env::var("RINGBOLT_DRIVER") {
                Ok(name) => Driver::parse(&name)?,
                Err(_) => Driver::Auto,
            },
            forced => forced,
        };
        let timing_env = std::env::var("RINGBOLT_METRICS")
            .map(|v| !matches!(v.trim(), "0" | "off" | "false"))
            .unwrap_or(true);
        let opts = WorkerOptions {
            workers: self.workers,
            policy: self.policy,
            pin: self.pin,
            metrics: MetricsConfig {
                timing: self.metrics && timing_env,
                slow_poll: self.slow_poll,
            },
        };
        Runtime::with_config(
            &cfg,
            driver,
            &opts,
            self.max_blocking_threads,
            self.keep_alive,
        )
    }
}
