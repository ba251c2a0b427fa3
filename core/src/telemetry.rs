//! Structured logs: text for people, JSON on request, level from `RUST_LOG`.

use clap::{Args, ValueEnum};
use tracing::Level;
use tracing_subscriber::{
    EnvFilter, Layer, filter::filter_fn, fmt, layer::SubscriberExt, util::SubscriberInitExt,
};

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

/// The default filter: our own logs at info; the embedded broker only when it warns.
const DEFAULT_FILTER: &str =
    "info,tansu_broker=warn,tansu_storage=warn,tansu_service=warn,tansu_sans_io=warn";

/// Installs the global subscriber; `RUST_LOG` overrides the default filter, except
/// that the embedded broker never logs below `warn`: its debug logs print record
/// batches, which would put clear personal data from `audit.raw` into the logs.
pub fn init(args: &LogArgs) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let broker_cap =
        filter_fn(|metadata| !metadata.target().starts_with("tansu") || *metadata.level() <= Level::WARN);
    let output = match args.log_format {
        LogFormat::Text => fmt::layer().with_writer(std::io::stderr).boxed(),
        LogFormat::Json => fmt::layer().json().with_writer(std::io::stderr).boxed(),
    };
    let installed =
        tracing_subscriber::registry().with(filter).with(output.with_filter(broker_cap)).try_init();
    // A second init (tests, several services in one process) keeps the first subscriber.
    drop(installed);
}
