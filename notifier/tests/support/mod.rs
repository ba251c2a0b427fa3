//! The notifier in this process and receivers of webhooks on loopback, for the
//! notifier's tests.

#![allow(dead_code, reason = "each test binary uses part of the support")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_auth::issuer::{Issuer, TokenSpec};
use axum::http::{HeaderMap, StatusCode};
use clap::Parser;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// One request a receiver took.
pub type Request = (HeaderMap, Vec<u8>);

/// What a receiver got.
#[derive(Clone, Default)]
pub struct Received(pub Arc<Mutex<Vec<Request>>>);

/// A receiver on loopback that answers 503 to its first `failures` requests.
pub async fn receiver(failures: usize) -> (String, Received) {
    let (app, received) = recording(failures);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// A receiver like [`receiver`] over HTTPS at `localhost`, its certificate issued by a
/// CA made for it: the URL, what it gets, and the CA certificate's PEM.
pub async fn https_receiver() -> (String, Received, String) {
    let (app, received) = recording(0);
    let ca = testkit::tls::TestCa::new("audit trail test ca");
    let config = ca.server_config();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}/hook", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else { return };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                let _ = connection.await;
            });
        }
    });
    (url, received, ca.pem().to_owned())
}

/// An app at `/hook` recording what it takes, answering 503 to the first `failures`.
fn recording(failures: usize) -> (axum::Router, Received) {
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
    (app, received)
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

/// A notifier running in this process through `run()`, with its own token issuer.
pub struct Notifier {
    /// Its management API.
    pub base: String,
    /// Mints bearer tokens it accepts.
    pub issuer: Issuer,
    /// A client.
    pub http: reqwest::Client,
    /// Stops it.
    pub shutdown: CancellationToken,
    /// Its task.
    pub task: tokio::task::JoinHandle<Result<(), notifier::NotifierError>>,
    _dir: tempfile::TempDir,
}

impl Notifier {
    /// Stops it the way SIGTERM does, while the broker still runs.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }

    /// A token of `tenant` with `role`.
    pub fn token(&self, tenant: &str, role: &str) -> String {
        let roles = [role.to_owned()];
        self.issuer.mint(&TokenSpec { subject: "admin@corp", tenant, roles: &roles, ttl_seconds: 300 })
    }

    /// Registers a webhook of `tenant` as its admin.
    pub async fn create(&self, tenant: &str, body: Value) -> (StatusCode, Value) {
        let url = format!("{}/v1/tenants/{tenant}/webhooks", self.base);
        let response = self
            .http
            .post(url)
            .bearer_auth(self.token(tenant, "ORG_ADMIN"))
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }
}

/// A notifier on `bootstrap` with the tests' defaults.
pub async fn start(bootstrap: &str) -> Notifier {
    start_with(bootstrap, &[]).await
}

/// A notifier on `bootstrap` with `extra` flags.
pub async fn start_with(bootstrap: &str, extra: &[&str]) -> Notifier {
    let dir = tempfile::tempdir().unwrap();
    let issuer = Issuer::generate();
    let jwks = dir.path().join("auth-jwks.json");
    std::fs::write(&jwks, serde_json::to_string(&issuer.jwks()).unwrap()).unwrap();
    let config = notifier::NotifierArgs::parse_from(
        [
            "notifier".to_owned(),
            format!("--kafka={bootstrap}"),
            format!("--database=sqlite:{}", dir.path().join("notifier.db").display()),
            format!("--master-key-file={}", dir.path().join("master.key").display()),
            "--create-master-key=true".to_owned(),
            "--allow-private-targets=true".to_owned(),
            format!("--auth-jwks-file={}", jwks.display()),
            "--ops-listen=127.0.0.1:0".to_owned(),
        ]
        .into_iter()
        .chain(extra.iter().map(|arg| (*arg).to_owned())),
    )
    .validate()
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(notifier::run(config, listener, shutdown.clone()));
    Notifier { base, issuer, http: reqwest::Client::new(), shutdown, task, _dir: dir }
}
