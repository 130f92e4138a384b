//! Sockets registered in the ring's fixed-file table: a socket that sees a
//! few ops on one worker gets a slot, its ops use it, and the slot is
//! released whenever the descriptor goes away (dropped on its worker or on
//! another thread, taken out with `try_unwrap`), so the peer sees the end
//! of the stream and slots are reused. Under the thread-pool driver no
//! slot is ever taken.
//!
//! Every test opens sockets, so they all run one at a time (`serial`): the
//! descriptor count one of them checks is not moved by another.

mod common;

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::OnceLock;
use std::time::Duration;

use ringbolt::{Builder, Driver};
use ringbolt_runtime::op::net::send;
use ringbolt_runtime::SharedFd;

/// A connected pair: the server side as a `SharedFd`, the client as a
/// blocking std stream with a read timeout (a stream kept open by a
/// forgotten slot would time out instead of ending). All pairs share one
/// listener: the server side closes first and its TIME_WAIT holds the local
/// port, so a listener per pair would use up the ephemeral range.
fn pair() -> (SharedFd, TcpStream) {
    static LISTENER: OnceLock<TcpListener> = OnceLock::new();
    let listener = LISTENER.get_or_init(|| TcpListener::bind("127.0.0.1:0").unwrap());
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (server, _) = listener.accept().unwrap();
    (SharedFd::new(OwnedFd::from(server)), client)
}

/// Sends `n` one-byte messages through the ring; returns the slot the
/// descriptor holds afterwards.
async fn busy(fd: &SharedFd, n: usize) -> Option<u32> {
    for _ in 0..n {
        let (res, _) = send(fd.clone(), b"x".to_vec(), 0).await;
        assert_eq!(res.unwrap(), 1);
    }
    fd.fixed_slot()
}

/// Reads until the end of the stream; panics on a timeout.
fn read_to_end(mut client: TcpStream) -> usize {
    let mut all = Vec::new();
    client
        .read_to_end(&mut all)
        .expect("the stream must end once the server side is closed");
    all.len()
}

#[test]
fn a_busy_socket_gets_a_slot_and_dropping_it_ends_the_stream() {
    let _serial = common::serial();
    let Some(rt) = common::uring(Builder::new()) else {
        return;
    };
    let (fd, client) = pair();
    let slot = rt.block_on(async {
        // A few ops: not registered yet.
        assert_eq!(busy(&fd, 2).await, None, "registered too early");
        let slot = busy(&fd, 20).await;
        assert!(slot.is_some(), "a busy socket gets a fixed-file slot");
        slot
    });
    drop(fd);
    assert_eq!(
        read_to_end(client),
        22,
        "every byte, then the end of the stream"
    );
    // The slot is free again: the next busy socket takes it.
    let (fd2, client2) = pair();
    let again = rt.block_on(busy(&fd2, 20));
    assert_eq!(again, slot, "a released slot is reused");
    drop(fd2);
    assert_eq!(read_to_end(client2), 20);
}

#[test]
fn dropped_on_another_thread_the_slot_is_released_by_its_worker() {
    let _serial = common::serial();
    let Some(rt) = common::uring(Builder::new()) else {
        return;
    };
    let (fd, client) = pair();
    let slot = rt.block_on(busy(&fd, 20));
    assert!(slot.is_some());
    std::thread::spawn(move || drop(fd)).join().unwrap();
    // The release waits in the worker's remote queue until its loop runs.
    let reader = std::thread::spawn(move || read_to_end(client));
    rt.block_on(ringbolt::time::sleep(Duration::from_millis(200)));
    assert_eq!(reader.join().unwrap(), 20);
    let (fd2, _client2) = pair();
    assert_eq!(rt.block_on(busy(&fd2, 20)), slot, "the slot came back");
}

#[test]
fn try_unwrap_releases_the_slot_before_handing_out_the_descriptor() {
    let _serial = common::serial();
    let Some(rt) = common::uring(Builder::new()) else {
        return;
    };
    let (fd, client) = pair();
    let slot = rt.block_on(busy(&fd, 20));
    assert!(slot.is_some());
    let owned = fd.try_unwrap().expect("the only owner");
    let std_stream = TcpStream::from(owned);
    // Still a working socket.
    let mut w = &std_stream;
    std::io::Write::write_all(&mut w, b"yz").unwrap();
    drop(std_stream);
    assert_eq!(read_to_end(client), 22);
    let (fd2, _client2) = pair();
    assert_eq!(rt.block_on(busy(&fd2, 20)), slot);
}

#[test]
fn many_connections_reuse_slots_and_close_cleanly() {
    let _serial = common::serial();
    let Some(rt) = common::uring(Builder::new()) else {
        return;
    };
    let base = common::open_fds();
    rt.block_on(async {
        for _ in 0..20 {
            let mut open = Vec::new();
            for _ in 0..50 {
                let (fd, client) = pair();
                assert!(busy(&fd, 10).await.is_some());
                open.push((fd, client));
            }
            for (fd, client) in open {
                drop(fd);
                assert_eq!(read_to_end(client), 10);
            }
        }
    });
    assert_eq!(common::open_fds(), base, "descriptors back to the baseline");
}

#[test]
fn no_slot_without_a_ring() {
    let _serial = common::serial();
    let rt = Builder::new().driver(Driver::ThreadPool).build().unwrap();
    let (fd, client) = pair();
    assert_eq!(rt.block_on(busy(&fd, 20)), None);
    drop(fd);
    assert_eq!(read_to_end(client), 20);
}
