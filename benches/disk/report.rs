//! The report: a Markdown table (medians across rounds, spread, ratio to
//! ringbolt-uring) and an SVG chart (IOPS and p99 by in-flight count per
//! contender, log-scale y), both drawn from the result records.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::common::{fmt_num, summarize, Record, Summary};
use crate::{Contender, Workload};

/// The figures of one (workload, in flight, contender) cell across rounds.
struct Cell {
    iops: Summary,
    rounds: usize,
    fields: BTreeMap<&'static str, f64>,
}

type Key = (Workload, usize, Contender);

const FIELDS: [&str; 8] = [
    "mib_s",
    "p50_us",
    "p99_us",
    "p999_us",
    "max_us",
    "cpu_us_per_op",
    "resident_fraction",
    "ring_enters_per_op",
];

fn cells(results: &[Record]) -> BTreeMap<Key, Cell> {
    let mut groups: BTreeMap<Key, Vec<&Record>> = BTreeMap::new();
    for r in results {
        let w = r.get_str("workload").and_then(Workload::from_name);
        let c = r.get_str("contender").and_then(Contender::from_name);
        let n = r.get_num("inflight").map(|n| n as usize);
        if let (Some(w), Some(c), Some(n)) = (w, c, n) {
            groups.entry((w, n, c)).or_default().push(r);
        }
    }
    let mut out = BTreeMap::new();
    for (k, rs) in groups {
        let col = |f: &str| rs.iter().filter_map(|r| r.get_num(f)).collect::<Vec<f64>>();
        let Some(iops) = summarize(&col("iops")) else {
            continue;
        };
        let mut fields = BTreeMap::new();
        for f in FIELDS {
            if let Some(s) = summarize(&col(f)) {
                fields.insert(f, s.median);
            }
        }
        out.insert(
            k,
            Cell {
                iops,
                rounds: rs.len(),
                fields,
            },
        );
    }
    out
}

fn describe(w: Workload) -> &'static str {
    match w {
        Workload::RandReadBuffered => "4 KiB random reads, page cache warm",
        Workload::RandReadDirect => "4 KiB random reads, O_DIRECT (device-bound)",
        Workload::SeqReadDirect => "128 KiB sequential reads, O_DIRECT",
        Workload::SeqWriteDirect => "128 KiB sequential writes (overwrites), O_DIRECT",
        Workload::ReadFile => {
            "whole-file reads (`fs::read`) of 256 files of 1 MiB, page cache warm"
        }
        Workload::AppendFsync => "1 KiB appends + fdatasync, one log per writer",
    }
}

fn meta_line(meta: &Record, key: &str) -> String {
    meta.get_str(key)
        .map(String::from)
        .or_else(|| meta.get_num(key).map(fmt_num))
        .unwrap_or_else(|| "?".into())
}

/// The Markdown report.
pub(crate) fn markdown(meta: &Record, results: &[Record], notes: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# ringbolt disk benchmark\n");
    let _ = writeln!(s, "Command: `{}`\n", meta_line(meta, "command"));
    let file_mib = meta.get_num("file_size").unwrap_or(0.0) / (1u64 << 20) as f64;
    let _ = writeln!(
        s,
        "Conditions: {} — kernel {}, {} cores ({}), {} MiB RAM; file system {}; \
         data file {} MiB; io_uring setup `{}`; one runtime thread (ringbolt, tokio \
         current_thread); {} s measured per cell after {} s warm-up; rustc {}, tokio {}, \
         fio {}, Python {} + aiofiles {}; commit {}; load average {} at the start, {} at \
         the end.\n",
        meta_line(meta, "date"),
        meta_line(meta, "kernel"),
        meta_line(meta, "cores"),
        meta_line(meta, "cpu"),
        meta_line(meta, "mem_total_mib"),
        meta_line(meta, "fs"),
        fmt_num(file_mib),
        meta_line(meta, "ring_setup"),
        meta_line(meta, "duration_s"),
        meta_line(meta, "warmup_s"),
        meta_line(meta, "rustc"),
        meta_line(meta, "tokio_version"),
        meta_line(meta, "fio"),
        meta_line(meta, "python"),
        meta_line(meta, "aiofiles"),
        meta_line(meta, "git_commit"),
        meta_line(meta, "loadavg_start"),
        meta_line(meta, "loadavg_end"),
    );
    let _ = writeln!(
        s,
        "Medians across interleaved rounds; spread is the min–max of IOPS; × is the \
         ratio of median IOPS to ringbolt-uring's. Latencies are per operation \
         (hdrhistogram; Python and fio compute their own); CPU is user + system time \
         of the whole process per operation (pool threads included). fio-io_uring \
         runs with registered file and buffers and batched submission (its best \
         setup); fio-psync runs N threads for N in flight.\n"
    );
    let cells = cells(results);
    let mut current: Option<Workload> = None;
    for (&(w, n, c), cell) in &cells {
        if current != Some(w) {
            current = Some(w);
            let _ = writeln!(s, "\n## {} — {}\n", w.name(), describe(w));
            let _ = writeln!(
                s,
                "| in flight | contender | IOPS | spread | × uring | MiB/s | p50 µs | p99 µs | \
                 p99.9 µs | max µs | CPU µs/op | resident | rounds |"
            );
            let _ = writeln!(
                s,
                "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            );
        }
        let base = cells
            .get(&(w, n, Contender::RingboltUring))
            .map(|b| b.iops.median);
        let ratio = base.map_or("—".to_string(), |b| {
            format!("{:.2}×", cell.iops.median / b)
        });
        let f = |k: &str| cell.fields.get(k).map_or("—".to_string(), |v| fmt_num(*v));
        let resident = cell
            .fields
            .get("resident_fraction")
            .map_or("—".to_string(), |v| format!("{:.1} %", v * 100.0));
        let name = if c == Contender::RingboltUring {
            format!("**{}**", c.name())
        } else {
            c.name().to_string()
        };
        let _ = writeln!(
            s,
            "| {n} | {name} | {} | {}–{} | {ratio} | {} | {} | {} | {} | {} | {} | {resident} | {} |",
            fmt_num(cell.iops.median),
            fmt_num(cell.iops.min),
            fmt_num(cell.iops.max),
            f("mib_s"),
            f("p50_us"),
            f("p99_us"),
            f("p999_us"),
            f("max_us"),
            f("cpu_us_per_op"),
            cell.rounds,
        );
    }
    if !notes.is_empty() {
        let _ = writeln!(s, "\nNotes:\n");
        for n in notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    s
}

fn color(c: Contender) -> &'static str {
    match c {
        Contender::RingboltUring => "#d62728",
        Contender::RingboltThreadPool => "#ff9896",
        Contender::TokioFs => "#1f77b4",
        Contender::TokioSpawnBlocking => "#17becf",
        Contender::PythonAiofiles => "#2ca02c",
        Contender::FioIoUring => "#555555",
        Contender::FioPsync => "#aaaaaa",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A short label for a value on a log axis.
fn tick_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{}k", v / 1e3)
    } else {
        format!("{v}")
    }
}

/// The SVG chart: one row per workload, IOPS on the left, p99 on the right.
pub(crate) fn svg(meta: &Record, results: &[Record]) -> String {
    let cells = cells(results);
    let workloads: Vec<Workload> = {
        let mut v: Vec<Workload> = cells.keys().map(|k| k.0).collect();
        v.dedup();
        v
    };
    let contenders: Vec<Contender> = Contender::ALL
        .into_iter()
        .filter(|c| cells.keys().any(|k| k.2 == *c))
        .collect();
    let (pw, ph) = (440.0, 230.0);
    let (ml, mt, gap) = (70.0, 40.0, 90.0);
    let row_h = ph + 80.0;
    let width = ml + 2.0 * pw + gap + 30.0;
    let legend_h = 30.0;
    let height = 70.0 + legend_h + row_h * workloads.len() as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{ml}\" y=\"22\" font-size=\"16\" font-weight=\"bold\">ringbolt disk benchmark: \
         io_uring vs the thread-pool approach</text>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{ml}\" y=\"40\" fill=\"#555\">{} — kernel {}, {} cores, {}; medians of \
         interleaved rounds; log-scale y</text>",
        esc(&meta_line(meta, "date")),
        esc(&meta_line(meta, "kernel")),
        esc(&meta_line(meta, "cores")),
        esc(&meta_line(meta, "fs")),
    );
    // Legend.
    let mut x = ml;
    for &c in &contenders {
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"52\" width=\"14\" height=\"4\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"58\">{}</text>",
            color(c),
            x + 18.0,
            c.name()
        );
        x += 28.0 + 7.0 * c.name().len() as f64;
    }
    for (row, &w) in workloads.iter().enumerate() {
        let top = 70.0 + legend_h + row as f64 * row_h + mt;
        let ns: Vec<usize> = {
            let mut v: Vec<usize> = cells.keys().filter(|k| k.0 == w).map(|k| k.1).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        for (panel, (field, title)) in [
            ("iops", "IOPS (higher is better)"),
            ("p99_us", "p99 latency, µs (lower is better)"),
        ]
        .into_iter()
        .enumerate()
        {
            let left = ml + panel as f64 * (pw + gap);
            let value = |cell: &Cell| {
                if field == "iops" {
                    Some(cell.iops.median)
                } else {
                    cell.fields.get(field).copied()
                }
            };
            let vals: Vec<f64> = cells
                .iter()
                .filter(|(k, _)| k.0 == w)
                .filter_map(|(_, c)| value(c))
                .filter(|v| *v > 0.0 && v.is_finite())
                .collect();
            if vals.is_empty() {
                continue;
            }
            let lo = 10f64.powf(
                vals.iter()
                    .copied()
                    .fold(f64::MAX, f64::min)
                    .log10()
                    .floor(),
            );
            let hi = 10f64
                .powf(vals.iter().copied().fold(0.0, f64::max).log10().ceil())
                .max(lo * 10.0);
            let y = |v: f64| top + ph - (v.log10() - lo.log10()) / (hi.log10() - lo.log10()) * ph;
            let xs = |i: usize| {
                if ns.len() == 1 {
                    left + pw / 2.0
                } else {
                    left + 20.0 + i as f64 * (pw - 40.0) / (ns.len() - 1) as f64
                }
            };
            let _ = writeln!(
                s,
                "<text x=\"{left}\" y=\"{}\" font-weight=\"bold\">{} — {}</text>",
                top - 10.0,
                w.name(),
                title
            );
            let _ = writeln!(
                s,
                "<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#999\"/>"
            );
            let mut d = lo;
            while d <= hi * 1.0001 {
                for m in [1.0, 2.0, 5.0] {
                    let v = d * m;
                    if v > hi * 1.0001 {
                        break;
                    }
                    let yy = y(v);
                    let major = m == 1.0;
                    let _ = writeln!(
                        s,
                        "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"{}\"/>\
                         <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>",
                        left + pw,
                        if major { "#ccc" } else { "#eee" },
                        left - 4.0,
                        yy + 4.0,
                        tick_label(v)
                    );
                }
                d *= 10.0;
            }
            for (i, n) in ns.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">{n}</text>",
                    xs(i),
                    top + ph + 16.0
                );
            }
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">in flight</text>",
                left + pw / 2.0,
                top + ph + 32.0
            );
            for &c in &contenders {
                let pts: Vec<(f64, f64)> = ns
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| {
                        let v = value(cells.get(&(w, *n, c))?)?;
                        (v > 0.0 && v.is_finite()).then(|| (xs(i), y(v)))
                    })
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                let path: Vec<String> = pts.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
                let width = if c == Contender::RingboltUring { 3 } else { 2 };
                let _ = writeln!(
                    s,
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{width}\"/>",
                    path.join(" "),
                    color(c)
                );
                for (a, b) in pts {
                    let _ = writeln!(
                        s,
                        "<circle cx=\"{a:.1}\" cy=\"{b:.1}\" r=\"3\" fill=\"{}\"/>",
                        color(c)
                    );
                }
            }
        }
    }
    s.push_str("</svg>\n");
    s
}
