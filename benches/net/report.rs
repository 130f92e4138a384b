//! The reports drawn from the records: a Markdown table (medians, spread,
//! paired ratios against tokio current_thread, the targets) and a
//! hand-written SVG chart (requests/s by connections, one bar per
//! contender).
//!
//! Ratios are *paired*: in every round, a contender's figure ÷ tokio
//! current_thread's figure in the same round of the same cell, then the
//! median of those per-round ratios. The shared machine flips between a
//! fast and a slow state for seconds at a time; the measurements of one
//! round are adjacent in time and usually share the state, the medians over
//! rounds of two contenders may not.

use std::fmt::Write as _;

use crate::common::{fmt_num, summarize, Record, Summary};
use crate::{Contender, WORKLOADS};

/// The baseline every ratio is taken against.
const BASELINE: Contender = Contender::TokioCt;

/// One (workload, connections) cell of the table.
struct Cell {
    workload: &'static str,
    connections: u64,
}

fn cells(records: &[Record]) -> Vec<Cell> {
    let mut out = Vec::new();
    for w in WORKLOADS {
        let mut conns: Vec<u64> = records
            .iter()
            .filter(|r| r.get_str("workload") == Some(w))
            .filter_map(|r| r.get_num("connections").map(|c| c as u64))
            .collect();
        conns.sort_unstable();
        conns.dedup();
        for c in conns {
            out.push(Cell {
                workload: w,
                connections: c,
            });
        }
    }
    out
}

/// Whether `r` is a record of `contender` in `cell`.
fn record_of(r: &Record, cell: &Cell, contender: Contender) -> bool {
    r.get_str("workload") == Some(cell.workload)
        && r.get_num("connections") == Some(cell.connections as f64)
        && r.get_str("contender") == Some(contender.name())
}

/// The values of `key` over the rounds of one contender in one cell.
fn values(records: &[Record], cell: &Cell, contender: Contender, key: &str) -> Vec<f64> {
    records
        .iter()
        .filter(|r| record_of(r, cell, contender))
        .filter_map(|r| r.get_num(key))
        .collect()
}

/// The values of `key` of one contender in one cell, with their round
/// (records without a round number are left out: they cannot be paired).
fn by_round(records: &[Record], cell: &Cell, contender: Contender, key: &str) -> Vec<(u64, f64)> {
    records
        .iter()
        .filter(|r| record_of(r, cell, contender))
        .filter_map(|r| Some((r.get_num("round")? as u64, r.get_num(key)?)))
        .filter(|(_, v)| v.is_finite())
        .collect()
}

/// The per-round ratios of `contender`'s `key` to the baseline's in the
/// same round of the same cell, over the rounds where both exist.
fn paired(records: &[Record], cell: &Cell, contender: Contender, key: &str) -> Vec<f64> {
    let base = by_round(records, cell, BASELINE, key);
    by_round(records, cell, contender, key)
        .into_iter()
        .filter_map(|(round, v)| {
            let (_, b) = base.iter().find(|(r, _)| *r == round)?;
            (*b > 0.0).then(|| v / b)
        })
        .collect()
}

/// The median of the paired ratios.
fn paired_median(records: &[Record], cell: &Cell, contender: Contender, key: &str) -> Option<f64> {
    summarize(&paired(records, cell, contender, key)).map(|s| s.median)
}

/// Whether any record of `contender` exists.
fn present(records: &[Record], contender: Contender) -> bool {
    records
        .iter()
        .any(|r| r.get_str("contender") == Some(contender.name()))
}

fn spread(s: Option<Summary>) -> String {
    match s {
        Some(s) => format!("{}–{}", fmt_num(s.min), fmt_num(s.max)),
        None => "—".into(),
    }
}

fn med(s: Option<Summary>) -> String {
    s.map_or("—".into(), |s| fmt_num(s.median))
}

/// "server / client / others" cores busy (medians).
fn cores(records: &[Record], cell: &Cell, c: Contender) -> String {
    let m = |k: &str| {
        summarize(&values(records, cell, c, k)).map_or("—".into(), |s| format!("{:.2}", s.median))
    };
    format!(
        "{} / {} / {}",
        m("server_cores"),
        m("client_cores"),
        m("other_cores")
    )
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or("—".into(), |r| format!("{r:.2}×"))
}

/// "median× (min–max)" of paired ratios; "—" when there is none.
fn fmt_paired(xs: &[f64]) -> String {
    match summarize(xs) {
        None => "—".into(),
        Some(s) if xs.len() == 1 => format!("{:.2}×", s.median),
        Some(s) => format!("{:.2}× ({:.2}–{:.2})", s.median, s.min, s.max),
    }
}

/// Whether a cell is one the targets are set for: 64 and 512 connections
/// for echo, wrk's connections for HTTP.
fn target_cell(cell: &Cell) -> bool {
    cell.workload == "http-hello" || matches!(cell.connections, 64 | 512)
}

/// The Markdown report.
pub(crate) fn markdown(meta: &Record, records: &[Record]) -> String {
    let mut s = String::new();
    let m = |k: &str| meta.get_str(k).unwrap_or("?").to_string();
    let _ = writeln!(
        s,
        "# Network benchmark: ringbolt vs tokio (echo, HTTP hello)\n"
    );
    let _ = writeln!(s, "Command: `{}`\n", m("command"));
    let _ = writeln!(
        s,
        "Conditions: kernel {}, {} cores ({}), {}; ringbolt ring setup `{}`; {}, tokio {}, commit {}.\n",
        m("kernel"),
        meta.get_num("cores").unwrap_or(0.0),
        m("cpu"),
        m("date"),
        m("ring_setup"),
        m("rustc"),
        m("tokio_version"),
        m("git_commit"),
    );
    let _ = writeln!(s, "**{}**\n", m("note"));
    let _ = writeln!(s, "- Echo load: {}", m("echo_client"));
    let _ = writeln!(s, "- HTTP load: {}", m("http_client"));
    let _ = writeln!(s, "- Timing: {}", m("timing"));
    let _ = writeln!(
        s,
        "- Server CPU µs/request: utime+stime of the server process (`/proc/<pid>/stat`, all threads) over the measured interval ÷ requests in it. Cores busy: server (same clock), client (the echo client's thread, or wrk), others (the rest of the machine: `/proc/stat` busy time minus both)."
    );
    let _ = writeln!(
        s,
        "- Ratios are paired: in each round, the contender's figure ÷ tokio-current-thread's in the same round and cell, then the median over the rounds where both exist. The shared machine flips between a fast and a slow state for seconds at a time (the same server's CPU/request can more than double); measurements of one round are adjacent in time and usually share the state, whereas a ratio of medians over rounds can compare one contender's fast rounds with another's slow ones."
    );
    if present(records, Contender::RawUring) {
        let _ = writeln!(
            s,
            "- `raw-uring` is a reference, not a product (like fio in the disk bench): a hand-written io_uring echo server with no runtime and no tasks (`benches/net/uring_server.rs`), the floor an io_uring runtime can approach. It serves echo only: no HTTP rows."
        );
    }
    s.push('\n');
    if let Some(notes) = meta.get_str("notes") {
        for n in notes.split(" | ") {
            let _ = writeln!(s, "- Note: {n}");
        }
        s.push('\n');
    }

    let others: Vec<f64> = records
        .iter()
        .filter_map(|r| r.get_num("other_cores"))
        .collect();
    if let Some(o) = summarize(&others) {
        if o.median > 0.25 {
            let _ = writeln!(
                s,
                "**Warning: the machine was not quiet.** Other processes used {:.2} cores (median; max {:.2}) while measuring: absolute figures are low and ratios noisy.\n",
                o.median, o.max
            );
        } else {
            let _ = writeln!(
                s,
                "Background load from other processes while measuring: {:.2} cores median (max {:.2}).\n",
                o.median, o.max
            );
        }
    }
    let _ = writeln!(
        s,
        "Medians of {} interleaved rounds; spread is min–max over the rounds; the ratios to tokio-current-thread are paired (median over rounds of the per-round ratio, see above).\n",
        meta.get_num("rounds").unwrap_or(0.0)
    );
    let _ = writeln!(
        s,
        "| workload | conns | contender | rps | rps spread | p50 µs | p99 µs | server CPU µs/req | CPU spread | server cores | rps vs tokio-ct (paired) | CPU/req vs tokio-ct (paired) |"
    );
    let _ = writeln!(
        s,
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for cell in cells(records) {
        for c in Contender::ALL {
            let rps = summarize(&values(records, &cell, c, "rps"));
            if rps.is_none() {
                continue;
            }
            let cpu = summarize(&values(records, &cell, c, "cpu_us_per_req"));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell.workload,
                cell.connections,
                c.name(),
                med(rps),
                spread(rps),
                med(summarize(&values(records, &cell, c, "p50_us"))),
                med(summarize(&values(records, &cell, c, "p99_us"))),
                med(cpu),
                spread(cpu),
                cores(records, &cell, c),
                fmt_ratio(paired_median(records, &cell, c, "rps")),
                fmt_ratio(paired_median(records, &cell, c, "cpu_us_per_req")),
            );
        }
    }

    let _ = writeln!(
        s,
        "\n## Targets\n\nringbolt (1 worker) against tokio current_thread: ≥ 1.10× requests/s and ≤ 0.90× server CPU µs/request at 64 and 512 connections (HTTP: wrk's {}). Ratios are paired (median over rounds of the per-round ratio; min–max over the rounds in brackets). The last column is the same CPU/request ratio for `raw-uring`: what a hand-written io_uring loop with no runtime reaches (echo only). \"met\" / \"missed\" compare the median only: where the min–max spans both sides of 1.0×, the rounds straddled a flip of the machine's state and the verdict is noise (`benches/results/net-states.md` compares within one state).\n",
        crate::WRK_CONNECTIONS
    );
    if !present(records, BASELINE) || !present(records, Contender::Ringbolt) {
        let _ = writeln!(
            s,
            "No ratios: this run has no {} records.",
            if present(records, BASELINE) {
                Contender::Ringbolt.name()
            } else {
                BASELINE.name()
            }
        );
    } else {
        let _ = writeln!(
            s,
            "| workload | conns | rounds paired | rps ratio (paired) | target ≥ 1.10 | CPU/req ratio (paired) | target ≤ 0.90 | raw-uring CPU/req ratio (paired) |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---|---:|---|---:|");
        let verdict = |r: Option<f64>, ok: fn(f64) -> bool| match r {
            Some(r) if ok(r) => "met",
            Some(_) => "missed",
            None => "—",
        };
        for cell in cells(records).iter().filter(|c| target_cell(c)) {
            let rps = paired(records, cell, Contender::Ringbolt, "rps");
            let cpu = paired(records, cell, Contender::Ringbolt, "cpu_us_per_req");
            let raw = paired(records, cell, Contender::RawUring, "cpu_us_per_req");
            let med = |xs: &[f64]| summarize(xs).map(|s| s.median);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                cell.workload,
                cell.connections,
                rps.len().max(cpu.len()),
                fmt_paired(&rps),
                verdict(med(&rps), |r| r >= 1.1),
                fmt_paired(&cpu),
                verdict(med(&cpu), |c| c <= 0.9),
                fmt_paired(&raw),
            );
        }
    }

    let _ = writeln!(
        s,
        "\n## ringbolt's counters per request\n\nDeltas of `Runtime::metrics()` over the measured interval ÷ requests (worker 0 only: for ringbolt-2workers this covers about half of the connections, so only the 1-worker rows are exact).\n"
    );
    let _ = writeln!(
        s,
        "| workload | conns | contender | loop iterations/req | ring enters/req | task polls/req | ops submitted/req |"
    );
    let _ = writeln!(s, "|---|---:|---|---:|---:|---:|---:|");
    for cell in cells(records) {
        for c in [
            Contender::Ringbolt,
            Contender::Ringbolt2,
            Contender::Ringbolt2Rr,
        ] {
            let v = |k: &str| med(summarize(&values(records, &cell, c, k)));
            if values(records, &cell, c, "enters_per_req").is_empty() {
                continue;
            }
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell.workload,
                cell.connections,
                c.name(),
                v("loops_per_req"),
                v("enters_per_req"),
                v("polls_per_req"),
                v("ops_per_req"),
            );
        }
    }
    s
}

// ---------------------------------------------------------------------------
// SVG

/// A contender's bar colour: reds for ringbolt, blues for tokio, grey for
/// the raw-uring reference.
fn color(c: Contender) -> &'static str {
    match c {
        Contender::Ringbolt => "#d62728",
        Contender::Ringbolt2 => "#ff9896",
        Contender::Ringbolt2Rr => "#ff7f0e",
        Contender::TokioCt => "#1f77b4",
        Contender::TokioMt => "#aec7e8",
        Contender::RawUring => "#7f7f7f",
    }
}

/// A contender's name in the legend.
fn legend_label(c: Contender) -> String {
    match c {
        Contender::RawUring => format!("{} (reference, echo only)", c.name()),
        _ => c.name().to_string(),
    }
}

/// The contenders with an `rps` figure in `cell`, in report order.
fn in_cell(records: &[Record], cell: &Cell) -> Vec<Contender> {
    Contender::ALL
        .into_iter()
        .filter(|&c| !values(records, cell, c, "rps").is_empty())
        .collect()
}

/// A grouped bar chart: one panel per workload, groups by connections, one
/// bar (median, with a min–max whisker) per contender present in the cell.
pub(crate) fn svg(meta: &Record, records: &[Record]) -> String {
    let all = cells(records);
    let panels: Vec<&str> = WORKLOADS
        .iter()
        .copied()
        .filter(|w| all.iter().any(|c| c.workload == *w))
        .collect();
    let (pw, ph) = (330.0_f64, 300.0_f64);
    let (left, bottom) = (60.0_f64, 40.0_f64);
    // At least as wide as the title.
    let width = (left + pw * panels.len().max(1) as f64 + 20.0).max(860.0);
    // The legend: the contenders of this run, wrapped to the chart's width.
    let shown: Vec<Contender> = Contender::ALL
        .into_iter()
        .filter(|&c| present(records, c))
        .collect();
    let mut legend = Vec::new();
    let (mut lx, mut row) = (left, 0usize);
    for &c in &shown {
        let w = 24.0 + 6.5 * legend_label(c).chars().count() as f64;
        if lx > left && lx + w > width - 10.0 {
            lx = left;
            row += 1;
        }
        legend.push((c, lx, 32.0 + 16.0 * row as f64));
        lx += w;
    }
    let top = 66.0 + 16.0 * row as f64;
    let height = top + ph + bottom + 40.0;
    // Bars per group: the most contenders any cell has, so that bars are
    // equally wide in every panel.
    let slots = all
        .iter()
        .map(|cell| in_cell(records, cell).len())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{:.0}" y="20" font-size="14" text-anchor="middle">Requests/s by connections (median of rounds, whisker = min–max); loopback, client and server share {} cores</text>"#,
        width / 2.0,
        meta.get_num("cores").unwrap_or(0.0)
    );
    for &(c, x, y) in &legend {
        let _ = writeln!(
            s,
            r#"<rect x="{x:.0}" y="{y:.0}" width="12" height="12" fill="{}"/><text x="{:.0}" y="{:.0}">{}</text>"#,
            color(c),
            x + 16.0,
            y + 10.0,
            legend_label(c)
        );
    }
    for (p, w) in panels.iter().enumerate() {
        let x0 = left + p as f64 * pw;
        let pcells: Vec<&Cell> = all.iter().filter(|c| c.workload == *w).collect();
        let ymax = pcells
            .iter()
            .flat_map(|cell| {
                Contender::ALL
                    .iter()
                    .flat_map(|&c| values(records, cell, c, "rps"))
            })
            .fold(0.0_f64, f64::max);
        let ymax = nice_ceiling(ymax.max(1.0));
        let plot_w = pw - 30.0;
        let y = |v: f64| top + ph - v / ymax * ph;
        // Axes and grid.
        let _ = writeln!(
            s,
            r#"<text x="{:.0}" y="{:.0}" font-size="13" text-anchor="middle">{w}</text>"#,
            x0 + plot_w / 2.0,
            top - 4.0
        );
        for k in 0..=4 {
            let v = ymax * k as f64 / 4.0;
            let yy = y(v);
            let _ = writeln!(
                s,
                r##"<line x1="{x0:.0}" y1="{yy:.1}" x2="{:.0}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.0}" y="{:.1}" text-anchor="end">{}</text>"##,
                x0 + plot_w,
                x0 - 4.0,
                yy + 4.0,
                short(v)
            );
        }
        let _ = writeln!(
            s,
            r#"<line x1="{x0:.0}" y1="{:.0}" x2="{x0:.0}" y2="{:.0}" stroke="black"/>"#,
            top,
            top + ph
        );
        let gw = plot_w / pcells.len().max(1) as f64;
        let bw = (gw - 16.0) / slots as f64;
        for (g, cell) in pcells.iter().enumerate() {
            let gx = x0 + g as f64 * gw + 8.0;
            let _ = writeln!(
                s,
                r#"<text x="{:.0}" y="{:.0}" text-anchor="middle">{} conn</text>"#,
                gx + (gw - 16.0) / 2.0,
                top + ph + 16.0,
                cell.connections
            );
            let here = in_cell(records, cell);
            // Centre the bars of a cell with fewer contenders.
            let gx0 = gx + (slots - here.len()) as f64 * bw / 2.0;
            for (i, &c) in here.iter().enumerate() {
                let Some(sum) = summarize(&values(records, cell, c, "rps")) else {
                    continue;
                };
                let bx = gx0 + i as f64 * bw;
                let _ = writeln!(
                    s,
                    r#"<rect x="{bx:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {}: {:.0} rps (min {:.0}, max {:.0})</title></rect>"#,
                    y(sum.median),
                    bw - 1.0,
                    top + ph - y(sum.median),
                    color(c),
                    c.name(),
                    cell.connections,
                    sum.median,
                    sum.min,
                    sum.max
                );
                let cx = bx + (bw - 1.0) / 2.0;
                let _ = writeln!(
                    s,
                    r#"<line x1="{cx:.1}" y1="{:.1}" x2="{cx:.1}" y2="{:.1}" stroke="black"/>"#,
                    y(sum.min),
                    y(sum.max)
                );
            }
        }
    }
    let _ = writeln!(
        s,
        r##"<text x="{:.0}" y="{:.0}" text-anchor="middle" fill="#555">{} · kernel {} · ring {}</text>"##,
        width / 2.0,
        height - 8.0,
        meta.get_str("date").unwrap_or(""),
        meta.get_str("kernel").unwrap_or(""),
        meta.get_str("ring_setup").unwrap_or("")
    );
    s.push_str("</svg>\n");
    s
}

/// The smallest of 1, 2, 2.5, 5 × 10^k at or above `x`.
fn nice_ceiling(x: f64) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= x {
            return m * p;
        }
    }
    10.0 * p
}

fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", fmt_num(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", fmt_num(v / 1e3))
    } else {
        fmt_num(v)
    }
}
