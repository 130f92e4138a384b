//! Network benchmark: ringbolt against tokio, echo and HTTP servers, one
//! load generator for all, and a hand-written io_uring echo server as the
//! floor.
//!
//! | workload | what the load does | load generator |
//! |---|---|---|
//! | `echo-64b`, `echo-4k` | 1, 64, 512 connections, each sending a 64 B / 4 KiB message, waiting for the whole echo, repeating (ping-pong) | our own client, in this process: one thread on one io_uring (`net/uring_client.rs`); `--client tokio` for the older one on a tokio current_thread runtime (`net/client.rs`) |
//! | `http-hello` | HTTP/1.1 keep-alive GET, answered "hello" with Content-Length | `wrk -t1 -c100 -d<T>s --latency` |
//!
//! Contenders (servers, each in its own process: this binary re-executed
//! with `--serve CONTENDER WORKLOAD`; it prints its port, the parent kills it
//! after the measurement):
//!
//! - `ringbolt`: 1 worker; an accept loop and a task per connection doing
//!   read / write_all with one reused buffer;
//! - `ringbolt-2workers-rr`: `Builder::workers(2)`, `SpawnPolicy::RoundRobin`,
//!   one listener on worker 0 whose accept loop spreads the connections'
//!   tasks over both workers;
//! - `ringbolt-2workers`: `Builder::workers(2)`, `SpawnPolicy::Local`, one
//!   `SO_REUSEPORT` listener per worker;
//! - `tokio-current-thread`, `tokio-multi-thread` (2 worker threads):
//!   `tokio::net` with `AsyncReadExt` / `AsyncWriteExt`, same code shape;
//! - `raw-uring`: a reference, not a product (as fio is in the disk bench):
//!   a hand-written echo server on the `io-uring` crate with no runtime
//!   (`net/uring_server.rs`), what an io_uring loop alone costs per
//!   request; echo only, skipped for `http-hello`.
//!
//! Figures per measurement: requests/s, p50 and p99 latency (hdrhistogram;
//! wrk's own percentiles for HTTP), and the **server's CPU µs per request**
//! (utime + stime of the server process from `/proc/<pid>/stat`, before and
//! after the measured interval, ÷ requests). For ringbolt the server also
//! reports its runtime counters (loop iterations, ring enters, polls, ops)
//! per request. Client and server share the machine's cores (2 here): the
//! output says so.
//!
//! Rounds are interleaved (every contender once per cell, the order rotated
//! each round), 127.0.0.1 only, and every load loop stops by itself. The
//! report's ratios to tokio current_thread are paired: the median over
//! rounds of the per-round ratio, since the shared machine flips between a
//! fast and a slow state for seconds at a time and the measurements of one
//! round usually share it (see `net/report.rs`).
//!
//! ```text
//! cargo bench --bench net                     # 3 rounds, ~4-5 min on 2 cores
//! cargo bench --bench net -- --quick          # 2 rounds, short intervals (< 90 s)
//! cargo bench --bench net -- --json benches/results/net.json   # + net.md, net.svg
//! cargo bench --bench net -- --filter echo-64b --connections 64 --contenders ringbolt --duration 10
//! cargo bench --bench net -- --from-json benches/results/net.json   # redraw net.md / net.svg
//! ```
//!
//! Options: `--rounds N`, `--duration SECS` (measured interval), `--warmup
//! SECS`, `--connections 1,64,512`, `--contenders a,b`, `--filter SUBSTR`
//! (workload names), `--client uring|tokio` (the echo load generator:
//! io_uring by default, see `net/uring_client.rs`; with `--ab` and
//! `http-hello`, `--client uring` has that client send the HTTP requests
//! instead of wrk), `--pin` (the client
//! thread on CPU 0, the server processes on CPU 1), `--wait-quiet SECS`
//! (before each measurement, wait up to SECS for other processes to use
//! under 0.25 cores: the machine may be shared), `--json PATH`, `--md
//! PATH`, `--svg PATH`, `--from-json PATH` (redraw the Markdown and the
//! chart from a results file). cargo's `--bench` is ignored. Nothing here
//! asserts a timing: figures are recorded, not checked.
//!
//! `--ab A,B` is a separate mode for resolving small differences between
//! two contenders on this noisy machine: both servers run at once and get
//! the load in alternating slices of `--slice-ms` (100 default) for
//! `--duration` seconds (20 default), each slice's server CPU read from the
//! scheduler's nanosecond clock, and the report gives the median of B ÷ A
//! over adjacent pairs of slices (`net/ab.rs`; `http-hello` in 1 s wrk
//! runs, or in 100 ms slices from the io_uring client with `--client uring`):
//!
//! ```text
//! cargo bench --bench net -- --ab ringbolt,tokio-current-thread --filter echo-64b --connections 64 --duration 20
//! ```
//!
//! To compare two builds of ringbolt (two commits) side by side, set
//! `RINGBOLT_NET_AB_B_EXE` to the other build's bench binary (the
//! `target/release/deps/net-*` that `cargo bench --bench net --no-run`
//! prints) and run `--ab ringbolt,ringbolt`: B's server then runs from it.
//!
//! For experiments, `RINGBOLT_NET_BUFRING=ENTRIES,SIZE` in the environment
//! makes the ringbolt servers install a buffer ring of that geometry on
//! each worker instead of the runtime's default (which grows when dry).

#[path = "net/ab.rs"]
mod ab;
#[path = "net/client.rs"]
mod client;
#[path = "common/mod.rs"]
mod common;
#[path = "net/process.rs"]
mod process;
#[path = "net/report.rs"]
mod report;
#[path = "net/server.rs"]
mod server;
#[path = "net/uring_client.rs"]
mod uring_client;
#[path = "net/uring_raw.rs"]
mod uring_raw;
#[path = "net/uring_server.rs"]
mod uring_server;
#[path = "net/wrk.rs"]
mod wrk;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{fmt_num, Args, Record};
use process::{Clocks, ServerProcess};

/// The workloads, in report order.
pub(crate) const WORKLOADS: [&str; 3] = ["echo-64b", "echo-4k", "http-hello"];
/// Background load (cores) under which the machine counts as quiet.
const QUIET_CORES: f64 = 0.25;
/// wrk's connection count (`-c`).
pub(crate) const WRK_CONNECTIONS: usize = 100;
/// What every report says about the machine being shared.
const SHARED_CORES_NOTE: &str = "Client (load generator) and server run on the same machine and share its cores; \
     every contender is measured under the same sharing, so ratios hold, absolute figures are lower than with separate machines.";

/// A server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contender {
    Ringbolt,
    Ringbolt2,
    Ringbolt2Rr,
    TokioCt,
    TokioMt,
    RawUring,
}

impl Contender {
    pub(crate) const ALL: [Contender; 6] = [
        Contender::Ringbolt,
        Contender::Ringbolt2,
        Contender::Ringbolt2Rr,
        Contender::TokioCt,
        Contender::TokioMt,
        Contender::RawUring,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Contender::Ringbolt => "ringbolt",
            Contender::Ringbolt2 => "ringbolt-2workers",
            Contender::Ringbolt2Rr => "ringbolt-2workers-rr",
            Contender::TokioCt => "tokio-current-thread",
            Contender::TokioMt => "tokio-multi-thread",
            Contender::RawUring => "raw-uring",
        }
    }

    fn parse(s: &str) -> Option<Contender> {
        Contender::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Whether this contender has a server for `workload` (`raw-uring`
    /// serves echo only).
    fn serves(self, workload: &str) -> bool {
        self != Contender::RawUring || workload != "http-hello"
    }

    fn is_ringbolt(self) -> bool {
        matches!(
            self,
            Contender::Ringbolt | Contender::Ringbolt2 | Contender::Ringbolt2Rr
        )
    }
}

/// What a server process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerKind {
    Echo,
    Http,
}

impl ServerKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ServerKind::Echo => "echo",
            ServerKind::Http => "http",
        }
    }

    fn parse(s: &str) -> Option<ServerKind> {
        match s {
            "echo" | "echo-64b" | "echo-4k" => Some(ServerKind::Echo),
            "http" | "http-hello" => Some(ServerKind::Http),
            _ => None,
        }
    }
}

/// How much to measure.
#[derive(Debug, Clone)]
struct Plan {
    rounds: usize,
    warmup: Duration,
    measure: Duration,
    /// wrk's measured run, whole seconds (wrk's `-d` takes no fractions).
    wrk_secs: u64,
    /// A discarded wrk run first (seconds), in the full run only.
    wrk_warmup_secs: Option<u64>,
    connections: Vec<usize>,
    contenders: Vec<Contender>,
    workloads: Vec<&'static str>,
    client: EchoClient,
}

/// The echo load generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EchoClient {
    /// `net/uring_client.rs`: one thread, one io_uring (the default).
    Uring,
    /// `net/client.rs`: one tokio current_thread runtime.
    Tokio,
}

impl EchoClient {
    fn describe(self) -> &'static str {
        match self {
            EchoClient::Uring => {
                "our own ping-pong client in the parent process: one thread driving every connection through one \
                 io_uring (sockets as fixed files, a multishot receive per connection over a provided buffer ring, \
                 the SENDs of an iteration batched into its single io_uring_enter), built on the io-uring crate \
                 alone, so that it costs less per request than the servers; the same for every contender; \
                 TCP_NODELAY on both sides; latency = the loop iteration that queued the message to the one \
                 that saw the end of its echo"
            }
            EchoClient::Tokio => {
                "our own ping-pong client on one tokio current_thread runtime in the parent process \
                 (`--client tokio`), the same for every contender; TCP_NODELAY on both sides; latency = write \
                 of the message to the end of its echo"
            }
        }
    }
}

/// Options beyond the shared ones.
#[derive(Debug, Default)]
struct NetArgs {
    duration: Option<f64>,
    warmup: Option<f64>,
    connections: Option<Vec<usize>>,
    contenders: Option<Vec<Contender>>,
    svg: Option<PathBuf>,
    from_json: Option<PathBuf>,
    wait_quiet: Option<f64>,
    client: Option<EchoClient>,
    pin: bool,
    /// `--ab A,B`: the interleaved two-server mode (`net/ab.rs`).
    ab: Option<[Contender; 2]>,
    /// `--slice-ms MS`: slice length of the `--ab` mode.
    slice_ms: Option<u64>,
}

fn parse_net_args(argv: &[String]) -> Result<NetArgs, String> {
    let mut a = NetArgs::default();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--duration" => a.duration = Some(value()?.parse().map_err(|_| "bad --duration")?),
            "--warmup" => a.warmup = Some(value()?.parse().map_err(|_| "bad --warmup")?),
            "--connections" => {
                let v = value()?;
                let list: Result<Vec<usize>, _> = v.split(',').map(str::parse).collect();
                a.connections = Some(list.map_err(|_| format!("bad --connections {v}"))?);
            }
            "--contenders" => {
                let v = value()?;
                let list: Option<Vec<Contender>> = v.split(',').map(Contender::parse).collect();
                a.contenders = Some(list.ok_or(format!("bad --contenders {v}"))?);
            }
            "--wait-quiet" => {
                a.wait_quiet = Some(value()?.parse().map_err(|_| "bad --wait-quiet")?)
            }
            "--client" => {
                a.client = Some(match value()?.as_str() {
                    "uring" => EchoClient::Uring,
                    "tokio" => EchoClient::Tokio,
                    v => return Err(format!("bad --client {v} (uring or tokio)")),
                })
            }
            "--pin" => a.pin = true,
            "--ab" => {
                let v = value()?;
                let list: Option<Vec<Contender>> = v.split(',').map(Contender::parse).collect();
                match list.as_deref() {
                    Some(&[x, y]) => a.ab = Some([x, y]),
                    _ => return Err(format!("bad --ab {v} (two contenders: A,B)")),
                }
            }
            "--slice-ms" => a.slice_ms = Some(value()?.parse().map_err(|_| "bad --slice-ms")?),
            "--svg" => a.svg = Some(PathBuf::from(value()?)),
            "--from-json" => a.from_json = Some(PathBuf::from(value()?)),
            _ => {}
        }
    }
    Ok(a)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = argv.iter().position(|a| a == "--serve") {
        if let Some(cpu) = std::env::var("RINGBOLT_NET_SERVER_CPU")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            pin_to_cpu(cpu);
        }
        let contender = argv.get(i + 1).and_then(|s| Contender::parse(s));
        let kind = argv.get(i + 2).and_then(|s| ServerKind::parse(s));
        let (Some(contender), Some(kind)) = (contender, kind) else {
            eprintln!("usage: --serve CONTENDER echo|http");
            std::process::exit(2);
        };
        if let Err(e) = server::serve(contender, kind) {
            eprintln!("net bench server {}: {e}", contender.name());
            std::process::exit(1);
        }
        return;
    }
    let args = Args::parse_from(argv.clone());
    let net = parse_net_args(&argv).unwrap_or_else(|e| {
        eprintln!("net bench: {e}");
        std::process::exit(2);
    });
    if let Some(path) = &net.from_json {
        if let Err(e) = redraw(path, &args, &net) {
            eprintln!("net bench: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Some(pair) = net.ab {
        if let Err(e) = ab::run(&args, &net, pair) {
            eprintln!("net bench --ab: {e}");
            std::process::exit(1);
        }
        return;
    }
    run(&args, &net);
}

/// Pins the calling thread (and the threads it starts later) to `cpu`;
/// best effort.
fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside
    // it (cpu is checked against its capacity), and sched_setaffinity reads
    // exactly size_of::<cpu_set_t>() bytes from it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu < 8 * std::mem::size_of::<libc::cpu_set_t>() {
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
}

fn run(args: &Args, net: &NetArgs) {
    if net.pin {
        // The client runs on this thread: CPU 0; the servers get CPU 1.
        pin_to_cpu(0);
        std::env::set_var("RINGBOLT_NET_SERVER_CPU", "1");
    }
    let plan = Plan {
        rounds: args.rounds.unwrap_or(if args.quick { 2 } else { 3 }).max(1),
        warmup: Duration::from_secs_f64(net.warmup.unwrap_or(if args.quick { 0.2 } else { 0.5 })),
        measure: Duration::from_secs_f64(net.duration.unwrap_or(if args.quick {
            0.6
        } else {
            2.0
        })),
        wrk_secs: net.duration.map_or(if args.quick { 1 } else { 2 }, |d| {
            d.round().max(1.0) as u64
        }),
        wrk_warmup_secs: (!args.quick).then_some(1),
        connections: net.connections.clone().unwrap_or_else(|| vec![1, 64, 512]),
        contenders: net
            .contenders
            .clone()
            .unwrap_or_else(|| Contender::ALL.to_vec()),
        workloads: WORKLOADS.into_iter().filter(|w| args.selected(w)).collect(),
        client: net.client.unwrap_or(EchoClient::Uring),
    };
    let mut notes = Vec::new();
    let mut wrk_version = String::from("not used");
    let mut workloads = plan.workloads.clone();
    if workloads.contains(&"http-hello") {
        match wrk::ensure_wrk() {
            Ok(v) => wrk_version = v,
            Err(e) => {
                eprintln!("net bench: {e}");
                notes.push(e);
                workloads.retain(|w| *w != "http-hello");
            }
        }
    }
    // The cells of one round: (workload, connections).
    let mut cells: Vec<(&'static str, usize)> = Vec::new();
    for w in &workloads {
        if *w == "http-hello" {
            cells.push((w, WRK_CONNECTIONS));
        } else {
            cells.extend(plan.connections.iter().map(|&c| (*w, c)));
        }
    }
    let per_round: usize = cells
        .iter()
        .map(|(w, _)| plan.contenders.iter().filter(|c| c.serves(w)).count())
        .sum();
    let total = per_round * plan.rounds;
    let est: f64 = cells
        .iter()
        .map(|(w, _)| {
            let each = if *w == "http-hello" {
                (plan.wrk_secs + plan.wrk_warmup_secs.unwrap_or(0)) as f64 + 0.3
            } else {
                (plan.warmup + plan.measure).as_secs_f64() + 0.3
            };
            each * plan.contenders.iter().filter(|c| c.serves(w)).count() as f64
        })
        .sum::<f64>()
        * plan.rounds as f64;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    eprintln!(
        "net bench: {total} measurements ({} rounds × {per_round}), about {:.0} s. \
         127.0.0.1; client and server share this machine's {cores} cores.",
        plan.rounds, est
    );

    let mut meta = common::conditions();
    let ring_setup = ringbolt::Builder::new()
        .build()
        .map(|rt| rt.ring_setup().to_string())
        .unwrap_or_else(|e| format!("no ring ({e})"));
    meta.str("ring_setup", ring_setup)
        .str("note", format!("{SHARED_CORES_NOTE} Cores: {cores}."))
        .str("echo_client", plan.client.describe())
        .str(
            "http_client",
            format!("wrk -t1 -c{WRK_CONNECTIONS} -d{}s --latency ({wrk_version})", plan.wrk_secs),
        )
        .str(
            "timing",
            format!(
                "echo: {:.1} s warm-up (not recorded) then {:.1} s measured per measurement; http: {} then {} s measured; a fresh server process per measurement",
                plan.warmup.as_secs_f64(),
                plan.measure.as_secs_f64(),
                plan.wrk_warmup_secs
                    .map_or("no warm-up".to_string(), |s| format!("a {s} s wrk warm-up (discarded)")),
                plan.wrk_secs
            ),
        )
        .num("rounds", plan.rounds as f64)
        .str(
            "command",
            format!("cargo bench --bench net -- {}", args.raw.join(" ")).trim().to_string(),
        );

    let started = Instant::now();
    let mut records = Vec::new();
    let mut k = 0;
    for round in 1..=plan.rounds {
        for &(workload, conns) in &cells {
            let n = plan.contenders.len();
            for i in 0..n {
                let c = plan.contenders[(i + round - 1) % n];
                if !c.serves(workload) {
                    continue;
                }
                k += 1;
                eprint!(
                    "[{k:>3}/{total}] round {round} {workload:<10} {conns:>3} conn {:<21}",
                    c.name()
                );
                if let Some(limit) = net.wait_quiet {
                    wait_quiet(Duration::from_secs_f64(limit));
                }
                let res = if workload == "http-hello" {
                    measure_http(c, &plan)
                } else {
                    let size = if workload == "echo-4k" { 4096 } else { 64 };
                    measure_echo(c, size, conns, &plan)
                };
                match res {
                    Ok(mut rec) => {
                        eprintln!("{}", progress_line(&rec));
                        let mut r = Record::new();
                        r.str("workload", workload)
                            .str("contender", c.name())
                            .num("connections", conns as f64)
                            .num("round", round as f64);
                        r.extend(&rec);
                        rec = r;
                        records.push(rec);
                    }
                    Err(e) => {
                        eprintln!("FAILED: {e}");
                        notes.push(format!(
                            "round {round} {workload} {conns} conn {}: {e}",
                            c.name()
                        ));
                    }
                }
            }
        }
    }
    eprintln!(
        "net bench: done in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    meta.num("wall_s", started.elapsed().as_secs_f64().round());

    if !notes.is_empty() {
        meta.str("notes", notes.join(" | "));
    }
    let md = report::markdown(&meta, &records);
    println!("{md}");
    if let Some(json) = &args.json {
        write_outputs(json, args, net, &meta, &records, &md);
    }
}

/// `name: figure` pairs for the progress line.
fn progress_line(r: &Record) -> String {
    let g = |k: &str| r.get_num(k).map_or("—".to_string(), fmt_num);
    let mut s = format!(
        "{:>8} rps  p50 {:>6} µs  p99 {:>6} µs  server {:>5} µs/req (sched {}, {} cores), machine {} cores busy",
        g("rps"),
        g("p50_us"),
        g("p99_us"),
        g("cpu_us_per_req"),
        g("sched_cpu_us_per_req"),
        g("server_cores"),
        g("machine_cores"),
    );
    if r.get_num("client_cores").is_some() {
        s.push_str(&format!(
            ", client {} cores, others {} cores",
            g("client_cores"),
            g("other_cores")
        ));
    }
    if r.get_num("enters_per_req").is_some() {
        s.push_str(&format!(
            ", {} enters/req {} loops/req",
            g("enters_per_req"),
            g("loops_per_req")
        ));
    }
    s
}

/// One echo measurement: a fresh server, the client's warm-up and measured
/// interval, the server's CPU time over that interval.
fn measure_echo(
    c: Contender,
    msg_size: usize,
    connections: usize,
    plan: &Plan,
) -> Result<Record, String> {
    let server = ServerProcess::start(c, ServerKind::Echo).map_err(|e| e.to_string())?;
    eprint!(" pid {:<7}", server.pid());
    let cpu0 = Cell::new(Clocks::default());
    let cpu1 = Cell::new(Clocks::default());
    let run_echo = match plan.client {
        EchoClient::Uring => uring_client::run_echo,
        EchoClient::Tokio => client::run_echo,
    };
    let run = run_echo(
        server.addr,
        connections,
        msg_size,
        plan.warmup,
        plan.measure,
        &mut || {
            server.command("M");
            cpu0.set(server.clocks());
        },
        &mut || cpu1.set(server.clocks()),
    )
    .map_err(|e| format!("client: {e}"))?;
    let metrics = server.metrics();
    drop(server);
    if run.requests == 0 {
        return Err("no request completed in the measured interval".into());
    }
    let secs = run.elapsed.as_secs_f64();
    let mut r = Record::new();
    r.num("rps", run.requests as f64 / secs)
        .num("p50_us", run.hist.value_at_quantile(0.50) as f64 / 1e3)
        .num("p99_us", run.hist.value_at_quantile(0.99) as f64 / 1e3);
    let cpu = cpu1.get().since(&cpu0.get());
    add_cpu(&mut r, &cpu, run.requests, secs);
    add_load(&mut r, &cpu, run.client_cpu, secs);
    add_metrics(&mut r, c, metrics.as_ref(), run.requests);
    Ok(r)
}

/// One HTTP measurement with wrk against a fresh server.
fn measure_http(c: Contender, plan: &Plan) -> Result<Record, String> {
    let server = ServerProcess::start(c, ServerKind::Http).map_err(|e| e.to_string())?;
    eprint!(" pid {:<7}", server.pid());
    if let Some(s) = plan.wrk_warmup_secs {
        wrk::run(server.addr, WRK_CONNECTIONS, s)?;
    }
    server.command("M");
    let cpu0 = server.clocks();
    let t0 = Instant::now();
    let wrk0 = common::children_cpu_time();
    let run = wrk::run(server.addr, WRK_CONNECTIONS, plan.wrk_secs)?;
    let elapsed = t0.elapsed();
    let cpu = server.clocks().since(&cpu0);
    // wrk has been waited for; the server has not: the delta is wrk's.
    let client = common::children_cpu_time().saturating_sub(wrk0);
    let metrics = server.metrics();
    drop(server);
    if run.requests == 0 {
        return Err("wrk completed no request".into());
    }
    let mut r = Record::new();
    r.num("rps", run.rps)
        .num("p50_us", run.p50_us)
        .num("p99_us", run.p99_us);
    add_cpu(&mut r, &cpu, run.requests, elapsed.as_secs_f64());
    add_load(&mut r, &cpu, client, elapsed.as_secs_f64());
    if run.errors > 0 {
        r.num("errors", run.errors as f64);
    }
    add_metrics(&mut r, c, metrics.as_ref(), run.requests);
    Ok(r)
}

/// CPU per request (the server's, tick-sampled as specified and from the
/// scheduler's clock; the whole machine's), and cores busy.
fn add_cpu(r: &mut Record, cpu: &Clocks, requests: u64, secs: f64) {
    let per_req = |d: Duration| d.as_secs_f64() * 1e6 / requests as f64;
    r.num("cpu_us_per_req", per_req(cpu.stat))
        .num("requests", requests as f64)
        .num("server_cores", cpu.stat.as_secs_f64() / secs)
        .num("sched_cpu_us_per_req", per_req(cpu.sched))
        .num("machine_cores", cpu.machine.as_secs_f64() / secs);
}

/// Cores used by the load generator and by everything else on the machine
/// (other processes, kernel threads) during the measured interval.
fn add_load(r: &mut Record, cpu: &Clocks, client: Duration, secs: f64) {
    let client = client.as_secs_f64();
    let others = (cpu.machine.as_secs_f64() - cpu.sched.as_secs_f64() - client).max(0.0);
    r.num("client_cores", client / secs)
        .num("other_cores", others / secs);
}

/// Waits (at most `limit`) until the machine's load from other processes
/// is under [`QUIET_CORES`]; returns the last load sampled (cores).
fn wait_quiet(limit: Duration) -> f64 {
    let deadline = Instant::now() + limit;
    let mut waited = false;
    loop {
        let b0 = common::machine_busy_time().unwrap_or_default();
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_millis(300));
        let busy = common::machine_busy_time()
            .unwrap_or_default()
            .saturating_sub(b0)
            .as_secs_f64()
            / t0.elapsed().as_secs_f64();
        if busy < QUIET_CORES || Instant::now() >= deadline {
            if waited {
                eprint!(" (background {busy:.2} cores)");
            }
            return busy;
        }
        if !waited {
            eprint!(" waiting for a quiet machine ({busy:.2} cores busy)...");
            waited = true;
        }
        std::thread::sleep(Duration::from_millis(700));
    }
}

/// ringbolt's runtime counters per request (worker 0's).
fn add_metrics(r: &mut Record, c: Contender, m: Option<&Record>, requests: u64) {
    let (true, Some(m)) = (c.is_ringbolt(), m) else {
        return;
    };
    let per = |k: &str| m.get_num(k).unwrap_or(f64::NAN) / requests as f64;
    r.num("loops_per_req", per("loop_iterations"))
        .num("enters_per_req", per("ring_enters"))
        .num("polls_per_req", per("polls"))
        .num("ops_per_req", per("ops_submitted"));
}

fn sibling(path: &Path, ext: &str) -> PathBuf {
    path.with_extension(ext)
}

fn write_outputs(
    json: &Path,
    args: &Args,
    net: &NetArgs,
    meta: &Record,
    records: &[Record],
    md: &str,
) {
    let md_path = args.md.clone().unwrap_or_else(|| sibling(json, "md"));
    let svg_path = net.svg.clone().unwrap_or_else(|| sibling(json, "svg"));
    let write = |p: &Path, text: &str| match std::fs::write(p, text) {
        Ok(()) => eprintln!("net bench: wrote {}", p.display()),
        Err(e) => eprintln!("net bench: cannot write {}: {e}", p.display()),
    };
    match common::write_results_json(json, meta, records) {
        Ok(()) => eprintln!("net bench: wrote {}", json.display()),
        Err(e) => eprintln!("net bench: cannot write {}: {e}", json.display()),
    }
    write(&md_path, md);
    write(&svg_path, &report::svg(meta, records));
}

/// Redraws the Markdown table and the chart from a results file.
fn redraw(path: &Path, args: &Args, net: &NetArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut meta = Record::new();
    let mut records = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("\"meta\":") {
            meta = Record::from_json(m.trim().trim_end_matches(','))
                .ok_or("cannot parse the meta record")?;
        } else if line.starts_with("{\"workload\"") {
            let r = Record::from_json(line.trim_end_matches(','))
                .ok_or_else(|| format!("cannot parse {line}"))?;
            records.push(r);
        }
    }
    let md = report::markdown(&meta, &records);
    println!("{md}");
    let md_path = args.md.clone().unwrap_or_else(|| sibling(path, "md"));
    let svg_path = net.svg.clone().unwrap_or_else(|| sibling(path, "svg"));
    std::fs::write(&md_path, &md).map_err(|e| e.to_string())?;
    std::fs::write(&svg_path, report::svg(&meta, &records)).map_err(|e| e.to_string())?;
    eprintln!(
        "net bench: wrote {} and {}",
        md_path.display(),
        svg_path.display()
    );
    Ok(())
}
