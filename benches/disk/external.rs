//! The subprocess contenders: Python asyncio + aiofiles
//! (`benches/aiofiles_bench.py` in a venv under `target/bench-venv`) and fio
//! with its `io_uring` and `psync` engines.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Record;
use crate::json::Json;
use crate::{Contender, Figures, Spec, Workload};

/// The Python contender's script.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/aiofiles_bench.py");

/// A subprocess that outlives its measurement by this much is killed.
const GRACE: Duration = Duration::from_secs(30);

/// The Python interpreter of the benchmark's venv, with aiofiles in it.
#[derive(Debug, Clone)]
pub(crate) struct PythonEnv {
    python: PathBuf,
    pub(crate) version: String,
    pub(crate) aiofiles: String,
}

fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Finds `python3`, creates `target/bench-venv` and installs aiofiles in it
/// (once; reused while `import aiofiles` works).
pub(crate) fn python_env(target: &Path) -> Result<PythonEnv, String> {
    let venv = target.join("bench-venv");
    let python = venv.join("bin/python");
    let probe = |py: &Path| {
        output(Command::new(py).args([
            "-c",
            "import sys, aiofiles\nfrom importlib.metadata import version\n\
             print(sys.version.split()[0], version('aiofiles'))",
        ]))
    };
    let found = match probe(&python) {
        Ok(v) => v,
        Err(_) => {
            output(Command::new("python3").arg("--version"))
                .map_err(|_| "python3 is not installed".to_string())?;
            eprintln!(
                "creating {} and installing aiofiles (once)...",
                venv.display()
            );
            output(Command::new("python3").args(["-m", "venv"]).arg(&venv)).map_err(|e| {
                format!("cannot create the venv (apt-get install -y python3-venv): {e}")
            })?;
            output(
                Command::new(venv.join("bin/pip"))
                    .args(["install", "--quiet", "aiofiles"])
                    .stdout(Stdio::null()),
            )
            .map_err(|e| format!("pip install aiofiles failed: {e}"))?;
            probe(&python)?
        }
    };
    let mut it = found.split_whitespace();
    Ok(PythonEnv {
        python,
        version: it.next().unwrap_or("unknown").to_string(),
        aiofiles: it.next().unwrap_or("unknown").to_string(),
    })
}

/// Runs `cmd` to completion within `limit`; returns its stdout.
fn run_limited(mut cmd: Command, limit: Duration) -> Result<String, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let errs = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {limit:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("wait: {e}")),
        }
    };
    let (out, errs) = (
        out.join().unwrap_or_default(),
        errs.join().unwrap_or_default(),
    );
    if status.success() {
        Ok(out)
    } else {
        let tail: Vec<&str> = errs.lines().rev().take(3).collect();
        Err(format!(
            "{status}: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ))
    }
}

/// Runs one Python asyncio + aiofiles measurement.
pub(crate) fn python(env: &PythonEnv, spec: &Spec) -> Result<Figures, String> {
    let mode = match spec.workload {
        Workload::RandReadBuffered => "randread",
        Workload::ReadFile => "readfile",
        Workload::AppendFsync => "append",
        w => return Err(format!("python-aiofiles does not run {}", w.name())),
    };
    let mut cmd = Command::new(&env.python);
    cmd.arg(SCRIPT)
        .args(["--mode", mode, "--file"])
        .arg(&spec.path)
        .args(["--bs", &spec.workload.block_size().to_string()])
        .args(["--inflight", &spec.inflight.to_string()])
        .args(["--duration", &spec.duration.as_secs_f64().to_string()])
        .args(["--warmup", &spec.warmup.as_secs_f64().to_string()]);
    let out = run_limited(cmd, spec.warmup + spec.duration + GRACE)?;
    let line = out
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or("no JSON line")?;
    let j = Json::parse(line)?;
    let n = |k: &str| {
        j.get(k)
            .and_then(Json::num)
            .ok_or(format!("no {k} in {line}"))
    };
    let elapsed = Duration::from_secs_f64(n("elapsed_s")?);
    let ops = n("ops")? as u64;
    let mut extra = Record::new();
    extra.str(
        "aiofiles",
        j.get("aiofiles").and_then(Json::str).unwrap_or("unknown"),
    );
    Ok(Figures {
        ops,
        bytes: (n("mib_s")? * elapsed.as_secs_f64() * (1u64 << 20) as f64) as u64,
        elapsed,
        p50_us: n("p50_us")?,
        p99_us: n("p99_us")?,
        p999_us: n("p999_us")?,
        max_us: n("max_us")?,
        cpu_us_per_op: n("cpu_us_per_op")?,
        extra,
    })
}

/// `fio --version`, or `None` when fio is not installed.
pub(crate) fn fio_version() -> Option<String> {
    output(Command::new("fio").arg("--version")).ok()
}

/// The fio options of the io_uring contender: the engine's best setup on
/// this machine (registered file, registered buffers, submissions batched
/// by up to 16).
pub(crate) const FIO_URING_OPTS: &str =
    "--ioengine=io_uring --registerfiles=1 --fixedbufs=1 --iodepth=N --iodepth_batch_submit=min(16,N) --iodepth_batch_complete_min=1";
/// The fio options of the psync contender: N threads, one synchronous
/// `pread`/`pwrite` at a time each.
pub(crate) const FIO_PSYNC_OPTS: &str = "--ioengine=psync --thread --numjobs=N";

/// Runs one fio measurement.
pub(crate) fn fio(spec: &Spec) -> Result<Figures, String> {
    let n = spec.inflight;
    let bs = spec.workload.block_size();
    let ms = |d: Duration| format!("{}ms", d.as_millis().max(1));
    let mut cmd = Command::new("fio");
    cmd.args([
        "--name=disk",
        "--output-format=json",
        "--time_based=1",
        "--group_reporting=1",
        "--lat_percentiles=1",
        "--clat_percentiles=0",
        "--percentile_list=50:99:99.9",
        "--invalidate=0",
        "--norandommap=1",
        "--randrepeat=0",
        "--exitall_on_error=1",
    ])
    .arg(format!("--runtime={}", ms(spec.duration)))
    .arg(format!("--ramp_time={}", ms(spec.warmup)))
    .arg(format!("--bs={bs}"));
    let dir = if spec.workload.direct() { "1" } else { "0" };
    cmd.arg(format!("--direct={dir}"));
    match spec.workload {
        Workload::RandReadBuffered | Workload::RandReadDirect => {
            cmd.arg("--rw=randread").arg("--filename").arg(&spec.path);
            cmd.arg(format!("--size={}", spec.size));
        }
        Workload::SeqReadDirect | Workload::SeqWriteDirect => {
            let rw = if spec.workload == Workload::SeqReadDirect {
                "read"
            } else {
                "write"
            };
            cmd.arg(format!("--rw={rw}"))
                .arg("--filename")
                .arg(&spec.path);
            if spec.contender == Contender::FioPsync && n > 1 {
                // Each thread streams its own slice of the file.
                let part = spec.size / n as u64 / bs as u64 * bs as u64;
                cmd.arg(format!("--size={part}"))
                    .arg(format!("--offset_increment={part}"));
            } else {
                cmd.arg(format!("--size={}", spec.size));
            }
        }
        w => return Err(format!("fio does not run {}", w.name())),
    }
    match spec.contender {
        Contender::FioIoUring => {
            cmd.args([
                "--ioengine=io_uring",
                "--registerfiles=1",
                "--fixedbufs=1",
                "--iodepth_batch_complete_min=1",
            ])
            .arg(format!("--iodepth={n}"))
            .arg(format!("--iodepth_batch_submit={}", n.min(16)));
        }
        Contender::FioPsync => {
            cmd.args(["--ioengine=psync", "--thread"])
                .arg(format!("--numjobs={n}"));
        }
        c => return Err(format!("{} is not a fio contender", c.name())),
    }
    let out = run_limited(cmd, spec.warmup + spec.duration + GRACE)?;
    let start = out.find('{').ok_or("fio printed no JSON")?;
    let j = Json::parse(&out[start..])?;
    let job = j.at(&["jobs", "0"]).ok_or("fio JSON without jobs")?;
    let dir = if spec.workload == Workload::SeqWriteDirect {
        "write"
    } else {
        "read"
    };
    let io = job.get(dir).ok_or("fio JSON without the io section")?;
    let num = |v: Option<&Json>, what: &str| {
        v.and_then(Json::num)
            .ok_or(format!("fio JSON without {what}"))
    };
    let iops = num(io.get("iops"), "iops")?;
    let bw = num(io.get("bw_bytes"), "bw_bytes")?;
    let pct = |q: &str| num(io.at(&["lat_ns", "percentile", q]), q).map(|ns| ns / 1000.0);
    let secs = spec.duration.as_secs_f64();
    let ops = (iops * secs).round() as u64;
    // fio's usr_cpu/sys_cpu are percentages of one CPU over the job's run,
    // averaged over the group's threads (numjobs).
    let threads = if spec.contender == Contender::FioPsync {
        n as f64
    } else {
        1.0
    };
    let cpu_pct =
        threads * (num(job.get("usr_cpu"), "usr_cpu")? + num(job.get("sys_cpu"), "sys_cpu")?);
    let runtime_s = num(io.get("runtime"), "runtime")? / 1000.0;
    let total_ios = num(io.get("total_ios"), "total_ios")?.max(1.0);
    let mut extra = Record::new();
    extra.str(
        "fio_options",
        match spec.contender {
            Contender::FioIoUring => FIO_URING_OPTS,
            _ => FIO_PSYNC_OPTS,
        },
    );
    Ok(Figures {
        ops,
        bytes: (bw * secs) as u64,
        elapsed: spec.duration,
        p50_us: pct("50.000000")?,
        p99_us: pct("99.000000")?,
        p999_us: pct("99.900000")?,
        max_us: num(io.at(&["lat_ns", "max"]), "lat_ns.max")? / 1000.0,
        cpu_us_per_op: cpu_pct / 100.0 * runtime_s * 1e6 / total_ios,
        extra,
    })
}
