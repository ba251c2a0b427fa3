//! `vault`: parse flags, start logs, serve until SIGTERM.

use std::process::ExitCode;

use audit_core::{service, telemetry};
use clap::Parser;
use vault::VaultArgs;

#[tokio::main]
async fn main() -> ExitCode {
    let args = VaultArgs::parse();
    telemetry::init(&args.log);
    service::serve(args.validate(), |config| config.listen, vault::run).await
}
