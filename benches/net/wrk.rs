//! `wrk` as the HTTP load generator: found on `PATH`, installed with
//! `apt-get install -y wrk` when missing and running as root, else the HTTP
//! workload is skipped with a note. Its text output is parsed here.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one `wrk` run reported.
#[derive(Debug, Clone, Default)]
pub(crate) struct WrkRun {
    pub(crate) requests: u64,
    pub(crate) rps: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    /// Socket errors plus non-2xx/3xx responses.
    pub(crate) errors: u64,
}

/// `wrk`'s version line, if it is (or could be made) available.
pub(crate) fn ensure_wrk() -> Result<String, String> {
    if let Some(v) = version() {
        return Ok(v);
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("wrk is not installed and this is not root: HTTP skipped \
                    (install it with `apt-get install wrk`)"
            .into());
    }
    eprintln!("net bench: wrk missing, running `apt-get install -y wrk`");
    if !apt(&["install", "-y", "wrk"]) {
        eprintln!("net bench: install failed, running `apt-get update` and retrying");
        let _ = apt(&["update"]);
        let _ = apt(&["install", "-y", "wrk"]);
    }
    version().ok_or_else(|| "wrk could not be installed: HTTP skipped".into())
}

fn apt(args: &[&str]) -> bool {
    Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn version() -> Option<String> {
    // `wrk -v` prints its version and exits with status 1.
    let out = Command::new("wrk")
        .arg("-v")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let line = text.lines().find(|l| l.starts_with("wrk "))?;
    Some(
        line.split(" Copyright")
            .next()
            .unwrap_or(line)
            .trim()
            .to_string(),
    )
}

/// Runs `wrk -t1 -c<connections> -d<secs>s --latency` against `addr`,
/// killed if it overruns by 10 s.
pub(crate) fn run(addr: SocketAddr, connections: usize, secs: u64) -> Result<WrkRun, String> {
    let mut child = Command::new("wrk")
        .arg("-t1")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg("--latency")
        .arg(format!("http://{addr}/"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("wrk: {e}"))?;
    let limit = Duration::from_secs(secs + 10);
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("wrk overran its duration and was killed".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("wrk: {e}")),
        }
    }
    let out = child.wait_with_output().map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse(&text).ok_or_else(|| format!("cannot parse wrk's output:\n{text}"))
}

/// Parses wrk's report (with `--latency`).
pub(crate) fn parse(text: &str) -> Option<WrkRun> {
    let mut run = WrkRun::default();
    let (mut got_rps, mut got_requests) = (false, false);
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => run.p50_us = latency_us(v)?,
            ["99%", v] => run.p99_us = latency_us(v)?,
            ["Requests/sec:", v] => {
                run.rps = v.parse().ok()?;
                got_rps = true;
            }
            [n, "requests", "in", ..] => {
                run.requests = n.parse().ok()?;
                got_requests = true;
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => run.errors += n.parse::<u64>().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                run.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    (got_rps && got_requests).then_some(run)
}

/// `612.00us`, `1.20ms`, `2.00s` → microseconds.
fn latency_us(v: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60e6)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e6)
    } else {
        (v, 1.0)
    };
    num.parse::<f64>().ok().map(|x| x * scale)
}
