//! ringbolt::sync against tokio::sync, on tokio's current_thread runtime.
//!
//! Three workloads: an uncontended Mutex lock/unlock, an uncontended
//! Semaphore acquire/release, and a bounded mpsc ping-pong between two
//! tasks (ns per message, i.e. per one-way hop). Rounds alternate ringbolt
//! and tokio (A B A B ...) so drift hits both alike; the median ns/op of
//! each is printed with the ratio ringbolt / tokio (below 1 = faster).
//!
//! `cargo bench --bench sync [-- --json PATH] [-- --rounds N]`

use std::hint::black_box;
use std::time::Instant;

const ROUNDS: usize = 9;
const LOCK_ITERS: u64 = 2_000_000;
const PING_ITERS: u64 = 200_000;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio current_thread runtime")
}

fn ns_per_op(start: Instant, ops: u64) -> f64 {
    start.elapsed().as_nanos() as f64 / ops as f64
}

fn ours_mutex(rt: &tokio::runtime::Runtime) -> f64 {
    rt.block_on(async {
        let m = ringbolt::sync::Mutex::new(0u64);
        let t = Instant::now();
        for _ in 0..LOCK_ITERS {
            let mut g = m.lock().await;
            *g += 1;
            black_box(&*g);
        }
        ns_per_op(t, LOCK_ITERS)
    })
}

fn tokio_mutex(rt: &tokio::runtime::Runtime) -> f64 {
    rt.block_on(async {
        let m = tokio::sync::Mutex::new(0u64);
        let t = Instant::now();
        for _ in 0..LOCK_ITERS {
            let mut g = m.lock().await;
            *g += 1;
            black_box(&*g);
        }
        ns_per_op(t, LOCK_ITERS)
    })
}

fn ours_semaphore(rt: &tokio::runtime::Runtime) -> f64 {
    rt.block_on(async {
        let s = ringbolt::sync::Semaphore::new(4);
        let t = Instant::now();
        for _ in 0..LOCK_ITERS {
            let p = s.acquire().await.unwrap();
            black_box(&p);
        }
        ns_per_op(t, LOCK_ITERS)
    })
}

fn tokio_semaphore(rt: &tokio::runtime::Runtime) -> f64 {
    rt.block_on(async {
        let s = tokio::sync::Semaphore::new(4);
        let t = Instant::now();
        for _ in 0..LOCK_ITERS {
            let p = s.acquire().await.unwrap();
            black_box(&p);
        }
        ns_per_op(t, LOCK_ITERS)
    })
}

fn ours_ping_pong(rt: &tokio::runtime::Runtime) -> f64 {
    use ringbolt::sync::mpsc;
    rt.block_on(async {
        let (tx_a, mut rx_a) = mpsc::channel::<u64>(1);
        let (tx_b, mut rx_b) = mpsc::channel::<u64>(1);
        let echo = tokio::spawn(async move {
            while let Some(v) = rx_a.recv().await {
                if tx_b.send(v + 1).await.is_err() {
                    break;
                }
            }
        });
        let t = Instant::now();
        let mut v = 0;
        for _ in 0..PING_ITERS {
            tx_a.send(v).await.unwrap();
            v = rx_b.recv().await.unwrap();
        }
        let ns = ns_per_op(t, 2 * PING_ITERS);
        assert_eq!(v, PING_ITERS);
        drop(tx_a);
        echo.await.unwrap();
        ns
    })
}

fn tokio_ping_pong(rt: &tokio::runtime::Runtime) -> f64 {
    use tokio::sync::mpsc;
    rt.block_on(async {
        let (tx_a, mut rx_a) = mpsc::channel::<u64>(1);
        let (tx_b, mut rx_b) = mpsc::channel::<u64>(1);
        let echo = tokio::spawn(async move {
            while let Some(v) = rx_a.recv().await {
                if tx_b.send(v + 1).await.is_err() {
                    break;
                }
            }
        });
        let t = Instant::now();
        let mut v = 0;
        for _ in 0..PING_ITERS {
            tx_a.send(v).await.unwrap();
            v = rx_b.recv().await.unwrap();
        }
        let ns = ns_per_op(t, 2 * PING_ITERS);
        assert_eq!(v, PING_ITERS);
        drop(tx_a);
        echo.await.unwrap();
        ns
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

struct Row {
    name: &'static str,
    ours: f64,
    tokio: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1).cloned());
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(ROUNDS)
        .max(5);

    type Bench = fn(&tokio::runtime::Runtime) -> f64;
    let cases: [(&str, Bench, Bench); 3] = [
        ("mutex_uncontended_lock_unlock", ours_mutex, tokio_mutex),
        (
            "semaphore_uncontended_acquire_release",
            ours_semaphore,
            tokio_semaphore,
        ),
        (
            "mpsc_ping_pong_per_message",
            ours_ping_pong,
            tokio_ping_pong,
        ),
    ];
    let rt = rt();
    let mut rows = Vec::new();
    for (name, ours, theirs) in cases {
        // Warm-up, not measured.
        ours(&rt);
        theirs(&rt);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            a.push(ours(&rt));
            b.push(theirs(&rt));
        }
        rows.push(Row {
            name,
            ours: median(&mut a),
            tokio: median(&mut b),
        });
    }

    println!(
        "ringbolt::sync vs tokio::sync, current_thread, median of {rounds} interleaved rounds"
    );
    println!(
        "{:<40} {:>12} {:>12} {:>8}",
        "benchmark", "ringbolt ns", "tokio ns", "ratio"
    );
    for r in &rows {
        println!(
            "{:<40} {:>12.1} {:>12.1} {:>8.2}",
            r.name,
            r.ours,
            r.tokio,
            r.ours / r.tokio
        );
    }

    if let Some(path) = json {
        let mut s = String::from("{\n  \"unit\": \"ns/op\",\n");
        s.push_str(&format!("  \"rounds\": {rounds},\n  \"results\": [\n"));
        for (i, r) in rows.iter().enumerate() {
            s.push_str(&format!(
                "    {{\"name\": \"{}\", \"ringbolt\": {:.2}, \"tokio\": {:.2}, \"ratio\": {:.4}}}{}\n",
                r.name,
                r.ours,
                r.tokio,
                r.ours / r.tokio,
                if i + 1 == rows.len() { "" } else { "," }
            ));
        }
        s.push_str("  ]\n}\n");
        if let Err(e) = std::fs::write(&path, s) {
            eprintln!("cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
}
