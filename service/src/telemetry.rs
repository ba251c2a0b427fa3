//! Structured logs: text for people, JSON on request, level from `RUST_LOG`.

use clap::{Args, ValueEnum};
use tracing_subscriber::{EnvFilter, Layer, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// Log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event.
    Json,
}

/// Logging flags.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log format.
    #[arg(long, env = "AUDIT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The default filter: info, librdkafka's warnings included. No component logs record
/// contents at any level (the embedded broker never decodes records), so `RUST_LOG`
/// cannot put personal data from `audit.raw` into the logs.
const DEFAULT_FILTER: &str = "info";

/// Installs the global subscriber; `RUST_LOG` overrides the default filter.
pub fn init(args: &LogArgs) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let output = match args.log_format {
        LogFormat::Text => fmt::layer().with_writer(std::io::stderr).boxed(),
        LogFormat::Json => fmt::layer().json().with_writer(std::io::stderr).boxed(),
    };
    let installed = tracing_subscriber::registry().with(filter).with(output).try_init();
    // A second init (tests, several services in one process) keeps the first subscriber.
    drop(installed);
}
