//! The records the query-api suite searches: two tenants, known personal values, known
//! times, tokenized through the real vault, signed, chained and indexed as the
//! pipeline would.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use audit_integrity::TenantChain;
use audit_integrity::keys::KeyDir;
use audit_runtime::config::KafkaConfig;
use audit_runtime::topics::{Topic, ensure};
use audit_schemas::Codec;
use audit_schemas::{Action, SignedRecord, TokenizedRecord, UserRef};
use audit_vault_api::client::VaultClient;
use audit_vault_api::{Owner, TenantValues, TokenizeItem, TokenizeRequest};
use rdkafka::producer::FutureRecord;

/// 2022-11-27T00:00:00Z in milliseconds.
pub const BASE: i64 = 1_669_507_200_000;
/// One hour in milliseconds.
pub const HOUR: i64 = 3_600_000;
/// Records of tenant `t1`; `t2` has a third as many.
pub const T1_RECORDS: usize = 150;

const ACTIONS: [&str; 5] =
    ["createUser", "deleteUser", "updateUser", "updatePassword", "indirectPrimaryAuthenticateUP"];

/// A record as the platform sent it (clear values): what the API must give back.
#[derive(Debug, Clone)]
pub struct Clear {
    /// Position in its tenant.
    pub n: usize,
    /// The record, with clear values.
    pub record: TokenizedRecord,
}

impl Clear {
    /// Record id.
    pub fn id(&self) -> &str {
        &self.record.id
    }
    /// `action.actionName`.
    pub fn action(&self) -> &str {
        &self.record.action.action_name
    }
    /// `result`.
    pub fn result(&self) -> &str {
        self.record.result.as_deref().unwrap_or_default()
    }
    /// `targetUserId.id`.
    pub fn target(&self) -> &str {
        self.record.target_user.as_ref().and_then(|user| user.id.as_deref()).unwrap_or_default()
    }
    /// `created`, ms.
    pub fn created(&self) -> i64 {
        self.record.created
    }
}

/// Record `n` of `tenant`, clear.
fn clear(tenant: &str, n: usize) -> Clear {
    let target = format!("user{}@company.com", n % 4);
    let acting = if n.is_multiple_of(2) {
        "admin@company.com".to_owned()
    } else {
        "r7wcHxsAGjT7jweAjtQCwMw6".to_owned()
    };
    let mut parameters = BTreeMap::from([
        ("ATC".to_owned(), if n.is_multiple_of(2) { "AT_STDPWD" } else { "AT_EMPOOB" }.to_owned()),
        ("USN".to_owned(), format!("user{}", n % 4)),
    ]);
    if n % 5 == 4 {
        parameters.insert(
            "ARP".into(),
            "CONTEXT[{\"OPENID\":{\"scope\":\"openid\"}}],HOSTADDRESS[10.7.252.38]".into(),
        );
    }
    let message = match n % 10 {
        0 => Some(format!("password reset mailed to {target}")),
        1 => Some("Registration successful".to_owned()),
        _ => None,
    };
    let failed = n.is_multiple_of(3);
    let record = TokenizedRecord {
        id: format!("{tenant}-r{n:03}"),
        tenant_id: tenant.to_owned(),
        created: BASE + n as i64 * HOUR + n as i64 * 1_000,
        action: Action { action_name: ACTIONS[n % 5].to_owned(), action_parameters: parameters },
        result: Some(if failed { "RESPONSE_FAILURE" } else { "RESPONSE_SUCCESS" }.to_owned()),
        return_value: Some(BTreeMap::from([(
            "response".into(),
            if failed { "FAILURE" } else { "SUCCESS" }.into(),
        )])),
        message,
        host: Some(format!("10.7.252.{}", n % 5)),
        target_user: Some(UserRef {
            id: Some(target),
            immutable_id: Some(format!("{}", 11_000 + n % 4)),
            session: None,
        }),
        acting_user: Some(UserRef { id: Some(acting), immutable_id: Some("200".into()), session: None }),
        external_id: Some(
            if n.is_multiple_of(2) { "IDP-test-company" } else { "API-test-company" }.to_owned(),
        ),
        event_id: None,
        tokenized_paths: Vec::new(),
    };
    Clear { n, record }
}

/// Every record of both tenants, clear.
pub fn clear_records() -> Vec<Clear> {
    let t1 = (0..T1_RECORDS).map(|n| clear("t1", n));
    let t2 = (0..T1_RECORDS / 3).map(|n| clear("t2", n));
    t1.chain(t2).collect()
}

/// The personal values of a record and their owner, as the tokenizer's policy finds them.
fn personal_values(record: &TokenizedRecord) -> Vec<String> {
    let mut values = vec![
        record.target_user.as_ref().and_then(|user| user.id.clone()).unwrap_or_default(),
        record.acting_user.as_ref().and_then(|user| user.id.clone()).unwrap_or_default(),
        record.host.clone().unwrap_or_default(),
        record.action.action_parameters["USN"].clone(),
    ];
    if record.action.action_parameters.contains_key("ARP") {
        values.push("10.7.252.38".into());
    }
    values
}

/// Tokens of every personal value, per tenant, from the vault.
pub async fn tokenize(vault: &VaultClient, records: &[Clear]) -> HashMap<(String, String), String> {
    let mut by_tenant: BTreeMap<String, Vec<TokenizeItem>> = BTreeMap::new();
    for clear in records {
        let owner = Owner {
            id: clear.record.target_user.as_ref().and_then(|user| user.immutable_id.clone()),
            ext_id: None,
        };
        for value in personal_values(&clear.record) {
            by_tenant
                .entry(clear.record.tenant_id.clone())
                .or_default()
                .push(TokenizeItem { value, owner: owner.clone() });
        }
    }
    let tenants: Vec<TenantValues> =
        by_tenant.into_iter().map(|(tenant, items)| TenantValues { tenant, items }).collect();
    let request = TokenizeRequest { tenants: tenants.clone() };
    let answer = vault.tokenize(&request).await.expect("the vault tokenizes");
    let mut tokens = HashMap::new();
    for (values, answered) in tenants.iter().zip(answer.tenants) {
        for (item, token) in values.items.iter().zip(answered.tokens) {
            tokens.insert((values.tenant.clone(), item.value.clone()), token);
        }
    }
    tokens
}

/// `clear` with its personal values replaced by their tokens, as the tokenizer does.
pub fn tokenized(clear: &Clear, tokens: &HashMap<(String, String), String>) -> TokenizedRecord {
    let mut record = clear.record.clone();
    let token = |value: &str| tokens[&(record.tenant_id.clone(), value.to_owned())].clone();
    let target = token(clear.target());
    let acting = token(record.acting_user.as_ref().and_then(|user| user.id.as_deref()).unwrap_or_default());
    let host = token(record.host.as_deref().unwrap_or_default());
    let usn = token(&record.action.action_parameters["USN"]);
    let address = token("10.7.252.38");
    let mut paths = vec!["targetUserId.id", "actingUserId.id", "host", "action.actionParameters.USN"];
    if let Some(message) = record.message.as_mut()
        && message.contains(clear.target())
    {
        *message = message.replace(clear.target(), &target);
        paths.push("message");
    }
    if let Some(arp) = record.action.action_parameters.get_mut("ARP") {
        *arp = arp.replace("10.7.252.38", &address);
        paths.push("action.actionParameters.ARP");
    }
    record.target_user.as_mut().unwrap().id = Some(target);
    record.acting_user.as_mut().unwrap().id = Some(acting);
    record.host = Some(host);
    record.action.action_parameters.insert("USN".into(), usn);
    record.tokenized_paths = paths.into_iter().map(str::to_owned).collect();
    record
}

/// Signs `records` in order, chaining each tenant's, with the key directory at `keys`.
pub fn sign(keys: &Path, records: &[TokenizedRecord]) -> Vec<SignedRecord> {
    let key = KeyDir::open_or_create(keys).unwrap().signing_key().unwrap();
    let mut chains: HashMap<String, TenantChain> = HashMap::new();
    records
        .iter()
        .map(|record| chains.entry(record.tenant_id.clone()).or_default().seal(&key, record))
        .collect()
}

/// Writes `envelopes` to the signed topic, alternately to partitions 0 and 1 (a
/// tenant's records on two shards, so every search merges shards) by their place in
/// the dataset, the first at `first`, for the indexer to index.
pub async fn publish(kafka: &KafkaConfig, envelopes: &[SignedRecord], first: usize) {
    ensure(kafka, &[Topic::trail("audit.signed")]).await.unwrap();
    let codec: Codec<SignedRecord> = Codec::published("SignedRecord").unwrap();
    let producer = audit_runtime::kafka::producer(kafka).unwrap();
    let mut deliveries = Vec::new();
    for (n, envelope) in envelopes.iter().enumerate() {
        let payload = codec.encode(envelope).unwrap();
        let record = FutureRecord::to("audit.signed")
            .key(envelope.tenant_id.as_bytes())
            .payload(&payload)
            .partition(((first + n) % 2) as i32);
        deliveries.push(producer.send_result(record).map_err(|(error, _)| error).unwrap());
    }
    for delivery in deliveries {
        delivery.await.unwrap().map_err(|(error, _)| error).unwrap();
    }
}
