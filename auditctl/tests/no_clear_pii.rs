//! The promise of tokenization, checked end to end on the stack a user runs: events
//! with known personal values go into `audit.raw` of `auditctl up` (separate process,
//! debug logs); then every byte of `audit.tokenized` and `audit.signed` (the signed
//! payloads decoded), the stack's logs and the vault's database files are scanned for
//! those values, every signed record verifies against the stack's published keys, and
//! every token is read back through the TokensVault API with a bearer token from
//! `auditctl token`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use audit_integrity::{ChainChecker, CompactJws, PublicKeys, Verifier};
use audit_runtime::config::KafkaConfig;
use audit_schemas::{Codec, SignedRecord, TokenizedRecord};
use serde_json::{Value, json};
use testkit::kafka::{ReadSpec, produce, read};
use testkit::up::metric;

const EVENTS: usize = 120;
const TENANTS: [&str; 2] = ["tpii-a", "tpii-b"];

/// A raw event full of personal data; `n % 20` picks the data subject.
fn event(n: usize) -> Value {
    let subject = n % 20;
    json!({
        "tenantId": TENANTS[n % 2],
        "created": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "eventId": format!("ev-{n}"),
        "id": "IDP-test-company",
        "action": {"actionName": "createUser", "actionParameters": {
            "ATC": "AT_STDPWD",
            "USN": format!("uname{subject}x"),
            "ERI": format!("extref{subject}x"),
            "ARP": format!("HOSTADDRESS[10.7.{subject}.55] CONTEXT[{{\"OPENID\":{{\"clientid\":\"c1\"}}}}]"),
        }},
        "result": "RESPONSE_SUCCESS",
        "message": format!("password reset for person{subject}@pii.example from 10.9.{subject}.77"),
        "host": format!("10.8.{subject}.66"),
        "targetUserId": {"id": format!("person{subject}@pii.example"), "immutableId": format!("{subject}")},
        "actingUserId": {"id": format!("operator{}@pii.example", n % 5), "immutableId": format!("9{}", n % 5)},
    })
}

/// Every clear personal value the events carry.
fn clear_values() -> Vec<String> {
    let mut values = vec!["pii.example".to_owned(), "uname".to_owned(), "extref".to_owned()];
    for subject in 0..20 {
        values.extend([
            format!("10.7.{subject}.55"),
            format!("10.9.{subject}.77"),
            format!("10.8.{subject}.66"),
        ]);
    }
    values
}

fn assert_clean(what: &str, bytes: &[u8]) {
    for value in clear_values() {
        if let Some(at) = bytes.windows(value.len()).position(|window| window == value.as_bytes()) {
            let context =
                String::from_utf8_lossy(&bytes[at.saturating_sub(300)..(at + 100).min(bytes.len())]);
            panic!("{what} contains the clear value {value}: ...{context}...");
        }
    }
}

fn start_stack(data_dir: &Path, log: &Path) -> testkit::up::Up {
    testkit::up::start(testkit::up::UpParams {
        binary: env!("CARGO_BIN_EXE_auditctl"),
        data_dir,
        broker_port: 0,
        global_args: &["--log-format", "json"],
        env: &[("RUST_LOG", "debug")],
        log: std::fs::File::create(log).unwrap().into(),
    })
}

fn bearer(data_dir: &Path, tenant: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_auditctl"))
        .args(["token", "--data-dir", data_dir.to_str().unwrap(), "--tenant", tenant, "--role", "ORG_ADMIN"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    format!("Bearer {}", String::from_utf8(output.stdout).unwrap().trim())
}

/// Replaces every token in `text` by what the vault reveals for it.
async fn detokenize_text(
    vault: &str,
    tenant: &str,
    authorization: &str,
    text: &str,
    cache: &mut HashMap<String, String>,
) -> String {
    let mut result = text.to_owned();
    for word in text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-')) {
        if uuid::Uuid::parse_str(word).is_err() || word.len() != 36 {
            continue;
        }
        if !cache.contains_key(word) {
            let url = format!("http://{vault}/scim/{tenant}/v2/TokensVault/{word}");
            let response =
                reqwest::Client::new().get(url).header("authorization", authorization).send().await.unwrap();
            assert_eq!(response.status(), 200, "token {word} reveals its value");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["schemas"][0], "urn:hid:scim:api:idp:2.0:PseudonymizationToken");
            cache.insert(word.to_owned(), body["value"].as_str().unwrap().to_owned());
        }
        result = result.replace(word, &cache[word]);
    }
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_clear_value_leaves_the_vault_and_every_token_reveals_its_value() {
    let data_dir = tempfile::tempdir().unwrap();
    let log = data_dir.path().join("stack.log");
    let stack = start_stack(data_dir.path(), &log);
    let kafka = KafkaConfig::for_bootstrap(&stack.broker).unwrap();
    let events: Vec<Value> = (0..EVENTS).map(event).collect();
    let messages: Vec<(Option<Vec<u8>>, Vec<u8>)> =
        events.iter().map(|event| (None, serde_json::to_vec(event).unwrap())).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric(&stack.tokenizer_ops, "tokenizer_records_consumed_total").await.is_none() {
        assert!(Instant::now() < deadline, "the stack came up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    produce(&kafka, "audit.raw", &messages).await;
    while metric(&stack.tokenizer_ops, "tokenizer_records_produced_total").await < Some(EVENTS as f64) {
        assert!(Instant::now() < deadline + Duration::from_secs(60), "the events were tokenized");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let spec = ReadSpec {
        topic: "audit.tokenized",
        expected: EVENTS,
        settle: Duration::from_millis(500),
        timeout: Duration::from_secs(30),
    };
    let tokenized = read(&kafka, spec).await;
    assert_eq!(tokenized.len(), EVENTS);
    let codec = Codec::<TokenizedRecord>::published("TokenizedRecord").unwrap();
    let by_event: BTreeMap<String, &Value> =
        events.iter().map(|event| (event["eventId"].as_str().unwrap().to_owned(), event)).collect();
    let mut revealed: HashMap<String, String> = HashMap::new();
    let bearers: HashMap<&str, String> =
        TENANTS.iter().map(|tenant| (*tenant, bearer(data_dir.path(), tenant))).collect();
    for message in &tokenized {
        assert_clean("a message key of audit.tokenized", message.key.as_deref().unwrap_or_default());
        assert_clean("a message of audit.tokenized", &message.payload);
        let headers = format!("{:?}", message.headers);
        assert_clean("message headers of audit.tokenized", headers.as_bytes());
        let record = codec.decode(&message.payload).unwrap();
        let raw = by_event[record.event_id.as_deref().unwrap()];
        let tenant = record.tenant_id.as_str();
        let detokenize = async |text: &str, cache: &mut HashMap<String, String>| {
            detokenize_text(&stack.vault, tenant, &bearers[tenant], text, cache).await
        };
        let target = record.target_user.as_ref().unwrap().id.as_deref().unwrap();
        assert_eq!(detokenize(target, &mut revealed).await, raw["targetUserId"]["id"]);
        let acting = record.acting_user.as_ref().unwrap().id.as_deref().unwrap();
        assert_eq!(detokenize(acting, &mut revealed).await, raw["actingUserId"]["id"]);
        assert_eq!(detokenize(record.host.as_deref().unwrap(), &mut revealed).await, raw["host"]);
        assert_eq!(detokenize(record.message.as_deref().unwrap(), &mut revealed).await, raw["message"]);
        for (code, value) in &record.action.action_parameters {
            assert_eq!(
                detokenize(value, &mut revealed).await,
                raw["action"]["actionParameters"][code],
                "{code}"
            );
        }
        assert_eq!(record.tokenized_paths.len(), 7, "{:?}", record.tokenized_paths);
    }
    // One value, one token per tenant; the same value in two tenants, two tokens.
    let mut by_value: HashMap<&String, Vec<&String>> = HashMap::new();
    for (token, value) in &revealed {
        by_value.entry(value).or_default().push(token);
    }
    // Subjects live in one tenant (n % 20 and n % 2 share parity); operators act in both.
    for (value, tokens) in &by_value {
        let tenants_seen = if value.starts_with("operator") { TENANTS.len() } else { 1 };
        assert_eq!(tokens.len(), tenants_seen, "one token per tenant for each value");
    }

    let ids: Vec<String> =
        tokenized.iter().map(|message| codec.decode(&message.payload).unwrap().id).collect();
    assert_signed_clean_and_valid(&kafka, data_dir.path(), &ids).await;

    let status = Command::new("kill").args(["-TERM", &stack.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut stack = stack;
    assert!(stack.child.wait().unwrap().success());
    let logs = std::fs::read(&log).unwrap();
    assert!(logs.len() > 1_000 && logs.windows(9).any(|w| w == b"\"level\":\""), "debug logs were written");
    assert_clean("the stack's logs", &logs);
    for entry in std::fs::read_dir(data_dir.path().join("vault")).unwrap() {
        let path = entry.unwrap().path();
        assert_clean(&format!("vault file {}", path.display()), &std::fs::read(&path).unwrap());
    }
}

/// `audit.signed` holds every event once (and the vault's own reveal events, which
/// the reads above caused), signed under the stack's published keys in unbroken
/// chains, with no clear value in the messages nor in the signed payloads.
async fn assert_signed_clean_and_valid(kafka: &KafkaConfig, data_dir: &Path, ids: &[String]) {
    let spec = ReadSpec {
        topic: "audit.signed",
        expected: EVENTS,
        settle: Duration::from_secs(2),
        timeout: Duration::from_secs(60),
    };
    let signed = read(kafka, spec).await;
    let keys = PublicKeys::from_jwks_file(&data_dir.join("keys").join("signing").join("jwks.json")).unwrap();
    let verifier = Verifier::new(keys);
    let codec = Codec::<SignedRecord>::published("SignedRecord").unwrap();
    let mut chains = ChainChecker::default();
    let mut ordered = signed;
    ordered.sort_by_key(|message| (message.partition, message.offset));
    let mut seen = std::collections::HashSet::new();
    for message in &ordered {
        assert_clean("a message of audit.signed", &message.payload);
        let envelope = codec.decode(&message.payload).unwrap();
        let verified = verifier.verify_envelope(&envelope).unwrap();
        assert_clean("a signed payload", &CompactJws::parse(&envelope.jws).unwrap().payload);
        chains.push(&verified).unwrap();
        assert!(seen.insert(envelope.id), "a record signed twice");
    }
    assert!(ids.iter().all(|id| seen.contains(id)), "every event is signed");
    let total: u64 = chains.heads().map(|(_, sequence)| sequence).sum();
    assert_eq!(total, ordered.len() as u64, "chains start at 1 and hold every record");
}
