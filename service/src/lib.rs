//! What every service process does around its own work, the same for the pipeline
//! stages, the vault and the query-api.
//!
//! - [`serve()`]: what each binary's `main` does after parsing its flags: validate,
//!   bind, run until SIGTERM, exit code.
//! - [`shutdown`]: SIGTERM and Ctrl-C as a cancellation token.
//! - [`telemetry`]: the `--log-*` flags and the log subscriber.
//! - [`ops`]: `/metrics` and `/healthz` (ready, stopping, stalled).
//! - [`http`]: the listener every HTTP server serves on (no Nagle delay).
//! - [`database`]: where a service keeps its database (`--database`).
//! - [`explicit`]: flags from an argument list alone, for services started in one
//!   process (`auditctl up`) whose settings must not come from the shell.
#![warn(missing_docs)]

pub mod database;
pub mod explicit;
pub mod http;
pub mod ops;
mod serve;
pub mod shutdown;
pub mod telemetry;

pub use serve::serve;
