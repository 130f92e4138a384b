//! An echo server that prints the runtime's metrics every second while a
//! few local clients keep it busy.
//!
//! ```text
//! cargo run --release --example metrics [SECONDS]    # default 5
//! ```

use std::io::{Read as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ringbolt::net::{TcpListener, TcpStream};
use ringbolt::{Runtime, RuntimeMetrics};

async fn echo(stream: TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    loop {
        let (n, b) = stream.read(buf).await;
        if n? == 0 {
            return Ok(());
        }
        let (res, mut b) = stream.write_all(b).await;
        res?;
        b.clear();
        buf = b;
    }
}

fn p50_us(h: &Option<hdrhistogram::Histogram<u64>>) -> f64 {
    h.as_ref()
        .map_or(0.0, |h| h.value_at_quantile(0.5) as f64 / 1000.0)
}

fn print(m: &RuntimeMetrics, prev: &RuntimeMetrics) {
    println!(
        "tasks alive {:>4} | polls/s {:>8} | ring enters/s {:>7} | ops/s {:>8} (in flight {}) | \
         cancelled {} | slow polls {} | poll p50 {:.1} µs | loop busy p50 {:.1} µs",
        m.tasks_alive,
        m.polls - prev.polls,
        m.ring_enters - prev.ring_enters,
        m.ops_completed - prev.ops_completed,
        m.ops_in_flight,
        m.ops_cancelled,
        m.slow_polls,
        p50_us(&m.poll_time_ns),
        p50_us(&m.loop_busy_ns),
    );
    for op in &m.op_latency_ns {
        print!(
            "  {} p50 {:.1} µs p99 {:.1} µs;",
            op.name,
            op.latency_ns.value_at_quantile(0.5) as f64 / 1000.0,
            op.latency_ns.value_at_quantile(0.99) as f64 / 1000.0
        );
    }
    println!();
}

fn main() -> std::io::Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let rt = Runtime::new()?;
    println!("driver {:?}, ring {}", rt.driver_kind(), rt.ring_setup());
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    println!("echo server on {addr}, {seconds} s");
    rt.spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    ringbolt::spawn(async move {
                        let _ = echo(stream).await;
                    });
                }
                Err(e) => eprintln!("accept: {e}"),
            }
        }
    });

    // Four blocking clients on their own threads, stopped at the end.
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut s = std::net::TcpStream::connect(addr)?;
                let msg = [7u8; 64];
                let mut back = [0u8; 64];
                while !stop.load(Ordering::Relaxed) {
                    s.write_all(&msg)?;
                    s.read_exact(&mut back)?;
                }
                Ok(())
            })
        })
        .collect();

    let mut prev = rt.metrics();
    for _ in 0..seconds {
        rt.block_on(ringbolt::time::sleep(Duration::from_secs(1)));
        let m = rt.metrics();
        print(&m, &prev);
        prev = m;
    }
    stop.store(true, Ordering::Relaxed);
    // Let the clients finish their last round trip.
    rt.block_on(ringbolt::time::sleep(Duration::from_millis(50)));
    for c in clients {
        c.join().expect("client thread")?;
    }
    Ok(())
}
