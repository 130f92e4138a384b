//! IORING_OP_NOP: completes at once; measures the ring's round trip.

use std::io;

use io_uring::{opcode, squeue};

use super::OpCode;

/// A no-op.
#[derive(Debug, Default)]
pub struct Nop {
    _private: (),
}

impl Nop {
    /// A new no-op.
    pub fn new() -> Self {
        Nop { _private: () }
    }
}

// SAFETY: a NOP's SQE points to no memory.
unsafe impl OpCode for Nop {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Nop::new().build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        Ok(0)
    }
}
