//! Search across indexers: two indexer processes share `audit.signed` through their
//! consumer group, each serving its shards on its leaf API, and a query-api searches
//! them all. Every record is found exactly once; when an indexer is killed, search
//! names the missing shards until the other indexer has taken them over and rebuilt
//! them, then answers the full total again. A cursor walk over a tenant while its
//! records keep arriving returns exactly the records searchable when it began.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use audit_auth::issuer::{Issuer, TokenSpec};
use audit_auth::service::ServiceCredential;
use audit_runtime::config::KafkaConfig;
use clap::Parser;
use serde_json::{Value, json};
use testkit::process::{ChildGuard, spawn_stage};
use tokio_util::sync::CancellationToken;

/// Records produced before the indexers start, over this many tenants.
const RECORDS: usize = 24_000;
const TENANTS: usize = 8;

struct Search {
    base: String,
    http: reqwest::Client,
    issuer: Issuer,
}

impl Search {
    async fn post(&self, tenant: &str, body: Value) -> (u16, Value) {
        let roles = ["ORG_ADMIN".to_owned()];
        let token = self.issuer.mint(&TokenSpec { subject: "e2e", tenant, roles: &roles, ttl_seconds: 600 });
        let url = format!("{}/scim/{tenant}/v2/AuditRecords/.search", self.base);
        let response = self.http.post(url).bearer_auth(token).json(&body).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Each tenant's total, or the first refusal.
    async fn totals(&self) -> Result<BTreeMap<String, u64>, Value> {
        let mut totals = BTreeMap::new();
        for tenant in 0..TENANTS {
            let tenant = format!("tenant-{tenant}");
            let (status, body) = self.post(&tenant, json!({"count": 0, "detokenize": false})).await;
            if status != 200 {
                return Err(body);
            }
            totals.insert(tenant, body["totalResults"].as_u64().unwrap());
        }
        Ok(totals)
    }

    /// Every id of `tenant`, walked by cursor, 100 at a time.
    async fn ids(&self, tenant: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor = String::new();
        loop {
            let body = json!({"count": 100, "cursor": cursor, "detokenize": false});
            let (status, page) = self.post(tenant, body).await;
            assert_eq!(status, 200, "{page}");
            ids.extend(
                page["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()),
            );
            match page["nextCursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => return ids,
            }
        }
    }
}

fn indexer(kafka: &KafkaConfig, dir: &Path, credential: &ServiceCredential) -> ChildGuard {
    let log = std::fs::File::create(dir.join("indexer.log")).unwrap();
    let args = [
        format!("--index-dir={}", dir.join("index").display()),
        "--leaf-listen=127.0.0.1:0".to_owned(),
        format!("--leaf-credentials={}", credential.declaration()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    spawn_stage(env!("CARGO_BIN_EXE_e2e-indexer"), kafka, &args, log)
}

async fn query_api(
    kafka: &KafkaConfig,
    dir: &Path,
    credential: &ServiceCredential,
    shutdown: &CancellationToken,
) -> Search {
    let issuer = Issuer::generate();
    std::fs::write(dir.join("auth-jwks.json"), serde_json::to_string(&issuer.jwks()).unwrap()).unwrap();
    std::fs::write(dir.join("signing-jwks.json"), testkit::records::jwks().to_string()).unwrap();
    let config = query_api::QueryArgs::parse_from([
        "query-api".to_owned(),
        format!("--kafka={}", kafka.bootstrap),
        format!("--leaf-credential={}", credential.expose()),
        format!("--signing-jwks-file={}", dir.join("signing-jwks.json").display()),
        // Never called: records stay tokenized and filters name no personal value.
        "--vault-url=http://127.0.0.1:9".to_owned(),
        "--vault-credential=query-api:0123456789abcdef0123".to_owned(),
        format!("--auth-jwks-file={}", dir.join("auth-jwks.json").display()),
    ])
    .validate()
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(query_api::run(config, listener, shutdown.clone()));
    Search { base, http: reqwest::Client::new(), issuer }
}

/// Polls until every tenant's total is as `expected`; the refusals seen meanwhile.
async fn until_complete(search: &Search, expected: &BTreeMap<String, u64>, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    let mut refusals = Vec::new();
    loop {
        match search.totals().await {
            Ok(totals) if &totals == expected => return refusals,
            Ok(totals) => {
                assert!(Instant::now() < deadline, "totals stayed {totals:?}, expected {expected:?}");
            }
            Err(refusal) => {
                assert!(Instant::now() < deadline, "still refused: {refusal}");
                refusals.push(refusal);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn expected_totals(count: usize) -> BTreeMap<String, u64> {
    (0..TENANTS).map(|tenant| (format!("tenant-{tenant}"), count.div_ceil(TENANTS) as u64)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_indexers_serve_every_record_once_and_one_takes_over_when_the_other_dies() {
    let (broker, _storage) = testkit::kafka::broker().await;
    let kafka = testkit::kafka::kafka(&broker);
    let (dirs, shutdown) =
        ([tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()], CancellationToken::new());
    let (ids, messages) = testkit::records::signed_messages(RECORDS, TENANTS, "leaf");
    testkit::kafka::produce(&kafka, "audit.signed", &messages).await;
    let credential = ServiceCredential::generate("query-api");
    let mut first = indexer(&kafka, dirs[0].path(), &credential);
    let mut second = indexer(&kafka, dirs[1].path(), &credential);
    let search = query_api(&kafka, dirs[0].path(), &credential, &shutdown).await;
    let expected = expected_totals(RECORDS);
    until_complete(&search, &expected, Duration::from_secs(120)).await;

    let claims = testkit::kafka::read_topic(&kafka, "audit.index-owners", 1, Duration::from_secs(10)).await;
    let leaves: HashSet<String> = claims
        .iter()
        .map(|claim| {
            serde_json::from_slice::<Value>(&claim.payload).unwrap()["leaf"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(leaves.len(), 2, "both indexers own shards: {leaves:?}");
    let mut found = Vec::new();
    for tenant in expected.keys() {
        found.extend(search.ids(tenant).await);
    }
    let distinct: HashSet<&String> = found.iter().collect();
    assert_eq!(found.len(), RECORDS, "every record is found once");
    assert_eq!(distinct, ids.iter().collect(), "every record is found");

    second.kill();
    let killed = Instant::now();
    let refusals = until_complete(&search, &expected, Duration::from_secs(120)).await;
    eprintln!(
        "complete again {:?} after the kill; {} refusals, the first: {}, the last: {}",
        killed.elapsed(),
        refusals.len(),
        refusals.first().map(|refusal| refusal["detail"].clone()).unwrap_or_default(),
        refusals.last().map(|refusal| refusal["detail"].clone()).unwrap_or_default()
    );
    assert!(!refusals.is_empty(), "search named the missing shards before they were served again");
    for refusal in &refusals {
        assert_eq!(refusal["status"], "503", "{refusal}");
        assert!(refusal["detail"].as_str().unwrap().contains("shard"), "{refusal}");
    }
    let distinct: HashSet<String> =
        futures::future::join_all(expected.keys().map(|tenant| search.ids(tenant)))
            .await
            .into_iter()
            .flatten()
            .collect();
    assert_eq!(distinct.len(), RECORDS, "after the takeover, still every record");
    first.kill();
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_walk_returns_its_snapshot_while_records_arrive() {
    let (broker, _storage) = testkit::kafka::broker().await;
    let kafka = testkit::kafka::kafka(&broker);
    let (dir, shutdown) = (tempfile::tempdir().unwrap(), CancellationToken::new());
    let (_, messages) = testkit::records::signed_messages(RECORDS, TENANTS, "walk");
    let (before, after) = messages.split_at(RECORDS / 2);
    testkit::kafka::produce(&kafka, "audit.signed", before).await;
    let credential = ServiceCredential::generate("query-api");
    let _indexer = indexer(&kafka, dir.path(), &credential);
    let search = query_api(&kafka, dir.path(), &credential, &shutdown).await;
    until_complete(&search, &expected_totals(RECORDS / 2), Duration::from_secs(120)).await;

    let arriving = {
        let (kafka, after) = (kafka.clone(), after.to_vec());
        tokio::spawn(async move {
            for part in after.chunks(500) {
                testkit::kafka::produce(&kafka, "audit.signed", part).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let (mut seen, mut cursor, mut totals) = (Vec::new(), String::new(), HashSet::new());
    // Newest first: arrivals land before the walk's start, the hardest case.
    let order = "descending";
    loop {
        let body = json!({"count": 37, "cursor": cursor, "sortOrder": order, "detokenize": false});
        let (status, page) = search.post("tenant-3", body).await;
        assert_eq!(status, 200, "{page}");
        totals.insert(page["totalResults"].as_u64().unwrap());
        seen.extend(
            page["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    arriving.await.unwrap();
    assert_eq!(totals.len(), 1, "the total of a walk is its snapshot's: {totals:?}");
    let snapshot = *totals.iter().next().unwrap() as usize;
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "no record repeated");
    assert_eq!(seen.len(), snapshot, "no record skipped");
    // A tenant's records are indexed in chain order: the snapshot is its first records.
    until_complete(&search, &expected_totals(RECORDS), Duration::from_secs(120)).await;
    let export = export_ids(&search, "tenant-3").await;
    assert!(export.len() > snapshot, "records arrived during the walk");
    let first: HashSet<&String> = export[..snapshot].iter().collect();
    assert_eq!(distinct, first, "the walk returned exactly the records searchable when it began");
    shutdown.cancel();
}

/// `tenant`'s ids in chain order, from an export.
async fn export_ids(search: &Search, tenant: &str) -> Vec<String> {
    let roles = ["ORG_ADMIN".to_owned()];
    let token = search.issuer.mint(&TokenSpec { subject: "e2e", tenant, roles: &roles, ttl_seconds: 600 });
    let url = format!("{}/scim/{tenant}/v2/AuditRecords/.export", search.base);
    let response = search.http.post(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    body.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["id"].as_str().unwrap().to_owned())
        .collect()
}
