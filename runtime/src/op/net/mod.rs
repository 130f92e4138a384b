//! Socket operations (socket, connect, accept, send, recv, ...), used by
//! `ringbolt-net`.
