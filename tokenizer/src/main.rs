//! `tokenizer`: parse flags, start logs, run until SIGTERM.

use std::process::ExitCode;

use audit_core::{shutdown, telemetry};
use clap::Parser;
use tokenizer::TokenizerArgs;

#[tokio::main]
async fn main() -> ExitCode {
    let args = TokenizerArgs::parse();
    telemetry::init(&args.log);
    let config = match args.validate() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.ops_listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, addr = %config.ops_listen, "cannot bind the ops server");
            return ExitCode::FAILURE;
        }
    };
    match tokenizer::run(config, listener, shutdown::on_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "tokenizer stopped");
            ExitCode::FAILURE
        }
    }
}
