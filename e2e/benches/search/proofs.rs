//! Proofs through the API at the bench's size: the subject tenant's checkpoint,
//! published here as the signer would publish it, then each record's inclusion proof
//! (`.proof`, records spread over the whole tree), the consistency proof from half the
//! tree (`.consistency`) and the tenant's whole bundle (`.bundle`: its time and its
//! bytes per 10,000 records).

use std::path::Path;
use std::time::{Duration, Instant};

use audit_integrity::CompactJws;
use audit_integrity::export::ExportLine;
use audit_integrity::keys::KeyDir;
use audit_integrity::merkle::{Frontier, leaf_hash};
use audit_integrity::note::{Checkpoint, DEFAULT_TRAIL_NAME, origin};
use audit_runtime::config::KafkaConfig;
use rdkafka::producer::FutureRecord;
use serde_json::Value;

use crate::api::Stack;
use crate::measure::{Figures, measure};

/// Measures and prints the proof figures of `tenant`, signing its checkpoint with the
/// key in `keys`.
pub async fn run(stack: &Stack, tenant: &str, keys: &Path) {
    let base = stack.base.clone().expect("the query-api runs");
    let bearer = stack.bearer(tenant);
    let get = async |path: String| {
        let url = format!("{base}/scim/{tenant}/v2/AuditRecords/{path}");
        let response = stack.http.get(url).bearer_auth(&bearer).send().await.expect("an answer");
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.bytes().await.expect("a body")
    };
    let (ids, size) = publish(stack, tenant, keys).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = format!("{base}/scim/{tenant}/v2/AuditRecords/.checkpoint");
    loop {
        // 404 until the query-api has read the checkpoint.
        let response = stack.http.get(&url).bearer_auth(&bearer).send().await.expect("an answer");
        let body: Value = response.json().await.unwrap_or_default();
        if body["treeSize"] == size {
            break;
        }
        assert!(Instant::now() < deadline, "the query-api never served the checkpoint: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut next = 0usize;
    let (inclusion, _) = measure(async || {
        // A stride coprime with the count walks the whole tree.
        next = (next + 7_919) % ids.len();
        get(format!("{}/.proof", ids[next])).await;
        // What `measure` checks stays the same from run to run: the tree.
        size as usize
    })
    .await;
    let (consistency, _) = measure(async || {
        get(format!(".consistency?first={}", size / 2)).await;
        size as usize
    })
    .await;
    let began = Instant::now();
    let url = format!("{base}/scim/{tenant}/v2/AuditRecords/.bundle");
    let bundle = stack.http.post(url).bearer_auth(&bearer).send().await.expect("an answer");
    let bytes = bundle.bytes().await.expect("a bundle").len();
    let took = began.elapsed();
    println!("proofs of a tenant of {size} records, through the query-api and one leaf:");
    println!("  inclusion proof   {}", pair(inclusion));
    println!("  consistency proof {}", pair(consistency));
    println!(
        "  whole bundle      {:.1} MB in {:.2} s: {:.2} MB per 10,000 records",
        bytes as f64 / 1e6,
        took.as_secs_f64(),
        bytes as f64 / size as f64 * 10_000.0 / 1e6
    );
}

fn pair(figures: Figures) -> String {
    let ms = |duration: Duration| duration.as_secs_f64() * 1_000.0;
    format!("p50 {:.2} ms, p99 {:.2} ms", ms(figures.p50), ms(figures.p99))
}

/// Exports `tenant`, computes its tree's root and publishes its checkpoint; the
/// record ids and the tree's size.
async fn publish(stack: &Stack, tenant: &str, keys: &Path) -> (Vec<String>, u64) {
    let base = stack.base.clone().expect("the query-api runs");
    let url = format!("{base}/scim/{tenant}/v2/AuditRecords/.export");
    let export = stack.http.post(url).bearer_auth(stack.bearer(tenant)).send().await.expect("an export");
    let text = export.text().await.expect("export lines");
    let (mut ids, mut frontier) = (Vec::new(), Frontier::new());
    for line in text.lines() {
        let line: ExportLine<Value> = serde_json::from_str(line).expect("an export line");
        frontier.append(leaf_hash(&CompactJws::parse(&line.jws).expect("a jws").payload));
        ids.push(line.id);
    }
    let key = KeyDir::open(keys).and_then(|dir| dir.signing_key()).expect("the signing key");
    let checkpoint = Checkpoint {
        origin: origin(DEFAULT_TRAIL_NAME, tenant),
        size: frontier.size(),
        root: frontier.root(),
    };
    let kafka = KafkaConfig::for_bootstrap(&stack.bootstrap).expect("kafka settings");
    let topics = [audit_runtime::topics::Topic::trail("audit.checkpoints")];
    audit_runtime::topics::ensure(&kafka, &topics).await.expect("the checkpoint topic");
    let producer = audit_runtime::kafka::producer(&kafka).expect("a producer");
    let note = checkpoint.sign(&key.key);
    let record = FutureRecord::to("audit.checkpoints").key(tenant).payload(&note);
    producer.send(record, Duration::from_secs(10)).await.map_err(|(error, _)| error).expect("published");
    (ids, frontier.size())
}
