//! Smoke test.
use std::time::{Duration, Instant};

#[test]
fn smoke() {
    ringbolt::run(async {
        let h = ringbolt::spawn(async { 1 + 1 });
        assert_eq!(h.await.unwrap(), 2);
        for _ in 0..100 {
            ringbolt::op::nop().await.unwrap();
        }
        let t = Instant::now();
        ringbolt::time::sleep(Duration::from_millis(30)).await;
        assert!(t.elapsed() >= Duration::from_millis(30));
        let b = ringbolt::spawn_blocking(|| 5).await.unwrap();
        assert_eq!(b, 5);
    });
}
