//! The query-api as production runs it (`run()` on port 0), over a real vault (its own
//! `run()`, SQLite, the embedded broker for its access events) and a real indexer
//! (its binary, killed with the stack) that indexed the suite's signed records from
//! `audit.signed` and serves them through its leaf API.

#![allow(dead_code, reason = "each test binary uses part of the support")]

pub mod dataset;

use audit_auth::issuer::{Issuer, TokenSpec};
use audit_auth::service::{Scope, ServiceCredential};
use audit_broker::EmbeddedBroker;
use audit_vault_api::client::VaultClient;
use clap::Parser;
use e2e::VaultParams;
use tokio_util::sync::CancellationToken;

use audit_integrity::CompactJws;
use audit_integrity::export::ExportLine;
use audit_integrity::keys::KeyDir;
use audit_integrity::merkle::{Frontier, Hash, leaf_hash};
use audit_integrity::note::{Checkpoint, DEFAULT_TRAIL_NAME, origin};
use audit_runtime::topics::{Topic, ensure};
use dataset::Clear;
use rdkafka::producer::FutureRecord;
use serde_json::Value;

/// A running query-api and everything under it.
pub struct Stack {
    /// `http://127.0.0.1:PORT` of the query-api.
    pub base: String,
    /// `http://127.0.0.1:PORT` of the vault.
    pub vault: String,
    /// Mints bearer tokens the query-api accepts.
    pub issuer: Issuer,
    /// The records, clear.
    pub records: Vec<Clear>,
    /// The broker's client settings.
    pub kafka: audit_runtime::config::KafkaConfig,
    /// The record-signing keys' JWK Set.
    pub signing_jwks: std::path::PathBuf,
    /// The HTTP client.
    pub http: reqwest::Client,
    /// The query-api's service credential at the vault.
    pub credential: ServiceCredential,
    /// `http://127.0.0.1:PORT` of the notifier (webhooks), which the console manages.
    pub notifier: String,
    shutdown: CancellationToken,
    _indexer: testkit::process::ChildGuard,
    _notifier: testkit::process::ChildGuard,
    _broker: EmbeddedBroker,
    _dirs: Vec<tempfile::TempDir>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Stack {
    /// A bearer token for `tenant` with `roles`.
    pub fn bearer(&self, tenant: &str, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|role| role.to_string()).collect();
        self.issuer.mint(&TokenSpec { subject: "auditor@corp", tenant, roles: &roles, ttl_seconds: 300 })
    }

    /// An org admin's token for `tenant`.
    pub fn admin(&self, tenant: &str) -> String {
        self.bearer(tenant, &["ORG_ADMIN"])
    }

    /// `.search` in `tenant` as its admin: the ListResponse.
    pub async fn search(&self, tenant: &str, body: Value) -> Value {
        let url = format!("{}/scim/{tenant}/v2/AuditRecords/.search", self.base);
        let response = self.http.post(url).bearer_auth(self.admin(tenant)).json(&body).send().await.unwrap();
        response.json().await.unwrap()
    }

    /// `GET` record `id` in `tenant` as that tenant's admin.
    pub async fn get_record(&self, tenant: &str, id: &str) -> reqwest::Response {
        let url = format!("{}/scim/{tenant}/v2/AuditRecords/{id}", self.base);
        self.http.get(url).bearer_auth(self.admin(tenant)).send().await.unwrap()
    }

    /// `.export` of every record of `tenant`: the JSON lines.
    pub async fn export(&self, tenant: &str) -> String {
        let url = format!("{}/scim/{tenant}/v2/AuditRecords/.export", self.base);
        let response = self.http.post(url).bearer_auth(self.admin(tenant)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Waits until a search of `tenant` counts `total` records.
    pub async fn wait_searchable(&self, tenant: &str, total: u64) {
        let mut last = Value::Null;
        for _ in 0..300 {
            last = self.search(tenant, serde_json::json!({"count": 0})).await;
            if last["totalResults"] == total {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{tenant} never had {total} records searchable: {last}");
    }

    /// The leaves of `tenant`'s tree and the roots of its trees of every size, from its
    /// export.
    pub async fn tree(&self, tenant: &str) -> (Vec<Hash>, Vec<Hash>) {
        let mut frontier = Frontier::new();
        let (mut leaves, mut roots) = (Vec::new(), vec![frontier.root()]);
        for line in self.export(tenant).await.lines() {
            let line: ExportLine<Value> = serde_json::from_str(line).unwrap();
            leaves.push(leaf_hash(&CompactJws::parse(&line.jws).unwrap().payload));
            frontier.append(*leaves.last().unwrap());
            roots.push(frontier.root());
        }
        (leaves, roots)
    }

    /// Publishes `tenant`'s checkpoints of `sizes`, signed with the stack's key, as the
    /// signer does.
    pub async fn publish_checkpoints(&self, tenant: &str, sizes: &[u64], roots: &[Hash]) {
        let key = KeyDir::open(self.signing_jwks.parent().unwrap()).unwrap().signing_key().unwrap();
        ensure(&self.kafka, &[Topic::trail("audit.checkpoints")]).await.unwrap();
        let producer = audit_runtime::kafka::producer(&self.kafka).unwrap();
        for size in sizes {
            let checkpoint = Checkpoint {
                origin: origin(DEFAULT_TRAIL_NAME, tenant),
                size: *size,
                root: roots[*size as usize],
            };
            let note = checkpoint.sign(&key.key);
            let record = FutureRecord::to("audit.checkpoints").key(tenant).payload(&note);
            producer
                .send(record, std::time::Duration::from_secs(5))
                .await
                .map_err(|(error, _)| error)
                .unwrap();
        }
        let largest = sizes.iter().max().copied().unwrap_or_default();
        let url = format!("{}/scim/{tenant}/v2/AuditRecords/.checkpoint", self.base);
        for _ in 0..100 {
            let response = self.http.get(&url).bearer_auth(self.admin(tenant)).send().await.unwrap();
            let body: Value = response.json().await.unwrap();
            if body["treeSize"] == largest {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the query-api never served {tenant}'s checkpoint of {largest}");
    }

    /// The records of `tenant`, clear.
    pub fn of(&self, tenant: &str) -> Vec<&Clear> {
        self.records.iter().filter(|clear| clear.record.tenant_id == tenant).collect()
    }
}

/// Starts the vault, fills the index and starts the query-api.
pub async fn start() -> Stack {
    let _ = tracing_subscriber::fmt().with_env_filter("warn,query_api=debug").try_init();
    let dir = tempfile::tempdir().unwrap();
    let (broker, broker_dir) = testkit::kafka::broker().await;
    let kafka = testkit::kafka::kafka(&broker);
    // On disk, so the console's development sign-in can mint with it too.
    let issuer_key = dir.path().join("issuer.key");
    let issuer = Issuer::load_or_create(&issuer_key).unwrap();
    let auth_jwks = dir.path().join("auth-jwks.json");
    std::fs::write(&auth_jwks, serde_json::to_string(&issuer.jwks()).unwrap()).unwrap();
    // It also seeds the vault with the dataset's tokens, a tokenizer's call.
    let credential = ServiceCredential::generate("query-api").scoped(&Scope::ALL);
    let shutdown = CancellationToken::new();
    let vault_url = start_vault(&dir, &broker.bootstrap(), &credential, &shutdown).await;

    let records = dataset::clear_records();
    let vault = VaultClient::new(&vault_url, &credential);
    let tokens = dataset::tokenize(&vault, &records).await;
    let tokenized: Vec<_> = records.iter().map(|clear| dataset::tokenized(clear, &tokens)).collect();
    let keys = dir.path().join("keys");
    let envelopes = dataset::sign(&keys, &tokenized);
    dataset::publish(&kafka, &envelopes, 0).await;
    let leaf_credential = ServiceCredential::generate("query-api");
    let indexer = start_indexer(&kafka, dir.path(), &leaf_credential);
    let (notifier, notifier_process) = start_notifier(&kafka, dir.path()).await;

    let config = query_api::QueryArgs::parse_from([
        "query-api".to_owned(),
        format!("--kafka={}", kafka.bootstrap),
        format!("--leaf-credential={}", leaf_credential.expose()),
        format!("--signing-jwks-file={}", keys.join("jwks.json").display()),
        format!("--vault-url={vault_url}"),
        format!("--vault-credential={}", credential.expose()),
        format!("--auth-jwks-file={}", auth_jwks.display()),
        "--max-body-bytes=4096".to_owned(),
        format!("--console-dev-issuer-key={}", issuer_key.display()),
        format!("--notifier-url={notifier}"),
    ])
    .validate()
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(query_api::run(config, listener, shutdown.clone()));
    let http = reqwest::Client::new();
    wait_healthy(&http, &base).await;
    let stack = Stack {
        base,
        vault: vault_url,
        issuer,
        records,
        kafka,
        signing_jwks: keys.join("jwks.json"),
        http,
        credential,
        notifier,
        shutdown,
        _indexer: indexer,
        _notifier: notifier_process,
        _broker: broker,
        _dirs: vec![dir, broker_dir],
    };
    for tenant in ["t1", "t2"] {
        stack.wait_searchable(tenant, stack.of(tenant).len() as u64).await;
        // The checkpoint a signer would publish once these records were acknowledged.
        let (_, roots) = stack.tree(tenant).await;
        stack.publish_checkpoints(tenant, &[roots.len() as u64 - 1], &roots).await;
    }
    stack
}

/// The indexer, its leaf on a free port, indexing the signed topic into `dir/index`.
fn start_indexer(
    kafka: &audit_runtime::config::KafkaConfig,
    dir: &std::path::Path,
    leaf_credential: &ServiceCredential,
) -> testkit::process::ChildGuard {
    let log = std::fs::File::create(dir.join("indexer.log")).unwrap();
    let args = [
        format!("--index-dir={}", dir.join("index").display()),
        "--leaf-listen=127.0.0.1:0".to_owned(),
        format!("--leaf-credentials={}", leaf_credential.declaration()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    testkit::process::spawn_stage(env!("CARGO_BIN_EXE_e2e-indexer"), kafka, &args, log)
}

/// The notifier, its binary (SQLite in `dir`, loopback targets allowed), trusting the
/// stack's bearer tokens; its base URL once it answers. A process, so that stopping
/// the stack never waits for it to leave a broker that is gone.
async fn start_notifier(
    kafka: &audit_runtime::config::KafkaConfig,
    dir: &std::path::Path,
) -> (String, testkit::process::ChildGuard) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::fs::File::create(dir.join("notifier.log")).unwrap();
    let args = [
        format!("--listen=127.0.0.1:{port}"),
        format!("--database=sqlite:{}", dir.join("notifier.db").display()),
        format!("--master-key-file={}", dir.join("notifier-master.key").display()),
        "--create-master-key=true".to_owned(),
        "--allow-private-targets=true".to_owned(),
        format!("--auth-jwks-file={}", dir.join("auth-jwks.json").display()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = testkit::process::spawn_stage(env!("CARGO_BIN_EXE_e2e-notifier"), kafka, &args, log);
    let base = format!("http://127.0.0.1:{port}");
    // Its health is on its ops port; its API answers once it is up.
    for _ in 0..200 {
        if reqwest::get(format!("{base}/openapi.json"))
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            return (base, child);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the notifier did not answer");
}

async fn start_vault(
    dir: &tempfile::TempDir,
    bootstrap: &str,
    credential: &ServiceCredential,
    shutdown: &CancellationToken,
) -> String {
    let params = VaultParams {
        bootstrap,
        dir: dir.path(),
        database: None,
        credentials: &[credential],
        auth_jwks: Some(&dir.path().join("auth-jwks.json")),
        listener: None,
        shutdown: shutdown.clone(),
    };
    e2e::start_vault(params).await
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    for _ in 0..100 {
        if let Ok(response) = http.get(format!("{base}/healthz")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("query-api did not become healthy");
}
