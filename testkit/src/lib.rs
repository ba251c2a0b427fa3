//! Real servers for tests, started by the tests themselves on loopback.
//!
//! - [`postgres`]: a private PostgreSQL cluster per test process, a fresh database
//!   per test.

pub mod postgres;
