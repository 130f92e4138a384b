//! Runtime micro-benchmarks: ringbolt against tokio's current_thread runtime.
//!
//! | bench | workload | figures |
//! |---|---|---|
//! | `spawn_join` | spawn N tasks that each return a value, then await every `JoinHandle` | ns/task, peak RSS, bytes/task |
//! | `sleep_1m` | N tasks each sleeping a duration drawn uniformly from 0..1 s (SplitMix64, fixed seed), all awaited | wall, CPU ns/timer, bytes/timer, peak RSS |
//! | `cross_thread_wake` | a std thread wakes a task parked in the runtime (hand-written `AtomicWaker` signal, shared by both runtimes); the task answers with an atomic store + `Thread::unpark`, the thread sleeps in `thread::park` | ns per round trip |
//! | `nop_inflight_{1,32}` | 1 or 32 tasks looping `ringbolt::op::nop().await` | ns per op, amortised |
//! | `yield_inflight_{1,32}` | 1 or 32 tasks looping `yield_now().await` | ns per yield |
//!
//! tokio has no ring, so in the `nop_*` benches its line is `tokio::task::yield_now`
//! in the same shape: a reference for "one trip through the scheduler and the
//! driver", not the same work.
//!
//! Every measurement runs in its own child process (this binary re-executed
//! with `--child bench:contender:n`), so peak RSS (`getrusage(RUSAGE_SELF)`)
//! belongs to one contender only and no allocator state leaks between rounds.
//! Rounds are interleaved, ringbolt then tokio (A B A B ...); the parent
//! prints medians, spread (min–max) and the ratio ringbolt / tokio.
//!
//! ```text
//! cargo bench --bench runtime                       # everything (~1 min on 2 cores)
//! cargo bench --bench runtime -- --quick            # 3 rounds, N / 10 (< 40 s)
//! cargo bench --bench runtime -- --json benches/results/runtime.json --md benches/results/runtime.md
//! cargo bench --bench runtime -- --filter nop --rounds 7
//! ```
//!
//! Nothing here asserts a timing: the figures are recorded, never checked.

#[path = "common/mod.rs"]
mod common;

use std::cell::UnsafeCell;
use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use common::{fmt_num, summarize, Args, Record, SplitMix64};

/// Seed of the sleep durations (the same for every contender and round).
const SEED: u64 = 0x5EED_0F71_AE00;
/// Sleep durations are spread uniformly over this span.
const SLEEP_SPREAD: Duration = Duration::from_secs(1);
/// A child that takes longer than this is killed and reported.
const CHILD_LIMIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    SpawnJoin,
    Sleeps,
    CrossWake,
    Nop,
    Yield,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contender {
    Ringbolt,
    Tokio,
}

impl Contender {
    const ALL: [Contender; 2] = [Contender::Ringbolt, Contender::Tokio];

    fn name(self) -> &'static str {
        match self {
            Contender::Ringbolt => "ringbolt",
            Contender::Tokio => "tokio-current-thread",
        }
    }

    fn from_name(s: &str) -> Option<Contender> {
        Contender::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// One benchmark: a workload, its size, and the figures its table shows.
#[derive(Debug)]
struct Bench {
    name: &'static str,
    case: Case,
    inflight: u64,
    n_full: u64,
    n_quick: u64,
    /// Rows of the summary table: (label, record field, divisor).
    rows: &'static [(&'static str, &'static str, f64)],
    /// A note for the table when the contenders do not do the same work.
    note: &'static str,
    /// Rounds = this × the base rounds (noisy benches get more).
    rounds_mult: usize,
}

const MIB: f64 = 1024.0 * 1024.0;

const BENCHES: &[Bench] = &[
    Bench {
        name: "spawn_join",
        case: Case::SpawnJoin,
        inflight: 1,
        n_full: 1_000_000,
        n_quick: 100_000,
        rows: &[
            ("ns/task", "ns_per_op", 1.0),
            ("bytes/task (peak − baseline RSS)", "bytes_per_op", 1.0),
            ("peak RSS MiB", "peak_rss_bytes", MIB),
        ],
        note: "",
        rounds_mult: 1,
    },
    Bench {
        name: "sleep_1m",
        case: Case::Sleeps,
        inflight: 1,
        n_full: 1_000_000,
        n_quick: 100_000,
        rows: &[
            ("wall ms (ideal ≈ 1000 + spawn time)", "wall_ms", 1.0),
            ("CPU ns/timer", "cpu_ns_per_op", 1.0),
            ("bytes/timer (peak − baseline RSS)", "bytes_per_op", 1.0),
            ("peak RSS MiB", "peak_rss_bytes", MIB),
        ],
        note: "",
        rounds_mult: 1,
    },
    Bench {
        name: "cross_thread_wake",
        case: Case::CrossWake,
        inflight: 1,
        n_full: 100_000,
        n_quick: 20_000,
        rows: &[("ns/round trip", "ns_per_op", 1.0)],
        note: "2× rounds: wake-up latency on this VM is very noisy",
        rounds_mult: 2,
    },
    Bench {
        name: "nop_inflight_1",
        case: Case::Nop,
        inflight: 1,
        n_full: 2_000_000,
        n_quick: 200_000,
        rows: &[("ns/op", "ns_per_op", 1.0)],
        note: "tokio line = yield_now (reference only)",
        rounds_mult: 1,
    },
    Bench {
        name: "nop_inflight_32",
        case: Case::Nop,
        inflight: 32,
        n_full: 4_000_000,
        n_quick: 400_000,
        rows: &[("ns/op", "ns_per_op", 1.0)],
        note: "tokio line = yield_now (reference only); target ≤ 300 ns",
        rounds_mult: 1,
    },
    Bench {
        name: "yield_inflight_1",
        case: Case::Yield,
        inflight: 1,
        n_full: 4_000_000,
        n_quick: 400_000,
        rows: &[("ns/yield", "ns_per_op", 1.0)],
        note: "",
        rounds_mult: 1,
    },
    Bench {
        name: "yield_inflight_32",
        case: Case::Yield,
        inflight: 32,
        n_full: 4_000_000,
        n_quick: 400_000,
        rows: &[("ns/yield", "ns_per_op", 1.0)],
        note: "",
        rounds_mult: 1,
    },
];

impl Bench {
    fn by_name(name: &str) -> Option<&'static Bench> {
        BENCHES.iter().find(|b| b.name == name)
    }

    fn n(&self, quick: bool) -> u64 {
        if quick {
            self.n_quick
        } else {
            self.n_full
        }
    }

    /// Size of the warm-up pass run before the measured one (same runtime,
    /// same process); none for the sleeps, whose cost is the wait.
    fn warmup(&self, n: u64) -> u64 {
        match self.case {
            Case::Sleeps => 0,
            _ => (n / 20).max(self.inflight),
        }
    }

    fn op(&self, c: Contender) -> &'static str {
        match (self.case, c) {
            (Case::SpawnJoin, _) => "spawn + join",
            (Case::Sleeps, _) => "sleep",
            (Case::CrossWake, _) => "cross-thread wake round trip",
            (Case::Nop, Contender::Ringbolt) => "op::nop",
            (Case::Nop, Contender::Tokio) => "yield_now (reference: tokio has no ring op)",
            (Case::Yield, _) => "yield_now",
        }
    }
}

// ---------------------------------------------------------------------------
// The cross-thread signal, identical for both runtimes

const WAITING: usize = 0;
const REGISTERING: usize = 0b01;
const WAKING: usize = 0b10;

/// The well-known `AtomicWaker` algorithm (futures-rs, atomic-waker),
/// written out so that both runtimes are woken by exactly the same code.
struct AtomicWaker {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the `waker` cell is only accessed by the thread that moved `state`
// from WAITING to REGISTERING (register) or that set WAKING while the state
// was WAITING (take): the state machine makes these accesses exclusive. The
// `Waker` inside is `Send + Sync`.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    fn new() -> Self {
        AtomicWaker {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
        }
    }

    fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(WAITING, REGISTERING, Ordering::Acquire, Ordering::Acquire)
            .unwrap_or_else(|x| x)
        {
            WAITING => {
                // SAFETY: this thread moved the state WAITING -> REGISTERING, which grants it
                // exclusive access to the cell until it leaves REGISTERING; `take` does not touch
                // the cell while REGISTERING is set.
                let old = unsafe {
                    let slot = &mut *self.waker.get();
                    match slot {
                        Some(w) if w.will_wake(waker) => None,
                        _ => slot.replace(waker.clone()),
                    }
                };
                let res = self.state.compare_exchange(
                    REGISTERING,
                    WAITING,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                if res.is_err() {
                    // A wake arrived while registering (the state is
                    // REGISTERING | WAKING): the waker took nothing, so wake
                    // the task here.
                    // SAFETY: the REGISTERING bit is still ours; the waking
                    // thread saw it and left the cell alone.
                    let w = unsafe { (*self.waker.get()).take() };
                    self.state.swap(WAITING, Ordering::AcqRel);
                    drop(old);
                    if let Some(w) = w {
                        w.wake();
                    }
                } else {
                    drop(old);
                }
            }
            WAKING => waker.wake_by_ref(),
            _ => {} // concurrent register: not done by this bench
        }
    }

    fn wake(&self) {
        if let WAITING = self.state.fetch_or(WAKING, Ordering::AcqRel) {
            // SAFETY: the state was WAITING and this thread set WAKING: no
            // registration holds the cell and no other waker may enter it
            // until WAKING is cleared below.
            let w = unsafe { (*self.waker.get()).take() };
            self.state.fetch_and(!WAKING, Ordering::Release);
            if let Some(w) = w {
                w.wake();
            }
        }
    }
}

/// A one-slot event: `notify` from any thread, `wait` from a task.
struct Signal {
    set: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    fn new() -> Self {
        Signal {
            set: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        }
    }

    fn notify(&self) {
        self.set.store(true, Ordering::Release);
        self.waker.wake();
    }

    fn wait(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(move |cx| {
            if self.set.swap(false, Ordering::Acquire) {
                return Poll::Ready(());
            }
            self.waker.register(cx.waker());
            if self.set.swap(false, Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

/// The shared state of the cross-thread ping-pong.
struct PingPong {
    ping: Signal,
    pong: AtomicU64,
}

/// The other thread's side: wake the task, then sleep (`thread::park`)
/// until the task answers. Both sides really sleep, so every round trip is
/// one runtime wake-up from another thread plus one `unpark` (futex) back.
fn pinger(pp: &PingPong, n: u64) {
    for i in 1..=n {
        pp.ping.notify();
        while pp.pong.load(Ordering::Acquire) != i {
            std::thread::park();
        }
    }
}

// ---------------------------------------------------------------------------
// Workloads: one text, instantiated once per runtime

async fn ringbolt_nop() {
    ringbolt::op::nop().await.expect("nop");
}

macro_rules! workloads {
    ($m:ident, spawn = $spawn:path, sleep = $sleep:path, nop = $nop:path, yield_now = $yield_now:path) => {
        mod $m {
            use super::*;

            /// Runs `case` with `n` operations; returns the time it took and a
            /// checksum (kept so nothing is optimised away).
            pub(super) async fn dispatch(case: Case, n: u64, inflight: u64) -> (Duration, u64) {
                match case {
                    Case::SpawnJoin => spawn_join(n).await,
                    Case::Sleeps => sleeps(n).await,
                    Case::CrossWake => cross_wake(n).await,
                    Case::Nop => loops(n, inflight, false).await,
                    Case::Yield => loops(n, inflight, true).await,
                }
            }

            async fn spawn_join(n: u64) -> (Duration, u64) {
                let t0 = Instant::now();
                let mut handles = Vec::with_capacity(n as usize);
                for i in 0..n {
                    handles.push($spawn(async move { i }));
                }
                let mut sum = 0u64;
                for h in handles {
                    sum = sum.wrapping_add(h.await.expect("task failed"));
                }
                (t0.elapsed(), sum)
            }

            async fn sleeps(n: u64) -> (Duration, u64) {
                let mut rng = SplitMix64::new(SEED);
                let spread = SLEEP_SPREAD.as_nanos() as u64;
                let t0 = Instant::now();
                let mut handles = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let d = Duration::from_nanos(rng.below(spread));
                    handles.push($spawn(async move {
                        $sleep(d).await;
                        1u64
                    }));
                }
                let mut sum = 0u64;
                for h in handles {
                    sum += h.await.expect("task failed");
                }
                (t0.elapsed(), sum)
            }

            async fn cross_wake(n: u64) -> (Duration, u64) {
                let pp = Arc::new(PingPong {
                    ping: Signal::new(),
                    pong: AtomicU64::new(0),
                });
                let t0 = Instant::now();
                let thread = {
                    let pp = pp.clone();
                    std::thread::spawn(move || pinger(&pp, n))
                };
                let task = {
                    let pp = pp.clone();
                    let other = thread.thread().clone();
                    $spawn(async move {
                        for i in 1..=n {
                            pp.ping.wait().await;
                            pp.pong.store(i, Ordering::Release);
                            other.unpark();
                        }
                        n
                    })
                };
                let got = task.await.expect("task failed");
                thread.join().expect("pinger thread panicked");
                (t0.elapsed(), got)
            }

            async fn loops(n: u64, inflight: u64, yield_only: bool) -> (Duration, u64) {
                let per = n / inflight;
                let t0 = Instant::now();
                let handles: Vec<_> = (0..inflight)
                    .map(|_| {
                        $spawn(async move {
                            for _ in 0..per {
                                if yield_only {
                                    $yield_now().await;
                                } else {
                                    $nop().await;
                                }
                            }
                            per
                        })
                    })
                    .collect();
                let mut sum = 0u64;
                for h in handles {
                    sum += h.await.expect("task failed");
                }
                (t0.elapsed(), sum)
            }
        }
    };
}

workloads!(
    rb,
    spawn = ringbolt::spawn,
    sleep = ringbolt::time::sleep,
    nop = ringbolt_nop,
    yield_now = ringbolt::yield_now
);
workloads!(
    tk,
    spawn = tokio::spawn,
    sleep = tokio::time::sleep,
    nop = tokio::task::yield_now,
    yield_now = tokio::task::yield_now
);

// ---------------------------------------------------------------------------
// Child: one measurement

/// Resource usage around the measured part.
struct Probe {
    baseline_rss: u64,
    cpu0: Duration,
}

impl Probe {
    fn start() -> Probe {
        Probe {
            baseline_rss: common::current_rss_bytes(),
            cpu0: common::cpu_time(),
        }
    }

    fn finish(self, rec: &mut Record, wall: Duration, n: u64, check: u64) {
        let cpu = common::cpu_time().saturating_sub(self.cpu0);
        let peak = common::peak_rss_bytes();
        let n_f = n as f64;
        rec.num("n", n_f)
            .num("ns_per_op", wall.as_nanos() as f64 / n_f)
            .num("wall_ms", wall.as_secs_f64() * 1e3)
            .num("cpu_ms", cpu.as_secs_f64() * 1e3)
            .num("cpu_ns_per_op", cpu.as_nanos() as f64 / n_f)
            .num("peak_rss_bytes", peak as f64)
            .num("baseline_rss_bytes", self.baseline_rss as f64)
            .num(
                "bytes_per_op",
                peak.saturating_sub(self.baseline_rss) as f64 / n_f,
            )
            .num("checksum", check as f64);
    }
}

fn child_main(spec: &str) {
    let mut parts = spec.split(':');
    let (Some(name), Some(contender), Some(n)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("bad child spec `{spec}` (want bench:contender:n)");
    };
    let bench = Bench::by_name(name).unwrap_or_else(|| panic!("unknown bench `{name}`"));
    let contender = Contender::from_name(contender)
        .unwrap_or_else(|| panic!("unknown contender `{contender}`"));
    let n: u64 = n.parse().expect("n");
    let mut rec = Record::new();
    rec.str("bench", bench.name)
        .str("contender", contender.name())
        .str("op", bench.op(contender))
        .num("inflight", bench.inflight as f64);
    let warm = bench.warmup(n);
    match contender {
        Contender::Ringbolt => {
            let rt = ringbolt::Runtime::new().expect("cannot start the ringbolt runtime");
            rec.str("ring_setup", rt.ring_setup());
            if warm > 0 {
                rt.block_on(rb::dispatch(bench.case, warm, bench.inflight));
            }
            let m0 = rt.metrics();
            let probe = Probe::start();
            let (wall, check) = rt.block_on(rb::dispatch(bench.case, n, bench.inflight));
            probe.finish(&mut rec, wall, n, check);
            let m1 = rt.metrics();
            rec.num("ring_enters", (m1.ring_enters - m0.ring_enters) as f64)
                .num(
                    "loop_iterations",
                    (m1.loop_iterations - m0.loop_iterations) as f64,
                )
                .num("polls", (m1.polls - m0.polls) as f64);
        }
        Contender::Tokio => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cannot start the tokio runtime");
            if warm > 0 {
                rt.block_on(tk::dispatch(bench.case, warm, bench.inflight));
            }
            let probe = Probe::start();
            let (wall, check) = rt.block_on(tk::dispatch(bench.case, n, bench.inflight));
            probe.finish(&mut rec, wall, n, check);
        }
    }
    common::print_child_result(&rec);
}

// ---------------------------------------------------------------------------
// Parent: rounds, summary, files

fn main() {
    let args = Args::parse();
    if let Some(spec) = &args.child {
        child_main(spec);
        return;
    }
    let rounds = args.rounds.unwrap_or(if args.quick { 3 } else { 5 }).max(1);
    let benches: Vec<&Bench> = BENCHES.iter().filter(|b| args.selected(b.name)).collect();
    let command = std::iter::once("cargo bench --bench runtime --".to_string())
        .chain(args.raw.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");

    let mut meta = common::conditions();
    let setup = ringbolt::Runtime::new().map_or_else(
        |e| format!("unavailable: {e}"),
        |rt| rt.ring_setup().to_string(),
    );
    meta.str("ringbolt_ring_setup", setup)
        .str("ringbolt_driver", "io_uring")
        .str("command", command.as_str())
        .num("rounds", rounds as f64)
        .str("mode", if args.quick { "quick" } else { "full" })
        .str(
            "interleaving",
            "per bench and round: ringbolt then tokio-current-thread (A B A B ...), \
             one child process per measurement, warm-up pass (N/20) in the same process \
             except sleep_1m",
        )
        .str(
            "tokio_runtime",
            "tokio::runtime::Builder::new_current_thread().enable_all()",
        );
    for b in &benches {
        meta.num(&format!("n_{}", b.name), b.n(args.quick) as f64);
        meta.num(
            &format!("rounds_{}", b.name),
            (rounds * b.rounds_mult) as f64,
        );
    }

    let total: usize = benches
        .iter()
        .map(|b| b.rounds_mult * rounds * Contender::ALL.len())
        .sum();
    eprintln!(
        "runtime bench: {} benches x {rounds} rounds (x2 for noisy ones) x 2 contenders = {total} runs ({} mode)",
        benches.len(),
        if args.quick { "quick" } else { "full" }
    );
    let started = Instant::now();
    let mut results: Vec<Record> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut done = 0;
    for b in &benches {
        let n = b.n(args.quick);
        for round in 0..rounds * b.rounds_mult {
            for c in Contender::ALL {
                done += 1;
                let spec = format!("{}:{}:{n}", b.name, c.name());
                let t = Instant::now();
                match common::run_child(&spec, CHILD_LIMIT) {
                    Ok(mut rec) => {
                        rec.num("round", round as f64);
                        eprintln!(
                            "[{done:>3}/{total}] {:<18} r{round} {:<20} {:>9} ns/op  wall {:>8} ms  peak {:>6} MiB  ({:.1} s)",
                            b.name,
                            c.name(),
                            fmt_num(rec.get_num("ns_per_op").unwrap_or(f64::NAN)),
                            fmt_num(rec.get_num("wall_ms").unwrap_or(f64::NAN)),
                            fmt_num(rec.get_num("peak_rss_bytes").unwrap_or(f64::NAN) / MIB),
                            t.elapsed().as_secs_f64()
                        );
                        results.push(rec);
                    }
                    Err(e) => {
                        eprintln!(
                            "[{done:>3}/{total}] {} r{round} {}: FAILED: {e}",
                            b.name,
                            c.name()
                        );
                        failures.push(e);
                    }
                }
            }
        }
    }
    meta.num(
        "elapsed_s",
        (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    );
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());

    let table = markdown_table(&benches, &results);
    println!("\n{table}");
    if let Some(path) = &args.json {
        match common::write_results_json(path, &meta, &results) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(e) => eprintln!("cannot write {}: {e}", path.display()),
        }
    }
    if let Some(path) = &args.md {
        let doc = markdown_report(&meta, &table, &failures);
        match std::fs::write(path, doc) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(e) => eprintln!("cannot write {}: {e}", path.display()),
        }
    }
    if !failures.is_empty() {
        eprintln!("{} run(s) failed", failures.len());
        std::process::exit(1);
    }
}

fn series(results: &[Record], bench: &str, c: Contender, field: &str) -> Vec<(usize, f64)> {
    results
        .iter()
        .filter(|r| r.get_str("bench") == Some(bench) && r.get_str("contender") == Some(c.name()))
        .filter_map(|r| Some((r.get_num("round")? as usize, r.get_num(field)?)))
        .collect()
}

/// Medians, spread and ratios of every bench's rows.
fn markdown_table(benches: &[&Bench], results: &[Record]) -> String {
    let mut s = String::from(
        "| bench | figure | ringbolt median | ringbolt min–max | tokio median | tokio min–max \
         | ratio ringbolt/tokio | per-round ratio min–max | note |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for b in benches {
        for (i, &(label, field, div)) in b.rows.iter().enumerate() {
            let a = series(results, b.name, Contender::Ringbolt, field);
            let t = series(results, b.name, Contender::Tokio, field);
            let va: Vec<f64> = a.iter().map(|x| x.1 / div).collect();
            let vt: Vec<f64> = t.iter().map(|x| x.1 / div).collect();
            let (sa, st) = (summarize(&va), summarize(&vt));
            let cell = |s: Option<common::Summary>| {
                s.map_or(("–".to_string(), "–".to_string()), |s| {
                    (
                        fmt_num(s.median),
                        format!("{}–{}", fmt_num(s.min), fmt_num(s.max)),
                    )
                })
            };
            let ((ma, ra), (mt, rt)) = (cell(sa), cell(st));
            let ratio = match (sa, st) {
                (Some(x), Some(y)) if y.median != 0.0 => format!("{:.2}", x.median / y.median),
                _ => "–".into(),
            };
            let paired: Vec<f64> = a
                .iter()
                .filter_map(|&(r, x)| {
                    t.iter()
                        .find(|p| p.0 == r)
                        .filter(|p| p.1 != 0.0)
                        .map(|p| x / p.1)
                })
                .collect();
            let pr =
                summarize(&paired).map_or("–".into(), |s| format!("{:.2}–{:.2}", s.min, s.max));
            let note = if i == 0 { b.note } else { "" };
            s.push_str(&format!(
                "| {} | {label} | {ma} | {ra} | {mt} | {rt} | {ratio} | {pr} | {note} |\n",
                b.name
            ));
        }
    }
    s
}

fn markdown_report(meta: &Record, table: &str, failures: &[String]) -> String {
    let get = |k: &str| meta.get_str(k).unwrap_or("unknown").to_string();
    let num = |k: &str| meta.get_num(k).map_or("?".into(), |x| format!("{x}"));
    let mut s = String::from("# Runtime micro-benchmarks: ringbolt vs tokio current_thread\n\n");
    s.push_str(&format!("Command: `{}`\n\n", get("command")));
    s.push_str(&format!(
        "Date: {} · kernel {} · {} cores ({}) · {} MiB RAM · {} · tokio {} · commit {} · \
         ringbolt ring setup `{}` (io_uring driver) · {} rounds ({} mode), interleaved, \
         one process per measurement · took {} s\n\n",
        get("date"),
        get("kernel"),
        num("cores"),
        get("cpu"),
        num("mem_total_mib"),
        get("rustc"),
        get("tokio_version"),
        get("git_commit"),
        get("ringbolt_ring_setup"),
        num("rounds"),
        get("mode"),
        num("elapsed_s"),
    ));
    let sizes: Vec<String> = meta
        .0
        .iter()
        .filter_map(|(k, v)| match v {
            common::Value::Num(x) => k.strip_prefix("n_").map(|b| {
                let r = meta.get_num(&format!("rounds_{b}")).unwrap_or(f64::NAN);
                format!("{b} N = {x} × {r} rounds")
            }),
            common::Value::Str(_) => None,
        })
        .collect();
    s.push_str(&format!("Sizes: {}.\n\n", sizes.join(", ")));
    s.push_str(table);
    s.push_str(
        "\nRatio below 1 = ringbolt takes less (faster / smaller). \"per-round ratio\" pairs \
         the two contenders' runs of the same round. In `nop_*` the tokio line is \
         `tokio::task::yield_now` (tokio has no ring op): a reference, not the same work. \
         `sleep_1m` wall time includes spawning the 1M tasks; the sleeps themselves end \
         within 1 s of their start.\n",
    );
    if !failures.is_empty() {
        s.push_str("\nFailed runs:\n\n");
        for f in failures {
            s.push_str(&format!("- {f}\n"));
        }
    }
    s
}
