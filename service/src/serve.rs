//! What every service binary's `main` does after parsing its flags: validate the
//! configuration, bind the service's listener, run until SIGTERM, and turn the outcome
//! into an exit code (2 for an invalid configuration, 1 for a failure).

use std::fmt::Display;
use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::shutdown;

/// Runs a service's `run(config, listener, shutdown)` as its binary does.
pub async fn serve<C, E, R, F>(
    config: Result<C, impl Display>,
    address: fn(&C) -> SocketAddr,
    run: R,
) -> ExitCode
where
    R: FnOnce(C, TcpListener, CancellationToken) -> F,
    F: Future<Output = Result<(), E>>,
    E: Display,
{
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    let addr = address(&config);
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, %addr, "cannot bind the service's listener");
            return ExitCode::FAILURE;
        }
    };
    match run(config, listener, shutdown::on_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "service stopped");
            ExitCode::FAILURE
        }
    }
}
