//! `--ab A,B`: two servers measured in alternating short slices, for
//! ratios that survive the machine's slow drifts and flips.
//!
//! This VM flips for seconds at a time between a fast and a slow state (the
//! same server's CPU per request more than doubles), so two contenders
//! measured one after the other for a second each are often measured in
//! different states. Here both servers run at once (two processes), the
//! one io_uring client holds `--connections` connections to each, and only
//! one server gets load at a time:
//!
//! 1. warm-up: each server in turn for `--warmup` seconds (0.5 default);
//! 2. slices of `--slice-ms` (100 default): drive one server's connections,
//!    then quiesce (no new request; wait for every echo under way), then
//!    the other's, until `--duration` seconds (20 default) have passed.
//!    Slices come in pairs, one slice of each server, A first in even
//!    pairs and B first in odd ones (A B | B A | A B ...), so neither
//!    always goes first and a linear drift cancels out;
//! 3. per slice: the requests completed, the wall time from the first send
//!    to the last echo, and the server's CPU time from the scheduler's
//!    nanosecond clock (first field of `/proc/<pid>/task/*/schedstat`,
//!    summed over its threads), read before the slice and again once every
//!    thread of the server is off the CPU after the quiesce (a running
//!    thread's counter is only brought up to date at scheduler events, so
//!    reading it mid-run could miss up to a tick). The idle server's clock
//!    is read at the same points: it should not move;
//! 4. per pair: B's CPU µs/request ÷ A's and B's requests/s ÷ A's; the
//!    report gives the median and the quartiles over all pairs, and over
//!    the pairs whose two slices were in the same state (each contender's
//!    slices are split at the geometric mean of its 10th and 90th
//!    percentile of CPU/request when those differ by 1.5× or more).
//!
//! `http-hello` is driven by `wrk` instead of the echo client: one slice is
//! one `wrk -t1 -c<connections> -d<s>s` run against one server (wrk takes
//! whole seconds only, so slices are 1 s by default; each run opens its
//! connections afresh, and their accept and close fall in the slice, the
//! same for both servers). The slice's requests and requests/s are wrk's,
//! its CPU the server's clock around the whole run, and the client's cores
//! are wrk's (a child process: `RUSAGE_CHILDREN`).
//!
//! wrk on one core is slower per request than the servers, so it sets the
//! pace and the servers idle part of each slice. `--client uring` drives
//! `http-hello` from the io_uring client instead, in 100 ms slices like
//! echo: each connection sends wrk's default request
//! ([`HELLO_REQUEST`](crate::server::HELLO_REQUEST)) and waits for the
//! whole fixed reply before the next: one request in flight per
//! connection, as with wrk. The reply's bytes are counted, not checked:
//! both servers answer from the same constants. A 400 closes the
//! connection and shows up as a connection error; a wrong reply of the
//! right length would go unnoticed.
//!
//! An idle server sits blocked in its wait syscall and uses no CPU (the
//! report checks). With `--pin` the client runs on CPU 0 and both servers
//! on CPU 1. The summary (Markdown) goes to stdout and to `--md PATH`;
//! `--json PATH` writes every slice, for a closer look.

use std::time::{Duration, Instant};

use crate::common::{
    children_cpu_time, fmt_num, machine_busy_time, process_sched_time, thread_cpu_time, Args,
    Record,
};
use crate::process::ServerProcess;
use crate::server::{HELLO, HELLO_REQUEST};
use crate::uring_client::{Drive, EchoLoad, End};
use crate::{Contender, EchoClient, NetArgs, ServerKind, WORKLOADS, WRK_CONNECTIONS};

/// Length of one echo slice unless `--slice-ms` says otherwise.
const DEFAULT_SLICE_MS: u64 = 100;
/// Length of one HTTP slice (one wrk run) unless `--slice-ms` says
/// otherwise; wrk takes whole seconds.
const DEFAULT_HTTP_SLICE_MS: u64 = 1000;
/// Measured time (seconds) unless `--duration` says otherwise.
const DEFAULT_DURATION: f64 = 20.0;
/// Warm-up per server (seconds) unless `--warmup` says otherwise.
const DEFAULT_WARMUP: f64 = 0.5;
/// Connections per server unless `--connections` says otherwise.
const DEFAULT_CONNECTIONS: usize = 64;
/// How long a server may take to get off the CPU after its quiesce.
const SETTLE_LIMIT: Duration = Duration::from_millis(50);
/// Two slice classes differ when p90 ÷ p10 of CPU/request reaches this.
const BIMODAL: f64 = 1.5;

/// One slice: one server driven, then quiesced.
#[derive(Debug, Clone, Copy)]
struct Slice {
    /// Which server was driven: 0 = A, 1 = B.
    who: usize,
    /// When the slice started, from the start of the measured time.
    at: Duration,
    /// Echo round trips completed.
    requests: u64,
    /// From the first send to the last echo.
    wall: Duration,
    /// The driven server's CPU time over the slice.
    cpu: Duration,
    /// The other (idle) server's CPU time over the slice.
    idle_cpu: Duration,
    /// The load generator's CPU time over the slice (the echo client's
    /// thread, or the wrk run).
    client_cpu: Duration,
    /// Every thread of the driven server was off the CPU when its clock
    /// was read at the end.
    settled: bool,
}

impl Slice {
    /// The server's CPU µs per request.
    fn us_per_req(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }

    /// The load generator's CPU µs per request.
    fn client_us_per_req(&self) -> f64 {
        self.client_cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }

    /// Requests per second of wall time.
    fn rps(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Where the machine's CPU went over the measured time, in cores.
#[derive(Debug, Clone, Copy, Default)]
struct Load {
    /// The client (this thread).
    client: f64,
    /// Both servers.
    servers: f64,
    /// Everything else: other processes, kernel threads (`/proc/stat`
    /// busy time minus the two above; tick-sampled, fine over seconds).
    others: f64,
}

/// What `--ab` runs.
#[derive(Debug)]
struct AbPlan {
    /// A and B.
    contenders: [Contender; 2],
    /// `echo-64b`, `echo-4k` or `http-hello`.
    workload: &'static str,
    /// The echoed message's size, bytes (echo only).
    msg_size: usize,
    /// `http-hello` is driven by wrk (else by the io_uring client).
    wrk: bool,
    /// Connections per server.
    connections: usize,
    /// Length of one slice (its driven part).
    slice: Duration,
    /// Measured time, all slices.
    duration: Duration,
    /// Warm-up per server.
    warmup: Duration,
}

/// Runs the `--ab` mode: prints progress on stderr and the summary on
/// stdout, writes it to `--md` when given.
pub(crate) fn run(args: &Args, net: &NetArgs, contenders: [Contender; 2]) -> Result<(), String> {
    let plan = plan(args, net, contenders)?;
    if net.pin {
        // The client runs on this thread: CPU 0; both servers get CPU 1.
        crate::pin_to_cpu(0);
        std::env::set_var("RINGBOLT_NET_SERVER_CPU", "1");
    }
    let names = contenders.map(Contender::name);
    eprintln!(
        "net bench --ab: A = {}, B = {}, {} with {} connections each, {} ms slices for {:.0} s \
         after {:.1} s warm-up each{}",
        names[0],
        names[1],
        plan.workload,
        plan.connections,
        plan.slice.as_millis(),
        plan.duration.as_secs_f64(),
        plan.warmup.as_secs_f64(),
        if net.pin {
            "; client on CPU 0, servers on CPU 1"
        } else {
            ""
        }
    );
    let (slices, load) = measure(&plan)?;
    let command = format!("cargo bench --bench net -- {}", args.raw.join(" "));
    let md = summary(&plan, &slices, &load, command.trim(), net.pin);
    println!("{md}");
    if let Some(path) = &args.md {
        std::fs::write(path, &md).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("net bench --ab: wrote {}", path.display());
    }
    if let Some(path) = &args.json {
        write_json(path, &plan, &slices, command.trim())?;
        eprintln!("net bench --ab: wrote {}", path.display());
    }
    Ok(())
}

/// Writes every slice as a record (`--json PATH`), for a closer look.
fn write_json(
    path: &std::path::Path,
    plan: &AbPlan,
    slices: &[Slice],
    command: &str,
) -> Result<(), String> {
    let mut meta = crate::common::conditions();
    meta.str("mode", "ab")
        .str("command", command)
        .str("a", plan.contenders[0].name())
        .str("b", plan.contenders[1].name())
        .str("workload", plan.workload)
        .num("connections", plan.connections as f64)
        .num("slice_ms", plan.slice.as_millis() as f64);
    let records: Vec<Record> = slices
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut r = Record::new();
            r.num("slice", i as f64)
                .str("server", ["A", "B"][s.who])
                .str("contender", plan.contenders[s.who].name())
                .num("at_s", s.at.as_secs_f64())
                .num("requests", s.requests as f64)
                .num("wall_us", s.wall.as_secs_f64() * 1e6)
                .num("cpu_us", s.cpu.as_secs_f64() * 1e6)
                .num("idle_cpu_us", s.idle_cpu.as_secs_f64() * 1e6)
                .num("client_cpu_us", s.client_cpu.as_secs_f64() * 1e6)
                .num("cpu_us_per_req", s.us_per_req())
                .num("rps", s.rps())
                .num("settled", f64::from(u8::from(s.settled)));
            r
        })
        .collect();
    crate::common::write_results_json(path, &meta, &records)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Checks the options and fills in the defaults.
fn plan(args: &Args, net: &NetArgs, contenders: [Contender; 2]) -> Result<AbPlan, String> {
    if net.client == Some(EchoClient::Tokio) {
        return Err(
            "--ab drives both servers from the io_uring client: drop --client tokio".into(),
        );
    }
    let chosen: Vec<&'static str> = WORKLOADS.into_iter().filter(|w| args.selected(w)).collect();
    let workload = match chosen.as_slice() {
        _ if args.filter.is_none() => "echo-64b",
        [w] => *w,
        [] => return Err("--filter matches no workload".into()),
        many => {
            return Err(format!(
                "--filter matches {}: --ab takes one workload",
                many.join(", ")
            ))
        }
    };
    let http = workload == "http-hello";
    let wrk = http && net.client != Some(EchoClient::Uring);
    if http && contenders.contains(&Contender::RawUring) {
        return Err("raw-uring serves echo only: no --ab with http-hello".into());
    }
    let connections = match net.connections.as_deref() {
        None if wrk => WRK_CONNECTIONS,
        None => DEFAULT_CONNECTIONS,
        Some([n]) if *n > 0 => *n,
        Some(_) => return Err("--ab takes one --connections value (per server), > 0".into()),
    };
    let secs = |v: Option<f64>, default: f64, what: &str| {
        let v = v.unwrap_or(default);
        if v.is_finite() && v > 0.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(format!("bad {what} {v}"))
        }
    };
    let slice_ms = net.slice_ms.unwrap_or(if wrk {
        DEFAULT_HTTP_SLICE_MS
    } else {
        DEFAULT_SLICE_MS
    });
    if slice_ms == 0 || (wrk && slice_ms % 1000 != 0) {
        return Err(format!(
            "--slice-ms must be > 0{}",
            if wrk {
                " and whole seconds for wrk"
            } else {
                ""
            }
        ));
    }
    Ok(AbPlan {
        contenders,
        workload,
        msg_size: if workload == "echo-4k" { 4096 } else { 64 },
        wrk,
        connections,
        slice: Duration::from_millis(slice_ms),
        duration: secs(net.duration, DEFAULT_DURATION, "--duration")?,
        // A wrk warm-up runs whole seconds, at least one.
        warmup: secs(net.warmup, DEFAULT_WARMUP, "--warmup").map(|w| {
            if wrk {
                Duration::from_secs(w.as_secs_f64().ceil().max(1.0) as u64)
            } else {
                w
            }
        })?,
    })
}

/// Starts both servers, warms them and records the slices.
fn measure(plan: &AbPlan) -> Result<(Vec<Slice>, Load), String> {
    let here = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let b_exe = std::env::var_os("RINGBOLT_NET_AB_B_EXE").map(std::path::PathBuf::from);
    if let Some(b) = &b_exe {
        eprintln!("net bench --ab: B's server runs from {}", b.display());
    }
    let kind = if plan.workload == "http-hello" {
        ServerKind::Http
    } else {
        ServerKind::Echo
    };
    let start = |c: Contender, exe: &std::path::Path| {
        ServerProcess::start_from(exe, c, kind)
            .map_err(|e| format!("server {} ({}): {e}", c.name(), exe.display()))
    };
    let servers = [
        start(plan.contenders[0], &here)?,
        start(plan.contenders[1], b_exe.as_deref().unwrap_or(&here))?,
    ];
    let pids = [servers[0].pid(), servers[1].pid()];
    eprintln!(
        "net bench --ab: A pid {}, B pid {}; connecting",
        pids[0], pids[1]
    );
    let addrs = [servers[0].addr, servers[1].addr];
    let mut load = match kind {
        ServerKind::Echo => SliceLoad::Echo(Box::new(
            EchoLoad::connect(&addrs, plan.connections, plan.msg_size)
                .map_err(|e| format!("client: {e}"))?,
        )),
        ServerKind::Http if !plan.wrk => SliceLoad::Echo(Box::new(
            EchoLoad::connect_with(
                &addrs,
                plan.connections,
                HELLO_REQUEST.to_vec(),
                HELLO.len(),
            )
            .map_err(|e| format!("client: {e}"))?,
        )),
        ServerKind::Http => {
            crate::wrk::ensure_wrk()?;
            SliceLoad::Http {
                addrs,
                connections: plan.connections,
                errors: 0,
            }
        }
    };
    for (who, &pid) in pids.iter().enumerate() {
        load.drive(who, plan.warmup)
            .map_err(|e| format!("warm-up of {}: {e}", plan.contenders[who].name()))?;
        settle(pid);
    }

    let mut slices = Vec::new();
    let machine0 = machine_busy_time().unwrap_or_default();
    let client0 = load.client_cpu_time();
    let servers0 = sched_time(pids[0])? + sched_time(pids[1])?;
    let t0 = Instant::now();
    let mut last_report = (t0, 0usize);
    let mut pair = 0usize;
    while t0.elapsed() < plan.duration {
        let order = if pair % 2 == 0 { [0, 1] } else { [1, 0] };
        for who in order {
            let s = slice(&mut load, who, pids, plan.slice, t0.elapsed())
                .map_err(|e| format!("{}: {e}", plan.contenders[who].name()))?;
            slices.push(s);
        }
        pair += 1;
        if last_report.0.elapsed() >= Duration::from_secs(1) {
            eprintln!(
                "{}",
                progress(t0.elapsed(), &slices, &slices[last_report.1..])
            );
            last_report = (Instant::now(), slices.len());
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let client = load.client_cpu_time().saturating_sub(client0).as_secs_f64();
    let server_cpu = (sched_time(pids[0])? + sched_time(pids[1])?)
        .saturating_sub(servers0)
        .as_secs_f64();
    let machine = machine_busy_time()
        .unwrap_or_default()
        .saturating_sub(machine0)
        .as_secs_f64();
    let cores = Load {
        client: client / secs,
        servers: server_cpu / secs,
        others: (machine - client - server_cpu).max(0.0) / secs,
    };
    if load.errors() > 0 {
        eprintln!(
            "net bench --ab: {} connection(s) ended with an error (HTTP: socket errors and bad \
             responses)",
            load.errors()
        );
    }
    drop(load);
    drop(servers);
    Ok((slices, cores))
}

/// One slice of server `who`: its CPU clock (and the other's) around a
/// driven-then-quiesced interval.
fn slice(
    load: &mut SliceLoad,
    who: usize,
    pids: [u32; 2],
    length: Duration,
    at: Duration,
) -> Result<Slice, String> {
    let before = [sched_time(pids[0])?, sched_time(pids[1])?];
    let client0 = load.client_cpu_time();
    let run = load.drive(who, length)?;
    let client_cpu = load.client_cpu_time().saturating_sub(client0);
    let settled = settle(pids[who]);
    let after = [sched_time(pids[0])?, sched_time(pids[1])?];
    let delta = |k: usize| after[k].saturating_sub(before[k]);
    Ok(Slice {
        who,
        at,
        requests: run.requests,
        wall: run.elapsed,
        cpu: delta(who),
        idle_cpu: delta(1 - who),
        client_cpu,
        settled,
    })
}

/// What drives the slices: the io_uring client, or one wrk run per slice.
enum SliceLoad {
    /// The io_uring client (echo, or HTTP requests with `--client uring`),
    /// holding its connections to both servers.
    Echo(Box<EchoLoad>),
    /// `wrk` against `addrs[who]`, `connections` connections per run.
    Http {
        addrs: [std::net::SocketAddr; 2],
        connections: usize,
        /// Socket errors and bad responses wrk reported so far.
        errors: u64,
    },
}

impl SliceLoad {
    /// Loads server `who` for `length`, then leaves it idle (echo:
    /// quiesced; HTTP: wrk has exited).
    fn drive(&mut self, who: usize, length: Duration) -> Result<Drive, String> {
        match self {
            SliceLoad::Echo(load) => load
                .drive(who, length, End::Quiesce, None)
                .map_err(|e| format!("client: {e}")),
            SliceLoad::Http {
                addrs,
                connections,
                errors,
            } => {
                // `plan` makes HTTP slices and warm-ups whole seconds.
                let secs = length.as_secs().max(1);
                let run = crate::wrk::run(addrs[who], *connections, secs)?;
                *errors += run.errors;
                if run.requests == 0 || run.rps.is_nan() || run.rps <= 0.0 {
                    return Err("wrk completed no request".into());
                }
                Ok(Drive {
                    requests: run.requests,
                    // wrk's requests/s is its requests over its own
                    // measured time.
                    elapsed: Duration::from_secs_f64(run.requests as f64 / run.rps),
                })
            }
        }
    }

    /// CPU time of the load generator so far (this thread, or the waited
    /// wrk runs).
    fn client_cpu_time(&self) -> Duration {
        match self {
            SliceLoad::Echo(_) => thread_cpu_time(),
            SliceLoad::Http { .. } => children_cpu_time(),
        }
    }

    /// Connections that ended with an error (echo), or wrk's error count.
    fn errors(&self) -> u64 {
        match self {
            SliceLoad::Echo(load) => load.errors() as u64,
            SliceLoad::Http { errors, .. } => *errors,
        }
    }
}

/// The server's time on CPU, all threads, from the scheduler's clock.
fn sched_time(pid: u32) -> Result<Duration, String> {
    process_sched_time(pid).ok_or_else(|| format!("cannot read /proc/{pid}/task/*/schedstat"))
}

/// Waits (up to [`SETTLE_LIMIT`]) until no thread of `pid` is running or
/// runnable, so that its schedstat clock is up to date; whether it got
/// there.
fn settle(pid: u32) -> bool {
    let deadline = Instant::now() + SETTLE_LIMIT;
    loop {
        match any_thread_running(pid) {
            Some(false) => return true,
            None => return false,
            Some(true) if Instant::now() >= deadline => return false,
            Some(true) => std::thread::sleep(Duration::from_micros(50)),
        }
    }
}

/// Whether a thread of `pid` is in state `R` (`/proc/<pid>/task/*/stat`);
/// `None` when the process cannot be read.
fn any_thread_running(pid: u32) -> Option<bool> {
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = entry.ok()?.path().join("stat");
        // A thread may exit between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(path) else {
            continue;
        };
        // The state follows the command name's closing parenthesis.
        let state = stat[stat.rfind(')')? + 1..].split_whitespace().next()?;
        if state == "R" {
            return Some(true);
        }
    }
    Some(false)
}

/// The `q` quantile (0..=1) of `xs`, linearly interpolated; NaN when empty.
fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// One pair: B's figure ÷ A's, for CPU/request and requests/s.
#[derive(Debug, Clone, Copy)]
struct Pair {
    /// B's CPU µs/request ÷ A's.
    cpu: f64,
    /// B's requests/s ÷ A's.
    rps: f64,
    /// The state of A's and of B's slice (`true` = fast), when the
    /// contender's slices split into two states.
    states: [Option<bool>; 2],
}

/// Splits a contender's slices into a fast and a slow state: the CPU/req
/// threshold, `None` when they do not differ enough to tell.
fn state_threshold(slices: &[Slice], who: usize) -> Option<f64> {
    let v: Vec<f64> = slices
        .iter()
        .filter(|s| s.who == who && s.requests > 0)
        .map(Slice::us_per_req)
        .collect();
    let (p10, p90) = (quantile(&v, 0.10), quantile(&v, 0.90));
    (p10 > 0.0 && p90 / p10 >= BIMODAL).then(|| (p10 * p90).sqrt())
}

/// The complete pairs (A's slice and B's), in order.
fn pairs(slices: &[Slice]) -> Vec<Pair> {
    let thresholds = [state_threshold(slices, 0), state_threshold(slices, 1)];
    slices
        .chunks_exact(2)
        .filter_map(|p| {
            let (a, b) = if p[0].who == 0 {
                (&p[0], &p[1])
            } else {
                (&p[1], &p[0])
            };
            if a.who == b.who || a.requests == 0 || b.requests == 0 {
                return None;
            }
            let state = |s: &Slice| thresholds[s.who].map(|t| s.us_per_req() < t);
            Some(Pair {
                cpu: b.us_per_req() / a.us_per_req(),
                rps: b.rps() / a.rps(),
                states: [state(a), state(b)],
            })
        })
        .collect()
}

/// The progress line: figures of the last second's slices, running
/// medians of the ratios.
fn progress(at: Duration, all: &[Slice], recent: &[Slice]) -> String {
    let mut line = format!("[{:>5.1} s] {:>4} pairs", at.as_secs_f64(), all.len() / 2);
    for (who, label) in ["A", "B"].iter().enumerate() {
        let mine: Vec<&Slice> = recent.iter().filter(|s| s.who == who).collect();
        let us: Vec<f64> = mine.iter().map(|s| s.us_per_req()).collect();
        let rps: Vec<f64> = mine.iter().map(|s| s.rps()).collect();
        line.push_str(&format!(
            "  {label} {} µs/req {} rps",
            fmt_num(quantile(&us, 0.5)),
            fmt_num(quantile(&rps, 0.5))
        ));
    }
    let p = pairs(all);
    let cpu: Vec<f64> = p.iter().map(|p| p.cpu).collect();
    let rps: Vec<f64> = p.iter().map(|p| p.rps).collect();
    line.push_str(&format!(
        "  | median B÷A: CPU/req {:.3}× rps {:.3}×",
        quantile(&cpu, 0.5),
        quantile(&rps, 0.5)
    ));
    line
}

/// The summary as Markdown.
fn summary(plan: &AbPlan, slices: &[Slice], load: &Load, command: &str, pinned: bool) -> String {
    let names = plan.contenders.map(Contender::name);
    let meta = crate::common::conditions();
    let m = |k: &str| meta.get_str(k).unwrap_or("?").to_string();
    let mut out = format!(
        "## A/B slices: A = {}, B = {} ({}, {} connections per server)\n\n",
        names[0], names[1], plan.workload, plan.connections
    );
    match std::env::var("RINGBOLT_NET_AB_B_EXE") {
        Ok(b) => out.push_str(&format!(
            "Command: `RINGBOLT_NET_AB_B_EXE={b} {command}` (B's server from that build)\n\n"
        )),
        Err(_) => out.push_str(&format!("Command: `{command}`\n\n")),
    }
    out.push_str(&format!(
        "Conditions: kernel {}, {} cores ({}), {}; {}, commit {}; load from {}; {} ms slices, {:.0} s measured \
         after {:.1} s warm-up per server; {}.\n\n",
        m("kernel"),
        meta.get_num("cores").unwrap_or(0.0),
        m("cpu"),
        m("date"),
        m("rustc"),
        m("git_commit"),
        if plan.wrk {
            "wrk -t1 (one run per slice)"
        } else {
            "the io_uring client (`net/uring_client.rs`)"
        },
        plan.slice.as_millis(),
        plan.duration.as_secs_f64(),
        plan.warmup.as_secs_f64(),
        if pinned {
            "client on CPU 0, both servers on CPU 1"
        } else {
            "nothing pinned"
        }
    ));

    let all = pairs(slices);
    let row = |label: &str, ps: &[&Pair]| {
        let cpu: Vec<f64> = ps.iter().map(|p| p.cpu).collect();
        let rps: Vec<f64> = ps.iter().map(|p| p.rps).collect();
        let x = |v: f64| {
            if v.is_finite() {
                format!("{v:.3}×")
            } else {
                "—".to_string()
            }
        };
        format!(
            "| {label} | {} | {} | {} – {} | {} | {} – {} |\n",
            ps.len(),
            x(quantile(&cpu, 0.5)),
            x(quantile(&cpu, 0.25)),
            x(quantile(&cpu, 0.75)),
            x(quantile(&rps, 0.5)),
            x(quantile(&rps, 0.25)),
            x(quantile(&rps, 0.75)),
        )
    };
    out.push_str("| pairs (B ÷ A) | n | server CPU/req, median | 25th – 75th pct | rps, median | 25th – 75th pct |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|\n");
    let refs: Vec<&Pair> = all.iter().collect();
    out.push_str(&row("all adjacent pairs", &refs));
    let split = all.iter().all(|p| p.states.iter().all(Option::is_some));
    if split && !all.is_empty() {
        for (fast, label) in [(true, "both slices fast"), (false, "both slices slow")] {
            let same: Vec<&Pair> = all
                .iter()
                .filter(|p| p.states == [Some(fast), Some(fast)])
                .collect();
            out.push_str(&row(label, &same));
        }
    }
    out.push_str(
        "\nCPU/req B ÷ A above 1: B spends more server CPU per request than A; rps B ÷ A above 1: B serves \
         more requests per second. Each pair is one slice of each server, adjacent in time.\n\n",
    );

    out.push_str("| contender | slices | server CPU µs/req, median (25th – 75th) | rps, median (25th – 75th) | client CPU µs/req, median | fast slices |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|\n");
    for (who, name) in names.iter().enumerate() {
        let mine: Vec<&Slice> = slices.iter().filter(|s| s.who == who).collect();
        let us: Vec<f64> = mine.iter().map(|s| s.us_per_req()).collect();
        let rps: Vec<f64> = mine.iter().map(|s| s.rps()).collect();
        let client: Vec<f64> = mine.iter().map(|s| s.client_us_per_req()).collect();
        let fast = state_threshold(slices, who).map_or("— (one state)".to_string(), |t| {
            format!(
                "{} (< {} µs/req)",
                us.iter().filter(|&&u| u < t).count(),
                fmt_num(t)
            )
        });
        out.push_str(&format!(
            "| {} {name} | {} | {} ({} – {}) | {} ({} – {}) | {} | {fast} |\n",
            ["A", "B"][who],
            mine.len(),
            fmt_num(quantile(&us, 0.5)),
            fmt_num(quantile(&us, 0.25)),
            fmt_num(quantile(&us, 0.75)),
            fmt_num(quantile(&rps, 0.5)),
            fmt_num(quantile(&rps, 0.25)),
            fmt_num(quantile(&rps, 0.75)),
            fmt_num(quantile(&client, 0.5)),
        ));
    }
    out.push_str(
        "\nThe client's CPU per request is the load generator's (the io_uring client's thread, or wrk) while it \
         drove that server.\n\n",
    );

    // Sanity checks: the idle server's clock, the settling.
    let idle: Vec<f64> = slices
        .iter()
        .map(|s| s.idle_cpu.as_secs_f64() * 1e6)
        .collect();
    let active: Vec<f64> = slices.iter().map(|s| s.cpu.as_secs_f64() * 1e6).collect();
    let (idle_med, idle_max) = (quantile(&idle, 0.5), quantile(&idle, 1.0));
    let share = idle.iter().sum::<f64>() / active.iter().sum::<f64>().max(1e-9);
    out.push_str(&format!(
        "Idle server's CPU while the other was driven: median {} µs per slice, max {} µs, {:.2} % of the active servers' CPU{}.",
        fmt_num(idle_med),
        fmt_num(idle_max),
        share * 100.0,
        if share < 0.005 {
            " (≈ 0, as it should be)"
        } else {
            " — NOT ≈ 0: the idle server does work of its own, the slices are not independent"
        }
    ));
    out.push_str(&format!(
        " Cores busy over the measured time: servers {:.2}, client {:.2}, others {:.2}{}.",
        load.servers,
        load.client,
        load.others,
        if load.others > 0.1 {
            " (the machine was not quiet: rerun if the ratios look disturbed)"
        } else {
            ""
        }
    ));
    let unsettled = slices.iter().filter(|s| !s.settled).count();
    if unsettled > 0 {
        out.push_str(&format!(
            " {unsettled} slice(s) ended with a server thread still on the CPU after {SETTLE_LIMIT:?} (its clock may lag by up to a tick)."
        ));
    }
    out.push('\n');
    out
}
