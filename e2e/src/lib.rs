//! Services started inside the test process for the cross-service tests and
//! benchmarks, each through its own `run()` as `auditctl up` starts it, on a free
//! loopback port. (The fault suite runs them as processes instead; see `tests/faults.rs`.)

use std::path::Path;

use audit_auth::issuer::Issuer;
use audit_auth::service::ServiceCredential;
use clap::Parser;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How to start a vault.
pub struct VaultParams<'a> {
    /// Kafka bootstrap address: every reveal and erasure is an event there.
    pub bootstrap: &'a str,
    /// Where its master key lives, and its SQLite database unless `database` says.
    pub dir: &'a Path,
    /// `--database`: SQLite in `dir` when none.
    pub database: Option<String>,
    /// The services allowed to call its service API.
    pub credentials: &'a [&'a ServiceCredential],
    /// The JWK Set its bearer tokens are checked with; a fresh issuer's, which no
    /// caller holds, when none.
    pub auth_jwks: Option<&'a Path>,
    /// Where it listens: a free port when none (a test restarting a vault at the
    /// same address binds it first).
    pub listener: Option<TcpListener>,
    /// Stops it.
    pub shutdown: CancellationToken,
}

/// Starts a vault as a task of this process; its base URL (`http://127.0.0.1:PORT`).
pub async fn start_vault(params: VaultParams<'_>) -> String {
    let auth_jwks = match params.auth_jwks {
        Some(path) => path.to_owned(),
        None => {
            let path = params.dir.join("vault-auth-jwks.json");
            std::fs::write(&path, serde_json::to_string(&Issuer::generate().jwks()).unwrap()).unwrap();
            path
        }
    };
    let local = vault::LocalVault {
        kafka: params.bootstrap,
        kafka_properties: &[],
        partitions: None,
        listen: None,
        dir: params.dir,
        database: params.database.as_deref(),
        auth_jwks_file: &auth_jwks,
        credentials: params.credentials,
    };
    let config = vault::VaultArgs::parse_from(std::iter::once("vault".to_owned()).chain(local.args()))
        .validate()
        .expect("the vault's configuration is valid");
    let listener = match params.listener {
        Some(listener) => listener,
        None => TcpListener::bind("127.0.0.1:0").await.expect("a free loopback port"),
    };
    let url = format!("http://{}", listener.local_addr().expect("a bound address"));
    tokio::spawn(vault::run(config, listener, params.shutdown));
    url
}

/// Runs `tests/third_party/{script}` with `args` under the interpreter that has the
/// third-party libraries (`.ci/run` installs them; `AUDIT_TEST_PYTHON` overrides);
/// the JSON it prints. Fails the test when the script fails, with its stderr.
pub fn third_party_script(script: &str, args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/third_party").join(script);
    let python = std::env::var("AUDIT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = std::process::Command::new(python).arg(path).args(args).output().expect("python3 runs");
    assert!(output.status.success(), "{script} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}
