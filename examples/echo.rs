//! A TCP echo server: one task per connection, stopped by Ctrl-C.
//!
//! ```text
//! cargo run --example echo [ADDR]        # default 127.0.0.1:7878
//! nc 127.0.0.1 7878
//! ```

use std::io;
use std::pin::pin;

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
        let mut ctrl_c = pin!(ringbolt::signal::ctrl_c());
        loop {
            // Whichever comes first: Ctrl-C or the next connection.
            ringbolt::select! {
                signal = &mut ctrl_c => {
                    signal?;
                    println!("Ctrl-C: shutting down");
                    return Ok(());
                }
                next = incoming.next() => match next {
                    Some(Ok(stream)) => {
                        ringbolt::spawn(async move {
                            if let Err(e) = echo(stream).await {
                                eprintln!("connection error: {e}");
                            }
                        });
                    }
                    Some(Err(e)) => eprintln!("accept error: {e}"),
                    None => return Ok(()),
                },
            }
        }
    })
}
