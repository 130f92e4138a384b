//! `write_behind` and `flush`: sends queued without waiting for their
//! completion, one in flight per stream, errors reported by the next
//! write. Under the thread-pool driver `write_behind` sends before it
//! returns; every test checks the same bytes and errors on both paths.

mod common;

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;

use common::{pair, payload, reset, ring_or_note, Dup};
use ringbolt::net::{TcpListener, TcpStream, UnixStream};

/// Every byte `stream` receives until the end of the stream, each wait
/// bounded.
async fn read_to_end(stream: &TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    loop {
        let read = stream.read(Vec::with_capacity(64 * 1024));
        let (n, buf) = ringbolt::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("bytes or the end within 10 s");
        if n.unwrap() == 0 {
            return got;
        }
        got.extend_from_slice(&buf);
    }
}

#[test]
fn bytes_arrive_whole_and_in_order_across_a_full_socket_buffer() {
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client, server) = pair(&listener).await;
        let reader = ringbolt::spawn(async move { read_to_end(&server).await });
        // Pieces from 1 byte to 3 MiB: the big ones cannot fit the socket
        // buffers, so the kernel must wait for the reader part way through
        // (MSG_WAITALL) while later pieces queue behind.
        let sizes = [1, 100, 3 << 20, 7, 65_536, 2 << 20, 4_000, 1];
        let mut expected = Vec::new();
        for (i, &len) in sizes.iter().enumerate() {
            let piece = payload(len, i as u64 + 1);
            expected.extend_from_slice(&piece);
            client.write_behind(piece).await.unwrap();
        }
        client.write_behind(&b"-end"[..]).await.unwrap();
        expected.extend_from_slice(b"-end");
        client.flush().await.unwrap();
        client.shutdown(std::net::Shutdown::Write).await.unwrap();
        let got = reader.await.unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "bytes reordered or altered");
    });
}

#[test]
fn other_writes_and_shutdown_wait_for_the_send_in_flight() {
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client, server) = pair(&listener).await;
        let big = payload(4 << 20, 9);
        let reader = ringbolt::spawn(async move { read_to_end(&server).await });
        client.write_behind(big.clone()).await.unwrap();
        // Queued behind 4 MiB the reader has not taken yet: each of these
        // must go after it, in this order.
        let (res, _) = client.write(b"A".to_vec()).await;
        assert_eq!(res.unwrap(), 1);
        client.write_behind(&b"B"[..]).await.unwrap();
        let (res, _) = client.write_all(b"C".to_vec()).await;
        res.unwrap();
        client.write_behind(&b"D"[..]).await.unwrap();
        let (res, _) = client.writev(vec![b"E".to_vec(), b"F".to_vec()]).await;
        assert_eq!(res.unwrap(), 2);
        client.write_behind(&b"G"[..]).await.unwrap();
        // No flush: shutdown waits for G itself.
        client.shutdown(std::net::Shutdown::Write).await.unwrap();
        let got = reader.await.unwrap();
        assert_eq!(got.len(), big.len() + 7);
        assert!(got[..big.len()] == big[..], "the big send arrived intact");
        assert_eq!(&got[big.len()..], b"ABCDEFG");
    });
}

#[test]
fn a_dropped_stream_still_sends_what_it_queued_then_closes() {
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client, server) = pair(&listener).await;
        let data = payload(1 << 20, 4);
        client.write_behind(data.clone()).await.unwrap();
        // The send in flight holds the descriptor: it closes (once) after
        // the last byte is out, and the peer then reads the end.
        drop(client);
        let got = read_to_end(&server).await;
        assert!(got == data, "{} of {} bytes", got.len(), data.len());
    });
}

#[test]
fn a_failed_send_is_reported_once_by_the_next_write_and_the_runtime_goes_on() {
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client, server) = pair(&listener).await;
        reset(server);
        // The reset reaches the client asynchronously; keep writing until
        // a write (behind or not) reports it.
        let mut failure = None;
        for _ in 0..200 {
            let step = match client.write_behind(vec![7u8; 64 * 1024]).await {
                Ok(()) => client.flush().await,
                Err(e) => Err(e),
            };
            if let Err(e) = step {
                failure = Some(e);
                break;
            }
            ringbolt::time::sleep(Duration::from_millis(5)).await;
        }
        let e = failure.expect("a send to a reset peer fails");
        assert!(
            matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
            "{e:?}"
        );
        // Reported once: the stream's state is clear again, and the next
        // write gets the kernel's own answer.
        client.flush().await.unwrap();
        let (res, _) = client.write_all(b"more".to_vec()).await;
        let e = res.expect_err("still reset");
        assert!(
            matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
            "{e:?}"
        );
        // The runtime is fine: a new connection works.
        let (a, b) = pair(&listener).await;
        a.write_behind(&b"ok"[..]).await.unwrap();
        a.flush().await.unwrap();
        let (n, buf) = b.read(Vec::with_capacity(8)).await;
        assert_eq!(&buf[..n.unwrap()], b"ok");
    });
}

#[test]
fn concurrent_writers_never_interleave_their_messages() {
    ringbolt::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client, server) = pair(&listener).await;
        let client = Arc::new(client);
        const MSG: usize = 256 * 1024;
        const EACH: usize = 12;
        let writers: Vec<_> = (0..2u8)
            .map(|w| {
                let client = client.clone();
                ringbolt::spawn(async move {
                    for i in 0..EACH {
                        let fill = w * 100 + i as u8;
                        client.write_behind(vec![fill; MSG]).await.unwrap();
                        ringbolt::yield_now().await;
                    }
                })
            })
            .collect();
        let reader = ringbolt::spawn(async move { read_to_end(&server).await });
        for w in writers {
            w.await.unwrap();
        }
        client.flush().await.unwrap();
        client.shutdown(std::net::Shutdown::Write).await.unwrap();
        let got = reader.await.unwrap();
        assert_eq!(got.len(), 2 * EACH * MSG);
        let mut seen = Vec::new();
        for msg in got.chunks(MSG) {
            assert!(
                msg.iter().all(|&b| b == msg[0]),
                "a message was interleaved with another"
            );
            seen.push(msg[0]);
        }
        for w in 0..2u8 {
            let mine: Vec<u8> = seen.iter().copied().filter(|f| f / 100 == w).collect();
            let want: Vec<u8> = (0..EACH as u8).map(|i| w * 100 + i).collect();
            assert_eq!(mine, want, "writer {w}'s messages in its own order");
        }
    });
}

#[test]
fn echoed_chunks_go_back_to_the_ring_once_sent() {
    ringbolt::run(async {
        let ring = ring_or_note("write_behind_echo");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client, server) = pair(&listener).await;
        let echo = ringbolt::spawn(async move {
            while let Some(chunk) = server.read_chunk().await.unwrap() {
                server.write_behind(chunk).await.unwrap();
            }
            server.flush().await.unwrap();
            server.shutdown(std::net::Shutdown::Write).await.unwrap();
        });
        let data = payload(1 << 20, 5);
        let writer = {
            let data = data.clone();
            let client = client.as_raw_fd_dup();
            ringbolt::spawn(async move {
                for piece in data.chunks(10_000) {
                    client.write_behind(piece.to_vec()).await.unwrap();
                }
                client.shutdown(std::net::Shutdown::Write).await.unwrap();
            })
        };
        let back = read_to_end(&client).await;
        writer.await.unwrap();
        echo.await.unwrap();
        assert!(
            back == data,
            "{} of {} bytes echoed",
            back.len(),
            data.len()
        );
        if let Some(ring) = ring {
            assert_eq!(ring.in_use(), 0, "every buffer back in the ring: {ring:?}");
        }
    });
}

#[test]
fn unix_streams_write_behind_too() {
    ringbolt::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let data = payload(300_000, 6);
        let reader = ringbolt::spawn(async move {
            let mut got = Vec::new();
            loop {
                let (n, buf) = b.read(Vec::with_capacity(32 * 1024)).await;
                if n.unwrap() == 0 {
                    return got;
                }
                got.extend_from_slice(&buf);
            }
        });
        for piece in data.chunks(50_000) {
            a.write_behind(piece.to_vec()).await.unwrap();
        }
        a.flush().await.unwrap();
        a.shutdown(std::net::Shutdown::Write).await.unwrap();
        assert!(reader.await.unwrap() == data);
    });
}

#[test]
fn a_short_send_resumes_with_only_the_bytes_not_sent() {
    // How a write-behind send that stopped short is resumed: the same op,
    // advanced past what went out. Checked through the ring (the op) and
    // the synchronous path (`run_blocking`, the thread-pool driver's).
    use ringbolt::op::net::Send;
    use ringbolt::op::{Op, OpCode};
    use std::io::Read;

    let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = ringbolt::SharedFd::new(std::os::fd::OwnedFd::from(ours));
    let msg = payload(1000, 7);
    ringbolt::run(async {
        let send = Send::new(fd.clone(), msg.clone(), 0).advance(300);
        assert_eq!(send.remaining(), 700);
        let done = Op::new(send).await;
        assert_eq!(done.result.unwrap(), 700);
        // Advancing past the end leaves nothing to send.
        assert_eq!(done.data.advance(5000).remaining(), 0);
    });
    let mut send = Send::new(fd, msg.clone(), 0).advance(990);
    assert_eq!(send.run_blocking().unwrap(), 10);
    let mut got = vec![0u8; 710];
    theirs.read_exact(&mut got).unwrap();
    assert_eq!(&got[..700], &msg[300..]);
    assert_eq!(&got[700..], &msg[990..]);
}
