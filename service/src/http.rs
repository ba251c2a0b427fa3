//! The listener every HTTP server of the product serves on: each accepted connection
//! has Nagle's algorithm off. Answers are written in several pieces (headers, then
//! body chunks) and clients wait for the whole; with Nagle on, a piece can wait for
//! the client's delayed acknowledgement of the one before.

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

/// `listener`, its connections without Nagle's delay.
pub fn listener(listener: TcpListener) -> impl axum::serve::Listener<Addr = std::net::SocketAddr> {
    listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
    })
}
