//! The services as production runs them: the embedded broker (the vault's access
//! events, the indexers' shard claims), the vault (`vault::run` in this process,
//! SQLite under a temporary directory), and as processes of their own the indexers
//! serving the shards as leaves (one to four, sharing the index directory: each opens
//! the shards of the partitions it is given) and the query-api; searches over HTTP
//! with keep-alive and a bearer token.

use e2e::VaultParams;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use audit_auth::issuer::{Issuer, TokenSpec};
use audit_auth::service::{Scope, ServiceCredential};
use audit_broker::EmbeddedBroker;
use audit_index::search::Order as SortOrder;
use audit_vault_api::client::VaultClient;
use serde_json::{Value, json};
use testkit::process::ChildGuard;
use tokio_util::sync::CancellationToken;

use crate::floor::PAGE;
use crate::load::SHARDS;

/// An indexer process serving shards as a leaf.
pub struct Leaf {
    child: ChildGuard,
    ops: SocketAddr,
}

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
    /// The query-api's credential on the leaves.
    leaf_credential: ServiceCredential,
    query_api: Option<ChildGuard>,
    /// The leaves, in the order they started.
    pub leaves: Vec<Leaf>,
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
            leaf_credential: ServiceCredential::generate("query-api"),
            query_api: None,
            leaves: Vec::new(),
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

    /// Starts the query-api process, signing keys at `jwks`.
    pub async fn start_query_api(&mut self, jwks: &Path) {
        let listen = free_addr();
        let args = [
            format!("--listen={listen}"),
            format!("--kafka={}", self.bootstrap),
            format!("--leaf-credential={}", self.leaf_credential.expose()),
            format!("--signing-jwks-file={}", jwks.display()),
            format!("--vault-url={}", self.vault_url),
            format!("--vault-credential={}", self.credential.expose()),
            format!("--auth-jwks-file={}", auth_jwks(self.dir.path()).display()),
        ];
        self.query_api = Some(self.spawn(env!("CARGO_BIN_EXE_e2e-query-api"), "query-api", &args));
        let base = format!("http://{listen}");
        self.wait_healthy(&base).await;
        self.base = Some(base);
    }

    /// Starts indexers over the shards under `index_dir` until `count` run, and waits
    /// until the shards are spread over every leaf and a search of `tenant` is answered.
    pub async fn leaves(&mut self, count: usize, index_dir: &Path, tenant: &str) {
        while self.leaves.len() < count {
            self.add_leaf(index_dir);
        }
        self.await_spread(tenant).await;
    }

    fn add_leaf(&mut self, index_dir: &Path) {
        let ops = free_addr();
        let args = [
            format!("--kafka={}", self.bootstrap),
            format!("--partitions={SHARDS}"),
            format!("--ops-listen={ops}"),
            "--leaf-listen=127.0.0.1:0".to_owned(),
            format!("--leaf-credentials={}", self.leaf_credential.declaration()),
            format!("--index-dir={}", index_dir.display()),
            "--session-timeout-ms=6000".to_owned(),
        ];
        let name = format!("indexer-{}", self.leaves.len() + 1);
        let child = self.spawn(env!("CARGO_BIN_EXE_e2e-indexer"), &name, &args);
        self.leaves.push(Leaf { child, ops });
    }

    /// Waits until each leaf owns its share of the shards and a search answers.
    async fn await_spread(&self, tenant: &str) {
        let share = SHARDS as usize / self.leaves.len();
        let bearer = self.bearer(tenant);
        for _ in 0..1_200 {
            let mut owned = Vec::new();
            for leaf in &self.leaves {
                owned.push(self.gauge(leaf.ops, "indexer_shards_owned").await);
            }
            let spread = owned.iter().all(|owned| *owned == Some(share as i64));
            if spread && self.answers(tenant, &bearer).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the shards were not spread over {} leaves", self.leaves.len());
    }

    async fn gauge(&self, ops: SocketAddr, name: &str) -> Option<i64> {
        let text = self.http.get(format!("http://{ops}/metrics")).send().await.ok()?.text().await.ok()?;
        let line = text.lines().find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))?;
        line.rsplit(' ').next()?.parse().ok()
    }

    async fn answers(&self, tenant: &str, bearer: &str) -> bool {
        let Some(base) = &self.base else { return false };
        let url = format!("{base}/scim/{tenant}/v2/AuditRecords?count=0&detokenize=false");
        let answer = self.http.get(url).bearer_auth(bearer).send().await;
        answer.is_ok_and(|answer| answer.status().is_success())
    }

    /// Process ids of the query-api and the leaves, named.
    pub fn processes(&self) -> Vec<(String, u32)> {
        let mut named = Vec::new();
        if let Some(query_api) = &self.query_api {
            named.push(("query-api".to_owned(), query_api.0.id()));
        }
        for (n, leaf) in self.leaves.iter().enumerate() {
            named.push((format!("indexer (leaf) {}", n + 1), leaf.child.0.id()));
        }
        named
    }

    fn spawn(&self, binary: &str, name: &str, args: &[String]) -> ChildGuard {
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log"))).expect("a log file");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        testkit::process::spawn(binary, &args, log)
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
            tokio::time::sleep(Duration::from_millis(50)).await;
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

/// A loopback address no one listens on now.
fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("an address")
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
    /// Whether values are revealed (the detokenized path) or left as tokens.
    pub detokenize: bool,
}

/// One search over HTTP: the whole body of its answer (a SCIM ListResponse).
pub async fn search(http: &reqwest::Client, base: &str, request: &Request<'_>) -> impl Deref<Target = [u8]> {
    let order = if request.order == SortOrder::Descending { "descending" } else { "ascending" };
    let body = json!({
        "filter": request.filter,
        "count": PAGE,
        "sortBy": "created",
        "sortOrder": order,
        "detokenize": request.detokenize,
    });
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

/// Checks an answer whole: a full page, every record detokenized (or not), the
/// integrity status asked for. Returns the total.
pub fn check(body: &[u8], verify: bool, detokenized: bool) -> usize {
    let answer: Value = serde_json::from_slice(body).expect("a JSON answer");
    let total = answer["totalResults"].as_u64().expect("a total") as usize;
    let resources = answer["Resources"].as_array().expect("resources");
    assert_eq!(resources.len(), total.min(PAGE), "a full page");
    let status = if verify { "validated" } else { "unverified" };
    for resource in resources {
        assert_eq!(resource["integrityStatus"], status, "integrity status");
        let clear = resource["targetUserId"]["id"].as_str().is_some_and(|id| id.contains('@'));
        assert_eq!(clear, detokenized, "detokenized as asked");
    }
    assert_eq!(total_of(body), total, "the total as read in the timed loop");
    total
}
