//! Signer throughput and CPU cost against the stage runtime passing the same records
//! through, on one embedded broker (its durable storage), and against bare signing loops.
//!
//! The input is 100,000 tokenized records (about 600 bytes, 50 tenants, tokens as
//! UUIDs) keyed by tenant. The pass-through writes exactly like the signer (to the
//! input's partition, with the input-offset header), so the ratio isolates what
//! signing adds. The signer runs as in production (`signer::run`, a temporary key
//! directory); its progress and final counts come from its own `/metrics`. CPU is the
//! whole process's (user + system, from `/proc/self/stat`), broker included, so the
//! signing cost is the signer's CPU per record minus the pass-through's. The bare
//! loops run on one thread before the broker starts, over the same records and links.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_integrity::keys::thumbprint;
use audit_integrity::{ChainLink, canonical_payload, jws, payload_hash};
use audit_runtime::config::KafkaConfig;
use audit_runtime::stage::{Delivery, Partitioning};
use audit_schemas::{Action, Codec, Session, TokenizedRecord, UserRef};
use audit_traffic::catalogue;
use ed25519_dalek::SigningKey;
use testkit::bench;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const RECORDS: usize = 100_000;
const TENANTS: usize = 50;
/// Data subjects per tenant: users recur, and one value has one token per tenant.
const SUBJECTS: usize = 2_000;
const INPUT: &str = "audit.tokenized";
const OUTPUT: &str = "bench.signed";
const CHECKPOINTS: &str = "bench.signer-checkpoints";

/// mimalloc, tuned: `audit-alloc` says why.
#[global_allocator]
static ALLOCATOR: audit_alloc::Tuned = audit_alloc::Tuned;

#[tokio::main]
async fn main() {
    let records = tokenized_records();
    // Before the broker starts: nothing else runs in the process.
    let (canonical_us, sign_us) = bare_loops(&records);
    let (broker, kafka, _storage) = bench::broker().await;
    let bytes = load(&kafka, &records).await;
    drop(records);
    println!(
        "input: {RECORDS} tokenized records, {:.0} bytes on average, {} partitions, {TENANTS} tenants",
        bytes as f64 / RECORDS as f64,
        bench::PARTITIONS
    );

    let route = bench::Route {
        input: INPUT,
        output: "bench.passthrough",
        partitioning: Partitioning::SameAsInput,
        delivery: Delivery::BeforeNextBatch,
    };
    let (runtime, runtime_cpu) =
        bench::with_cpu(bench::timed(&kafka, route.output, RECORDS, |done, stop| {
            bench::passthrough(kafka.clone(), route, done, stop)
        }))
        .await;
    let keys = tempfile::tempdir().unwrap();
    let page = Arc::new(Mutex::new(String::new()));
    let (sign, sign_cpu) = bench::with_cpu(bench::timed(&kafka, OUTPUT, RECORDS, |done, stop| {
        signer(kafka.clone(), keys.path().join("signing"), page.clone(), (done, stop))
    }))
    .await;

    bench::report("runtime pass-through, same partition", runtime);
    bench::report("signer", sign);
    println!("ratio signer / runtime pass-through: {:.2} (target >= 0.7)", sign / runtime);
    print_costs((runtime_cpu, sign_cpu), (canonical_us, sign_us));
    check_and_report(&page.lock().unwrap());
    broker.stop().await;
}

/// CPU per record of both loops and their difference, then the bare loops'.
fn print_costs((runtime_cpu, sign_cpu): (Duration, Duration), (canonical_us, sign_us): (f64, f64)) {
    let (runtime_us, signer_us) = (per_record_us(runtime_cpu), per_record_us(sign_cpu));
    println!(
        "process CPU per record: pass-through {runtime_us:.1} µs, signer {signer_us:.1} µs, \
         signing cost (difference) {:.1} µs",
        signer_us - runtime_us
    );
    println!(
        "bare loops, one thread: canonical payload + hash {canonical_us:.1} µs/record, \
         jws::sign (ed25519) {sign_us:.1} µs/record"
    );
}

/// The input: records spread round-robin over the tenants, each a plausible event
/// of the seed catalogue whose personal values are tokens.
fn tokenized_records() -> Vec<TokenizedRecord> {
    let tenants: Vec<String> =
        (0..TENANTS).map(|index| format!("t{}", &token("tenant", index)[24..])).collect();
    let actions: Vec<&str> = catalogue::all_action_names().collect();
    (0..RECORDS).map(|n| record(n, &tenants[n % TENANTS], actions[n % actions.len()])).collect()
}

fn record(n: usize, tenant: &str, action: &str) -> TokenizedRecord {
    let subject = (n / TENANTS) % SUBJECTS;
    let (user, address) = (token(tenant, subject), token(tenant, subject + SUBJECTS));
    let success = !n.is_multiple_of(7);
    let (action_parameters, tokenized_paths) = parameters(n, action, &user, &address);
    let session = Session {
        id: Some(token("session", n).replace('-', "")),
        authentication_method: Some("AT_STDPWD".into()),
    };
    TokenizedRecord {
        id: token("record", n),
        tenant_id: tenant.to_owned(),
        created: 1_767_225_600_000 + n as i64 * 37, // from 2026-01-01
        action: Action { action_name: action.to_owned(), action_parameters },
        result: Some(if success { "RESPONSE_SUCCESS" } else { "RESPONSE_FAILURE" }.into()),
        return_value: Some(BTreeMap::from([(
            "response".to_owned(),
            if success { "SUCCESS" } else { "FAILURE" }.to_owned(),
        )])),
        message: (!success).then(|| format!("Authentication failed for {user} from {address}")),
        host: Some(address),
        target_user: Some(UserRef {
            id: Some(user),
            immutable_id: Some((10_000 + subject).to_string()),
            session: Some(session),
        }),
        acting_user: Some(UserRef {
            id: Some(token("client", n % 97).replace('-', "")[..24].to_owned()),
            immutable_id: Some("4711".into()),
            session: Some(Session {
                id: Some(token("client-session", n).replace('-', "")),
                ..Session::default()
            }),
        }),
        external_id: Some("IDP-test-company".into()),
        event_id: Some(token("event", n)),
        tokenized_paths,
    }
}

/// Event codes and the paths of the tokens among them and elsewhere in the record.
fn parameters(n: usize, action: &str, user: &str, address: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let code = |code: &str, value: &str| (code.to_owned(), value.to_owned());
    let mut codes = BTreeMap::from([
        code("Action", action),
        code("CHC", catalogue::CHANNELS[n % catalogue::CHANNELS.len()]),
        code("ATC", catalogue::AUTHENTICATION_TYPES[n % catalogue::AUTHENTICATION_TYPES.len()]),
        code("USN", user),
        code("AUS", "ENABLED"),
    ]);
    let mut paths = vec!["targetUserId.id", "host", "action.actionParameters.USN"];
    // As in the seed: authentication events carry the client context and address,
    // user events the e-mail address (a token here too).
    if catalogue::AUTHENTICATION.contains(&action) {
        let context =
            r#"CONTEXT[{"OPENID":{"clientid":"Xq3hTz9LmPa2VbN7cRe5Wk8J","scope":"openid profile"}}]"#;
        codes.extend([code("ARP", &format!("{context},HOSTADDRESS[{address}]"))]);
        paths.push("action.actionParameters.ARP");
    } else if catalogue::USER.contains(&action) {
        let email = token(user, 0);
        codes.extend([
            code("ERI", &format!("EXT-{}", &user[..8])),
            code("ATA", "EMAIL"),
            code("ATV", &email),
        ]);
        paths.push("action.actionParameters.ATV");
    }
    (codes, paths.into_iter().map(str::to_owned).collect())
}

/// A stable UUID per `(kind, n)`, shaped like the vault's tokens.
fn token(kind: &str, n: usize) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{kind}-{n}").as_bytes()).to_string()
}

/// Writes the records keyed by tenant (murmur2, as the signer checks); returns their bytes.
async fn load(kafka: &KafkaConfig, records: &[TokenizedRecord]) -> usize {
    let codec = Codec::<TokenizedRecord>::published("TokenizedRecord").unwrap();
    let messages: Vec<(Vec<u8>, Vec<u8>)> = records
        .iter()
        .map(|record| (record.tenant_id.clone().into_bytes(), codec.encode(record).unwrap()))
        .collect();
    let bytes = messages.iter().map(|(_, payload)| payload.len()).sum();
    bench::load(kafka, INPUT, messages.into_iter()).await;
    bytes
}

/// µs per record on one thread of (canonical payload + hash at each record's link)
/// and of `jws::sign` over those payloads, what the signer does per record.
fn bare_loops(records: &[TokenizedRecord]) -> (f64, f64) {
    let started = Instant::now();
    let mut heads: HashMap<&str, ChainLink> = HashMap::new();
    let payloads: Vec<Vec<u8>> = records
        .iter()
        .map(|record| {
            let link = heads.get(record.tenant_id.as_str()).copied();
            let link = link.unwrap_or(ChainLink { sequence: 1, prev_hash: None });
            let payload = canonical_payload(record, link);
            let next = ChainLink { sequence: link.sequence + 1, prev_hash: Some(payload_hash(&payload)) };
            heads.insert(&record.tenant_id, next);
            payload
        })
        .collect();
    let canonical = per_record_us(started.elapsed());
    let key = SigningKey::from_bytes(&[7; 32]);
    let kid = thumbprint(&key.verifying_key());
    let started = Instant::now();
    let signed: usize = payloads.iter().map(|payload| jws::sign(&key, &kid, payload).len()).sum();
    std::hint::black_box(signed);
    (canonical, per_record_us(started.elapsed()))
}

/// The signer as it runs in production; its `/metrics` page followed for progress
/// (inputs handled, so a signer rejecting everything ends the run too) and kept for
/// the final check, since its server stops with it.
async fn signer(
    kafka: KafkaConfig,
    key_dir: PathBuf,
    page: Arc<Mutex<String>>,
    (done, shutdown): (Arc<AtomicU64>, CancellationToken),
) {
    let mut config = signer::Config::defaults_for(&kafka.bootstrap, &key_dir);
    config.stage.kafka = kafka;
    config.stage.topics.input = INPUT.into();
    config.stage.topics.output = Some(OUTPUT.into());
    config.checkpoint_topic = CHECKPOINTS.into();
    config.stage.group_id = "bench-signer".into();
    config.stage.create_topics = true;
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", ops.local_addr().unwrap());
    tokio::spawn(async move {
        // One client: `reqwest::get` loads the root certificates on every call.
        let client = reqwest::Client::new();
        while Arc::strong_count(&done) > 1 {
            if let Some(body) = fetch(&client, &url).await {
                let handled = metric(&body, "signer_records_consumed_total") as u64;
                // The page first: whoever sees the count finds the page that holds it.
                *page.lock().unwrap() = body;
                done.store(handled, Ordering::Release);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    signer::run(config, ops, shutdown).await.unwrap();
}

async fn fetch(client: &reqwest::Client, url: &str) -> Option<String> {
    client.get(url).send().await.ok()?.text().await.ok()
}

/// Sum of every series of `name` (all label values) on a `/metrics` page.
fn metric(page: &str, name: &str) -> f64 {
    page.lines()
        .filter(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with([' ', '{'])))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Asserts every input was signed (none rejected or skipped), then prints how the
/// signer's batch time splits: decode + link + sign + encode against the whole batch.
fn check_and_report(page: &str) {
    let produced = metric(page, "signer_records_produced_total") as usize;
    let rejected = metric(page, "signer_records_rejected_total") as usize;
    let skipped = metric(page, "signer_records_skipped_total") as usize;
    println!("signer check: {produced} produced, {rejected} rejected, {skipped} skipped");
    assert_eq!((produced, rejected, skipped), (RECORDS, 0, 0), "every input is signed once");
    let batches = metric(page, "signer_batch_duration_seconds_count");
    let batch_s = metric(page, "signer_batch_duration_seconds_sum");
    let sign_s = metric(page, "signer_sign_duration_seconds_sum");
    println!(
        "signer batches: {batches:.0}, {:.0} records each, {:.1} ms each, \
         of which decode + link + sign + encode {:.1} ms ({:.0}%)",
        RECORDS as f64 / batches,
        batch_s * 1e3 / batches,
        sign_s * 1e3 / batches,
        sign_s / batch_s * 100.0
    );
}

fn per_record_us(time: Duration) -> f64 {
    time.as_secs_f64() * 1e6 / RECORDS as f64
}
