//! Two tokenizer instances racing on the same new values through one vault, in process
//! (`run()` of each service) against the embedded broker: every value gets one token
//! per tenant, whichever instance asked first, on SQLite and on PostgreSQL. Batches
//! of up to all the records span more parts than the tokenizer keeps in flight.

use e2e::VaultParams;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use audit_auth::service::ServiceCredential;
use audit_schemas::{Action, Codec, NormalizedRecord, TokenizedRecord, UserRef};
use clap::Parser;
use testkit::kafka::{ReadSpec, broker, kafka, produce, read};
use tokio_util::sync::CancellationToken;

const RECORDS: usize = 5_000;

fn record(n: usize) -> NormalizedRecord {
    let tenant = if n.is_multiple_of(2) { "t1" } else { "t2" };
    let user = format!("racer{}@pii.example", n % 50);
    NormalizedRecord {
        id: format!("r{n}"),
        tenant_id: tenant.into(),
        created: 1_700_000_000_000 + n as i64,
        action: Action {
            action_name: "createUser".into(),
            action_parameters: BTreeMap::from([("USN".into(), format!("racer-{}", n % 50))]),
        },
        result: Some("RESPONSE_SUCCESS".into()),
        return_value: None,
        message: Some(format!("created by admin from 10.1.{}.{}", n % 7, n % 11)),
        host: Some(format!("10.2.0.{}", n % 13)),
        target_user: Some(UserRef {
            id: Some(user),
            immutable_id: Some(format!("{}", n % 50)),
            session: None,
        }),
        acting_user: None,
        external_id: None,
        event_id: None,
    }
}

async fn start_vault(
    database: String,
    bootstrap: &str,
    credential: &ServiceCredential,
    dir: &tempfile::TempDir,
) -> (String, CancellationToken) {
    let shutdown = CancellationToken::new();
    let params = VaultParams {
        bootstrap,
        dir: dir.path(),
        database: Some(database),
        credentials: &[credential],
        auth_jwks: None,
        listener: None,
        shutdown: shutdown.clone(),
    };
    (e2e::start_vault(params).await, shutdown)
}

fn tokenizer_config(
    bootstrap: &str,
    vault_url: &str,
    credential: &ServiceCredential,
    name: &str,
) -> tokenizer::Config {
    tokenizer::TokenizerArgs::parse_from([
        "tokenizer".to_owned(),
        format!("--kafka={bootstrap}"),
        "--partitions=4".to_owned(),
        "--session-timeout-ms=6000".to_owned(),
        "--join-delay-ms=0".to_owned(),
        format!("--batch-max-records={RECORDS}"),
        format!("--vault-url={vault_url}"),
        format!("--vault-credential={}", credential.expose()),
        format!("--group-id=tokenizer-{name}"),
        format!("--output-topic=audit.tokenized.{name}"),
    ])
    .validate()
    .unwrap()
}

async fn racing_tokenizers_agree(database: Option<String>) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,vault=debug,tokenizer=debug,audit_runtime=debug")
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let (broker, _broker_dir) = broker().await;
    let bootstrap = broker.bootstrap();
    let kafka = kafka(&broker);
    let credential = ServiceCredential::generate("tokenizer");
    let database = database.unwrap_or_else(|| format!("sqlite:{}", dir.path().join("vault.db").display()));
    let (vault_url, vault_shutdown) = start_vault(database, &bootstrap, &credential, &dir).await;

    let codec = Codec::<NormalizedRecord>::published("NormalizedRecord").unwrap();
    let records: Vec<NormalizedRecord> = (0..RECORDS).map(record).collect();
    let messages: Vec<(Option<Vec<u8>>, Vec<u8>)> =
        records.iter().map(|r| (Some(r.tenant_id.clone().into_bytes()), codec.encode(r).unwrap())).collect();
    produce(&kafka, "audit.normalized", &messages).await;

    // Two instances in different groups: both tokenize every record, at the same time.
    let shutdown = CancellationToken::new();
    let mut instances = Vec::new();
    for name in ["a", "b"] {
        let config = tokenizer_config(&bootstrap, &vault_url, &credential, name);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        instances.push(tokio::spawn(tokenizer::run(config, listener, shutdown.clone())));
    }
    let outputs =
        [read_output(&broker, "audit.tokenized.a").await, read_output(&broker, "audit.tokenized.b").await];
    shutdown.cancel();
    for instance in instances {
        instance.await.unwrap().unwrap();
    }
    vault_shutdown.cancel();

    // value -> token, per tenant, across both outputs: one token each.
    let mut tokens: HashMap<(String, String), String> = HashMap::new();
    for output in &outputs {
        assert_eq!(output.len(), RECORDS);
        for tokenized in output.values() {
            let original = &records[tokenized.id[1..].parse::<usize>().unwrap()];
            let pairs = [
                (
                    original.target_user.as_ref().unwrap().id.clone().unwrap(),
                    tokenized.target_user.as_ref().unwrap().id.clone().unwrap(),
                ),
                (original.host.clone().unwrap(), tokenized.host.clone().unwrap()),
                (
                    original.action.action_parameters["USN"].clone(),
                    tokenized.action.action_parameters["USN"].clone(),
                ),
            ];
            for (value, token) in pairs {
                assert!(uuid::Uuid::parse_str(&token).is_ok(), "{token} is a token");
                let known = tokens.entry((tokenized.tenant_id.clone(), value)).or_insert(token.clone());
                assert_eq!(known, &token, "one value, one token, whichever instance asked");
            }
        }
    }
    let across = |value: &str| {
        (tokens[&("t1".into(), value.into())].clone(), tokens[&("t2".into(), value.into())].clone())
    };
    let (t1, t2) = across("10.2.0.3");
    assert_ne!(t1, t2, "tenants never share a token");
}

async fn read_output(
    broker: &audit_broker::EmbeddedBroker,
    topic: &'static str,
) -> HashMap<String, TokenizedRecord> {
    let codec = Codec::<TokenizedRecord>::published("TokenizedRecord").unwrap();
    let spec = ReadSpec {
        topic,
        expected: RECORDS,
        settle: Duration::from_millis(500),
        timeout: Duration::from_secs(90),
    };
    let read = read(&kafka(broker), spec).await;
    read.iter()
        .map(|message| codec.decode(&message.payload).unwrap())
        .map(|record| (record.id.clone(), record))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_tokenizers_agree_on_sqlite() {
    racing_tokenizers_agree(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_tokenizers_agree_on_postgres() {
    racing_tokenizers_agree(Some(testkit::postgres::fresh_database().await)).await;
}
