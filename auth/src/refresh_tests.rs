//! The `--auth-*` flags and the [`SharedAuthenticator`]'s key sources: a file read at
//! start, a JWK Set URL fetched at start and refreshed from a local server.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clap::{Args, Parser};
use jsonwebtoken::jwk::JwkSet;
use tokio_util::sync::CancellationToken;

use super::issuer::{AUDIENCE, Issuer, LOCAL_ISSUER, TokenSpec};
use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    auth: AuthArgs,
}

fn parse(args: &[&str]) -> Result<AuthConfig, AuthConfigError> {
    let argv = std::iter::once("test").chain(args.iter().copied());
    Cli::try_parse_from(argv).expect("flags parse").auth.validate()
}

/// A private file (mode 600) holding `contents`.
fn secret_file(dir: &tempfile::TempDir, contents: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.path().join(format!("secret-{}", contents.len()));
    std::fs::write(&path, contents).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.display().to_string()
}

#[test]
fn every_flag_has_the_env_variable_of_its_name() {
    let command = AuthArgs::augment_args(clap::Command::new("test"));
    for arg in command.get_arguments() {
        let flag = arg.get_long().expect("every auth setting is a long flag");
        let expected = format!("AUDIT_{}", flag.to_uppercase().replace('-', "_"));
        assert_eq!(arg.get_env().and_then(|env| env.to_str()), Some(expected.as_str()), "--{flag}");
    }
}

#[test]
fn defaults_read_the_local_jwks_file() {
    let config = parse(&[]).unwrap();
    assert_eq!(config.keys, KeySource::File("data/keys/jwks.json".into()));
    assert_eq!((config.issuer.as_str(), config.audience.as_str()), (LOCAL_ISSUER, AUDIENCE));
    assert!(config.shared_secret.is_none());
}

#[test]
fn a_url_replaces_the_file() {
    let config =
        parse(&["--auth-jwks-url", "https://idp.example/jwks.json", "--auth-jwks-refresh-secs", "60"])
            .unwrap();
    let expected = KeySource::Url {
        url: "https://idp.example/jwks.json".parse().unwrap(),
        refresh: Duration::from_secs(60),
    };
    assert_eq!(config.keys, expected);
}

#[test]
fn the_shared_secret_is_trimmed_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "0123456789abcdef0123456789abcdef";
    let path = secret_file(&dir, &format!("  {secret}\n"));
    let config = parse(&["--auth-shared-secret-file", &path]).unwrap();
    assert_eq!(config.shared_secret.as_ref().unwrap().expose(), secret.as_bytes());
    assert!(!format!("{config:?}").contains(secret), "debug hides the secret");
}

#[test]
fn bad_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let short = secret_file(&dir, " 0123456789abcdef0123456789abcde \n");
    let missing = dir.path().join("missing").display().to_string();
    let shared = dir.path().join("readable-by-all");
    std::fs::write(&shared, "0123456789abcdef0123456789abcdef").unwrap();
    let readable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o644);
    std::fs::set_permissions(&shared, readable).unwrap();
    let shared = shared.display().to_string();
    let cases: [(&str, &[&str]); 9] = [
        ("not a url", &["--auth-jwks-url", "jwks.json"]),
        ("not http", &["--auth-jwks-url", "ftp://idp.example/jwks.json"]),
        ("credentials in the url", &["--auth-jwks-url", "https://user:pw@idp.example/jwks.json"]),
        ("zero refresh", &["--auth-jwks-url", "http://idp.example/jwks", "--auth-jwks-refresh-secs", "0"]),
        ("secret of 31 bytes", &["--auth-shared-secret-file", &short]),
        ("missing secret file", &["--auth-shared-secret-file", &missing]),
        ("secret file open to others", &["--auth-shared-secret-file", &shared]),
        ("empty issuer", &["--auth-issuer", ""]),
        ("empty audience", &["--auth-audience", " "]),
    ];
    for (name, args) in cases {
        let error = parse(args).expect_err(name);
        assert!(!error.to_string().contains("pw@"), "{name}: the url's credentials are not echoed");
    }
}

/// A JWK Set server whose answer the test changes; `None` answers 500.
struct JwksServer {
    url: reqwest::Url,
    served: Arc<RwLock<Option<JwkSet>>>,
    stop: CancellationToken,
}

impl JwksServer {
    async fn start(jwks: JwkSet) -> JwksServer {
        let served = Arc::new(RwLock::new(Some(jwks)));
        let app = axum::Router::new()
            .route("/jwks.json", axum::routing::get(serve_jwks))
            .with_state(served.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap()).parse().unwrap();
        let stop = CancellationToken::new();
        let server = axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
        tokio::spawn(async move { server.await.unwrap() });
        JwksServer { url, served, stop }
    }

    fn serve(&self, jwks: Option<JwkSet>) {
        *self.served.write().unwrap() = jwks;
    }
}

async fn serve_jwks(State(served): State<Arc<RwLock<Option<JwkSet>>>>) -> Response {
    match served.read().unwrap().clone() {
        Some(jwks) => axum::Json(jwks).into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn url_config(url: &reqwest::Url, refresh: Duration) -> AuthConfig {
    AuthConfig {
        keys: KeySource::Url { url: url.clone(), refresh },
        shared_secret: None,
        issuer: LOCAL_ISSUER.into(),
        audience: AUDIENCE.into(),
    }
}

fn admin_token(issuer: &Issuer) -> String {
    let roles = ["ORG_ADMIN".to_owned()];
    let spec = TokenSpec { subject: "alice", tenant: "t1", roles: &roles, ttl_seconds: 300 };
    format!("Bearer {}", issuer.mint(&spec))
}

/// Waits until `auth` accepts or refuses `token` as `accepted` says, for up to 5 s.
async fn settles(auth: &SharedAuthenticator, token: &str, accepted: bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if auth.authorize(Some(token), "t1").is_ok() == accepted {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_jwks_url_is_fetched_at_start_and_refreshed() {
    let (key_a, key_b) = (Issuer::generate(), Issuer::generate());
    let server = JwksServer::start(key_a.jwks()).await;
    let auth = SharedAuthenticator::load(&url_config(&server.url, Duration::from_millis(100))).await.unwrap();
    assert!(auth.authorize(Some(&admin_token(&key_a)), "t1").is_ok(), "key a from the start");
    assert!(auth.authorize(Some(&admin_token(&key_b)), "t1").is_err(), "key b not yet");
    let stop = CancellationToken::new();
    let task = auth.spawn_refresh(stop.clone()).expect("a url source refreshes");
    server.serve(Some(key_b.jwks()));
    assert!(settles(&auth, &admin_token(&key_b), true).await, "key b after a refresh");
    assert!(auth.authorize(Some(&admin_token(&key_a)), "t1").is_err(), "key a is gone");
    server.serve(None);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(auth.authorize(Some(&admin_token(&key_b)), "t1").is_ok(), "failed refreshes keep key b");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("the task stops").unwrap();
    server.stop.cancel();
}

#[tokio::test]
async fn an_unreachable_jwks_url_fails_the_start() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap()).parse().unwrap();
    drop(listener);
    let error = SharedAuthenticator::load(&url_config(&url, Duration::from_secs(1))).await.unwrap_err();
    assert!(error.to_string().contains("jwks url"), "{error}");
    let server = JwksServer::start(Issuer::generate().jwks()).await;
    server.serve(None);
    assert!(SharedAuthenticator::load(&url_config(&server.url, Duration::from_secs(1))).await.is_err());
    server.stop.cancel();
}

#[tokio::test]
async fn a_jwks_file_is_read_at_start_only() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = Issuer::generate();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, serde_json::to_string(&issuer.jwks()).unwrap()).unwrap();
    let config = AuthConfig {
        keys: KeySource::File(path),
        ..url_config(&"http://unused".parse().unwrap(), Duration::ZERO)
    };
    let auth = SharedAuthenticator::load(&config).await.unwrap();
    assert!(auth.clone().authorize(Some(&admin_token(&issuer)), "t1").is_ok());
    assert!(auth.spawn_refresh(CancellationToken::new()).is_none(), "no task for a file");
    let missing = AuthConfig { keys: KeySource::File(dir.path().join("missing.json")), ..config };
    assert!(SharedAuthenticator::load(&missing).await.is_err());
}
