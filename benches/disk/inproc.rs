//! The in-process contenders: ringbolt (io_uring and thread-pool drivers),
//! `tokio::fs` and tokio `spawn_blocking` + `pread`, each on one runtime
//! thread with N tasks in flight.
//!
//! Every task loops: take an offset, time one operation, record its
//! latency in its own histogram (merged at the end). A controller thread
//! flips a shared phase from warm-up to measure to stop and reads
//! `getrusage(RUSAGE_SELF)` at the two edges, so the CPU time covers the
//! measured interval and every thread of the process (the pools' too).

use std::io::{self, SeekFrom, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringbolt::buf::AlignedBuf;

use crate::common::{cpu_time, Record, SplitMix64};
use crate::{data, Contender, Figures, Spec, Workload, SEED};

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// Alignment of every buffer (O_DIRECT needs the logical block size; a page
/// covers every device).
const ALIGN: usize = 4096;

/// One task's measurements.
struct Meter {
    phase: Arc<AtomicU8>,
    hist: Histogram<u64>,
    ops: u64,
    bytes: u64,
}

impl Meter {
    fn new(phase: Arc<AtomicU8>) -> Meter {
        Meter {
            phase,
            hist: Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds"),
            ops: 0,
            bytes: 0,
        }
    }

    /// The phase now: `WARMUP`, `MEASURE` or `STOP`.
    fn phase(&self) -> u8 {
        self.phase.load(Ordering::Relaxed)
    }

    /// Counts one operation started at `t0` in phase `ph`.
    fn done(&mut self, ph: u8, t0: Instant, bytes: usize) {
        if ph == MEASURE {
            let ns = t0.elapsed().as_nanos() as u64;
            self.hist.saturating_record(ns.max(1));
            self.ops += 1;
            self.bytes += bytes as u64;
        }
    }
}

/// The measured interval: its length and the process's CPU time in it.
struct Window {
    phase: Arc<AtomicU8>,
    thread: std::thread::JoinHandle<(Duration, Duration)>,
}

impl Window {
    /// Starts the controller: warm-up, then `duration` measured, then stop.
    fn start(phase: Arc<AtomicU8>, warmup: Duration, duration: Duration) -> Window {
        let p = phase.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(warmup);
            let (t0, c0) = (Instant::now(), cpu_time());
            p.store(MEASURE, Ordering::Relaxed);
            std::thread::sleep(duration);
            p.store(STOP, Ordering::Relaxed);
            let (t1, c1) = (Instant::now(), cpu_time());
            (t1 - t0, c1.saturating_sub(c0))
        });
        Window { phase, thread }
    }

    fn finish(self, meters: Vec<Meter>) -> Result<Figures, String> {
        let (elapsed, cpu) = self.thread.join().map_err(|_| "controller panicked")?;
        debug_assert_eq!(self.phase.load(Ordering::Relaxed), STOP);
        let mut hist =
            Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds");
        let (mut ops, mut bytes) = (0, 0);
        for m in &meters {
            hist.add(&m.hist).map_err(|e| format!("histogram: {e:?}"))?;
            ops += m.ops;
            bytes += m.bytes;
        }
        if ops == 0 {
            return Err("no operation completed in the measured interval".into());
        }
        let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        Ok(Figures {
            ops,
            bytes,
            elapsed,
            p50_us: us(0.50),
            p99_us: us(0.99),
            p999_us: us(0.999),
            max_us: hist.max() as f64 / 1000.0,
            cpu_us_per_op: cpu.as_secs_f64() * 1e6 / ops as f64,
            extra: Record::new(),
        })
    }
}

/// Where the next operation goes: random block-aligned offsets (SplitMix64
/// seeded `SEED + task`, the same for every Rust contender) or the next
/// block of a shared sequential cursor.
enum Offsets {
    Random {
        rng: SplitMix64,
        blocks: u64,
        bs: u64,
    },
    Seq {
        next: Arc<AtomicU64>,
        span: u64,
        bs: u64,
    },
}

impl Offsets {
    fn new(spec: &Spec, task: usize, cursor: &Arc<AtomicU64>) -> Offsets {
        let bs = spec.workload.block_size() as u64;
        match spec.workload {
            Workload::SeqReadDirect | Workload::SeqWriteDirect => Offsets::Seq {
                next: cursor.clone(),
                span: spec.size / bs * bs,
                bs,
            },
            _ => Offsets::Random {
                rng: SplitMix64::new(SEED + task as u64),
                blocks: (spec.size / bs).max(1),
                bs,
            },
        }
    }

    fn next(&mut self) -> u64 {
        match self {
            Offsets::Random { rng, blocks, bs } => rng.below(*blocks) * *bs,
            Offsets::Seq { next, span, bs } => next.fetch_add(*bs, Ordering::Relaxed) % *span,
        }
    }
}

fn short(n: usize, want: usize) -> Result<(), String> {
    if n == want {
        Ok(())
    } else {
        Err(format!("short transfer: {n} of {want} bytes"))
    }
}

fn err(e: io::Error) -> String {
    e.to_string()
}

/// The setup flags of a default io_uring ringbolt runtime (for the report).
pub(crate) fn ring_setup() -> String {
    match ringbolt::Builder::new()
        .driver(ringbolt::Driver::IoUring)
        .build()
    {
        Ok(rt) => rt.ring_setup().to_string(),
        Err(e) => format!("io_uring unavailable: {e}"),
    }
}

/// Runs one in-process measurement.
pub(crate) fn run(spec: &Spec) -> Result<Figures, String> {
    match spec.contender {
        Contender::RingboltUring => ringbolt_run(spec, ringbolt::Driver::IoUring),
        Contender::RingboltThreadPool => ringbolt_run(spec, ringbolt::Driver::ThreadPool),
        Contender::TokioFs | Contender::TokioSpawnBlocking => tokio_run(spec),
        other => Err(format!("{} is not an in-process contender", other.name())),
    }
}

/// What the tasks of one measurement share.
struct Shared<F> {
    spec: Spec,
    phase: Arc<AtomicU8>,
    cursor: Arc<AtomicU64>,
    /// The data file (reads and writes of one file).
    file: Option<F>,
    /// The `readfile-1m` list.
    files: Vec<PathBuf>,
}

fn shared<F>(spec: &Spec, file: Option<F>) -> Result<Shared<F>, String> {
    let files = if spec.workload == Workload::ReadFile {
        data::list_files(&spec.path).map_err(err)?
    } else {
        Vec::new()
    };
    Ok(Shared {
        spec: spec.clone(),
        phase: Arc::new(AtomicU8::new(WARMUP)),
        cursor: Arc::new(AtomicU64::new(0)),
        file,
        files,
    })
}

fn log_path(spec: &Spec, task: usize) -> PathBuf {
    spec.path
        .join(format!("{}-{task}.log", spec.contender.name()))
}

// ---------------------------------------------------------------------------
// ringbolt

fn ringbolt_run(spec: &Spec, driver: ringbolt::Driver) -> Result<Figures, String> {
    let rt = ringbolt::Builder::new()
        .driver(driver)
        .ring_entries(256)
        .build()
        .map_err(err)?;
    let setup = rt.ring_setup();
    let fig = rt.block_on(async {
        let file = match spec.workload {
            Workload::ReadFile | Workload::AppendFsync => None,
            w => {
                let mut o = ringbolt::fs::File::options();
                if w == Workload::SeqWriteDirect {
                    o.write(true);
                } else {
                    o.read(true);
                }
                if w.direct() {
                    o.custom_flags(libc::O_DIRECT);
                }
                Some(o.open(&spec.path).await.map_err(err)?)
            }
        };
        let sh = Arc::new(shared(spec, file)?);
        let handles: Vec<_> = (0..spec.inflight)
            .map(|i| ringbolt::spawn(ringbolt_task(sh.clone(), i)))
            .collect();
        let window = Window::start(sh.phase.clone(), spec.warmup, spec.duration);
        let mut meters = Vec::new();
        let mut first_err = None;
        for h in handles {
            match h.await {
                Ok(Ok(m)) => meters.push(m),
                Ok(Err(e)) => first_err = first_err.or(Some(e)),
                Err(e) => first_err = first_err.or(Some(format!("task: {e}"))),
            }
        }
        let fig = window.finish(meters);
        match first_err {
            Some(e) => Err(e),
            None => fig,
        }
    })?;
    let m = rt.metrics();
    let mut fig = fig;
    if driver == ringbolt::Driver::IoUring {
        // Over the whole run (warm-up included): a ratio, not a count.
        fig.extra
            .num(
                "ring_enters_per_op",
                m.ring_enters as f64 / m.ops_completed.max(1) as f64,
            )
            .num(
                "loop_iterations_per_op",
                m.loop_iterations as f64 / m.ops_completed.max(1) as f64,
            );
    }
    fig.extra.str("ring_setup", setup);
    Ok(fig)
}

async fn ringbolt_task(sh: Arc<Shared<ringbolt::fs::File>>, task: usize) -> Result<Meter, String> {
    let spec = &sh.spec;
    let bs = spec.workload.block_size();
    let mut m = Meter::new(sh.phase.clone());
    match spec.workload {
        Workload::RandReadBuffered | Workload::RandReadDirect | Workload::SeqReadDirect => {
            let file = sh.file.as_ref().expect("opened");
            let mut offsets = Offsets::new(spec, task, &sh.cursor);
            let mut buf = AlignedBuf::with_capacity(bs, ALIGN).map_err(err)?;
            loop {
                let ph = m.phase();
                if ph == STOP {
                    break;
                }
                let t0 = Instant::now();
                let (res, b) = file.read_at(buf, offsets.next()).await;
                buf = b;
                short(res.map_err(err)?, bs)?;
                m.done(ph, t0, bs);
            }
        }
        Workload::SeqWriteDirect => {
            let file = sh.file.as_ref().expect("opened");
            let mut offsets = Offsets::new(spec, task, &sh.cursor);
            let mut buf = AlignedBuf::new(bs, ALIGN).map_err(err)?;
            buf.as_mut_slice().fill(0x5A);
            loop {
                let ph = m.phase();
                if ph == STOP {
                    break;
                }
                let t0 = Instant::now();
                let (res, b) = file.write_at(buf, offsets.next()).await;
                buf = b;
                short(res.map_err(err)?, bs)?;
                m.done(ph, t0, bs);
            }
        }
        Workload::ReadFile => {
            let mut i = task;
            loop {
                let ph = m.phase();
                if ph == STOP {
                    break;
                }
                let t0 = Instant::now();
                let v = ringbolt::fs::read(&sh.files[i % sh.files.len()])
                    .await
                    .map_err(err)?;
                i += spec.inflight;
                m.done(ph, t0, v.len());
            }
        }
        Workload::AppendFsync => {
            let file = ringbolt::fs::File::options()
                .append(true)
                .create(true)
                .open(log_path(spec, task))
                .await
                .map_err(err)?;
            let mut buf = vec![0x4Cu8; bs];
            loop {
                let ph = m.phase();
                if ph == STOP {
                    break;
                }
                let t0 = Instant::now();
                let (res, b) = file.write_at(buf, 0).await;
                buf = b;
                short(res.map_err(err)?, bs)?;
                file.sync_data().await.map_err(err)?;
                m.done(ph, t0, bs);
            }
        }
    }
    Ok(m)
}

// ---------------------------------------------------------------------------
// tokio

fn tokio_run(spec: &Spec) -> Result<Figures, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(err)?;
    let fig = rt.block_on(async {
        // spawn_blocking + pread shares one std File; tokio::fs opens one
        // per task (it has no positional read: seek + read).
        let file = match (spec.contender, spec.workload) {
            (Contender::TokioSpawnBlocking, Workload::ReadFile | Workload::AppendFsync) => None,
            (Contender::TokioSpawnBlocking, w) => Some(Arc::new(
                data::open_std(&spec.path, w.direct(), w == Workload::SeqWriteDirect)
                    .map_err(err)?,
            )),
            _ => None,
        };
        let sh = Arc::new(shared(spec, file)?);
        let handles: Vec<_> = (0..spec.inflight)
            .map(|i| {
                if spec.contender == Contender::TokioFs {
                    tokio::spawn(tokio_fs_task(sh.clone(), i))
                } else {
                    tokio::spawn(spawn_blocking_task(sh.clone(), i))
                }
            })
            .collect();
        let window = Window::start(sh.phase.clone(), spec.warmup, spec.duration);
        let mut meters = Vec::new();
        let mut first_err = None;
        for h in handles {
            match h.await {
                Ok(Ok(m)) => meters.push(m),
                Ok(Err(e)) => first_err = first_err.or(Some(e)),
                Err(e) => first_err = first_err.or(Some(format!("task: {e}"))),
            }
        }
        let fig = window.finish(meters);
        match first_err {
            Some(e) => Err(e),
            None => fig,
        }
    });
    // Let the blocking threads go now rather than idling into the next
    // measurement.
    rt.shutdown_timeout(Duration::from_secs(5));
    fig
}

async fn tokio_fs_task(sh: Arc<Shared<Arc<std::fs::File>>>, task: usize) -> Result<Meter, String> {
    use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};
    let spec = &sh.spec;
    let bs = spec.workload.block_size();
    let mut m = Meter::new(sh.phase.clone());
    match spec.workload {
        Workload::RandReadBuffered => {
            let mut file = tokio::fs::File::open(&spec.path).await.map_err(err)?;
            let mut offsets = Offsets::new(spec, task, &sh.cursor);
            let mut buf = vec![0u8; bs];
            loop {
                let ph = m.phase();
                if ph == STOP {
                    break;
                }
                let t0 = Instant::now();
                file.seek(SeekFrom::Start(offsets.next()))
                    .await
                    .map_err(err)?;
                file.read_exact(&mut buf).await.map_err(err)?;
                m.done(ph, t0, bs);
            }
        }
        Workload::ReadFile => {
            let mut i = task;
            loop {
                let ph = m.phase();
                if ph == STOP {
                    break;
                }
                let t0 = Instant::now();
                let v = tokio::fs::read(&sh.files[i % sh.files.len()])
                    .await
                    .map_err(err)?;
                i += spec.inflight;
                m.done(ph, t0, v.len());
            }
        }
        Workload::AppendFsync => {
            let mut file = tokio::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(log_path(spec, task))
                .await
                .map_err(err)?;
            let buf = vec![0x4Cu8; bs];
            loop {
                let ph = m.phase();
                if ph == STOP {
                    break;
                }
                let t0 = Instant::now();
                file.write_all(&buf).await.map_err(err)?;
                file.sync_data().await.map_err(err)?;
                m.done(ph, t0, bs);
            }
        }
        w => return Err(format!("tokio-fs does not run {}", w.name())),
    }
    Ok(m)
}

async fn spawn_blocking_task(
    sh: Arc<Shared<Arc<std::fs::File>>>,
    task: usize,
) -> Result<Meter, String> {
    let spec = &sh.spec;
    let bs = spec.workload.block_size();
    let mut m = Meter::new(sh.phase.clone());
    let join = |e: tokio::task::JoinError| format!("spawn_blocking: {e}");
    match spec.workload {
        Workload::RandReadBuffered
        | Workload::RandReadDirect
        | Workload::SeqReadDirect
        | Workload::SeqWriteDirect => {
            let write = spec.workload == Workload::SeqWriteDirect;
            let file = sh.file.clone().expect("opened");
            let mut offsets = Offsets::new(spec, task, &sh.cursor);
            let mut buf = AlignedBuf::new(bs, ALIGN).map_err(err)?;
            buf.as_mut_slice().fill(0x5A);
            loop {
                let ph = m.phase();
                if ph == STOP {
                    break;
                }
                let t0 = Instant::now();
                let (f, off) = (file.clone(), offsets.next());
                let (res, b) = tokio::task::spawn_blocking(move || {
                    let res = if write {
                        f.write_at(buf.as_slice(), off)
                    } else {
                        f.read_at(buf.as_mut_slice(), off)
                    };
                    (res, buf)
                })
                .await
                .map_err(join)?;
                buf = b;
                short(res.map_err(err)?, bs)?;
                m.done(ph, t0, bs);
            }
        }
        Workload::ReadFile => {
            let mut i = task;
            loop {
                let ph = m.phase();
                if ph == STOP {
                    break;
                }
                let t0 = Instant::now();
                let p = sh.files[i % sh.files.len()].clone();
                let v = tokio::task::spawn_blocking(move || std::fs::read(p))
                    .await
                    .map_err(join)?
                    .map_err(err)?;
                i += spec.inflight;
                m.done(ph, t0, v.len());
            }
        }
        Workload::AppendFsync => {
            let file = Arc::new(
                std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(log_path(spec, task))
                    .map_err(err)?,
            );
            let buf = Arc::new(vec![0x4Cu8; bs]);
            loop {
                let ph = m.phase();
                if ph == STOP {
                    break;
                }
                let t0 = Instant::now();
                let (f, b) = (file.clone(), buf.clone());
                tokio::task::spawn_blocking(move || {
                    (&*f).write_all(&b)?;
                    f.sync_data()
                })
                .await
                .map_err(join)?
                .map_err(err)?;
                m.done(ph, t0, bs);
            }
        }
    }
    Ok(m)
}
