//! Reads after a short read. Under the thread-pool driver a receive that
//! got fewer bytes than it asked for marks the socket drained, and the
//! next read then waits for the socket's next report without trying (as
//! tokio does). These check that no bytes are stranded by that: neither
//! behind a read that filled its buffer, nor behind a report the worker
//! took while no read was waiting, nor the end of the stream behind the
//! last bytes. Each runs under each driver.

mod common;

use std::sync::Arc;
use std::time::Duration;

use ringbolt::net::TcpStream;
use ringbolt::time::timeout;

/// Long enough for loopback bytes on a loaded machine.
const LONG: Duration = Duration::from_secs(5);

async fn read_some(stream: &TcpStream, cap: usize, what: &str) -> Vec<u8> {
    let (res, buf) = timeout(LONG, stream.read(Vec::with_capacity(cap)))
        .await
        .unwrap_or_else(|_| panic!("{what}: no bytes within {LONG:?}"));
    let n = res.unwrap();
    assert!(n > 0, "{what}: end of stream");
    buf[..n].to_vec()
}

/// Starts a read of up to `cap` bytes on `server`, lets it reach its wait
/// on the empty socket (so the socket is registered), then has `client`
/// send `bytes`: the read's bytes.
async fn read_while_waiting(
    client: &TcpStream,
    server: &Arc<TcpStream>,
    cap: usize,
    bytes: Vec<u8>,
) -> Vec<u8> {
    let read = {
        let server = server.clone();
        ringbolt::spawn(async move { read_some(&server, cap, "the waiting read").await })
    };
    ringbolt::time::sleep(Duration::from_millis(10)).await;
    let (res, _) = client.write_all(bytes).await;
    res.unwrap();
    read.await.unwrap()
}

/// A read that waited (so the socket is registered), then one that fills
/// its buffer exactly: the rest must come at once to the next read. A
/// full read says nothing about what is left behind it.
#[test]
fn a_read_that_fills_its_buffer_does_not_strand_the_rest() {
    for (driver, rt) in common::runtimes(|b| b) {
        rt.block_on(async {
            let (client, server) = common::connected_pair().await;
            let server = Arc::new(server);
            let got = read_while_waiting(&client, &server, 100, vec![7u8; 200]).await;
            assert_eq!(got.len(), 100, "{driver:?}");
            let rest = read_some(&server, 100, &format!("{driver:?}: second read")).await;
            assert_eq!(rest, vec![7u8; 100], "{driver:?}");
        });
    }
}

/// A short read drains the socket; new bytes then arrive, and the worker
/// sleeps (taking the socket's report with no read waiting) before the
/// next read: that read must still get them.
#[test]
fn bytes_reported_while_no_read_waits_reach_the_next_read() {
    for (driver, rt) in common::runtimes(|b| b) {
        rt.block_on(async {
            let (client, server) = common::connected_pair().await;
            let server = Arc::new(server);
            for round in 0..5u8 {
                let got = read_while_waiting(&client, &server, 4096, vec![round; 10]).await;
                assert_eq!(got, vec![round; 10], "{driver:?}");
                // Drained. These bytes are reported while nobody reads.
                let (res, _) = client.write_all(vec![round + 100; 10]).await;
                res.unwrap();
                ringbolt::time::sleep(Duration::from_millis(20)).await;
                let what = format!("{driver:?}: round {round}, the read after the report");
                assert_eq!(read_some(&server, 4096, &what).await, vec![round + 100; 10]);
            }
        });
    }
}

/// The peer sends its last bytes and shuts down its side: the read that
/// takes the bytes is short, and the end of the stream, already reported
/// with them, must still come to the next read (a state, not a new
/// report).
#[test]
fn the_end_of_the_stream_behind_a_short_read_reaches_the_next_read() {
    for (driver, rt) in common::runtimes(|b| b) {
        rt.block_on(async {
            let (client, server) = common::connected_pair().await;
            let server = Arc::new(server);
            // The shutdown follows the bytes before the worker waits, so
            // one report carries both.
            let read = {
                let server = server.clone();
                ringbolt::spawn(async move { read_some(&server, 4096, "last bytes").await })
            };
            ringbolt::time::sleep(Duration::from_millis(10)).await;
            let (res, _) = client.write_all(b"last".to_vec()).await;
            res.unwrap();
            client.shutdown(std::net::Shutdown::Write).await.unwrap();
            assert_eq!(read.await.unwrap(), b"last", "{driver:?}");
            let (res, _) = timeout(LONG, server.read(Vec::with_capacity(4096)))
                .await
                .unwrap_or_else(|_| panic!("{driver:?}: no end of stream within {LONG:?}"));
            assert_eq!(res.unwrap(), 0, "{driver:?}");
        });
    }
}
