//! Shared library of the audit trail services.
//!
//! # Layout
//! - [`stage`]: the consume → transform → produce loop every pipeline stage runs; the
//!   stage's own logic plugs in as a [`stage::Stage`] and is tested without Kafka.
//! - [`offsets`]: which offsets a finished batch allows to commit (the one place that
//!   says how at-least-once is kept).
//! - [`kafka`]: client settings and topic creation.
//! - [`recent`]: the dedupe window, a bounded set of recent ids.
//! - [`range`]: one partition's offsets read in order, for recovery and rebuilds.
//! - [`dlq`]: how a rejected message is written to the dead-letter topic.
//! - [`metrics`], [`ops`]: Prometheus metrics and the `/metrics` + `/healthz` server.
//! - [`parallel`]: CPU work on a batch split across the cores.
//! - [`config`]: flags and env variables shared by every service.
//! - [`service`], [`shutdown`], [`telemetry`]: what every binary's `main` does, SIGTERM
//!   handling and logs.
#![warn(missing_docs)]

pub mod config;
pub mod dlq;
pub mod error;
pub mod kafka;
pub mod metrics;
pub mod offsets;
pub mod ops;
pub mod parallel;
pub mod range;
pub mod recent;
pub mod service;
pub mod shutdown;
pub mod stage;
pub mod telemetry;

pub use error::CoreError;
