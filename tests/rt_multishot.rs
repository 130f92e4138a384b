//! Multishot ops: many CQEs from one SQE, cancellation on drop.

mod common;

use std::future::poll_fn;
use std::io::Write;
use std::time::Duration;

use common::pipe;
use ringbolt::op::{MultiOp, PollAdd};
use ringbolt::{Runtime, SharedFd};

const F_MORE: u32 = 1 << 1; // IORING_CQE_F_MORE

#[test]
fn multishot_poll_reports_every_event_and_cancels_on_drop() {
    let rt = Runtime::new().unwrap();
    let multishot = rt.block_on(async { ringbolt::op::multishot_supported() });
    rt.block_on(async {
        let (rx, tx) = pipe();
        let rx = SharedFd::new(rx);
        let mut events = MultiOp::new(PollAdd::multishot(rx.clone(), libc::POLLIN as u32));
        let mut tx = std::fs::File::from(tx);
        let mut seen = 0;
        for i in 0..3 {
            tx.write_all(&[i]).unwrap();
            let (res, flags) = poll_fn(|cx| events.poll_next_completion(cx))
                .await
                .expect("the stream ended early");
            assert!(res.unwrap() & libc::POLLIN as u32 != 0);
            assert!(flags & F_MORE != 0, "a multishot CQE must carry F_MORE");
            seen += 1;
            // Drain the pipe so the next write is a new event.
            let mut b = [0u8; 16];
            // SAFETY: reads into a valid stack buffer.
            let n = unsafe { libc::read(rx.as_raw_fd(), b.as_mut_ptr().cast(), 16) };
            assert_eq!(n, 1);
            ringbolt::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(seen, 3);
        // Dropping the stream cancels the op in the kernel.
        drop(events);
        ringbolt::time::sleep(Duration::from_millis(5)).await;
    });
    let m = rt.metrics();
    assert_eq!(m.ops_in_flight, 0, "{m:?}");
    if multishot {
        assert_eq!(m.ops_cancelled, 1, "{m:?}");
    } else if rt.driver_kind() == ringbolt::Driver::ThreadPool {
        // The thread-pool driver waits for the pipe on the worker's epoll:
        // no pool thread.
        assert_eq!(m.ops_blocking, 0, "{m:?}");
    } else {
        // Multishot switched off: one blocking poll per event.
        assert!(m.ops_blocking >= 3, "{m:?}");
    }
}

#[test]
fn a_one_shot_poll_completes_once() {
    ringbolt::run(async {
        let (rx, tx) = pipe();
        let rx = SharedFd::new(rx);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            std::fs::File::from(tx).write_all(b"x").unwrap();
        });
        let done = ringbolt::op::Op::new(PollAdd::new(rx, libc::POLLIN as u32)).await;
        assert!(done.result.unwrap() & libc::POLLIN as u32 != 0);
        t.join().unwrap();
    });
}

#[test]
fn a_multishot_op_awaited_as_an_op_is_refused_not_leaking_descriptors() {
    use std::os::fd::OwnedFd;
    // An Op sees only an op's last CQE: a multishot accept run that way
    // would drop (and leak) every connection's descriptor but the last.
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let fd = SharedFd::new(OwnedFd::from(listener));
        let _c = std::net::TcpStream::connect(addr).unwrap();
        let done = ringbolt::op::Op::new(ringbolt::op::net::AcceptMulti::new(fd.clone())).await;
        assert_eq!(
            done.result.unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
        // As a MultiOp it works.
        let mut accepted = MultiOp::new(ringbolt::op::net::AcceptMulti::new(fd));
        let (conn, _) = poll_fn(|cx| accepted.poll_next_completion(cx))
            .await
            .expect("the stream ended early");
        let conn = conn.unwrap();
        // SAFETY: an accept's result is a new descriptor nobody else owns.
        drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(conn as i32) });
    });
}
