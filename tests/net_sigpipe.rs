//! A write to a reset peer fails with EPIPE/ECONNRESET and never kills the
//! process with SIGPIPE, even with SIGPIPE's default disposition restored.
//! (One test in its own binary: it changes a process-wide setting.)
//!
//! Recent kernels add MSG_NOSIGNAL to io_uring sends themselves; the
//! synchronous fallbacks (plain `send(2)`) are where the flag matters on
//! every kernel, so they are checked too.

use std::io;
use std::net::Shutdown;
use std::time::Duration;

use ringbolt::net::{TcpListener, TcpStream, UnixStream};
use ringbolt::op::net::{Send, SendMsg};
use ringbolt::op::OpCode;
use ringbolt::SharedFd;

fn is_broken(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPIPE) | Some(libc::ECONNRESET))
}

#[test]
fn writes_to_a_reset_peer_return_errors_not_sigpipe() {
    // SAFETY: restoring the default disposition of SIGPIPE (terminate the
    // process) is what an embedding program may do; nothing else in this
    // test binary installs a SIGPIPE handler.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    ringbolt::run(async {
        // TCP: the peer closes; the first write draws an RST, the next ones
        // fail with EPIPE/ECONNRESET.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        drop(server);
        let mut err = None;
        for _ in 0..100 {
            let (res, _) = client.write(vec![1u8; 1024]).await;
            if let Err(e) = res {
                err = Some(e);
                break;
            }
            ringbolt::time::sleep(Duration::from_millis(5)).await;
        }
        let err = err.expect("writes to a closed peer kept succeeding");
        assert!(is_broken(&err), "unexpected error {err:?}");
        // Vectored writes (SENDMSG) too.
        let (res, _) = client.writev(vec![vec![1u8; 16]]).await;
        assert!(is_broken(&res.unwrap_err()));
        // write_all too.
        let (res, _) = client.write_all(vec![1u8; 16]).await;
        assert!(is_broken(&res.unwrap_err()));

        // Unix: a write after the peer is gone fails with EPIPE at once.
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let (res, _) = a.write(b"x".to_vec()).await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EPIPE));

        // Our own shutdown(Write): EPIPE as well.
        let (c, _d) = UnixStream::pair().unwrap();
        c.shutdown(Shutdown::Write).await.unwrap();
        let (res, _) = c.write(b"y".to_vec()).await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EPIPE));
    });

    // The synchronous equivalents (`send(2)`, `sendmsg(2)`), which raise
    // SIGPIPE without the flag on every kernel.
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(b);
    let fd = SharedFd::new(a.into());
    let err = Send::new(fd.clone(), b"x".to_vec(), 0)
        .run_blocking()
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPIPE));
    let err = SendMsg::new(fd, vec![b"x".to_vec()], None, 0)
        .run_blocking()
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPIPE));
}
