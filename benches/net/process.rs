//! A server under test as a child process: this bench binary re-executed
//! with `--serve CONTENDER WORKLOAD`. The parent reads the port it prints,
//! reads its CPU time from `/proc/<pid>/stat`, asks it for the runtime's
//! counters over stdin, and kills it (also when dropped).

use std::io::{self, BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use crate::common::{machine_busy_time, process_cpu_time, process_sched_time, Record};
use crate::{Contender, ServerKind};

/// How long a server may take to print its port.
const START_LIMIT: Duration = Duration::from_secs(10);
/// How long a server may take to answer `R`.
const REPORT_LIMIT: Duration = Duration::from_secs(2);

/// CPU clocks read at one instant.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Clocks {
    /// The server's utime + stime (`/proc/<pid>/stat`, tick-sampled).
    pub(crate) stat: Duration,
    /// The server's time on CPU (schedstat, ns).
    pub(crate) sched: Duration,
    /// The whole machine's busy time (client, server, kernel threads).
    pub(crate) machine: Duration,
}

impl Clocks {
    /// `self - earlier`, clock by clock.
    pub(crate) fn since(&self, earlier: &Clocks) -> Clocks {
        Clocks {
            stat: self.stat.saturating_sub(earlier.stat),
            sched: self.sched.saturating_sub(earlier.sched),
            machine: self.machine.saturating_sub(earlier.machine),
        }
    }
}

/// A running server process; killed when dropped.
pub(crate) struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
}

impl ServerProcess {
    /// Starts the server and waits for its port.
    pub(crate) fn start(contender: Contender, kind: ServerKind) -> io::Result<ServerProcess> {
        Self::start_from(&std::env::current_exe()?, contender, kind)
    }

    /// Starts the server from `exe`: this bench's binary, or another build
    /// of it (to compare two builds of a contender side by side).
    pub(crate) fn start_from(
        exe: &std::path::Path,
        contender: Contender,
        kind: ServerKind,
    ) -> io::Result<ServerProcess> {
        let mut child = Command::new(exe)
            .arg("--serve")
            .arg(contender.name())
            .arg(kind.name())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ServerProcess {
            child,
            stdin,
            lines,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let port = server
            .wait_line("PORT ", START_LIMIT)
            .and_then(|p| p.trim().parse::<u16>().ok())
            .ok_or_else(|| {
                io::Error::other(format!(
                    "server `{}` `{}` printed no port within {START_LIMIT:?}",
                    contender.name(),
                    kind.name()
                ))
            })?;
        server.addr.set_port(port);
        Ok(server)
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (all threads) the server has used so far.
    pub(crate) fn cpu_time(&self) -> Duration {
        process_cpu_time(self.pid()).unwrap_or_default()
    }

    /// A snapshot of the three CPU clocks the report uses.
    pub(crate) fn clocks(&self) -> Clocks {
        Clocks {
            stat: self.cpu_time(),
            sched: process_sched_time(self.pid()).unwrap_or_default(),
            machine: machine_busy_time().unwrap_or_default(),
        }
    }

    /// Sends one command line to the server (best effort).
    pub(crate) fn command(&self, cmd: &str) {
        if let Some(mut stdin) = self.stdin.as_ref() {
            let _ = writeln!(stdin, "{cmd}").and_then(|()| stdin.flush());
        }
    }

    /// Asks for the runtime's counters since the last `M`; `None` for
    /// tokio or when the server does not answer in time.
    pub(crate) fn metrics(&self) -> Option<Record> {
        self.command("R");
        let json = self.wait_line("METRICS ", REPORT_LIMIT)?;
        Record::from_json(&json).filter(|r| !r.0.is_empty())
    }

    /// The rest of the first line starting with `prefix` printed within
    /// `limit` (other lines are skipped).
    fn wait_line(&self, prefix: &str, limit: Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some(rest) = line.strip_prefix(prefix) {
                return Some(rest.to_string());
            }
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
