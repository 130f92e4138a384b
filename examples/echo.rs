//! A TCP echo server: one task per connection, stopped by Ctrl-C.
//!
//! ```text
//! cargo run --example echo [ADDR]        # default 127.0.0.1:7878
//! nc 127.0.0.1 7878
//! ```

use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::task::Poll;

use ringbolt::buf::IoBuf;
use ringbolt::net::{TcpListener, TcpStream};

/// Echoes everything the peer sends until it closes its side.
async fn echo(stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let (n, b) = stream.read(buf).await;
        let n = n?;
        if n == 0 {
            return Ok(());
        }
        // Send back the bytes read, from the same buffer.
        let (res, b) = stream.write_all(b.slice(..n)).await;
        res?;
        buf = b.into_inner();
    }
}

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".to_string());
    ringbolt::run(async move {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on {}", listener.local_addr()?);
        let mut incoming = listener.incoming();
        let mut ctrl_c = pin!(ringbolt::op::net::ctrl_c());
        loop {
            // Whichever comes first: Ctrl-C or the next connection.
            let next = poll_fn(|cx| {
                if let Poll::Ready(r) = ctrl_c.as_mut().poll(cx) {
                    return Poll::Ready(Err(r));
                }
                incoming.poll_accept(cx).map(Ok)
            })
            .await;
            match next {
                Ok(Ok(stream)) => {
                    ringbolt::spawn(async move {
                        if let Err(e) = echo(stream).await {
                            eprintln!("connection error: {e}");
                        }
                    });
                }
                Ok(Err(e)) => eprintln!("accept error: {e}"),
                Err(signal) => {
                    signal?;
                    println!("Ctrl-C: shutting down");
                    return Ok(());
                }
            }
        }
    })
}
