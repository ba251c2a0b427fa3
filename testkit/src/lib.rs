//! Real servers for tests, started by the tests themselves on loopback.
//!
//! - [`bench`]: the throughput harness of the stage benchmarks.
//! - [`kafka`]: the embedded broker, raw traffic, topic and offset readers.
//! - [`postgres`]: a private PostgreSQL cluster per test process, a fresh database
//!   per test.

pub mod bench;
pub mod kafka;
pub mod postgres;
