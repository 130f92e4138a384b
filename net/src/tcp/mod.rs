//! TCP: [`TcpListener`], [`TcpStream`] and the listener's [`ListenOptions`].

mod listener;
mod options;
mod stream;

pub use listener::TcpListener;
pub use options::ListenOptions;
pub use stream::TcpStream;
