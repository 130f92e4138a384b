//! A TCP echo server: one task per connection, stopped by Ctrl-C.
//!
//! ```text
//! cargo run --example echo [ADDR]        # default 127.0.0.1:7878
//! nc 127.0.0.1 7878
//! ```

use std::io;
use std::pin::pin;

use ringbolt::net::{TcpListener, TcpStream};

/// Echoes everything the peer sends until it closes its side.
///
/// `read_chunk` hands out each chunk in the buffer the kernel received it
/// into (a buffer of the worker's ring), and the chunk is written back from
/// there: no copy in user space. (`stream.read(buf)` reads into a buffer of
/// your own instead.)
async fn echo(stream: TcpStream) -> io::Result<()> {
    while let Some(chunk) = stream.read_chunk().await? {
        let (res, chunk) = stream.write_all(chunk).await;
        res?;
        // Dropping the chunk gives its buffer back to the ring.
        drop(chunk);
    }
    Ok(())
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
                    Some(Err(e)) => {
                        // EMFILE and its kin fail again at once: pause
                        // rather than spin until a descriptor is freed.
                        eprintln!("accept error: {e}");
                        ringbolt::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                    None => return Ok(()),
                },
            }
        }
    })
}
