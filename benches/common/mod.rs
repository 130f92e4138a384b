//! Helpers shared by the benches (include with
//! `#[path = "common/mod.rs"] mod common;`): command-line parsing, resource
//! usage (peak RSS, CPU time), one-process-per-measurement children, flat
//! JSON records, medians and the conditions every report states.
//!
//! No timing is ever asserted here: benches record, results files show.

// Each bench uses a subset of these helpers.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The argument that makes the bench binary run one measurement and exit.
pub(crate) const CHILD_FLAG: &str = "--child";
/// Prefix of the one result line a child prints on stdout.
pub(crate) const RESULT_PREFIX: &str = "RESULT ";

/// Command-line options common to the benches. Unknown flags (cargo passes
/// `--bench` to `harness = false` benches) are ignored.
#[derive(Debug, Default, Clone)]
pub(crate) struct Args {
    /// `--quick`: fewer rounds and smaller workloads.
    pub(crate) quick: bool,
    /// `--json PATH`: where to write the results.
    pub(crate) json: Option<PathBuf>,
    /// `--md PATH`: where to write the Markdown report.
    pub(crate) md: Option<PathBuf>,
    /// `--rounds N`: overrides the number of rounds.
    pub(crate) rounds: Option<usize>,
    /// `--filter SUBSTR`: only the benches whose name contains it.
    pub(crate) filter: Option<String>,
    /// `--child SPEC`: run one measurement (internal).
    pub(crate) child: Option<String>,
    /// The arguments as given, for the report's command line.
    pub(crate) raw: Vec<String>,
}

impl Args {
    /// Parses `std::env::args()`.
    pub(crate) fn parse() -> Args {
        Args::parse_from(std::env::args().skip(1).collect())
    }

    /// Parses `argv` (without the program name).
    pub(crate) fn parse_from(argv: Vec<String>) -> Args {
        let mut args = Args {
            raw: argv.iter().filter(|a| *a != "--bench").cloned().collect(),
            ..Args::default()
        };
        let mut it = argv.into_iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => args.quick = true,
                "--json" => args.json = it.next().map(PathBuf::from),
                "--md" => args.md = it.next().map(PathBuf::from),
                "--rounds" => args.rounds = it.next().and_then(|v| v.parse().ok()),
                "--filter" => args.filter = it.next(),
                CHILD_FLAG => args.child = it.next(),
                _ => {} // `--bench` and anything else cargo adds
            }
        }
        args
    }

    /// Whether bench `name` passes `--filter`.
    pub(crate) fn selected(&self, name: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| name.contains(f))
    }
}

/// A JSON value of a flat record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A number (written with up to 3 decimals, integers without).
    Num(f64),
    /// A string.
    Str(String),
}

/// A flat JSON object with its keys in insertion order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Record(pub(crate) Vec<(String, Value)>);

impl Record {
    /// An empty record.
    pub(crate) fn new() -> Record {
        Record(Vec::new())
    }

    /// Sets `key` to a number (replacing an earlier value).
    pub(crate) fn num(&mut self, key: &str, v: f64) -> &mut Record {
        self.set(key, Value::Num(v))
    }

    /// Sets `key` to a string (replacing an earlier value).
    pub(crate) fn str(&mut self, key: &str, v: impl Into<String>) -> &mut Record {
        self.set(key, Value::Str(v.into()))
    }

    fn set(&mut self, key: &str, v: Value) -> &mut Record {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = v,
            None => self.0.push((key.to_string(), v)),
        }
        self
    }

    /// The number under `key`, if any.
    pub(crate) fn get_num(&self, key: &str) -> Option<f64> {
        self.0.iter().find_map(|(k, v)| match v {
            Value::Num(x) if k == key => Some(*x),
            _ => None,
        })
    }

    /// The string under `key`, if any.
    pub(crate) fn get_str(&self, key: &str) -> Option<&str> {
        self.0.iter().find_map(|(k, v)| match v {
            Value::Str(s) if k == key => Some(s.as_str()),
            _ => None,
        })
    }

    /// Copies every field of `other` into `self`.
    pub(crate) fn extend(&mut self, other: &Record) -> &mut Record {
        for (k, v) in &other.0 {
            self.set(k, v.clone());
        }
        self
    }

    /// The record as one line of JSON.
    pub(crate) fn to_json(&self) -> String {
        let mut s = String::from("{");
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            write_json_str(&mut s, k);
            s.push_str(": ");
            match v {
                Value::Num(x) => write_json_num(&mut s, *x),
                Value::Str(t) => write_json_str(&mut s, t),
            }
        }
        s.push('}');
        s
    }

    /// Parses a flat JSON object of strings and numbers (what
    /// [`Record::to_json`] writes).
    pub(crate) fn from_json(text: &str) -> Option<Record> {
        let mut p = Parser {
            chars: text.trim().chars().collect(),
            pos: 0,
        };
        let mut rec = Record::new();
        p.expect('{')?;
        if p.peek()? == '}' {
            return Some(rec);
        }
        loop {
            let key = p.string()?;
            p.expect(':')?;
            let value = if p.peek()? == '"' {
                Value::Str(p.string()?)
            } else {
                Value::Num(p.number()?)
            };
            rec.0.push((key, value));
            match p.next()? {
                ',' => continue,
                '}' => return Some(rec),
                _ => return None,
            }
        }
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }
    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.chars.get(self.pos).copied()
    }
    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }
    fn expect(&mut self, c: char) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    fn string(&mut self) -> Option<String> {
        self.expect('"')?;
        let mut out = String::new();
        loop {
            let c = *self.chars.get(self.pos)?;
            self.pos += 1;
            match c {
                '"' => return Some(out),
                '\\' => {
                    let e = *self.chars.get(self.pos)?;
                    self.pos += 1;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'u' => {
                            let hex: String =
                                self.chars.get(self.pos..self.pos + 4)?.iter().collect();
                            self.pos += 4;
                            out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }
    fn number(&mut self) -> Option<f64> {
        self.skip_ws();
        let start = self.pos;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        if text == "null" {
            return Some(f64::NAN);
        }
        text.parse().ok()
    }
}

fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_json_num(out: &mut String, x: f64) {
    if !x.is_finite() {
        out.push_str("null");
    } else if x.fract() == 0.0 && x.abs() < 1e15 {
        let _ = write!(out, "{}", x as i64);
    } else {
        let _ = write!(out, "{x:.3}");
    }
}

/// Writes `{"meta": meta, "results": [results...]}` to `path`.
pub(crate) fn write_results_json(
    path: &Path,
    meta: &Record,
    results: &[Record],
) -> std::io::Result<()> {
    let mut s = String::from("{\n  \"meta\": ");
    s.push_str(&meta.to_json());
    s.push_str(",\n  \"results\": [\n");
    for (i, r) in results.iter().enumerate() {
        s.push_str("    ");
        s.push_str(&r.to_json());
        s.push_str(if i + 1 < results.len() { ",\n" } else { "\n" });
    }
    s.push_str("  ]\n}\n");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, s)
}

// ---------------------------------------------------------------------------
// Resource usage

fn rusage(who: libc::c_int) -> libc::rusage {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `ru` is a properly sized and aligned `rusage` that lives across
    // the call; getrusage only writes into it.
    let rc = unsafe { libc::getrusage(who, ru.as_mut_ptr()) };
    assert_eq!(
        rc,
        0,
        "getrusage failed: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a zeroed `rusage` is valid (it is plain integers) and getrusage
    // filled it in.
    unsafe { ru.assume_init() }
}

/// This process's peak resident set size in bytes (`ru_maxrss`).
pub(crate) fn peak_rss_bytes() -> u64 {
    rusage(libc::RUSAGE_SELF).ru_maxrss as u64 * 1024
}

/// This process's resident set size now, in bytes (`VmRSS`).
pub(crate) fn current_rss_bytes() -> u64 {
    proc_status_kib("VmRSS:").unwrap_or(0) * 1024
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// CPU time (user + system, all threads) this process has used.
pub(crate) fn cpu_time() -> Duration {
    let ru = rusage(libc::RUSAGE_SELF);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU time (user + system) of this process's children that have been
/// waited for (`RUSAGE_CHILDREN`).
pub(crate) fn children_cpu_time() -> Duration {
    let ru = rusage(libc::RUSAGE_CHILDREN);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU time (user + system) the calling thread has used
/// (`RUSAGE_THREAD`).
pub(crate) fn thread_cpu_time() -> Duration {
    let ru = rusage(libc::RUSAGE_THREAD);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU time (utime + stime, all threads) process `pid` has used, from
/// `/proc/<pid>/stat` (clock-tick resolution, usually 10 ms).
pub(crate) fn process_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces:
    // count the fields after its closing one (field 3 is index 0 there).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Some(Duration::from_nanos((utime + stime) * 1_000_000_000 / hz))
}

/// Time on CPU of every thread of process `pid`, from the scheduler's own
/// clock (`/proc/<pid>/task/*/schedstat`, nanoseconds): precise where the
/// tick-sampled `utime + stime` of [`process_cpu_time`] is not.
pub(crate) fn process_sched_time(pid: u32) -> Option<Duration> {
    let mut total = 0u64;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = entry.ok()?.path().join("schedstat");
        // A thread may exit between the listing and the read.
        if let Ok(text) = std::fs::read_to_string(path) {
            total += text.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(Duration::from_nanos(total))
}

/// Busy time of the whole machine, all CPUs added (`/proc/stat`: user,
/// nice, system, irq, softirq, steal; idle and iowait left out).
pub(crate) fn machine_busy_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| v.get(i))
        .sum::<u64>();
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Some(Duration::from_nanos(busy * 1_000_000_000 / hz))
}

// ---------------------------------------------------------------------------
// Children

/// Re-executes this bench binary with `--child spec`, waits at most
/// `limit`, and returns the record the child printed.
pub(crate) fn run_child(spec: &str, limit: Duration) -> Result<Record, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(exe)
        .arg(CHILD_FLAG)
        .arg(spec)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("spawn child: {e}"))?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("child `{spec}` timed out after {limit:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("wait child: {e}")),
        }
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("child `{spec}` failed: {status}"));
    }
    out.lines()
        .rev()
        .find_map(|l| l.strip_prefix(RESULT_PREFIX))
        .and_then(Record::from_json)
        .ok_or_else(|| format!("child `{spec}` printed no result line"))
}

/// Prints a child's result line (the parent reads the last one).
pub(crate) fn print_child_result(rec: &Record) {
    println!("{RESULT_PREFIX}{}", rec.to_json());
}

// ---------------------------------------------------------------------------
// Statistics

/// Median, minimum and maximum of a sample.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

/// The summary of `xs` (NaNs ignored); `None` when empty.
pub(crate) fn summarize(xs: &[f64]) -> Option<Summary> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Summary {
        median,
        min: v[0],
        max: v[n - 1],
    })
}

/// A number for a table: 3 significant digits, thousands kept whole.
pub(crate) fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

// ---------------------------------------------------------------------------
// Deterministic randomness

/// SplitMix64: a tiny deterministic PRNG, identical for every contender.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (bound > 0; the tiny modulo bias is irrelevant
    /// here).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

// ---------------------------------------------------------------------------
// Conditions

/// The machine and build conditions every report states: kernel, cores,
/// CPU, memory, date, rustc, git commit, tokio version.
pub(crate) fn conditions() -> Record {
    let mut m = Record::new();
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string());
    m.str(
        "kernel",
        read("/proc/sys/kernel/osrelease").unwrap_or_else(|_| "unknown".into()),
    );
    m.num(
        "cores",
        std::thread::available_parallelism().map_or(0, |n| n.get()) as f64,
    );
    let cpu = read("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    m.str("cpu", cpu);
    let mem_kib = read("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    });
    m.num("mem_total_mib", mem_kib.map_or(0.0, |k| (k / 1024) as f64));
    m.str("date", utc_now());
    m.str(
        "rustc",
        command_line("rustc", &["-V"]).unwrap_or_else(|| "unknown".into()),
    );
    m.str(
        "git_commit",
        command_line("git", &["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into()),
    );
    m.str(
        "tokio_version",
        locked_version("tokio").unwrap_or_else(|| "unknown".into()),
    );
    m.str("profile", "bench (optimised, debug=1)");
    m
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The version of `package` in the workspace's Cargo.lock.
pub(crate) fn locked_version(package: &str) -> Option<String> {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).ok()?;
    let needle = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() == needle {
            let v = lines.next()?.trim();
            return v
                .strip_prefix("version = \"")
                .and_then(|v| v.strip_suffix('"'))
                .map(String::from);
        }
    }
    None
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
