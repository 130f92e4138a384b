//! A tour of ringbolt: tasks, timers, a blocking job and file reads through
//! io_uring, with the runtime's counters at the end.
//!
//! Run with `cargo run --release --example tour [FILE]` (default: this
//! program's own binary, a few MiB).

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use ringbolt::op::{Op, Read};
use ringbolt::time::{interval, sleep, timeout};
use ringbolt::{Runtime, SharedFd};

/// Reads the whole file with `depth` reads of `chunk` bytes in flight.
async fn read_file(fd: SharedFd, len: u64, chunk: usize, depth: usize) -> std::io::Result<u64> {
    let mut total = 0u64;
    let mut next = 0u64;
    let mut inflight = Vec::new();
    loop {
        while inflight.len() < depth && next < len {
            let op = Op::new(Read::new(fd.clone(), Vec::with_capacity(chunk), next));
            inflight.push(ringbolt::spawn(op));
            next += chunk as u64;
        }
        if inflight.is_empty() {
            return Ok(total);
        }
        let done = inflight.remove(0).await.map_err(std::io::Error::from)?;
        total += u64::from(done.result?);
    }
}

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or(std::env::current_exe()?);
    let rt = Runtime::new()?;
    println!("ringbolt runtime up; ring setup flags: {}", rt.ring_setup());

    rt.block_on(async {
        // 1. Tasks run concurrently on one thread.
        let t = Instant::now();
        let handles: Vec<_> = (0..1000u64)
            .map(|i| {
                ringbolt::spawn(async move {
                    sleep(Duration::from_millis(i % 50)).await;
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.expect("task failed");
        }
        println!(
            "1000 tasks sleeping up to 50 ms each finished together in {:?} (sum {sum})",
            t.elapsed()
        );

        // 2. Timers: an interval and a timeout.
        let mut tick = interval(Duration::from_millis(10));
        let t = Instant::now();
        for _ in 0..5 {
            tick.tick().await;
        }
        println!("5 interval ticks of 10 ms took {:?}", t.elapsed());
        let late = timeout(Duration::from_millis(20), sleep(Duration::from_secs(5))).await;
        println!("a 5 s sleep under a 20 ms timeout: {late:?}");

        // 3. A blocking call goes to the pool, not the ring's thread.
        let who = ringbolt::spawn_blocking(|| std::thread::current().name().map(String::from))
            .await
            .expect("blocking job failed");
        println!("spawn_blocking ran on thread {who:?}");

        // 4. File reads through io_uring: 8 reads of 256 KiB in flight.
        let file = std::fs::File::open(&path)?;
        let len = file.metadata()?.len();
        let fd = SharedFd::new(OwnedFd::from(file));
        let t = Instant::now();
        let n = read_file(fd, len, 256 * 1024, 8).await?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "read {} ({n} bytes) through the ring in {:.2} ms ({:.0} MiB/s)",
            path.display(),
            secs * 1e3,
            n as f64 / (1 << 20) as f64 / secs
        );
        std::io::Result::Ok(())
    })?;

    let m = rt.metrics();
    println!(
        "runtime counters: {} tasks spawned, {} ops submitted, {} completed, {} ring enters, {} loop iterations",
        m.tasks_spawned, m.ops_submitted, m.ops_completed, m.ring_enters, m.loop_iterations
    );
    Ok(())
}
