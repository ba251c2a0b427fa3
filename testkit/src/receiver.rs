//! A webhook target on loopback: it answers every POST to `/hook` with 204 and keeps
//! the request's headers, so a test sees what arrived and how it was signed.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};

/// A running receiver.
pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    /// The headers of each POST, in arrival order.
    pub received: Arc<Mutex<Vec<HeaderMap>>>,
}

impl Receiver {
    /// Starts one on a free port; it lives as long as the test's runtime.
    pub async fn start() -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap| {
                let log = log.clone();
                async move {
                    log.lock().expect("receiver log").push(headers);
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}/hook", listener.local_addr().expect("bound"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, received }
    }

    /// The value of header `name` of each POST received.
    pub fn header(&self, name: &str) -> Vec<String> {
        let received = self.received.lock().expect("receiver log");
        let value = |headers: &HeaderMap| headers.get(name)?.to_str().ok().map(str::to_owned);
        received.iter().map(|headers| value(headers).unwrap_or_default()).collect()
    }
}
