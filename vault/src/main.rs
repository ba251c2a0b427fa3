//! `vault`: parse flags, start logs, serve until SIGTERM.

use std::process::ExitCode;

use audit_core::{shutdown, telemetry};
use clap::Parser;
use vault::VaultArgs;

#[tokio::main]
async fn main() -> ExitCode {
    let args = VaultArgs::parse();
    telemetry::init(&args.log);
    let config = match args.validate() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, addr = %config.listen, "cannot bind the api");
            return ExitCode::FAILURE;
        }
    };
    match vault::run(config, listener, shutdown::on_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "vault stopped");
            ExitCode::FAILURE
        }
    }
}
