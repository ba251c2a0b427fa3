//! Turns SIGTERM and SIGINT into a cancellation every task of a service watches.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// A token cancelled on the first SIGTERM or SIGINT.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
        let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
        tokio::select! {
            _ = terminate.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
            _ = interrupt.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
        }
        cancel.cancel();
    });
    token
}
