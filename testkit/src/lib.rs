//! Real servers for tests, started by the tests themselves on loopback.
//!
//! - [`bench`]: the throughput harness of the stage benchmarks.
//! - [`kafka`]: the embedded broker, raw traffic, topic and offset readers.
//! - [`openapi`]: a running service checked against its own OpenAPI document.
//! - [`receiver`]: a webhook target on loopback keeping what it received.
//! - [`records`]: signed records as the signer publishes them.
//! - [`process`]: service binaries as child processes, killed with the test.
//! - [`postgres`]: a private PostgreSQL cluster per test process, a fresh database
//!   per test.
//! - [`tls`]: a certificate authority per test and a TLS-terminating proxy.
//! - [`up`]: `auditctl up` as a child process on free ports.

pub mod bench;
pub mod kafka;
pub mod openapi;
pub mod postgres;
pub mod process;
pub mod receiver;
pub mod records;
pub mod tls;
pub mod up;
