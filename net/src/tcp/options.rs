//! [`ListenOptions`]: socket options applied before a listener binds.

/// How [`TcpListener::bind_with`](crate::TcpListener::bind_with) sets up
/// its socket.
///
/// The defaults are those of [`TcpListener::bind`](crate::TcpListener::bind):
/// `SO_REUSEADDR` on (a restarted server can bind while old connections
/// linger in TIME_WAIT), `SO_REUSEPORT` off, a backlog of 1024.
///
/// # Examples
///
/// ```
/// use ringbolt_net::{ListenOptions, TcpListener};
///
/// ringbolt_runtime::run(async {
///     let opts = ListenOptions::new().reuse_port(true).backlog(128);
///     let a = TcpListener::bind_with("127.0.0.1:0", &opts).await?;
///     // SO_REUSEPORT: a second listener on the same port shares the load.
///     let b = TcpListener::bind_with(a.local_addr()?, &opts).await?;
///     assert_eq!(a.local_addr()?, b.local_addr()?);
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ListenOptions {
    pub(crate) reuse_addr: bool,
    pub(crate) reuse_port: bool,
    pub(crate) backlog: i32,
    pub(crate) only_v6: Option<bool>,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            reuse_addr: true,
            reuse_port: false,
            backlog: 1024,
            only_v6: None,
        }
    }
}

impl ListenOptions {
    /// The defaults (see the type's docs).
    pub fn new() -> Self {
        ListenOptions::default()
    }

    /// Sets `SO_REUSEADDR` (default: on).
    pub fn reuse_addr(mut self, on: bool) -> Self {
        self.reuse_addr = on;
        self
    }

    /// Sets `SO_REUSEPORT` (default: off): several sockets may bind the same
    /// address, and the kernel spreads connections across them — one
    /// listener per worker thread.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// The `listen(2)` backlog (default: 1024; the kernel caps it at
    /// `net.core.somaxconn`).
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog.min(i32::MAX as u32) as i32;
        self
    }

    /// Sets `IPV6_V6ONLY` on IPv6 listeners (default: the system's
    /// `net.ipv6.bindv6only`).
    pub fn only_v6(mut self, on: bool) -> Self {
        self.only_v6 = Some(on);
        self
    }
}
