//! Tiny rings: a full SQ is flushed and retried, a full CQ overflows into the
//! kernel's list and no completion is lost.

mod common;

use ringbolt::Builder;

fn many_nops(rt: &ringbolt::Runtime, tasks: usize, per_task: usize) -> usize {
    rt.block_on(async {
        let mut hs = Vec::new();
        for _ in 0..tasks {
            hs.push(ringbolt::spawn(async move {
                let mut ok = 0;
                for _ in 0..per_task {
                    ringbolt::op::nop().await.unwrap();
                    ok += 1;
                }
                ok
            }));
        }
        let mut total = 0;
        for h in hs {
            total += h.await.unwrap();
        }
        total
    })
}

#[test]
fn a_two_entry_ring_completes_ten_thousand_ops() {
    let Some(rt) = common::uring(Builder::new().ring_entries(2)) else {
        return;
    };
    assert_eq!(many_nops(&rt, 100, 100), 10_000);
    let m = rt.metrics();
    assert_eq!(m.ops_completed, 10_000);
    assert_eq!(m.ops_in_flight, 0);
    assert!(
        m.sq_full > 0,
        "100 tasks on 2 SQ entries must have filled the SQ"
    );
}

#[test]
fn a_four_entry_cq_loses_no_completion() {
    let Some(rt) = common::uring(Builder::new().ring_entries(4).cq_entries(4)) else {
        return;
    };
    assert_eq!(many_nops(&rt, 1000, 10), 10_000);
    let m = rt.metrics();
    assert_eq!(m.ops_submitted, 10_000);
    assert_eq!(m.ops_completed, 10_000);
    assert_eq!(m.cq_dropped, 0);
    assert!(
        m.cq_overflows > 0,
        "1000 in flight on a 4-entry CQ must overflow: {m:?}"
    );
}
