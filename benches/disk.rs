//! The disk benchmark: ringbolt's io_uring driver against the thread-pool
//! approach (ringbolt's own thread-pool driver, `tokio::fs`, tokio
//! `spawn_blocking` + `pread`, Python asyncio + aiofiles) and against fio's
//! `io_uring` and `psync` engines, the practical limits of the machine.
//!
//! | workload | what every contender does |
//! |---|---|
//! | `randread-4k-buffered` | N in flight, 4 KiB reads at random 4 KiB-aligned offsets of one file, page cache warm (checked with `mincore` before every measurement) |
//! | `randread-4k-direct` | the same with `O_DIRECT` (device-bound) |
//! | `seqread-128k-direct` | N in flight, 128 KiB reads taking the next offset in turn, `O_DIRECT` |
//! | `seqwrite-128k-direct` | the same, writing (into a second file of the same size) |
//! | `readfile-1m` | N in flight, whole-file reads (`fs::read`) of 256 files of 1 MiB, page cache warm |
//! | `append-fsync` | N writers, each appending 1 KiB to its own log and `fdatasync`ing it |
//!
//! Rounds are interleaved: every round runs every (workload, in flight,
//! contender) cell once, the contenders in a rotated order. The report gives
//! medians across rounds, the spread (min–max) and the ratio to
//! ringbolt-uring. Latency comes from hdrhistogram (per task, merged); CPU
//! time per op is `getrusage(RUSAGE_SELF)` over the measured interval (pool
//! threads included), or the subprocess's own figure for Python and fio.
//!
//! ```text
//! cargo bench --bench disk                                  # default subset (< 3 min on 2 cores)
//! cargo bench --bench disk -- --quick                       # < 60 s
//! cargo bench --bench disk -- --json benches/results/disk.json
//! cargo bench --bench disk -- --workload all
//! cargo bench --bench disk -- --workload randread-4k-direct --inflight 1,32 --rounds 9
//! ```
//!
//! Nothing here asserts a timing: the figures are recorded, never checked.

#[path = "common/mod.rs"]
mod common;

#[path = "disk/data.rs"]
mod data;
#[path = "disk/external.rs"]
mod external;
#[path = "disk/inproc.rs"]
mod inproc;
#[path = "disk/json.rs"]
mod json;
#[path = "disk/report.rs"]
mod report;

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{fmt_num, Record};

/// Seed of the random offsets (the same for every Rust contender and
/// round; task `i` uses `SEED + i`).
pub(crate) const SEED: u64 = 0x5EED_D15C;

/// The disk benchmark (see the module documentation).
#[derive(Debug, Parser)]
#[command(
    name = "disk",
    about = "ringbolt disk benchmark: io_uring vs the thread-pool approach"
)]
struct Cli {
    /// Workloads: `default`, `all`, or a comma-separated list of
    /// randread-4k-buffered, randread-4k-direct, seqread-128k-direct,
    /// seqwrite-128k-direct, readfile-1m, append-fsync.
    #[arg(long, default_value = "default")]
    workload: String,
    /// In-flight counts, comma-separated (default: per workload).
    #[arg(long, value_delimiter = ',')]
    inflight: Vec<usize>,
    /// Contenders, comma-separated (default: all that apply).
    #[arg(long, value_delimiter = ',')]
    contender: Vec<String>,
    /// The data file (default `target/bench-data/disk-<size>.bin`, created
    /// with pseudo-random data if missing or of another size; an existing
    /// file given here is used as it is).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Size of the data file to create (`1G`, `512M`, ...).
    #[arg(long, default_value = "1G")]
    size: String,
    /// Measured seconds per cell (warm-up excluded).
    #[arg(long)]
    duration: Option<f64>,
    /// Warm-up seconds per cell, not measured.
    #[arg(long)]
    warmup: Option<f64>,
    /// Rounds (default: 3, and 5 for O_DIRECT workloads).
    #[arg(long)]
    rounds: Option<usize>,
    /// A quick run: randread-4k-buffered at 1 and 32 in flight, 0.5 s cells.
    #[arg(long)]
    quick: bool,
    /// Where to write the JSON results.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Where to write the Markdown report (default: next to --json, `.md`).
    #[arg(long)]
    md: Option<PathBuf>,
    /// Where to write the SVG chart (default: next to --json, `.svg`).
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Passed by `cargo bench` to `harness = false` benches; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// A workload of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Workload {
    RandReadBuffered,
    RandReadDirect,
    SeqReadDirect,
    SeqWriteDirect,
    ReadFile,
    AppendFsync,
}

impl Workload {
    pub(crate) const ALL: [Workload; 6] = [
        Workload::RandReadBuffered,
        Workload::RandReadDirect,
        Workload::SeqReadDirect,
        Workload::SeqWriteDirect,
        Workload::ReadFile,
        Workload::AppendFsync,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::RandReadBuffered => "randread-4k-buffered",
            Workload::RandReadDirect => "randread-4k-direct",
            Workload::SeqReadDirect => "seqread-128k-direct",
            Workload::SeqWriteDirect => "seqwrite-128k-direct",
            Workload::ReadFile => "readfile-1m",
            Workload::AppendFsync => "append-fsync",
        }
    }

    fn from_name(s: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == s)
    }

    /// Bytes per operation.
    pub(crate) fn block_size(self) -> usize {
        match self {
            Workload::RandReadBuffered | Workload::RandReadDirect => 4096,
            Workload::SeqReadDirect | Workload::SeqWriteDirect => 128 * 1024,
            Workload::ReadFile => data::SMALL_FILE_SIZE,
            Workload::AppendFsync => 1024,
        }
    }

    /// Whether the data file is opened with `O_DIRECT`.
    pub(crate) fn direct(self) -> bool {
        matches!(
            self,
            Workload::RandReadDirect | Workload::SeqReadDirect | Workload::SeqWriteDirect
        )
    }

    fn default_inflight(self) -> Vec<usize> {
        match self {
            Workload::RandReadBuffered | Workload::RandReadDirect => vec![1, 8, 32, 128],
            Workload::SeqReadDirect | Workload::SeqWriteDirect => vec![1, 16],
            Workload::ReadFile => vec![1, 16],
            Workload::AppendFsync => vec![1, 8],
        }
    }

    fn default_rounds(self) -> usize {
        if self.direct() {
            5
        } else {
            3
        }
    }
}

/// A contender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Contender {
    RingboltUring,
    RingboltThreadPool,
    TokioFs,
    TokioSpawnBlocking,
    PythonAiofiles,
    FioIoUring,
    FioPsync,
}

impl Contender {
    pub(crate) const ALL: [Contender; 7] = [
        Contender::RingboltUring,
        Contender::RingboltThreadPool,
        Contender::TokioFs,
        Contender::TokioSpawnBlocking,
        Contender::PythonAiofiles,
        Contender::FioIoUring,
        Contender::FioPsync,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Contender::RingboltUring => "ringbolt-uring",
            Contender::RingboltThreadPool => "ringbolt-threadpool",
            Contender::TokioFs => "tokio-fs",
            Contender::TokioSpawnBlocking => "tokio-spawn-blocking",
            Contender::PythonAiofiles => "python-aiofiles",
            Contender::FioIoUring => "fio-io_uring",
            Contender::FioPsync => "fio-psync",
        }
    }

    fn from_name(s: &str) -> Option<Contender> {
        Contender::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Why the contender does not run `w`, if it does not.
    fn not_for(self, w: Workload) -> Option<&'static str> {
        match self {
            Contender::TokioFs | Contender::PythonAiofiles if w.direct() => Some(
                "reads and writes through its own unaligned buffers, which O_DIRECT refuses (EINVAL)",
            ),
            Contender::FioIoUring | Contender::FioPsync if w == Workload::ReadFile => {
                Some("fio has no whole-file read of many files")
            }
            Contender::FioIoUring | Contender::FioPsync if w == Workload::AppendFsync => Some(
                "fio times the write apart from its fdatasync, and its io_uring engine does not \
                 order the sync after the write: not the same operation",
            ),
            _ => None,
        }
    }
}

/// One measurement's parameters.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) workload: Workload,
    pub(crate) contender: Contender,
    pub(crate) inflight: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    /// The file read (or written, for `seqwrite-128k-direct`); the
    /// directory of files for `readfile-1m` and of logs for `append-fsync`.
    pub(crate) path: PathBuf,
    /// Size of `path` (files: bytes used by the workload).
    pub(crate) size: u64,
}

/// One measurement's figures.
#[derive(Debug, Clone, Default)]
pub(crate) struct Figures {
    pub(crate) ops: u64,
    pub(crate) bytes: u64,
    pub(crate) elapsed: Duration,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) p999_us: f64,
    pub(crate) max_us: f64,
    pub(crate) cpu_us_per_op: f64,
    /// Contender-specific extras (versions, ring enters per op, ...).
    pub(crate) extra: Record,
}

impl Figures {
    fn record(&self, spec: &Spec, round: usize) -> Record {
        let secs = self.elapsed.as_secs_f64();
        let mut r = Record::new();
        r.str("workload", spec.workload.name())
            .str("contender", spec.contender.name())
            .num("inflight", spec.inflight as f64)
            .num("round", round as f64)
            .num("iops", self.ops as f64 / secs)
            .num("mib_s", self.bytes as f64 / secs / (1u64 << 20) as f64)
            .num("p50_us", self.p50_us)
            .num("p99_us", self.p99_us)
            .num("p999_us", self.p999_us)
            .num("max_us", self.max_us)
            .num("cpu_us_per_op", self.cpu_us_per_op)
            .num("ops", self.ops as f64)
            .num("elapsed_s", secs)
            .num("block_size", spec.workload.block_size() as f64);
        r.extend(&self.extra);
        r
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.trim_end_matches("ib").trim_end_matches('b');
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad size {s:?} (try 1G or 512M)"))?;
    let bytes = (n * mult as f64) as u64;
    Ok(bytes / (1 << 20) * (1 << 20))
}

/// Progress on stderr: one `\r`-updated line on a terminal, plain lines
/// otherwise.
struct Progress {
    total: usize,
    done: usize,
    start: Instant,
    tty: bool,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            total,
            done: 0,
            start: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn step(&mut self, label: &str, outcome: &str) {
        self.done += 1;
        let el = self.start.elapsed().as_secs_f64();
        let eta = el / self.done as f64 * (self.total - self.done) as f64;
        let line = format!(
            "[{:>3}/{}] {label}: {outcome} ({el:.0}s, ~{eta:.0}s left)",
            self.done, self.total
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            if self.done == self.total {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{line}");
        }
    }

    fn note(&self, msg: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K");
        }
        let _ = writeln!(err, "{msg}");
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("disk bench: {e}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let workloads: Vec<Workload> = match cli.workload.as_str() {
        "default" if cli.quick => vec![Workload::RandReadBuffered],
        "default" => vec![Workload::RandReadBuffered, Workload::RandReadDirect],
        "all" => Workload::ALL.to_vec(),
        list => list
            .split(',')
            .map(|w| Workload::from_name(w.trim()).ok_or_else(|| format!("unknown workload {w:?}")))
            .collect::<Result<_, _>>()?,
    };
    let contenders: Vec<Contender> = if cli.contender.is_empty() {
        Contender::ALL.to_vec()
    } else {
        cli.contender
            .iter()
            .map(|c| {
                Contender::from_name(c.trim()).ok_or_else(|| format!("unknown contender {c:?}"))
            })
            .collect::<Result<_, _>>()?
    };
    let inflight_for = |w: Workload| -> Vec<usize> {
        if !cli.inflight.is_empty() {
            cli.inflight.clone()
        } else if cli.quick {
            vec![1, 32]
        } else if w == Workload::RandReadDirect && cli.workload == "default" {
            // The default run keeps O_DIRECT to the target's depth (the
            // device-bound rounds need many repeats to fit 3 minutes).
            vec![32]
        } else {
            w.default_inflight()
        }
    };
    let rounds_for = |w: Workload| {
        cli.rounds
            .unwrap_or(if cli.quick { 3 } else { w.default_rounds() })
    };
    let duration =
        Duration::from_secs_f64(cli.duration.unwrap_or(if cli.quick { 0.5 } else { 1.0 }));
    let warmup = Duration::from_secs_f64(cli.warmup.unwrap_or(if cli.quick { 0.15 } else { 0.25 }));
    let size = parse_size(&cli.size)?;

    let mut notes: Vec<String> = Vec::new();
    let progress_note = |msg: &str| eprintln!("{msg}");

    // Data.
    let dirs = data::Dirs::new().map_err(|e| format!("bench-data dir: {e}"))?;
    let (read_file, file_size) = match &cli.file {
        Some(f) if f.exists() => {
            let len = std::fs::metadata(f)
                .map_err(|e| format!("{}: {e}", f.display()))?
                .len();
            (f.clone(), len / 4096 * 4096)
        }
        Some(f) => {
            data::ensure_file(f, size, &progress_note)
                .map_err(|e| format!("{}: {e}", f.display()))?;
            (f.clone(), size)
        }
        None => {
            let f = dirs.data.join(format!("disk-{}m.bin", size >> 20));
            data::ensure_file(&f, size, &progress_note)
                .map_err(|e| format!("{}: {e}", f.display()))?;
            (f, size)
        }
    };
    let write_file = read_file.with_extension("write.bin");
    if workloads.contains(&Workload::SeqWriteDirect) {
        data::ensure_file(&write_file, file_size, &progress_note)
            .map_err(|e| format!("{}: {e}", write_file.display()))?;
    }
    let small_dir = dirs.data.join("files-1m");
    if workloads.contains(&Workload::ReadFile) {
        data::ensure_small_files(&small_dir)
            .map_err(|e| format!("{}: {e}", small_dir.display()))?;
    }
    let append_dir = dirs.data.join("append");

    // External contenders.
    let python = if contenders.contains(&Contender::PythonAiofiles) {
        match external::python_env(&dirs.target) {
            Ok(p) => Some(p),
            Err(e) => {
                let n = format!("python-aiofiles skipped: {e}");
                eprintln!("{n}");
                notes.push(n);
                None
            }
        }
    } else {
        None
    };
    let fio = if contenders
        .iter()
        .any(|c| matches!(c, Contender::FioIoUring | Contender::FioPsync))
    {
        match external::fio_version() {
            Some(v) => Some(v),
            None => {
                let n = "fio skipped: `fio` is not installed (apt-get install -y fio)".to_string();
                eprintln!("{n}");
                notes.push(n);
                None
            }
        }
    } else {
        None
    };
    let available = |c: Contender| match c {
        Contender::PythonAiofiles => python.is_some(),
        Contender::FioIoUring | Contender::FioPsync => fio.is_some(),
        _ => true,
    };
    for &w in &workloads {
        for &c in &contenders {
            if let Some(why) = c.not_for(w) {
                if available(c) {
                    notes.push(format!("{} not run in {}: {why}", c.name(), w.name()));
                }
            }
        }
    }

    // Cells, interleaved round by round.
    let max_rounds = workloads.iter().map(|&w| rounds_for(w)).max().unwrap_or(0);
    let mut plan: Vec<(usize, Spec)> = Vec::new();
    for round in 0..max_rounds {
        for &w in &workloads {
            if round >= rounds_for(w) {
                continue;
            }
            let here: Vec<Contender> = contenders
                .iter()
                .copied()
                .filter(|&c| available(c) && c.not_for(w).is_none())
                .collect();
            for n in inflight_for(w) {
                for k in 0..here.len() {
                    // Rotate the order each round: no contender always runs
                    // first (right after the warm-up of the page cache).
                    let c = here[(k + round + n) % here.len()];
                    let (path, size) = match w {
                        Workload::RandReadBuffered
                        | Workload::RandReadDirect
                        | Workload::SeqReadDirect => (read_file.clone(), file_size),
                        Workload::SeqWriteDirect => (write_file.clone(), file_size),
                        Workload::ReadFile => (small_dir.clone(), data::SMALL_FILE_SIZE as u64),
                        Workload::AppendFsync => (append_dir.clone(), 0),
                    };
                    plan.push((
                        round,
                        Spec {
                            workload: w,
                            contender: c,
                            inflight: n,
                            warmup,
                            duration,
                            path,
                            size,
                        },
                    ));
                }
            }
        }
    }

    let load_start = loadavg();
    let mut meta = common::conditions();
    meta.str("loadavg_start", load_start.clone());
    let ring_setup = inproc::ring_setup();
    meta.str("fs", data::fs_description(&dirs.data))
        .str("ring_setup", ring_setup)
        .num("file_size", file_size as f64)
        .str("file", read_file.display().to_string())
        .num("duration_s", duration.as_secs_f64())
        .num("warmup_s", warmup.as_secs_f64())
        .str("runtime_threads", "1 (ringbolt and tokio current_thread)")
        .str("fio", fio.clone().unwrap_or_else(|| "not installed".into()))
        .str("command", command_line());
    if let Some(p) = &python {
        meta.str("python", p.version.clone())
            .str("aiofiles", p.aiofiles.clone());
    }

    let mut progress = Progress::new(plan.len());
    let mut results: Vec<Record> = Vec::new();
    for (round, spec) in &plan {
        let label = format!(
            "round {}/{} {} x{} {}",
            round + 1,
            rounds_for(spec.workload),
            spec.workload.name(),
            spec.inflight,
            spec.contender.name()
        );
        let resident = if spec.workload == Workload::RandReadBuffered {
            Some(
                data::warm(&spec.path)
                    .map_err(|e| format!("warming {}: {e}", spec.path.display()))?,
            )
        } else if spec.workload == Workload::ReadFile {
            Some(
                data::warm_dir(&spec.path)
                    .map_err(|e| format!("warming {}: {e}", spec.path.display()))?,
            )
        } else {
            None
        };
        if spec.workload == Workload::AppendFsync {
            data::reset_dir(&spec.path).map_err(|e| format!("{}: {e}", spec.path.display()))?;
        }
        let measure = || match spec.contender {
            Contender::PythonAiofiles => {
                external::python(python.as_ref().expect("available"), spec)
            }
            Contender::FioIoUring | Contender::FioPsync => external::fio(spec),
            _ => inproc::run(spec),
        };
        // One retry: a shared machine can refuse a ring or kill a child for
        // reasons of its own; the failure is reported if it happens again.
        let outcome = measure().or_else(|e| {
            progress.note(&format!("{label}: {e}; retrying once"));
            std::thread::sleep(Duration::from_secs(1));
            measure()
        });
        match outcome {
            Ok(fig) => {
                let mut rec = fig.record(spec, *round);
                if let Some(res) = resident {
                    rec.num("resident_fraction", res);
                } else if spec.workload.direct() {
                    rec.str("resident_fraction", "n/a (O_DIRECT)");
                }
                progress.step(
                    &label,
                    &format!(
                        "{} IOPS, p99 {} µs",
                        fmt_num(rec.get_num("iops").unwrap_or(f64::NAN)),
                        fmt_num(fig.p99_us)
                    ),
                );
                results.push(rec);
            }
            Err(e) => {
                progress.step(&label, "FAILED");
                let n = format!("{label} failed: {e}");
                progress.note(&n);
                if !notes.contains(&n) {
                    notes.push(n);
                }
            }
        }
    }

    let load_end = loadavg();
    meta.str("loadavg_end", load_end.clone());
    let cores = meta.get_num("cores").unwrap_or(1.0);
    for (when, load) in [("start", &load_start), ("end", &load_end)] {
        let one: f64 = load
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        if one > cores {
            notes.push(format!(
                "the machine was busy: load average {load} at the {when} on {cores} cores \
                 (other processes competed; ratios are less reliable than usual)"
            ));
        }
    }

    let md = report::markdown(&meta, &results, &notes);
    println!("{md}");
    if let Some(json) = &cli.json {
        common::write_results_json(json, &meta, &results)
            .map_err(|e| format!("{}: {e}", json.display()))?;
        eprintln!("wrote {}", json.display());
    }
    let md_path = cli
        .md
        .clone()
        .or_else(|| cli.json.as_ref().map(|j| j.with_extension("md")));
    if let Some(p) = md_path {
        std::fs::write(&p, &md).map_err(|e| format!("{}: {e}", p.display()))?;
        eprintln!("wrote {}", p.display());
    }
    let svg_path = cli
        .svg
        .clone()
        .or_else(|| cli.json.as_ref().map(|j| j.with_extension("svg")));
    if let Some(p) = svg_path {
        std::fs::write(&p, report::svg(&meta, &results))
            .map_err(|e| format!("{}: {e}", p.display()))?;
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The command line as a user would retype it.
fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.is_empty() {
        "cargo bench --bench disk".to_string()
    } else {
        format!("cargo bench --bench disk -- {}", args.join(" "))
    }
}
