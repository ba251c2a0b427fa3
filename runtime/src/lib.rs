//! The stage runtime: what every Kafka consumer of the trail shares.
//!
//! # Layout
//! - [`stage`]: the consume → transform → produce loop every pipeline stage runs; the
//!   stage's own logic plugs in as a [`stage::Stage`] and is tested without Kafka.
//! - [`offsets`]: which offsets a finished batch allows to commit (the one place that
//!   says how at-least-once is kept).
//! - [`kafka`]: client settings and cluster metadata.
//! - [`topics`]: the product's topics, the retention each kind must have, their
//!   creation and check.
//! - [`recent`]: the dedupe window, a bounded set of recent ids.
//! - [`range`]: one partition's offsets read in order, for recovery and rebuilds.
//! - [`dlq`]: how a rejected message is written to the dead-letter topic.
//! - [`metrics`]: the stage metrics every stage registers.
//! - [`parallel`]: CPU work on a batch split across the cores.
//! - [`config`]: the Kafka flags every stage shares.
//! - [`trail`]: the trail's own events (reveals, erasures, webhook changes) written to
//!   the raw topic before the action they record is answered.
#![warn(missing_docs)]

pub mod config;
pub mod dlq;
pub mod error;
pub mod kafka;
pub mod metrics;
pub mod offsets;
pub mod parallel;
pub mod range;
pub mod recent;
pub mod stage;
pub mod topics;
pub mod trail;

pub use error::RuntimeError;
