//! `TcpStream::read_chunk`: received bytes handed out in the ring buffer
//! they landed in (no copy), or in a `Vec` where buffer rings are
//! unavailable. Tests that need the ring path check `BufRing::current()`
//! and say when they only exercised the fallback.

mod common;

use std::io::ErrorKind;
use std::time::Duration;

use common::{pair, payload, reset, ring_or_note, Dup};
use ringbolt::buf::RecvBuf;
use ringbolt::net::{TcpListener, UnixStream};
use ringbolt_runtime::bufring::BufRing;

/// Reads chunks until the end of the stream, with a bound on each wait;
/// returns their bytes (each chunk is dropped once copied, so its buffer
/// goes back to the ring).
async fn bytes_until_end(stream: &ringbolt::net::TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let next = ringbolt::time::timeout(Duration::from_secs(5), stream.read_chunk())
            .await
            .expect("a chunk or the end within 5 s");
        match next.unwrap() {
            Some(c) => {
                assert!(!c.is_empty(), "a chunk is never empty");
                bytes.extend_from_slice(&c);
            }
            None => return bytes,
        }
    }
}

#[test]
fn zero_copy_echo_is_byte_exact_and_gives_every_buffer_back() {
    ringbolt::run(async {
        let ring = ring_or_note("zero_copy_echo");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client, server) = pair(&listener).await;
        let server = ringbolt::spawn(async move {
            let mut ring_chunks = 0usize;
            while let Some(chunk) = server.read_chunk().await.unwrap() {
                ring_chunks += usize::from(chunk.is_ring_buffer());
                // The chunk itself is written back: nothing copied.
                let (res, chunk) = server.write_all(chunk).await;
                res.unwrap();
                drop(chunk);
            }
            server.shutdown(std::net::Shutdown::Write).await.unwrap();
            ring_chunks
        });
        let data = payload(512 * 1024, 3);
        let writer = {
            let data = data.clone();
            let client = client.as_raw_fd_dup();
            ringbolt::spawn(async move {
                for piece in data.chunks(7_777) {
                    let (res, _) = client.write_all(piece.to_vec()).await;
                    res.unwrap();
                }
                client.shutdown(std::net::Shutdown::Write).await.unwrap();
            })
        };
        let mut back = Vec::with_capacity(data.len());
        loop {
            let (n, buf) = client.read(Vec::with_capacity(64 * 1024)).await;
            if n.unwrap() == 0 {
                break;
            }
            back.extend_from_slice(&buf);
        }
        writer.await.unwrap();
        let ring_chunks = server.await.unwrap();
        assert_eq!(back.len(), data.len());
        assert!(back == data, "echoed bytes differ");
        if let Some(ring) = ring {
            assert!(ring_chunks > 0, "the ring path hands out ring buffers");
            assert_eq!(ring.in_use(), 0, "every buffer back in the ring: {ring:?}");
        } else {
            assert_eq!(ring_chunks, 0);
        }
    });
}

#[test]
fn held_chunks_keep_their_buffers_until_dropped_on_any_thread() {
    ringbolt::run(async {
        let ring = ring_or_note("held_chunks").map(|_| BufRing::install(8, 512).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client, server) = pair(&listener).await;
        let mut held = Vec::new();
        for (i, msg) in [&b"first"[..], b"second", b"third"].iter().enumerate() {
            let (res, _) = client.write_all(msg.to_vec()).await;
            res.unwrap();
            let chunk = server.read_chunk().await.unwrap().expect("a chunk");
            assert_eq!(&chunk[..], *msg);
            held.push(chunk);
            if let Some(ring) = &ring {
                assert!(held.iter().all(RecvBuf::is_ring_buffer));
                assert_eq!(ring.in_use(), i + 1, "one buffer per held chunk: {ring:?}");
            }
        }
        drop(held.remove(0));
        if let Some(ring) = &ring {
            assert_eq!(ring.in_use(), 2, "dropped on its worker: back at once");
        }
        // The other two die on another thread: back through the ring's
        // remote list, and readable again after they return.
        std::thread::spawn(move || drop(held)).join().unwrap();
        if let Some(ring) = &ring {
            assert_eq!(ring.in_use(), 0, "{ring:?}");
        }
        let (res, _) = client.write_all(b"fourth".to_vec()).await;
        res.unwrap();
        let chunk = server.read_chunk().await.unwrap().expect("a chunk");
        assert_eq!(&chunk[..], b"fourth");
        assert_eq!(chunk.into_vec(), b"fourth");
        if let Some(ring) = &ring {
            assert_eq!(ring.in_use(), 0, "into_vec gives the buffer back: {ring:?}");
            assert_eq!(ring.available(), 8);
        }
    });
}

#[test]
fn read_and_read_chunk_continue_where_the_other_stopped() {
    ringbolt::run(async {
        let ring = ring_or_note("read_then_chunk");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client, server) = pair(&listener).await;
        let (res, _) = client.write_all(b"hello world".to_vec()).await;
        res.unwrap();
        server.readable().await.unwrap();
        let (n, buf) = server.read(Vec::with_capacity(5)).await;
        assert_eq!(n.unwrap(), 5);
        assert_eq!(buf, b"hello");
        // On the ring path: the rest of the same ring buffer, from where the
        // read stopped; else a plain receive of what the socket still has.
        let rest = server.read_chunk().await.unwrap().expect("the rest");
        assert_eq!(rest.is_ring_buffer(), ring.is_some());
        assert_eq!(&rest[..], b" world");
        drop(rest);
        drop(client);
        assert!(bytes_until_end(&server).await.is_empty());
        // The end of the stream stays the end, for both kinds of read.
        assert!(server.read_chunk().await.unwrap().is_none());
        let (n, _) = server.read(Vec::with_capacity(8)).await;
        assert_eq!(n.unwrap(), 0);
        if let Some(ring) = ring {
            assert_eq!(ring.in_use(), 0, "{ring:?}");
        }
    });
}

#[test]
fn a_ring_emptied_by_held_chunks_resumes_when_they_are_dropped() {
    ringbolt::run(async {
        let Some(ring) = ring_or_note("held_dry").map(|_| BufRing::install(4, 512).unwrap()) else {
            return;
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client, server) = pair(&listener).await;
        let data = payload(6 * 512, 5);
        let (res, _) = client.write_all(data.clone()).await;
        res.unwrap();
        // Hold every buffer of the ring: the receive runs dry (ENOBUFS)
        // and the rest of the data waits in the socket.
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(server.read_chunk().await.unwrap().expect("a chunk"));
        }
        assert_eq!(ring.in_use(), 4, "{ring:?}");
        // The rest is read by another task (the same stream, moved), which
        // waits for a buffer to come back.
        let later = ringbolt::spawn(async move { bytes_until_end(&server).await });
        ringbolt::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !later.is_finished(),
            "nothing to read while the ring is dry"
        );
        let mut got: Vec<u8> = held.iter().flat_map(|c| c.iter().copied()).collect();
        drop(held);
        drop(client);
        got.extend_from_slice(&later.await.unwrap());
        assert!(got == data, "every byte once, in order");
        assert_eq!(ring.in_use(), 0, "{ring:?}");
        assert!(ring.enobufs() > 0, "the ring did run dry: {ring:?}");
    });
}

#[test]
fn a_reset_peer_is_an_error_after_the_data() {
    ringbolt::run(async {
        let ring = ring_or_note("chunk_reset").map(|_| BufRing::install(8, 512).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client, server) = pair(&listener).await;
        let (res, _) = client.write_all(vec![4u8; 1000]).await;
        res.unwrap();
        server.readable().await.unwrap();
        ringbolt::time::sleep(Duration::from_millis(10)).await;
        reset(client);
        ringbolt::time::sleep(Duration::from_millis(10)).await;
        let mut got = 0;
        let err = loop {
            match server.read_chunk().await {
                Ok(Some(c)) => got += c.len(),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        assert!(got <= 1000);
        let err = err.expect("a reset is an error, not an end of stream");
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        if let Some(ring) = ring {
            assert_eq!(ring.in_use(), 0, "{ring:?}");
        }
    });
}

#[test]
fn unix_streams_hand_out_chunks_as_tcp_streams_do() {
    ringbolt::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (res, _) = a.write_all(b"over a unix socket".to_vec()).await;
        res.unwrap();
        let chunk = b.read_chunk().await.unwrap().expect("a chunk");
        // In a ring buffer where the worker has a buffer ring, as on TCP.
        assert_eq!(chunk.is_ring_buffer(), BufRing::current().is_some());
        assert_eq!(&chunk[..], b"over a unix socket");
        drop(a);
        assert!(b.read_chunk().await.unwrap().is_none());
    });
}
