//! The services as production runs them, as the query-api suite starts them: the
//! embedded broker (for the vault's access events), the vault (`vault::run`, SQLite
//! under a temporary directory) and later the query-api (`query_api::run`), both on
//! port 0; searches over HTTP with keep-alive and a bearer token.

use e2e::VaultParams;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use audit_auth::issuer::{Issuer, TokenSpec};
use audit_auth::service::{Scope, ServiceCredential};
use audit_broker::EmbeddedBroker;
use audit_vault_api::client::VaultClient;
use clap::Parser;
use query_api::engine::SortOrder;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::floor::PAGE;

/// The running services and what talking to them needs.
pub struct Stack {
    /// Temporary directory of keys, vault database, index.
    pub dir: tempfile::TempDir,
    /// Mints bearer tokens.
    pub issuer: Issuer,
    /// The query-api's credential at the vault.
    pub credential: ServiceCredential,
    /// `http://127.0.0.1:PORT` of the vault.
    pub vault_url: String,
    /// The broker's bootstrap address.
    pub bootstrap: String,
    /// `http://127.0.0.1:PORT` of the query-api, once started.
    pub base: Option<String>,
    /// The HTTP client (keeps connections alive).
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    _broker: (EmbeddedBroker, tempfile::TempDir),
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Stack {
    /// Starts the broker and the vault.
    pub async fn start() -> Stack {
        let dir = tempfile::tempdir().expect("temporary directory");
        let broker = testkit::kafka::broker().await;
        let issuer = Issuer::generate();
        std::fs::write(auth_jwks(dir.path()), serde_json::to_string(&issuer.jwks()).expect("jwks"))
            .expect("jwks");
        // It also seeds the vault with the dataset's tokens, a tokenizer's call.
        let credential = ServiceCredential::generate("query-api").scoped(&Scope::ALL);
        let shutdown = CancellationToken::new();
        let bootstrap = broker.0.bootstrap();
        let vault_url = start_vault(dir.path(), &bootstrap, &credential, &shutdown).await;
        let http = reqwest::Client::new();
        let stack = Stack {
            dir,
            issuer,
            credential,
            vault_url,
            bootstrap,
            base: None,
            http,
            shutdown,
            _broker: broker,
        };
        stack.wait_healthy(&stack.vault_url).await;
        stack
    }

    /// A client of the vault as the query-api's service.
    pub fn vault(&self) -> VaultClient {
        VaultClient::new(&self.vault_url, &self.credential)
    }

    /// Starts the query-api over the shards under `index_dir`, signing keys at `jwks`.
    pub async fn start_query_api(&mut self, index_dir: &Path, jwks: &Path) {
        let config = query_api::QueryArgs::parse_from([
            "query-api".to_owned(),
            format!("--index-dir={}", index_dir.display()),
            format!("--signing-jwks-file={}", jwks.display()),
            format!("--vault-url={}", self.vault_url),
            format!("--vault-credential={}", self.credential.expose()),
            format!("--auth-jwks-file={}", auth_jwks(self.dir.path()).display()),
        ])
        .validate()
        .expect("query-api configuration");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(query_api::run(config, listener, self.shutdown.clone()));
        self.wait_healthy(&base).await;
        self.base = Some(base);
    }

    /// An auditor's bearer token for `tenant`.
    pub fn bearer(&self, tenant: &str) -> String {
        let roles = ["ORG_ADMIN".to_owned()];
        self.issuer.mint(&TokenSpec { subject: "auditor@corp", tenant, roles: &roles, ttl_seconds: 3_600 })
    }

    async fn wait_healthy(&self, base: &str) {
        for _ in 0..200 {
            if let Ok(response) = self.http.get(format!("{base}/healthz")).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{base} did not become healthy");
    }
}

fn auth_jwks(dir: &Path) -> PathBuf {
    dir.join("auth-jwks.json")
}

async fn start_vault(
    dir: &Path,
    bootstrap: &str,
    credential: &ServiceCredential,
    shutdown: &CancellationToken,
) -> String {
    let params = VaultParams {
        bootstrap,
        dir,
        database: None,
        credentials: &[credential],
        auth_jwks: Some(&auth_jwks(dir)),
        listener: None,
        shutdown: shutdown.clone(),
    };
    e2e::start_vault(params).await
}

/// One search request.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// The tenant searched.
    pub tenant: &'a str,
    /// Its bearer token.
    pub bearer: &'a str,
    /// The filter.
    pub filter: &'a str,
    /// Order by `created`.
    pub order: SortOrder,
}

/// One search over HTTP: the whole body of its answer (a SCIM ListResponse).
pub async fn search(http: &reqwest::Client, base: &str, request: &Request<'_>) -> impl Deref<Target = [u8]> {
    let order = if request.order == SortOrder::Descending { "descending" } else { "ascending" };
    let body = json!({ "filter": request.filter, "count": PAGE, "sortBy": "created", "sortOrder": order });
    let response = http
        .post(format!("{base}/scim/{}/v2/AuditRecords/.search", request.tenant))
        .bearer_auth(request.bearer)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .expect("the query-api answers");
    let status = response.status();
    let body = response.bytes().await.expect("a whole answer");
    assert!(status.is_success(), "search failed: {status} {}", String::from_utf8_lossy(&body));
    body
}

/// `totalResults` of an answer, read without parsing the page: the client's JSON
/// parsing is not the query-api's time. (Members are written in name order, so it
/// is the last.)
pub fn total_of(body: &[u8]) -> usize {
    const MEMBER: &[u8] = b"\"totalResults\":";
    let at = body.windows(MEMBER.len()).rposition(|window| window == MEMBER).expect("a totalResults member");
    let digits = body[at + MEMBER.len()..].iter().take_while(|byte| byte.is_ascii_digit());
    digits.fold(0, |total, digit| total * 10 + usize::from(digit - b'0'))
}

/// Checks an answer whole: a full page, every record detokenized, the integrity
/// status asked for. Returns the total.
pub fn check(body: &[u8], verify: bool) -> usize {
    let answer: Value = serde_json::from_slice(body).expect("a JSON answer");
    let total = answer["totalResults"].as_u64().expect("a total") as usize;
    let resources = answer["Resources"].as_array().expect("resources");
    assert_eq!(resources.len(), total.min(PAGE), "a full page");
    let status = if verify { "validated" } else { "unverified" };
    for resource in resources {
        assert_eq!(resource["integrityStatus"], status, "integrity status");
        assert!(resource["targetUserId"]["id"].as_str().is_some_and(|id| id.contains('@')), "detokenized");
    }
    assert_eq!(total_of(body), total, "the total as read in the timed loop");
    total
}
