//! Receivers of webhooks on loopback, for the notifier's tests.

#![allow(dead_code, reason = "each test binary uses part of the support")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};

/// One request a receiver took.
pub type Request = (HeaderMap, Vec<u8>);

/// What a receiver got.
#[derive(Clone, Default)]
pub struct Received(pub Arc<Mutex<Vec<Request>>>);

/// A receiver on loopback that answers 503 to its first `failures` requests.
pub async fn receiver(failures: usize) -> (String, Received) {
    let received = Received::default();
    let log = received.clone();
    let refused = Arc::new(Mutex::new(0usize));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (log, refused) = (log.clone(), refused.clone());
            async move {
                let mut count = refused.lock().unwrap();
                if *count < failures {
                    *count += 1;
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                log.0.lock().unwrap().push((headers, body.to_vec()));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// Waits until `received` holds `count` requests or `timeout` passed.
pub async fn wait_for(received: &Received, count: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while received.0.lock().unwrap().len() < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("received {} of {count}", received.0.lock().unwrap().len());
}

/// A receiver on loopback that takes requests and never answers.
pub async fn hanging_receiver() -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::NO_CONTENT
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
