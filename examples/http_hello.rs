//! A minimal HTTP/1.1 server answering every request with "hello":
//! keep-alive and pipelining, requests parsed with `httparse`, one task per
//! connection, stopped by Ctrl-C.
//!
//! ```text
//! cargo run --release --example http_hello [ADDR]   # default 127.0.0.1:8080
//! curl -v http://127.0.0.1:8080/
//! ```

use std::io;
use std::pin::pin;

use ringbolt::net::{TcpListener, TcpStream};

/// Largest request head accepted; a longer one gets 431 and the
/// connection is closed.
const MAX_HEAD: usize = 16 * 1024;

const HELLO: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
const HELLO_CLOSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const TOO_LARGE: &[u8] =
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// What to do with one parsed request head.
enum Parsed {
    /// `len` bytes of head (and body) consumed; keep the connection open?
    Request { len: usize, keep_alive: bool },
    /// Need more bytes.
    Partial,
    /// Malformed.
    Bad,
}

fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(head_len)) => {
            let mut keep_alive = req.version == Some(1);
            let mut body_len = 0usize;
            for h in req.headers.iter() {
                if h.name.eq_ignore_ascii_case("connection") {
                    let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
                    if v.contains("close") {
                        keep_alive = false;
                    } else if v.contains("keep-alive") {
                        keep_alive = true;
                    }
                } else if h.name.eq_ignore_ascii_case("content-length") {
                    match std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                    {
                        Some(n) => body_len = n,
                        None => return Parsed::Bad,
                    }
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    // Chunked bodies are beyond this example.
                    return Parsed::Bad;
                }
            }
            if buf.len() < head_len + body_len {
                return Parsed::Partial;
            }
            Parsed::Request {
                len: head_len + body_len,
                keep_alive,
            }
        }
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Err(_) => Parsed::Bad,
    }
}

/// Serves one connection until the client closes it or asks to.
async fn serve(stream: TcpStream) -> io::Result<()> {
    let mut pending: Vec<u8> = Vec::with_capacity(4096);
    let mut buf = Vec::with_capacity(4096);
    loop {
        // Answer every complete request already received (pipelining).
        loop {
            match parse(&pending) {
                Parsed::Request { len, keep_alive } => {
                    pending.drain(..len);
                    let reply = if keep_alive { HELLO } else { HELLO_CLOSE };
                    let (res, _) = stream.write_all(reply).await;
                    res?;
                    if !keep_alive {
                        return Ok(());
                    }
                }
                Parsed::Partial if pending.len() > MAX_HEAD => {
                    let (res, _) = stream.write_all(TOO_LARGE).await;
                    return res;
                }
                Parsed::Partial => break,
                Parsed::Bad => {
                    let (res, _) = stream.write_all(BAD_REQUEST).await;
                    return res;
                }
            }
        }
        buf.clear();
        let (n, b) = stream.read(buf).await;
        buf = b;
        if n? == 0 {
            return Ok(());
        }
        pending.extend_from_slice(&buf);
    }
}

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    ringbolt::run(async move {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
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
                        let _ = stream.set_nodelay(true);
                        ringbolt::spawn(async move {
                            if let Err(e) = serve(stream).await {
                                if e.kind() != io::ErrorKind::ConnectionReset {
                                    eprintln!("connection error: {e}");
                                }
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
